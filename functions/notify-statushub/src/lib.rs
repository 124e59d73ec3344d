//! notify-statushub: alerts as incidents on a StatusHub status page (Management API v3).
//!
//! The integration holds the hub's services; each escalation level links monitors to them
//! (`serviceLinks`, many to many). An Alert creates an incident (`investigating`) with the linked
//! services down (or degraded), the Ok updates it (`monitoring` with the services up, or
//! `resolved`) through the incident id kept in the Deliveries table; a repeated Alert adds the
//! services its level links that the incident lacks (else a silent update restating it); a Reminder sends nothing unless the
//! integration asks for a silent update. StatusHub takes 5 writes a second per key: the notifier
//! counts its writes per hub and leaves a write the limit does not allow yet to the runner's retry,
//! after the time the limit needs; a `429` with `Retry-After` is honoured the same way.
//!
//! [`StatusHubNotifier`] builds purely (`payload`, from the lifecycle of `lifecycle`) and sends
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

pub use config::{AlertStatus, OkState, Reminders, StatusHubSettings, StatusHubTarget, service_id};
pub use lifecycle::{Kept, Plan, Rules, UpdateType, plan};
pub use payload::{MAX_TITLE_CHARS, Operation, StatusHubMessage};
pub use send::{WINDOW, WRITES_PER_WINDOW, WriteLimiter};

/// The StatusHub notifier: the shared HTTP client and the writes of this process per hub.
#[derive(Debug)]
pub struct StatusHubNotifier {
    http: HttpClient,
    limiter: WriteLimiter,
}

impl StatusHubNotifier {
    /// The notifier for the Lambda function: `notify_core::run(StatusHubNotifier::new)`.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(StatusHubNotifier::with_client(init.http.clone()))
    }

    /// A notifier sending through `http`.
    pub fn with_client(http: HttpClient) -> Self {
        StatusHubNotifier {
            http,
            limiter: WriteLimiter::default(),
        }
    }
}

/// The built-in templates.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    (
        "statushub.title",
        include_str!("../templates/statushub.title.jinja"),
    ),
    (
        "statushub.body",
        include_str!("../templates/statushub.body.jinja"),
    ),
    (
        "statushub.ok_title",
        include_str!("../templates/statushub.ok_title.jinja"),
    ),
    (
        "statushub.ok_body",
        include_str!("../templates/statushub.ok_body.jinja"),
    ),
];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Notifier for StatusHubNotifier {
    const KIND: IntegrationKind = IntegrationKind::Statushub;
    // StatusHub's incident id, its services, whether it is open, and when it opened or closed.
    const INCIDENT_STATE: bool = true;
    type Target = StatusHubTarget;
    type Message = StatusHubMessage;

    fn target(&self, integration: &Integration) -> Result<StatusHubTarget, NotifyError> {
        StatusHubTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &StatusHubTarget,
    ) -> Result<Vec<Outgoing<StatusHubMessage>>, NotifyError> {
        payload::build_messages(route, target)
    }

    async fn send(&self, message: &StatusHubMessage) -> Result<Sent, NotifyError> {
        send::send(&self.http, &self.limiter, message).await
    }

    fn describe(&self, message: &StatusHubMessage) -> Value {
        payload::describe(message)
    }
}

impl Kind for StatusHubNotifier {
    type Settings = StatusHubSettings;
    const RECIPIENTS: Recipients = Recipients::Nobody;
    const TRANSPORT: Transport = Transport::Http;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        StatusHubNotifier::new(init)
    }

    fn check(settings: &StatusHubSettings, check: &mut IntegrationCheck<'_>) {
        for (path, problem) in config::problems(settings) {
            check.issue(&path, problem);
        }
        let templates = [
            ("apiUrl", Some(&settings.api_url)),
            ("apiKey", Some(&settings.api_key)),
            ("title", settings.title.as_ref()),
            ("body", settings.body.as_ref()),
            ("okTitle", settings.ok_title.as_ref()),
            ("okBody", settings.ok_body.as_ref()),
        ];
        for (name, template) in templates {
            if let Some(template) = template {
                check.template(&format!("settings.{name}"), template);
            }
        }
    }

    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        sample_integration(id, env)
    }

    fn nothing_to_send(_integration: &Integration, alert: &Alert) -> String {
        match alert.alert.alert_type {
            AlertType::Alert => format!(
                "for an Alert: {}; or {}; or the Alert {}",
                lifecycle::NO_SERVICE,
                lifecycle::ID_UNKNOWN,
                lifecycle::OUT_OF_ORDER
            ),
            AlertType::Reminder => format!(
                "{}; or {}",
                lifecycle::REMINDERS_SKIPPED,
                lifecycle::NO_OPEN_INCIDENT
            ),
            AlertType::Ok => lifecycle::RESOLVED_ALREADY.to_owned(),
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
        match text("/statushub/operation").as_str() {
            "remember" => format!("no request: {}", text("/statushub/note")),
            operation => format!(
                "POST {} ({})",
                text("/request/url"),
                if operation == "create" {
                    "create an incident"
                } else {
                    "update the incident"
                }
            ),
        }
    }

    /// The titles as subjects, the bodies as HTML.
    fn set_templates(integration: &mut Integration, templates: &Templates) {
        for (name, template) in [
            ("title", &templates.subject),
            ("body", &templates.html),
            ("okTitle", &templates.subject),
            ("okBody", &templates.html),
        ] {
            integration
                .settings
                .insert(name.to_owned(), Value::String(template.clone()));
        }
    }

    fn fields(_step: &str, message: &StatusHubMessage) -> Vec<Field> {
        message.rendered.clone()
    }

    fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
        sample_answer(request)
    }

    fn service_problem(settings: &StatusHubSettings, service: &str) -> Option<String> {
        service_id(settings, service).err()
    }
}

/// A hub at `env.base_url/hooks/<id>/api/v3` with two services, `website` affected by default
/// (no level of the suites links services); variant 1 degrades and resolves instead. The key in a
/// secret variable (`env.secret`, else a fixed sample value). Every text names the alert and the
/// integration (`<alert id> via <integration>`), so that test targets can count deliveries by
/// route.
fn sample_integration(id: &str, env: &SampleEnv<'_>) -> Integration {
    let key = match env.secret {
        Some(secret) => VariableDef::Secret {
            secret: SecretRef(secret.to_owned()),
        },
        None => VariableDef::Fixed("sample-api-key".to_owned()),
    };
    let variables = [
        ("BaseUrl".to_owned(), VariableDef::Fixed(env.base_url.to_owned())),
        ("ApiKey".to_owned(), key),
    ]
    .into();
    let named = format!("{{{{@alert.alertGuid}}}} via {id}");
    let mut settings = json!({
        "apiUrl": format!("{{{{BaseUrl}}}}/hooks/{id}/api/v3"),
        "hub": "tocsin-sample",
        "apiKey": "{{ApiKey}}",
        "services": {"website": 101, "api": 102},
        "defaultServices": ["website"],
        "title": format!("{named}: {{{{@monitor.name}}}} is disrupted"),
        "body": format!("<p>{named}: {{{{@alert.description}}}}</p>"),
        "okTitle": format!("{named}: {{{{@monitor.name}}}} is operating normally"),
        "okBody": format!("<p>{named}: resolved</p>"),
    });
    if !env.variant.is_multiple_of(2) {
        settings["alertStatus"] = json!("degradedPerformance");
        settings["okState"] = json!("resolved");
    }
    Integration {
        id: id.to_owned(),
        name: format!("Sample StatusHub {id}"),
        kind: IntegrationKind::Statushub,
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

/// How a hub answers the kind's requests (for the demo and the suites' local targets): a create
/// `201` with the incident's id (derived from the body), an update `201` with the update's.
fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
    if !request.method.eq_ignore_ascii_case("POST") || !request.path.contains("/hubs/") {
        return None;
    }
    let digest = sha2::Sha256::digest(request.body.as_bytes());
    let number = digest
        .iter()
        .take(4)
        .fold(0u64, |number, byte| number * 256 + u64::from(*byte))
        % 1_000_000
        + 1;
    let body: Value = serde_json::from_str(request.body).unwrap_or(Value::Null);
    let path = request.path.trim_end_matches('/');
    let answer = if path.ends_with("/incidents") {
        json!({
            "id": number,
            "title": body["title"],
            "incident_type": body["incident_type"],
            "start_time": body["start_time"],
        })
    } else if let Some((incident, _)) = path
        .strip_suffix("/incident_updates")
        .and_then(|rest| rest.rsplit_once("/incidents/").map(|(_, id)| (id, ())))
    {
        json!({
            "id": number,
            "incident_id": incident.parse::<u64>().map_or(Value::String(incident.to_owned()), Value::from),
            "incident_type": body["incident_type"],
        })
    } else {
        return None;
    };
    Some(SampleAnswer {
        status: 201,
        body: answer.to_string(),
    })
}

#[cfg(test)]
mod tests;
