use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, IntegrationKind, template::Engine};
use definition_store::{
    Attachment, EscalationLevel, Integration, KindRules, Recipients, VariableDef, validate_with,
};
use notify_core::{Kind, Notifier, NotifyError, Outgoing, RouteContext, Variables};
use serde_json::{Value, json};

use crate::{SplunkOnCallMessage, SplunkOnCallNotifier, SplunkOnCallTarget};

mod lifecycle;
mod vendor;

// ---------------------------------------------------------------------------------------------
// Fixtures

const API_KEY: &str = vendor::API_KEY;

fn alert(alert_type: AlertType) -> Alert {
    test_support::fixtures::sample_alert(alert_type)
}

fn integration(settings: Value) -> Integration {
    let Value::Object(settings) = settings else {
        panic!("settings must be an object")
    };
    Integration {
        id: "ops-oncall".to_owned(),
        name: "Ops Splunk On-Call".to_owned(),
        kind: IntegrationKind::SplunkOnCall,
        active: true,
        variables: BTreeMap::from([
            (
                "ApiKey".to_owned(),
                VariableDef::Secret {
                    secret: definition_store::SecretRef("ssm:/tocsin/oncall".to_owned()),
                },
            ),
            ("RoutingKey".to_owned(), VariableDef::Fixed("dns-team".to_owned())),
        ]),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

fn attachment() -> Attachment {
    Attachment {
        integration: "ops-oncall".to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::new(),
        extra_emails: Vec::new(),
        extra_phones: Vec::new(),
        service_links: Vec::new(),
    }
}

fn level() -> EscalationLevel {
    EscalationLevel {
        id: 1,
        active: true,
        message: "Call the DNS team".to_owned(),
        operators: Vec::new(),
        integrations: vec![attachment()],
    }
}

fn variables() -> Variables {
    let mut variables = Variables::default();
    variables.insert_secret("ApiKey", API_KEY);
    variables.insert("RoutingKey", "dns-team");
    variables.insert("Team", "dns");
    variables
}

fn notifier() -> SplunkOnCallNotifier {
    let config = notify_core::Config {
        allow_hosts: "127.0.0.1".parse().expect("allow-list"),
        allow_http: true,
        ..notify_core::Config::default()
    };
    SplunkOnCallNotifier::with_client(notify_core::HttpClient::new(&config).expect("http client"))
}

/// Builds the messages of one route as the runner does, with the incident state `kept`.
fn build_kept(
    alert: &Alert,
    integration: &Integration,
    kept: Option<&Value>,
) -> Result<Vec<Outgoing<SplunkOnCallMessage>>, NotifyError> {
    let notifier = notifier();
    let target = notifier.target(integration)?;
    let engine = Engine::new();
    let variables = variables();
    let attachment = attachment();
    let level = level();
    let route = RouteContext {
        alert,
        integration,
        attachment: &attachment,
        level: &level,
        recipients: Vec::new(),
        variables: &variables,
        now: "2026-11-28T16:00:05Z".parse().expect("fixed time"),
        engine: &engine,
        incident: kept,
    };
    notifier.build(&route, &target)
}

fn build(
    alert: &Alert,
    integration: &Integration,
) -> Result<Vec<Outgoing<SplunkOnCallMessage>>, NotifyError> {
    build_kept(alert, integration, None)
}

/// Each message as `tocsin render` shows it, its body parsed.
fn shown(messages: &[Outgoing<SplunkOnCallMessage>]) -> Value {
    let notifier = notifier();
    messages
        .iter()
        .map(|outgoing| {
            let mut request = notifier.describe(&outgoing.message)["request"].clone();
            let body: Value = serde_json::from_str(request["body"].as_str().expect("a body")).expect("JSON");
            request["body"] = body;
            json!({ "step": outgoing.step, "request": request, "keep": outgoing.message.keep })
        })
        .collect()
}

/// The one message's body as sent.
fn body(messages: &[Outgoing<SplunkOnCallMessage>]) -> Value {
    assert_eq!(messages.len(), 1, "one message");
    let request = messages[0].message.request().expect("the message encodes");
    serde_json::from_str(&request.body).expect("JSON")
}

fn permanent(result: Result<impl std::fmt::Debug, NotifyError>) -> String {
    match result {
        Err(error @ NotifyError::Permanent { .. }) => error.to_string(),
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

/// `tocsin validate`'s issues for `integration` (the registry's rules, for this kind only).
fn issues(integration: Integration) -> Vec<String> {
    struct Rules;
    impl KindRules for Rules {
        fn recipients(&self, _kind: IntegrationKind) -> Recipients {
            Recipients::Nobody
        }
        fn check(&self, _integration: &Integration, check: &mut definition_store::IntegrationCheck<'_>) {
            if let Some(settings) = check.settings::<crate::SplunkOnCallSettings>() {
                SplunkOnCallNotifier::check(&settings, check);
            }
        }
    }
    let definitions = definition_store::Definitions {
        integrations: vec![integration],
        ..Default::default()
    };
    validate_with(&definitions, &Rules)
        .iter()
        .map(ToString::to_string)
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Messages (pure): snapshots of every alert type

#[test]
fn default_messages_of_every_alert_type() {
    for alert_type in AlertType::ALL {
        let messages = build(&alert(*alert_type), &integration(json!({}))).expect("builds");
        insta::assert_json_snapshot!(format!("default_{}", alert_type.as_lower()), shown(&messages));
    }
}

#[test]
fn configured_messages_of_every_alert_type() {
    let settings = json!({
        "url": "https://alert.victorops.com/integrations/generic/20131114/alert/{{ApiKey}}/$routing_key",
        "routingKey": "{{Team}}-oncall",
        "messageType": "WARNING",
        "entityDisplayName": "[{{@alertDefinition.name}}] {{@monitor.name}}: {{@alert.description}}",
        "stateMessage": "{{@alert.description}}\n{{@escalationLevel.message}}\nErrors: {{@alert.numberOfConsecutiveErrors}}",
        "monitoringTool": "Uptrends",
        "sendReminders": true,
    });
    for alert_type in AlertType::ALL {
        let mut alert = alert(*alert_type);
        alert.monitor.dashboard_url = "https://app.example.com/dashboard/dns".to_owned();
        alert.alert.first_error_check_url = "https://app.example.com/checks/30099055746".to_owned();
        let messages = build(&alert, &integration(settings.clone())).expect("builds");
        insta::assert_json_snapshot!(format!("configured_{}", alert_type.as_lower()), shown(&messages));
    }
}

// ---------------------------------------------------------------------------------------------
// Messages (pure): the rules

#[test]
fn the_entity_id_is_the_incident_key_and_the_ok_recovers_it() {
    let mut alert = alert(AlertType::Alert);
    let opened = body(&build(&alert, &integration(json!({}))).unwrap());
    assert_eq!(opened["message_type"], "CRITICAL");
    assert_eq!(opened["entity_id"], json!(alert.incident.key));
    alert.alert.alert_type = AlertType::Ok;
    let recovery = body(&build(&alert, &integration(json!({}))).unwrap());
    assert_eq!(recovery["message_type"], "RECOVERY");
    assert_eq!(recovery["entity_id"], opened["entity_id"]);
    // A message type by setting applies to the Alert, never to the Ok.
    let settings = json!({"messageType": "INFO"});
    assert_eq!(
        body(&build(&alert, &integration(settings.clone())).unwrap())["message_type"],
        "RECOVERY"
    );
    alert.alert.alert_type = AlertType::Alert;
    assert_eq!(
        body(&build(&alert, &integration(settings)).unwrap())["message_type"],
        "INFO"
    );
}

#[test]
fn without_an_incident_key_splunk_makes_one_and_the_ok_has_nothing_to_recover() {
    let mut alert = alert(AlertType::Alert);
    alert.incident.key = " ".to_owned();
    let opened = body(&build(&alert, &integration(json!({}))).unwrap());
    assert!(opened.get("entity_id").is_none(), "{opened}");
    alert.alert.alert_type = AlertType::Ok;
    assert!(build(&alert, &integration(json!({}))).unwrap().is_empty());
    assert_eq!(
        SplunkOnCallNotifier::nothing_to_send(&integration(json!({})), &alert),
        "the Ok has no incident key (entity_id) to recover"
    );
}

#[test]
fn times_are_epoch_seconds_the_state_starting_at_the_first_error() {
    let mut alert = alert(AlertType::Alert);
    alert.alert.first_error_utc = "2026-11-28T10:00:00".to_owned();
    alert.alert.timestamp_utc = "2026-11-28T10:05:00Z".to_owned();
    let opened = body(&build(&alert, &integration(json!({}))).unwrap());
    assert_eq!(opened["state_start_time"], 1_795_860_000);
    assert_eq!(opened["timestamp"], 1_795_860_300);
    alert.alert.alert_type = AlertType::Ok;
    let recovery = body(&build(&alert, &integration(json!({}))).unwrap());
    assert_eq!(recovery["state_start_time"], 1_795_860_300, "the Ok's own time");
    alert.alert.timestamp_utc = "not a time".to_owned();
    let untimed = body(&build(&alert, &integration(json!({}))).unwrap());
    assert!(untimed.get("timestamp").is_none() && untimed.get("state_start_time").is_none());
}

#[test]
fn the_title_is_one_line_and_the_state_message_is_cut_at_20480_bytes() {
    let mut alert = alert(AlertType::Alert);
    alert.alert.description = format!("first line\nsecond line {}", "é".repeat(30_000));
    let message = body(
        &build(
            &alert,
            &integration(json!({"entityDisplayName": "{{@monitor.name}}\n{{@alert.description}}"})),
        )
        .unwrap(),
    );
    let title = message["entity_display_name"].as_str().unwrap();
    assert_eq!(title.chars().count(), crate::MAX_TITLE_CHARS);
    assert!(title.starts_with("GalacticResorts.com - DNS first line second line") && !title.contains('\n'));
    let state = message["state_message"].as_str().unwrap();
    assert!(
        state.len() <= crate::MAX_STATE_MESSAGE_BYTES && state.len() + 4 > crate::MAX_STATE_MESSAGE_BYTES
    );
    assert!(state.starts_with("first line\nsecond line éé"));
    // A title that renders empty still gives Splunk On-Call one.
    let empty = body(
        &build(
            &alert,
            &integration(json!({"entityDisplayName": "{% if false %}x{% endif %}"})),
        )
        .unwrap(),
    );
    assert_eq!(empty["entity_display_name"], "Alert: GalacticResorts.com - DNS");
}

#[test]
fn custom_fields_name_the_alert_and_never_take_a_reserved_name() {
    let mut alert = alert(AlertType::Alert);
    alert.monitor.dashboard_url = "https://app.example.com/dashboard".to_owned();
    let message = body(&build(&alert, &integration(json!({}))).unwrap());
    assert_eq!(message["alert"], json!(alert.alert.alert_guid));
    assert_eq!(message["monitor"], "GalacticResorts.com - DNS");
    assert_eq!(message["dashboard_url"], "https://app.example.com/dashboard");
    assert_eq!(message["escalation_level"], "1");
    assert_eq!(message["monitoring_tool"], "Tocsin");
    let fields = crate::payload::custom_fields(&alert);
    for reserved in [
        "message_type",
        "entity_id",
        "entity_display_name",
        "state_message",
        "state_start_time",
        "timestamp",
        "monitoring_tool",
        "routing_key",
        "entity_state",
    ] {
        assert!(!fields.contains_key(reserved), "{reserved}");
    }
}

#[test]
fn the_url_ends_with_the_routing_key_and_shows_no_api_key() {
    let messages = build(&alert(AlertType::Alert), &integration(json!({}))).unwrap();
    assert_eq!(
        messages[0].message.url,
        format!("https://alert.victorops.com/integrations/generic/20131114/alert/{API_KEY}/dns-team")
    );
    let shown = shown(&messages);
    assert_eq!(
        shown[0]["request"]["url"],
        "https://alert.victorops.com/integrations/generic/20131114/alert/[api key]/dns-team"
    );
    assert!(!shown.to_string().contains(API_KEY));
    // The URL copied from Splunk On-Call's page, `$routing_key` included; a routing key that needs
    // encoding is encoded.
    let copied = integration(json!({
        "url": "https://alert.victorops.com/integrations/generic/20131114/alert/{{ApiKey}}/$routing_key",
        "routingKey": "{{@monitor.name}}",
    }));
    let url = build(&alert(AlertType::Alert), &copied).unwrap()[0]
        .message
        .url
        .clone();
    assert_eq!(
        url,
        format!(
            "https://alert.victorops.com/integrations/generic/20131114/alert/{API_KEY}/GalacticResorts.com%20-%20DNS"
        )
    );
    let error = permanent(build(
        &alert(AlertType::Alert),
        &integration(json!({"routingKey": "{% if false %}x{% endif %}"})),
    ));
    assert_eq!(
        error,
        "integration `ops-oncall`: `settings.routingKey` renders to an empty routing key"
    );
    let error = permanent(build(
        &alert(AlertType::Alert),
        &integration(json!({"routingKey": "a/b"})),
    ));
    assert!(error.contains("routing key with `/`"), "{error}");
    let error = permanent(build(
        &alert(AlertType::Alert),
        &integration(json!({"url": "alert.victorops.com/{{ApiKey}}"})),
    ));
    assert_eq!(
        error,
        "integration `ops-oncall`: `settings.url` does not render to an absolute http:// or https:// URL"
    );
    assert!(!error.contains(API_KEY));
}

#[test]
fn a_reminder_sends_nothing_unless_reminders_are_on() {
    let reminder = alert(AlertType::Reminder);
    assert!(build(&reminder, &integration(json!({}))).unwrap().is_empty());
    let messages = build(&reminder, &integration(json!({"sendReminders": true}))).unwrap();
    assert_eq!(body(&messages)["message_type"], "CRITICAL");
    assert_eq!(
        SplunkOnCallNotifier::nothing_to_send(&integration(json!({})), &reminder),
        "a Reminder sends nothing to Splunk On-Call: the incident stays open until the Ok (set settings.sendReminders: true to send the Alert's event again)"
    );
}

#[test]
fn an_alert_older_than_the_recovery_kept_sends_nothing() {
    let kept = json!({"resolvedAt": "2026-11-28T16:05:00Z"});
    let messages = build_kept(&alert(AlertType::Alert), &integration(json!({})), Some(&kept)).unwrap();
    assert!(messages.is_empty());
    let mut later = alert(AlertType::Alert);
    later.alert.timestamp_utc = "2026-11-28T17:00:00Z".to_owned();
    let messages = build_kept(&later, &integration(json!({})), Some(&kept)).unwrap();
    assert_eq!(
        messages[0].message.keep,
        Some(json!({"triggeredAt": "2026-11-28T17:00:00Z"}))
    );
}

// ---------------------------------------------------------------------------------------------
// Settings: what `tocsin validate` and the function refuse, with the path

#[test]
fn settings_are_read_and_checked() {
    let target = SplunkOnCallTarget::parse(&integration(json!({}))).unwrap();
    assert_eq!(target.url, crate::DEFAULT_URL);
    assert_eq!(target.routing_key, "{{RoutingKey}}");
    assert_eq!(target.message_type, crate::MessageType::Critical);
    assert_eq!(target.monitoring_tool, "Tocsin");
    for (settings, expected) in [
        (
            json!({"messageType": "RECOVERY"}),
            "integration `ops-oncall`: `settings.messageType`: unknown variant `RECOVERY`, expected one of `CRITICAL`, `WARNING`, `INFO`",
        ),
        (
            json!({"sendReminders": "yes"}),
            "integration `ops-oncall`: `settings.sendReminders`: invalid type: string \"yes\", expected a boolean",
        ),
        (
            json!({"routingKey": " "}),
            "integration `ops-oncall`: `settings.routingKey`: empty: leave it out for the default",
        ),
        (
            json!({"entityId": "x"}),
            "integration `ops-oncall`: `settings.entityId`: unknown field `entityId`, expected one of `url`, `routingKey`, `messageType`, `entityDisplayName`, `stateMessage`, `monitoringTool`, `sendReminders`",
        ),
    ] {
        let error = SplunkOnCallTarget::parse(&integration(settings.clone())).unwrap_err();
        assert!(!error.is_retryable());
        assert_eq!(error.to_string(), expected, "{settings}");
    }
}

#[test]
fn validate_names_each_problem_with_its_path() {
    let mut without_keys = integration(json!({}));
    without_keys.variables.clear();
    assert_eq!(
        issues(without_keys),
        [
            "integrations[0].settings.url: no API key: define the variable `ApiKey` (best a secret, `{secret: \"ssm:/…\"}`) or set `settings.url` (the REST endpoint URL, which holds the key)",
            "integrations[0].settings.routingKey: no routing key: define the variable `RoutingKey` (a value, a secret, or `{perLevel: true}` for a routing key per escalation level) or set `settings.routingKey`",
        ]
    );
    assert_eq!(
        issues(integration(json!({"entityDisplayName": "{{@monitor.name"}))),
        [
            "integrations[0].settings.entityDisplayName: invalid template: `{{@monitor.name` must be closed by `}}` (line 1)"
        ]
    );
    assert_eq!(
        issues(integration(json!({"stateMessage": 3}))),
        ["integrations[0].settings.stateMessage: invalid type: integer `3`, expected a string"]
    );
    let mut whole_url = integration(json!({"url": "{{RestUrl}}", "routingKey": "ops"}));
    whole_url.variables.clear();
    assert!(issues(whole_url).is_empty());
}

#[test]
fn the_sample_and_the_example_integrations_are_valid() {
    let sample = SplunkOnCallNotifier::sample("oncall-sample", &notify_core::SampleEnv::default());
    assert!(issues(sample.clone()).is_empty());
    SplunkOnCallTarget::parse(&sample).expect("the sample parses");
    let path = test_support::moto::workspace_root().join("examples/definitions.yaml");
    let definitions = definition_store::load_file(&path).unwrap_or_else(|error| panic!("{error}"));
    let examples: Vec<_> = definitions
        .integrations
        .iter()
        .filter(|integration| integration.kind == IntegrationKind::SplunkOnCall)
        .collect();
    assert!(
        !examples.is_empty(),
        "examples/definitions.yaml has no splunk-oncall integration"
    );
    for example in examples {
        assert!(issues(example.clone()).is_empty(), "{}", example.id);
        SplunkOnCallTarget::parse(example).unwrap_or_else(|error| panic!("{}: {error}", example.id));
    }
}

// ---------------------------------------------------------------------------------------------
// What every kind must do (retries, idempotency, redaction, bad settings), against plain HTTP

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<SplunkOnCallNotifier>().await;
}
