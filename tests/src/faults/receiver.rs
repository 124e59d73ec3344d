//! The HTTP receivers of the fault suite: one server, one path per integration
//! (`/hooks/<integration id>`), checking the Standard Webhooks headers of every webhook request and
//! failing a share of all requests at random, as flaky vendors do. Kinds that speak a vendor's API
//! (ServiceNow, StatusHub) have their instance at `/hooks/<integration id>`: their requests
//! (`/hooks/<id>/api/…`) are answered as the kind's target answers ([`kinds::sample_answer`]).
//!
//! Kinds that speak a vendor's API (PagerDuty, …) send below their integration's path
//! (`/hooks/<integration id>/v2/enqueue`), without the Standard Webhooks headers: such a request is
//! known by its body (the same on every retry of a message, as a `webhook-id` is), and its alert by
//! the `alert` its body holds somewhere (`alert.alertGuid`, or an `alert` text).
//!
//! A request is *processed* when the receiver acts on it (records it by its `webhook-id`, which a
//! real receiver uses to drop duplicates; a vendor API's write by the write itself, and reads are
//! never deliveries). Faults:
//! - `500`: not processed;
//! - `429` with `Retry-After: 1`: not processed;
//! - slow: processed, then answered after the client's timeout (the client sees a timeout and tries
//!   again with the same `webhook-id`: the receiver's duplicate, absorbed by the id);
//! - reset: not processed, the connection is reset without an answer.
//!
//! [`Receivers::hold_next`] makes the next request processed and never answered (the function is
//! killed meanwhile).
//!
//! Targets without an idempotency key (Slack) send no `webhook-id`: their requests name their route
//! in their text (`<alert> via <integration>`, as the kinds' samples write it), every one the
//! receiver acts on is a delivery of its own (an edit of a message, `…/chat.update`, is none), and
//! they get only the faults where the target does not act, as the emulator proxy does for SES: a
//! slow answer and a held request are not processed. Success answers are the kind's own
//! (`kinds::sample_answer`: a Slack `ts`).

use std::{
    collections::{BTreeMap, HashMap},
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Duration,
};

use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use super::http::{self, Answer, Received, Server};

/// Counts of the faults the receivers injected.
#[derive(Debug, Default, Serialize, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InjectedFaults {
    /// `500 Internal Server Error`.
    pub server_error: u64,
    /// `429` with `Retry-After`.
    pub throttled: u64,
    /// Answered after the client's timeout.
    pub slow: u64,
    /// Connection reset without an answer.
    pub reset: u64,
}

impl InjectedFaults {
    /// Every fault.
    pub fn total(&self) -> u64 {
        self.server_error + self.throttled + self.slow + self.reset
    }
}

/// What one `webhook-id` amounted to at the receiver.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Processed {
    /// The integration (from the path).
    pub integration: String,
    /// The alert (from the body).
    pub alert: String,
    /// Times it was processed (more than once: a retry after a slow answer).
    pub times: u64,
}

#[derive(Debug, Default)]
struct State {
    /// `webhook-id` → what was processed.
    processed: HashMap<String, Processed>,
    /// Integration → Standard Webhooks signing key (integrations that sign).
    keys: HashMap<String, Vec<u8>>,
    /// Requests that broke the Standard Webhooks contract, with the reason.
    violations: Vec<String>,
    hold: Option<oneshot::Sender<String>>,
    rng: Option<fastrand::Rng>,
}

/// The receivers' shared state.
#[derive(Debug)]
struct Shared {
    state: Mutex<State>,
    /// Share of requests failed, in thousandths.
    fault_per_mille: AtomicU64,
    /// The client's request timeout: a slow answer comes after it.
    slow_after: Duration,
    faults: Mutex<InjectedFaults>,
    requests: AtomicU64,
    answering: AtomicBool,
}

/// The running receivers.
#[derive(Debug)]
pub struct Receivers {
    shared: Arc<Shared>,
    server: Server,
}

/// Seconds a `webhook-timestamp` may be away from now (the Standard Webhooks default tolerance).
const TOLERANCE_SECONDS: i64 = 300;

impl Receivers {
    /// Starts the receivers: `fault_rate` (0..=1) of the requests fail, chosen by a generator seeded
    /// with `seed`; a slow answer comes `slow_after` after the request.
    pub async fn start(fault_rate: f64, seed: u64, slow_after: Duration) -> Result<Receivers, String> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                rng: Some(fastrand::Rng::with_seed(seed)),
                ..State::default()
            }),
            fault_per_mille: AtomicU64::new((fault_rate.clamp(0.0, 1.0) * 1000.0).round() as u64),
            slow_after,
            faults: Mutex::new(InjectedFaults::default()),
            requests: AtomicU64::new(0),
            answering: AtomicBool::new(true),
        });
        let handler_state = Arc::clone(&shared);
        let server = http::serve(move |request| {
            let shared = Arc::clone(&handler_state);
            async move { answer(&shared, request).await }
        })
        .await?;
        Ok(Receivers { shared, server })
    }

    /// The base URL integrations put before `/hooks/<id>`.
    pub fn base_url(&self) -> String {
        self.server.url("")
    }

    /// Integration `id` signs with `key`: its signatures are checked.
    pub fn expect_signature(&self, id: &str, key: Vec<u8>) {
        lock(&self.shared.state).keys.insert(id.to_owned(), key);
    }

    /// Changes the share of failed requests (0 once the targets have "recovered").
    pub fn set_fault_rate(&self, fault_rate: f64) {
        self.shared.fault_per_mille.store(
            (fault_rate.clamp(0.0, 1.0) * 1000.0).round() as u64,
            Ordering::SeqCst,
        );
    }

    /// The next request is processed and never answered; the returned channel gets its
    /// `webhook-id` when it arrives.
    pub fn hold_next(&self) -> oneshot::Receiver<String> {
        let (sender, receiver) = oneshot::channel();
        lock(&self.shared.state).hold = Some(sender);
        receiver
    }

    /// Every `webhook-id` processed.
    pub fn processed(&self) -> HashMap<String, Processed> {
        lock(&self.shared.state).processed.clone()
    }

    /// Requests that broke the Standard Webhooks contract.
    pub fn violations(&self) -> Vec<String> {
        lock(&self.shared.state).violations.clone()
    }

    /// The faults injected so far.
    pub fn faults(&self) -> InjectedFaults {
        *lock(&self.shared.faults)
    }

    /// Requests received so far.
    pub fn requests(&self) -> u64 {
        self.shared.requests.load(Ordering::SeqCst)
    }

    /// Stops answering slow requests late (the end of a run: nothing waits for them).
    pub fn stop(&self) {
        self.shared.answering.store(false, Ordering::SeqCst);
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    ServerError,
    Throttled,
    Slow,
    Reset,
}

async fn answer(shared: &Shared, request: Received) -> Answer {
    let serial = shared.requests.fetch_add(1, Ordering::SeqCst);
    // `/hooks/<integration>`, or an API under it (`/hooks/<integration>/chat.postMessage`).
    let Some(integration) = request
        .path()
        .strip_prefix("/hooks/")
        .and_then(|rest| rest.split('/').next())
        .map(str::to_owned)
    else {
        return Answer::status(404, "unknown path");
    };
    let vendor_path = request.path().trim_start_matches("/hooks/").contains('/');
    if vendor_path && request.method.eq_ignore_ascii_case("GET") {
        // A vendor API's lookup (ServiceNow's query by correlation_id): it acts on nothing.
        return success_answer(&request);
    }
    // A vendor API whose target absorbs a repeat (PagerDuty's dedup_key, Splunk's entity_id, an
    // Opsgenie alias) and whose body names its alert: known by its body. Else a keyless request
    // (Slack), or a Standard Webhook.
    let vendor = if vendor_path {
        let path = request
            .path()
            .trim_start_matches("/hooks/")
            .trim_start_matches(integration.as_str())
            .to_owned();
        check_vendor_request(&request)
            .ok()
            .or_else(|| check_api(&integration, &path, &request).ok().flatten())
    } else {
        None
    };
    let keyless = if vendor.is_some() {
        None
    } else {
        keyless(&integration, &request)
    };
    let (id, alert) = match (&vendor, &keyless) {
        (Some(found), _) => found.clone(),
        // A synthetic id per request acted on: no key absorbs a second one.
        (None, Some(route)) => (format!("keyless-{serial}"), route.clone().unwrap_or_default()),
        (None, None) => match check(shared, &integration, &request) {
            Ok(found) => found,
            Err(reason) => {
                lock(&shared.state)
                    .violations
                    .push(format!("{integration}: {reason}"));
                return Answer::status(400, reason);
            }
        },
    };
    // Whether the receiver acting on this request delivers a route: a keyless edit does not.
    let delivers = !matches!(keyless, Some(None));
    let keyed = keyless.is_none();
    let success = success_answer(&request);
    let (fault, hold) = {
        let mut state = lock(&shared.state);
        let per_mille = shared.fault_per_mille.load(Ordering::SeqCst);
        let rng = state.rng.get_or_insert_with(fastrand::Rng::new);
        let fault = (rng.u64(0..1000) < per_mille).then(|| match rng.u8(0..4) {
            0 => Fault::ServerError,
            1 => Fault::Throttled,
            2 => Fault::Slow,
            _ => Fault::Reset,
        });
        (fault, state.hold.take())
    };
    if let Some(hold) = hold {
        if keyed && delivers {
            process(shared, &id, &integration, &alert);
        }
        let _ = hold.send(id.clone());
        // Never answered: the function holding the connection is killed.
        std::future::pending::<()>().await;
    }
    match fault {
        None => {
            if delivers {
                process(shared, &id, &integration, &alert);
            }
            success
        }
        Some(fault) => {
            {
                let mut faults = lock(&shared.faults);
                match fault {
                    Fault::ServerError => faults.server_error += 1,
                    Fault::Throttled => faults.throttled += 1,
                    Fault::Slow => faults.slow += 1,
                    Fault::Reset => faults.reset += 1,
                }
            }
            match fault {
                Fault::ServerError => Answer::json(500, &serde_json::json!({"error": "internal error"})),
                Fault::Throttled => Answer::Respond(
                    429,
                    vec![("retry-after".to_owned(), "1".to_owned())],
                    bytes::Bytes::from_static(b"{\"error\":\"rate limited\"}"),
                ),
                Fault::Slow => {
                    // Processed at once, answered after the client gave up, as a slow server does
                    // (a keyless target: not processed, as nothing would absorb the retry).
                    if keyed && delivers {
                        process(shared, &id, &integration, &alert);
                    }
                    if shared.answering.load(Ordering::SeqCst) {
                        tokio::time::sleep(shared.slow_after).await;
                    }
                    if keyed {
                        success
                    } else {
                        Answer::status(503, "service unavailable")
                    }
                }
                Fault::Reset => Answer::Reset,
            }
        }
    }
}

/// A vendor API's request at `path` of `integration`'s instance: `None` for a read; for a write,
/// its identity (the same request sent again is the same delivery, as a retry after a slow answer
/// sends it) and the alert its body names (`<alert id> via <integration>:`, as the kinds' samples
/// write it).
fn check_api(integration: &str, path: &str, request: &Received) -> Result<Option<(String, String)>, String> {
    if request.method.eq_ignore_ascii_case("GET") {
        return Ok(None);
    }
    let body = String::from_utf8_lossy(&request.body);
    let marker = format!(" via {integration}:");
    let before = body
        .find(&marker)
        .map(|at| &body[..at])
        .ok_or("the body names no alert (`<alert id> via <integration>:`)")?;
    let alert: String = before
        .chars()
        .rev()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect::<Vec<_>>()
        .into_iter()
        .rev()
        .collect();
    if alert.is_empty() {
        return Err("the body names no alert (`<alert id> via <integration>:`)".to_owned());
    }
    let digest: u64 = body.bytes().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x100_0000_01b3)
    });
    Ok(Some((
        format!("{integration} {} {path} {digest:016x}", request.method),
        alert,
    )))
}

fn process(shared: &Shared, id: &str, integration: &str, alert: &str) {
    lock(&shared.state)
        .processed
        .entry(id.to_owned())
        .and_modify(|processed| processed.times += 1)
        .or_insert_with(|| Processed {
            integration: integration.to_owned(),
            alert: alert.to_owned(),
            times: 1,
        });
}

/// The kind's own success answer (a Slack `ts`), else `{"ok": true}`.
fn success_answer(request: &Received) -> Answer {
    let body = String::from_utf8_lossy(&request.body);
    let sample = |path: &str| {
        kinds::sample_answer(&notify_core::SampleRequest {
            method: &request.method,
            path,
            body: &body,
        })
    };
    // Kinds read their API's path from the whole path (Slack) or below the integration's (ServiceNow).
    let below = request
        .path()
        .trim_start_matches("/hooks/")
        .split_once('/')
        .map(|(_, rest)| format!("/{rest}"));
    let answer = sample(request.path()).or_else(|| below.as_deref().and_then(sample));
    match answer {
        Some(answer) => Answer::Respond(
            answer.status,
            vec![("content-type".to_owned(), "application/json".to_owned())],
            bytes::Bytes::from(answer.body),
        ),
        None => Answer::json(200, &serde_json::json!({"ok": true})),
    }
}

/// For a request without `webhook-id` (a target without an idempotency key) whose JSON body names
/// its route in a text (`<alert> via <integration>`): `Some(Some(alert))`, or `Some(None)` when it
/// edits a message already delivered (`…/chat.update`). `None` for every other request.
fn keyless(integration: &str, request: &Received) -> Option<Option<String>> {
    if request.header("webhook-id").is_some() {
        return None;
    }
    let body: Value = serde_json::from_slice(&request.body).ok()?;
    let alert = texts(&body)
        .into_iter()
        .filter_map(super::proxy::route_of)
        .find(|(_, named)| named == integration)
        .map(|(alert, _)| alert)?;
    Some((!request.path().ends_with("/chat.update")).then_some(alert))
}

/// A request in a vendor's API: its id is a hash of its method, path and body (a retry sends the
/// same), its alert the first `alert` of the body (`{"alert": {"alertGuid": …}}` or
/// `{"alert": "…"}`, at any depth).
fn check_vendor_request(request: &Received) -> Result<(String, String), String> {
    use std::hash::{Hash, Hasher};
    let body = String::from_utf8_lossy(&request.body);
    let value: Value =
        serde_json::from_str(&body).map_err(|error| format!("the body is not JSON: {error}"))?;
    fn alert_in(value: &Value) -> Option<String> {
        match value {
            Value::Object(map) => match map.get("alert") {
                Some(Value::String(alert)) if !alert.is_empty() => Some(alert.clone()),
                Some(Value::Object(alert)) if alert.contains_key("alertGuid") => alert
                    .get("alertGuid")
                    .and_then(Value::as_str)
                    .filter(|alert| !alert.is_empty())
                    .map(str::to_owned),
                _ => map.values().find_map(alert_in),
            },
            Value::Array(items) => items.iter().find_map(alert_in),
            _ => None,
        }
    }
    let alert = alert_in(&value).ok_or("the body names no alert")?;
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    (request.method.as_str(), request.path(), body.as_ref()).hash(&mut hasher);
    Ok((format!("body-{:016x}", hasher.finish()), alert))
}

/// Every string in `value`.
fn texts(value: &Value) -> Vec<&str> {
    match value {
        Value::String(text) => vec![text.as_str()],
        Value::Array(items) => items.iter().flat_map(texts).collect(),
        Value::Object(map) => map.values().flat_map(texts).collect(),
        _ => Vec::new(),
    }
}

/// Checks the Standard Webhooks headers (and the signature of signing integrations); returns the
/// `webhook-id` and the alert id of the body.
fn check(shared: &Shared, integration: &str, request: &Received) -> Result<(String, String), String> {
    let id = request
        .header("webhook-id")
        .filter(|id| !id.is_empty())
        .ok_or("no webhook-id header")?
        .to_owned();
    let timestamp = request
        .header("webhook-timestamp")
        .ok_or("no webhook-timestamp header")?;
    let seconds: i64 = timestamp
        .parse()
        .map_err(|_| format!("webhook-timestamp `{timestamp}` is not epoch seconds"))?;
    let skew = (chrono::Utc::now().timestamp() - seconds).abs();
    if skew > TOLERANCE_SECONDS {
        return Err(format!("webhook-timestamp is {skew} s away from now"));
    }
    let body = String::from_utf8_lossy(&request.body);
    if let Some(key) = lock(&shared.state).keys.get(integration) {
        let expected = notify_webhook::sign(key, &id, timestamp, &body);
        let signatures = request.header("webhook-signature").unwrap_or_default();
        if !signatures.split(' ').any(|signature| signature == expected) {
            return Err("webhook-signature does not verify".to_owned());
        }
    }
    let value: Value =
        serde_json::from_str(&body).map_err(|error| format!("the body is not JSON: {error}"))?;
    let alert = value
        .pointer("/alert/alertGuid")
        .or_else(|| value.get("alert"))
        .and_then(Value::as_str)
        .filter(|alert| !alert.is_empty())
        .ok_or("the body names no alert")?
        .to_owned();
    Ok((id, alert))
}

/// Processed deliveries grouped by `(alert, integration)`: the distinct `webhook-id`s and the times
/// each was processed.
pub fn by_route(processed: &HashMap<String, Processed>) -> BTreeMap<(String, String), Vec<u64>> {
    let mut routes: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for processed in processed.values() {
        routes
            .entry((processed.alert.clone(), processed.integration.clone()))
            .or_default()
            .push(processed.times);
    }
    routes
}
