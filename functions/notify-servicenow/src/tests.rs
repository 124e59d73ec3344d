mod instance;
mod server;

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use alert_model::{Alert, AlertType, IntegrationKind, template::Engine};
use definition_store::{
    AlertDefinition, Attachment, Definitions, EscalationLevel, Integration, IntegrationCheck, KindRules,
    MemoryStore, Recipients, SecretRef, VariableDef, validate_with,
};
use notify_core::{
    Config, EventReport, HttpClient, Kind, MemoryDeliveryLog, MemorySecrets, Notifier, NotifyError, Pipeline,
    RouteContext, SampleEnv, SampleRequest, Settings, Variables, testing::capture,
};
use serde_json::{Value, json};

use self::instance::{CLIENT_ID, CLIENT_SECRET, Fault, Instance, PASSWORD, USER};
use crate::{
    Mode, Operation, Plan, Reminders, ServiceNowMessage, ServiceNowNotifier, ServiceNowTarget,
    correlation_id,
    lifecycle::{self, Kept},
};

// ---------------------------------------------------------------------------------------------
// Fixtures

const PASSWORD_REF: &str = "ssm:/tocsin/test/servicenow-password";
const CLIENT_SECRET_REF: &str = "ssm:/tocsin/test/servicenow-client-secret";
const MONITOR: &str = "849b2046-213d-43ad-9efc-5af1faaeb222";
const KEY: &str = "ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746";

fn integration(settings: Value) -> Integration {
    let Value::Object(settings) = settings else {
        panic!("settings must be an object")
    };
    Integration {
        id: "ops-servicenow".to_owned(),
        name: "Ops ServiceNow".to_owned(),
        kind: IntegrationKind::Servicenow,
        active: true,
        variables: BTreeMap::from([
            (
                "InstanceUrl".to_owned(),
                VariableDef::Fixed("https://acme.service-now.com".to_owned()),
            ),
            (
                "Password".to_owned(),
                VariableDef::Secret {
                    secret: SecretRef(PASSWORD_REF.to_owned()),
                },
            ),
            (
                "ClientSecret".to_owned(),
                VariableDef::Secret {
                    secret: SecretRef(CLIENT_SECRET_REF.to_owned()),
                },
            ),
        ]),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

fn basic() -> Value {
    json!({"type": "basic", "username": USER, "password": "{{Password}}"})
}

fn incident_settings() -> Value {
    json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic()})
}

fn event_settings() -> Value {
    json!({"instanceUrl": "{{InstanceUrl}}", "mode": "event", "auth": basic()})
}

fn attachment() -> Attachment {
    Attachment {
        integration: "ops-servicenow".to_owned(),
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

fn alert(alert_type: AlertType) -> Alert {
    let mut alert = test_support::fixtures::sample_alert(alert_type);
    alert.monitor.custom_fields.insert(
        "cmdb_ci".to_owned(),
        "a9c0c8d2c6112276018f7705562f9cb0".to_owned(),
    );
    alert
}

fn variables() -> Variables {
    let mut variables = Variables::default();
    variables.insert("InstanceUrl", "https://acme.service-now.com");
    variables.insert_secret("Password", PASSWORD);
    variables.insert_secret("ClientSecret", CLIENT_SECRET);
    variables
}

fn notifier() -> ServiceNowNotifier {
    ServiceNowNotifier::with_client(HttpClient::new(&local_config()).expect("an http client"))
}

/// Builds the messages of one route as the runner does, with `state` kept for the incident.
fn build(
    alert: &Alert,
    settings: Value,
    state: Option<&Value>,
) -> Result<Vec<ServiceNowMessage>, NotifyError> {
    let notifier = notifier();
    let integration = integration(settings);
    let target = notifier.target(&integration)?;
    let engine = Engine::new();
    let variables = variables();
    let attachment = attachment();
    let level = level();
    let route = RouteContext {
        alert,
        integration: &integration,
        attachment: &attachment,
        level: &level,
        recipients: Vec::new(),
        variables: &variables,
        now: "2026-11-28T16:00:05Z".parse().expect("a time"),
        engine: &engine,
        incident: state,
    };
    Ok(notifier
        .build(&route, &target)?
        .into_iter()
        .map(|outgoing| outgoing.message)
        .collect())
}

fn one(alert: &Alert, settings: Value, state: Option<&Value>) -> ServiceNowMessage {
    let mut messages = build(alert, settings, state).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(messages.len(), 1, "{messages:?}");
    messages.remove(0)
}

fn open_state() -> Value {
    json!({"sysId": "9d385017c611228000a0e7fc7a2b0001", "number": "INC0010001", "open": true, "openedAt": "2026-11-28T16:00:00Z"})
}

// ---------------------------------------------------------------------------------------------
// Settings: `tocsin validate` through the kind's type and checks

struct Rules;

impl KindRules for Rules {
    fn recipients(&self, _kind: IntegrationKind) -> Recipients {
        Recipients::Nobody
    }

    fn check(&self, _integration: &Integration, check: &mut IntegrationCheck<'_>) {
        if let Some(settings) = check.settings::<<ServiceNowNotifier as Kind>::Settings>() {
            ServiceNowNotifier::check(&settings, check);
        }
    }
}

fn issues(settings: Value) -> Vec<String> {
    let definitions = Definitions {
        integrations: vec![integration(settings)],
        ..Definitions::default()
    };
    validate_with(&definitions, &Rules)
        .into_iter()
        .map(|issue| issue.to_string())
        .collect()
}

#[test]
fn valid_settings_of_both_modes_and_both_grants_pass() {
    for settings in [
        incident_settings(),
        event_settings(),
        json!({
            "instanceUrl": "https://acme.service-now.com",
            "auth": {"type": "oauth", "grant": "password", "clientId": CLIENT_ID, "clientSecret": "{{ClientSecret}}", "username": USER, "password": "{{Password}}"},
            "urgency": "{{@CustomField(urgency)}}", "impact": "2", "assignmentGroup": "287ebd7da9fe198100f92cc8d1d2154e",
            "fields": {"u_team": "{{@CustomField(Team)}}"}, "closeCode": "Workaround provided", "reminders": "update",
        }),
        json!({
            "instanceUrl": "{{InstanceUrl}}", "mode": "event",
            "auth": {"type": "oauth", "grant": "clientCredentials", "clientId": CLIENT_ID, "clientSecret": "{{ClientSecret}}"},
            "severity": "2", "node": "{{@monitor.url}}", "additionalInfo": "{\"team\": \"{{@CustomField(Team)}}\"}",
        }),
    ] {
        assert_eq!(issues(settings.clone()), Vec::<String>::new(), "{settings}");
    }
}

#[test]
fn bad_settings_are_refused_with_their_path_and_reason() {
    let at = |path: &str| format!("integrations[0].settings.{path}");
    for (settings, expected) in [
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "shortDescripton": "x"}),
            format!("{}: unknown field `shortDescripton`", at("shortDescripton")),
        ),
        (
            json!({"auth": basic()}),
            "integrations[0].settings: missing field `instanceUrl`".to_owned(),
        ),
        (
            json!({"instanceUrl": "acme.service-now.com", "auth": basic()}),
            format!("{}: not an absolute https:// url", at("instanceUrl")),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": {"type": "basic", "username": USER, "password": "hunter2"}}),
            format!(
                "{}: a literal password: keep it in a secret variable",
                at("auth.password")
            ),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": {"type": "token", "token": "x"}}),
            format!(
                "{}: unknown variant `token`, expected `basic` or `oauth`",
                at("auth.type")
            ),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": {"type": "oauth", "grant": "password", "clientId": "c", "clientSecret": "{{ClientSecret}}"}}),
            format!("{}: grant `password` needs the user name", at("auth.username")),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": {"type": "oauth", "grant": "clientCredentials", "clientId": "c", "clientSecret": "{{ClientSecret}}", "username": "u"}}),
            format!("{}: grant `clientCredentials` takes no user", at("auth.username")),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "urgency": "high"}),
            format!(
                "{}: \"high\": must be 1 (high), 2 (medium) or 3 (low)",
                at("urgency")
            ),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "severity": "1"}),
            format!("{}: not a setting of mode `incident`", at("severity")),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "mode": "event", "auth": basic(), "closeNotes": "x"}),
            format!("{}: not a setting of mode `event`", at("closeNotes")),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "mode": "event", "auth": basic(), "severity": "0"}),
            format!("{}: \"0\": must be 1 (critical)", at("severity")),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "fields": {"correlation_id": "x"}}),
            format!(
                "{}: `correlation_id` is set by Tocsin itself",
                at("fields.correlation_id")
            ),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "fields": {"urgency": "1"}}),
            format!(
                "{}: `urgency` has its own setting: use `settings.urgency`",
                at("fields.urgency")
            ),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "fields": {"U Team": "x"}}),
            format!("{}: not a column name", at("fields.U Team")),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "mode": "incidents"}),
            format!(
                "{}: unknown variant `incidents`, expected `incident` or `event`",
                at("mode")
            ),
        ),
        (
            json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "description": "{{ @monitor.name"}),
            format!("{}: invalid template:", at("description")),
        ),
    ] {
        let found = issues(settings.clone());
        assert!(
            found.iter().any(|issue| issue.starts_with(&expected)),
            "{settings}: expected an issue starting {expected:?}, got {found:#?}"
        );
    }
}

#[test]
fn the_notifier_refuses_bad_settings_permanently_naming_the_path() {
    let error = ServiceNowTarget::parse(&integration(
        json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "impact": "4"}),
    ))
    .expect_err("refused");
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "integration `ops-servicenow`: `settings.impact`: \"4\": must be 1 (high), 2 (medium) or 3 (low)"
    );
}

// ---------------------------------------------------------------------------------------------
// The lifecycle (pure)

#[test]
fn the_plan_of_every_alert_type_and_kept_state() {
    let t = |text: &str| lifecycle::parse_time(text).expect("a time");
    let open = Kept {
        sys_id: Some("9d385017c611228000a0e7fc7a2b0001".to_owned()),
        open: Some(true),
        ..Kept::default()
    };
    let closed = Kept {
        sys_id: Some("9d385017c611228000a0e7fc7a2b0001".to_owned()),
        open: Some(false),
        closed_at: Some("2026-11-28T10:15:03Z".to_owned()),
        ..Kept::default()
    };
    let nothing = Kept::default();
    let sys_id = Some("9d385017c611228000a0e7fc7a2b0001".to_owned());
    let before = t("2026-11-28T09:26:58");
    let after = t("2026-11-28T11:00:00");
    use AlertType::{Alert, Ok, Reminder};
    use Mode::{Event, Incident};
    use Reminders::{Skip, Update};
    for (mode, reminders, alert_type, time, kept, expected) in [
        (Incident, Skip, Alert, after, &nothing, Plan::Open),
        (
            Incident,
            Skip,
            Alert,
            after,
            &open,
            Plan::Note {
                sys_id: sys_id.clone(),
            },
        ),
        (
            Incident,
            Skip,
            Alert,
            before,
            &closed,
            Plan::Nothing(lifecycle::OUT_OF_ORDER),
        ),
        (Incident, Skip, Alert, after, &closed, Plan::Open),
        (
            Incident,
            Skip,
            Reminder,
            after,
            &open,
            Plan::Nothing(lifecycle::REMINDERS_SKIPPED),
        ),
        (
            Incident,
            Update,
            Reminder,
            after,
            &open,
            Plan::Note {
                sys_id: sys_id.clone(),
            },
        ),
        (
            Incident,
            Update,
            Reminder,
            after,
            &nothing,
            Plan::Note { sys_id: None },
        ),
        (
            Incident,
            Update,
            Reminder,
            before,
            &closed,
            Plan::Nothing(lifecycle::OUT_OF_ORDER),
        ),
        (
            Incident,
            Skip,
            Ok,
            after,
            &open,
            Plan::Resolve {
                sys_id: sys_id.clone(),
            },
        ),
        (
            Incident,
            Skip,
            Ok,
            after,
            &nothing,
            Plan::Resolve { sys_id: None },
        ),
        (
            Incident,
            Skip,
            Ok,
            after,
            &closed,
            Plan::Nothing(lifecycle::RESOLVED_ALREADY),
        ),
        (Event, Skip, Alert, after, &nothing, Plan::Event { clear: false }),
        (
            Event,
            Skip,
            Alert,
            before,
            &closed,
            Plan::Nothing(lifecycle::OUT_OF_ORDER),
        ),
        (
            Event,
            Skip,
            Reminder,
            after,
            &open,
            Plan::Nothing(lifecycle::REMINDERS_SKIPPED),
        ),
        (
            Event,
            Update,
            Reminder,
            after,
            &open,
            Plan::Event { clear: false },
        ),
        (Event, Skip, Ok, after, &nothing, Plan::Event { clear: true }),
    ] {
        assert_eq!(
            crate::plan(mode, reminders, alert_type, time, kept),
            expected,
            "{mode:?} {reminders:?} {alert_type} at {time} with {kept:?}"
        );
    }
}

#[test]
fn long_or_awkward_keys_become_a_stable_hash_that_fits_the_column() {
    assert_eq!(correlation_id(KEY), KEY);
    let long = "k".repeat(101);
    for key in [long.as_str(), "a^ORactive=false", "line\nbreak", " padded", ""] {
        let id = correlation_id(key);
        assert!(id.starts_with("tocsin-sha256-"), "{key:?}: {id}");
        assert!(id.chars().count() <= crate::MAX_CORRELATION_ID_CHARS, "{id}");
        assert_eq!(id, correlation_id(key), "stable");
    }
    assert_ne!(correlation_id(&"k".repeat(101)), correlation_id(&"k".repeat(102)));
}

// ---------------------------------------------------------------------------------------------
// Payloads (snapshots)

fn shown(message: &ServiceNowMessage) -> Value {
    let mut description = crate::payload::describe(message);
    description["keep"] = message.keep.clone();
    description
}

#[test]
fn incident_payloads_of_every_alert_type() {
    let reminders = json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "reminders": "update"});
    for (name, alert_type, settings, state) in [
        (
            "incident_alert_opens",
            AlertType::Alert,
            incident_settings(),
            None,
        ),
        (
            "incident_alert_again_notes",
            AlertType::Alert,
            incident_settings(),
            Some(open_state()),
        ),
        (
            "incident_reminder_notes",
            AlertType::Reminder,
            reminders.clone(),
            Some(open_state()),
        ),
        (
            "incident_reminder_without_state_looks_up",
            AlertType::Reminder,
            reminders,
            None,
        ),
        (
            "incident_ok_resolves_the_kept_incident",
            AlertType::Ok,
            incident_settings(),
            Some(open_state()),
        ),
        (
            "incident_ok_without_state_looks_up",
            AlertType::Ok,
            incident_settings(),
            None,
        ),
    ] {
        let message = one(&alert(alert_type), settings, state.as_ref());
        insta::assert_json_snapshot!(name, shown(&message));
    }
}

#[test]
fn event_payloads_of_every_alert_type() {
    let reminders =
        json!({"instanceUrl": "{{InstanceUrl}}", "mode": "event", "auth": basic(), "reminders": "update"});
    for (name, alert_type, settings) in [
        ("event_alert", AlertType::Alert, event_settings()),
        ("event_reminder", AlertType::Reminder, reminders),
        ("event_ok_clears", AlertType::Ok, event_settings()),
    ] {
        let message = one(&alert(alert_type), settings, None);
        insta::assert_json_snapshot!(name, shown(&message));
    }
}

#[test]
fn settings_and_custom_fields_fill_the_incident() {
    let mut alert = alert(AlertType::Alert);
    alert
        .monitor
        .custom_fields
        .insert("urgency".to_owned(), "1".to_owned());
    alert
        .monitor
        .custom_fields
        .insert("impact".to_owned(), "severe".to_owned());
    let settings = json!({
        "instanceUrl": "{{InstanceUrl}}", "auth": basic(),
        "shortDescription": "{{@monitor.name}}",
        "category": "network", "callerId": "{{@CustomField(Team)}}",
        "fields": {"u_checkpoint": "{{@alert.checkpointName}}"},
    });
    let message = one(&alert, settings, None);
    let body: Value = serde_json::from_str(&message.body).expect("JSON");
    assert_eq!(
        body,
        json!({
            "short_description": "GalacticResorts.com - DNS",
            "description": body["description"],
            "urgency": "1",
            "category": "network",
            "caller_id": "ops",
            "cmdb_ci": "a9c0c8d2c6112276018f7705562f9cb0",
            "u_checkpoint": "Ghent, Belgium",
            "correlation_id": KEY,
            "correlation_display": "Tocsin",
        }),
        "a custom field that is no impact (`severe`) is left out"
    );
}

#[test]
fn alert_values_stay_data_and_the_short_description_one_line() {
    let mut alert = alert(AlertType::Alert);
    alert.monitor.name = "\"}, \"state\": \"7\", \"x\": \"{{ 7*7 }}\n</p>".to_owned();
    alert.alert.description = "x".repeat(500);
    let message = one(&alert, incident_settings(), None);
    let body: Value = serde_json::from_str(&message.body).expect("the body is JSON");
    assert!(body.get("state").is_none(), "{body}");
    let short = body["short_description"].as_str().expect("a short description");
    assert_eq!(short.chars().count(), crate::MAX_SHORT_DESCRIPTION_CHARS);
    assert!(
        short.starts_with("\"}, \"state\": \"7\", \"x\": \"{{ 7*7 }} </p> is down: xxx"),
        "{short}"
    );
    assert!(short.ends_with('…'));
}

#[test]
fn a_rendered_urgency_that_is_no_level_fails_the_route_permanently() {
    let settings =
        json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "urgency": "{{@alert.checkpointName}}"});
    let error = build(&alert(AlertType::Alert), settings, None).expect_err("refused");
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "integration `ops-servicenow`: `settings.urgency` renders to \"Ghent, Belgium\": it must be 1 (high), 2 (medium) or 3 (low)"
    );
}

#[test]
fn oauth_messages_carry_the_token_request_and_no_token() {
    let settings = json!({
        "instanceUrl": "{{InstanceUrl}}",
        "auth": {"type": "oauth", "grant": "password", "clientId": CLIENT_ID, "clientSecret": "{{ClientSecret}}", "username": USER, "password": "{{Password}}"},
    });
    let message = one(&alert(AlertType::Alert), settings, None);
    let crate::Credentials::OAuth(token) = &message.credentials else {
        panic!("{:?}", message.credentials)
    };
    assert_eq!(token.url, "https://acme.service-now.com/oauth_token.do");
    assert_eq!(
        token.form,
        format!(
            "grant_type=password&client_id={CLIENT_ID}&client_secret=Cl%21ent-S3cret%2Fvalue&username=tocsin.integration&password=s3cret-Pa55word%21"
        )
    );
    let described = crate::payload::describe(&message);
    assert_eq!(
        described["request"]["headers"]["Authorization"],
        "Bearer [token from /oauth_token.do, fetched at send time]"
    );
}

// ---------------------------------------------------------------------------------------------
// Against the fake instance, through the real pipeline

fn local_config() -> Config {
    Config::from_lookup(|name| match name {
        "TOCSIN_DEFINITIONS_FILE" => Some("-".to_owned()),
        "TOCSIN_ALLOW_HOSTS" => Some("127.0.0.1".to_owned()),
        "TOCSIN_ALLOW_HTTP" => Some("true".to_owned()),
        "TOCSIN_HTTP_TIMEOUT_MS" => Some("3000".to_owned()),
        _ => None,
    })
    .expect("valid settings")
}

fn definitions(settings: Value, instance: &Instance) -> Definitions {
    let mut integration = integration(settings);
    integration
        .variables
        .insert("InstanceUrl".to_owned(), VariableDef::Fixed(instance.url()));
    definitions_of(integration)
}

/// `integration`, attached to level 1 of an alert definition of the sample monitor.
fn definitions_of(integration: Integration) -> Definitions {
    let mut level = level();
    level.integrations[0].integration = integration.id.clone();
    Definitions {
        integrations: vec![integration],
        alert_definitions: vec![AlertDefinition {
            id: "dns".to_owned(),
            name: "DNS".to_owned(),
            active: true,
            monitors: vec![MONITOR.to_owned()],
            levels: vec![level],
        }],
        ..Definitions::default()
    }
}

type Tested = Pipeline<ServiceNowNotifier, MemoryStore, MemorySecrets, MemoryDeliveryLog>;

fn pipeline(definitions: Definitions) -> Tested {
    Pipeline::new(
        notifier(),
        MemoryStore::new(definitions),
        MemorySecrets::new()
            .with(PASSWORD_REF, PASSWORD)
            .with(CLIENT_SECRET_REF, CLIENT_SECRET),
        MemoryDeliveryLog::default(),
        Settings {
            max_attempts: 3,
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(50),
            ..Settings::default()
        },
    )
}

/// An SNS event of one native alert of the sample monitor: `guid`, `alert_type` at `time`, for
/// incident `key`.
fn event(guid: &str, alert_type: &str, time: &str, key: &str) -> Value {
    let message = json!({
        "version": 1,
        "alert": {"alertGuid": guid, "type": alert_type, "description": "DNS lookup failed", "timestampUtc": time},
        "monitor": {"monitorGuid": MONITOR, "name": "GalacticResorts.com - DNS", "customFields": {"Team": "ops"}},
        "incident": {"key": key},
    });
    test_support::sns::event(&[(&format!("sns-{guid}"), &message.to_string())])
}

async fn deliver(pipeline: &Tested, event: &Value) -> EventReport {
    match pipeline
        .handle_event(event, Instant::now() + Duration::from_secs(30))
        .await
    {
        Ok(report) => report,
        Err(error) => panic!("the invocation asked for a retry: {error}"),
    }
}

fn delivered(routes: usize) -> EventReport {
    EventReport {
        records: 1,
        routes,
        delivered: routes,
        ..EventReport::default()
    }
}

fn skipped() -> EventReport {
    EventReport {
        records: 1,
        routes: 1,
        skipped: 1,
        ..EventReport::default()
    }
}

#[tokio::test]
async fn alert_reminder_reminder_ok_opens_exactly_one_incident_and_resolves_it() {
    // GIVEN an incident integration on the fake instance
    let instance = Instance::start().await;
    let pipeline = pipeline(definitions(incident_settings(), &instance));

    // WHEN the incident's Alert, two Reminders and its Ok arrive
    let alert = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", KEY)).await;
    let first = deliver(&pipeline, &event("r-1", "Reminder", "2026-11-28T09:56:58", KEY)).await;
    let second = deliver(&pipeline, &event("r-2", "Reminder", "2026-11-28T10:06:58", KEY)).await;
    let ok = deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T10:15:03", KEY)).await;

    // THEN one incident was opened (after a lookup found none), the Reminders sent nothing, and the
    // Ok resolved that incident by its kept sys_id
    assert_eq!(
        (alert, first, second, ok),
        (delivered(1), skipped(), skipped(), delivered(1))
    );
    let incidents = instance.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let incident = &incidents[0];
    assert_eq!(incident.column("correlation_id"), KEY);
    assert_eq!(
        incident.column("short_description"),
        "GalacticResorts.com - DNS is down: DNS lookup failed"
    );
    assert_eq!(incident.column("state"), "6");
    assert!(!incident.active());
    assert_eq!(incident.column("close_code"), crate::DEFAULT_CLOSE_CODE);
    assert!(
        incident
            .column("close_notes")
            .starts_with("Resolved by Tocsin: GalacticResorts.com - DNS is OK again")
    );
    assert_eq!(
        instance.calls(),
        [
            "GET /api/now/table/incident",
            "POST /api/now/table/incident",
            format!("PATCH /api/now/table/incident/{}", incident.sys_id).as_str(),
        ]
    );
}

#[tokio::test]
async fn reminders_as_work_notes_never_open_an_incident() {
    // GIVEN reminders as work notes
    let instance = Instance::start().await;
    let settings = json!({"instanceUrl": "{{InstanceUrl}}", "auth": basic(), "reminders": "update"});
    let pipeline = pipeline(definitions(settings, &instance));

    // WHEN a Reminder comes before any Alert, then the Alert, a Reminder and a repeated Alert
    let early = deliver(&pipeline, &event("r-0", "Reminder", "2026-11-28T09:20:00", KEY)).await;
    deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", KEY)).await;
    deliver(&pipeline, &event("r-1", "Reminder", "2026-11-28T09:56:58", KEY)).await;
    deliver(&pipeline, &event("a-2", "Alert", "2026-11-28T10:01:00", KEY)).await;

    // THEN the early Reminder found nothing to note, and one incident holds two work notes
    assert_eq!(early, delivered(1));
    let incidents = instance.incidents();
    assert_eq!(incidents.len(), 1);
    let notes = &incidents[0].work_notes;
    assert_eq!(notes.len(), 2, "{notes:#?}");
    assert!(
        notes[0].starts_with("Reminder: GalacticResorts.com - DNS is still failing"),
        "{notes:?}"
    );
    assert!(
        notes[1].starts_with("Alert again (escalation level 1)"),
        "{notes:?}"
    );
}

#[tokio::test]
async fn an_ok_without_an_alert_resolves_nothing_and_its_late_alert_opens_nothing() {
    // GIVEN an instance with no incident
    let instance = Instance::start().await;
    let pipeline = pipeline(definitions(incident_settings(), &instance));

    // WHEN the Ok arrives before its Alert (out of order), then the Alert
    let ok = deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T10:15:03", KEY)).await;
    let late = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", KEY)).await;

    // THEN the Ok looked up, found nothing open and changed nothing; the late Alert sent nothing
    assert_eq!((ok, late), (delivered(1), skipped()));
    assert!(instance.incidents().is_empty());
    assert_eq!(instance.calls(), ["GET /api/now/table/incident"]);
    let records = pipeline.deliveries().records();
    assert!(
        records[0].response.contains("nothing to resolve"),
        "the delivery log says what happened: {records:?}"
    );

    // AND a later Alert of the same key (a new incident) opens one
    deliver(&pipeline, &event("a-2", "Alert", "2026-11-28T11:00:00", KEY)).await;
    assert_eq!(instance.incidents().len(), 1);
}

#[tokio::test]
async fn a_duplicate_alert_is_sent_once_and_a_repeated_one_opens_no_second_incident() {
    let instance = Instance::start().await;
    let pipeline = pipeline(definitions(incident_settings(), &instance));
    let alert = event("a-1", "Alert", "2026-11-28T09:26:58", KEY);

    // WHEN the same Alert is delivered twice (SNS at least once), then another Alert of the incident
    deliver(&pipeline, &alert).await;
    let again = deliver(&pipeline, &alert).await;
    let repeated = deliver(&pipeline, &event("a-2", "Alert", "2026-11-28T09:40:00", KEY)).await;

    // THEN one incident, the redelivery skipped, the repeated Alert a work note
    assert_eq!((again, repeated), (skipped(), delivered(1)));
    let incidents = instance.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].work_notes.len(), 1);
}

#[tokio::test]
async fn the_ok_finds_the_incident_by_correlation_id_when_no_state_was_kept() {
    // GIVEN an incident opened by one function instance, whose kept state is lost
    let instance = Instance::start().await;
    let long_key = format!(
        "cloudwatch:{}",
        "arn:aws:cloudwatch:eu-south-1:123456789012:alarm:".repeat(3)
    );
    deliver(
        &pipeline(definitions(incident_settings(), &instance)),
        &event("a-1", "Alert", "2026-11-28T09:26:58", &long_key),
    )
    .await;

    // WHEN its Ok reaches a pipeline with an empty delivery log
    let ok = deliver(
        &pipeline(definitions(incident_settings(), &instance)),
        &event("o-1", "Ok", "2026-11-28T10:15:03", &long_key),
    )
    .await;

    // THEN the lookup by the (hashed) correlation id found and resolved it
    assert_eq!(ok, delivered(1));
    let incidents = instance.incidents();
    assert_eq!(incidents.len(), 1);
    assert_eq!(incidents[0].column("correlation_id"), correlation_id(&long_key));
    assert_eq!(incidents[0].column("state"), "6");
}

#[tokio::test]
async fn a_create_whose_answer_is_lost_is_adopted_by_the_retry_not_opened_twice() {
    // GIVEN an instance that creates the incident and then drops the connection
    let instance = Instance::start().await;
    instance.fail_next("POST", "/api/now/table/incident", Fault::ActThenDrop);
    let pipeline = pipeline(definitions(incident_settings(), &instance));

    // WHEN the Alert is delivered (retried by the runner), then its Ok
    let alert = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", KEY)).await;
    deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T10:15:03", KEY)).await;

    // THEN the retry's lookup found the created incident: one incident, resolved by its sys_id
    assert_eq!(alert, delivered(1));
    let incidents = instance.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    assert_eq!(incidents[0].column("state"), "6");
    let calls = instance.calls();
    assert_eq!(
        calls[..3],
        [
            "GET /api/now/table/incident",
            "POST /api/now/table/incident",
            "GET /api/now/table/incident"
        ]
    );
    assert!(calls[3].starts_with("PATCH "), "{calls:?}");
}

#[tokio::test]
async fn throttling_and_server_errors_are_retried_honouring_retry_after() {
    // GIVEN an instance that throttles the lookup (Retry-After: 1) and fails the create once
    let instance = Instance::start().await;
    instance.fail_next("GET", "/api/now/table/incident", Fault::Status(429, Some(1)));
    instance.fail_next("POST", "/api/now/table/incident", Fault::Status(503, None));
    let pipeline = pipeline(definitions(incident_settings(), &instance));

    // WHEN the Alert is delivered
    let started = Instant::now();
    let report = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", KEY)).await;

    // THEN it took three attempts, the second no sooner than the Retry-After, and opened one incident
    assert_eq!(report, delivered(1));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    assert_eq!(instance.incidents().len(), 1);
    let records = pipeline.deliveries().records();
    let statuses: Vec<Option<u16>> = records.iter().map(|record| record.http_status).collect();
    assert_eq!(statuses, [Some(429), Some(503), Some(201)]);
}

#[tokio::test]
async fn a_hibernating_instance_answering_200_to_a_create_is_a_failure() {
    // GIVEN a developer instance asleep: 200 with its wake-up page
    let instance = Instance::start().await;
    instance.fail_next("POST", "/api/now/table/incident", Fault::Hibernating);
    let pipeline = pipeline(definitions(incident_settings(), &instance));

    // WHEN the Alert is delivered
    let report = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", KEY)).await;

    // THEN the route failed permanently and says why
    assert_eq!((report.failed, report.delivered), (1, 0));
    let records = pipeline.deliveries().records();
    let error = records[0].error.clone().unwrap_or_default();
    assert!(error.contains("status 200 instead of 201 Created"), "{error}");
    assert!(error.contains("hibernating"), "{error}");
}

#[tokio::test]
async fn a_wrong_password_fails_permanently_and_leaks_nowhere() {
    // GIVEN the integration's password is not the instance's
    let instance = Instance::start().await;
    let wrong = "Wr0ng-pa55word-4711";
    let pipeline = Pipeline::new(
        notifier(),
        MemoryStore::new(definitions(incident_settings(), &instance)),
        MemorySecrets::new()
            .with(PASSWORD_REF, wrong)
            .with(CLIENT_SECRET_REF, CLIENT_SECRET),
        MemoryDeliveryLog::default(),
        Settings::default(),
    );

    // WHEN the Alert is delivered
    let captured = capture(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", KEY)).await;

    // THEN a 401 is permanent, named, and the password is in no output
    let report = captured.result.as_ref().expect("no retry");
    assert_eq!(report.failed, 1);
    let error = captured.records[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("status 401: the instance refused the user name or password"),
        "{error}"
    );
    assert_eq!(instance.requests().len(), 1);
    captured.assert_no_leak(wrong);
}

#[tokio::test]
async fn event_management_alert_reminder_reminder_ok_raises_and_clears_one_alert() {
    // GIVEN an event integration
    let instance = Instance::start().await;
    let pipeline = pipeline(definitions(event_settings(), &instance));

    // WHEN the incident's Alert, two Reminders and its Ok arrive, then a late copy of the Alert
    for (guid, alert_type, time) in [
        ("a-1", "Alert", "2026-11-28T09:26:58"),
        ("r-1", "Reminder", "2026-11-28T09:56:58"),
        ("r-2", "Reminder", "2026-11-28T10:06:58"),
        ("o-1", "Ok", "2026-11-28T10:15:03"),
        ("a-0", "Alert", "2026-11-28T09:20:00"),
    ] {
        deliver(&pipeline, &event(guid, alert_type, time, KEY)).await;
    }

    // THEN Event Management got one event and its clear, keyed by the incident key
    let alerts = instance.em_alerts();
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let alert = &alerts[KEY];
    assert!(!alert.open);
    let severities: Vec<&str> = alert
        .events
        .iter()
        .map(|event| event["severity"].as_str().unwrap_or("?"))
        .collect();
    assert_eq!(severities, ["1", "0"]);
    assert_eq!(alert.events[0]["time_of_event"], "2026-11-28 09:26:58");
}

#[tokio::test]
async fn a_new_incident_of_the_same_key_after_the_ok_opens_a_new_ticket() {
    let instance = Instance::start().await;
    let pipeline = pipeline(definitions(incident_settings(), &instance));
    for (guid, alert_type, time) in [
        ("a-1", "Alert", "2026-11-28T09:00:00"),
        ("o-1", "Ok", "2026-11-28T09:30:00"),
        ("a-2", "Alert", "2026-11-28T10:00:00"),
        ("o-2", "Ok", "2026-11-28T10:30:00"),
    ] {
        deliver(&pipeline, &event(guid, alert_type, time, KEY)).await;
    }
    let incidents = instance.incidents();
    assert_eq!(incidents.len(), 2);
    assert!(
        incidents.iter().all(|incident| incident.column("state") == "6"),
        "{incidents:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// OAuth 2

fn oauth(grant: &str) -> Value {
    let auth = if grant == "password" {
        json!({"type": "oauth", "grant": "password", "clientId": CLIENT_ID, "clientSecret": "{{ClientSecret}}", "username": USER, "password": "{{Password}}"})
    } else {
        json!({"type": "oauth", "grant": "clientCredentials", "clientId": CLIENT_ID, "clientSecret": "{{ClientSecret}}"})
    };
    json!({"instanceUrl": "{{InstanceUrl}}", "auth": auth})
}

fn token_requests(instance: &Instance) -> usize {
    instance
        .calls()
        .iter()
        .filter(|call| call.as_str() == "POST /oauth_token.do")
        .count()
}

#[tokio::test]
async fn an_oauth_token_is_fetched_once_cached_and_never_shown() {
    for grant in ["password", "clientCredentials"] {
        // GIVEN an OAuth integration
        let instance = Instance::start().await;
        let pipeline = pipeline(definitions(oauth(grant), &instance));

        // WHEN the Alert and the Ok are delivered
        let opened = capture(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", KEY)).await;
        let resolved = capture(&pipeline, &event("o-1", "Ok", "2026-11-28T10:15:03", KEY)).await;

        // THEN one token served every request, and neither it nor the credentials show anywhere
        assert_eq!(token_requests(&instance), 1, "{grant}: {:?}", instance.calls());
        assert_eq!(instance.incidents()[0].column("state"), "6", "{grant}");
        let token = instance.requests()[1]
            .header("authorization")
            .and_then(|value| value.strip_prefix("Bearer "))
            .expect("a bearer token")
            .to_owned();
        for captured in [&opened, &resolved] {
            assert_eq!(
                captured.result.as_ref().map(|report| report.delivered).ok(),
                Some(1),
                "{grant}"
            );
            captured.assert_no_leak(&token);
            captured.assert_no_leak(CLIENT_SECRET);
            captured.assert_no_leak(PASSWORD);
        }
    }
}

#[tokio::test]
async fn an_expired_token_is_fetched_again_and_a_revoked_one_replaced() {
    // GIVEN tokens that live less than the margin kept before expiry
    let instance = Instance::start().await;
    instance.set_token_lifetime(30);
    let pipeline = pipeline(definitions(oauth("password"), &instance));
    deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", "key-1")).await;
    deliver(&pipeline, &event("a-2", "Alert", "2026-11-28T09:00:00", "key-2")).await;
    // THEN each attempt fetched its own (none is cached)
    assert_eq!(token_requests(&instance), 2);

    // GIVEN a cached token the instance has revoked
    instance.set_token_lifetime(1799);
    deliver(&pipeline, &event("a-3", "Alert", "2026-11-28T09:00:00", "key-3")).await;
    instance.revoke_tokens();
    let captured = capture(&pipeline, &event("a-4", "Alert", "2026-11-28T09:00:00", "key-4")).await;

    // THEN the 401 made the attempt retryable, and the next one fetched a new token and succeeded
    assert_eq!(
        captured.result.as_ref().map(|report| report.delivered).ok(),
        Some(1)
    );
    assert_eq!(token_requests(&instance), 4);
    let attempts: Vec<_> = captured
        .records
        .iter()
        .filter(|record| record.key.alert_id == "a-4")
        .map(|record| (record.http_status, record.error.clone().unwrap_or_default()))
        .collect();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert!(
        attempts[0].1.contains("the cached OAuth token was refused"),
        "{attempts:?}"
    );
    assert_eq!(instance.incidents().len(), 4);
}

#[tokio::test]
async fn refused_oauth_credentials_fail_permanently_and_a_token_echoed_in_an_error_is_redacted() {
    // GIVEN a client secret the instance does not know
    let instance = Instance::start().await;
    let wrong = "N0t-the-client-secret";
    let refused = Pipeline::new(
        notifier(),
        MemoryStore::new(definitions(oauth("clientCredentials"), &instance)),
        MemorySecrets::new()
            .with(PASSWORD_REF, PASSWORD)
            .with(CLIENT_SECRET_REF, wrong),
        MemoryDeliveryLog::default(),
        Settings::default(),
    );
    let captured = capture(&refused, &event("a-1", "Alert", "2026-11-28T09:00:00", KEY)).await;
    assert_eq!(captured.result.as_ref().map(|report| report.failed).ok(), Some(1));
    let error = captured.records[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("(token): status 401: access_denied (the instance refused the OAuth credentials)"),
        "{error}"
    );
    captured.assert_no_leak(wrong);

    // AND a token that an error answer echoes is redacted from the delivery log
    let echoing = Instance::start().await;
    let pipeline = pipeline(definitions(oauth("clientCredentials"), &echoing));
    echoing.fail_next("GET", "/api/now/table/incident", Fault::EchoAuthorization(400));
    let captured = capture(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", KEY)).await;
    let token = echoing.requests()[1]
        .header("authorization")
        .and_then(|value| value.strip_prefix("Bearer "))
        .expect("a bearer token")
        .to_owned();
    let error = captured.records[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("Bearer [redacted]"),
        "the echo was stored, redacted: {error}"
    );
    captured.assert_no_leak(&token);
}

#[test]
fn a_token_echoed_by_a_target_is_hidden_by_the_attempt() {
    let mut hidden = Variables::default();
    hidden.insert_secret("token", "tok0001Xy7_QpLmN0aBcDeFgHiJkLmNoPqRsTuV");
    let echoed = "status 400: {\"error\": \"bad header Bearer tok0001Xy7_QpLmN0aBcDeFgHiJkLmNoPqRsTuV\"}";
    assert_eq!(
        hidden.redact(echoed),
        "status 400: {\"error\": \"bad header Bearer [redacted]\"}"
    );
}

// ---------------------------------------------------------------------------------------------
// The sample, as the demo and the suites use it

#[tokio::test]
async fn the_sample_works_against_targets_answering_with_sample_answer() {
    for variant in [0, 1] {
        // GIVEN a target answering every request as the kind's `sample_answer` says
        let target = server::Server::start(Arc::new(|request: server::Request| {
            let answer = ServiceNowNotifier::sample_answer(&SampleRequest {
                method: &request.method,
                path: &request.path,
                body: &request.body,
            });
            match answer {
                Some(answer) => server::Answer::Respond(answer.status, Vec::new(), answer.body),
                None => server::Answer::json(404, &json!({"error": "not a ServiceNow path"})),
            }
        }))
        .await;
        let env = SampleEnv {
            base_url: &target.url(),
            secret: Some(PASSWORD_REF),
            variant,
            ..SampleEnv::default()
        };
        let pipeline = pipeline(definitions_of(ServiceNowNotifier::sample("sn-sample", &env)));

        // WHEN its Alert and Ok are delivered
        let alert = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", KEY)).await;
        let ok = deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T09:30:00", KEY)).await;

        // THEN both were delivered
        assert_eq!((alert, ok), (delivered(1), delivered(1)), "variant {variant}");
    }
}

#[test]
fn sample_answers_are_the_instances_documented_ones() {
    let answer = |method: &str, path: &str, body: &str| {
        ServiceNowNotifier::sample_answer(&SampleRequest { method, path, body }).map(|answer| {
            (
                answer.status,
                serde_json::from_str::<Value>(&answer.body).unwrap_or(Value::Null),
            )
        })
    };
    let (status, created) = answer(
        "POST",
        "/hooks/x/api/now/table/incident",
        "{\"correlation_id\":\"k\"}",
    )
    .expect("a create");
    assert_eq!(status, 201);
    let sys_id = created["result"]["sys_id"].as_str().expect("a sys_id");
    assert_eq!(sys_id.len(), 32);
    assert_eq!(created["result"]["correlation_id"], "k");
    assert_eq!(
        answer("GET", "/api/now/table/incident", ""),
        Some((200, json!({"result": []})))
    );
    assert_eq!(
        answer("PATCH", &format!("/api/now/table/incident/{sys_id}"), "{}").map(|(status, _)| status),
        Some(200)
    );
    assert_eq!(
        answer("POST", "/api/global/em/jsonv2", "{}").map(|(status, _)| status),
        Some(200)
    );
    let (_, token) = answer("POST", "/oauth_token.do", "grant_type=client_credentials").expect("a token");
    assert!(
        token["access_token"]
            .as_str()
            .is_some_and(|token| !token.is_empty())
    );
    assert_eq!(answer("POST", "/hooks/webhook-1", "{}"), None);
}

#[test]
fn set_templates_and_fields_cover_both_modes() {
    for (variant, expected) in [
        (
            0,
            vec![
                ("settings.eventDescription", notify_core::Context::Text),
                ("settings.additionalInfo", notify_core::Context::Json),
            ],
        ),
        (
            1,
            vec![
                ("settings.shortDescription", notify_core::Context::Subject),
                ("settings.description", notify_core::Context::Text),
            ],
        ),
    ] {
        let env = SampleEnv {
            variant,
            ..SampleEnv::default()
        };
        let mut sample = ServiceNowNotifier::sample("sn", &env);
        ServiceNowNotifier::set_templates(&mut sample, &notify_core::Templates::plain());
        let mut settings = Value::Object(sample.settings.clone());
        settings["instanceUrl"] = json!("{{InstanceUrl}}");
        settings["auth"] = basic();
        let message = one(&alert(AlertType::Alert), settings, None);
        let fields: Vec<(String, notify_core::Context)> = ServiceNowNotifier::fields("x", &message)
            .into_iter()
            .map(|field| (field.field, field.context))
            .collect();
        let expected: Vec<(String, notify_core::Context)> = expected
            .into_iter()
            .map(|(field, context)| (field.to_owned(), context))
            .collect();
        assert_eq!(fields, expected, "variant {variant}");
        assert_eq!(
            message.operation,
            if variant == 0 {
                Operation::Event
            } else {
                Operation::Open
            }
        );
    }
}

// ---------------------------------------------------------------------------------------------
// What every kind must do (retries, idempotency, redaction, bad settings), against the kit's target

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<ServiceNowNotifier>().await;
}
