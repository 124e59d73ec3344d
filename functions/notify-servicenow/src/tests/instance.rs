//! A fake ServiceNow instance that keeps state as an instance does and answers as the Table API,
//! Event Management and `/oauth_token.do` document it (reference/targets.md §5):
//!
//! - `POST /api/now/table/incident` → `201` with `Location` and `{"result": {…record…}}`; the
//!   columns' lengths are the default data model's (`short_description` 160, `correlation_id`
//!   100: longer values are cut, as the instance does), `urgency` and `impact` must be 1–3, the
//!   data policy wants a short description;
//! - `GET /api/now/table/incident?sysparm_query=a=b^c=d&sysparm_fields=…&sysparm_limit=n` →
//!   `200 {"result": […]}` (an unknown column in the query is refused here, where an instance
//!   would silently ignore the condition);
//! - `PATCH /api/now/table/incident/{sys_id}` → `200` with the record, `404` "No Record found";
//!   resolving (`state` 6 or 7) needs `close_code` and `close_notes` (the out-of-box data policy,
//!   `403`), and ends `active`; `work_notes` are appended;
//! - `POST /api/global/em/jsonv2` → `200 {"result": {"Default Bulk Endpoint": "n events were
//!   inserted"}}`; every event needs `source`, `node` and a `severity` 0–5, `additional_info` is
//!   stringified JSON, `time_of_event` is `yyyy-MM-dd HH:mm:ss`; events are grouped into alerts by
//!   `message_key`, severity `0` closes the alert;
//! - `POST /oauth_token.do` (form) → a bearer token for the `password` and `client_credentials`
//!   grants, `401 {"error": "access_denied"}` for bad credentials;
//! - every API request needs valid Basic credentials or an unexpired token issued here: `401`
//!   otherwise.
//!
//! Faults are scripted per request ([`Instance::fail_next`]): a status (with `Retry-After`), a
//! hibernating instance (`200` with an HTML page), or acting on the request and then dropping the
//! connection (the answer is lost).

use std::{
    collections::{BTreeMap, HashMap, VecDeque},
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, Instant},
};

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::server::{self, Answer, Request, Server};

/// The Basic credentials the instance knows.
pub const USER: &str = "tocsin.integration";
/// See [`USER`].
pub const PASSWORD: &str = "s3cret-Pa55word!";
/// The OAuth client the instance knows.
pub const CLIENT_ID: &str = "c0ffee00c0ffee00c0ffee00c0ffee00";
/// See [`CLIENT_ID`].
pub const CLIENT_SECRET: &str = "Cl!ent-S3cret/value";

/// A scripted fault, for the next request matching `method` and a path ending in `suffix`.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Answer this status (and `Retry-After`, when given) without acting.
    Status(u16, Option<u64>),
    /// Answer `200` with a wake-up page, as a hibernating developer instance does.
    Hibernating,
    /// Act on the request, then close the connection without answering.
    ActThenDrop,
    /// Answer this status with an error that quotes the request's `Authorization` header.
    EchoAuthorization(u16),
}

/// An incident record.
#[derive(Debug, Clone, PartialEq)]
pub struct Incident {
    pub sys_id: String,
    pub number: String,
    /// Every column as the instance stores it (strings).
    pub columns: BTreeMap<String, String>,
    pub work_notes: Vec<String>,
}

impl Incident {
    pub fn column(&self, name: &str) -> &str {
        self.columns.get(name).map_or("", String::as_str)
    }

    pub fn active(&self) -> bool {
        self.column("active") == "true"
    }

    fn record(&self) -> Value {
        let mut record: Map<String, Value> = self
            .columns
            .iter()
            .map(|(name, value)| (name.clone(), Value::String(value.clone())))
            .collect();
        record.insert("sys_id".to_owned(), Value::String(self.sys_id.clone()));
        record.insert("number".to_owned(), Value::String(self.number.clone()));
        record.insert("work_notes".to_owned(), Value::String(self.work_notes.join("\n")));
        Value::Object(record)
    }
}

/// An Event Management alert: the events of one `message_key`.
#[derive(Debug, Clone, PartialEq)]
pub struct EmAlert {
    pub events: Vec<Value>,
    pub open: bool,
}

#[derive(Debug, Default)]
struct State {
    incidents: Vec<Incident>,
    em_alerts: BTreeMap<String, EmAlert>,
    tokens: HashMap<String, Instant>,
    token_lifetime: u64,
    faults: VecDeque<(String, String, Fault)>,
    requests: Vec<Request>,
    issued: u64,
}

/// The running instance.
pub struct Instance {
    state: Arc<Mutex<State>>,
    server: Server,
}

impl Instance {
    pub async fn start() -> Instance {
        let state = Arc::new(Mutex::new(State {
            token_lifetime: 1799,
            ..State::default()
        }));
        let shared = Arc::clone(&state);
        let server = Server::start(Arc::new(move |request| handle(&shared, &request))).await;
        Instance { state, server }
    }

    pub fn url(&self) -> String {
        self.server.url()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }

    pub fn fail_next(&self, method: &str, suffix: &str, fault: Fault) {
        self.state()
            .faults
            .push_back((method.to_owned(), suffix.to_owned(), fault));
    }

    /// Tokens issued from now on live this many seconds (`expires_in`).
    pub fn set_token_lifetime(&self, seconds: u64) {
        self.state().token_lifetime = seconds;
    }

    /// Revokes every token issued so far.
    pub fn revoke_tokens(&self) {
        self.state().tokens.clear();
    }

    pub fn incidents(&self) -> Vec<Incident> {
        self.state().incidents.clone()
    }

    pub fn em_alerts(&self) -> BTreeMap<String, EmAlert> {
        self.state().em_alerts.clone()
    }

    pub fn requests(&self) -> Vec<Request> {
        self.state().requests.clone()
    }

    /// `METHOD path` of every request, in order.
    pub fn calls(&self) -> Vec<String> {
        self.requests()
            .iter()
            .map(|request| format!("{} {}", request.method, request.path))
            .collect()
    }
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

const INCIDENTS: &str = "/api/now/table/incident";

fn failure(status: u16, message: &str, detail: &str) -> Answer {
    Answer::json(
        status,
        &json!({"error": {"message": message, "detail": detail}, "status": "failure"}),
    )
}

fn handle(shared: &Mutex<State>, request: &Request) -> Answer {
    let mut state = lock(shared);
    state.requests.push(request.clone());
    let fault = state
        .faults
        .iter()
        .position(|(method, suffix, _)| *method == request.method && request.path.ends_with(suffix.as_str()))
        .and_then(|index| state.faults.remove(index))
        .map(|(_, _, fault)| fault);
    match fault {
        Some(Fault::Status(status, retry_after)) => {
            let mut headers = vec![("content-type".to_owned(), "application/json".to_owned())];
            if let Some(seconds) = retry_after {
                headers.push(("retry-after".to_owned(), seconds.to_string()));
            }
            let body = json!({"error": {"message": "scripted fault", "detail": ""}, "status": "failure"});
            return Answer::Respond(status, headers, body.to_string());
        }
        Some(Fault::Hibernating) => {
            return Answer::Respond(
                200,
                vec![("content-type".to_owned(), "text/html".to_owned())],
                "<!DOCTYPE html><html><body>Your instance is hibernating. Log in to wake it up.</body></html>"
                    .to_owned(),
            );
        }
        Some(Fault::EchoAuthorization(status)) => {
            let echoed = request.header("authorization").unwrap_or_default();
            return failure(status, "Invalid header", &format!("rejected header: {echoed}"));
        }
        Some(Fault::ActThenDrop) => {
            route(&mut state, request);
            return Answer::Drop;
        }
        None => {}
    }
    route(&mut state, request)
}

fn route(state: &mut State, request: &Request) -> Answer {
    if request.path == "/oauth_token.do" && request.method == "POST" {
        return token(state, request);
    }
    if !authenticated(state, request) {
        return failure(
            401,
            "User Not Authenticated",
            "Required to provide Auth information",
        );
    }
    let path = request.path.as_str();
    match (request.method.as_str(), path) {
        ("POST", INCIDENTS) => create(state, request),
        ("GET", INCIDENTS) => query(state, request),
        ("PATCH" | "PUT", _) if path.starts_with(&format!("{INCIDENTS}/")) => {
            update(state, &path[INCIDENTS.len() + 1..], request)
        }
        ("POST", "/api/global/em/jsonv2") => events(state, request),
        _ => failure(400, "Requested URI does not represent any resource", path),
    }
}

fn authenticated(state: &State, request: &Request) -> bool {
    let Some(authorization) = request.header("authorization") else {
        return false;
    };
    if let Some(encoded) = authorization.strip_prefix("Basic ") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok());
        return decoded.as_deref() == Some(&format!("{USER}:{PASSWORD}"));
    }
    if let Some(token) = authorization.strip_prefix("Bearer ") {
        return state
            .tokens
            .get(token)
            .is_some_and(|until| *until > Instant::now());
    }
    false
}

fn token(state: &mut State, request: &Request) -> Answer {
    let form = server::form(&request.body);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    let client_ok = field("client_id") == CLIENT_ID && field("client_secret") == CLIENT_SECRET;
    let granted = match field("grant_type") {
        "password" => client_ok && field("username") == USER && field("password") == PASSWORD,
        "client_credentials" => client_ok && !form.contains_key("username"),
        _ => false,
    };
    if !granted {
        return Answer::json(
            401,
            &json!({"error_description": "access_denied", "error": "access_denied"}),
        );
    }
    state.issued += 1;
    let token = format!("tok{:04}{}", state.issued, "Xy7_QpLmN0aBcDeFgHiJkLmNoPqRsTuV");
    let lifetime = state.token_lifetime;
    state
        .tokens
        .insert(token.clone(), Instant::now() + Duration::from_secs(lifetime));
    Answer::json(
        200,
        &json!({
            "access_token": token,
            "refresh_token": "refresh-not-used",
            "scope": "useraccount",
            "token_type": "Bearer",
            "expires_in": lifetime,
        }),
    )
}

/// Column lengths of the default data model that the tests meet.
fn max_length(column: &str) -> Option<usize> {
    match column {
        "short_description" => Some(160),
        "correlation_id" | "correlation_display" => Some(100),
        _ => None,
    }
}

fn text_of(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

fn stored(column: &str, value: &Value) -> Result<String, Answer> {
    let text =
        text_of(value).ok_or_else(|| failure(400, "Invalid value", &format!("{column} must be a string")))?;
    if matches!(column, "urgency" | "impact") && !matches!(text.as_str(), "1" | "2" | "3") {
        return Err(failure(400, "Invalid choice", &format!("{column}: {text}")));
    }
    Ok(match max_length(column) {
        Some(max) => text.chars().take(max).collect(),
        None => text,
    })
}

fn create(state: &mut State, request: &Request) -> Answer {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&request.body) else {
        return failure(
            400,
            "Exception while reading request",
            "the body is not a JSON object",
        );
    };
    let mut columns = BTreeMap::new();
    for (column, value) in &fields {
        match stored(column, value) {
            Ok(text) => columns.insert(column.clone(), text),
            Err(answer) => return answer,
        };
    }
    if columns
        .get("short_description")
        .is_none_or(|text| text.trim().is_empty())
    {
        return failure(
            403,
            "Operation Failed",
            "Data Policy Exception: Short description is mandatory",
        );
    }
    columns.insert("state".to_owned(), "1".to_owned());
    columns.insert("active".to_owned(), "true".to_owned());
    let count = state.incidents.len() + 1;
    let incident = Incident {
        sys_id: format!(
            "{:032x}",
            0x9d38_5017_c611_2280_0090_e7fc_7a2b_0000_u128 + count as u128
        ),
        number: format!("INC{:07}", 10_000 + count),
        columns,
        work_notes: Vec::new(),
    };
    let location = format!("https://instance.example.com{INCIDENTS}/{}", incident.sys_id);
    let record = incident.record();
    state.incidents.push(incident);
    Answer::Respond(
        201,
        vec![
            ("content-type".to_owned(), "application/json".to_owned()),
            ("location".to_owned(), location),
        ],
        json!({ "result": record }).to_string(),
    )
}

fn query(state: &State, request: &Request) -> Answer {
    let query = request.query.get("sysparm_query").cloned().unwrap_or_default();
    let mut conditions = Vec::new();
    for condition in query.split('^').filter(|part| !part.is_empty()) {
        let Some((column, value)) = condition.split_once('=') else {
            return failure(400, "Invalid query", condition);
        };
        if !matches!(
            column,
            "correlation_id" | "active" | "number" | "sys_id" | "state"
        ) {
            return failure(400, "Invalid query", &format!("unknown column {column}"));
        }
        conditions.push((column.to_owned(), value.to_owned()));
    }
    let limit = request
        .query
        .get("sysparm_limit")
        .and_then(|limit| limit.parse().ok())
        .unwrap_or(10_000);
    let fields: Option<Vec<&str>> = request
        .query
        .get("sysparm_fields")
        .map(|fields| fields.split(',').collect());
    let result: Vec<Value> = state
        .incidents
        .iter()
        .filter(|incident| {
            conditions.iter().all(|(column, value)| match column.as_str() {
                "sys_id" => incident.sys_id == *value,
                "number" => incident.number == *value,
                other => incident.column(other) == value,
            })
        })
        .take(limit)
        .map(|incident| {
            let record = incident.record();
            match &fields {
                Some(fields) => Value::Object(
                    fields
                        .iter()
                        .map(|name| {
                            (
                                (*name).to_owned(),
                                record.get(*name).cloned().unwrap_or(json!("")),
                            )
                        })
                        .collect(),
                ),
                None => record,
            }
        })
        .collect();
    Answer::json(200, &json!({ "result": result }))
}

fn update(state: &mut State, sys_id: &str, request: &Request) -> Answer {
    let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(&request.body) else {
        return failure(
            400,
            "Exception while reading request",
            "the body is not a JSON object",
        );
    };
    let Some(incident) = state
        .incidents
        .iter_mut()
        .find(|incident| incident.sys_id == sys_id)
    else {
        return failure(
            404,
            "No Record found",
            "Record doesn't exist or ACL restricts the record retrieval",
        );
    };
    let mut columns = incident.columns.clone();
    let mut notes = None;
    for (column, value) in &fields {
        let text = match stored(column, value) {
            Ok(text) => text,
            Err(answer) => return answer,
        };
        if column == "work_notes" {
            notes = Some(text);
        } else {
            columns.insert(column.clone(), text);
        }
    }
    let resolving = matches!(columns.get("state").map(String::as_str), Some("6" | "7"));
    if resolving {
        let missing = ["close_code", "close_notes"]
            .into_iter()
            .find(|column| columns.get(*column).is_none_or(|text| text.trim().is_empty()));
        if let Some(column) = missing {
            return failure(
                403,
                "Operation Failed",
                &format!("Data Policy Exception: {column} is mandatory when resolving"),
            );
        }
        columns.insert("active".to_owned(), "false".to_owned());
    }
    incident.columns = columns;
    incident.work_notes.extend(notes);
    Answer::json(200, &json!({ "result": incident.record() }))
}

fn events(state: &mut State, request: &Request) -> Answer {
    let Ok(body) = serde_json::from_str::<Value>(&request.body) else {
        return failure(400, "Exception while reading request", "the body is not JSON");
    };
    let Some(records) = body.get("records").and_then(Value::as_array) else {
        return failure(400, "Invalid request", "no `records` list");
    };
    for record in records {
        let text = |name: &str| record.get(name).and_then(Value::as_str).unwrap_or_default();
        for required in ["source", "node"] {
            if text(required).trim().is_empty() {
                return failure(400, "Invalid event", &format!("{required} is empty"));
            }
        }
        if !matches!(text("severity"), "0" | "1" | "2" | "3" | "4" | "5") {
            return failure(400, "Invalid event", "severity must be \"0\" to \"5\"");
        }
        if let Some(info) = record.get("additional_info") {
            let parsed = info
                .as_str()
                .and_then(|info| serde_json::from_str::<Value>(info).ok());
            if !parsed.is_some_and(|info| info.is_object()) {
                return failure(400, "Invalid event", "additional_info must be stringified JSON");
            }
        }
        if let Some(time) = record.get("time_of_event")
            && time
                .as_str()
                .is_none_or(|time| chrono::NaiveDateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S").is_err())
        {
            return failure(400, "Invalid event", "time_of_event must be yyyy-MM-dd HH:mm:ss");
        }
    }
    for record in records {
        let key = record
            .get("message_key")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let alert = state.em_alerts.entry(key).or_insert(EmAlert {
            events: Vec::new(),
            open: false,
        });
        alert.open = record.get("severity").and_then(Value::as_str) != Some("0");
        alert.events.push(record.clone());
    }
    Answer::json(
        200,
        &json!({"result": {"Default Bulk Endpoint": format!("{} events were inserted", records.len())}}),
    )
}
