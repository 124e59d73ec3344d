//! A local Slack that checks requests as Slack documents them and answers as Slack does.
//!
//! - An incoming webhook at [`WEBHOOK_PATH`]: `200 ok`; other paths `404 no_service`; a body that is
//!   not JSON, or holds a mistyped field, `400 invalid_payload`; no `text`, `blocks` or `attachments` `400
//!   missing_text_or_fallback_or_attachments`; blocks breaking Block Kit's rules `400
//!   invalid_blocks`.
//! - The Web API at `/api/chat.postMessage` and `/api/chat.update`: always `200` with `{"ok": …}`
//!   (`not_authed`, `invalid_auth`, `invalid_arguments` for a mistyped argument,
//!   `channel_not_found`, `not_in_channel`, `is_archived`, `no_text`, `msg_too_long`,
//!   `invalid_blocks` with its `errors`, `invalid_thread_ts`, `message_not_found`); a new message gets a fresh `ts`, and the channel's ID in the answer
//!   (`#ops` is [`OPS_CHANNEL`]); a `Content-Type` without charset gets the `missing_charset`
//!   warning.
//! - Block Kit, wherever blocks are (top level, in attachments): at most 50 blocks; a `header`'s
//!   text `plain_text` of 1 to 150 characters; a `section`'s text 1 to 3,000 characters, at most
//!   10 `fields` of at most 2,000; a `context` 1 to 10 elements; `block_id` at most 255.
//! - [`FakeSlack::fail_next`] answers the next requests with scripted failures instead (429 with
//!   `Retry-After`, 5xx, errors); they are still recorded.
//!
//! Every request is recorded with the answer it got; every message posted is kept, with its
//! thread and its edits.

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
    time::Instant,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};

/// The incoming webhook's path (its last part is the credential).
pub const WEBHOOK_PATH: &str = "/services/T0TOCSIN/B0TOCSIN/x9YlTokenPart";
/// The bot token the Web API accepts.
pub const BOT_TOKEN: &str = "xoxb-1111-2222-fakeslacktoken";
/// `#ops`, where the bot is a member.
pub const OPS_CHANNEL: &str = "C0OPS00001";
/// `#old`, archived.
pub const ARCHIVED_CHANNEL: &str = "C0OLD00001";
/// `#elsewhere`, where the bot is not a member.
pub const OTHER_CHANNEL: &str = "C0ELSE0001";

/// One scripted answer: status, headers, body.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    pub fn text(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: vec![("content-type".to_owned(), "text/html".to_owned())],
            body: body.to_owned(),
        }
    }

    pub fn json(status: u16, body: &Value) -> Answer {
        Answer {
            status,
            headers: vec![(
                "content-type".to_owned(),
                "application/json; charset=utf-8".to_owned(),
            )],
            body: body.to_string(),
        }
    }

    /// The Web API's `{"ok": false, "error": code}`.
    pub fn api_error(status: u16, code: &str) -> Answer {
        Answer::json(status, &json!({"ok": false, "error": code}))
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// A request as received, with the answer it got.
#[derive(Debug, Clone)]
pub struct Received {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub answer: Answer,
    /// When it had arrived.
    pub at: Instant,
}

impl Received {
    /// How long after `earlier` this request arrived.
    pub fn received_after(&self, earlier: &Received) -> std::time::Duration {
        self.at.saturating_duration_since(earlier.at)
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// A message in a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub channel: String,
    pub ts: String,
    /// The parent's `ts` for a thread reply.
    pub thread_ts: Option<String>,
    /// `text`, `blocks` and `attachments`, as last posted or updated.
    pub content: Value,
    /// Times it was updated.
    pub edits: u32,
}

#[derive(Debug, Default)]
struct State {
    received: Vec<Received>,
    /// Incoming-webhook posts, in order.
    webhook_posts: Vec<Value>,
    messages: Vec<Message>,
    failures: VecDeque<Answer>,
    next_ts: u64,
}

/// The running fake; stops when dropped.
#[derive(Debug)]
pub struct FakeSlack {
    address: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

fn lock(state: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

impl FakeSlack {
    pub async fn start() -> FakeSlack {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            next_ts: 1_764_345_600_000_100,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| handle(Arc::clone(&state), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FakeSlack { address, state, task }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// The incoming webhook's URL.
    pub fn webhook_url(&self) -> String {
        format!("{}{WEBHOOK_PATH}", self.base_url())
    }

    /// The Web API's base URL.
    pub fn api_url(&self) -> String {
        format!("{}/api", self.base_url())
    }

    /// The next requests are answered with `answers`, one each, in order.
    pub fn fail_next(&self, answers: impl IntoIterator<Item = Answer>) {
        lock(&self.state).failures.extend(answers);
    }

    pub fn received(&self) -> Vec<Received> {
        lock(&self.state).received.clone()
    }

    pub fn webhook_posts(&self) -> Vec<Value> {
        lock(&self.state).webhook_posts.clone()
    }

    pub fn messages(&self) -> Vec<Message> {
        lock(&self.state).messages.clone()
    }

    /// Messages that start a conversation (not thread replies).
    pub fn top_level(&self) -> Vec<Message> {
        self.messages()
            .into_iter()
            .filter(|message| message.thread_ts.is_none())
            .collect()
    }

    /// The replies in the thread of `ts`.
    pub fn replies(&self, ts: &str) -> Vec<Message> {
        self.messages()
            .into_iter()
            .filter(|message| message.thread_ts.as_deref() == Some(ts))
            .collect()
    }
}

impl Drop for FakeSlack {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let headers: Vec<(String, String)> = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    let body = match request.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let answer = {
        let mut state = lock(&state);
        let answer = match state.failures.pop_front() {
            Some(failure) => failure,
            None => answer(&mut state, &method, &path, &headers, &body),
        };
        state.received.push(Received {
            method,
            path,
            headers,
            body,
            answer: answer.clone(),
            at: Instant::now(),
        });
        answer
    };
    let mut response = Response::builder().status(answer.status);
    for (name, value) in &answer.headers {
        response = response.header(name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from(answer.body)))
        .unwrap_or_default())
}

fn answer(state: &mut State, method: &str, path: &str, headers: &[(String, String)], body: &str) -> Answer {
    if method != "POST" {
        return Answer::text(405, "method_not_allowed");
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    };
    match path {
        "/api/chat.postMessage" | "/api/chat.update" => {
            let answer = web_api(state, path, header("authorization"), header("content-type"), body);
            Answer::json(200, &answer)
        }
        _ if path.starts_with("/services/") => incoming_webhook(state, path, body),
        _ => Answer::text(404, "not found"),
    }
}

/// An incoming webhook: plain-text answers with their status.
fn incoming_webhook(state: &mut State, path: &str, body: &str) -> Answer {
    if path != WEBHOOK_PATH {
        return Answer::text(404, "no_service");
    }
    let Ok(Value::Object(message)) = serde_json::from_str::<Value>(body) else {
        return Answer::text(400, "invalid_payload");
    };
    if !types_are_right(&message) {
        return Answer::text(400, "invalid_payload");
    }
    let has = |key: &str| message.get(key).is_some_and(|value| !value.is_null());
    if !(has("text") || has("blocks") || has("attachments")) {
        return Answer::text(400, "missing_text_or_fallback_or_attachments");
    }
    if !block_kit_errors(&message).is_empty() {
        return Answer::text(400, "invalid_blocks");
    }
    state.webhook_posts.push(Value::Object(message));
    Answer::text(200, "ok")
}

/// The Web API: `{"ok": true, …}` or `{"ok": false, "error": …}`.
fn web_api(
    state: &mut State,
    path: &str,
    authorization: Option<&str>,
    content_type: Option<&str>,
    body: &str,
) -> Value {
    match authorization.and_then(|value| value.strip_prefix("Bearer ")) {
        None => return json!({"ok": false, "error": "not_authed"}),
        Some(token) if token != BOT_TOKEN => return json!({"ok": false, "error": "invalid_auth"}),
        Some(_) => {}
    }
    let content_type = content_type.unwrap_or_default().to_ascii_lowercase();
    if !content_type.starts_with("application/json") {
        return json!({"ok": false, "error": "invalid_form_data"});
    }
    let Ok(Value::Object(message)) = serde_json::from_str::<Value>(body) else {
        return json!({"ok": false, "error": "invalid_json"});
    };
    if !types_are_right(&message) {
        return json!({"ok": false, "error": "invalid_arguments"});
    }
    let text = |key: &str| message.get(key).and_then(Value::as_str);
    let channel = match text("channel").map(channel_id) {
        Some(Some(channel)) => channel,
        _ => return json!({"ok": false, "error": "channel_not_found"}),
    };
    if channel == ARCHIVED_CHANNEL {
        return json!({"ok": false, "error": "is_archived"});
    }
    if channel == OTHER_CHANNEL {
        return json!({"ok": false, "error": "not_in_channel"});
    }
    let has_content = text("text").is_some_and(|text| !text.is_empty())
        || message
            .get("blocks")
            .is_some_and(|blocks| blocks.as_array().is_some_and(|b| !b.is_empty()))
        || message
            .get("attachments")
            .is_some_and(|a| a.as_array().is_some_and(|a| !a.is_empty()));
    if !has_content {
        return json!({"ok": false, "error": "no_text"});
    }
    if text("text").is_some_and(|text| text.chars().count() > 40_000) {
        return json!({"ok": false, "error": "msg_too_long"});
    }
    let errors = block_kit_errors(&message);
    if !errors.is_empty() {
        let messages: Vec<String> = errors.iter().map(|error| format!("[ERROR] {error}")).collect();
        return json!({
            "ok": false,
            "error": "invalid_blocks",
            "errors": errors,
            "response_metadata": {"messages": messages},
        });
    }
    let content = json!({
        "text": message.get("text"),
        "blocks": message.get("blocks"),
        "attachments": message.get("attachments"),
    });
    let mut answer = if path.ends_with("/chat.postMessage") {
        let thread_ts = text("thread_ts").map(str::to_owned);
        let is_ts = |ts: &str| {
            ts.split_once('.').is_some_and(|(seconds, serial)| {
                !seconds.is_empty()
                    && !serial.is_empty()
                    && (seconds.chars().chain(serial.chars())).all(|c| c.is_ascii_digit())
            })
        };
        if thread_ts.as_deref().is_some_and(|ts| !is_ts(ts)) {
            return json!({"ok": false, "error": "invalid_thread_ts"});
        }
        if let Some(parent) = &thread_ts {
            let exists = state.messages.iter().any(|message| {
                message.channel == channel && &message.ts == parent && message.thread_ts.is_none()
            });
            if !exists {
                return json!({"ok": false, "error": "invalid_thread_ts"});
            }
        }
        let ts = format!("{}.{:06}", state.next_ts / 1_000_000, state.next_ts % 1_000_000);
        state.next_ts += 100;
        state.messages.push(Message {
            channel: channel.clone(),
            ts: ts.clone(),
            thread_ts,
            content: content.clone(),
            edits: 0,
        });
        json!({"ok": true, "channel": channel, "ts": ts, "message": {"type": "message", "ts": ts, "text": message.get("text")}})
    } else {
        // chat.update names the channel by its ID only.
        if text("channel") != Some(channel.as_str()) {
            return json!({"ok": false, "error": "channel_not_found"});
        }
        let ts = text("ts").unwrap_or_default().to_owned();
        let Some(found) = state
            .messages
            .iter_mut()
            .find(|message| message.channel == channel && message.ts == ts)
        else {
            return json!({"ok": false, "error": "message_not_found"});
        };
        found.content = content;
        found.edits += 1;
        json!({"ok": true, "channel": channel, "ts": ts, "text": message.get("text")})
    };
    if !content_type.contains("charset=utf-8") {
        answer["warning"] = json!("missing_charset");
        answer["response_metadata"] = json!({"warnings": ["missing_charset"]});
    }
    answer
}

/// The arguments' types: strings, arrays and booleans where Slack takes them.
fn types_are_right(message: &serde_json::Map<String, Value>) -> bool {
    message.iter().all(|(key, value)| match key.as_str() {
        "text" | "channel" | "thread_ts" | "ts" => value.is_string(),
        "blocks" | "attachments" => value.is_array(),
        "unfurl_links" | "unfurl_media" | "mrkdwn" | "reply_broadcast" => value.is_boolean(),
        _ => true,
    })
}

/// The ID of a channel given by ID or name.
fn channel_id(channel: &str) -> Option<String> {
    match channel.trim_start_matches('#') {
        "ops" | OPS_CHANNEL => Some(OPS_CHANNEL.to_owned()),
        "old" | ARCHIVED_CHANNEL => Some(ARCHIVED_CHANNEL.to_owned()),
        "elsewhere" | OTHER_CHANNEL => Some(OTHER_CHANNEL.to_owned()),
        _ => None,
    }
}

/// What breaks Block Kit's rules in a message's `blocks` and its attachments' `blocks`, each with
/// its JSON pointer, as Slack words it.
pub fn block_kit_errors(message: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    if let Some(blocks) = message.get("blocks") {
        check_blocks(blocks, "/blocks", &mut errors);
    }
    match message.get("attachments") {
        None => {}
        Some(Value::Array(attachments)) => {
            for (index, attachment) in attachments.iter().enumerate() {
                let pointer = format!("/attachments/{index}");
                if let Some(color) = attachment.get("color") {
                    let valid = color.as_str().is_some_and(|color| {
                        matches!(color, "good" | "warning" | "danger")
                            || (color.len() == 7
                                && color.starts_with('#')
                                && color[1..].chars().all(|c| c.is_ascii_hexdigit()))
                    });
                    if !valid {
                        errors.push(format!("invalid color [json-pointer:{pointer}/color]"));
                    }
                }
                if let Some(blocks) = attachment.get("blocks") {
                    check_blocks(blocks, &format!("{pointer}/blocks"), &mut errors);
                }
            }
        }
        Some(_) => errors.push("must be an array [json-pointer:/attachments]".to_owned()),
    }
    errors
}

fn check_blocks(blocks: &Value, pointer: &str, errors: &mut Vec<String>) {
    let Some(blocks) = blocks.as_array() else {
        errors.push(format!("must be an array [json-pointer:{pointer}]"));
        return;
    };
    if blocks.len() > 50 {
        errors.push(format!("no more than 50 items allowed [json-pointer:{pointer}]"));
    }
    for (index, block) in blocks.iter().enumerate() {
        let at = format!("{pointer}/{index}");
        if block
            .get("block_id")
            .and_then(Value::as_str)
            .is_some_and(|id| id.chars().count() > 255)
        {
            errors.push(format!(
                "must be less than 256 characters [json-pointer:{at}/block_id]"
            ));
        }
        match block.get("type").and_then(Value::as_str) {
            Some("header") => match block.get("text") {
                Some(text) if text["type"] == "plain_text" => {
                    check_text(text, 150, &format!("{at}/text"), errors);
                }
                _ => errors.push(format!(
                    "must provide an object of type plain_text [json-pointer:{at}/text]"
                )),
            },
            Some("section") => {
                let text = block.get("text");
                let fields = block.get("fields");
                if text.is_none() && fields.is_none() {
                    errors.push(format!("must provide text or fields [json-pointer:{at}]"));
                }
                if let Some(text) = text {
                    check_text_object(text, 3000, &format!("{at}/text"), errors);
                }
                if let Some(fields) = fields {
                    match fields.as_array() {
                        Some(fields) if fields.len() <= 10 => {
                            for (field_index, field) in fields.iter().enumerate() {
                                check_text_object(field, 2000, &format!("{at}/fields/{field_index}"), errors);
                            }
                        }
                        _ => errors.push(format!(
                            "no more than 10 items allowed [json-pointer:{at}/fields]"
                        )),
                    }
                }
            }
            Some("context") => match block.get("elements").and_then(Value::as_array) {
                Some(elements) if (1..=10).contains(&elements.len()) => {
                    for (element_index, element) in elements.iter().enumerate() {
                        if element["type"] != "image" {
                            check_text_object(
                                element,
                                3000,
                                &format!("{at}/elements/{element_index}"),
                                errors,
                            );
                        }
                    }
                }
                _ => errors.push(format!(
                    "must provide 1 to 10 elements [json-pointer:{at}/elements]"
                )),
            },
            Some("divider") => {}
            Some(other) => errors.push(format!("unsupported type `{other}` [json-pointer:{at}/type]")),
            None => errors.push(format!("missing required field: type [json-pointer:{at}]")),
        }
    }
}

/// A text object: `plain_text` or `mrkdwn`, its text within `max` characters.
fn check_text_object(text: &Value, max: usize, at: &str, errors: &mut Vec<String>) {
    match text["type"].as_str() {
        Some("plain_text" | "mrkdwn") => check_text(text, max, at, errors),
        _ => errors.push(format!(
            "must provide an object of type plain_text or mrkdwn [json-pointer:{at}]"
        )),
    }
}

fn check_text(text: &Value, max: usize, at: &str, errors: &mut Vec<String>) {
    match text["text"].as_str() {
        Some("") => errors.push(format!("must be more than 0 characters [json-pointer:{at}/text]")),
        Some(content) if content.chars().count() > max => errors.push(format!(
            "must be less than {} characters [json-pointer:{at}/text]",
            max + 1
        )),
        Some(_) => {}
        None => errors.push(format!("must provide a string [json-pointer:{at}/text]")),
    }
}
