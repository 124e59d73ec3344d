mod hub;
mod server;

use std::{
    collections::BTreeMap,
    sync::Arc,
    time::{Duration, Instant},
};

use alert_model::{Alert, AlertType, IntegrationKind, template::Engine};
use definition_store::{
    AlertDefinition, Attachment, Definitions, EscalationLevel, Integration, IntegrationCheck, KindRules,
    MemoryStore, Recipients, SecretRef, ServiceLink, VariableDef, validate_with,
};
use notify_core::{
    Config, EventReport, HttpClient, Kind, MemoryDeliveryLog, MemorySecrets, Notifier, NotifyError, Pipeline,
    RouteContext, SampleEnv, SampleRequest, Settings, Variables, testing::capture,
};
use serde_json::{Value, json};

use self::hub::{Fault, HUB, Hub, KEY};
use crate::{
    OkState, Operation, Plan, Reminders, Rules, StatusHubMessage, StatusHubNotifier, UpdateType, WINDOW,
    WRITES_PER_WINDOW, WriteLimiter,
    lifecycle::{self, Kept},
};

// ---------------------------------------------------------------------------------------------
// Fixtures

const KEY_REF: &str = "ssm:/tocsin/test/statushub-key";
const MONITOR: &str = "849b2046-213d-43ad-9efc-5af1faaeb222";
const OTHER_MONITOR: &str = "0f6b1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d";
const INCIDENT_KEY: &str = "ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746";

fn integration(id: &str, settings: Value, api_url: &str) -> Integration {
    let Value::Object(settings) = settings else {
        panic!("settings must be an object")
    };
    Integration {
        id: id.to_owned(),
        name: "Public status page".to_owned(),
        kind: IntegrationKind::Statushub,
        active: true,
        variables: BTreeMap::from([
            ("ApiUrl".to_owned(), VariableDef::Fixed(api_url.to_owned())),
            (
                "ApiKey".to_owned(),
                VariableDef::Secret {
                    secret: SecretRef(KEY_REF.to_owned()),
                },
            ),
        ]),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

fn settings() -> Value {
    json!({
        "apiUrl": "{{ApiUrl}}", "hub": HUB, "apiKey": "{{ApiKey}}",
        "services": {"website": 101, "api": 102, "dns": 103},
    })
}

fn with(extra: Value) -> Value {
    let mut settings = settings();
    if let (Value::Object(settings), Value::Object(extra)) = (&mut settings, extra) {
        settings.extend(extra);
    }
    settings
}

fn link(monitor: &str, service: &str) -> ServiceLink {
    ServiceLink {
        monitor: monitor.to_owned(),
        service: service.to_owned(),
    }
}

fn attachment(integration: &str, links: Vec<ServiceLink>) -> Attachment {
    Attachment {
        integration: integration.to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::new(),
        extra_emails: Vec::new(),
        extra_phones: Vec::new(),
        service_links: links,
    }
}

fn level(id: u32, attachments: Vec<Attachment>) -> EscalationLevel {
    EscalationLevel {
        id,
        active: true,
        message: String::new(),
        operators: Vec::new(),
        integrations: attachments,
    }
}

fn alert(alert_type: AlertType) -> Alert {
    test_support::fixtures::sample_alert(alert_type)
}

fn variables() -> Variables {
    let mut variables = Variables::default();
    variables.insert("ApiUrl", "https://acme.app.statushub.io/api/v3");
    variables.insert_secret("ApiKey", KEY);
    variables
}

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

fn notifier() -> StatusHubNotifier {
    StatusHubNotifier::with_client(HttpClient::new(&local_config()).expect("an http client"))
}

/// Builds the messages of one route as the runner does, the level linking `links`, with `state`.
fn build(
    alert: &Alert,
    settings: Value,
    links: Vec<ServiceLink>,
    state: Option<&Value>,
) -> Result<Vec<StatusHubMessage>, NotifyError> {
    let notifier = notifier();
    let integration = integration("status", settings, "https://acme.app.statushub.io/api/v3");
    let target = notifier.target(&integration)?;
    let engine = Engine::new();
    let variables = variables();
    let attachment = attachment("status", links);
    let level = level(1, vec![attachment.clone()]);
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

fn one(alert: &Alert, settings: Value, links: Vec<ServiceLink>, state: Option<&Value>) -> StatusHubMessage {
    let mut messages = build(alert, settings, links, state).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(messages.len(), 1, "{messages:?}");
    messages.remove(0)
}

fn open_state() -> Value {
    json!({"incidentId": "7001", "services": [101], "open": true, "openedAt": "2026-11-28T16:00:00Z"})
}

// ---------------------------------------------------------------------------------------------
// Settings: `tocsin validate` through the kind's type and checks, service links included

struct KindOnly;

impl KindRules for KindOnly {
    fn recipients(&self, _kind: IntegrationKind) -> Recipients {
        Recipients::Nobody
    }

    fn check(&self, _integration: &Integration, check: &mut IntegrationCheck<'_>) {
        if let Some(settings) = check.settings::<<StatusHubNotifier as Kind>::Settings>() {
            StatusHubNotifier::check(&settings, check);
        }
    }

    fn service_problem(&self, integration: &Integration, service: &str) -> Option<String> {
        let settings = definition_store::parse_settings(integration).ok()?;
        StatusHubNotifier::service_problem(&settings, service)
    }
}

fn issues(settings: Value, links: Vec<ServiceLink>) -> Vec<String> {
    let definitions = Definitions {
        integrations: vec![integration(
            "status",
            settings,
            "https://acme.app.statushub.io/api/v3",
        )],
        alert_definitions: vec![AlertDefinition {
            id: "dns".to_owned(),
            name: "DNS".to_owned(),
            active: true,
            monitors: vec![MONITOR.to_owned()],
            levels: vec![level(1, vec![attachment("status", links)])],
        }],
        ..Definitions::default()
    };
    validate_with(&definitions, &KindOnly)
        .into_iter()
        .map(|issue| issue.to_string())
        .collect()
}

#[test]
fn valid_settings_and_links_pass() {
    let full = with(json!({
        "apiKeyHeader": "X-Api-Key", "defaultServices": ["website"], "alertStatus": "degradedPerformance",
        "okState": "resolved", "reminders": "update", "silent": true,
        "title": "{{@monitor.name}}", "body": "<p>{{@alert.description}}</p>",
        "okTitle": "{{@monitor.name}} is back", "okBody": "<p>ok</p>",
    }));
    for settings in [settings(), full] {
        let links = vec![
            link(MONITOR, "website"),
            link(MONITOR, "102"),
            link(OTHER_MONITOR, "api"),
        ];
        assert_eq!(
            issues(settings.clone(), links),
            Vec::<String>::new(),
            "{settings}"
        );
    }
}

#[test]
fn bad_settings_and_links_are_refused_with_their_path_and_reason() {
    let at = |path: &str| format!("integrations[0].settings.{path}");
    for (settings, links, expected) in [
        (with(json!({"hubb": "x"})), vec![], format!("{}: unknown field `hubb`", at("hubb"))),
        (json!({"apiUrl": "{{ApiUrl}}", "apiKey": "{{ApiKey}}", "services": {}}), vec![], "integrations[0].settings: missing field `hub`".to_owned()),
        (with(json!({"hub": "Acme Status"})), vec![], format!("{}: a hub is its subdomain: lower-case letters", at("hub"))),
        (with(json!({"apiKey": "shk_live_123"})), vec![], format!("{}: a literal api key", at("apiKey"))),
        (with(json!({"apiUrl": "acme.app.statushub.io"})), vec![], format!("{}: not an absolute https:// url", at("apiUrl"))),
        (with(json!({"services": {}})), vec![], format!("{}: no service", at("services"))),
        (with(json!({"services": {"website": 0}})), vec![], format!("{}: a StatusHub service id is a positive number", at("services.website"))),
        (with(json!({"services": {"website": "101"}})), vec![], format!("{}: invalid type: string \"101\", expected u64", at("services.website"))),
        (with(json!({"defaultServices": ["web"]})), vec![], format!("{}: \"web\" is not one of settings.services", at("defaultServices[0]"))),
        (with(json!({"alertStatus": "outage"})), vec![], format!("{}: unknown variant `outage`", at("alertStatus"))),
        (with(json!({"okState": "closed"})), vec![], format!("{}: unknown variant `closed`, expected `monitoring` or `resolved`", at("okState"))),
        (with(json!({"apiKeyHeader": "X Api Key"})), vec![], format!("{}:", at("apiKeyHeader"))),
        (with(json!({"body": "{% if %}"})), vec![], format!("{}: invalid template:", at("body"))),
        (
            settings(),
            vec![link(MONITOR, "websit")],
            "alertDefinitions[0].levels[0].integrations[0].serviceLinks[0].service: \"websit\" is not a service of the integration (known: api, dns, website)".to_owned(),
        ),
        (
            settings(),
            vec![link(MONITOR, "999")],
            "alertDefinitions[0].levels[0].integrations[0].serviceLinks[0].service: \"999\" is not a service".to_owned(),
        ),
    ] {
        let found = issues(settings.clone(), links);
        assert!(
            found.iter().any(|issue| issue.starts_with(&expected)),
            "{settings}: expected an issue starting {expected:?}, got {found:#?}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// The lifecycle (pure)

#[test]
fn the_plan_of_every_alert_type_and_kept_state() {
    let t = |text: &str| lifecycle::parse_time(text).expect("a time");
    let rules = Rules {
        ok_state: OkState::Monitoring,
        reminders: Reminders::Skip,
        silent: false,
    };
    let updating = Rules {
        reminders: Reminders::Update,
        ..rules
    };
    let resolving = Rules {
        ok_state: OkState::Resolved,
        ..rules
    };
    let open = Kept {
        incident_id: Some("7001".to_owned()),
        services: vec![101],
        open: Some(true),
        ..Kept::default()
    };
    let closed = Kept {
        closed_at: Some("2026-11-28T10:15:03Z".to_owned()),
        open: Some(false),
        ..open.clone()
    };
    let no_id = Kept {
        incident_id: None,
        ..open.clone()
    };
    let nothing = Kept::default();
    let (before, after) = (t("2026-11-28T09:26:58"), t("2026-11-28T11:00:00"));
    let update = |update, services: Vec<u64>, silent| Plan::Update {
        incident_id: "7001".to_owned(),
        update,
        services,
        silent,
    };
    use AlertType::{Alert, Ok, Reminder};
    for (rules, alert_type, time, services, kept, expected) in [
        (
            rules,
            Alert,
            after,
            vec![101, 102],
            &nothing,
            Plan::Create {
                services: vec![101, 102],
            },
        ),
        (
            rules,
            Alert,
            after,
            vec![],
            &nothing,
            Plan::Nothing(lifecycle::NO_SERVICE),
        ),
        (
            rules,
            Alert,
            after,
            vec![101],
            &open,
            Plan::Update {
                incident_id: "7001".to_owned(),
                update: UpdateType::Investigating,
                services: vec![101],
                silent: true,
            },
        ),
        (
            rules,
            Alert,
            after,
            vec![101, 102],
            &open,
            update(UpdateType::Investigating, vec![102], false),
        ),
        (
            rules,
            Alert,
            after,
            vec![101, 102],
            &no_id,
            Plan::Create {
                services: vec![101, 102],
            },
        ),
        (
            rules,
            Alert,
            before,
            vec![101],
            &closed,
            Plan::Nothing(lifecycle::OUT_OF_ORDER),
        ),
        (
            rules,
            Alert,
            after,
            vec![101],
            &closed,
            Plan::Create { services: vec![101] },
        ),
        (
            rules,
            Reminder,
            after,
            vec![101],
            &open,
            Plan::Nothing(lifecycle::REMINDERS_SKIPPED),
        ),
        (
            updating,
            Reminder,
            after,
            vec![101],
            &open,
            update(UpdateType::Investigating, vec![101], true),
        ),
        (
            updating,
            Reminder,
            after,
            vec![101],
            &nothing,
            Plan::Nothing(lifecycle::NO_OPEN_INCIDENT),
        ),
        (
            updating,
            Reminder,
            before,
            vec![101],
            &closed,
            Plan::Nothing(lifecycle::OUT_OF_ORDER),
        ),
        (
            rules,
            Ok,
            after,
            vec![],
            &open,
            update(UpdateType::Monitoring, vec![101], false),
        ),
        (
            resolving,
            Ok,
            after,
            vec![],
            &open,
            update(UpdateType::Resolved, vec![101], false),
        ),
        (
            rules,
            Ok,
            after,
            vec![101],
            &nothing,
            Plan::Remember(lifecycle::NOTHING_TO_UPDATE),
        ),
        (
            rules,
            Ok,
            after,
            vec![101],
            &no_id,
            Plan::Remember(lifecycle::ID_UNKNOWN),
        ),
        (
            rules,
            Ok,
            after,
            vec![101],
            &closed,
            Plan::Nothing(lifecycle::RESOLVED_ALREADY),
        ),
    ] {
        assert_eq!(
            crate::plan(rules, alert_type, time, &services, kept),
            expected,
            "{rules:?} {alert_type} at {time} linking {services:?} with {kept:?}"
        );
    }
}

#[test]
fn the_write_limiter_allows_five_writes_a_window_per_hub() {
    let limiter = WriteLimiter::default();
    let start = Instant::now();
    for index in 0..WRITES_PER_WINDOW {
        assert_eq!(limiter.admit("hub-a", &format!("w{index}"), start), Ok(()));
    }
    // The sixth gets the slot the first frees; the seventh the one after; another hub is not held
    // back.
    let later = start + Duration::from_millis(300);
    assert_eq!(
        limiter.admit("hub-a", "w5", later),
        Err(WINDOW - Duration::from_millis(300))
    );
    assert_eq!(
        limiter.admit("hub-a", "w6", later),
        Err(WINDOW - Duration::from_millis(300))
    );
    assert_eq!(limiter.admit("hub-b", "w0", later), Ok(()));
    // Asked again early, a write is told the time of its slot; at it, it goes, and nobody else
    // takes it.
    assert_eq!(
        limiter.admit("hub-a", "w5", start + Duration::from_millis(1000)),
        Err(WINDOW - Duration::from_millis(1000))
    );
    assert_eq!(limiter.admit("hub-a", "w5", start + WINDOW), Ok(()));
    assert_eq!(limiter.admit("hub-a", "w6", start + WINDOW), Ok(()));
    // Three slots of the window are left, then the next one waits a window after w5.
    for index in 7..10 {
        assert_eq!(
            limiter.admit("hub-a", &format!("w{index}"), start + WINDOW),
            Ok(())
        );
    }
    assert_eq!(
        limiter.admit("hub-a", "w10", start + WINDOW),
        Err(WINDOW),
        "the window is full again"
    );
    // The same message sent again after its slot (a retry after a 500) is a new write.
    assert_eq!(limiter.admit("hub-a", "w5", start + WINDOW), Err(WINDOW),);
}

#[test]
fn the_write_limiter_counts_a_write_from_its_answer() {
    // GIVEN five writes sent at once and answered 500 ms later (StatusHub counted them on arrival,
    // some time in between)
    let limiter = WriteLimiter::default();
    let start = Instant::now();
    for index in 0..WRITES_PER_WINDOW {
        assert_eq!(limiter.admit("hub", &format!("w{index}"), start), Ok(()));
    }
    for index in 0..WRITES_PER_WINDOW {
        limiter.answered("hub", &format!("w{index}"), start + Duration::from_millis(500));
    }
    // THEN the next write waits a window after the answers, not after the sending
    assert_eq!(
        limiter.admit("hub", "w5", start + Duration::from_millis(600)),
        Err(WINDOW - Duration::from_millis(100))
    );
}

// ---------------------------------------------------------------------------------------------
// Payloads (snapshots)

fn shown(message: &StatusHubMessage) -> Value {
    let mut description = crate::payload::describe(message);
    description["keep"] = message.keep.clone();
    description
}

#[test]
fn payloads_of_every_alert_type() {
    let both = vec![
        link(MONITOR, "website"),
        link(MONITOR, "api"),
        link(OTHER_MONITOR, "dns"),
    ];
    for (name, alert_type, settings, links, state) in [
        ("alert_creates", AlertType::Alert, settings(), both.clone(), None),
        (
            "alert_with_default_services",
            AlertType::Alert,
            with(json!({"defaultServices": ["website"], "alertStatus": "degradedPerformance"})),
            vec![],
            None,
        ),
        (
            "alert_again_adds_services",
            AlertType::Alert,
            settings(),
            both.clone(),
            Some(open_state()),
        ),
        (
            "reminder_updates_silently",
            AlertType::Reminder,
            with(json!({"reminders": "update"})),
            both.clone(),
            Some(open_state()),
        ),
        (
            "ok_monitoring",
            AlertType::Ok,
            settings(),
            both.clone(),
            Some(open_state()),
        ),
        (
            "ok_resolved",
            AlertType::Ok,
            with(json!({"okState": "resolved", "apiKeyHeader": "X-Api-Key"})),
            both.clone(),
            Some(open_state()),
        ),
        (
            "ok_without_incident_remembers",
            AlertType::Ok,
            settings(),
            both,
            None,
        ),
    ] {
        let message = one(&alert(alert_type), settings, links, state.as_ref());
        insta::assert_json_snapshot!(name, shown(&message));
    }
}

#[test]
fn a_link_to_an_unknown_service_fails_the_route_naming_it() {
    let error = build(
        &alert(AlertType::Alert),
        settings(),
        vec![link(MONITOR, "mail")],
        None,
    )
    .expect_err("refused");
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "integration `status`: escalation level 1, serviceLinks[0].service: \"mail\" is not a service of the integration (known: api, dns, website)"
    );
}

#[test]
fn alert_values_are_data_in_the_title_and_escaped_in_the_body() {
    let mut alert = alert(AlertType::Alert);
    alert.monitor.name = "<script>alert(1)</script>\n\"}, \"incident_type\": \"resolved".to_owned();
    let message = one(&alert, settings(), vec![link(MONITOR, "website")], None);
    let body: Value = serde_json::from_str(&message.body).expect("JSON");
    assert_eq!(body["incident_type"], "investigating");
    assert_eq!(
        body["title"],
        "<script>alert(1)</script> \"}, \"incident_type\": \"resolved is disrupted"
    );
    let html = body["body"].as_str().expect("a body");
    assert!(
        html.starts_with("<p>We are investigating a disruption of &lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
}

#[test]
fn a_start_time_in_the_future_is_never_sent() {
    let mut alert = alert(AlertType::Alert);
    alert.alert.timestamp_utc = "2026-11-28T18:00:00Z".to_owned();
    let message = one(&alert, settings(), vec![link(MONITOR, "website")], None);
    let body: Value = serde_json::from_str(&message.body).expect("JSON");
    assert_eq!(
        body["start_time"], "2026-11-28T16:00:05Z",
        "at most the time of delivery"
    );
}

// ---------------------------------------------------------------------------------------------
// Against the fake hub, through the real pipeline

fn definitions(integrations: Vec<Integration>, levels: Vec<EscalationLevel>) -> Definitions {
    Definitions {
        integrations,
        alert_definitions: vec![AlertDefinition {
            id: "dns".to_owned(),
            name: "DNS".to_owned(),
            active: true,
            monitors: vec![MONITOR.to_owned()],
            levels,
        }],
        ..Definitions::default()
    }
}

/// One integration `status` on `hub`, attached to level 1 linking the monitor to `website`, and
/// to level 2 linking it to `website` and `api`.
fn simple(hub: &Hub, settings: Value) -> Definitions {
    definitions(
        vec![integration("status", settings, &hub.api_url())],
        vec![
            level(1, vec![attachment("status", vec![link(MONITOR, "website")])]),
            level(
                2,
                vec![attachment(
                    "status",
                    vec![link(MONITOR, "website"), link(MONITOR, "api")],
                )],
            ),
        ],
    )
}

type Tested = Pipeline<StatusHubNotifier, MemoryStore, MemorySecrets, MemoryDeliveryLog>;

fn pipeline(definitions: Definitions) -> Tested {
    pipeline_with(definitions, KEY)
}

fn pipeline_with(definitions: Definitions, key: &str) -> Tested {
    pipeline_of(definitions, key, 4)
}

fn pipeline_of(definitions: Definitions, key: &str, max_attempts: u32) -> Tested {
    Pipeline::new(
        notifier(),
        MemoryStore::new(definitions),
        MemorySecrets::new().with(KEY_REF, key),
        MemoryDeliveryLog::default(),
        Settings {
            max_attempts,
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(50),
            ..Settings::default()
        },
    )
}

/// An SNS event of one native alert of the sample monitor at escalation level `level`.
fn event(guid: &str, alert_type: &str, time: &str, level: u32) -> Value {
    let message = json!({
        "version": 1,
        "alert": {"alertGuid": guid, "type": alert_type, "description": "DNS lookup failed", "timestampUtc": time},
        "monitor": {"monitorGuid": MONITOR, "name": "GalacticResorts.com - DNS"},
        "escalationLevel": {"id": level},
        "incident": {"key": INCIDENT_KEY},
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

fn statuses(hub: &Hub) -> Vec<(u64, String)> {
    hub.services().into_iter().collect()
}

fn up_down(website: &str, api: &str) -> Vec<(u64, String)> {
    vec![
        (101, website.to_owned()),
        (102, api.to_owned()),
        (103, "up".to_owned()),
    ]
}

#[tokio::test]
async fn alert_reminder_reminder_ok_creates_exactly_one_incident_and_closes_it() {
    // GIVEN a hub, and the integration linking the monitor to `website` at level 1
    let hub = Hub::start().await;
    let pipeline = pipeline(simple(&hub, settings()));

    // WHEN the incident's Alert, two Reminders and its Ok arrive
    let alert = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", 1)).await;
    assert_eq!(
        statuses(&hub),
        up_down("down", "up"),
        "the Alert took the service down"
    );
    let first = deliver(&pipeline, &event("r-1", "Reminder", "2026-11-28T09:56:58", 1)).await;
    let second = deliver(&pipeline, &event("r-2", "Reminder", "2026-11-28T10:06:58", 1)).await;
    let ok = deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T10:15:03", 1)).await;

    // THEN one incident: investigating with website down, then monitoring with website up
    assert_eq!(
        (alert, first, second, ok),
        (delivered(1), skipped(), skipped(), delivered(1))
    );
    let incidents = hub.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let updates: Vec<(&str, &[(u64, String)])> = incidents[0]
        .updates
        .iter()
        .map(|update| (update.incident_type.as_str(), update.statuses.as_slice()))
        .collect();
    assert_eq!(
        updates,
        [
            ("investigating", &[(101, "down".to_owned())][..]),
            ("monitoring", &[(101, "up".to_owned())][..]),
        ]
    );
    assert_eq!(statuses(&hub), up_down("up", "up"));
    assert_eq!(hub.requests().len(), 2);
}

#[tokio::test]
async fn the_ok_resolves_when_asked_and_statushub_sets_the_services_up() {
    let hub = Hub::start().await;
    let pipeline = pipeline(simple(
        &hub,
        with(json!({"okState": "resolved", "alertStatus": "degradedPerformance"})),
    ));
    deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", 1)).await;
    assert_eq!(statuses(&hub), up_down("degraded-performance", "up"));
    deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T10:15:03", 1)).await;
    let incidents = hub.incidents();
    assert_eq!(incidents[0].state(), "resolved");
    assert!(
        incidents[0].updates[1].statuses.is_empty(),
        "no service statuses with resolved"
    );
    assert_eq!(statuses(&hub), up_down("up", "up"));
}

#[tokio::test]
async fn a_repeated_alert_restates_the_incident_silently_or_adds_its_levels_services_and_the_ok_restores_them_all()
 {
    // GIVEN an incident opened at level 1 (website)
    let hub = Hub::start().await;
    let pipeline = pipeline(simple(&hub, settings()));
    deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", 1)).await;

    // WHEN the same Alert is redelivered, level 1 alerts again, and level 2 (website and api) alerts
    let again = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", 1)).await;
    let repeated = deliver(&pipeline, &event("a-2", "Alert", "2026-11-28T09:10:00", 1)).await;
    let escalated = deliver(&pipeline, &event("a-3", "Alert", "2026-11-28T09:20:00", 2)).await;
    let ok = deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T09:30:00", 1)).await;

    // THEN still one incident: the redelivery sent nothing, level 1's repeat restated it silently,
    // level 2 added api (notifying subscribers); the Ok set both up
    assert_eq!(
        (again, repeated, escalated, ok),
        (skipped(), delivered(1), delivered(1), delivered(1))
    );
    let incidents = hub.incidents();
    assert_eq!(incidents.len(), 1, "{incidents:#?}");
    let restated = &incidents[0].updates[1];
    assert_eq!(
        (
            restated.incident_type.as_str(),
            restated.statuses.as_slice(),
            restated.silent
        ),
        ("investigating", &[(101, "down".to_owned())][..], true)
    );
    let added = &incidents[0].updates[2];
    assert_eq!(
        (
            added.incident_type.as_str(),
            added.statuses.as_slice(),
            added.silent
        ),
        ("investigating", &[(102, "down".to_owned())][..], false)
    );
    assert_eq!(
        incidents[0].updates[3].statuses,
        [(101, "up".to_owned()), (102, "up".to_owned())]
    );
    assert_eq!(statuses(&hub), up_down("up", "up"));
}

#[tokio::test]
async fn an_ok_before_its_alert_sends_nothing_and_the_late_alert_creates_nothing() {
    let hub = Hub::start().await;
    let pipeline = pipeline(simple(&hub, settings()));

    let ok = deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T10:15:03", 1)).await;
    let late = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:26:58", 1)).await;

    assert_eq!((ok, late), (delivered(1), skipped()));
    assert!(hub.requests().is_empty(), "{:?}", hub.requests());
    let records = pipeline.deliveries().records();
    assert!(records[0].response.contains("nothing to update"), "{records:?}");

    // AND a new outage of the same key afterwards creates its incident
    deliver(&pipeline, &event("a-2", "Alert", "2026-11-28T11:00:00", 1)).await;
    assert_eq!(hub.incidents().len(), 1);
}

#[tokio::test]
async fn a_monitor_without_a_linked_service_sends_nothing_unless_there_are_default_services() {
    let hub = Hub::start().await;
    let unlinked = |settings: Value| {
        definitions(
            vec![integration("status", settings, &hub.api_url())],
            vec![level(
                1,
                vec![attachment("status", vec![link(OTHER_MONITOR, "dns")])],
            )],
        )
    };
    let report = deliver(
        &pipeline(unlinked(settings())),
        &event("a-1", "Alert", "2026-11-28T09:00:00", 1),
    )
    .await;
    assert_eq!(report, skipped());
    assert!(hub.incidents().is_empty());

    let report = deliver(
        &pipeline(unlinked(with(json!({"defaultServices": ["api"]})))),
        &event("a-1", "Alert", "2026-11-28T09:00:00", 1),
    )
    .await;
    assert_eq!(report, delivered(1));
    assert_eq!(hub.incidents()[0].updates[0].statuses, [(102, "down".to_owned())]);
}

#[tokio::test]
async fn writes_beyond_five_a_second_wait_in_the_runner_and_the_hub_never_throttles() {
    // GIVEN 12 integrations on one hub, all reached by one alert
    let hub = Hub::start().await;
    let integrations: Vec<Integration> = (0..12)
        .map(|index| integration(&format!("status-{index}"), settings(), &hub.api_url()))
        .collect();
    let attachments = integrations
        .iter()
        .map(|integration| attachment(&integration.id, vec![link(MONITOR, "website")]))
        .collect();
    // (a held write may wait twice: for its slot, then for the answers of the writes before it,
    // which free the slot only a window after they came)
    let pipeline = pipeline_of(definitions(integrations, vec![level(1, attachments)]), KEY, 6);

    // WHEN the alert is delivered
    let report = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", 1)).await;

    // THEN every route created its incident, the hub never had to refuse a write, and the writes
    // the limit held back waited in the runner
    assert_eq!(report, delivered(12));
    assert_eq!(hub.incidents().len(), 12);
    assert_eq!(hub.throttled(), 0);
    let held = pipeline
        .deliveries()
        .records()
        .into_iter()
        .filter(|record| {
            record
                .error
                .as_deref()
                .is_some_and(|error| error.contains("StatusHub's limit"))
        })
        .count();
    assert!(held >= 7, "at least 7 writes waited for the window: {held}");
}

#[tokio::test]
async fn the_hubs_429_and_server_errors_are_retried_honouring_retry_after() {
    let hub = Hub::start().await;
    hub.fail_next(Fault::Status(429, Some(1)));
    hub.fail_next(Fault::Status(502, None));
    let pipeline = pipeline(simple(&hub, settings()));

    let started = Instant::now();
    let report = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", 1)).await;

    assert_eq!(report, delivered(1));
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After honoured"
    );
    let statuses: Vec<Option<u16>> = pipeline
        .deliveries()
        .records()
        .iter()
        .map(|record| record.http_status)
        .collect();
    assert_eq!(statuses, [Some(429), Some(502), Some(201)]);
    assert_eq!(hub.incidents().len(), 1);
}

#[test]
fn the_fake_hub_enforces_the_write_limit() {
    // Six writes in one second (the hub's clock stopped) without the notifier's limiter: the sixth
    // is refused.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let hub = Hub::start().await;
        hub.freeze_clock();
        let http = HttpClient::new(&local_config()).expect("an http client");
        let mut statuses = Vec::new();
        for index in 0..6 {
            let request = notify_core::HttpRequest {
                method: "POST".to_owned(),
                url: format!("{}/hubs/{HUB}/incidents", hub.api_url()),
                headers: [("Authorization".to_owned(), format!("Bearer {KEY}"))].into(),
                body: json!({"title": format!("t{index}"), "start_time": "2026-11-28T09:00:00Z", "incident_type": "investigating", "service_statuses": []}).to_string(),
            };
            statuses.push(http.exchange(&request).await.expect("an answer").status);
        }
        assert_eq!(statuses, [201, 201, 201, 201, 201, 429]);
    });
}

#[tokio::test]
async fn a_create_answered_without_an_id_is_delivered_and_its_ok_cannot_update() {
    let hub = Hub::start().await;
    hub.fail_next(Fault::NoId);
    let pipeline = pipeline(simple(&hub, settings()));
    let alert = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", 1)).await;
    let ok = deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T09:30:00", 1)).await;
    assert_eq!((alert, ok), (delivered(1), delivered(1)));
    assert_eq!(hub.requests().len(), 1, "the Ok sent nothing");
    let records = pipeline.deliveries().records();
    assert!(records[1].response.contains("id is unknown"), "{records:?}");
}

#[tokio::test]
async fn a_wrong_key_fails_permanently_and_leaks_nowhere() {
    let hub = Hub::start().await;
    let wrong = "shk_live_wrong_0123456789";
    let pipeline = pipeline_with(simple(&hub, settings()), wrong);
    let captured = capture(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", 1)).await;
    assert_eq!(captured.result.as_ref().map(|report| report.failed).ok(), Some(1));
    let error = captured.records[0].error.clone().unwrap_or_default();
    assert!(error.contains("status 401"), "{error}");
    captured.assert_no_leak(wrong);
}

// ---------------------------------------------------------------------------------------------
// The sample, as the demo and the suites use it

#[tokio::test]
async fn the_sample_works_against_targets_answering_with_sample_answer() {
    for variant in [0, 1] {
        let target =
            server::Server::start(Arc::new(
                |request: server::Request| match StatusHubNotifier::sample_answer(&SampleRequest {
                    method: &request.method,
                    path: &request.path,
                    body: &request.body,
                }) {
                    Some(answer) => server::Answer::Respond(answer.status, Vec::new(), answer.body),
                    None => server::Answer::json(404, &json!({"error": "not a StatusHub path"})),
                },
            ))
            .await;
        let env = SampleEnv {
            base_url: &target.url(),
            secret: Some(KEY_REF),
            variant,
            ..SampleEnv::default()
        };
        let sample = StatusHubNotifier::sample("sh-sample", &env);
        let pipeline = pipeline(definitions(
            vec![sample],
            vec![level(1, vec![attachment("sh-sample", Vec::new())])],
        ));
        let alert = deliver(&pipeline, &event("a-1", "Alert", "2026-11-28T09:00:00", 1)).await;
        let ok = deliver(&pipeline, &event("o-1", "Ok", "2026-11-28T09:30:00", 1)).await;
        assert_eq!((alert, ok), (delivered(1), delivered(1)), "variant {variant}");
        let updated = pipeline.deliveries().records()[1]
            .request
            .contains("incident_updates");
        assert!(updated, "the Ok updated the created incident");
    }
}

#[test]
fn set_templates_and_fields_cover_title_and_body() {
    let mut sample = StatusHubNotifier::sample("sh", &SampleEnv::default());
    StatusHubNotifier::set_templates(&mut sample, &notify_core::Templates::plain());
    let mut settings = Value::Object(sample.settings.clone());
    settings["apiUrl"] = json!("{{ApiUrl}}");
    settings["apiKey"] = json!("{{ApiKey}}");
    let message = one(&alert(AlertType::Alert), settings, Vec::new(), None);
    let fields: Vec<(String, notify_core::Context, String)> = StatusHubNotifier::fields("x", &message)
        .into_iter()
        .map(|field| (field.field, field.context, field.text))
        .collect();
    assert_eq!(
        fields,
        [
            (
                "settings.title".to_owned(),
                notify_core::Context::Subject,
                "x".to_owned()
            ),
            (
                "settings.body".to_owned(),
                notify_core::Context::Html,
                "x".to_owned()
            ),
        ]
    );
    assert_eq!(message.operation, Operation::Create);
}

// ---------------------------------------------------------------------------------------------
// What every kind must do (retries, idempotency, redaction, bad settings), against the kit's target

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<StatusHubNotifier>().await;
}
