//! notify-jsm: alerts as Jira Service Management (Operations) alerts, or Opsgenie alerts: the two
//! APIs have the same shape, so one kind serves both by `settings.api` (base URL and path) with
//! the same `Authorization: GenieKey` header.
//!
//! [`JsmNotifier`] sends one request per route: a create on an Alert (`alias` = the incident key,
//! `message` ≤ 130 characters, description, priority through `priorityMap`, responders, tags,
//! details), a close by alias (`identifierType=alias`) on an Ok; a Reminder sends nothing unless
//! `settings.sendReminders` (then the create again, which the API counts on the open alert). The
//! API answers `202` with a `requestId` and processes the request later: accepted is delivered (a
//! close of an alert that does not exist fails in that processing, harmlessly). A 4xx with the
//! API's `message` is permanent, with the message in the delivery log; 429 and 5xx are retried by
//! the runner. The incident state ([`notify_core::incident`]) keeps a late Alert from opening an
//! alert no Ok closes.

mod config;
mod payload;

use alert_model::{Alert, IntegrationKind};
use definition_store::{Integration, IntegrationCheck, Recipients, VariableDef};
use notify_core::{
    ConfigError, Context, Field, HttpAnswer, HttpClient, HttpRequest, Init, Kind, Notifier, NotifyError,
    Outgoing, RouteContext, SampleAnswer, SampleEnv, SampleRequest, Sent, Templates, Transport,
    http::truncate_utf8, incident,
};
use serde_json::{Value, json};

pub use config::{
    API_KEY_VARIABLE, Api, JSM_URL, JsmSettings, JsmTarget, MAX_RESPONDERS, MAX_TAGS, OPSGENIE_EU_URL,
    OPSGENIE_US_URL, Priority, Region, Responder, ResponderKind,
};
pub use payload::{
    Body, Close, Create, JsmRequest, MAX_ALIAS_BYTES, MAX_DESCRIPTION_BYTES, MAX_DETAILS_CHARS,
    MAX_ENTITY_CHARS, MAX_MESSAGE_CHARS, MAX_NOTE_CHARS, MAX_SOURCE_CHARS, MAX_TAG_CHARS, SOURCE,
};

/// The Jira Service Management / Opsgenie notifier: the shared HTTP client.
#[derive(Debug)]
pub struct JsmNotifier {
    http: HttpClient,
}

impl JsmNotifier {
    /// The notifier for the Lambda function: `notify_core::run(JsmNotifier::new)`.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(JsmNotifier::with_client(init.http.clone()))
    }

    /// A notifier sending through `http`.
    pub fn with_client(http: HttpClient) -> Self {
        JsmNotifier { http }
    }
}

/// The built-in templates: `jsm.message`, `jsm.description`, `jsm.note`.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    ("jsm.message", include_str!("../templates/jsm.message.jinja")),
    (
        "jsm.description",
        include_str!("../templates/jsm.description.jinja"),
    ),
    ("jsm.note", include_str!("../templates/jsm.note.jinja")),
];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Notifier for JsmNotifier {
    const KIND: IntegrationKind = IntegrationKind::Jsm;
    // The time of the latest create and close per incident: a late message opens or closes nothing.
    const INCIDENT_STATE: bool = true;
    type Target = JsmTarget;
    type Message = JsmRequest;

    fn target(&self, integration: &Integration) -> Result<JsmTarget, NotifyError> {
        JsmTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &JsmTarget,
    ) -> Result<Vec<Outgoing<JsmRequest>>, NotifyError> {
        payload::build_requests(route, target)
    }

    async fn send(&self, message: &JsmRequest) -> Result<Sent, NotifyError> {
        let request = message.request()?;
        let answer = self.http.exchange(&request).await?;
        if let Some(refusal) = refusal(&answer) {
            return Err(refusal);
        }
        let mut sent = answer.classified()?;
        // The API processes the request later: its id is what the delivery log can point to.
        sent.external_id = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| body["requestId"].as_str().map(str::to_owned));
        sent.incident = message.keep.clone();
        Ok(sent)
    }

    fn describe(&self, message: &JsmRequest) -> Value {
        json!({ "request": shown_request(message) })
    }
}

/// The request as `tocsin render` and the delivery log show it: the API key masked (a secret
/// variable's placeholder is kept: it names the secret).
fn shown_request(message: &JsmRequest) -> HttpRequest {
    let mut shown = message.clone();
    if !shown.api_key.starts_with("[secret ") {
        shown.api_key = "[api key]".to_owned();
    }
    shown.request().unwrap_or_else(|_| HttpRequest {
        method: "POST".to_owned(),
        url: shown.url.clone(),
        headers: Default::default(),
        body: String::new(),
    })
}

/// The API's refusal of a request (a 4xx other than 408 and 429, with `{"message": …, "errors":
/// {…}}`) as a permanent error naming its message and errors; `None` for any other answer.
fn refusal(answer: &HttpAnswer) -> Option<NotifyError> {
    if !(400..500).contains(&answer.status) || answer.status == 408 || answer.status == 429 {
        return None;
    }
    let body: Value = serde_json::from_str(&answer.body).ok()?;
    let message = body["message"].as_str()?;
    let errors: Vec<String> = body["errors"]
        .as_object()
        .map(|errors| {
            errors
                .iter()
                .map(|(field, error)| format!("{field}: {}", error.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let errors = if errors.is_empty() {
        String::new()
    } else {
        format!(": {}", errors.join("; "))
    };
    // The API's words come last and are cut at the end, where redaction looks for a cut-off secret.
    let reason = format!(
        "{}: status {}: the alert API refused the request ({message}){errors}",
        answer.label, answer.status
    );
    Some(NotifyError::Permanent {
        reason: truncate_utf8(&reason, 1024),
        status: Some(answer.status),
    })
}

impl Kind for JsmNotifier {
    type Settings = JsmSettings;
    const RECIPIENTS: Recipients = Recipients::Nobody;
    const TRANSPORT: Transport = Transport::Http;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        JsmNotifier::new(init)
    }

    fn check(settings: &JsmSettings, check: &mut IntegrationCheck<'_>) {
        for (path, problem) in config::problems(settings, check.integration()) {
            check.issue(&path, problem);
        }
        let mut templates: Vec<(String, &String)> = [
            ("settings.url", &settings.url),
            ("settings.apiKey", &settings.api_key),
            ("settings.message", &settings.message),
            ("settings.description", &settings.description),
            ("settings.priority", &settings.priority),
            ("settings.entity", &settings.entity),
            ("settings.closeNote", &settings.close_note),
        ]
        .into_iter()
        .filter_map(|(path, template)| template.as_ref().map(|template| (path.to_owned(), template)))
        .collect();
        templates.extend(
            settings
                .tags
                .iter()
                .enumerate()
                .map(|(index, tag)| (format!("settings.tags[{index}]"), tag)),
        );
        templates.extend(
            settings
                .details
                .iter()
                .map(|(name, value)| (format!("settings.details.{name}"), value)),
        );
        for (path, template) in templates {
            if !template.trim().is_empty() {
                check.template(&path, template);
            }
        }
    }

    /// Requests to `env.base_url`/hooks/`id`/jsm/ops/integration/v2/alerts with the API key from a
    /// secret variable (`env.secret`), else a fixed one.
    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        let api_key = match env.secret {
            Some(secret) => VariableDef::Secret {
                secret: definition_store::SecretRef(secret.to_owned()),
            },
            None => VariableDef::Fixed("4f3c2b1a-0e9d-8c7b-6a59-483726150f4e".to_owned()),
        };
        let settings = json!({
            "url": format!("{{{{BaseUrl}}}}/hooks/{id}"),
            "responders": [{"type": "team", "name": "Ops"}],
            "tags": ["tocsin", "{{@monitor.type}}"],
        });
        Integration {
            id: id.to_owned(),
            name: format!("Sample Jira Service Management {id}"),
            kind: IntegrationKind::Jsm,
            active: true,
            variables: [
                ("BaseUrl".to_owned(), VariableDef::Fixed(env.base_url.to_owned())),
                (API_KEY_VARIABLE.to_owned(), api_key),
            ]
            .into(),
            messages: Vec::new(),
            settings: match settings {
                Value::Object(map) => map,
                _ => Default::default(),
            },
            fallback: None,
        }
    }

    fn nothing_to_send(integration: &Integration, alert: &Alert) -> String {
        let reminders = JsmTarget::parse(integration).is_ok_and(|target| target.send_reminders);
        incident::nothing_to_send(
            alert,
            "Jira Service Management",
            reminders,
            "the Ok has no incident key (alias) to close by",
        )
    }

    fn summary(description: &Value) -> String {
        let request = &description["request"];
        let body: Value = request["body"]
            .as_str()
            .and_then(|body| serde_json::from_str(body).ok())
            .unwrap_or_default();
        match body["message"].as_str() {
            Some(message) => format!(
                "jsm create {} ({}): \"{message}\"",
                body["alias"].as_str().unwrap_or_default(),
                body["priority"].as_str().unwrap_or("default priority")
            ),
            None => format!("jsm close {}", request["url"].as_str().unwrap_or_default()),
        }
    }

    /// The message (subject) and the description (text). The URL is the API's base, where a
    /// template's query has no place, so it keeps the sample's.
    fn set_templates(integration: &mut Integration, templates: &Templates) {
        let settings = &mut integration.settings;
        settings.insert("message".to_owned(), Value::String(templates.subject.clone()));
        settings.insert("description".to_owned(), Value::String(templates.text.clone()));
    }

    /// The message and the description of a create.
    fn fields(_step: &str, message: &JsmRequest) -> Vec<Field> {
        match &message.body {
            Body::Create(create) => vec![
                Field::new("settings.message", Context::Subject, &create.message),
                Field::new(
                    "settings.description",
                    Context::CutText(MAX_DESCRIPTION_BYTES),
                    &create.description,
                ),
            ],
            Body::Close(_) => Vec::new(),
        }
    }

    /// `202 {"result": "Request will be processed", "took": 0.01, "requestId": …}` to a POST of the
    /// alert API.
    fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
        let alerts =
            request.path.contains("/jsm/ops/integration/v2/alerts") || request.path.contains("/v2/alerts");
        if request.method != "POST" || !alerts {
            return None;
        }
        Some(SampleAnswer {
            status: 202,
            body: json!({"result": "Request will be processed", "took": 0.01, "requestId": "00000000-0000-4000-8000-000000000000"})
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
