//! notify-servicenow: alerts as ServiceNow incidents (Table API) or events (Event Management).
//!
//! Mode `incident`: an Alert opens one incident (`correlation_id` = the incident key; a lookup
//! first, so that a retry after a lost answer adopts the incident instead of opening a second
//! one), a repeated Alert adds a work note to it, a Reminder sends nothing unless
//! `settings.reminders` is `update`, the Ok resolves it (`state` 6, `close_code`, `close_notes`)
//! by the `sys_id` kept in the Deliveries table, else by a query on `correlation_id`. Mode
//! `event`: every Alert is an event with `message_key` = the incident key (Event Management
//! deduplicates), the Ok a clear (severity `0`). Basic auth or OAuth 2 (password and
//! client-credentials grants; the token cached until it expires, never shown).
//!
//! [`ServiceNowNotifier`] builds purely (`payload`, from the lifecycle of `lifecycle`) and sends
//! one attempt (`send`); retries, idempotency and the delivery log belong to the runner.

mod config;
mod lifecycle;
mod payload;
mod send;

use alert_model::{Alert, AlertType, IntegrationKind};
use definition_store::{Integration, IntegrationCheck, Recipients, SecretRef, VariableDef};
use notify_core::{
    ConfigError, Field, HttpClient, Init, Kind, Notifier, NotifyError, Outgoing, RouteContext, SampleAnswer,
    SampleEnv, SampleRequest, Sent, Templates, Transport,
};
use serde_json::{Value, json};
use sha2::Digest as _;

pub use config::{AuthSettings, Grant, Mode, Reminders, ServiceNowSettings, ServiceNowTarget};
pub use lifecycle::{Kept, Plan, plan};
pub use payload::{
    Credentials, DEFAULT_CLOSE_CODE, EVENT_PATH, INCIDENT_PATH, MAX_CORRELATION_ID_CHARS,
    MAX_SHORT_DESCRIPTION_CHARS, Operation, ServiceNowMessage, TOKEN_PATH, TokenRequest, correlation_id,
};

/// The ServiceNow notifier: the shared HTTP client and the OAuth tokens of this process.
#[derive(Debug)]
pub struct ServiceNowNotifier {
    http: HttpClient,
    tokens: send::TokenCache,
}

impl ServiceNowNotifier {
    /// The notifier for the Lambda function: `notify_core::run(ServiceNowNotifier::new)`.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(ServiceNowNotifier::with_client(init.http.clone()))
    }

    /// A notifier sending through `http`.
    pub fn with_client(http: HttpClient) -> Self {
        ServiceNowNotifier {
            http,
            tokens: send::TokenCache::default(),
        }
    }
}

/// The built-in templates.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    (
        "servicenow.short_description",
        include_str!("../templates/servicenow.short_description.jinja"),
    ),
    (
        "servicenow.description",
        include_str!("../templates/servicenow.description.jinja"),
    ),
    (
        "servicenow.work_notes",
        include_str!("../templates/servicenow.work_notes.jinja"),
    ),
    (
        "servicenow.close_notes",
        include_str!("../templates/servicenow.close_notes.jinja"),
    ),
    (
        "servicenow.event_description",
        include_str!("../templates/servicenow.event_description.jinja"),
    ),
    (
        "servicenow.additional_info",
        include_str!("../templates/servicenow.additional_info.jinja"),
    ),
];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Notifier for ServiceNowNotifier {
    const KIND: IntegrationKind = IntegrationKind::Servicenow;
    // The incident's sys_id, whether it is open, and when it opened or closed.
    const INCIDENT_STATE: bool = true;
    type Target = ServiceNowTarget;
    type Message = ServiceNowMessage;

    fn target(&self, integration: &Integration) -> Result<ServiceNowTarget, NotifyError> {
        ServiceNowTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &ServiceNowTarget,
    ) -> Result<Vec<Outgoing<ServiceNowMessage>>, NotifyError> {
        payload::build_messages(route, target)
    }

    async fn send(&self, message: &ServiceNowMessage) -> Result<Sent, NotifyError> {
        send::send(&self.http, &self.tokens, message).await
    }

    fn describe(&self, message: &ServiceNowMessage) -> Value {
        payload::describe(message)
    }
}

impl Kind for ServiceNowNotifier {
    type Settings = ServiceNowSettings;
    const RECIPIENTS: Recipients = Recipients::Nobody;
    const TRANSPORT: Transport = Transport::Http;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        ServiceNowNotifier::new(init)
    }

    fn check(settings: &ServiceNowSettings, check: &mut IntegrationCheck<'_>) {
        for (path, problem) in config::problems(settings) {
            check.issue(&path, problem);
        }
        for (path, template) in templates_of(settings) {
            check.template(&path, template);
        }
    }

    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        sample_integration(id, env)
    }

    fn nothing_to_send(_integration: &Integration, alert: &Alert) -> String {
        match alert.alert.alert_type {
            AlertType::Reminder => lifecycle::REMINDERS_SKIPPED.to_owned(),
            AlertType::Ok => lifecycle::RESOLVED_ALREADY.to_owned(),
            AlertType::Alert => format!("the Alert {}", lifecycle::OUT_OF_ORDER),
        }
    }

    fn summary(description: &Value) -> String {
        let text = |pointer: &str| {
            description
                .pointer(pointer)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let operation = match text("/servicenow/operation").as_str() {
            "open" => Operation::Open,
            "note" => Operation::Note,
            "resolve" => Operation::Resolve,
            _ => Operation::Event,
        };
        format!(
            "{} {} ({}, correlation id {})",
            text("/request/method"),
            text("/request/url"),
            operation.describe(),
            text("/servicenow/correlationId")
        )
    }

    /// Mode `event` (the sample's variant 0): the description as text, `additionalInfo` as JSON.
    /// Mode `incident`: the short description as a subject, the description, work notes and close
    /// notes as text.
    fn set_templates(integration: &mut Integration, templates: &Templates) {
        let event = integration.settings.get("mode").and_then(Value::as_str) == Some("event");
        let fields: &[(&str, &str)] = if event {
            &[
                ("eventDescription", &templates.text),
                ("additionalInfo", &templates.json),
            ]
        } else {
            &[
                ("shortDescription", &templates.subject),
                ("description", &templates.text),
                ("workNotes", &templates.text),
                ("closeNotes", &templates.text),
            ]
        };
        for (name, template) in fields {
            integration
                .settings
                .insert((*name).to_owned(), Value::String((*template).to_owned()));
        }
    }

    fn fields(_step: &str, message: &ServiceNowMessage) -> Vec<Field> {
        message.rendered.clone()
    }

    fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
        sample_answer(request)
    }
}

/// Every template of the settings, with its path.
fn templates_of(settings: &ServiceNowSettings) -> Vec<(String, &str)> {
    let mut templates: Vec<(String, &str)> =
        vec![("settings.instanceUrl".to_owned(), settings.instance_url.as_str())];
    match &settings.auth {
        AuthSettings::Basic { username, password } => {
            templates.push(("settings.auth.username".to_owned(), username));
            templates.push(("settings.auth.password".to_owned(), password));
        }
        AuthSettings::Oauth {
            client_id,
            client_secret,
            username,
            password,
            ..
        } => {
            templates.push(("settings.auth.clientId".to_owned(), client_id));
            templates.push(("settings.auth.clientSecret".to_owned(), client_secret));
            if let Some(username) = username {
                templates.push(("settings.auth.username".to_owned(), username));
            }
            if let Some(password) = password {
                templates.push(("settings.auth.password".to_owned(), password));
            }
        }
    }
    let optional = [
        ("shortDescription", &settings.short_description),
        ("description", &settings.description),
        ("urgency", &settings.urgency),
        ("impact", &settings.impact),
        ("callerId", &settings.caller_id),
        ("assignmentGroup", &settings.assignment_group),
        ("category", &settings.category),
        ("cmdbCi", &settings.cmdb_ci),
        ("workNotes", &settings.work_notes),
        ("closeCode", &settings.close_code),
        ("closeNotes", &settings.close_notes),
        ("source", &settings.source),
        ("node", &settings.node),
        ("eventType", &settings.event_type),
        ("resource", &settings.resource),
        ("metricName", &settings.metric_name),
        ("eventClass", &settings.event_class),
        ("severity", &settings.severity),
        ("eventDescription", &settings.event_description),
        ("additionalInfo", &settings.additional_info),
    ];
    for (name, template) in optional {
        if let Some(template) = template {
            templates.push((format!("settings.{name}"), template));
        }
    }
    for (column, template) in &settings.fields {
        templates.push((format!("settings.fields.{column}"), template));
    }
    templates
}

/// A ServiceNow instance at `env.base_url/hooks/<id>`: Event Management for even variants (one
/// request per message), incidents for odd ones. Basic auth with the password in a secret variable
/// (`env.secret`, else a fixed sample value). Every text names the alert and the integration
/// (`<alert id> via <integration>`), so that test targets can count deliveries by route.
fn sample_integration(id: &str, env: &SampleEnv<'_>) -> Integration {
    let password = match env.secret {
        Some(secret) => VariableDef::Secret {
            secret: SecretRef(secret.to_owned()),
        },
        None => VariableDef::Fixed("sample-password".to_owned()),
    };
    let variables = [
        ("BaseUrl".to_owned(), VariableDef::Fixed(env.base_url.to_owned())),
        ("Password".to_owned(), password),
    ]
    .into();
    let named = format!("{{{{@alert.alertGuid}}}} via {id}");
    let mut settings = json!({
        "instanceUrl": format!("{{{{BaseUrl}}}}/hooks/{id}"),
        "auth": {"type": "basic", "username": "tocsin", "password": "{{Password}}"},
    });
    if env.variant.is_multiple_of(2) {
        settings["mode"] = json!("event");
        settings["eventDescription"] = json!(format!("{named}: {{{{@monitor.name}}}} {{{{@alert.type}}}}"));
    } else {
        settings["shortDescription"] = json!(format!("{named}: {{{{@monitor.name}}}} is down"));
        settings["description"] = json!(format!("{named}: {{{{@alert.description}}}}"));
        settings["workNotes"] = json!(format!("{named}: {{{{@alert.type}}}} again"));
        settings["closeNotes"] = json!(format!("{named}: resolved"));
        settings["urgency"] = json!("2");
        settings["impact"] = json!("2");
    }
    Integration {
        id: id.to_owned(),
        name: format!("Sample ServiceNow {id}"),
        kind: IntegrationKind::Servicenow,
        active: true,
        variables,
        messages: Vec::new(),
        settings: match settings {
            Value::Object(map) => map,
            _ => Default::default(),
        },
        fallback: None,
    }
}

/// How an instance answers the kind's requests (for the demo and the suites' local targets): a
/// lookup finds nothing, a create answers 201 with a `sys_id` derived from its body, an update 200
/// with the record, an event 200 as Event Management does, a token request a bearer token.
fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
    let path = request.path.trim_end_matches('/');
    let digest = payload::hex(&sha2::Sha256::digest(request.body.as_bytes()));
    let sys_id = digest.get(..32).unwrap_or_default().to_owned();
    let number = format!(
        "INC{:07}",
        u64::from_str_radix(digest.get(..8).unwrap_or("0"), 16).unwrap_or(0) % 10_000_000
    );
    let answer = |status: u16, body: Value| {
        Some(SampleAnswer {
            status,
            body: body.to_string(),
        })
    };
    let method = request.method.to_ascii_uppercase();
    if path.ends_with(INCIDENT_PATH) {
        return match method.as_str() {
            "GET" => answer(200, json!({"result": []})),
            "POST" => {
                let fields: Value = serde_json::from_str(request.body).unwrap_or(Value::Null);
                answer(
                    201,
                    json!({"result": {
                        "sys_id": sys_id,
                        "number": number,
                        "state": "1",
                        "active": "true",
                        "correlation_id": fields.get("correlation_id").cloned().unwrap_or(Value::Null),
                    }}),
                )
            }
            _ => None,
        };
    }
    if let Some((_, id)) = path.rsplit_once(&format!("{INCIDENT_PATH}/"))
        && matches!(method.as_str(), "PATCH" | "PUT")
    {
        return answer(200, json!({"result": {"sys_id": id, "number": number}}));
    }
    if path.ends_with(EVENT_PATH) && method == "POST" {
        return answer(
            200,
            json!({"result": {"Default Bulk Endpoint": "1 events were inserted"}}),
        );
    }
    if path.ends_with(TOKEN_PATH) && method == "POST" {
        return answer(
            200,
            json!({
                "access_token": format!("sample-{}", digest.get(..24).unwrap_or_default()),
                "refresh_token": "sample-refresh",
                "scope": "useraccount",
                "token_type": "Bearer",
                "expires_in": 1799,
            }),
        );
    }
    None
}

#[cfg(test)]
mod tests;
