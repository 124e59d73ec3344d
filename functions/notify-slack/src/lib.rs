//! notify-slack: alerts as Slack messages, through an incoming webhook or a bot.
//!
//! [`SlackNotifier`] builds every message from two templates, the integration's own or the
//! built-in ones (`slack.title`, `slack.text`): a header block (plain text, one line, 150
//! characters), and a secondary attachment coloured by the alert type (red, yellow, green) holding
//! the body as mrkdwn sections of at most 3,000 characters (values escaped for mrkdwn, so an alert
//! cannot mention `@channel` or forge a link; cut at 12,000 characters); the notification text is
//! the title.
//!
//! - **Incoming webhook** (`settings.webhookUrl`): one message per alert. Slack's plain-text error
//!   codes are explained; they are permanent but `rollup_error`; 429 waits for `Retry-After`.
//! - **Bot** (`settings.botToken`, `settings.channel`, `settings.apiUrl`): one message per
//!   incident. The first message of an incident is posted to the channel (`chat.postMessage`); its
//!   channel and `ts` are kept in the incident's state (the Deliveries table); Reminders, the Ok
//!   and later Alerts (another level) are posted in its thread, and the opening message is updated
//!   to show the latest (`chat.update`: resolved, with the downtime). `200` with `"ok": false` is a
//!   failure classified by its `error`; `ratelimited` waits for `Retry-After`.
//!
//! Every request goes through the shared [`HttpClient`] (timeouts, SSRF guard); retries,
//! idempotency and the delivery log belong to the runner.

mod answer;
mod config;
mod payload;

use std::{
    collections::BTreeMap,
    sync::atomic::{AtomicU64, Ordering},
    time::{SystemTime, UNIX_EPOCH},
};

use alert_model::{Alert, IntegrationKind};
use definition_store::{Integration, IntegrationCheck, Recipients, SecretRef, VariableDef};
use notify_core::{
    ConfigError, Context, Field, HttpClient, Init, Kind, Notifier, NotifyError, Outgoing, RouteContext,
    SampleAnswer, SampleEnv, SampleRequest, Sent, Templates, Transport,
};
use serde_json::{Value, json};

pub use config::{DEFAULT_API_URL, Mode, SlackSettings, SlackTarget};
pub use payload::{
    Api, IncidentState, Keep, MAX_BLOCKS, MAX_SECTION_CHARS, MAX_TEXT_CHARS, MAX_TITLE_CHARS, MESSAGE_STEP,
    SlackMessage, UPDATE_STEP, color_of, escape_mrkdwn,
};

/// The Slack notifier: the shared HTTP client.
#[derive(Debug)]
pub struct SlackNotifier {
    http: HttpClient,
}

impl SlackNotifier {
    /// The notifier for the Lambda function: `notify_core::run(SlackNotifier::new)`.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(SlackNotifier::with_client(init.http.clone()))
    }

    /// A notifier sending through `http`.
    pub fn with_client(http: HttpClient) -> Self {
        SlackNotifier { http }
    }
}

/// The built-in templates: `slack.title` and `slack.text`.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    ("slack.title", include_str!("../templates/slack.title.jinja")),
    ("slack.text", include_str!("../templates/slack.text.jinja")),
];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Notifier for SlackNotifier {
    const KIND: IntegrationKind = IntegrationKind::Slack;
    // A bot keeps each incident's message (its channel and `ts`) to reply in its thread.
    const INCIDENT_STATE: bool = true;
    type Target = SlackTarget;
    type Message = SlackMessage;

    fn target(&self, integration: &Integration) -> Result<SlackTarget, NotifyError> {
        SlackTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &SlackTarget,
    ) -> Result<Vec<Outgoing<SlackMessage>>, NotifyError> {
        payload::build_messages(route, target)
    }

    async fn send(&self, message: &SlackMessage) -> Result<Sent, NotifyError> {
        let name = message.api.name();
        if let Some(problem) = payload::token_problem(message) {
            return Err(NotifyError::permanent(format!("slack {name}: {problem}")));
        }
        let answer = self
            .http
            .exchange(&message.request)
            .await
            .map_err(|error| prefixed(&format!("slack {name}"), error))?;
        match message.api {
            Api::IncomingWebhook => answer::webhook(&answer),
            Api::PostMessage | Api::Update => answer::web_api(message, &answer),
        }
    }

    fn describe(&self, message: &SlackMessage) -> Value {
        json!({
            "request": message.request,
            "slack": {
                "api": message.api.name(),
                "thread": message.thread,
                "title": message.title,
            },
        })
    }
}

/// `error` with `prefix: ` before its reason.
fn prefixed(prefix: &str, error: NotifyError) -> NotifyError {
    match error {
        NotifyError::Retryable {
            reason,
            status,
            retry_after,
        } => NotifyError::Retryable {
            reason: format!("{prefix}: {reason}"),
            status,
            retry_after,
        },
        NotifyError::Permanent { reason, status } => NotifyError::Permanent {
            reason: format!("{prefix}: {reason}"),
            status,
        },
    }
}

/// Where the webhook URL of [`Kind::set_templates`] puts the URL template: after `{{BaseUrl}}/in/`.
const URL_TEMPLATE_BASE: &str = "/in/";

impl Kind for SlackNotifier {
    type Settings = SlackSettings;
    const RECIPIENTS: Recipients = Recipients::Nobody;
    const TRANSPORT: Transport = Transport::Http;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        SlackNotifier::new(init)
    }

    fn check(settings: &SlackSettings, check: &mut IntegrationCheck<'_>) {
        for (path, problem) in config::problems(settings, check.integration()) {
            check.issue(path, problem);
        }
        let templates = [
            ("settings.webhookUrl", &settings.webhook_url),
            ("settings.botToken", &settings.bot_token),
            ("settings.channel", &settings.channel),
            ("settings.apiUrl", &settings.api_url),
            ("settings.title", &settings.title),
            ("settings.text", &settings.text),
        ];
        for (path, template) in templates {
            if let Some(template) = template.as_deref().filter(|t| !t.trim().is_empty()) {
                check.template(path, template);
            }
        }
    }

    /// An incoming webhook to `env.base_url`/hooks/`id` when `env.variant` is even, else a bot whose
    /// Web API is at `env.base_url`/hooks/`id` (`…/chat.postMessage`, `…/chat.update`), its token
    /// the secret of `env` (or `ssm:/tocsin/sample/slack-bot-token`). The title names the alert and
    /// the integration (`<alert> via <id>`), as the fault suite counts deliveries.
    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        let mut variables =
            BTreeMap::from([("BaseUrl".to_owned(), VariableDef::Fixed(env.base_url.to_owned()))]);
        let title = format!("{{{{@alert.alertGuid}}}} via {id} - {{{{@monitor.name}}}} {{{{@alert.type}}}}");
        let url = format!("{{{{BaseUrl}}}}/hooks/{id}");
        let settings = if env.variant.is_multiple_of(2) {
            json!({ "webhookUrl": url, "title": title })
        } else {
            variables.insert(
                "BotToken".to_owned(),
                VariableDef::Secret {
                    secret: SecretRef(
                        env.secret
                            .unwrap_or("ssm:/tocsin/sample/slack-bot-token")
                            .to_owned(),
                    ),
                },
            );
            json!({
                "botToken": "{{BotToken}}",
                "channel": SAMPLE_CHANNEL,
                "apiUrl": url,
                "title": title,
            })
        };
        Integration {
            id: id.to_owned(),
            name: format!("Sample Slack {id}"),
            kind: IntegrationKind::Slack,
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

    fn nothing_to_send(_integration: &Integration, alert: &Alert) -> String {
        format!(
            "a slack integration sends every alert type; nothing was built for this {} alert",
            alert.alert.alert_type
        )
    }

    fn summary(description: &Value) -> String {
        let slack = &description["slack"];
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let thread = match (text(&slack["api"]).as_str(), slack["thread"].as_str()) {
            ("chat.update", Some(ts)) => format!(" of message {ts}"),
            (_, Some(ts)) => format!(" in thread {ts}"),
            _ => String::new(),
        };
        format!(
            "slack {}{thread}: \"{}\"",
            text(&slack["api"]),
            text(&slack["title"])
        )
    }

    /// An incoming webhook to `{{BaseUrl}}/in/<url template>`, with the subject template as its
    /// title and the text template as its body.
    fn set_templates(integration: &mut Integration, templates: &Templates) {
        integration.settings.clear();
        let settings = [
            (
                "webhookUrl",
                format!("{{{{BaseUrl}}}}{URL_TEMPLATE_BASE}{}", templates.url),
            ),
            ("title", templates.subject.clone()),
            ("text", templates.text.clone()),
        ];
        for (key, value) in settings {
            integration.settings.insert(key.to_owned(), Value::String(value));
        }
        integration.messages.clear();
    }

    fn fields(_step: &str, message: &SlackMessage) -> Vec<Field> {
        let body: Value = serde_json::from_str(&message.request.body).unwrap_or_default();
        let title = body
            .pointer("/blocks/0/text/text")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let text: String = body
            .pointer("/attachments/0/blocks")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|block| block["type"] == "section")
            .filter_map(|block| block.pointer("/text/text").and_then(Value::as_str))
            .collect();
        let url = message
            .request
            .url
            .split_once(URL_TEMPLATE_BASE)
            .map_or(message.request.url.as_str(), |(_, rest)| rest);
        vec![
            Field::new("settings.webhookUrl", Context::Url, url),
            Field::new("settings.title", Context::Subject, title),
            Field::new("settings.text", Context::Mrkdwn(MAX_TEXT_CHARS), text),
        ]
    }

    /// The Web API's answers to `…/chat.postMessage` (a new `ts`, and the channel's ID) and
    /// `…/chat.update`, as Slack gives them.
    fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
        if !request.method.eq_ignore_ascii_case("POST") {
            return None;
        }
        let method = request.path.rsplit('/').next()?;
        if method != "chat.postMessage" && method != "chat.update" {
            return None;
        }
        let body: Value = serde_json::from_str(request.body).unwrap_or_default();
        let asked = body["channel"].as_str().unwrap_or_default();
        let channel = if is_channel_id(asked) {
            asked
        } else {
            SAMPLE_CHANNEL
        };
        let text = body["text"].as_str().unwrap_or_default();
        let answer = if method == "chat.postMessage" {
            let ts = new_ts();
            json!({
                "ok": true,
                "channel": channel,
                "ts": ts,
                "message": {"type": "message", "subtype": "bot_message", "text": text, "ts": ts},
            })
        } else {
            let ts = body["ts"].as_str().unwrap_or_default();
            json!({"ok": true, "channel": channel, "ts": ts, "text": text})
        };
        Some(SampleAnswer {
            status: 200,
            body: answer.to_string(),
        })
    }
}

/// The channel of the samples, and the ID the sample answers give a channel named by its name.
const SAMPLE_CHANNEL: &str = "C1234567890";

/// Whether `channel` is a conversation ID (`C…`, `G…`, `D…`: upper-case letters and digits).
fn is_channel_id(channel: &str) -> bool {
    channel.len() >= 9
        && channel.starts_with(['C', 'G', 'D'])
        && channel
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A message `ts` as Slack writes them (`1764345600.000100`), unique in this process.
fn new_ts() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let seconds = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs())
        .unwrap_or_default();
    let serial = NEXT.fetch_add(1, Ordering::Relaxed) % 1_000_000;
    format!("{seconds}.{serial:06}")
}

#[cfg(test)]
mod tests;
