//! notify-pagerduty: alerts as PagerDuty incidents through the Events API v2.
//!
//! [`PagerDutyNotifier`] sends one event per route: `trigger` on an Alert, with `dedup_key` = the
//! incident key (so that a repeated Alert joins the open alert), `resolve` on an Ok; a Reminder
//! sends nothing unless `settings.sendReminders` (then it triggers again with the same key, which
//! PagerDuty merges). The routing key comes from a user variable (a secret per integration, or a
//! per-level value for one key per escalation level); the severity is a template mapped onto
//! PagerDuty's four (`critical` by default); the summary is one line of at most 1,024 characters;
//! `custom_details` holds every alert variable and the level's message (or a JSON template);
//! `links` point to the dashboard and the failed check. An event over 512 KB has its custom
//! details shrunk, and says so in them. 429 and 5xx are retried by the runner; a 400 is permanent,
//! with PagerDuty's `errors[]` in the delivery log. The incident state ([`notify_core::incident`])
//! keeps a late Alert from opening an incident no Ok closes.

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
    EU_URL, PagerDutySettings, PagerDutyTarget, ROUTING_KEY_VARIABLE, Region, Severity, US_URL,
};
pub use payload::{
    CLIENT, Event, Link, MAX_DEDUP_KEY_BYTES, MAX_EVENT_BYTES, MAX_SUMMARY_CHARS, PagerDutyEvent, Payload,
    SHRUNK_NOTE_KEY,
};

/// The PagerDuty notifier: the shared HTTP client.
#[derive(Debug)]
pub struct PagerDutyNotifier {
    http: HttpClient,
}

impl PagerDutyNotifier {
    /// The notifier for the Lambda function: `notify_core::run(PagerDutyNotifier::new)`.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(PagerDutyNotifier::with_client(init.http.clone()))
    }

    /// A notifier sending through `http`.
    pub fn with_client(http: HttpClient) -> Self {
        PagerDutyNotifier { http }
    }
}

/// The built-in templates: `pagerduty.summary`, `pagerduty.source`.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    (
        "pagerduty.summary",
        include_str!("../templates/pagerduty.summary.jinja"),
    ),
    (
        "pagerduty.source",
        include_str!("../templates/pagerduty.source.jinja"),
    ),
];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Notifier for PagerDutyNotifier {
    const KIND: IntegrationKind = IntegrationKind::PagerDuty;
    // The time of the latest trigger and resolve per incident: a late message opens or closes nothing.
    const INCIDENT_STATE: bool = true;
    type Target = PagerDutyTarget;
    type Message = PagerDutyEvent;

    fn target(&self, integration: &Integration) -> Result<PagerDutyTarget, NotifyError> {
        PagerDutyTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &PagerDutyTarget,
    ) -> Result<Vec<Outgoing<PagerDutyEvent>>, NotifyError> {
        payload::build_events(route, target)
    }

    async fn send(&self, message: &PagerDutyEvent) -> Result<Sent, NotifyError> {
        let request = message.request()?;
        let answer = self.http.exchange(&request).await?;
        if answer.status == 400
            && let Some(refusal) = refusal(&answer)
        {
            return Err(refusal);
        }
        let mut sent = answer.classified()?;
        sent.external_id = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| body["dedup_key"].as_str().map(str::to_owned))
            .or_else(|| message.event.dedup_key.clone());
        sent.incident = message.keep.clone();
        Ok(sent)
    }

    fn describe(&self, message: &PagerDutyEvent) -> Value {
        json!({ "request": shown_request(message) })
    }
}

/// The request as `tocsin render` and the delivery log show it: the routing key masked (a secret
/// variable's placeholder is kept: it names the secret), the body fitted as it is sent.
fn shown_request(message: &PagerDutyEvent) -> HttpRequest {
    let mut shown = message.clone();
    if !shown.event.routing_key.starts_with("[secret ") {
        shown.event.routing_key = "[routing key]".to_owned();
    }
    shown.request().unwrap_or_else(|_| HttpRequest {
        method: "POST".to_owned(),
        url: shown.url.clone(),
        headers: Default::default(),
        body: serde_json::to_string(&shown.event).unwrap_or_default(),
    })
}

/// PagerDuty's answer to an invalid event (`400 {"status": "invalid event", "message": …,
/// "errors": […]}`) as a permanent error that names its errors; `None` when the body is not that.
fn refusal(answer: &HttpAnswer) -> Option<NotifyError> {
    let body: Value = serde_json::from_str(&answer.body).ok()?;
    let errors: Vec<&str> = body["errors"]
        .as_array()?
        .iter()
        .filter_map(Value::as_str)
        .collect();
    let message = body["message"].as_str().unwrap_or("invalid event");
    // The errors come last and are cut at the end, where redaction looks for a cut-off secret.
    let reason = format!(
        "{}: status 400 Bad Request: pagerduty refused the event ({message}): {}",
        answer.label,
        errors.join("; ")
    );
    Some(NotifyError::Permanent {
        reason: truncate_utf8(&reason, 1024),
        status: Some(400),
    })
}

/// Where the URLs of [`Kind::set_templates`] put the URL template: after `{{BaseUrl}}/in/`.
const URL_TEMPLATE_BASE: &str = "/in/";

impl Kind for PagerDutyNotifier {
    type Settings = PagerDutySettings;
    const RECIPIENTS: Recipients = Recipients::Nobody;
    const TRANSPORT: Transport = Transport::Http;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        PagerDutyNotifier::new(init)
    }

    fn check(settings: &PagerDutySettings, check: &mut IntegrationCheck<'_>) {
        for (path, problem) in config::problems(settings, check.integration()) {
            check.issue(&path, problem);
        }
        let templates = [
            ("settings.url", &settings.url),
            ("settings.routingKey", &settings.routing_key),
            ("settings.severity", &settings.severity),
            ("settings.summary", &settings.summary),
            ("settings.source", &settings.source),
            ("settings.component", &settings.component),
            ("settings.group", &settings.group),
            ("settings.class", &settings.class),
            ("settings.customDetails", &settings.custom_details),
        ];
        for (path, template) in templates {
            if let Some(template) = template.as_deref().filter(|t| !t.trim().is_empty()) {
                check.template(path, template);
            }
        }
    }

    /// Events to `env.base_url`/hooks/`id`/v2/enqueue with the routing key from a secret variable
    /// (`env.secret`), else from a fixed one.
    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        let routing_key = match env.secret {
            Some(secret) => VariableDef::Secret {
                secret: definition_store::SecretRef(secret.to_owned()),
            },
            None => VariableDef::Fixed("0123456789abcdef0123456789abcdef".to_owned()),
        };
        let settings = json!({ "url": format!("{{{{BaseUrl}}}}/hooks/{id}/v2/enqueue") });
        Integration {
            id: id.to_owned(),
            name: format!("Sample PagerDuty {id}"),
            kind: IntegrationKind::PagerDuty,
            active: true,
            variables: [
                ("BaseUrl".to_owned(), VariableDef::Fixed(env.base_url.to_owned())),
                (ROUTING_KEY_VARIABLE.to_owned(), routing_key),
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
        let reminders = PagerDutyTarget::parse(integration).is_ok_and(|target| target.send_reminders);
        incident::nothing_to_send(
            alert,
            "PagerDuty",
            reminders,
            "the Ok has no incident key to resolve by",
        )
    }

    fn summary(description: &Value) -> String {
        let body: Value = description["request"]["body"]
            .as_str()
            .and_then(|body| serde_json::from_str(body).ok())
            .unwrap_or_default();
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let action = text(&body["event_action"]);
        let key = text(&body["dedup_key"]);
        match body["payload"]["summary"].as_str() {
            Some(summary) => {
                let shown: String = summary.chars().take(80).collect();
                let more = if shown.len() < summary.len() { "…" } else { "" };
                format!(
                    "pagerduty {action} {key} ({}): \"{shown}{more}\"",
                    text(&body["payload"]["severity"])
                )
            }
            None => format!("pagerduty {action} {key}"),
        }
    }

    /// The URL `{{BaseUrl}}/in/<url template>`, the summary (subject), the source (text) and the
    /// custom details (JSON).
    fn set_templates(integration: &mut Integration, templates: &Templates) {
        let settings = &mut integration.settings;
        settings.insert(
            "url".to_owned(),
            Value::String(format!("{{{{BaseUrl}}}}{URL_TEMPLATE_BASE}{}", templates.url)),
        );
        settings.insert("summary".to_owned(), Value::String(templates.subject.clone()));
        settings.insert("source".to_owned(), Value::String(templates.text.clone()));
        settings.insert("customDetails".to_owned(), Value::String(templates.json.clone()));
    }

    /// The custom details as the template rendered them, before the event is fitted to 512 KB.
    fn fields(_step: &str, message: &PagerDutyEvent) -> Vec<Field> {
        let url = message
            .url
            .split_once(URL_TEMPLATE_BASE)
            .map_or(message.url.as_str(), |(_, rest)| rest);
        let mut fields = vec![Field::new("settings.url", Context::Url, url)];
        if let Some(payload) = &message.event.payload {
            fields.push(Field::new("settings.summary", Context::Subject, &payload.summary));
            fields.push(Field::new("settings.source", Context::Text, &payload.source));
            fields.push(Field::new(
                "settings.customDetails",
                Context::Json,
                serde_json::to_string(&payload.custom_details).unwrap_or_default(),
            ));
        }
        fields
    }

    /// `202 {"status": "success", "message": "Event processed", "dedup_key": …}` to a POST at
    /// `…/v2/enqueue`.
    fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
        if request.method != "POST" || !request.path.ends_with("/v2/enqueue") {
            return None;
        }
        let body: Value = serde_json::from_str(request.body).unwrap_or_default();
        let dedup_key = body["dedup_key"].as_str().unwrap_or("generated-by-pagerduty");
        Some(SampleAnswer {
            status: 202,
            body: json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key})
                .to_string(),
        })
    }
}

#[cfg(test)]
mod tests;
