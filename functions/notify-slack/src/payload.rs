//! Pure: one route → its Slack requests.
//!
//! Every message has the same shape: a header block (the title, plain text, one line), and a
//! secondary attachment coloured by the alert type holding the body (mrkdwn sections of at most
//! 3,000 characters); the top-level `text` is the notification (fallback) text.
//!
//! A bot keeps one message per incident: the first message of an incident opens it (its `ts` and
//! channel are kept in the incident's state), later ones are posted in its thread and the opening
//! message is updated to show the incident's current state.

use alert_model::{
    AlertType,
    template::{Escape, RenderContext, TemplateSource},
};
use notify_core::{HttpRequest, NotifyError, Outgoing, RouteContext};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::config::{Mode, SlackTarget};

/// Slack cuts a header block's text at 150 characters (it refuses longer ones).
pub const MAX_TITLE_CHARS: usize = 150;
/// A section block's text holds at most 3,000 characters.
pub const MAX_SECTION_CHARS: usize = 3000;
/// The body is cut here: Slack refuses messages whose blocks hold much more (`msg_blocks_too_long`
/// at about 13,000 characters, below every per-block limit).
pub const MAX_TEXT_CHARS: usize = 12_000;
/// At most 50 blocks in a message.
pub const MAX_BLOCKS: usize = 50;

/// The step of the message that tells people (a webhook post, a new message, a thread reply): the
/// same name whatever its shape, so that a route built again after the incident's state changed
/// (a retry, a redelivery) never tells them twice.
pub const MESSAGE_STEP: &str = "message";
/// The step that updates the incident's opening message.
pub const UPDATE_STEP: &str = "update";

/// Which Slack API a message goes to; it says how Slack answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Api {
    /// An incoming webhook: `200 ok`, errors as plain-text codes with their status.
    #[serde(rename = "incoming webhook")]
    IncomingWebhook,
    /// The Web API's `chat.postMessage`: `200 {"ok": …}`.
    #[serde(rename = "chat.postMessage")]
    PostMessage,
    /// The Web API's `chat.update`: `200 {"ok": …}`.
    #[serde(rename = "chat.update")]
    Update,
}

impl Api {
    /// The name errors and summaries use.
    pub fn name(self) -> &'static str {
        match self {
            Api::IncomingWebhook => "incoming webhook",
            Api::PostMessage => "chat.postMessage",
            Api::Update => "chat.update",
        }
    }
}

/// What a successful send keeps for the incident (known when the message is built).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "keep")]
pub enum Keep {
    /// Nothing.
    Nothing,
    /// The message opens the incident's thread: its channel and `ts` from Slack's answer, the alert
    /// that opened it, and, for an Ok, that alert as the one that resolved it.
    Opening {
        /// The alert of the message.
        alert: String,
        /// Whether it is an Ok.
        resolved: bool,
    },
    /// The message is the Ok in the thread: the incident is resolved by `alert`.
    Resolved {
        /// The Ok's alert.
        alert: String,
    },
}

/// One Slack request, ready to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackMessage {
    /// Which API it goes to.
    pub api: Api,
    /// The request.
    pub request: HttpRequest,
    /// The header text, for summaries.
    pub title: String,
    /// The thread it replies to, or the message it updates (`ts`).
    pub thread: Option<String>,
    /// What a successful send keeps for the incident.
    pub keep: Keep,
}

/// The state a bot keeps per incident (`RouteContext::incident`, `Sent::incident`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IncidentState {
    /// The channel (ID) of the message that opened the incident.
    #[serde(default)]
    pub channel: Option<String>,
    /// Its `ts`.
    #[serde(default)]
    pub ts: Option<String>,
    /// The alert that opened it.
    #[serde(default)]
    pub opened_by: Option<String>,
    /// The Ok that resolved it, once one did.
    #[serde(default)]
    pub resolved_by: Option<String>,
}

impl IncidentState {
    /// The state to keep after a successful send of `keep` whose answer named `channel` and `ts`.
    pub fn after(keep: &Keep, channel: Option<&str>, ts: Option<&str>) -> Option<Value> {
        let state = match keep {
            Keep::Nothing => return None,
            Keep::Opening { alert, resolved } => {
                let (Some(channel), Some(ts)) = (channel, ts) else {
                    return None;
                };
                IncidentState {
                    channel: Some(channel.to_owned()),
                    ts: Some(ts.to_owned()),
                    opened_by: Some(alert.clone()),
                    resolved_by: resolved.then(|| alert.clone()),
                }
            }
            Keep::Resolved { alert } => {
                return Some(json!({ "resolvedBy": alert }));
            }
        };
        serde_json::to_value(state).ok()
    }
}

/// The thread of the incident a message belongs in: `(channel, ts)` of its opening message.
///
/// None when there is no incident yet, when this alert opened it (the route is built again as it
/// was then: a retry or a redelivery), or when another alert resolved it (the next incident on the
/// same key starts a new message).
fn thread_of(route: &RouteContext<'_>) -> Option<(String, String)> {
    let state: IncidentState = serde_json::from_value(route.incident?.clone()).ok()?;
    let channel = state.channel.filter(|channel| !channel.trim().is_empty())?;
    let ts = state.ts.filter(|ts| !ts.trim().is_empty())?;
    let alert = route.alert.alert.alert_guid.as_str();
    if state.opened_by.as_deref() == Some(alert) {
        return None;
    }
    if state.resolved_by.as_deref().is_some_and(|by| by != alert) {
        return None;
    }
    Some((channel, ts))
}

/// Builds the requests of one route: an incoming webhook gets one message; a bot gets a new message
/// for a new incident, else a reply in its thread and an update of its opening message.
pub(crate) fn build_messages(
    route: &RouteContext<'_>,
    target: &SlackTarget,
) -> Result<Vec<Outgoing<SlackMessage>>, NotifyError> {
    let renderer = Renderer {
        route,
        context: RenderContext {
            alert: route.alert,
            variables: route.variables.values(),
            now: route.now,
        },
    };
    let content = renderer.content(target)?;
    let alert_type = route.alert.alert.alert_type;
    match &target.mode {
        Mode::Webhook { url } => {
            let url = renderer.url("settings.webhookUrl", url)?;
            let mut body = content.body();
            body.insert("unfurl_links".to_owned(), Value::Bool(false));
            body.insert("unfurl_media".to_owned(), Value::Bool(false));
            Ok(vec![Outgoing {
                step: MESSAGE_STEP.to_owned(),
                message: SlackMessage {
                    api: Api::IncomingWebhook,
                    request: post(url, None, &body),
                    title: content.title,
                    thread: None,
                    keep: Keep::Nothing,
                },
            }])
        }
        Mode::Bot {
            token,
            channel,
            api_url,
        } => {
            let token = renderer.token(token)?;
            let api_url = renderer.url("settings.apiUrl", api_url)?;
            let api_url = api_url.trim_end_matches('/');
            let alert = route.alert.alert.alert_guid.clone();
            let is_ok = alert_type == AlertType::Ok;
            let Some((channel, ts)) = thread_of(route) else {
                let channel = renderer.channel(channel)?;
                let mut body = content.body();
                body.insert("channel".to_owned(), Value::String(channel));
                body.insert("unfurl_links".to_owned(), Value::Bool(false));
                body.insert("unfurl_media".to_owned(), Value::Bool(false));
                return Ok(vec![Outgoing {
                    step: MESSAGE_STEP.to_owned(),
                    message: SlackMessage {
                        api: Api::PostMessage,
                        request: post(format!("{api_url}/chat.postMessage"), Some(&token), &body),
                        title: content.title,
                        thread: None,
                        keep: Keep::Opening {
                            alert,
                            resolved: is_ok,
                        },
                    },
                }]);
            };
            let mut reply = content.body();
            reply.insert("channel".to_owned(), Value::String(channel.clone()));
            reply.insert("thread_ts".to_owned(), Value::String(ts.clone()));
            reply.insert("unfurl_links".to_owned(), Value::Bool(false));
            reply.insert("unfurl_media".to_owned(), Value::Bool(false));
            let mut update = content.body();
            update.insert("channel".to_owned(), Value::String(channel));
            update.insert("ts".to_owned(), Value::String(ts.clone()));
            Ok(vec![
                Outgoing {
                    step: MESSAGE_STEP.to_owned(),
                    message: SlackMessage {
                        api: Api::PostMessage,
                        request: post(format!("{api_url}/chat.postMessage"), Some(&token), &reply),
                        title: content.title.clone(),
                        thread: Some(ts.clone()),
                        keep: if is_ok {
                            Keep::Resolved { alert }
                        } else {
                            Keep::Nothing
                        },
                    },
                },
                Outgoing {
                    step: UPDATE_STEP.to_owned(),
                    message: SlackMessage {
                        api: Api::Update,
                        request: post(format!("{api_url}/chat.update"), Some(&token), &update),
                        title: content.title,
                        thread: Some(ts),
                        keep: Keep::Nothing,
                    },
                },
            ])
        }
    }
}

/// A JSON `POST`, with the bot's token when there is one.
fn post(url: String, token: Option<&str>, body: &serde_json::Map<String, Value>) -> HttpRequest {
    let mut headers = std::collections::BTreeMap::from([(
        "Content-Type".to_owned(),
        // Without the charset the Web API answers with a `missing_charset` warning.
        "application/json; charset=utf-8".to_owned(),
    )]);
    if let Some(token) = token {
        headers.insert("Authorization".to_owned(), format!("Bearer {token}"));
    }
    HttpRequest {
        method: "POST".to_owned(),
        url,
        headers,
        body: Value::Object(body.clone()).to_string(),
    }
}

/// What every message of a route shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Content {
    /// The header: one line, at most [`MAX_TITLE_CHARS`] characters.
    pub(crate) title: String,
    /// The body, mrkdwn, at most [`MAX_TEXT_CHARS`] characters.
    pub(crate) text: String,
    /// Whether the body was cut.
    pub(crate) cut: bool,
    /// The attachment's colour.
    pub(crate) color: &'static str,
}

/// The attachment colour of each alert type: Slack's own red, yellow and green.
pub fn color_of(alert_type: AlertType) -> &'static str {
    match alert_type {
        AlertType::Alert => "#E01E5A",
        AlertType::Reminder => "#ECB22E",
        AlertType::Ok => "#2EB67D",
    }
}

impl Content {
    /// `text`, `blocks` and `attachments` of a message.
    fn body(&self) -> serde_json::Map<String, Value> {
        let mut body = serde_json::Map::new();
        // The notification text is mrkdwn: the title is escaped for it whole.
        let fallback = escape_mrkdwn(&self.title);
        body.insert("text".to_owned(), Value::String(fallback.clone()));
        body.insert(
            "blocks".to_owned(),
            json!([{
                "type": "header",
                "text": {"type": "plain_text", "text": self.title, "emoji": true},
            }]),
        );
        let mut blocks: Vec<Value> = sections(&self.text)
            .into_iter()
            .map(|text| json!({"type": "section", "text": {"type": "mrkdwn", "text": text}}))
            .collect();
        if self.cut {
            blocks.push(json!({
                "type": "context",
                "elements": [{
                    "type": "mrkdwn",
                    "text": format!("_(cut at {} characters)_", group_thousands(MAX_TEXT_CHARS)),
                }],
            }));
        }
        if !blocks.is_empty() {
            body.insert(
                "attachments".to_owned(),
                json!([{"color": self.color, "fallback": fallback, "blocks": blocks}]),
            );
        }
        body
    }
}

/// `12,000`.
fn group_thousands(number: usize) -> String {
    let digits = number.to_string();
    let mut out = String::new();
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `text` in pieces of at most [`MAX_SECTION_CHARS`] characters, split after a line break where
/// there is one, never inside an escaped character (`&amp;`); the pieces joined are `text`. At most
/// [`MAX_BLOCKS`] − 2 pieces (the header and the cut note take the others); an empty text has none.
pub(crate) fn sections(text: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() && pieces.len() < MAX_BLOCKS - 2 {
        let end = split_point(rest, MAX_SECTION_CHARS);
        pieces.push(rest[..end].to_owned());
        rest = &rest[end..];
    }
    pieces
}

/// The byte index where the first piece of `text` ends: all of it when it has at most `max`
/// characters, else after the last line break within `max` characters, else at `max` characters
/// moved back before an escaped character it would split.
fn split_point(text: &str, max: usize) -> usize {
    let Some((limit, _)) = text.char_indices().nth(max) else {
        return text.len();
    };
    if let Some(newline) = text[..limit].rfind('\n')
        && newline > 0
    {
        return newline + 1;
    }
    entity_safe(text, limit)
}

/// `at`, or the start of the escaped character (`&amp;`, `&lt;`, `&gt;`) it falls inside.
fn entity_safe(text: &str, at: usize) -> usize {
    let window_start = at.saturating_sub(4);
    let window_start = (window_start..=at)
        .find(|index| text.is_char_boundary(*index))
        .unwrap_or(at);
    match text[window_start..at].rfind('&') {
        Some(amp) if !text[window_start + amp..at].contains(';') => window_start + amp,
        _ => at,
    }
}

/// Escapes Slack's control characters, `&`, `<` and `>`, as `&amp;`, `&lt;` and `&gt;`: what they
/// would otherwise start (`<!channel>`, `<https://…|a link>`) is shown as text.
pub fn escape_mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            other => out.push(other),
        }
    }
    out
}

/// Renders the route's templates.
struct Renderer<'a> {
    route: &'a RouteContext<'a>,
    context: RenderContext<'a>,
}

impl Renderer<'_> {
    fn integration(&self) -> &str {
        &self.route.integration.id
    }

    fn render(&self, field: &str, template: &str, escape: Escape) -> Result<String, NotifyError> {
        let source = TemplateSource {
            integration: self.integration(),
            field,
        };
        self.route
            .engine
            .render(source, template, escape, &self.context)
            .map_err(|error| NotifyError::permanent(error.to_string()))
    }

    fn error(&self, field: &str, reason: &str) -> NotifyError {
        NotifyError::permanent(format!(
            "integration `{}`: `{field}` {reason}",
            self.integration()
        ))
    }

    /// The integration's template for `setting`, or the built-in one named `builtin`, with the
    /// field errors name.
    fn template<'t>(
        &self,
        own: Option<&'t str>,
        setting: &'t str,
        builtin: &'t str,
    ) -> Result<(&'t str, &'t str), NotifyError> {
        match own {
            Some(template) => Ok((template, setting)),
            None => crate::default_template(builtin)
                .map(|template| (template, builtin))
                .ok_or_else(|| {
                    NotifyError::permanent(format!(
                        "integration `{}`: no built-in template `{builtin}`",
                        self.integration()
                    ))
                }),
        }
    }

    /// The title (plain text: values as they are, one line, cut) and the body (mrkdwn: values
    /// escaped for it, cut).
    fn content(&self, target: &SlackTarget) -> Result<Content, NotifyError> {
        let alert_type = self.route.alert.alert.alert_type;
        let (template, field) = self.template(target.title.as_deref(), "settings.title", "slack.title")?;
        let title = one_line(&self.render(field, template, Escape::Text)?, MAX_TITLE_CHARS);
        let title = if title.is_empty() {
            alert_type.as_str().to_owned()
        } else {
            title
        };
        let (template, field) = self.template(target.text.as_deref(), "settings.text", "slack.text")?;
        // The HTML escaper escapes `& < > " '`; Slack decodes `&amp; &lt; &gt;` only, so quotes go
        // back to themselves. A value holding the text `&quot;` was escaped to `&amp;quot;`, which
        // holds no `&quot;`: only the escaper's own quotes are turned back.
        let rendered = self
            .render(field, template, Escape::Html)?
            .replace("&quot;", "\"")
            .replace("&#39;", "'");
        let text = rendered.trim();
        let (text, cut) = match text.char_indices().nth(MAX_TEXT_CHARS) {
            None => (text.to_owned(), false),
            Some((limit, _)) => (text[..entity_safe(text, limit)].to_owned(), true),
        };
        Ok(Content {
            title,
            text,
            cut,
            color: color_of(alert_type),
        })
    }

    /// A URL: values percent-encoded; its form is checked when it is sent (a URL held whole by a
    /// secret variable is shown as its placeholder by `tocsin render`).
    fn url(&self, field: &str, template: &str) -> Result<String, NotifyError> {
        let url = self.render(field, template, Escape::Url)?.trim().to_owned();
        if url.is_empty() {
            return Err(self.error(field, "renders to an empty URL"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.error(
                field,
                "renders to a URL containing white space or control characters",
            ));
        }
        Ok(url)
    }

    /// The bot token (never quoted in an error). Its form is checked when it is sent
    /// ([`token_problem`]): `tocsin render` builds with the secret's placeholder, `[secret ssm:/…]`.
    fn token(&self, template: &str) -> Result<String, NotifyError> {
        let field = "settings.botToken";
        let token = self.render(field, template, Escape::Header)?.trim().to_owned();
        if token.is_empty() {
            return Err(self.error(field, "renders to an empty token"));
        }
        Ok(token)
    }

    /// The channel to open an incident in.
    fn channel(&self, template: &str) -> Result<String, NotifyError> {
        let field = "settings.channel";
        let channel = self.render(field, template, Escape::Text)?.trim().to_owned();
        if channel.is_empty() {
            return Err(self.error(field, "renders to an empty channel"));
        }
        if channel.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.error(field, "renders to a channel containing white space"));
        }
        Ok(channel)
    }
}

/// What makes the bot token of `message` unusable (white space or control characters in it), if
/// anything; the token itself is never quoted.
pub(crate) fn token_problem(message: &SlackMessage) -> Option<&'static str> {
    let token = message
        .request
        .headers
        .get("Authorization")?
        .strip_prefix("Bearer ")?;
    token
        .chars()
        .any(|c| c.is_whitespace() || c.is_control())
        .then_some("`settings.botToken` renders to a token containing white space")
}

/// `text` on one line (lines trimmed and joined by spaces, other line breaks and control characters
/// as spaces), cut to `max` characters ending with `…`.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let line: String = line
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
