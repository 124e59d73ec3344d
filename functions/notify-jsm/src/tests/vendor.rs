//! A local Jira Service Management integration events API (targets.md §7; the same shape as
//! Opsgenie's alert API): it refuses what the API refuses, answers `202` with a `requestId`, and
//! processes each accepted request afterwards as the API does, keeping the open alerts.
//!
//! - `POST …/jsm/ops/integration/v2/alerts` (create) and
//!   `POST …/jsm/ops/integration/v2/alerts/<alias>/close?identifierType=alias` (close); any other
//!   path or method is `404`. `Authorization: GenieKey <key>` with the integration's key, else
//!   `401 {"message": "Could not authenticate", …}`.
//! - Create checked: `message` required, at most 130 characters; `alias` at most 512; `description`
//!   at most 15,000; `responders` at most 50, each with a `type` (team, user, escalation,
//!   schedule) and an `id`, `name` or `username`; `tags` at most 20, each at most 50; `details` an
//!   object of strings, at most 8,000 characters in all; `entity` at most 512; `source` at most
//!   100; `priority` `P1`…`P5`. Close checked: `source`, `user` at most 100, `note` at most 25,000.
//!   A refusal is `422 {"message": "Request body is not processable. Please check the errors.",
//!   "errors": {field: problem}, "took": …, "requestId": …}`.
//! - Processing: a create opens an alert, or, with one open for its alias, counts on it
//!   (deduplication); a close by alias closes the open alert, or fails with "Alert does not
//!   exist" (the request's status; the answer was already `202`).
//! - [`Jsm::fail_next`] answers the next requests with a 429 or a 5xx instead (nothing processed).

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
};

use serde_json::{Map, Value, json};
use test_support::{Recorded, Reply, VendorReceiver};

/// The alerts' path.
pub const ALERTS_PATH: &str = "/jsm/ops/integration/v2/alerts";
/// The API key of the emulated integration.
pub const API_KEY: &str = "4f3c2b1a-0e9d-8c7b-6a59-483726150f4e";

/// How a request was processed (after its `202`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Processed {
    /// A create opened alert number `alert` (counting from 1).
    Created { alias: String, alert: usize },
    /// A create found the alias open: counted on that alert.
    Deduplicated { alias: String, alert: usize },
    /// A close closed the open alert.
    Closed { alias: String, alert: usize },
    /// A close of an alias with no open alert: "Alert does not exist".
    CloseFailed { alias: String },
}

/// The emulated service.
#[derive(Debug, Default)]
pub struct Jsm {
    /// Open alerts by alias → (number, count).
    open: BTreeMap<String, (usize, usize)>,
    /// How each accepted request was processed, in order.
    pub processed: Vec<Processed>,
    /// Accepted request bodies, in order.
    pub bodies: Vec<Value>,
    /// Alerts opened so far.
    opened: usize,
    /// Answers given instead of processing the next requests.
    faults: VecDeque<Reply>,
}

fn took_and_id(number: usize) -> (f64, String) {
    (0.01, format!("00000000-0000-4000-8000-{number:012}"))
}

impl Jsm {
    /// Answers the next requests with `replies`, in order, before processing any again.
    pub fn fail_next(&mut self, replies: impl IntoIterator<Item = Reply>) {
        self.faults.extend(replies);
    }

    /// Alerts opened so far.
    pub fn opened(&self) -> usize {
        self.opened
    }

    /// Alerts closed so far.
    pub fn closed(&self) -> usize {
        self.count(|processed| matches!(processed, Processed::Closed { .. }))
    }

    /// Creates counted on an open alert.
    pub fn deduplicated(&self) -> usize {
        self.count(|processed| matches!(processed, Processed::Deduplicated { .. }))
    }

    /// Closes that failed ("Alert does not exist").
    pub fn failed_closes(&self) -> usize {
        self.count(|processed| matches!(processed, Processed::CloseFailed { .. }))
    }

    /// The numbers of the alerts open now.
    pub fn open_alerts(&self) -> Vec<usize> {
        self.open.values().map(|(number, _)| *number).collect()
    }

    fn count(&self, what: impl Fn(&Processed) -> bool) -> usize {
        self.processed.iter().filter(|processed| what(processed)).count()
    }

    fn refused(&self, errors: &BTreeMap<String, String>) -> Reply {
        let (took, request_id) = took_and_id(self.bodies.len() + 1);
        Reply::json(
            422,
            &json!({"message": "Request body is not processable. Please check the errors.", "errors": errors, "took": took, "requestId": request_id}),
        )
    }

    /// The answer to one request.
    pub fn answer(&mut self, request: &Recorded) -> Reply {
        let (path, query) = (
            request.path.as_str(),
            request.query.as_deref().unwrap_or_default(),
        );
        let Some((_, rest)) = path.split_once(ALERTS_PATH).filter(|_| request.method == "POST") else {
            return Reply::status(404).body("Not Found");
        };
        let close = match rest {
            "" => None,
            rest => match rest
                .strip_prefix('/')
                .and_then(|rest| rest.strip_suffix("/close"))
            {
                Some(alias) if !alias.is_empty() && query == "identifierType=alias" => Some(
                    percent_encoding::percent_decode_str(alias)
                        .decode_utf8_lossy()
                        .into_owned(),
                ),
                _ => return Reply::status(404).body("Not Found"),
            },
        };
        if let Some(fault) = self.faults.pop_front() {
            return fault;
        }
        if request.header("authorization") != Some(format!("GenieKey {API_KEY}").as_str()) {
            let (took, request_id) = took_and_id(self.bodies.len() + 1);
            return Reply::json(
                401,
                &json!({"message": "Could not authenticate", "took": took, "requestId": request_id}),
            );
        }
        let Ok(Value::Object(body)) = serde_json::from_str::<Value>(&request.body) else {
            return self.refused(&BTreeMap::from([(
                "body".to_owned(),
                "Could not parse the body".to_owned(),
            )]));
        };
        let errors = match &close {
            None => check_create(&body),
            Some(_) => check_close(&body),
        };
        if !errors.is_empty() {
            return self.refused(&errors);
        }
        let processed = match close {
            Some(alias) => match self.open.remove(&alias) {
                Some((alert, _)) => Processed::Closed { alias, alert },
                None => Processed::CloseFailed { alias },
            },
            None => {
                let alias = match body.get("alias").and_then(Value::as_str) {
                    Some(alias) if !alias.is_empty() => alias.to_owned(),
                    _ => format!("generated-{}", self.bodies.len() + 1),
                };
                match self.open.get_mut(&alias) {
                    Some((alert, count)) => {
                        *count += 1;
                        Processed::Deduplicated { alias, alert: *alert }
                    }
                    None => {
                        self.opened += 1;
                        self.open.insert(alias.clone(), (self.opened, 1));
                        Processed::Created {
                            alias,
                            alert: self.opened,
                        }
                    }
                }
            }
        };
        self.processed.push(processed);
        self.bodies.push(Value::Object(body));
        let (took, request_id) = took_and_id(self.bodies.len());
        Reply::json(
            202,
            &json!({"result": "Request will be processed", "took": took, "requestId": request_id}),
        )
    }
}

fn text_within(
    body: &Map<String, Value>,
    key: &str,
    max: usize,
    required: bool,
    errors: &mut BTreeMap<String, String>,
) {
    match body.get(key) {
        None if required => {
            errors.insert(key.to_owned(), format!("{key} can not be empty."));
        }
        None => {}
        Some(Value::String(text)) if required && text.trim().is_empty() => {
            errors.insert(key.to_owned(), format!("{key} can not be empty."));
        }
        Some(Value::String(text)) if text.chars().count() > max => {
            errors.insert(
                key.to_owned(),
                format!("{key} can not be longer than {max} characters."),
            );
        }
        Some(Value::String(_)) => {}
        Some(_) => {
            errors.insert(key.to_owned(), format!("{key} must be a string."));
        }
    }
}

/// Every way a create body breaks the documented fields.
fn check_create(body: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    text_within(body, "message", 130, true, &mut errors);
    text_within(body, "alias", 512, false, &mut errors);
    text_within(body, "description", 15_000, false, &mut errors);
    text_within(body, "entity", 512, false, &mut errors);
    text_within(body, "source", 100, false, &mut errors);
    if let Some(priority) = body.get("priority")
        && !priority
            .as_str()
            .is_some_and(|priority| ["P1", "P2", "P3", "P4", "P5"].contains(&priority))
    {
        errors.insert(
            "priority".to_owned(),
            "priority must be one of P1, P2, P3, P4, P5.".to_owned(),
        );
    }
    match body.get("responders") {
        None => {}
        Some(Value::Array(responders)) if responders.len() <= 50 => {
            for (index, responder) in responders.iter().enumerate() {
                let typed = responder["type"]
                    .as_str()
                    .is_some_and(|kind| ["team", "user", "escalation", "schedule"].contains(&kind));
                let named = ["id", "name", "username"]
                    .iter()
                    .any(|key| responder[*key].as_str().is_some_and(|value| !value.is_empty()));
                if !typed || !named {
                    errors.insert(
                        format!("responders[{index}]"),
                        "a responder needs a type and an id, name or username.".to_owned(),
                    );
                }
            }
        }
        Some(_) => {
            errors.insert("responders".to_owned(), "at most 50 responders.".to_owned());
        }
    }
    match body.get("tags") {
        None => {}
        Some(Value::Array(tags))
            if tags.len() <= 20
                && tags
                    .iter()
                    .all(|tag| tag.as_str().is_some_and(|tag| tag.chars().count() <= 50)) => {}
        Some(_) => {
            errors.insert(
                "tags".to_owned(),
                "at most 20 tags of at most 50 characters.".to_owned(),
            );
        }
    }
    match body.get("details") {
        None => {}
        Some(Value::Object(details)) => {
            let total: usize = details
                .iter()
                .map(|(name, value)| {
                    name.chars().count() + value.as_str().map_or(0, |value| value.chars().count())
                })
                .sum();
            if details.values().any(|value| !value.is_string()) {
                errors.insert("details".to_owned(), "details values must be strings.".to_owned());
            } else if total > 8_000 {
                errors.insert(
                    "details".to_owned(),
                    "details can not be longer than 8000 characters.".to_owned(),
                );
            }
        }
        Some(_) => {
            errors.insert("details".to_owned(), "details must be an object.".to_owned());
        }
    }
    errors
}

/// Every way a close body breaks the documented fields.
fn check_close(body: &Map<String, Value>) -> BTreeMap<String, String> {
    let mut errors = BTreeMap::new();
    text_within(body, "source", 100, false, &mut errors);
    text_within(body, "user", 100, false, &mut errors);
    text_within(body, "note", 25_000, false, &mut errors);
    errors
}

/// The emulated service on a local port.
pub struct ApiServer {
    /// Its state.
    pub state: Arc<Mutex<Jsm>>,
    /// The receiver.
    pub receiver: VendorReceiver,
}

impl ApiServer {
    /// Starts it.
    pub async fn start() -> ApiServer {
        let state: Arc<Mutex<Jsm>> = Arc::default();
        let served = Arc::clone(&state);
        let receiver = VendorReceiver::start(move |request| {
            served
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .answer(request)
        })
        .await;
        ApiServer { state, receiver }
    }

    /// Its base URL (the integration's `url`).
    pub fn base(&self) -> String {
        self.receiver.url("")
    }

    /// Its state now.
    pub fn state(&self) -> std::sync::MutexGuard<'_, Jsm> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
