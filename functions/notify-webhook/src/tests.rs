use std::collections::BTreeMap;

use alert_model::template::Engine;
use alert_model::{Alert, AlertType, IntegrationKind, NativeEnvelope};
use definition_store::{Attachment, EscalationLevel, HttpAuth, HttpStep, Integration, MessageDefinition};
use notify_core::{
    Config, HttpClient, HttpRequest, Notifier, NotifyError, Outgoing, RouteContext, Variables,
};
use serde_json::json;

use crate::{WebhookMessage, WebhookNotifier, WebhookRequests, WebhookTarget};

// ---------------------------------------------------------------------------------------------
// Fixtures

fn alert(alert_type: AlertType) -> Alert {
    test_support::fixtures::sample_alert(alert_type)
}

fn step(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&str>) -> HttpStep {
    HttpStep {
        headers: headers
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect(),
        body: body.map(str::to_owned),
        ..HttpStep::new(method, url)
    }
}

fn custom(messages: Vec<MessageDefinition>) -> Integration {
    Integration {
        id: "ops-hook".to_owned(),
        name: "Ops incident API".to_owned(),
        kind: IntegrationKind::Webhook,
        active: true,
        variables: BTreeMap::new(),
        messages,
        settings: serde_json::Map::new(),
        fallback: None,
    }
}

fn preset(settings: serde_json::Value) -> Integration {
    let serde_json::Value::Object(settings) = settings else {
        panic!("settings must be an object")
    };
    Integration {
        settings,
        ..custom(Vec::new())
    }
}

/// An incident API: create on Alert and Reminder (basic auth), resolve on Ok (bearer token).
fn incident_api() -> Integration {
    let mut create = step(
        "POST",
        "https://incidents.example.com/api/v1/incidents?team={{@CustomField(Team)}}",
        &[
            ("Content-Type", "application/json"),
            ("X-Monitor", "{{@monitor.name}}"),
        ],
        Some(
            r#"{"key": "{{@incident.key}}", "title": "{{@monitor.name}}", "description": "{{@alert.description}}", "type": "{{@alert.type}}", "service": "{{ServiceId}}"}"#,
        ),
    );
    create.name = Some("create".to_owned());
    create.auth = Some(HttpAuth::Basic {
        username: "tocsin".to_owned(),
        password: "{{ApiKey}}".to_owned(),
    });
    let mut resolve = step(
        "put",
        "https://incidents.example.com/api/v1/incidents/{{@incident.key}}/resolve",
        &[],
        Some(r#"{"resolved": true, "downtime": "{{@alert.downtimeDuration}}"}"#),
    );
    resolve.auth = Some(HttpAuth::Bearer {
        token: "{{ApiKey}}".to_owned(),
    });
    let note = step(
        "POST",
        "https://incidents.example.com/api/v1/notes",
        &[],
        Some("Resolved: {{@monitor.name}}"),
    );
    custom(vec![
        MessageDefinition {
            types: vec![AlertType::Alert, AlertType::Reminder],
            steps: vec![create],
        },
        MessageDefinition {
            types: vec![AlertType::Ok],
            steps: vec![resolve, note],
        },
    ])
}

fn attachment() -> Attachment {
    Attachment {
        integration: "ops-hook".to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::from([("ServiceId".to_owned(), "svc-42".to_owned())]),
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
    variables.insert("ServiceId", "svc-42");
    variables.insert_secret("ApiKey", "s3cr3t-t0ken");
    variables
}

/// The real client, allowed to reach the local test receiver over plain http.
fn client() -> HttpClient {
    let config = Config {
        allow_hosts: "127.0.0.1".parse().expect("allow-list"),
        allow_http: true,
        ..Config::default()
    };
    HttpClient::new(&config).expect("http client")
}

fn notifier() -> WebhookNotifier {
    WebhookNotifier::with_client(client())
}

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-11-28T16:00:05Z".parse().expect("fixed time")
}

fn build_with(
    alert: &Alert,
    integration: &Integration,
    variables: &Variables,
) -> Result<Vec<Outgoing<WebhookMessage>>, NotifyError> {
    let notifier = notifier();
    let target = notifier.target(integration)?;
    let attachment = attachment();
    let level = level();
    let engine = Engine::new();
    let route = RouteContext {
        alert,
        integration,
        attachment: &attachment,
        level: &level,
        recipients: Vec::new(),
        variables,
        now: now(),
        engine: &engine,
        incident: None,
    };
    notifier.build(&route, &target)
}

fn build(alert: &Alert, integration: &Integration) -> Result<Vec<Outgoing<WebhookMessage>>, NotifyError> {
    build_with(alert, integration, &variables())
}

fn rendered(requests: &[Outgoing<WebhookMessage>]) -> serde_json::Value {
    let notifier = notifier();
    requests
        .iter()
        .map(|outgoing| json!({ "step": outgoing.step, "message": notifier.describe(&outgoing.message) }))
        .collect()
}

fn check(name: &str, alert: &Alert, integration: &Integration) {
    let requests = build(alert, integration).unwrap_or_else(|error| panic!("{name}: build failed: {error}"));
    insta::assert_json_snapshot!(name, rendered(&requests));
}

fn only(requests: Vec<Outgoing<WebhookMessage>>) -> HttpRequest {
    only_message(requests).request
}

fn only_message(requests: Vec<Outgoing<WebhookMessage>>) -> WebhookMessage {
    assert_eq!(requests.len(), 1, "expected one request");
    requests
        .into_iter()
        .next()
        .map(|outgoing| outgoing.message)
        .expect("one request")
}

fn permanent(result: Result<impl std::fmt::Debug, NotifyError>) -> String {
    match result {
        Err(error @ NotifyError::Permanent { .. }) => error.to_string(),
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Settings: one test per rule

#[test]
fn preset_with_defaults() {
    let target = WebhookTarget::parse(&preset(
        json!({"preset": "all-variables", "url": "https://x.example.com/in"}),
    ));
    assert_eq!(
        target.unwrap(),
        WebhookTarget {
            requests: WebhookRequests::AllVariables {
                url: "https://x.example.com/in".to_owned(),
                method: "POST".to_owned(),
                headers: BTreeMap::new()
            },
            signing_secret: None,
            functions: BTreeMap::new(),
            defaults: BTreeMap::new(),
        }
    );
}

#[test]
fn preset_method_and_headers() {
    let target = WebhookTarget::parse(&preset(json!({
        "preset": "all-variables", "url": "https://x.example.com/in", "method": "put",
        "headers": {"X-Api-Key": "{{ApiKey}}"}
    })));
    assert_eq!(
        target.unwrap(),
        WebhookTarget {
            requests: WebhookRequests::AllVariables {
                url: "https://x.example.com/in".to_owned(),
                method: "PUT".to_owned(),
                headers: BTreeMap::from([("X-Api-Key".to_owned(), "{{ApiKey}}".to_owned())])
            },
            signing_secret: None,
            functions: BTreeMap::new(),
            defaults: BTreeMap::new(),
        }
    );
}

#[test]
fn unknown_preset_is_refused() {
    let error = permanent(WebhookTarget::parse(&preset(
        json!({"preset": "slack", "url": "https://x.example.com"}),
    )));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.preset`: unknown preset \"slack\" (known: all-variables, alertops, discord, google-chat, incident-io, jira, mattermost, ntfy, pushover, rocket-chat, statuspage, telegram, webex, zapier)"
    );
}

#[test]
fn preset_without_url_is_refused() {
    let error = permanent(WebhookTarget::parse(&preset(json!({"preset": "all-variables"}))));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.url`: preset \"all-variables\" needs a url"
    );
    let error = permanent(WebhookTarget::parse(&preset(
        json!({"preset": "all-variables", "url": " "}),
    )));
    assert_eq!(error, "integration `ops-hook`: `settings.url`: empty url");
}

#[test]
fn settings_without_preset_are_refused() {
    let error = permanent(WebhookTarget::parse(&preset(
        json!({"url": "https://x.example.com"}),
    )));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.url`: only signingSecret and functions go with \"messages\" (the other settings are a preset's; set `preset`)"
    );
}

#[test]
fn unknown_setting_is_refused_by_name() {
    let error = permanent(WebhookTarget::parse(&preset(
        json!({"preset": "all-variables", "url": "https://x.example.com", "secret": "x"}),
    )));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.secret`: unknown field `secret`, expected one of `preset`, `url`, `method`, `headers`, `overrides`, `signingSecret`, `functions`"
    );
}

#[test]
fn preset_values_must_be_strings() {
    let error = permanent(WebhookTarget::parse(&preset(
        json!({"preset": "all-variables", "url": 5}),
    )));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.url`: invalid type: integer `5`, expected a string"
    );
    let error = permanent(WebhookTarget::parse(&preset(
        json!({"preset": "all-variables", "url": "https://x.example.com", "headers": ["a"]}),
    )));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.headers`: invalid type: sequence, expected a map"
    );
    let error = permanent(WebhookTarget::parse(&preset(
        json!({"preset": "all-variables", "url": "https://x.example.com", "headers": {"X-N": 1}}),
    )));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.headers.X-N`: invalid type: integer `1`, expected a string"
    );
}

#[test]
fn preset_method_is_validated() {
    let error = permanent(WebhookTarget::parse(&preset(
        json!({"preset": "all-variables", "url": "https://x.example.com", "method": "TRACE"}),
    )));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.method`: unknown method \"TRACE\" (expected GET, POST, PUT, PATCH, DELETE)"
    );
}

#[test]
fn invalid_header_name_is_refused() {
    let error = permanent(WebhookTarget::parse(&preset(
        json!({"preset": "all-variables", "url": "https://x.example.com", "headers": {"Bad Name:": "v"}}),
    )));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.headers.Bad Name:`: not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    );
    let mut integration = incident_api();
    integration.messages[0].steps[0]
        .headers
        .insert("X\r\nInjected".to_owned(), "v".to_owned());
    let error = permanent(WebhookTarget::parse(&integration));
    assert_eq!(
        error,
        "integration `ops-hook`: `messages[0].steps[0].headers.X\\r\\nInjected`: not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)"
    );
}

#[test]
fn preset_and_messages_exclude_each_other() {
    let mut integration = incident_api();
    integration.settings =
        preset(json!({"preset": "all-variables", "url": "https://x.example.com"})).settings;
    let error = permanent(WebhookTarget::parse(&integration));
    assert_eq!(
        error,
        "integration `ops-hook`: `settings.preset`: `settings.preset` and `messages` exclude each other"
    );
}

#[test]
fn neither_messages_nor_preset_is_refused() {
    let error = permanent(WebhookTarget::parse(&custom(Vec::new())));
    assert_eq!(
        error,
        "integration `ops-hook`: webhook integration \"ops-hook\" needs \"messages\" or settings.preset (`tocsin presets` lists them)"
    );
}

#[test]
fn alert_type_in_two_definitions_is_refused() {
    let mut integration = incident_api();
    integration.messages[1].types.push(AlertType::Reminder);
    let error = permanent(WebhookTarget::parse(&integration));
    assert_eq!(
        error,
        "integration `ops-hook`: `messages[1].types[1]`: alert type Reminder already served by messages[0]"
    );
}

#[test]
fn empty_types_or_steps_are_refused() {
    let mut integration = incident_api();
    integration.messages[1].types.clear();
    assert_eq!(
        permanent(WebhookTarget::parse(&integration)),
        "integration `ops-hook`: `messages[1].types`: no alert type"
    );
    let mut integration = incident_api();
    integration.messages[0].steps.clear();
    assert_eq!(
        permanent(WebhookTarget::parse(&integration)),
        "integration `ops-hook`: `messages[0].steps`: no step"
    );
}

#[test]
fn step_method_is_validated_when_parsing() {
    let mut integration = incident_api();
    integration.messages[1].steps[1].method = "CONNECT".to_owned();
    assert_eq!(
        permanent(WebhookTarget::parse(&integration)),
        "integration `ops-hook`: `messages[1].steps[1].method`: unknown method \"CONNECT\" (expected GET, POST, PUT, PATCH, DELETE)"
    );
}

#[test]
fn step_names_must_be_unique_within_a_definition() {
    let mut integration = incident_api();
    integration.messages[1].steps[1].name = Some("step-1".to_owned());
    assert_eq!(
        permanent(WebhookTarget::parse(&integration)),
        "integration `ops-hook`: `messages[1].steps[1].name`: step name \"step-1\" is used twice in messages[1]"
    );
}

#[test]
fn step_without_url_is_refused() {
    let mut integration = incident_api();
    integration.messages[0].steps[0].url = String::new();
    assert_eq!(
        permanent(WebhookTarget::parse(&integration)),
        "integration `ops-hook`: `messages[0].steps[0].url`: empty url"
    );
}

// ---------------------------------------------------------------------------------------------
// Built requests: custom integration

#[test]
fn custom_alert() {
    check("custom_alert", &alert(AlertType::Alert), &incident_api());
}

#[test]
fn custom_ok() {
    check("custom_ok", &alert(AlertType::Ok), &incident_api());
}

#[test]
fn custom_reminder() {
    check("custom_reminder", &alert(AlertType::Reminder), &incident_api());
}

#[test]
fn alert_type_without_definition_sends_nothing() {
    let mut integration = incident_api();
    integration.messages[0].types = vec![AlertType::Alert];
    let requests = build(&alert(AlertType::Reminder), &integration).unwrap();
    assert!(requests.is_empty());
}

#[test]
fn method_is_validated_when_building() {
    let mut integration = incident_api();
    integration.messages[0].steps[0].method = "TRACE".to_owned();
    // A target built without `parse` (e.g. by hand) is still checked.
    let target = WebhookTarget {
        requests: WebhookRequests::Custom {
            messages: integration.messages.clone(),
        },
        signing_secret: None,
        functions: BTreeMap::new(),
        defaults: BTreeMap::new(),
    };
    let notifier = notifier();
    let (attachment, level, variables) = (attachment(), level(), variables());
    let alert = alert(AlertType::Alert);
    let engine = Engine::new();
    let route = RouteContext {
        alert: &alert,
        integration: &integration,
        attachment: &attachment,
        level: &level,
        recipients: Vec::new(),
        variables: &variables,
        now: now(),
        engine: &engine,
        incident: None,
    };
    assert_eq!(
        permanent(notifier.build(&route, &target)),
        "integration `ops-hook`, step `create`: unknown method \"TRACE\" (expected GET, POST, PUT, PATCH, DELETE)"
    );
}

#[test]
fn hostile_values_give_valid_json_encoded_urls_and_clean_headers() {
    let mut alert = alert(AlertType::Alert);
    alert.monitor.name = "Evil \"DNS\" & <co> Ünïcødé ✓ 🚨 \\ /".to_owned();
    alert.alert.description = "line one\nline \"two\"\r\n\ttab & {\"json\": [1]}".to_owned();
    alert
        .monitor
        .custom_fields
        .insert("Team".to_owned(), "ops & dev/#?=".to_owned());
    let request = only(build(&alert, &incident_api()).unwrap());

    let body: serde_json::Value = serde_json::from_str(&request.body)
        .unwrap_or_else(|error| panic!("body is not JSON ({error}): {}", request.body));
    assert_eq!(body["title"], json!(alert.monitor.name));
    assert_eq!(body["description"], json!(alert.alert.description));
    assert_eq!(
        request.url,
        "https://incidents.example.com/api/v1/incidents?team=ops%20%26%20dev%2F%23%3F%3D"
    );
    assert_eq!(request.headers["X-Monitor"], alert.monitor.name);
    let message = only_message(build(&alert, &incident_api()).unwrap());
    insta::assert_json_snapshot!("hostile", notifier().describe(&message));
}

#[test]
fn header_with_line_break_is_refused() {
    let mut alert = alert(AlertType::Alert);
    alert.monitor.name = "DNS\r\nX-Injected: yes".to_owned();
    let error = permanent(build(&alert, &incident_api()));
    assert!(
        error.contains("ops-hook") && error.contains("messages[0].steps[0].headers.X-Monitor"),
        "{error}"
    );
    assert!(
        !error.contains("X-Injected: yes"),
        "the error repeats the hostile value: {error}"
    );
}

#[test]
fn url_must_be_absolute_http_and_is_not_quoted_in_errors() {
    let mut integration = incident_api();
    integration.messages[0].steps[0].url = "ftp://secret-host/{{ApiKey}}".to_owned();
    let error = permanent(build(&alert(AlertType::Alert), &integration));
    assert_eq!(
        error,
        "integration `ops-hook`, step `create`: `messages[0].steps[0].url` does not render to an absolute http:// or https:// URL"
    );
}

#[test]
fn basic_auth() {
    let request = only(build(&alert(AlertType::Alert), &incident_api()).unwrap());
    // base64("tocsin:s3cr3t-t0ken")
    assert_eq!(
        request.headers["Authorization"],
        "Basic dG9jc2luOnMzY3IzdC10MGtlbg=="
    );
}

#[test]
fn basic_auth_username_with_colon_is_refused() {
    let mut integration = incident_api();
    integration.messages[0].steps[0].auth = Some(HttpAuth::Basic {
        username: "a:b".to_owned(),
        password: "p".to_owned(),
    });
    let error = permanent(build(&alert(AlertType::Alert), &integration));
    assert_eq!(
        error,
        "integration `ops-hook`, step `create`: `messages[0].steps[0].auth.username` contains `:`, which basic auth cannot carry"
    );
}

#[test]
fn bearer_auth() {
    let requests = build(&alert(AlertType::Ok), &incident_api()).unwrap();
    assert_eq!(
        requests[0].message.request.headers["Authorization"],
        "Bearer s3cr3t-t0ken"
    );
}

#[test]
fn auth_and_authorization_header_conflict() {
    let mut integration = incident_api();
    integration.messages[0].steps[0]
        .headers
        .insert("authorization".to_owned(), "Token x".to_owned());
    let error = permanent(build(&alert(AlertType::Alert), &integration));
    assert_eq!(
        error,
        "integration `ops-hook`, step `create`: both `auth` and an `Authorization` header are given"
    );
}

#[test]
fn body_escaping_follows_the_content_type() {
    let cases = [
        // (headers, body template, expected body, expected content type)
        (
            vec![],
            r#"{"m": "{{@monitor.name}}"}"#,
            r#"{"m": "a \"b\" & c"}"#,
            Some("application/json"),
        ),
        (
            vec![],
            "  [\"{{@monitor.name}}\"]",
            "  [\"a \\\"b\\\" & c\"]",
            Some("application/json"),
        ),
        (
            vec![("content-type", "application/vnd.api+JSON")],
            r#"{"m": "{{@monitor.name}}"}"#,
            r#"{"m": "a \"b\" & c"}"#,
            Some("application/vnd.api+JSON"),
        ),
        (
            vec![("Content-Type", "application/x-www-form-urlencoded")],
            "m={{@monitor.name}}",
            "m=a%20%22b%22%20%26%20c",
            Some("application/x-www-form-urlencoded"),
        ),
        (
            vec![("Content-Type", "text/plain")],
            "{{@monitor.name}}",
            "a \"b\" & c",
            Some("text/plain"),
        ),
        (
            vec![],
            "Monitor {{@monitor.name}}",
            "Monitor a \"b\" & c",
            Some("text/plain; charset=utf-8"),
        ),
    ];
    let mut alert = alert(AlertType::Alert);
    alert.monitor.name = "a \"b\" & c".to_owned();
    for (headers, body, expected_body, expected_type) in cases {
        let integration = custom(vec![MessageDefinition {
            types: vec![AlertType::Alert],
            steps: vec![step("POST", "https://x.example.com/", &headers, Some(body))],
        }]);
        let request = only(build(&alert, &integration).unwrap_or_else(|error| panic!("{body}: {error}")));
        assert_eq!(request.body, expected_body, "{body}");
        let content_type = request
            .headers
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            .map(|(_, v)| v.as_str());
        assert_eq!(content_type, expected_type, "{body}");
    }
}

#[test]
fn json_body_that_does_not_parse_is_refused() {
    let integration = custom(vec![MessageDefinition {
        types: vec![AlertType::Alert],
        steps: vec![step(
            "POST",
            "https://x.example.com/",
            &[],
            Some(r#"{"m": {{@monitor.name}}}"#),
        )],
    }]);
    let error = permanent(build(&alert(AlertType::Alert), &integration));
    assert!(
        error.contains("ops-hook") && error.contains("messages[0].steps[0].body"),
        "{error}"
    );
}

#[test]
fn step_names_default_to_their_position() {
    let names: Vec<String> = build(&alert(AlertType::Ok), &incident_api())
        .unwrap()
        .into_iter()
        .map(|outgoing| outgoing.step)
        .collect();
    assert_eq!(names, ["step-1", "step-2"]);
    let names: Vec<String> = build(&alert(AlertType::Alert), &incident_api())
        .unwrap()
        .into_iter()
        .map(|outgoing| outgoing.step)
        .collect();
    assert_eq!(names, ["create"]);
}

// ---------------------------------------------------------------------------------------------
// Built requests: the all-variables preset

fn all_variables() -> Integration {
    preset(json!({
        "preset": "all-variables",
        "url": "https://tocsin.example.com/in?source={{@account.accountId}}",
        "headers": {"X-Api-Key": "{{ApiKey}}"},
    }))
}

#[test]
fn preset_request() {
    check("preset_alert", &alert(AlertType::Alert), &all_variables());
}

#[test]
fn preset_body_is_the_native_envelope_for_every_alert_type() {
    for alert_type in AlertType::ALL {
        let alert = alert(*alert_type);
        let request = only(build(&alert, &all_variables()).unwrap());
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(
            body,
            serde_json::to_value(NativeEnvelope::new(alert.clone())).unwrap()
        );
        assert_eq!(body["version"], json!(1));
        assert_eq!(request.method, "POST");
        assert_eq!(request.headers["Content-Type"], "application/json");
    }
}

/// Tocsin feeding Tocsin: what the preset sends is what the native inbound format reads.
fn normalize(body: &str) -> Alert {
    let attributes = BTreeMap::new();
    let inbound = alert_model::inbound::InboundMessage {
        message: body,
        subject: None,
        message_id: "0b5f1d8e-7f9f-4d8c-9a53-1d2e3f4a5b6c",
        timestamp: None,
        attributes: &attributes,
    };
    let normalized = alert_model::inbound::normalize(&inbound)
        .unwrap_or_else(|error| panic!("the preset body does not normalize: {error}"));
    assert_eq!(normalized.format, alert_model::inbound::InboundFormat::Native);
    normalized.alert
}

#[test]
fn preset_body_normalizes_back_to_the_same_alert() {
    let mut alert = alert(AlertType::Ok);
    alert.monitor.notes = "quotes \" and\nnewlines & ünïcødé".to_owned();
    // An alert as the runner has it: normalised (derived fields such as the formatted times filled).
    let alert = normalize(&serde_json::to_string(&NativeEnvelope::new(alert)).unwrap());
    let request = only(build(&alert, &all_variables()).unwrap());
    assert_eq!(normalize(&request.body), alert);
}

#[test]
fn describe_shape() {
    let request = HttpRequest {
        method: "POST".to_owned(),
        url: "https://x.example.com/".to_owned(),
        headers: BTreeMap::from([("Content-Type".to_owned(), "application/json".to_owned())]),
        body: "{}".to_owned(),
    };
    let integration = custom(vec![MessageDefinition {
        types: vec![AlertType::Alert],
        steps: vec![step(
            "POST",
            &request.url,
            &[("Content-Type", "application/json")],
            Some("{}"),
        )],
    }]);
    let mut message = only_message(build(&alert(AlertType::Alert), &integration).unwrap());
    message.request = request;
    assert_eq!(
        notifier().describe(&message),
        json!({"request": {"method": "POST", "url": "https://x.example.com/", "headers": {"Content-Type": "application/json"}, "body": "{}"}})
    );
}

#[test]
fn variables_without_values_still_build_when_unused() {
    let integration = custom(vec![MessageDefinition {
        types: vec![AlertType::Alert],
        steps: vec![step("GET", "https://x.example.com/ping", &[], None)],
    }]);
    let mut request =
        only(build_with(&alert(AlertType::Alert), &integration, &Variables::default()).unwrap());
    // Only the Standard Webhooks headers, tested on their own below.
    request.headers.remove(crate::WEBHOOK_ID);
    request.headers.remove(crate::WEBHOOK_TIMESTAMP);
    assert_eq!(
        request,
        HttpRequest {
            method: "GET".to_owned(),
            url: "https://x.example.com/ping".to_owned(),
            headers: BTreeMap::new(),
            body: String::new()
        }
    );
}

// ---------------------------------------------------------------------------------------------
// No secret in errors

/// Characters that end or corrupt a header line, wherever a value brings them in.
const HEADER_BREAKERS: &[&str] = &[
    "\r\n", "\n", "\r", "\u{0}", "\u{b}", "\u{c}", "\u{1b}", "\u{7f}", "\u{85}", "\u{2028}", "\u{2029}",
];

#[test]
fn secret_with_line_break_is_refused_without_being_repeated() {
    for breaker in HEADER_BREAKERS {
        let mut variables = Variables::default();
        variables.insert("ServiceId", "svc-42");
        variables.insert_secret("ApiKey", format!("s3cr3t{breaker}X-Evil: 1"));
        let cases = [
            (all_variables(), AlertType::Alert, "settings.headers.X-Api-Key"),
            (incident_api(), AlertType::Ok, "messages[1].steps[0].auth.token"),
        ];
        for (integration, alert_type, field) in cases {
            let error = permanent(build_with(&alert(alert_type), &integration, &variables));
            assert!(error.contains(field), "{breaker:?}: {error}");
            assert!(!error.contains("s3cr3t"), "the error leaks the secret: {error}");
            assert!(
                !format!("{error:?}").contains("s3cr3t"),
                "the error leaks the secret: {error:?}"
            );
        }
    }
}

#[test]
fn header_injection_through_alert_values_and_variables_is_refused_naming_the_field() {
    let mut integration = incident_api();
    let headers = &mut integration.messages[0].steps[0].headers;
    headers.insert("X-Service".to_owned(), "{{ServiceId}}".to_owned());
    headers.insert("X-Team".to_owned(), "team {{@CustomField(Team)}}".to_owned());
    headers.insert("X-Jinja".to_owned(), "{{ alert.description | upper }}".to_owned());
    for breaker in HEADER_BREAKERS {
        let hostile = format!("ok{breaker}X-Injected: yes");
        // (where the value goes, the header field named in the error)
        let mut by_name = alert(AlertType::Alert);
        by_name.monitor.name = hostile.clone();
        let mut by_custom_field = alert(AlertType::Alert);
        by_custom_field
            .monitor
            .custom_fields
            .insert("Team".to_owned(), hostile.clone());
        let mut by_jinja = alert(AlertType::Alert);
        by_jinja.alert.description = hostile.clone();
        let mut by_variable = Variables::default();
        by_variable.insert("ServiceId", hostile.clone());
        by_variable.insert_secret("ApiKey", "s3cr3t-t0ken");
        let cases = [
            (by_name, variables(), "messages[0].steps[0].headers.X-Monitor"),
            (
                by_custom_field,
                variables(),
                "messages[0].steps[0].headers.X-Team",
            ),
            (by_jinja, variables(), "messages[0].steps[0].headers.X-Jinja"),
            (
                alert(AlertType::Alert),
                by_variable,
                "messages[0].steps[0].headers.X-Service",
            ),
        ];
        for (alert, variables, field) in cases {
            let error = permanent(build_with(&alert, &integration, &variables));
            assert!(
                error.starts_with("integration `ops-hook`, field `") && error.contains(field),
                "{breaker:?}: {error}"
            );
            assert!(
                !error.contains("X-Injected") && !format!("{error:?}").contains("X-Injected"),
                "the error repeats the value: {error}"
            );
        }
    }
    // Tabs and text beyond ASCII stay header text.
    let mut fine = alert(AlertType::Alert);
    fine.monitor.name = "Évènement\t✓ 🚨".to_owned();
    let request = only(build(&fine, &integration).unwrap());
    assert_eq!(request.headers["X-Monitor"], "Évènement\t✓ 🚨");
}

#[test]
fn url_values_are_percent_encoded_and_never_move_the_request() {
    let mut integration = incident_api();
    integration.messages[0].steps[0].url =
        "https://incidents.example.com/api/v1/{{@incident.key}}/x?team={{@CustomField(Team)}}".to_owned();
    // (value, its percent-encoded form)
    let cases = [
        ("a\r\nHost: evil.example", "a%0D%0AHost%3A%20evil.example"),
        ("@evil.example", "%40evil.example"),
        ("//evil.example/", "%2F%2Fevil.example%2F"),
        ("../../admin", "..%2F..%2Fadmin"),
        ("#frag?a=1&b=2", "%23frag%3Fa%3D1%26b%3D2"),
        ("x y\tz\u{0}", "x%20y%09z%00"),
        ("é/漢", "%C3%A9%2F%E6%BC%A2"),
    ];
    for (value, encoded) in cases {
        let mut alert = alert(AlertType::Alert);
        alert.incident.key = value.to_owned();
        alert
            .monitor
            .custom_fields
            .insert("Team".to_owned(), value.to_owned());
        let request = only(build(&alert, &integration).unwrap());
        assert_eq!(
            request.url,
            format!("https://incidents.example.com/api/v1/{encoded}/x?team={encoded}"),
            "{value:?}"
        );
    }
    // An alert value at the start of the URL is encoded too, so it cannot choose the host.
    let mut integration = incident_api();
    integration.messages[0].steps[0].url = "{{@monitor.url}}/hook".to_owned();
    let mut alert = alert(AlertType::Alert);
    alert.monitor.url = "https://evil.example".to_owned();
    assert_eq!(
        permanent(build(&alert, &integration)),
        "integration `ops-hook`, step `create`: `messages[0].steps[0].url` does not render to an absolute http:// or https:// URL"
    );
    // Line breaks written into the URL template itself are refused.
    let mut integration = incident_api();
    integration.messages[0].steps[0].url = "https://incidents.example.com/a\r\nX-Injected: yes".to_owned();
    let error = permanent(build(&alert, &integration));
    assert!(error.contains("white space or control characters"), "{error}");
}

#[tokio::test]
async fn a_header_injection_sends_nothing() {
    // GIVEN a receiver, and a preset integration whose header carries the monitor name
    let receiver =
        test_support::Receiver::start(test_support::Script::new().route("/in", [test_support::Reply::ok()]))
            .await;
    let yaml = format!(
        r#"
integrations:
  - id: ops-hook
    kind: webhook
    settings:
      preset: all-variables
      url: "{}"
      headers:
        X-Monitor: "{{{{@monitor.name}}}}"
alertDefinitions:
  - id: ops-dns
    name: Ops DNS
    monitors: ["*"]
    levels:
      - id: 1
        integrations:
          - integration: ops-hook
"#,
        receiver.url("/in")
    );
    let definitions = definition_store::from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}"));
    let pipeline = notify_core::Pipeline::new(
        notifier(),
        definition_store::MemoryStore::new(definitions),
        notify_core::MemorySecrets::new(),
        notify_core::MemoryDeliveryLog::default(),
        notify_core::Settings::default(),
    );
    let mut message: serde_json::Value =
        serde_json::from_str(&test_support::sns::native_alert("alert-injection-1")).unwrap();
    message["monitor"]["name"] = json!("DNS\r\nX-Injected: yes");
    let event = test_support::sns::event(&[("m-1", &message.to_string())]);

    // WHEN the alert arrives
    let captured = notify_core::testing::capture(&pipeline, &event).await;

    // THEN the route fails permanently before anything is claimed or sent, and the log names
    // the field without repeating the value
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((report.routes, report.failed), (1, 1), "{report:?}");
    assert!(receiver.requests().is_empty(), "a request was sent");
    assert!(captured.records.is_empty(), "{:?}", captured.records);
    assert!(
        captured.logs.contains("settings.headers.X-Monitor"),
        "{}",
        captured.logs
    );
    captured.assert_no_leak("X-Injected");
}

#[test]
fn secret_in_a_refused_url_is_not_repeated() {
    let mut integration = incident_api();
    integration.messages[0].steps[0].url = "mailto:{{ApiKey}}".to_owned();
    let error = build(&alert(AlertType::Alert), &integration).unwrap_err();
    assert!(
        !error.to_string().contains("s3cr3t") && !format!("{error:?}").contains("s3cr3t"),
        "{error:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Sending to a local receiver

/// Builds the one request of `integration` for an Alert, with its URL pointed at `receiver`.
fn request_to(
    receiver: &test_support::Receiver,
    path_and_query: &str,
    integration: &Integration,
) -> WebhookMessage {
    let mut message = only_message(build(&alert(AlertType::Alert), integration).unwrap());
    message.request.url = receiver.url(path_and_query);
    message
}

#[tokio::test]
async fn delivered_on_200() {
    // GIVEN a receiver that accepts, and the all-variables preset pointed at it
    let receiver = test_support::Receiver::start(
        test_support::Script::new().route("/in", [test_support::Reply::status(200).body("accepted")]),
    )
    .await;
    let integration = preset(json!({
        "preset": "all-variables",
        "url": receiver.url("/in?source={{@account.accountId}}"),
        "headers": {"X-Api-Key": "{{ApiKey}}"},
    }));
    let message = only_message(build(&alert(AlertType::Alert), &integration).unwrap());
    let request = message.request.clone();

    // WHEN it is sent
    let sent = notifier()
        .send(&message)
        .await
        .unwrap_or_else(|error| panic!("send failed: {error:?}"));

    // THEN the receiver got exactly the built request
    assert_eq!(sent.status, Some(200));
    assert_eq!(sent.response, "accepted");
    let recorded = receiver.requests_to("/in");
    assert_eq!(recorded.len(), 1);
    let recorded = &recorded[0];
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.query.as_deref(), Some("source=123456"));
    assert_eq!(recorded.header("content-type"), Some("application/json"));
    assert_eq!(recorded.header("x-api-key"), Some("s3cr3t-t0ken"));
    assert_eq!(recorded.body, request.body);
    let envelope: NativeEnvelope =
        serde_json::from_str(&recorded.body).expect("the body is the native envelope");
    assert_eq!(envelope, NativeEnvelope::new(alert(AlertType::Alert)));
}

#[tokio::test]
async fn custom_step_with_basic_auth_is_delivered() {
    let receiver = test_support::Receiver::start(
        test_support::Script::new().route("/api/v1/incidents", [test_support::Reply::ok()]),
    )
    .await;
    let request = request_to(&receiver, "/api/v1/incidents?team=ops", &incident_api());
    notifier()
        .send(&request)
        .await
        .unwrap_or_else(|error| panic!("send failed: {error:?}"));
    let recorded = receiver.requests_to("/api/v1/incidents");
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        recorded[0].header("authorization"),
        Some("Basic dG9jc2luOnMzY3IzdC10MGtlbg==")
    );
    assert_eq!(recorded[0].header("x-monitor"), Some("GalacticResorts.com - DNS"));
    let body: serde_json::Value = serde_json::from_str(&recorded[0].body).unwrap();
    assert_eq!(
        body["key"],
        json!("ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746")
    );
}

// ---------------------------------------------------------------------------------------------
// The conformance kit: delivery through the pipeline, idempotent redelivery, 429 with Retry-After,
// 5xx, 400, timeouts, dropped connections, bad settings, redaction

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<WebhookNotifier>().await;
}

#[test]
fn example_definitions_are_accepted() {
    let path = test_support::moto::workspace_root().join("examples/definitions.yaml");
    let definitions = definition_store::load_file(&path).unwrap_or_else(|error| panic!("{error}"));
    let integrations: Vec<_> = definitions
        .integrations
        .iter()
        .filter(|integration| integration.kind == alert_model::IntegrationKind::Webhook)
        .collect();
    assert!(
        !integrations.is_empty(),
        "examples/definitions.yaml has no webhook integration"
    );
    for integration in integrations {
        notifier()
            .target(integration)
            .unwrap_or_else(|error| panic!("{}: {error}", integration.id));
    }
}

// ---------------------------------------------------------------------------------------------
// Standard Webhooks headers

/// The Standard Webhooks specification's own test vector.
#[test]
fn signature_matches_the_specification_vector() {
    use base64::Engine as _;
    let key = base64::engine::general_purpose::STANDARD
        .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        .unwrap();
    assert_eq!(
        crate::sign(
            &key,
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            "1614265330",
            r#"{"test": 2432232314}"#
        ),
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    );
}

fn webhook_id_of(alert: &Alert, integration: &Integration) -> String {
    let request = only(build(alert, integration).unwrap());
    request.headers[crate::WEBHOOK_ID].clone()
}

#[test]
fn every_request_carries_a_stable_webhook_id_and_the_send_time() {
    let alert = alert(AlertType::Alert);
    let request = only(build(&alert, &incident_api()).unwrap());
    let id = &request.headers[crate::WEBHOOK_ID];
    assert!(
        id.starts_with("msg_") && id.len() == 36 && id[4..].bytes().all(|b| b.is_ascii_hexdigit()),
        "{id}"
    );
    assert_eq!(
        request.headers[crate::WEBHOOK_TIMESTAMP],
        now().timestamp().to_string()
    );
    assert!(!request.headers.contains_key(crate::WEBHOOK_SIGNATURE));
    // The same message built again (a retry, another invocation) keeps its id.
    assert_eq!(&webhook_id_of(&alert, &incident_api()), id);
}

#[test]
fn the_webhook_id_differs_by_alert_integration_definition_and_step() {
    let alert = alert(AlertType::Alert);
    let base = webhook_id_of(&alert, &incident_api());

    let mut other_alert = alert.clone();
    other_alert.alert.alert_guid = "another-alert".to_owned();
    let mut other_definition = alert.clone();
    other_definition.alert_definition.guid = "another-definition".to_owned();
    let mut other_integration = incident_api();
    other_integration.id = "another-hook".to_owned();
    let mut other_step = incident_api();
    other_step.messages[0].steps[0].name = Some("open".to_owned());

    let others = [
        webhook_id_of(&other_alert, &incident_api()),
        webhook_id_of(&other_definition, &incident_api()),
        webhook_id_of(&alert, &other_integration),
        webhook_id_of(&alert, &other_step),
    ];
    for other in &others {
        assert_ne!(other, &base);
    }
    let distinct: std::collections::BTreeSet<_> = others.iter().collect();
    assert_eq!(distinct.len(), others.len());
}

#[test]
fn headers_the_integration_sets_itself_are_kept() {
    let mut integration = incident_api();
    integration.messages[0].steps[0]
        .headers
        .insert("Webhook-Id".to_owned(), "{{@incident.key}}".to_owned());
    let alert = alert(AlertType::Alert);
    let request = only(build(&alert, &integration).unwrap());
    assert_eq!(request.headers["Webhook-Id"], alert.incident.key);
    assert!(!request.headers.contains_key(crate::WEBHOOK_ID));
}

fn signed(integration: Integration, secret: &str) -> (Integration, Variables) {
    let mut integration = integration;
    integration
        .settings
        .insert("signingSecret".to_owned(), json!("{{SigningSecret}}"));
    let mut variables = variables();
    variables.insert_secret("SigningSecret", secret);
    (integration, variables)
}

#[test]
fn a_signing_secret_signs_id_timestamp_and_body() {
    use base64::Engine as _;
    for integration in [incident_api(), all_variables()] {
        let (integration, variables) = signed(integration, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
        let alert = alert(AlertType::Alert);
        let request = only(build_with(&alert, &integration, &variables).unwrap());
        let key = base64::engine::general_purpose::STANDARD
            .decode("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
            .unwrap();
        let expected = crate::sign(
            &key,
            &request.headers[crate::WEBHOOK_ID],
            &request.headers[crate::WEBHOOK_TIMESTAMP],
            &request.body,
        );
        assert_eq!(
            request.headers[crate::WEBHOOK_SIGNATURE],
            expected,
            "{}",
            integration.id
        );
        assert!(expected.starts_with("v1,"));
    }
}

#[test]
fn a_secret_without_the_prefix_signs_the_same() {
    let alert = alert(AlertType::Alert);
    let (with_prefix, variables) = signed(incident_api(), "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let first = only(build_with(&alert, &with_prefix, &variables).unwrap());
    let (bare, variables) = signed(incident_api(), "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw");
    let second = only(build_with(&alert, &bare, &variables).unwrap());
    assert_eq!(
        first.headers[crate::WEBHOOK_SIGNATURE],
        second.headers[crate::WEBHOOK_SIGNATURE]
    );
}

#[test]
fn an_invalid_signing_secret_is_refused_without_being_repeated() {
    let (integration, variables) = signed(incident_api(), "whsec_not*base64!");
    let error = permanent(build_with(&alert(AlertType::Alert), &integration, &variables));
    assert_eq!(
        error,
        "integration `ops-hook`, `settings.signingSecret`: is not a Standard Webhooks secret (`whsec_` followed by base64)"
    );
    assert!(!error.contains("not*base64"));
}

#[test]
fn signing_settings_are_validated() {
    let mut integration = incident_api();
    integration.settings.insert("signingSecret".to_owned(), json!(5));
    assert_eq!(
        permanent(WebhookTarget::parse(&integration)),
        "integration `ops-hook`: `settings.signingSecret`: invalid type: integer `5`, expected a string"
    );
    let mut integration = incident_api();
    integration
        .settings
        .insert("url".to_owned(), json!("https://x.example.com"));
    assert_eq!(
        permanent(WebhookTarget::parse(&integration)),
        "integration `ops-hook`: `settings.url`: only signingSecret and functions go with \"messages\" (the other settings are a preset's; set `preset`)"
    );
    let mut integration = incident_api();
    integration
        .settings
        .insert("signingSecret".to_owned(), json!("{{SigningSecret}}"));
    let target = WebhookTarget::parse(&integration).unwrap();
    assert_eq!(target.signing_secret.as_deref(), Some("{{SigningSecret}}"));
}

// ---------------------------------------------------------------------------------------------
// Signing key rotation, verified by a second implementation written from the specification

/// A Standard Webhooks verifier written from the specification (standard-webhooks.md, "Verifying
/// webhook authenticity") and RFC 2104, independent of the signer: HMAC-SHA256 built by hand on
/// SHA-256, the secret's `whsec_` prefix stripped and base64-decoded, the signed content
/// `{id}.{timestamp}.{body}`, the header a space-separated list of `v<n>,<base64>` of which any
/// `v1` may match, and a timestamp within five minutes of `now`.
fn verify(secret: &str, headers: &[(String, String)], body: &str, now: i64) -> bool {
    use base64::Engine as _;
    use sha2::Digest as _;
    let get = |name: &str| {
        headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    let (Some(id), Some(timestamp), Some(signatures)) = (
        get("webhook-id"),
        get("webhook-timestamp"),
        get("webhook-signature"),
    ) else {
        return false;
    };
    let Ok(sent_at) = timestamp.parse::<i64>() else {
        return false;
    };
    if (now - sent_at).abs() > 300 {
        return false;
    }
    let Ok(key) = base64::engine::general_purpose::STANDARD.decode(secret.trim_start_matches("whsec_"))
    else {
        return false;
    };
    // RFC 2104: H((K ^ opad) || H((K ^ ipad) || m)), K padded to the 64-byte block.
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&sha2::Sha256::digest(&key));
    } else {
        block[..key.len()].copy_from_slice(&key);
    }
    let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).collect();
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).collect();
    let content = format!("{id}.{timestamp}.{body}");
    let inner_hash = sha2::Sha256::digest([inner.as_slice(), content.as_bytes()].concat());
    let mac = sha2::Sha256::digest([outer.as_slice(), inner_hash.as_slice()].concat());
    let expected = base64::engine::general_purpose::STANDARD.encode(mac);
    signatures
        .split(' ')
        .filter_map(|signature| signature.split_once(','))
        .any(|(version, value)| version == "v1" && value == expected)
}

const OLD_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NEW_SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";

#[test]
fn the_independent_verifier_accepts_the_specification_vector() {
    let headers = vec![
        ("webhook-id".to_owned(), "msg_p5jXN8AQM9LWM0D4loKWxJek".to_owned()),
        ("webhook-timestamp".to_owned(), "1614265330".to_owned()),
        (
            "webhook-signature".to_owned(),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned(),
        ),
    ];
    assert!(verify(
        OLD_SECRET,
        &headers,
        r#"{"test": 2432232314}"#,
        1_614_265_330
    ));
    assert!(!verify(
        NEW_SECRET,
        &headers,
        r#"{"test": 2432232314}"#,
        1_614_265_330
    ));
    assert!(!verify(
        OLD_SECRET,
        &headers,
        r#"{"test": 2432232315}"#,
        1_614_265_330
    ));
}

#[tokio::test]
async fn several_secrets_sign_at_once_so_that_a_receiver_can_rotate() {
    // GIVEN an integration signing with the old and the new secret, pointed at a receiver
    let receiver =
        test_support::Receiver::start(test_support::Script::new().route("/in", [test_support::Reply::ok()]))
            .await;
    let mut integration = preset(json!({
        "preset": "all-variables",
        "url": receiver.url("/in"),
        "signingSecret": "{{OldSecret}} {{NewSecret}}",
    }));
    integration.variables.insert(
        "OldSecret".to_owned(),
        definition_store::VariableDef::Fixed("unused".to_owned()),
    );
    let mut variables = variables();
    variables.insert_secret("OldSecret", OLD_SECRET);
    variables.insert_secret("NewSecret", NEW_SECRET);
    let message = only_message(build_with(&alert(AlertType::Alert), &integration, &variables).unwrap());

    // WHEN it is sent
    notifier()
        .send(&message)
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    // THEN the receiver verifies it with either secret, and not with another
    let recorded = &receiver.requests_to("/in")[0];
    let signature = recorded.header("webhook-signature").unwrap_or_default();
    assert_eq!(signature.split(' ').count(), 2, "{signature}");
    let now = now().timestamp();
    assert!(verify(OLD_SECRET, &recorded.headers, &recorded.body, now));
    assert!(verify(NEW_SECRET, &recorded.headers, &recorded.body, now));
    assert!(!verify(
        "whsec_dGhpcyBpcyBub3QgdGhlIHNlY3JldA==",
        &recorded.headers,
        &recorded.body,
        now
    ));
}

// ---------------------------------------------------------------------------------------------
// Every preset file, built purely for every alert type: one snapshot per preset

/// The value a preset test gives a variable: a URL for the `…Url` ones, a recognisable word
/// otherwise.
fn sample_value(name: &str) -> String {
    if name.ends_with("Url") {
        format!("https://hooks.example.com/{name}/s3cret")
    } else {
        format!("sample-{name}")
    }
}

#[test]
fn every_preset_builds_for_every_alert_type() {
    for name in crate::presets::names() {
        if name == crate::presets::ALL_VARIABLES {
            // The native envelope, snapshotted by `preset_request`.
            continue;
        }
        let definition = crate::presets::load(name).unwrap_or_else(|problem| panic!("{problem}"));
        let mut integration = preset(json!({ "preset": name }));
        let mut variables = variables();
        for (variable, spec) in &definition.variables {
            if spec.default.is_some() {
                continue;
            }
            let value = sample_value(variable);
            integration.variables.insert(
                variable.clone(),
                definition_store::VariableDef::Fixed(value.clone()),
            );
            if spec.secret {
                variables.insert_secret(variable, &value);
            } else {
                variables.insert(variable, &value);
            }
        }
        let built: serde_json::Map<String, serde_json::Value> =
            [AlertType::Alert, AlertType::Reminder, AlertType::Ok]
                .into_iter()
                .map(|alert_type| {
                    let requests = build_with(&alert(alert_type), &integration, &variables)
                        .unwrap_or_else(|error| panic!("{name} {alert_type:?}: {error}"));
                    // Every preset sends on an Alert and an Ok; some send nothing on a Reminder.
                    assert!(
                        !requests.is_empty() || alert_type == AlertType::Reminder,
                        "{name} {alert_type:?}: nothing built"
                    );
                    (format!("{alert_type:?}"), rendered(&requests))
                })
                .collect();
        insta::assert_json_snapshot!(format!("preset_{name}"), built);
    }
}

#[test]
fn a_url_kept_in_a_secret_builds_with_its_placeholder_for_showing() {
    // GIVEN the Discord preset, its webhook URL a secret shown as `tocsin render` shows it
    let mut integration = preset(json!({ "preset": "discord" }));
    integration.variables.insert(
        "WebhookUrl".to_owned(),
        definition_store::VariableDef::Fixed("unused".to_owned()),
    );
    let mut variables = variables();
    variables.insert_secret("WebhookUrl", "[secret ssm:/tocsin/discord]");

    // THEN it builds, the placeholder in place of the URL
    let request = only(build_with(&alert(AlertType::Alert), &integration, &variables).unwrap());
    assert_eq!(request.url, "[secret ssm:/tocsin/discord]");

    // AND a value that is no URL is still refused, placeholder or not
    for value in [
        "hooks.example.com/[secret x]",
        "https://x.example.com/a b[secret x]",
    ] {
        let mut variables = self::variables();
        variables.insert_secret("WebhookUrl", value);
        let problem = permanent(build_with(&alert(AlertType::Alert), &integration, &variables));
        assert!(problem.contains("messages[0].steps[0].url"), "{value}: {problem}");
    }
}
