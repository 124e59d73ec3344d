//! A fake StatusHub (Management API v3) that keeps a hub's services and incidents as StatusHub
//! does and answers as its documentation says (reference/targets.md §6):
//!
//! - `POST /api/v3/hubs/{hub}/incidents` and `POST /api/v3/hubs/{hub}/incidents/{id}/incident_updates`
//!   → `201` with the created object's `id`; `title` and `start_time` (ISO 8601 UTC, not in the
//!   future) are required, `incident_type` is `investigating | identified | monitoring | resolved`
//!   (`resolved` cannot be an incident's first update), `service_statuses` (`{service_id, status:
//!   up | degraded-performance | down}`, services of the hub) are required unless `resolved` and
//!   forbidden with it (resolving sets every affected service up); invalid data is `422`, an
//!   unknown hub or incident `404`;
//! - the key in `Authorization: Bearer …`, else `401`;
//! - at most 5 writes a second per key: more is `429 {"error": "Too many requests - please retry
//!   later"}` with `Retry-After: 1`.
//!
//! Faults are scripted per request ([`Hub::fail_next`]): a status (with `Retry-After`), or an answer
//! without id.

use std::{
    collections::{BTreeMap, BTreeSet, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use serde_json::{Value, json};

use super::server::{Answer, Request, Server};

/// The hub's subdomain.
pub const HUB: &str = "acme-status";
/// The key the hub knows.
pub const KEY: &str = "shk_live_9f8e7d6c5b4a39281706";
/// The hub's services: name → id.
pub const SERVICES: &[(&str, u64)] = &[("website", 101), ("api", 102), ("dns", 103)];

/// A scripted fault for the next write.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status (and `Retry-After`, when given) without acting.
    Status(u16, Option<u64>),
    /// Act, and answer `201` with an empty body.
    NoId,
}

/// One update of an incident, as posted.
#[derive(Debug, Clone, PartialEq)]
pub struct Update {
    pub incident_type: String,
    pub title: String,
    pub body: String,
    pub statuses: Vec<(u64, String)>,
    pub silent: bool,
}

/// An incident of the hub.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub id: u64,
    pub updates: Vec<Update>,
    pub services: BTreeSet<u64>,
}

impl Incident {
    /// The type of its last update.
    pub fn state(&self) -> &str {
        self.updates
            .last()
            .map_or("", |update| update.incident_type.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    services: BTreeMap<u64, String>,
    incidents: Vec<Incident>,
    writes: VecDeque<Instant>,
    throttled: usize,
    faults: VecDeque<Fault>,
    requests: Vec<Request>,
    next_id: u64,
    /// A stopped clock for the write limit, when a test stops it.
    frozen: Option<Instant>,
}

/// The running hub.
pub struct Hub {
    state: Arc<Mutex<State>>,
    server: Server,
}

impl Hub {
    pub async fn start() -> Hub {
        let state = Arc::new(Mutex::new(State {
            services: SERVICES.iter().map(|(_, id)| (*id, "up".to_owned())).collect(),
            next_id: 7000,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let server = Server::start(Arc::new(move |request| handle(&shared, &request))).await;
        Hub { state, server }
    }

    /// The API's base URL (`…/api/v3`).
    pub fn api_url(&self) -> String {
        format!("{}/api/v3", self.server.url())
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    /// Stops the hub's clock: every write from now on counts in the same second.
    pub fn freeze_clock(&self) {
        self.state().frozen = Some(Instant::now());
    }

    pub fn fail_next(&self, fault: Fault) {
        self.state().faults.push_back(fault);
    }

    pub fn incidents(&self) -> Vec<Incident> {
        self.state().incidents.clone()
    }

    /// Service id → `up`, `degraded-performance` or `down`.
    pub fn services(&self) -> BTreeMap<u64, String> {
        self.state().services.clone()
    }

    /// Writes answered `429`.
    pub fn throttled(&self) -> usize {
        self.state().throttled
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

fn invalid(reason: &str) -> Answer {
    Answer::json(422, &json!({"errors": {"base": [reason]}}))
}

fn handle(shared: &Mutex<State>, request: &Request) -> Answer {
    let mut state = lock(shared);
    state.requests.push(request.clone());
    if request.header("authorization") != Some(&format!("Bearer {KEY}")) {
        return Answer::json(401, &json!({"error": "Unauthorized"}));
    }
    if request.method != "POST" {
        return Answer::json(404, &json!({"error": "Not found"}));
    }
    // The write limit: 5 a second per key, counted as requests arrive.
    let now = state.frozen.unwrap_or_else(Instant::now);
    while state
        .writes
        .front()
        .is_some_and(|first| now.duration_since(*first) >= Duration::from_secs(1))
    {
        state.writes.pop_front();
    }
    if state.writes.len() >= 5 {
        state.throttled += 1;
        return Answer::Respond(
            429,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("retry-after".to_owned(), "1".to_owned()),
            ],
            json!({"error": "Too many requests - please retry later"}).to_string(),
        );
    }
    state.writes.push_back(now);
    let fault = state.faults.pop_front();
    if let Some(Fault::Status(status, retry_after)) = fault {
        let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
        if let Some(seconds) = retry_after {
            headers.push(("retry-after".to_owned(), seconds.to_string()));
        }
        return Answer::Respond(status, headers, json!({"error": "scripted fault"}).to_string());
    }
    let answer = write(&mut state, request);
    match fault {
        Some(Fault::NoId) if matches!(answer, Answer::Respond(201, ..)) => {
            Answer::Respond(201, Vec::new(), String::new())
        }
        _ => answer,
    }
}

fn write(state: &mut State, request: &Request) -> Answer {
    let prefix = format!("/api/v3/hubs/{HUB}/incidents");
    let Some(rest) = request.path.strip_prefix(&prefix) else {
        return Answer::json(404, &json!({"error": "Hub not found"}));
    };
    let incident = match rest {
        "" => None,
        rest => match rest
            .strip_prefix('/')
            .and_then(|rest| rest.strip_suffix("/incident_updates"))
            .and_then(|id| id.parse::<u64>().ok())
        {
            Some(id) => match state.incidents.iter().position(|incident| incident.id == id) {
                Some(index) => Some(index),
                None => return Answer::json(404, &json!({"error": "Incident not found"})),
            },
            None => return Answer::json(404, &json!({"error": "Not found"})),
        },
    };
    let Ok(body) = serde_json::from_str::<Value>(&request.body) else {
        return invalid("the body is not JSON");
    };
    let update = match update_of(state, &body, incident.is_none()) {
        Ok(update) => update,
        Err(reason) => return invalid(&reason),
    };
    for (service, status) in &update.statuses {
        state.services.insert(*service, status.clone());
    }
    state.next_id += 1;
    let id = state.next_id;
    match incident {
        None => {
            state.incidents.push(Incident {
                id,
                services: update.statuses.iter().map(|(service, _)| *service).collect(),
                updates: vec![update],
            });
            Answer::json(201, &json!({"id": id, "incident_type": body["incident_type"]}))
        }
        Some(index) => {
            let resolved = update.incident_type == "resolved";
            let incident = &mut state.incidents[index];
            incident
                .services
                .extend(update.statuses.iter().map(|(service, _)| *service));
            let affected: Vec<u64> = incident.services.iter().copied().collect();
            let incident_id = incident.id;
            incident.updates.push(update);
            if resolved {
                for service in affected {
                    state.services.insert(service, "up".to_owned());
                }
            }
            Answer::json(201, &json!({"id": id, "incident_id": incident_id}))
        }
    }
}

/// The update a body describes, checked as StatusHub documents it.
fn update_of(state: &State, body: &Value, first: bool) -> Result<Update, String> {
    let text = |name: &str| body.get(name).and_then(Value::as_str);
    let title = text("title")
        .filter(|title| !title.trim().is_empty())
        .ok_or("title is required")?;
    let start = text("start_time").ok_or("start_time is required")?;
    let start = chrono::DateTime::parse_from_rfc3339(start).map_err(|_| "start_time is not ISO 8601")?;
    if start > chrono::Utc::now() + chrono::Duration::seconds(1) {
        return Err("start_time cannot be in the future".to_owned());
    }
    let incident_type = text("incident_type").ok_or("incident_type is required")?;
    if !matches!(
        incident_type,
        "investigating" | "identified" | "monitoring" | "resolved"
    ) {
        return Err(format!("incident_type {incident_type} is not valid"));
    }
    if first && incident_type == "resolved" {
        return Err("resolved cannot be the first update".to_owned());
    }
    let statuses = match (body.get("service_statuses"), incident_type) {
        (Some(_), "resolved") => return Err("service_statuses are not allowed with resolved".to_owned()),
        (None, "resolved") => Vec::new(),
        (None, _) => return Err("service_statuses are required".to_owned()),
        (Some(statuses), _) => {
            let statuses = statuses.as_array().ok_or("service_statuses is not a list")?;
            let mut checked = Vec::new();
            for status in statuses {
                let service = status
                    .get("service_id")
                    .and_then(Value::as_u64)
                    .ok_or("service_id is not an integer")?;
                if !state.services.contains_key(&service) {
                    return Err(format!("service {service} is not a service of the hub"));
                }
                let value = status.get("status").and_then(Value::as_str).unwrap_or_default();
                if !matches!(value, "up" | "degraded-performance" | "down") {
                    return Err(format!("status {value} is not valid"));
                }
                checked.push((service, value.to_owned()));
            }
            checked
        }
    };
    if body.get("silent").is_some_and(|silent| !silent.is_boolean()) {
        return Err("silent is not a boolean".to_owned());
    }
    Ok(Update {
        incident_type: incident_type.to_owned(),
        title: title.to_owned(),
        body: text("body").unwrap_or_default().to_owned(),
        statuses,
        silent: body.get("silent").and_then(Value::as_bool).unwrap_or(false),
    })
}
