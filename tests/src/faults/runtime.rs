//! A function process killed in the middle of a delivery.
//!
//! The function runs as its own process (`tocsin-faults --function <kind>`: the kind's `main`,
//! `notify_core::run` with its notifier) against a local Lambda Runtime API. Its send is held at the
//! target (never answered), and the process is killed with SIGKILL while it waits. Lambda then
//! retries the event in a new process: while the dead invocation's claim holds, the retry leaves
//! the route retryable; once the claim has expired, a retry takes it over and delivers. The target
//! must end with one delivery, and the delivery log with the lost attempt and the delivery.

use std::{
    collections::VecDeque,
    path::Path,
    process::Stdio,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use alert_model::IntegrationKind;
use serde::Serialize;
use serde_json::Value;
use tokio::{
    process::{Child, Command},
    sync::{Notify, mpsc},
};

use super::http::{self, Answer, Received, Server};

/// How an invocation ended, as the function reported it to the Runtime API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// `POST …/response`.
    Response(String),
    /// `POST …/error`.
    Error(String),
}

#[derive(Default)]
struct State {
    pending: VecDeque<(String, Value)>,
}

/// A local Lambda Runtime API serving queued events, one at a time, to whichever process asks.
pub struct RuntimeApi {
    state: Arc<Mutex<State>>,
    ready: Arc<Notify>,
    outcomes: tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Outcome)>>,
    server: Server,
    timeout: Duration,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

const NEXT: &str = "/2018-06-01/runtime/invocation/next";

impl RuntimeApi {
    /// Starts the API; each invocation gets `timeout` as its deadline.
    pub async fn start(timeout: Duration) -> Result<RuntimeApi, String> {
        let state = Arc::new(Mutex::new(State::default()));
        let ready = Arc::new(Notify::new());
        let (outcome_sender, outcomes) = mpsc::unbounded_channel();
        let (handler_state, handler_ready) = (Arc::clone(&state), Arc::clone(&ready));
        let server = http::serve(move |request: Received| {
            let (state, ready, outcomes) = (
                Arc::clone(&handler_state),
                Arc::clone(&handler_ready),
                outcome_sender.clone(),
            );
            async move { answer(&state, &ready, &outcomes, timeout, request).await }
        })
        .await?;
        Ok(RuntimeApi {
            state,
            ready,
            outcomes: tokio::sync::Mutex::new(outcomes),
            server,
            timeout,
        })
    }

    /// `AWS_LAMBDA_RUNTIME_API`: `host:port`.
    pub fn address(&self) -> String {
        self.server.address.to_string()
    }

    /// Queues one invocation of `event`; returns its request id.
    pub fn invoke(&self, event: &Value) -> String {
        let request_id = uuid::Uuid::new_v4().to_string();
        lock(&self.state)
            .pending
            .push_back((request_id.clone(), event.clone()));
        self.ready.notify_one();
        request_id
    }

    /// Waits for the outcome of invocation `request_id` (at most the timeout and a margin).
    pub async fn outcome(&self, request_id: &str) -> Result<Outcome, String> {
        let mut outcomes = self.outcomes.lock().await;
        let wait = self.timeout + Duration::from_secs(30);
        loop {
            match tokio::time::timeout(wait, outcomes.recv()).await {
                Ok(Some((id, outcome))) if id == request_id => return Ok(outcome),
                Ok(Some(_)) => continue,
                Ok(None) => return Err("the runtime api stopped".to_owned()),
                Err(_) => return Err(format!("no outcome for invocation {request_id} within {wait:?}")),
            }
        }
    }
}

async fn answer(
    state: &Mutex<State>,
    ready: &Notify,
    outcomes: &mpsc::UnboundedSender<(String, Outcome)>,
    timeout: Duration,
    request: Received,
) -> Answer {
    let path = request.path().to_owned();
    if request.method == "GET" && path == NEXT {
        // Long poll, as the real API: answer when there is an event.
        loop {
            let notified = ready.notified();
            if let Some((request_id, event)) = lock(state).pending.pop_front() {
                let deadline = chrono::Utc::now().timestamp_millis() + timeout.as_millis() as i64;
                return Answer::Respond(
                    200,
                    vec![
                        ("content-type".to_owned(), "application/json".to_owned()),
                        ("lambda-runtime-aws-request-id".to_owned(), request_id),
                        ("lambda-runtime-deadline-ms".to_owned(), deadline.to_string()),
                        (
                            "lambda-runtime-invoked-function-arn".to_owned(),
                            "arn:aws:lambda:us-east-1:123456789012:function:fault-suite".to_owned(),
                        ),
                        (
                            "lambda-runtime-trace-id".to_owned(),
                            "Root=1-00000000-000000000000000000000000".to_owned(),
                        ),
                    ],
                    bytes::Bytes::from(event.to_string()),
                );
            }
            notified.await;
        }
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [
            "2018-06-01",
            "runtime",
            "invocation",
            request_id,
            kind @ ("response" | "error"),
        ] => {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            let outcome = if *kind == "response" {
                Outcome::Response(body)
            } else {
                Outcome::Error(body)
            };
            let _ = outcomes.send(((*request_id).to_owned(), outcome));
            Answer::json(202, &serde_json::json!({"status": "OK"}))
        }
        ["2018-06-01", "runtime", "init", "error"] => {
            let body = String::from_utf8_lossy(&request.body).into_owned();
            let _ = outcomes.send(("init".to_owned(), Outcome::Error(body)));
            Answer::json(202, &serde_json::json!({"status": "OK"}))
        }
        _ => Answer::status(404, "unknown runtime api path"),
    }
}

/// A function process: `executable --function <kind>` with Lambda's environment.
pub struct FunctionProcess {
    child: Child,
}

impl FunctionProcess {
    /// Starts the process; `settings` are the function's own variables (tables, endpoint, …).
    pub fn start(
        executable: &Path,
        kind: IntegrationKind,
        api: &RuntimeApi,
        settings: &[(String, String)],
    ) -> Result<FunctionProcess, String> {
        let name = kind.function_name();
        let mut command = Command::new(executable);
        command
            .args(["--function", kind.as_str()])
            .env_clear()
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "2026/12/01/[$LATEST]fault-suite")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "WARN")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        for (variable, value) in settings {
            command.env(variable, value);
        }
        let child = command
            .spawn()
            .map_err(|error| format!("cannot start {}: {error}", executable.display()))?;
        Ok(FunctionProcess { child })
    }

    /// SIGKILL, as when Lambda's sandbox dies mid-invocation; waits for the process to be gone.
    pub async fn kill(&mut self) -> Result<(), String> {
        self.child
            .kill()
            .await
            .map_err(|error| format!("cannot kill the function process: {error}"))
    }
}

/// What the kill run of one kind found.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct KillRun {
    /// The kind whose function was killed.
    pub kind: IntegrationKind,
    /// The alert.
    pub alert: String,
    /// The invocation retried while the dead invocation's claim held: left retryable.
    pub retry_while_claimed: String,
    /// The invocation after the claim expired.
    pub retry_after_expiry: String,
    /// Deliveries the target counted (distinct).
    pub deliveries: usize,
    /// Times the target acted on that delivery (2: the held request and the retry, same id).
    pub times_processed: Vec<u64>,
    /// The delivery log's final state of the route.
    pub final_status: String,
    /// The attempts the delivery log holds, `attempt outcome`.
    pub history: Vec<String>,
}
