use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, IntegrationKind, template::Engine};
use definition_store::{
    Attachment, EscalationLevel, Integration, KindRules, Recipients, VariableDef, validate_with,
};
use notify_core::{Kind, Notifier, NotifyError, Outgoing, RouteContext, Variables};
use serde_json::{Value, json};

use crate::{MAX_EVENT_BYTES, PagerDutyEvent, PagerDutyNotifier, PagerDutyTarget, SHRUNK_NOTE_KEY};

mod lifecycle;
mod vendor;

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The routing key of the fixtures: 32 characters, as PagerDuty's.
const ROUTING_KEY: &str = "R0ut1ngK3yR0ut1ngK3yR0ut1ngK3y01";

fn alert(alert_type: AlertType) -> Alert {
    test_support::fixtures::sample_alert(alert_type)
}

fn integration(settings: Value) -> Integration {
    let Value::Object(settings) = settings else {
        panic!("settings must be an object")
    };
    Integration {
        id: "ops-pagerduty".to_owned(),
        name: "Ops PagerDuty".to_owned(),
        kind: IntegrationKind::PagerDuty,
        active: true,
        variables: BTreeMap::from([(
            "RoutingKey".to_owned(),
            VariableDef::Secret {
                secret: definition_store::SecretRef("ssm:/tocsin/pagerduty".to_owned()),
            },
        )]),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

fn attachment() -> Attachment {
    Attachment {
        integration: "ops-pagerduty".to_owned(),
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
    variables.insert_secret("RoutingKey", ROUTING_KEY);
    variables.insert("Team", "dns");
    variables
}

fn notifier() -> PagerDutyNotifier {
    let config = notify_core::Config {
        allow_hosts: "127.0.0.1".parse().expect("allow-list"),
        allow_http: true,
        ..notify_core::Config::default()
    };
    PagerDutyNotifier::with_client(notify_core::HttpClient::new(&config).expect("http client"))
}

/// Builds the events of one route as the runner does, with the incident state `kept`.
fn build_kept(
    alert: &Alert,
    integration: &Integration,
    kept: Option<&Value>,
) -> Result<Vec<Outgoing<PagerDutyEvent>>, NotifyError> {
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

fn build(alert: &Alert, integration: &Integration) -> Result<Vec<Outgoing<PagerDutyEvent>>, NotifyError> {
    build_kept(alert, integration, None)
}

/// Each event as `tocsin render` shows it, its body parsed.
fn shown(events: &[Outgoing<PagerDutyEvent>]) -> Value {
    let notifier = notifier();
    events
        .iter()
        .map(|outgoing| {
            let mut request = notifier.describe(&outgoing.message)["request"].clone();
            let body: Value = serde_json::from_str(request["body"].as_str().expect("a body")).expect("JSON");
            request["body"] = body;
            json!({ "step": outgoing.step, "request": request, "keep": outgoing.message.keep })
        })
        .collect()
}

/// The one event's body as sent.
fn body(events: &[Outgoing<PagerDutyEvent>]) -> Value {
    assert_eq!(events.len(), 1, "one event");
    let request = events[0].message.request().expect("the event encodes");
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
            if let Some(settings) = check.settings::<crate::PagerDutySettings>() {
                PagerDutyNotifier::check(&settings, check);
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
// Events (pure): snapshots of every alert type

#[test]
fn default_events_of_every_alert_type() {
    for alert_type in AlertType::ALL {
        let events = build(&alert(*alert_type), &integration(json!({}))).expect("builds");
        insta::assert_json_snapshot!(format!("default_{}", alert_type.as_lower()), shown(&events));
    }
}

#[test]
fn configured_events_of_every_alert_type() {
    let settings = json!({
        "region": "eu",
        "severity": "{{@CustomField(Priority)}}",
        "severityMap": {"P1": "critical", "P3": "warning"},
        "summary": "[{{@alertDefinition.name}}] {{@monitor.name}}: {{@alert.description}}",
        "source": "{{@monitor.url}}",
        "component": "dns",
        "group": "{{Team}}",
        "class": "{{@monitor.type}} check",
        "customDetails": r#"{"level message": "{{@escalationLevel.message}}", "checkpoint": "{{@alert.checkpointName}}", "errors": {{@alert.numberOfConsecutiveErrors}}}"#,
        "sendReminders": true,
    });
    for alert_type in AlertType::ALL {
        let mut alert = alert(*alert_type);
        alert
            .monitor
            .custom_fields
            .insert("Priority".to_owned(), "P3".to_owned());
        alert.monitor.dashboard_url = "https://app.example.com/dashboard/dns".to_owned();
        alert.alert.first_error_check_url = "https://app.example.com/checks/30099055746".to_owned();
        let events = build(&alert, &integration(settings.clone())).expect("builds");
        insta::assert_json_snapshot!(format!("configured_{}", alert_type.as_lower()), shown(&events));
    }
}

// ---------------------------------------------------------------------------------------------
// Events (pure): the rules

#[test]
fn the_dedup_key_is_the_incident_key_within_255_bytes() {
    let mut alert = alert(AlertType::Alert);
    let trigger = body(&build(&alert, &integration(json!({}))).unwrap());
    assert_eq!(trigger["dedup_key"], json!(alert.incident.key));
    alert.incident.key = format!("{}ü", "k".repeat(300));
    let long = body(&build(&alert, &integration(json!({}))).unwrap());
    let key = long["dedup_key"].as_str().unwrap();
    assert!(key.len() <= 255 && key.starts_with("kkkk"), "{key}");
    alert.alert.alert_type = AlertType::Ok;
    let resolve = body(&build(&alert, &integration(json!({}))).unwrap());
    assert_eq!(
        resolve["dedup_key"],
        json!(key),
        "the Ok resolves what the Alert opened"
    );
}

#[test]
fn without_an_incident_key_pagerduty_makes_one_and_the_ok_has_nothing_to_resolve() {
    let mut alert = alert(AlertType::Alert);
    alert.incident.key = String::new();
    let trigger = body(&build(&alert, &integration(json!({}))).unwrap());
    assert!(trigger.get("dedup_key").is_none(), "{trigger}");
    alert.alert.alert_type = AlertType::Ok;
    assert!(build(&alert, &integration(json!({}))).unwrap().is_empty());
}

#[test]
fn the_summary_is_one_line_of_at_most_1024_characters() {
    let mut alert = alert(AlertType::Alert);
    alert.alert.description = format!("first line\nsecond line {}", "é".repeat(3000));
    let settings = json!({"summary": "{{@monitor.name}}\n{{@alert.description}}"});
    let trigger = body(&build(&alert, &integration(settings)).unwrap());
    let summary = trigger["payload"]["summary"].as_str().unwrap();
    assert_eq!(summary.chars().count(), 1024);
    assert!(
        summary.starts_with("GalacticResorts.com - DNS first line second line éé"),
        "{summary}"
    );
    assert!(summary.ends_with('…') && !summary.contains('\n'));
    // A summary that renders empty still gives PagerDuty one.
    let empty = body(
        &build(
            &alert,
            &integration(json!({"summary": "{% if false %}x{% endif %}"})),
        )
        .unwrap(),
    );
    assert_eq!(empty["payload"]["summary"], "Alert: GalacticResorts.com - DNS");
}

#[test]
fn the_severity_is_mapped_and_an_unknown_one_pages_as_critical() {
    let settings =
        |severity: &str| json!({"severity": severity, "severityMap": {"Sev-2": "error", "ticket": "info"}});
    let severity_of = |settings: Value| {
        let trigger = body(&build(&alert(AlertType::Alert), &integration(settings)).unwrap());
        trigger["payload"]["severity"].as_str().unwrap().to_owned()
    };
    assert_eq!(severity_of(json!({})), "critical");
    assert_eq!(severity_of(settings("warning")), "warning");
    assert_eq!(severity_of(settings(" WARNING ")), "warning");
    assert_eq!(severity_of(settings("sev-2")), "error");
    assert_eq!(
        severity_of(settings("{{@CustomField(Team)}}")),
        "critical",
        "ops: no such severity"
    );
    assert_eq!(severity_of(settings("{% if false %}x{% endif %}")), "critical");
    let (logs, _guard) = test_support::logs::capture();
    assert_eq!(severity_of(settings("{{@CustomField(Team)}}")), "critical");
    assert!(logs.text().contains("sent as critical"), "{}", logs.text());
}

#[test]
fn custom_details_hold_every_alert_variable_and_the_level_message_or_the_template() {
    let trigger = body(&build(&alert(AlertType::Alert), &integration(json!({}))).unwrap());
    let details = &trigger["payload"]["custom_details"];
    assert_eq!(details["message"], "Call the DNS team");
    assert_eq!(details["alert"]["description"], "DNS lookup failed: NXDOMAIN");
    assert_eq!(details["monitor"]["customFields"]["Team"], "ops");
    assert_eq!(
        details["incident"]["key"],
        json!(alert(AlertType::Alert).incident.key)
    );
    assert!(
        details["alert"].get("downtimeDuration").is_none(),
        "empty values are left out"
    );
    let templated = body(
        &build(
            &alert(AlertType::Alert),
            &integration(json!({"customDetails": "[\"{{@monitor.name}}\"]"})),
        )
        .unwrap(),
    );
    assert_eq!(
        templated["payload"]["custom_details"],
        json!({"details": ["GalacticResorts.com - DNS"]}),
        "anything but an object is wrapped"
    );
}

#[test]
fn links_point_to_the_dashboard_and_the_failed_check_when_they_are_web_urls() {
    let mut alert = alert(AlertType::Alert);
    alert.monitor.dashboard_url = "https://app.example.com/dashboard".to_owned();
    alert.alert.first_error_check_url = "javascript:alert(1)".to_owned();
    let trigger = body(&build(&alert, &integration(json!({}))).unwrap());
    assert_eq!(
        trigger["links"],
        json!([{"href": "https://app.example.com/dashboard", "text": "Dashboard"}])
    );
    assert_eq!(trigger["client"], "Tocsin");
    assert_eq!(trigger["client_url"], "https://app.example.com/dashboard");
}

#[test]
fn an_event_over_512_kb_shrinks_its_custom_details_and_says_so() {
    let mut alert = alert(AlertType::Alert);
    alert.monitor.notes = "n".repeat(300_000);
    alert.alert.response_body = "b".repeat(300_000);
    let events = build(&alert, &integration(json!({}))).unwrap();
    let built = serde_json::to_string(&events[0].message.event).unwrap();
    assert!(
        built.len() > MAX_EVENT_BYTES,
        "the built event is whole: {} bytes",
        built.len()
    );
    let request = events[0].message.request().unwrap();
    assert!(
        request.body.len() <= MAX_EVENT_BYTES,
        "{} bytes",
        request.body.len()
    );
    let sent: Value = serde_json::from_str(&request.body).unwrap();
    let details = &sent["payload"]["custom_details"];
    // One of the two long values is enough (the first in order, of equals); the other stays whole.
    let lengths = [
        details["monitor"]["notes"].as_str().map(str::len),
        details["alert"]["responseBody"].as_str().map(str::len),
    ];
    assert!(
        lengths == [Some(300_000), Some(19)] || lengths == [Some(19), Some(300_000)],
        "{lengths:?}"
    );
    assert!(request.body.contains("\"[cut: 300000 bytes]\""));
    assert_eq!(details["message"], "Call the DNS team");
    let note = details[SHRUNK_NOTE_KEY].as_str().unwrap();
    assert!(
        note.starts_with("1 value(s) of custom_details cut: the event was ") && note.contains("512000"),
        "{note}"
    );
    // `tocsin render` shows what is sent (the routing key masked).
    let shown = notifier().describe(&events[0].message);
    let shown = shown["request"]["body"].as_str().unwrap_or_default();
    assert!(shown.len() <= MAX_EVENT_BYTES && shown.contains("\"[cut: 300000 bytes]\""));
}

#[test]
fn custom_details_of_many_small_values_are_removed_whole_when_cutting_is_not_enough() {
    // 18,000 keys of 40 bytes, each with a value too short to cut: 720 KB.
    let template = "{ {% for i in range(18000) %}\"a key of forty bytes, number {{ i }}\": \"v\"{% if not loop.last %}, {% endif %}{% endfor %} }";
    let events = build(
        &alert(AlertType::Alert),
        &integration(json!({"customDetails": template})),
    )
    .unwrap();
    let sent: Value = serde_json::from_str(&events[0].message.request().unwrap().body).unwrap();
    let details = sent["payload"]["custom_details"].as_object().unwrap();
    assert_eq!(details.len(), 1, "only the note is left");
    assert!(
        details[SHRUNK_NOTE_KEY]
            .as_str()
            .unwrap()
            .starts_with("custom_details removed")
    );
}

#[test]
fn an_event_too_large_without_custom_details_is_refused_when_sent() {
    let mut alert = alert(AlertType::Alert);
    alert.monitor.notes = "n".repeat(600_000);
    let events = build(&alert, &integration(json!({"source": "{{@monitor.notes}}"}))).unwrap();
    let error = permanent(events[0].message.request());
    assert!(error.contains("more than PagerDuty's limit of 512000"), "{error}");
}

#[test]
fn the_routing_key_comes_from_its_variable_and_is_never_shown() {
    let events = build(&alert(AlertType::Alert), &integration(json!({}))).unwrap();
    assert_eq!(events[0].message.event.routing_key, ROUTING_KEY);
    let shown = notifier().describe(&events[0].message).to_string();
    assert!(!shown.contains(ROUTING_KEY), "{shown}");
    assert!(shown.contains("[routing key]"), "{shown}");
    // An empty key is refused, without quoting anything.
    let error = permanent(build(
        &alert(AlertType::Alert),
        &integration(json!({"routingKey": "{% if false %}x{% endif %}"})),
    ));
    assert_eq!(
        error,
        "integration `ops-pagerduty`: `settings.routingKey` renders to an empty routing key"
    );
}

#[test]
fn a_routing_key_per_escalation_level_is_a_per_level_variable() {
    let mut integration = integration(json!({}));
    integration.variables.insert(
        "RoutingKey".to_owned(),
        VariableDef::PerLevel {
            per_level: true,
            default: None,
        },
    );
    assert!(issues(integration).is_empty());
}

// ---------------------------------------------------------------------------------------------
// The lifecycle rules, as the build applies them

#[test]
fn a_reminder_sends_nothing_unless_reminders_are_on() {
    let reminder = alert(AlertType::Reminder);
    assert!(build(&reminder, &integration(json!({}))).unwrap().is_empty());
    let events = build(&reminder, &integration(json!({"sendReminders": true}))).unwrap();
    assert_eq!(body(&events)["event_action"], "trigger");
    assert_eq!(
        PagerDutyNotifier::nothing_to_send(&integration(json!({})), &reminder),
        "a Reminder sends nothing to PagerDuty: the incident stays open until the Ok (set settings.sendReminders: true to send the Alert's event again)"
    );
}

#[test]
fn an_alert_older_than_the_resolve_kept_sends_nothing() {
    let kept = json!({"resolvedAt": "2026-11-28T16:05:00Z"});
    let events = build_kept(&alert(AlertType::Alert), &integration(json!({})), Some(&kept)).unwrap();
    assert!(events.is_empty());
    let mut later = alert(AlertType::Alert);
    later.alert.timestamp_utc = "2026-11-28T17:00:00Z".to_owned();
    let events = build_kept(&later, &integration(json!({})), Some(&kept)).unwrap();
    assert_eq!(
        events[0].message.keep,
        Some(json!({"triggeredAt": "2026-11-28T17:00:00Z"}))
    );
}

// ---------------------------------------------------------------------------------------------
// Settings: what `tocsin validate` and the function refuse, with the path

#[test]
fn settings_are_read_and_checked() {
    let target = PagerDutyTarget::parse(&integration(json!({"region": "eu"}))).unwrap();
    assert_eq!(target.url, crate::EU_URL);
    assert_eq!(target.routing_key, "{{RoutingKey}}");
    assert_eq!(target.severity, "critical");
    let target = PagerDutyTarget::parse(&integration(json!({}))).unwrap();
    assert_eq!(target.url, crate::US_URL);
    for (settings, expected) in [
        (
            json!({"region": "apac"}),
            "integration `ops-pagerduty`: `settings.region`: unknown variant `apac`, expected `us` or `eu`",
        ),
        (
            json!({"region": "eu", "url": "https://x.example.com"}),
            "integration `ops-pagerduty`: `settings.url`: give either `region` or `url`, not both",
        ),
        (
            json!({"severity": "urgent"}),
            "integration `ops-pagerduty`: `settings.severity`: `urgent` is not a PagerDuty severity (critical, error, warning, info) nor a value of settings.severityMap",
        ),
        (
            json!({"severityMap": {"P1": "page"}}),
            "integration `ops-pagerduty`: `settings.severityMap.P1`: unknown variant `page`, expected one of `critical`, `error`, `warning`, `info`",
        ),
        (
            json!({"sendReminders": "yes"}),
            "integration `ops-pagerduty`: `settings.sendReminders`: invalid type: string \"yes\", expected a boolean",
        ),
        (
            json!({"routingKey": " "}),
            "integration `ops-pagerduty`: `settings.routingKey`: empty: leave it out for the default",
        ),
        (
            json!({"dedupKey": "x"}),
            "integration `ops-pagerduty`: `settings.dedupKey`: unknown field `dedupKey`, expected one of `region`, `url`, `routingKey`, `severity`, `severityMap`, `summary`, `source`, `component`, `group`, `class`, `customDetails`, `sendReminders`",
        ),
    ] {
        let error = PagerDutyTarget::parse(&integration(settings.clone())).unwrap_err();
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
            "integrations[0].settings.routingKey: no routing key: define the variable `RoutingKey` (`{secret: \"ssm:/…\"}`, or `{perLevel: true}` for a key per escalation level) or set `settings.routingKey`"
        ]
    );
    assert_eq!(
        issues(integration(
            json!({"summary": "{{@monitor.name", "severity": "P1", "severityMap": {"p1": "critical"}})
        )),
        [
            "integrations[0].settings.summary: invalid template: `{{@monitor.name` must be closed by `}}` (line 1)"
        ]
    );
    assert_eq!(
        issues(integration(json!({"severity": "sev1"}))),
        [
            "integrations[0].settings.severity: `sev1` is not a PagerDuty severity (critical, error, warning, info) nor a value of settings.severityMap"
        ]
    );
    assert_eq!(
        issues(integration(json!({"customDetails": 3}))),
        ["integrations[0].settings.customDetails: invalid type: integer `3`, expected a string"]
    );
    assert!(issues(integration(json!({"routingKey": "{{Key}}"}))).is_empty());
}

#[test]
fn the_sample_and_the_example_integrations_are_valid() {
    let sample = PagerDutyNotifier::sample("pd-sample", &notify_core::SampleEnv::default());
    assert!(issues(sample.clone()).is_empty());
    PagerDutyTarget::parse(&sample).expect("the sample parses");
    let path = test_support::moto::workspace_root().join("examples/definitions.yaml");
    let definitions = definition_store::load_file(&path).unwrap_or_else(|error| panic!("{error}"));
    let examples: Vec<_> = definitions
        .integrations
        .iter()
        .filter(|integration| integration.kind == IntegrationKind::PagerDuty)
        .collect();
    assert!(
        !examples.is_empty(),
        "examples/definitions.yaml has no pagerduty integration"
    );
    for example in examples {
        assert!(issues(example.clone()).is_empty(), "{}", example.id);
        PagerDutyTarget::parse(example).unwrap_or_else(|error| panic!("{}: {error}", example.id));
    }
}

// ---------------------------------------------------------------------------------------------
// What every kind must do (retries, idempotency, redaction, bad settings), against plain HTTP

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<PagerDutyNotifier>().await;
}
