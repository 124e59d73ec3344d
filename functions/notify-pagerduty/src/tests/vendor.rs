//! A local PagerDuty Events API v2 (targets.md §1): it refuses what PagerDuty refuses, with
//! PagerDuty's error body, and keeps the open alerts as PagerDuty does.
//!
//! - `POST …/v2/enqueue` with a JSON event; any other path or method is `404`.
//! - Checked: the event is an object of at most 512 KB; `routing_key` (32 characters),
//!   `event_action` (`trigger`, `acknowledge`, `resolve`), `dedup_key` (at most 255 characters,
//!   required to acknowledge or resolve); a trigger's `payload` with `summary` (at most 1,024
//!   characters), `source`, `severity` (`critical`, `error`, `warning`, `info`), an ISO 8601
//!   `timestamp`, an object `custom_details`; `links[]` with an `href`, `images[]` with an https
//!   `src`. A refusal is `400 {"status": "invalid event", "message": "Event object is invalid",
//!   "errors": […]}`.
//! - State, per routing key and dedup key: a trigger opens an alert, or counts a duplicate on the
//!   open one; a resolve closes the open alert; an acknowledge or resolve of nothing is dropped
//!   (still `202`); after a resolve, a trigger with the same key opens a new alert. A trigger
//!   without a `dedup_key` gets one generated, returned in the answer.
//! - `202 {"status": "success", "message": "Event processed", "dedup_key": …}` for every accepted
//!   event; [`PagerDuty::fail_next`] answers the next requests with a 429 (with `Retry-After`) or a
//!   5xx instead, as PagerDuty does when throttled or unwell (nothing is processed).

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
};

use serde_json::{Value, json};
use test_support::{Recorded, Reply, VendorReceiver};

/// What an accepted event did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// A trigger opened alert number `alert` (counting from 1).
    Opened { dedup_key: String, alert: usize },
    /// A trigger found the alert open: PagerDuty counts it on that alert.
    Duplicate { dedup_key: String, alert: usize },
    /// A resolve closed the open alert.
    Resolved { dedup_key: String, alert: usize },
    /// An acknowledge of the open alert.
    Acknowledged { dedup_key: String, alert: usize },
    /// An acknowledge or resolve with no open alert: dropped, as PagerDuty does.
    Dropped { dedup_key: String, action: String },
}

/// An open alert.
#[derive(Debug, Clone)]
pub struct OpenAlert {
    /// Its number.
    pub number: usize,
    /// Triggers counted on it after the first.
    pub duplicates: usize,
    /// Acknowledged.
    pub acknowledged: bool,
}

/// The emulated service.
#[derive(Debug, Default)]
pub struct PagerDuty {
    /// Open alerts by (routing key, dedup key).
    open: BTreeMap<(String, String), OpenAlert>,
    /// What each accepted event did, in order.
    pub outcomes: Vec<Outcome>,
    /// Accepted events, in order.
    pub events: Vec<Value>,
    /// Alerts opened so far.
    opened: usize,
    /// Answers given instead of processing the next requests.
    faults: VecDeque<Reply>,
}

/// `Event object is invalid` with `errors`.
fn invalid(errors: &[String]) -> Reply {
    Reply::json(
        400,
        &json!({"status": "invalid event", "message": "Event object is invalid", "errors": errors}),
    )
}

const SEVERITIES: [&str; 4] = ["critical", "error", "warning", "info"];

impl PagerDuty {
    /// Answers the next requests with `replies`, in order, before processing any again.
    pub fn fail_next(&mut self, replies: impl IntoIterator<Item = Reply>) {
        self.faults.extend(replies);
    }

    /// `429` as PagerDuty throttles (with a `Retry-After` of one second).
    pub fn throttled() -> Reply {
        Reply::json(
            429,
            &json!({"status": "throttle event", "message": "Requests for this service are arriving too quickly. Please retry later."}),
        )
        .header("Retry-After", "1")
    }

    /// Alerts opened so far.
    pub fn opened(&self) -> usize {
        self.opened
    }

    /// Alerts resolved so far.
    pub fn resolved(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Resolved { .. }))
    }

    /// Triggers counted on an open alert.
    pub fn duplicates(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Duplicate { .. }))
    }

    /// Acknowledges and resolves of nothing.
    pub fn dropped(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Dropped { .. }))
    }

    /// The alerts open now.
    pub fn open_alerts(&self) -> Vec<OpenAlert> {
        self.open.values().cloned().collect()
    }

    fn count(&self, what: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|outcome| what(outcome)).count()
    }

    /// The answer to one request.
    pub fn answer(&mut self, request: &Recorded) -> Reply {
        if request.method != "POST" || !request.path.ends_with("/v2/enqueue") {
            return Reply::status(404).body("Not Found");
        }
        if let Some(fault) = self.faults.pop_front() {
            return fault;
        }
        if request.body.len() > 512_000 {
            return invalid(&["Event object exceeds the maximum size of 512 KB".to_owned()]);
        }
        let Ok(Value::Object(event)) = serde_json::from_str::<Value>(&request.body) else {
            return invalid(&["Event object is not valid JSON".to_owned()]);
        };
        let errors = check(&event);
        if !errors.is_empty() {
            return invalid(&errors);
        }
        let text = |key: &str| {
            event
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned()
        };
        let routing_key = text("routing_key");
        let action = text("event_action");
        let dedup_key = match event.get("dedup_key").and_then(Value::as_str) {
            Some(key) => key.to_owned(),
            None => format!("generated-{}", self.events.len() + 1),
        };
        let key = (routing_key, dedup_key.clone());
        let outcome = match (action.as_str(), self.open.get_mut(&key)) {
            ("trigger", Some(open)) => {
                open.duplicates += 1;
                Outcome::Duplicate {
                    dedup_key: dedup_key.clone(),
                    alert: open.number,
                }
            }
            ("trigger", None) => {
                self.opened += 1;
                self.open.insert(
                    key,
                    OpenAlert {
                        number: self.opened,
                        duplicates: 0,
                        acknowledged: false,
                    },
                );
                Outcome::Opened {
                    dedup_key: dedup_key.clone(),
                    alert: self.opened,
                }
            }
            ("acknowledge", Some(open)) => {
                open.acknowledged = true;
                Outcome::Acknowledged {
                    dedup_key: dedup_key.clone(),
                    alert: open.number,
                }
            }
            ("resolve", Some(_)) => {
                let number = self.open.remove(&key).map_or(0, |open| open.number);
                Outcome::Resolved {
                    dedup_key: dedup_key.clone(),
                    alert: number,
                }
            }
            (_, None) => Outcome::Dropped {
                dedup_key: dedup_key.clone(),
                action,
            },
            (_, Some(_)) => unreachable!("event_action was checked"),
        };
        self.outcomes.push(outcome);
        self.events.push(Value::Object(event));
        Reply::json(
            202,
            &json!({"status": "success", "message": "Event processed", "dedup_key": dedup_key}),
        )
    }
}

/// Every way `event` breaks the documented schema.
fn check(event: &serde_json::Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    let string = |value: Option<&Value>| value.and_then(Value::as_str).map(str::to_owned);
    match string(event.get("routing_key")) {
        None => errors.push("'routing_key' is missing or blank".to_owned()),
        Some(key) if key.trim().is_empty() => errors.push("'routing_key' is missing or blank".to_owned()),
        Some(key) if key.chars().count() != 32 => {
            errors.push("Length of 'routing_key' is incorrect (should be 32 characters)".to_owned())
        }
        Some(_) => {}
    }
    let action = string(event.get("event_action")).unwrap_or_default();
    if !["trigger", "acknowledge", "resolve"].contains(&action.as_str()) {
        errors.push("'event_action' is invalid (expected trigger, acknowledge or resolve)".to_owned());
    }
    match event.get("dedup_key") {
        None if action != "trigger" => errors.push("'dedup_key' is missing or blank".to_owned()),
        None => {}
        Some(Value::String(key)) if key.trim().is_empty() => {
            errors.push("'dedup_key' is missing or blank".to_owned())
        }
        Some(Value::String(key)) if key.chars().count() > 255 => {
            errors.push("'dedup_key' is too long (at most 255 characters)".to_owned())
        }
        Some(Value::String(_)) => {}
        Some(_) => errors.push("'dedup_key' must be a string".to_owned()),
    }
    if action == "trigger" {
        match event.get("payload") {
            Some(Value::Object(payload)) => check_payload(payload, &mut errors),
            _ => errors.push("'payload' is missing or blank".to_owned()),
        }
    }
    for key in ["client", "client_url"] {
        if event.get(key).is_some_and(|value| !value.is_string()) {
            errors.push(format!("'{key}' must be a string"));
        }
    }
    match event.get("links") {
        None => {}
        Some(Value::Array(links)) => {
            for (index, link) in links.iter().enumerate() {
                if link["href"].as_str().is_none_or(|href| href.trim().is_empty()) {
                    errors.push(format!("'links[{index}].href' is missing or blank"));
                }
            }
        }
        Some(_) => errors.push("'links' must be an array".to_owned()),
    }
    match event.get("images") {
        None => {}
        Some(Value::Array(images)) => {
            for (index, image) in images.iter().enumerate() {
                if !image["src"]
                    .as_str()
                    .is_some_and(|src| src.starts_with("https://"))
                {
                    errors.push(format!("'images[{index}].src' must be an https URL"));
                }
            }
        }
        Some(_) => errors.push("'images' must be an array".to_owned()),
    }
    errors
}

fn check_payload(payload: &serde_json::Map<String, Value>, errors: &mut Vec<String>) {
    let text = |key: &str| payload.get(key).and_then(Value::as_str);
    match text("summary") {
        None => errors.push("'payload.summary' is missing or blank".to_owned()),
        Some(summary) if summary.trim().is_empty() => {
            errors.push("'payload.summary' is missing or blank".to_owned())
        }
        Some(summary) if summary.chars().count() > 1024 => {
            errors.push("'payload.summary' is too long (at most 1024 characters)".to_owned())
        }
        Some(_) => {}
    }
    if text("source").is_none_or(|source| source.trim().is_empty()) {
        errors.push("'payload.source' is missing or blank".to_owned());
    }
    if !text("severity").is_some_and(|severity| SEVERITIES.contains(&severity)) {
        errors.push("'payload.severity' is invalid (expected critical, error, warning or info)".to_owned());
    }
    if let Some(timestamp) = payload.get("timestamp") {
        let valid = timestamp
            .as_str()
            .is_some_and(|time| chrono::DateTime::parse_from_rfc3339(time).is_ok());
        if !valid {
            errors.push("'payload.timestamp' is not a valid ISO 8601 timestamp".to_owned());
        }
    }
    for key in ["component", "group", "class"] {
        if payload.get(key).is_some_and(|value| !value.is_string()) {
            errors.push(format!("'payload.{key}' must be a string"));
        }
    }
    if payload
        .get("custom_details")
        .is_some_and(|details| !details.is_object())
    {
        errors.push("'payload.custom_details' must be an object".to_owned());
    }
}

/// The emulated service on a local port.
pub struct Api {
    /// Its state.
    pub state: Arc<Mutex<PagerDuty>>,
    /// The receiver.
    pub receiver: VendorReceiver,
}

impl Api {
    /// Starts it.
    pub async fn start() -> Api {
        let state: Arc<Mutex<PagerDuty>> = Arc::default();
        let served = Arc::clone(&state);
        let receiver = VendorReceiver::start(move |request| {
            served
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .answer(request)
        })
        .await;
        Api { state, receiver }
    }

    /// Its Events API URL.
    pub fn url(&self) -> String {
        self.receiver.url("/v2/enqueue")
    }

    /// Its state now.
    pub fn state(&self) -> std::sync::MutexGuard<'_, PagerDuty> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
