//! notify-teams: alerts as Adaptive Cards in a Microsoft Teams channel or chat, through a Workflows
//! webhook ("When a Teams webhook request is received", then "Post card in a chat or channel").
//! Legacy Office 365 connector webhooks are retired; a message sent to one still works while the
//! URL does, and the connector's way of failing (`200` with an error text) is read as a failure.
//!
//! [`TeamsNotifier`] builds one message per route (step `card`) from the integration's
//! `settings.card` or the built-in `teams.card`: the Workflows body `{"type": "message",
//! "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
//! "content": <Adaptive Card>}]}`, values JSON-escaped, checked to be that shape (Workflows answers
//! `202` before its flow reads the card, so a bad card would fail unseen), and kept under 28,000
//! bytes by shortening its longest texts. Every request carries the Standard Webhooks `webhook-id`
//! (the same on every retry) and `webhook-timestamp`. Any `2xx` is success (Workflows answers
//! `202 Accepted`), except a body that reports a failure. Retries, idempotency and the delivery log
//! belong to the runner.

mod config;
mod payload;
mod size;

use std::collections::BTreeMap;

use alert_model::{Alert, IntegrationKind};
use definition_store::{Integration, IntegrationCheck, Recipients, SecretRef, VariableDef};
use notify_core::{
    ConfigError, Context, Field, HttpAnswer, HttpClient, Init, Kind, Notifier, NotifyError, Outgoing,
    RouteContext, SampleAnswer, SampleEnv, SampleRequest, Sent, Templates, Transport,
};
use serde_json::{Value, json};

pub use config::{TeamsSettings, TeamsTarget};
pub use payload::{ADAPTIVE_CARD, STEP, TeamsMessage, WEBHOOK_ID, WEBHOOK_TIMESTAMP};
pub use size::{MAX_BODY_BYTES, MIN_TEXT_BYTES};

/// The Teams notifier: the shared HTTP client.
#[derive(Debug)]
pub struct TeamsNotifier {
    http: HttpClient,
}

impl TeamsNotifier {
    /// The notifier for the Lambda function: `notify_core::run(TeamsNotifier::new)`.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(TeamsNotifier::with_client(init.http.clone()))
    }

    /// A notifier sending through `http`.
    pub fn with_client(http: HttpClient) -> Self {
        TeamsNotifier { http }
    }
}

/// The built-in template: `teams.card`.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[("teams.card", include_str!("../templates/teams.card.jinja"))];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Notifier for TeamsNotifier {
    const KIND: IntegrationKind = IntegrationKind::Teams;
    type Target = TeamsTarget;
    type Message = TeamsMessage;

    fn target(&self, integration: &Integration) -> Result<TeamsTarget, NotifyError> {
        TeamsTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &TeamsTarget,
    ) -> Result<Vec<Outgoing<TeamsMessage>>, NotifyError> {
        payload::build_messages(route, target)
    }

    async fn send(&self, message: &TeamsMessage) -> Result<Sent, NotifyError> {
        let outcome = match self.http.exchange(&message.request).await {
            Ok(answer) => classify(&answer),
            Err(error) => Err(error),
        };
        without_signature(outcome, &message.request.url)
    }

    fn describe(&self, message: &TeamsMessage) -> Value {
        let mut description = json!({ "request": message.request });
        if message.shortened > 0 {
            description["shortened"] = json!(message.shortened);
        }
        description
    }
}

/// Where the URLs of [`Kind::set_templates`] put the URL template: after `{{BaseUrl}}/in/`.
const URL_TEMPLATE_BASE: &str = "/in/";

/// The member of the message of [`Kind::set_templates`] that holds the JSON template.
const JSON_TEMPLATE_MEMBER: &str = "tocsinTemplate";

impl Kind for TeamsNotifier {
    type Settings = TeamsSettings;
    const RECIPIENTS: Recipients = Recipients::Nobody;
    const TRANSPORT: Transport = Transport::Http;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        TeamsNotifier::new(init)
    }

    fn check(settings: &TeamsSettings, check: &mut IntegrationCheck<'_>) {
        for (path, problem) in config::problems(settings, check.integration()) {
            check.issue(path, problem);
        }
        if !settings.url.trim().is_empty() {
            check.template("settings.url", &settings.url);
        }
        if let Some(card) = settings.card.as_deref().filter(|card| !card.trim().is_empty()) {
            check.template("settings.card", card);
        }
    }

    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        sample_integration(id, env)
    }

    fn nothing_to_send(_integration: &Integration, alert: &Alert) -> String {
        format!(
            "a teams integration sends one card for every alert type; none was built for this {} alert",
            alert.alert.alert_type
        )
    }

    fn summary(description: &Value) -> String {
        let request = &description["request"];
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let title = serde_json::from_str::<Value>(request["body"].as_str().unwrap_or_default())
            .ok()
            .and_then(|body| card_title(&body));
        let shortened = match description["shortened"].as_u64() {
            Some(count) if count > 0 => format!(" ({count} texts shortened to fit)"),
            _ => String::new(),
        };
        match title {
            Some(title) => format!(
                "teams card \"{title}\" by {} {}{shortened}",
                text(&request["method"]),
                text(&request["url"])
            ),
            None => format!(
                "teams message by {} {}{shortened}",
                text(&request["method"]),
                text(&request["url"])
            ),
        }
    }

    /// A request to `{{BaseUrl}}/in/<url template>` whose message is a minimal card with the JSON
    /// template as the member `tocsinTemplate` (on the message's first line, so that errors name
    /// line 1).
    fn set_templates(integration: &mut Integration, templates: &Templates) {
        integration.settings.insert(
            "url".to_owned(),
            Value::String(format!("{{{{BaseUrl}}}}{URL_TEMPLATE_BASE}{}", templates.url)),
        );
        integration.settings.insert(
            "card".to_owned(),
            Value::String(format!(
                "{{\"type\": \"message\", \"attachments\": [{{\"contentType\": \"{ADAPTIVE_CARD}\", \"contentUrl\": null, \
                 \"content\": {{\"type\": \"AdaptiveCard\", \"version\": \"1.4\", \"body\": []}}}}], \
                 \"{JSON_TEMPLATE_MEMBER}\": {}}}",
                templates.json
            )),
        );
    }

    fn fields(_step: &str, message: &TeamsMessage) -> Vec<Field> {
        let url = message
            .request
            .url
            .split_once(URL_TEMPLATE_BASE)
            .map_or(message.request.url.as_str(), |(_, rest)| rest);
        // The values as the template wrote them: before any shortening.
        let rendered = message.rendered.as_deref().unwrap_or(&message.request.body);
        let json = serde_json::from_str::<Value>(rendered)
            .ok()
            .and_then(|mut body| body.get_mut(JSON_TEMPLATE_MEMBER).map(Value::take))
            .map(|value| value.to_string())
            .unwrap_or_default();
        vec![
            Field::new("settings.url", Context::Url, url),
            Field::new("settings.card", Context::Json, json),
        ]
    }

    /// Workflows accepts a request with `202 Accepted` and an empty body (targets.md §3.3): the
    /// answer at the Workflows paths of the examples (`/workflows/…`).
    fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
        (request.method == "POST" && request.path.starts_with("/workflows/")).then(|| SampleAnswer {
            status: 202,
            body: String::new(),
        })
    }
}

/// The text of the first `TextBlock` or `TextRun` of the first card of `message`.
fn card_title(message: &Value) -> Option<String> {
    fn first_text(value: &Value) -> Option<&str> {
        match value {
            Value::Object(members) => {
                let kind = members.get("type").and_then(Value::as_str);
                if matches!(kind, Some("TextBlock" | "TextRun"))
                    && let Some(text) = members.get("text").and_then(Value::as_str)
                {
                    return Some(text);
                }
                ["body", "inlines", "items", "columns"]
                    .iter()
                    .filter_map(|name| members.get(*name))
                    .find_map(first_text)
            }
            Value::Array(items) => items.iter().find_map(first_text),
            _ => None,
        }
    }
    let text = first_text(message.pointer("/attachments/0/content")?)?;
    let line = text.lines().next().unwrap_or_default();
    let shown: String = line.chars().take(80).collect();
    let more = if shown.len() < line.len() { "…" } else { "" };
    Some(format!("{shown}{more}"))
}

/// Sorts a target's answer: any `2xx` is success (Workflows answers `202` with an empty body, a
/// legacy connector `200` with `1`) unless its body reports a failure, as a legacy Office 365
/// connector does with `200` and `Webhook message delivery failed with error: …` (retryable when
/// it names a throttling or a server error, else permanent); other answers as
/// [`HttpAnswer::classified`] sorts them, with a Workflows error (`{"error": {"code", "message"}}`)
/// as the reason.
pub fn classify(answer: &HttpAnswer) -> Result<Sent, NotifyError> {
    if (200..300).contains(&answer.status) {
        if let Some(reported) = failure_in_success(&answer.body) {
            let reason = format!(
                "{}: status {} but the target reports a failure: {}",
                answer.label,
                answer.status,
                notify_core::http::truncate_utf8(&reported, 300)
            );
            let status = Some(answer.status);
            return Err(if reported_retryable(&reported) {
                NotifyError::Retryable {
                    reason,
                    status,
                    retry_after: answer.retry_after,
                }
            } else {
                NotifyError::Permanent { reason, status }
            });
        }
        return answer.classified();
    }
    answer
        .classified()
        .map_err(|error| match workflows_error(&answer.body) {
            None => error,
            Some(detail) => {
                let reason = format!("{}: status {}: {detail}", answer.label, answer.status);
                match error {
                    NotifyError::Retryable {
                        status, retry_after, ..
                    } => NotifyError::Retryable {
                        reason,
                        status,
                        retry_after,
                    },
                    NotifyError::Permanent { status, .. } => NotifyError::Permanent { reason, status },
                }
            }
        })
}

/// `outcome` without the `sig` of `url` in its reason or response: the runner redacts the secret
/// variables, but when a secret holds the whole Workflows URL, a target that echoes only its
/// signature would go unseen.
fn without_signature(outcome: Result<Sent, NotifyError>, url: &str) -> Result<Sent, NotifyError> {
    let signatures = signatures(url);
    if signatures.is_empty() {
        return outcome;
    }
    let scrub = |text: &mut String| {
        for signature in &signatures {
            if text.contains(signature.as_str()) {
                *text = text.replace(signature.as_str(), "[redacted]");
            }
        }
    };
    match outcome {
        Ok(mut sent) => {
            scrub(&mut sent.response);
            Ok(sent)
        }
        Err(mut error) => {
            match &mut error {
                NotifyError::Retryable { reason, .. } | NotifyError::Permanent { reason, .. } => {
                    scrub(reason)
                }
            }
            Err(error)
        }
    }
}

/// The value of the `sig` parameter of `url`, as written and percent-decoded (at least 4 characters:
/// shorter ones would match ordinary text), longest first.
fn signatures(url: &str) -> Vec<String> {
    let Some((_, query)) = url.split_once('?') else {
        return Vec::new();
    };
    let mut found: Vec<String> = Vec::new();
    for pair in query.split(['&', '#']) {
        let Some((name, value)) = pair.split_once('=') else {
            continue;
        };
        if !name.eq_ignore_ascii_case("sig") {
            continue;
        }
        for form in [value.to_owned(), percent_decoded(value)] {
            if form.chars().count() >= 4 && !found.contains(&form) {
                found.push(form);
            }
        }
    }
    found.sort_by_key(|form| std::cmp::Reverse(form.len()));
    found
}

/// `text` with its `%XX` escapes decoded (and `+` as a space), lossily.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let hex = |at: usize| bytes.get(at).and_then(|byte| char::from(*byte).to_digit(16));
        let escaped = (bytes[index] == b'%')
            .then(|| hex(index + 1).zip(hex(index + 2)))
            .flatten();
        match (escaped, bytes[index]) {
            (Some((high, low)), _) => {
                out.push(u8::try_from(high * 16 + low).unwrap_or(b'%'));
                index += 3;
            }
            (None, b'+') => {
                out.push(b' ');
                index += 1;
            }
            (None, byte) => {
                out.push(byte);
                index += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The failure a successful answer's body reports, if any: a JSON body with an `error` member, or
/// a text (not `1`) that speaks of an error or a failure.
fn failure_in_success(body: &str) -> Option<String> {
    let body = body.trim();
    if body.is_empty() || body == "1" {
        return None;
    }
    match serde_json::from_str::<Value>(body) {
        Ok(value) => value
            .get("error")
            .map(|_| workflows_error(body).unwrap_or_else(|| body.to_owned())),
        Err(_) => {
            let lower = body.to_lowercase();
            (lower.contains("error") || lower.contains("failed")).then(|| one_line(body))
        }
    }
}

/// Whether a failure reported in a successful answer is worth another try: the connector names a
/// throttling (`HTTP error 429`) or a server error (`HTTP error 5xx`, `408`).
fn reported_retryable(text: &str) -> bool {
    let lower = text.to_lowercase();
    if lower.contains("throttl") || lower.contains("too many requests") {
        return true;
    }
    lower.match_indices("http error ").any(|(at, found)| {
        let code: String = lower[at + found.len()..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        matches!(code.parse::<u16>(), Ok(408 | 429 | 500..=599))
    })
}

/// `code: message` of a Workflows (Logic Apps) error body `{"error": {"code", "message"}}`.
fn workflows_error(body: &str) -> Option<String> {
    let value: Value = serde_json::from_str(body.trim()).ok()?;
    let error = value.get("error")?;
    let text = |name: &str| error.get(name).and_then(Value::as_str).map(one_line);
    let detail = match (text("code"), text("message")) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(only), None) | (None, Some(only)) => only,
        (None, None) => one_line(&error.to_string()),
    };
    Some(notify_core::http::truncate_utf8(&detail, 300))
}

/// `text` on one line: line breaks and other controls become spaces.
fn one_line(text: &str) -> String {
    text.split(|c: char| c.is_control())
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// A Workflows URL under `env.base_url` (`/hooks/<id>`, where the test suites' receivers count
/// deliveries), signed by the secret of `env` when it has one, with a small card naming the alert
/// and the integration, and the alert id as the member `alert` (Workflows passes members it does
/// not know to the flow; the fault suite's receivers read it).
fn sample_integration(id: &str, env: &SampleEnv<'_>) -> Integration {
    let mut variables = BTreeMap::from([("BaseUrl".to_owned(), VariableDef::Fixed(env.base_url.to_owned()))]);
    let mut url =
        format!("{{{{BaseUrl}}}}/hooks/{id}?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0");
    if let Some(secret) = env.secret {
        variables.insert(
            "WorkflowSig".to_owned(),
            VariableDef::Secret {
                secret: SecretRef(secret.to_owned()),
            },
        );
        url.push_str("&sig={{WorkflowSig}}");
    }
    let card = format!(
        r#"{{"type": "message", "alert": "{{{{@alert.alertGuid}}}}", "attachments": [{{"contentType": "{ADAPTIVE_CARD}", "contentUrl": null, "content": {{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": [{{"type": "TextBlock", "text": "{{{{@alert.type}}}}: {{{{@monitor.name}}}}", "weight": "Bolder", "wrap": true}}, {{"type": "TextBlock", "text": "{{{{@alert.alertGuid}}}} via {id}", "wrap": true}}]}}}}]}}"#
    );
    let settings = json!({ "url": url, "card": card });
    Integration {
        id: id.to_owned(),
        name: format!("Sample Teams channel {id}"),
        kind: IntegrationKind::Teams,
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

#[cfg(test)]
mod tests;
