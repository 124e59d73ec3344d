//! A local Teams Workflows webhook: it validates every request as the documented trigger and card
//! renderer would (targets.md §3.2: the message envelope, `contentUrl: null`, an Adaptive Card of a
//! known version whose elements and actions have what they need; at most 28 KB), refuses an
//! invalid one as Workflows does (`400 TriggerInputSchemaMismatch`, `413` when too large), and
//! answers a valid one from its script (`202 Accepted` by default; `429` with `Retry-After`, `5xx`,
//! or a legacy connector's `200` with an error text).

use std::{
    collections::VecDeque,
    sync::{Arc, Mutex, PoisonError},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use tokio::{net::TcpListener, task::JoinHandle};

/// The most a Teams message may weigh (targets.md §3.3).
pub const LIMIT_BYTES: usize = 28_000;

/// The Adaptive Card versions Teams renders.
const VERSIONS: &[&str] = &["1.0", "1.1", "1.2", "1.3", "1.4", "1.5"];

/// One scripted answer to a valid request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Answer {
    /// `202 Accepted`, empty body: what Workflows answers.
    pub fn accepted() -> Answer {
        Answer::status(202, "")
    }

    pub fn status(status: u16, body: &str) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: body.to_owned(),
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }
}

/// One request as received, with the validator's verdict.
#[derive(Debug, Clone)]
pub struct Received {
    pub path: String,
    pub query: Option<String>,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// `Err` with the reason when the request was refused as invalid.
    pub verdict: Result<(), String>,
}

impl Received {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    /// Answers to valid requests, in order; the last one repeats.
    script: VecDeque<Answer>,
    received: Vec<Received>,
}

/// A running Workflows webhook; stops when dropped.
pub struct Workflows {
    address: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Workflows {
    /// Starts it on a free port of 127.0.0.1, answering valid requests with `script` (empty: `202`).
    pub async fn start(script: impl IntoIterator<Item = Answer>) -> Workflows {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            script: script.into_iter().collect(),
            received: Vec::new(),
        }));
        let shared = Arc::clone(&state);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(Arc::clone(&state), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Workflows { address, state, task }
    }

    /// A Workflows trigger URL on this server, signed with `sig`.
    pub fn url(&self, sig: &str) -> String {
        format!(
            "http://{}/workflows/4f1c/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={sig}",
            self.address
        )
    }

    /// Every request so far.
    pub fn received(&self) -> Vec<Received> {
        self.state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .received
            .clone()
    }
}

impl Drop for Workflows {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn answer(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
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
    let content_type = headers
        .iter()
        .find(|(name, _)| name == "content-type")
        .map(|(_, value)| value.as_str());
    let verdict = validate_request(&method, content_type, &body);
    let reply = {
        let mut state = state.lock().unwrap_or_else(PoisonError::into_inner);
        state.received.push(Received {
            path,
            query,
            headers,
            body,
            verdict: verdict.clone().map_err(|(_, _, message)| message),
        });
        match verdict {
            Err((status, code, message)) => Answer::status(
                status,
                &json!({"error": {"code": code, "message": message}}).to_string(),
            )
            .header("content-type", "application/json"),
            Ok(()) => {
                let next = if state.script.len() > 1 {
                    state.script.pop_front()
                } else {
                    state.script.front().cloned()
                };
                next.unwrap_or_else(Answer::accepted)
            }
        }
    };
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from(reply.body)))
        .unwrap_or_else(|_| Response::new(Full::new(Bytes::new()))))
}

/// Why Workflows would refuse this request: `(status, error code, message)`.
pub fn validate_request(
    method: &str,
    content_type: Option<&str>,
    body: &str,
) -> Result<(), (u16, String, String)> {
    let schema = |message: String| (400, "TriggerInputSchemaMismatch".to_owned(), message);
    if method != "POST" {
        return Err((
            405,
            "TriggerRequestMethodNotValid".to_owned(),
            format!("the trigger takes POST, not {method}"),
        ));
    }
    if !content_type.is_some_and(|value| value.to_ascii_lowercase().starts_with("application/json")) {
        return Err((
            415,
            "UnsupportedMediaType".to_owned(),
            format!("content type {content_type:?} is not application/json"),
        ));
    }
    if body.len() > LIMIT_BYTES {
        return Err((
            413,
            "RequestEntityTooLarge".to_owned(),
            format!("the message is {} bytes, over {LIMIT_BYTES}", body.len()),
        ));
    }
    let message: Value = serde_json::from_str(body).map_err(|error| {
        (
            400,
            "InvalidRequestContent".to_owned(),
            format!("not JSON: {error}"),
        )
    })?;
    validate_message(&message).map_err(schema)
}

/// The message envelope and its cards.
pub fn validate_message(message: &Value) -> Result<(), String> {
    if message["type"] != "message" {
        return Err("`type` must be \"message\"".to_owned());
    }
    let attachments = message["attachments"]
        .as_array()
        .filter(|attachments| !attachments.is_empty())
        .ok_or("The template language expression 'triggerBody()?['attachments']' is of type 'Null'")?;
    for (index, attachment) in attachments.iter().enumerate() {
        let at = format!("attachments[{index}]");
        if attachment["contentType"] != "application/vnd.microsoft.card.adaptive" {
            return Err(format!("{at}.contentType is not an Adaptive Card"));
        }
        match attachment.get("contentUrl") {
            Some(Value::Null) => {}
            Some(_) => return Err(format!("{at}.contentUrl must be null")),
            None => {
                return Err(format!(
                    "Required properties are missing from object: contentUrl ({at})"
                ));
            }
        }
        validate_card(&attachment["content"]).map_err(|reason| format!("{at}.content: {reason}"))?;
    }
    Ok(())
}

/// An Adaptive Card as Teams renders it.
pub fn validate_card(card: &Value) -> Result<(), String> {
    if card["type"] != "AdaptiveCard" {
        return Err("`type` must be \"AdaptiveCard\"".to_owned());
    }
    let version = card["version"].as_str().unwrap_or_default();
    if !VERSIONS.contains(&version) {
        return Err(format!("version {:?} is not one Teams renders", card["version"]));
    }
    if let Some(schema) = card.get("$schema")
        && schema != "http://adaptivecards.io/schemas/adaptive-card.json"
    {
        return Err(format!("unknown $schema {schema}"));
    }
    if let Some(teams) = card.get("msteams")
        && teams.get("width").is_some_and(|width| width != "Full")
    {
        return Err("msteams.width must be \"Full\"".to_owned());
    }
    let body = card["body"].as_array().ok_or("`body` must be a list")?;
    for (index, element) in body.iter().enumerate() {
        validate_element(element).map_err(|reason| format!("body[{index}]: {reason}"))?;
    }
    if let Some(actions) = card.get("actions") {
        validate_actions(actions).map_err(|reason| format!("actions: {reason}"))?;
    }
    Ok(())
}

fn enumerated(value: &Value, name: &str, allowed: &[&str]) -> Result<(), String> {
    match value.get(name) {
        None => Ok(()),
        Some(Value::String(text)) if allowed.contains(&text.as_str()) => Ok(()),
        Some(other) => Err(format!("{name} {other} is not one of {allowed:?}")),
    }
}

fn text_style(value: &Value) -> Result<(), String> {
    enumerated(
        value,
        "color",
        &[
            "Default",
            "Dark",
            "Light",
            "Accent",
            "Good",
            "Warning",
            "Attention",
        ],
    )?;
    enumerated(value, "weight", &["Default", "Lighter", "Bolder"])?;
    enumerated(
        value,
        "size",
        &["Default", "Small", "Medium", "Large", "ExtraLarge"],
    )
}

fn string(value: &Value, name: &str) -> Result<(), String> {
    value[name]
        .as_str()
        .map(|_| ())
        .ok_or_else(|| format!("`{name}` must be a string"))
}

fn validate_element(element: &Value) -> Result<(), String> {
    match element["type"].as_str() {
        Some("TextBlock") => {
            string(element, "text")?;
            text_style(element)
        }
        Some("RichTextBlock") => {
            let inlines = element["inlines"].as_array().ok_or("`inlines` must be a list")?;
            for inline in inlines {
                if inline.is_string() {
                    continue;
                }
                if inline["type"] != "TextRun" {
                    return Err(format!("inline {inline} is not a TextRun"));
                }
                string(inline, "text")?;
                text_style(inline)?;
            }
            Ok(())
        }
        Some("FactSet") => {
            let facts = element["facts"].as_array().ok_or("`facts` must be a list")?;
            for fact in facts {
                string(fact, "title")?;
                string(fact, "value")?;
            }
            Ok(())
        }
        Some("Container") => element["items"]
            .as_array()
            .ok_or("`items` must be a list")?
            .iter()
            .try_for_each(validate_element),
        Some("ColumnSet") => {
            for column in element["columns"].as_array().ok_or("`columns` must be a list")? {
                if column["type"] != "Column" {
                    return Err("a column must have type Column".to_owned());
                }
                for item in column["items"].as_array().into_iter().flatten() {
                    validate_element(item)?;
                }
            }
            Ok(())
        }
        Some("Image") => absolute(element, "url"),
        Some("ActionSet") => validate_actions(&element["actions"]),
        other => Err(format!("unknown element type {other:?}")),
    }
}

fn absolute(value: &Value, name: &str) -> Result<(), String> {
    let url = value[name].as_str().unwrap_or_default();
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err(format!("`{name}` {url:?} is not an absolute URL"))
    }
}

fn validate_actions(actions: &Value) -> Result<(), String> {
    for action in actions.as_array().ok_or("must be a list")? {
        string(action, "title")?;
        match action["type"].as_str() {
            Some("Action.OpenUrl") => absolute(action, "url")?,
            Some("Action.ShowCard" | "Action.Submit" | "Action.ToggleVisibility" | "Action.Execute") => {}
            other => return Err(format!("unknown action type {other:?}")),
        }
    }
    Ok(())
}
