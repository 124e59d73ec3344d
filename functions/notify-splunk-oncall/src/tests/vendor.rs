//! A local Splunk On-Call REST endpoint (targets.md §4): it refuses what the endpoint refuses and
//! keeps incidents per routing key and `entity_id` as Splunk On-Call does.
//!
//! - `POST …/integrations/generic/20131114/alert/<api key>/<routing key>` with a JSON object; any
//!   other path or method is `404`; an API key other than the integration's is refused.
//! - Checked: `message_type` (the only required field) is one of `CRITICAL`, `WARNING`, `INFO`,
//!   `ACKNOWLEDGEMENT`, `RECOVERY` (any case); `entity_id`, `entity_display_name`,
//!   `state_message`, `monitoring_tool` are strings; `state_start_time` and `timestamp` are epoch
//!   seconds (numbers); every other key (a custom field) is a string or a number. A refusal is
//!   `400 {"result": "failure", "message": …}`.
//! - State, per routing key and `entity_id`: `CRITICAL` opens an incident, or joins the open one
//!   (its timeline); `WARNING` and `INFO` go to the timeline (an account's default Alert Behavior);
//!   `ACKNOWLEDGEMENT` acknowledges the open incident; `RECOVERY` resolves it, or, with none open,
//!   goes to the timeline. A message without `entity_id` gets a random one, returned in the answer.
//! - `200 {"result": "success", "entity_id": …}` for every accepted message;
//!   [`SplunkOnCall::fail_next`] answers the next requests with a 429 or a 5xx instead (nothing is
//!   processed).

use std::{
    collections::{BTreeMap, VecDeque},
    sync::{Arc, Mutex},
};

use serde_json::{Map, Value, json};
use test_support::{Recorded, Reply, VendorReceiver};

/// The path before the API key.
pub const ALERT_PATH: &str = "/integrations/generic/20131114/alert/";
/// The API key the emulated account has.
pub const API_KEY: &str = "0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0";

/// What an accepted message did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `CRITICAL` opened incident number `incident` (counting from 1).
    Opened { entity_id: String, incident: usize },
    /// `CRITICAL` found the incident open: added to its timeline.
    Joined { entity_id: String, incident: usize },
    /// `RECOVERY` resolved the open incident.
    Resolved { entity_id: String, incident: usize },
    /// `ACKNOWLEDGEMENT` of the open incident.
    Acknowledged { entity_id: String, incident: usize },
    /// On the timeline only (`WARNING`, `INFO`, or an acknowledgement or recovery of nothing).
    Timeline { entity_id: String, message_type: String },
}

/// The emulated service.
#[derive(Debug, Default)]
pub struct SplunkOnCall {
    /// Open incidents by (routing key, entity id) → their number.
    open: BTreeMap<(String, String), usize>,
    /// What each accepted message did, in order.
    pub outcomes: Vec<Outcome>,
    /// Accepted messages, in order, with their routing key.
    pub messages: Vec<(String, Value)>,
    /// Incidents opened so far.
    opened: usize,
    /// Answers given instead of processing the next requests.
    faults: VecDeque<Reply>,
}

/// `{"result": "failure", "message": …}`.
fn failure(status: u16, message: &str) -> Reply {
    Reply::json(status, &json!({"result": "failure", "message": message}))
}

const MESSAGE_TYPES: [&str; 5] = ["CRITICAL", "WARNING", "INFO", "ACKNOWLEDGEMENT", "RECOVERY"];
const TEXT_FIELDS: [&str; 4] = [
    "entity_id",
    "entity_display_name",
    "state_message",
    "monitoring_tool",
];
const TIME_FIELDS: [&str; 2] = ["state_start_time", "timestamp"];

impl SplunkOnCall {
    /// Answers the next requests with `replies`, in order, before processing any again.
    pub fn fail_next(&mut self, replies: impl IntoIterator<Item = Reply>) {
        self.faults.extend(replies);
    }

    /// Incidents opened so far.
    pub fn opened(&self) -> usize {
        self.opened
    }

    /// Incidents resolved so far.
    pub fn resolved(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Resolved { .. }))
    }

    /// `CRITICAL` messages added to an open incident.
    pub fn joined(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Joined { .. }))
    }

    /// Messages on the timeline only.
    pub fn timeline(&self) -> usize {
        self.count(|outcome| matches!(outcome, Outcome::Timeline { .. }))
    }

    /// The numbers of the incidents open now.
    pub fn open_incidents(&self) -> Vec<usize> {
        self.open.values().copied().collect()
    }

    fn count(&self, what: impl Fn(&Outcome) -> bool) -> usize {
        self.outcomes.iter().filter(|outcome| what(outcome)).count()
    }

    /// The answer to one request.
    pub fn answer(&mut self, request: &Recorded) -> Reply {
        let keys = request
            .path
            .split_once(ALERT_PATH)
            .map(|(_, keys)| keys)
            .and_then(|keys| keys.split_once('/'))
            .filter(|(api_key, routing_key)| {
                !api_key.is_empty() && !routing_key.is_empty() && !routing_key.contains('/')
            });
        let Some((api_key, routing_key)) = keys.filter(|_| request.method == "POST") else {
            return Reply::status(404).body("Not Found");
        };
        if let Some(fault) = self.faults.pop_front() {
            return fault;
        }
        if api_key != API_KEY {
            return failure(401, "Invalid API key");
        }
        let Ok(Value::Object(message)) = serde_json::from_str::<Value>(&request.body) else {
            return failure(400, "Could not parse the message as a JSON object");
        };
        let errors = check(&message);
        if !errors.is_empty() {
            return failure(400, &errors.join("; "));
        }
        let message_type = message["message_type"]
            .as_str()
            .unwrap_or_default()
            .to_uppercase();
        let entity_id = match message.get("entity_id").and_then(Value::as_str) {
            Some(id) if !id.is_empty() => id.to_owned(),
            _ => format!("random-{}", self.messages.len() + 1),
        };
        let key = (routing_key.to_owned(), entity_id.clone());
        let open = self.open.get(&key).copied();
        let outcome = match (message_type.as_str(), open) {
            ("CRITICAL", Some(incident)) => Outcome::Joined {
                entity_id: entity_id.clone(),
                incident,
            },
            ("CRITICAL", None) => {
                self.opened += 1;
                self.open.insert(key, self.opened);
                Outcome::Opened {
                    entity_id: entity_id.clone(),
                    incident: self.opened,
                }
            }
            ("RECOVERY", Some(incident)) => {
                self.open.remove(&key);
                Outcome::Resolved {
                    entity_id: entity_id.clone(),
                    incident,
                }
            }
            ("ACKNOWLEDGEMENT", Some(incident)) => Outcome::Acknowledged {
                entity_id: entity_id.clone(),
                incident,
            },
            _ => Outcome::Timeline {
                entity_id: entity_id.clone(),
                message_type,
            },
        };
        self.outcomes.push(outcome);
        self.messages
            .push((routing_key.to_owned(), Value::Object(message)));
        Reply::json(200, &json!({"result": "success", "entity_id": entity_id}))
    }
}

/// Every way `message` breaks the documented fields.
fn check(message: &Map<String, Value>) -> Vec<String> {
    let mut errors = Vec::new();
    match message.get("message_type").and_then(Value::as_str) {
        None => errors.push("Missing fields: message_type".to_owned()),
        Some(kind) if !MESSAGE_TYPES.iter().any(|known| known.eq_ignore_ascii_case(kind)) => {
            errors.push(format!("Invalid message_type: {kind}"))
        }
        Some(_) => {}
    }
    for (key, value) in message {
        let valid = if TEXT_FIELDS.contains(&key.as_str()) {
            value.is_string()
        } else if TIME_FIELDS.contains(&key.as_str()) {
            value.is_i64() || value.is_u64()
        } else {
            value.is_string() || value.is_number()
        };
        if !valid {
            errors.push(format!("Invalid value for field {key}"));
        }
    }
    errors
}

/// The emulated service on a local port.
pub struct Api {
    /// Its state.
    pub state: Arc<Mutex<SplunkOnCall>>,
    /// The receiver.
    pub receiver: VendorReceiver,
}

impl Api {
    /// Starts it.
    pub async fn start() -> Api {
        let state: Arc<Mutex<SplunkOnCall>> = Arc::default();
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

    /// Its REST endpoint URL up to the API key (the integration's `url` adds `{{ApiKey}}`).
    pub fn base(&self) -> String {
        self.receiver.url(ALERT_PATH.trim_end_matches('/'))
    }

    /// Its state now.
    pub fn state(&self) -> std::sync::MutexGuard<'_, SplunkOnCall> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
