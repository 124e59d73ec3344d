//! The emulator as the functions see it: an HTTP proxy in front of moto that is briefly unreachable
//! now and then, and fails a share of the sends through AWS (SES `SendEmail`, SNS `Publish` to a
//! phone number, End User Messaging `SendVoiceMessage`) as a throttled or failing service does.
//!
//! - Outage windows: every request arriving in one is dropped before it reaches moto (the
//!   connection is reset), whatever the service: DynamoDB claims and records, SSM, SES, SNS, voice.
//! - Send faults: SES (`POST /v2/email/outbound-emails`) `500 InternalFailure`, `429
//!   TooManyRequestsException`; SNS (`Action=Publish` with a `PhoneNumber`) `500 InternalError`,
//!   `400 Throttling`; voice (`X-Amz-Target: PinpointSMSVoiceV2.SendVoiceMessage`) `500
//!   InternalServerException`, `400 ThrottlingException`; for each an answer after the client's
//!   timeout, and a reset. None reaches moto, so none sends anything.
//! - Voice calls, which moto does not implement, are answered here by the local voice endpoint
//!   (`notify_core::sms_voice`: the request checked, `{"MessageId": …}` or the service's error).
//! - Every send moto (or the voice endpoint) accepts is a message sent: counted by `(alert,
//!   integration)`, read from the e-mail's subject, the text message or the spoken script (`<alert
//!   id> via <integration id>`), with how long it took (an acceptance slower than the client's
//!   timeout is a send the client could not know succeeded).

use std::{
    collections::BTreeMap,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use bytes::Bytes;
use serde::Serialize;
use serde_json::Value;
use tokio::sync::oneshot;

use notify_core::sms_voice::{self, VoiceAnswer, VoiceError, VoiceRequest};

use super::http::{self, Answer, Received, Server};

/// The SES v2 `SendEmail` path.
pub const SEND_EMAIL_PATH: &str = "/v2/email/outbound-emails";

/// What the proxy did.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ProxyCounts {
    /// Requests forwarded to moto.
    pub forwarded: u64,
    /// Requests dropped in an outage window.
    pub dropped_in_outage: u64,
    /// Outage windows so far.
    pub outage_windows: u64,
    /// SES faults: `500`.
    pub ses_server_error: u64,
    /// SES faults: `429 TooManyRequestsException`.
    pub ses_throttled: u64,
    /// SES faults: answered after the client's timeout (not sent).
    pub ses_slow: u64,
    /// SES faults: connection reset (not sent).
    pub ses_reset: u64,
    /// `SendEmail` calls moto accepted after the client's timeout.
    pub ses_late_accepts: u64,
}

impl ProxyCounts {
    /// SES faults injected.
    pub fn ses_faults(&self) -> u64 {
        self.ses_server_error + self.ses_throttled + self.ses_slow + self.ses_reset
    }
}

#[derive(Debug)]
struct Shared {
    upstream: String,
    client: reqwest::Client,
    outage: AtomicBool,
    ses_fault_per_mille: AtomicU64,
    slow_after: Duration,
    rng: Mutex<fastrand::Rng>,
    counts: Mutex<ProxyCounts>,
    /// `(alert, integration)` → one entry per e-mail moto accepted: how long it took.
    sent: Mutex<BTreeMap<(String, String), Vec<Duration>>>,
    hold: Mutex<Option<oneshot::Sender<String>>>,
}

/// The running proxy.
#[derive(Debug)]
pub struct Proxy {
    shared: Arc<Shared>,
    server: Server,
    outages: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Proxy {
    /// A proxy to `upstream` (moto's URL); `ses_fault_rate` of the `SendEmail` calls fail; a slow
    /// answer comes `slow_after` after the request.
    pub async fn start(
        upstream: &str,
        ses_fault_rate: f64,
        seed: u64,
        slow_after: Duration,
    ) -> Result<Proxy, String> {
        let client = reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|error| format!("proxy client: {error}"))?;
        let shared = Arc::new(Shared {
            upstream: upstream.trim_end_matches('/').to_owned(),
            client,
            outage: AtomicBool::new(false),
            ses_fault_per_mille: AtomicU64::new(per_mille(ses_fault_rate)),
            slow_after,
            rng: Mutex::new(fastrand::Rng::with_seed(seed)),
            counts: Mutex::new(ProxyCounts::default()),
            sent: Mutex::new(BTreeMap::new()),
            hold: Mutex::new(None),
        });
        let handler_state = Arc::clone(&shared);
        let server = http::serve(move |request| {
            let shared = Arc::clone(&handler_state);
            async move { handle(&shared, request).await }
        })
        .await?;
        Ok(Proxy {
            shared,
            server,
            outages: Mutex::new(None),
        })
    }

    /// The URL the functions use as `AWS_ENDPOINT_URL`.
    pub fn url(&self) -> String {
        self.server.url("")
    }

    /// Makes the emulator unreachable for `length` every `every`, until [`Proxy::stop_outages`].
    pub fn start_outages(&self, every: Duration, length: Duration) {
        let shared = Arc::clone(&self.shared);
        let task = tokio::spawn(async move {
            loop {
                tokio::time::sleep(every).await;
                shared.outage.store(true, Ordering::SeqCst);
                lock(&shared.counts).outage_windows += 1;
                tokio::time::sleep(length).await;
                shared.outage.store(false, Ordering::SeqCst);
            }
        });
        if let Some(previous) = lock(&self.outages).replace(task) {
            previous.abort();
        }
    }

    /// Ends the outages (the emulator is reachable from now on).
    pub fn stop_outages(&self) {
        if let Some(task) = lock(&self.outages).take() {
            task.abort();
        }
        self.shared.outage.store(false, Ordering::SeqCst);
    }

    /// Changes the share of failed `SendEmail` calls.
    pub fn set_ses_fault_rate(&self, rate: f64) {
        self.shared
            .ses_fault_per_mille
            .store(per_mille(rate), Ordering::SeqCst);
    }

    /// The next send (SES `SendEmail`, SNS SMS `Publish`) is neither forwarded nor answered; the
    /// channel gets the text naming its route.
    pub fn hold_next_send(&self) -> oneshot::Receiver<String> {
        let (sender, receiver) = oneshot::channel();
        *lock(&self.shared.hold) = Some(sender);
        receiver
    }

    /// What the proxy did so far.
    pub fn counts(&self) -> ProxyCounts {
        *lock(&self.shared.counts)
    }

    /// Messages moto accepted (e-mails, text messages), by `(alert, integration)`, with how long
    /// each took.
    pub fn sent(&self) -> BTreeMap<(String, String), Vec<Duration>> {
        lock(&self.shared.sent).clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stop_outages();
    }
}

fn per_mille(rate: f64) -> u64 {
    (rate.clamp(0.0, 1.0) * 1000.0).round() as u64
}

async fn handle(shared: &Shared, request: Received) -> Answer {
    if shared.outage.load(Ordering::SeqCst) {
        lock(&shared.counts).dropped_in_outage += 1;
        return Answer::Reset;
    }
    let send = send_of(&request);
    if let Some(send) = &send {
        let held = lock(&shared.hold).take();
        if let Some(held) = held {
            let _ = held.send(send.text.clone());
            std::future::pending::<()>().await;
        }
        if let Some(answer) = send_fault(shared, send.service).await {
            return answer;
        }
    }
    let started = Instant::now();
    let answer = match &send {
        Some(Send {
            service: Service::Voice,
            ..
        }) => voice_call(&request),
        _ => forward(shared, &request).await,
    };
    if let Some(send) = &send
        && let Answer::Respond(200, _, _) = &answer
        && let Some(route) = route_of(&send.text)
    {
        let took = started.elapsed();
        if took > shared.slow_after {
            lock(&shared.counts).ses_late_accepts += 1;
        }
        lock(&shared.sent).entry(route).or_default().push(took);
    }
    answer
}

/// The AWS service of a send.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Service {
    /// SES v2, REST-JSON.
    Ses,
    /// SNS, awsQuery (form-encoded requests, XML answers).
    Sns,
    /// End User Messaging SMS and Voice v2, awsJson1_0; moto lacks it: answered here.
    Voice,
}

/// A request that sends a message: its service and the text that names its route.
struct Send {
    service: Service,
    text: String,
}

/// The send a request is, if it is one: SES `SendEmail` (its subject), SNS `Publish` to a phone
/// number (its message) or `SendVoiceMessage` (its spoken script).
fn send_of(request: &Received) -> Option<Send> {
    if request.method != "POST" {
        return None;
    }
    if voice_request(request).is_send_voice_message() {
        let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
        return Some(Send {
            service: Service::Voice,
            text: body["MessageBody"].as_str().unwrap_or_default().to_owned(),
        });
    }
    if request.path() == SEND_EMAIL_PATH {
        return Some(Send {
            service: Service::Ses,
            text: subject(&request.body).unwrap_or_default(),
        });
    }
    let form: BTreeMap<String, String> = form_fields(&request.body);
    let is_sms =
        form.get("Action").map(String::as_str) == Some("Publish") && form.contains_key("PhoneNumber");
    is_sms.then(|| Send {
        service: Service::Sns,
        text: form.get("Message").cloned().unwrap_or_default(),
    })
}

/// A request as the local voice endpoint reads it.
fn voice_request(request: &Received) -> VoiceRequest<'_> {
    VoiceRequest {
        method: &request.method,
        path: request.path(),
        headers: &request.headers,
        body: &request.body,
    }
}

/// A `SendVoiceMessage` answered by the local voice endpoint.
fn voice_call(request: &Received) -> Answer {
    voice_answer(sms_voice::answer(&voice_request(request)))
}

fn voice_answer(answer: VoiceAnswer) -> Answer {
    Answer::Respond(answer.status, answer.headers, Bytes::from(answer.body))
}

/// The fields of a form-encoded body.
fn form_fields(body: &Bytes) -> BTreeMap<String, String> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| (form_decode(name), form_decode(value)))
        .collect()
}

fn form_decode(text: &str) -> String {
    let spaced = text.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

async fn send_fault(shared: &Shared, service: Service) -> Option<Answer> {
    let fault = {
        let mut rng = lock(&shared.rng);
        (rng.u64(0..1000) < shared.ses_fault_per_mille.load(Ordering::SeqCst)).then(|| rng.u8(0..4))
    }?;
    let error = |status: u16, kind: &str, message: &str| match service {
        Service::Voice => {
            let error = match kind {
                "InternalFailure" => VoiceError::InternalServer,
                "TooManyRequestsException" => VoiceError::Throttling,
                _ => VoiceError::InternalServer,
            };
            let mut answer = VoiceAnswer::error(error, message);
            if kind == "ServiceUnavailable" {
                answer.status = status;
            }
            voice_answer(answer)
        }
        Service::Ses => Answer::Respond(
            status,
            vec![
                ("content-type".to_owned(), "application/json".to_owned()),
                ("x-amzn-errortype".to_owned(), kind.to_owned()),
            ],
            Bytes::from(serde_json::json!({"message": message}).to_string()),
        ),
        Service::Sns => {
            let (status, code) = match kind {
                "InternalFailure" => (500, "InternalError"),
                "TooManyRequestsException" => (400, "Throttling"),
                _ => (status, kind),
            };
            let body = format!(
                "<ErrorResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><Error><Type>Sender</Type><Code>{code}</Code><Message>{message}</Message></Error><RequestId>proxy</RequestId></ErrorResponse>"
            );
            Answer::Respond(
                status,
                vec![("content-type".to_owned(), "text/xml".to_owned())],
                Bytes::from(body),
            )
        }
    };
    {
        let mut counts = lock(&shared.counts);
        match fault {
            0 => counts.ses_server_error += 1,
            1 => counts.ses_throttled += 1,
            2 => counts.ses_slow += 1,
            _ => counts.ses_reset += 1,
        }
    }
    Some(match fault {
        0 => error(
            500,
            "InternalFailure",
            "We encountered an internal error. Please try again.",
        ),
        1 => error(429, "TooManyRequestsException", "Maximum sending rate exceeded."),
        2 => {
            tokio::time::sleep(shared.slow_after).await;
            error(503, "ServiceUnavailable", "Service unavailable.")
        }
        _ => Answer::Reset,
    })
}

async fn forward(shared: &Shared, request: &Received) -> Answer {
    let method = reqwest::Method::from_bytes(request.method.as_bytes()).unwrap_or(reqwest::Method::POST);
    let mut outgoing = shared
        .client
        .request(method, format!("{}{}", shared.upstream, request.path_and_query))
        .body(request.body.clone());
    for (name, value) in &request.headers {
        if !matches!(
            name.as_str(),
            "host" | "content-length" | "connection" | "transfer-encoding"
        ) {
            outgoing = outgoing.header(name, value);
        }
    }
    let response = match outgoing.send().await {
        Ok(response) => response,
        // moto itself failed to answer: the client sees a reset, as it would.
        Err(_) => return Answer::Reset,
    };
    lock(&shared.counts).forwarded += 1;
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .filter(|(name, _)| {
            !matches!(
                name.as_str(),
                "content-length" | "connection" | "transfer-encoding"
            )
        })
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                String::from_utf8_lossy(value.as_bytes()).into_owned(),
            )
        })
        .collect();
    match response.bytes().await {
        Ok(body) => Answer::Respond(status, headers, body),
        Err(_) => Answer::Reset,
    }
}

/// `Content.Simple.Subject.Data` of a `SendEmail` body.
fn subject(body: &Bytes) -> Option<String> {
    let value: Value = serde_json::from_slice(body).ok()?;
    value
        .pointer("/Content/Simple/Subject/Data")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// `(alert, integration)` of a text `<alert id> via <integration id>` (an e-mail subject, a text
/// message; around it, other words may come).
pub fn route_of(text: &str) -> Option<(String, String)> {
    let (before, after) = text.split_once(" via ")?;
    // Ids are letters, digits, `-` and `_`: markup or punctuation around them (`<p>…`, `…:` in a
    // spoken script) is not part of them.
    let id_char = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
    let token = before.split_whitespace().last()?;
    let alert_start = token
        .char_indices()
        .rev()
        .take_while(|(_, c)| id_char(*c))
        .last()
        .map(|(at, _)| at)?;
    let alert = &token[alert_start..];
    let integration: String = after
        .split_whitespace()
        .next()?
        .chars()
        .take_while(|c| id_char(*c))
        .collect();
    if alert.is_empty() || integration.is_empty() {
        return None;
    }
    Some((alert.to_owned(), integration))
}
