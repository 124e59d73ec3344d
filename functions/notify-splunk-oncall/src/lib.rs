//! notify-splunk-oncall: alerts as Splunk On-Call (VictorOps) incidents through the REST endpoint
//! integration.
//!
//! [`SplunkOnCallNotifier`] sends one message per route to `<REST endpoint URL>/<routing key>`:
//! `CRITICAL` on an Alert (`WARNING` or `INFO` by `settings.messageType`), `RECOVERY` on an Ok,
//! with `entity_id` = the incident key, so that the Ok resolves what the Alert opened and a
//! repeated Alert joins the open incident; a Reminder sends nothing unless
//! `settings.sendReminders`. The URL holds the API key (a secret variable, `ApiKey` by default);
//! the routing key is a variable too (a secret, or one per escalation level). `entity_display_name`
//! and `state_message` are templates (the built-in `splunk-oncall.title` and
//! `splunk-oncall.message`); `state_start_time`, `timestamp` and `monitoring_tool` are set, and the
//! alert's identifying values are custom fields. A `{"result": "failure"}` answer is permanent,
//! with its message in the delivery log; 429 and 5xx are retried by the runner. The incident state
//! ([`notify_core::incident`]) keeps a late Alert from opening an incident no Ok resolves.

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
    API_KEY_VARIABLE, DEFAULT_URL, MONITORING_TOOL, MessageType, ROUTING_KEY_PLACEHOLDER,
    ROUTING_KEY_VARIABLE, SplunkOnCallSettings, SplunkOnCallTarget,
};
pub use payload::{
    Body, MAX_ENTITY_ID_BYTES, MAX_STATE_MESSAGE_BYTES, MAX_TITLE_CHARS, RECOVERY, SplunkOnCallMessage,
};

/// The Splunk On-Call notifier: the shared HTTP client.
#[derive(Debug)]
pub struct SplunkOnCallNotifier {
    http: HttpClient,
}

impl SplunkOnCallNotifier {
    /// The notifier for the Lambda function: `notify_core::run(SplunkOnCallNotifier::new)`.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(SplunkOnCallNotifier::with_client(init.http.clone()))
    }

    /// A notifier sending through `http`.
    pub fn with_client(http: HttpClient) -> Self {
        SplunkOnCallNotifier { http }
    }
}

/// The built-in templates: `splunk-oncall.title`, `splunk-oncall.message`.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    (
        "splunk-oncall.title",
        include_str!("../templates/splunk-oncall.title.jinja"),
    ),
    (
        "splunk-oncall.message",
        include_str!("../templates/splunk-oncall.message.jinja"),
    ),
];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Notifier for SplunkOnCallNotifier {
    const KIND: IntegrationKind = IntegrationKind::SplunkOnCall;
    // The time of the latest open and recovery per incident: a late message opens or closes nothing.
    const INCIDENT_STATE: bool = true;
    type Target = SplunkOnCallTarget;
    type Message = SplunkOnCallMessage;

    fn target(&self, integration: &Integration) -> Result<SplunkOnCallTarget, NotifyError> {
        SplunkOnCallTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &SplunkOnCallTarget,
    ) -> Result<Vec<Outgoing<SplunkOnCallMessage>>, NotifyError> {
        payload::build_messages(route, target)
    }

    async fn send(&self, message: &SplunkOnCallMessage) -> Result<Sent, NotifyError> {
        let request = message.request()?;
        let answer = self.http.exchange(&request).await?;
        if let Some(refusal) = refusal(&answer) {
            return Err(refusal);
        }
        let mut sent = answer.classified()?;
        sent.external_id = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| body["entity_id"].as_str().map(str::to_owned))
            .or_else(|| message.body.entity_id.clone());
        sent.incident = message.keep.clone();
        Ok(sent)
    }

    fn describe(&self, message: &SplunkOnCallMessage) -> Value {
        json!({ "request": shown_request(message) })
    }
}

/// The request as `tocsin render` and the delivery log show it: the API key in the URL masked (a
/// secret variable's placeholder is kept: it names the secret).
fn shown_request(message: &SplunkOnCallMessage) -> HttpRequest {
    let mut shown = message.clone();
    shown.url = masked_url(&message.url);
    shown.request().unwrap_or_else(|_| HttpRequest {
        method: "POST".to_owned(),
        url: shown.url.clone(),
        headers: Default::default(),
        body: String::new(),
    })
}

/// `…/alert/[api key]/<routing key>` for Splunk On-Call's URL form; other URLs as they are.
fn masked_url(url: &str) -> String {
    const MARK: &str = "/alert/";
    let Some(start) = url.rfind(MARK).map(|at| at + MARK.len()) else {
        return url.to_owned();
    };
    let Some(length) = url[start..].find('/') else {
        return url.to_owned();
    };
    let key = &url[start..start + length];
    if key.contains("[secret ") || key.contains("%5Bsecret%20") {
        return url.to_owned();
    }
    format!("{}[api key]{}", &url[..start], &url[start + length..])
}

/// Splunk On-Call's refusal (`{"result": "failure", "message": …}`, whatever the status, a 200
/// included) as a permanent error that names its message; `None` when the answer is not one.
fn refusal(answer: &HttpAnswer) -> Option<NotifyError> {
    let body: Value = serde_json::from_str(&answer.body).ok()?;
    let result = body["result"].as_str()?;
    if result.eq_ignore_ascii_case("success") || answer.status == 429 || answer.status >= 500 {
        return None;
    }
    let message = body["message"].as_str().unwrap_or("no message");
    // The message comes last and is cut at the end, where redaction looks for a cut-off secret.
    let reason = format!(
        "{}: status {}: splunk on-call refused the message ({result}): {message}",
        answer.label, answer.status
    );
    Some(NotifyError::Permanent {
        reason: truncate_utf8(&reason, 1024),
        status: Some(answer.status),
    })
}

/// Where the URLs of [`Kind::set_templates`] put the URL template: after `{{BaseUrl}}/in/`.
const URL_TEMPLATE_BASE: &str = "/in/";

impl Kind for SplunkOnCallNotifier {
    type Settings = SplunkOnCallSettings;
    const RECIPIENTS: Recipients = Recipients::Nobody;
    const TRANSPORT: Transport = Transport::Http;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        SplunkOnCallNotifier::new(init)
    }

    fn check(settings: &SplunkOnCallSettings, check: &mut IntegrationCheck<'_>) {
        for (path, problem) in config::problems(settings, check.integration()) {
            check.issue(&path, problem);
        }
        let templates = [
            ("settings.url", &settings.url),
            ("settings.routingKey", &settings.routing_key),
            ("settings.entityDisplayName", &settings.entity_display_name),
            ("settings.stateMessage", &settings.state_message),
        ];
        for (path, template) in templates {
            if let Some(template) = template.as_deref().filter(|t| !t.trim().is_empty()) {
                check.template(path, template);
            }
        }
    }

    /// Messages to `env.base_url`/hooks/`id`/integrations/generic/20131114/alert/`<api key>`/ops
    /// with the API key from a secret variable (`env.secret`), else a fixed one.
    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        let api_key = match env.secret {
            Some(secret) => VariableDef::Secret {
                secret: definition_store::SecretRef(secret.to_owned()),
            },
            None => VariableDef::Fixed("0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0".to_owned()),
        };
        let settings = json!({
            "url": format!("{{{{BaseUrl}}}}/hooks/{id}/integrations/generic/20131114/alert/{{{{{API_KEY_VARIABLE}}}}}"),
        });
        Integration {
            id: id.to_owned(),
            name: format!("Sample Splunk On-Call {id}"),
            kind: IntegrationKind::SplunkOnCall,
            active: true,
            variables: [
                ("BaseUrl".to_owned(), VariableDef::Fixed(env.base_url.to_owned())),
                (API_KEY_VARIABLE.to_owned(), api_key),
                (
                    ROUTING_KEY_VARIABLE.to_owned(),
                    VariableDef::Fixed("ops".to_owned()),
                ),
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
        let reminders = SplunkOnCallTarget::parse(integration).is_ok_and(|target| target.send_reminders);
        incident::nothing_to_send(
            alert,
            "Splunk On-Call",
            reminders,
            "the Ok has no incident key (entity_id) to recover",
        )
    }

    fn summary(description: &Value) -> String {
        let body: Value = description["request"]["body"]
            .as_str()
            .and_then(|body| serde_json::from_str(body).ok())
            .unwrap_or_default();
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let title = text(&body["entity_display_name"]);
        let shown: String = title.chars().take(80).collect();
        let more = if shown.len() < title.len() { "…" } else { "" };
        format!(
            "splunk-oncall {} {}: \"{shown}{more}\"",
            text(&body["message_type"]),
            text(&body["entity_id"])
        )
    }

    /// The URL `{{BaseUrl}}/in/<url template>`, the title (subject) and the state message (text).
    fn set_templates(integration: &mut Integration, templates: &Templates) {
        let settings = &mut integration.settings;
        settings.insert(
            "url".to_owned(),
            Value::String(format!("{{{{BaseUrl}}}}{URL_TEMPLATE_BASE}{}", templates.url)),
        );
        settings.insert(
            "entityDisplayName".to_owned(),
            Value::String(templates.subject.clone()),
        );
        settings.insert("stateMessage".to_owned(), Value::String(templates.text.clone()));
    }

    /// The URL's path after `{{BaseUrl}}/in/` (the routing key at its end), the title and the
    /// state message.
    fn fields(_step: &str, message: &SplunkOnCallMessage) -> Vec<Field> {
        let url = message
            .url
            .split_once(URL_TEMPLATE_BASE)
            .map_or(message.url.as_str(), |(_, rest)| rest);
        let url = url
            .strip_suffix(&message.routing_key)
            .and_then(|url| url.strip_suffix('/'))
            .unwrap_or(url);
        vec![
            Field::new("settings.url", Context::Url, url),
            Field::new(
                "settings.entityDisplayName",
                Context::Subject,
                &message.body.entity_display_name,
            ),
            Field::new(
                "settings.stateMessage",
                Context::CutText(MAX_STATE_MESSAGE_BYTES),
                &message.body.state_message,
            ),
        ]
    }

    /// `200 {"result": "success", "entity_id": …}` to a POST at `…/alert/<api key>/<routing key>`.
    fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
        if request.method != "POST" || !request.path.contains("/integrations/generic/20131114/alert/") {
            return None;
        }
        let body: Value = serde_json::from_str(request.body).unwrap_or_default();
        let entity_id = body["entity_id"]
            .as_str()
            .unwrap_or("generated-by-splunk-on-call");
        Some(SampleAnswer {
            status: 200,
            body: json!({"result": "success", "entity_id": entity_id}).to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
