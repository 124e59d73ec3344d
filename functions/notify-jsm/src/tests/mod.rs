use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, IntegrationKind, template::Engine};
use definition_store::{
    Attachment, EscalationLevel, Integration, KindRules, Recipients, VariableDef, validate_with,
};
use notify_core::{Kind, Notifier, NotifyError, Outgoing, RouteContext, Variables};
use serde_json::{Value, json};

use crate::{JsmNotifier, JsmRequest, JsmTarget};

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
        id: "ops-jsm".to_owned(),
        name: "Ops JSM".to_owned(),
        kind: IntegrationKind::Jsm,
        active: true,
        variables: BTreeMap::from([(
            "ApiKey".to_owned(),
            VariableDef::Secret {
                secret: definition_store::SecretRef("ssm:/tocsin/jsm".to_owned()),
            },
        )]),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

fn attachment() -> Attachment {
    Attachment {
        integration: "ops-jsm".to_owned(),
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
    variables.insert("Team", "dns");
    variables
}

fn notifier() -> JsmNotifier {
    let config = notify_core::Config {
        allow_hosts: "127.0.0.1".parse().expect("allow-list"),
        allow_http: true,
        ..notify_core::Config::default()
    };
    JsmNotifier::with_client(notify_core::HttpClient::new(&config).expect("http client"))
}

/// Builds the messages of one route as the runner does, with the incident state `kept`.
fn build_kept(
    alert: &Alert,
    integration: &Integration,
    kept: Option<&Value>,
) -> Result<Vec<Outgoing<JsmRequest>>, NotifyError> {
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

fn build(alert: &Alert, integration: &Integration) -> Result<Vec<Outgoing<JsmRequest>>, NotifyError> {
    build_kept(alert, integration, None)
}

/// Each message as `tocsin render` shows it, its body parsed.
fn shown(messages: &[Outgoing<JsmRequest>]) -> Value {
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
fn body(messages: &[Outgoing<JsmRequest>]) -> Value {
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
            if let Some(settings) = check.settings::<crate::JsmSettings>() {
                JsmNotifier::check(&settings, check);
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
fn default_requests_of_every_alert_type() {
    for alert_type in AlertType::ALL {
        let messages = build(&alert(*alert_type), &integration(json!({}))).expect("builds");
        insta::assert_json_snapshot!(format!("default_{}", alert_type.as_lower()), shown(&messages));
    }
}

#[test]
fn configured_requests_of_every_alert_type() {
    let settings = json!({
        "api": "opsgenie",
        "region": "eu",
        "message": "[{{@alertDefinition.name}}] {{@monitor.name}}: {{@alert.description}}",
        "description": "{{@alert.description}}\n{{@escalationLevel.message}}\nErrors: {{@alert.numberOfConsecutiveErrors}}",
        "priority": "{{@CustomField(Priority)}}",
        "priorityMap": {"high": "P2"},
        "responders": [{"type": "team", "name": "DNS"}, {"type": "user", "username": "ann@example.com"}],
        "tags": ["dns", "{{Team}}", "{{@monitor.type}}"],
        "details": {"team": "{{Team}}", "checkpoint": "{{@alert.checkpointName}} (from the template)"},
        "entity": "{{@monitor.url}}",
        "source": "Uptrends via Tocsin",
        "closeNote": "Recovered: {{@monitor.name}}",
        "sendReminders": true,
    });
    for alert_type in AlertType::ALL {
        let mut alert = alert(*alert_type);
        alert
            .monitor
            .custom_fields
            .insert("Priority".to_owned(), "High".to_owned());
        alert.monitor.dashboard_url = "https://app.example.com/dashboard/dns".to_owned();
        alert.alert.first_error_check_url = "https://app.example.com/checks/30099055746".to_owned();
        let messages = build(&alert, &integration(settings.clone())).expect("builds");
        insta::assert_json_snapshot!(format!("configured_{}", alert_type.as_lower()), shown(&messages));
    }
}

// ---------------------------------------------------------------------------------------------
// Requests (pure): the rules

#[test]
fn the_alias_is_the_incident_key_and_the_ok_closes_by_it() {
    let mut alert = alert(AlertType::Alert);
    alert.incident.key = "dns/ghent #1".to_owned();
    let created = build(&alert, &integration(json!({}))).unwrap();
    assert_eq!(created[0].step, "create");
    assert_eq!(
        created[0].message.url,
        "https://api.atlassian.com/jsm/ops/integration/v2/alerts"
    );
    assert_eq!(body(&created)["alias"], "dns/ghent #1");
    alert.alert.alert_type = AlertType::Ok;
    let closed = build(&alert, &integration(json!({}))).unwrap();
    assert_eq!(closed[0].step, "close");
    assert_eq!(
        closed[0].message.url,
        "https://api.atlassian.com/jsm/ops/integration/v2/alerts/dns%2Fghent%20%231/close?identifierType=alias"
    );
    assert_eq!(
        body(&closed),
        json!({"source": "Tocsin", "note": "GalacticResorts.com - DNS is up again."})
    );
    // Long keys are cut to 250 bytes, the same for the create and the close.
    alert.incident.key = format!("{}ü", "k".repeat(300));
    let close_url = build(&alert, &integration(json!({}))).unwrap()[0]
        .message
        .url
        .clone();
    alert.alert.alert_type = AlertType::Alert;
    let alias = body(&build(&alert, &integration(json!({}))).unwrap())["alias"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(alias.len() <= crate::MAX_ALIAS_BYTES, "{alias}");
    assert!(close_url.contains(&alias[..200]), "{close_url}");
}

#[test]
fn opsgenie_and_its_eu_region_are_a_setting_and_every_request_carries_the_genie_key() {
    let created = build(&alert(AlertType::Alert), &integration(json!({"api": "opsgenie"}))).unwrap();
    assert_eq!(created[0].message.url, "https://api.opsgenie.com/v2/alerts");
    let eu = build(
        &alert(AlertType::Ok),
        &integration(json!({"api": "opsgenie", "region": "eu"})),
    )
    .unwrap();
    let request = eu[0].message.request().unwrap();
    assert!(
        request
            .url
            .starts_with("https://api.eu.opsgenie.com/v2/alerts/ba8ffcb7-"),
        "{}",
        request.url
    );
    assert_eq!(request.headers["Authorization"], format!("GenieKey {API_KEY}"));
    let shown = shown(&eu);
    assert_eq!(
        shown[0]["request"]["headers"]["Authorization"],
        "GenieKey [api key]"
    );
    assert!(!shown.to_string().contains(API_KEY));
}

#[test]
fn without_an_incident_key_the_api_makes_one_and_the_ok_has_nothing_to_close() {
    let mut alert = alert(AlertType::Alert);
    alert.incident.key = String::new();
    let created = body(&build(&alert, &integration(json!({}))).unwrap());
    assert!(created.get("alias").is_none(), "{created}");
    alert.alert.alert_type = AlertType::Ok;
    assert!(build(&alert, &integration(json!({}))).unwrap().is_empty());
    assert_eq!(
        JsmNotifier::nothing_to_send(&integration(json!({})), &alert),
        "the Ok has no incident key (alias) to close by"
    );
}

#[test]
fn the_message_is_one_line_of_at_most_130_characters_and_every_field_within_its_limit() {
    let mut alert = alert(AlertType::Alert);
    alert.alert.description = format!("first line\nsecond line {}", "é".repeat(20_000));
    alert.monitor.name = "m".repeat(600);
    let settings = json!({
        "message": "{{@alert.description}}",
        "tags": ["{{@alert.description}}", "", "same", "same"],
        "details": {"error": "{{@alert.description}}"},
        "source": "s".repeat(150),
    });
    let created = body(&build(&alert, &integration(settings)).unwrap());
    let message = created["message"].as_str().unwrap();
    assert_eq!(message.chars().count(), crate::MAX_MESSAGE_CHARS);
    assert!(message.starts_with("first line second line") && message.ends_with('…'));
    let description = created["description"].as_str().unwrap();
    assert!(
        description.len() <= crate::MAX_DESCRIPTION_BYTES
            && description.len() + 4 > crate::MAX_DESCRIPTION_BYTES
    );
    assert_eq!(
        created["entity"].as_str().unwrap().chars().count(),
        crate::MAX_ENTITY_CHARS
    );
    assert_eq!(
        created["source"].as_str().unwrap().chars().count(),
        crate::MAX_SOURCE_CHARS
    );
    let tags: Vec<&str> = created["tags"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(tags.len(), 2, "empty and repeated tags are left out: {tags:?}");
    assert_eq!(tags[0].chars().count(), crate::MAX_TAG_CHARS);
    let details = created["details"].as_object().unwrap();
    let total: usize = details
        .iter()
        .map(|(name, value)| name.chars().count() + value.as_str().unwrap().chars().count())
        .sum();
    assert!(total <= crate::MAX_DETAILS_CHARS, "{total}");
    assert!(details["error"].as_str().unwrap().starts_with("first line"));
    assert_eq!(
        details["alert"],
        json!(alert.alert.alert_guid),
        "the alert's own values stay"
    );
    // A message that renders empty still gives the API one.
    let empty = body(
        &build(
            &self::alert(AlertType::Alert),
            &integration(json!({"message": "{% if false %}x{% endif %}"})),
        )
        .unwrap(),
    );
    assert_eq!(empty["message"], "Alert: GalacticResorts.com - DNS");
}

#[test]
fn the_priority_is_mapped_left_to_the_api_by_default_and_an_unknown_one_is_p1() {
    let priority_of = |settings: Value| {
        body(&build(&alert(AlertType::Alert), &integration(settings)).unwrap())
            .get("priority")
            .cloned()
    };
    assert_eq!(priority_of(json!({})), None);
    assert_eq!(priority_of(json!({"priority": "p2"})), Some(json!("P2")));
    assert_eq!(
        priority_of(json!({"priority": "Major", "priorityMap": {"major": "P2"}})),
        Some(json!("P2"))
    );
    assert_eq!(
        priority_of(json!({"priority": "{% if false %}x{% endif %}"})),
        None
    );
    let (logs, _guard) = test_support::logs::capture();
    assert_eq!(
        priority_of(json!({"priority": "{{@CustomField(Team)}}"})),
        Some(json!("P1"))
    );
    assert!(logs.text().contains("sent as P1"), "{}", logs.text());
}

#[test]
fn a_reminder_sends_nothing_unless_reminders_are_on() {
    let reminder = alert(AlertType::Reminder);
    assert!(build(&reminder, &integration(json!({}))).unwrap().is_empty());
    let requests = build(&reminder, &integration(json!({"sendReminders": true}))).unwrap();
    assert_eq!(requests[0].step, "create");
    assert_eq!(
        JsmNotifier::nothing_to_send(&integration(json!({})), &reminder),
        "a Reminder sends nothing to Jira Service Management: the incident stays open until the Ok (set settings.sendReminders: true to send the Alert's event again)"
    );
}

#[test]
fn an_alert_older_than_the_close_kept_sends_nothing() {
    let kept = json!({"resolvedAt": "2026-11-28T16:05:00Z"});
    assert!(
        build_kept(&alert(AlertType::Alert), &integration(json!({})), Some(&kept))
            .unwrap()
            .is_empty()
    );
}

// ---------------------------------------------------------------------------------------------
// Settings: what `tocsin validate` and the function refuse, with the path

#[test]
fn settings_are_read_and_checked() {
    let target = JsmTarget::parse(&integration(json!({}))).unwrap();
    assert_eq!(
        (target.api, target.url.as_str()),
        (crate::Api::Jsm, crate::JSM_URL)
    );
    assert_eq!(target.api_key, "{{ApiKey}}");
    for (settings, expected) in [
        (
            json!({"region": "eu"}),
            "integration `ops-jsm`: `settings.region`: `region` is Opsgenie's (`api: opsgenie`); Jira Service Management's integration API has one host",
        ),
        (
            json!({"api": "opsgenie", "region": "eu", "url": "https://x.example.com"}),
            "integration `ops-jsm`: `settings.url`: give either `region` or `url`, not both",
        ),
        (
            json!({"priority": "urgent"}),
            "integration `ops-jsm`: `settings.priority`: `urgent` is not a priority (P1 to P5) nor a value of settings.priorityMap",
        ),
        (
            json!({"responders": [{"type": "team"}]}),
            "integration `ops-jsm`: `settings.responders[0]`: give exactly one of `id`, `name` or `username`",
        ),
        (
            json!({"responders": [{"type": "team", "username": "ann@example.com"}]}),
            "integration `ops-jsm`: `settings.responders[0].username`: only a `user` responder has a `username`",
        ),
        (
            json!({"responders": [{"type": "group", "id": "x"}]}),
            "integration `ops-jsm`: `settings.responders[0].type`: unknown variant `group`, expected one of `team`, `user`, `escalation`, `schedule`",
        ),
        (
            json!({"tags": (0..21).map(|n| n.to_string()).collect::<Vec<_>>()}),
            "integration `ops-jsm`: `settings.tags`: 21 tags: the API takes at most 20",
        ),
        (
            json!({"alias": "x"}),
            "integration `ops-jsm`: `settings.alias`: unknown field `alias`, expected one of `api`, `region`, `url`, `apiKey`, `message`, `description`, `priority`, `priorityMap`, `responders`, `tags`, `details`, `entity`, `source`, `closeNote`, `sendReminders`",
        ),
    ] {
        let error = JsmTarget::parse(&integration(settings.clone())).unwrap_err();
        assert!(!error.is_retryable());
        assert_eq!(error.to_string(), expected, "{settings}");
    }
}

#[test]
fn validate_names_each_problem_with_its_path() {
    let mut without_key = integration(json!({}));
    without_key.variables.clear();
    assert_eq!(
        issues(without_key),
        [
            "integrations[0].settings.apiKey: no API key: define the variable `ApiKey` (`{secret: \"ssm:/…\"}`) or set `settings.apiKey`"
        ]
    );
    assert_eq!(
        issues(integration(json!({"tags": ["ok", "{{@monitor.name"]}))),
        [
            "integrations[0].settings.tags[1]: invalid template: `{{@monitor.name` must be closed by `}}` (line 1)"
        ]
    );
    assert_eq!(
        issues(integration(json!({"details": {"x": "{{@monitor.name"}}))),
        [
            "integrations[0].settings.details.x: invalid template: `{{@monitor.name` must be closed by `}}` (line 1)"
        ]
    );
    assert!(issues(integration(json!({"priority": "{{Priority}}"}))).is_empty());
}

#[test]
fn the_sample_and_the_example_integrations_are_valid() {
    let sample = JsmNotifier::sample("jsm-sample", &notify_core::SampleEnv::default());
    assert!(issues(sample.clone()).is_empty());
    JsmTarget::parse(&sample).expect("the sample parses");
    let path = test_support::moto::workspace_root().join("examples/definitions.yaml");
    let definitions = definition_store::load_file(&path).unwrap_or_else(|error| panic!("{error}"));
    let examples: Vec<_> = definitions
        .integrations
        .iter()
        .filter(|integration| integration.kind == IntegrationKind::Jsm)
        .collect();
    assert!(
        !examples.is_empty(),
        "examples/definitions.yaml has no jsm integration"
    );
    for example in examples {
        assert!(issues(example.clone()).is_empty(), "{}", example.id);
        JsmTarget::parse(example).unwrap_or_else(|error| panic!("{}: {error}", example.id));
    }
}

// ---------------------------------------------------------------------------------------------
// What every kind must do (retries, idempotency, redaction, bad settings), against plain HTTP

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<JsmNotifier>().await;
}

#[test]
fn a_url_that_is_not_a_base_url_or_an_empty_key_is_refused_without_quoting_them() {
    let error = permanent(build(
        &alert(AlertType::Alert),
        &integration(json!({"url": "https://api.example.com/x?key={{ApiKey}}"})),
    ));
    assert!(
        error.contains("a query or a fragment: give the API's base URL"),
        "{error}"
    );
    assert!(!error.contains(API_KEY));
    let error = permanent(build(
        &alert(AlertType::Alert),
        &integration(json!({"apiKey": "{% if false %}x{% endif %}"})),
    ));
    assert_eq!(
        error,
        "integration `ops-jsm`: `settings.apiKey` renders to an empty API key"
    );
}
