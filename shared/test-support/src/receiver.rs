//! A local HTTP/1.1 receiver on 127.0.0.1 with scripted answers and faults.
//!
//! It records every request (method, path, headers, body, arrival time) and answers each path from
//! a script: a status with headers and body, after an optional delay, or by dropping the connection;
//! a sequence of replies is played in order and its last reply repeats.
//!
//! ```ignore
//! let receiver = Receiver::start(
//!     Script::new().route("/hook", [Reply::status(500), Reply::status(429).header("Retry-After", "1"), Reply::ok()]),
//! ).await;
//! // … send to receiver.url("/hook") …
//! assert_eq!(receiver.requests_to("/hook").len(), 3);
//! ```

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant, SystemTime},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::JoinHandle};

/// One scripted answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// Response body.
    pub body: String,
    /// Wait this long before answering.
    pub delay: Duration,
    /// Close the connection without answering (after the delay).
    pub drop_connection: bool,
}

impl Reply {
    /// A reply with `status` and an empty body.
    pub fn status(status: u16) -> Self {
        Reply {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: Duration::ZERO,
            drop_connection: false,
        }
    }

    /// `200 OK` with body `ok`.
    pub fn ok() -> Self {
        Reply::status(200).body("ok")
    }

    /// `status` with a JSON body and `content-type: application/json`.
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Reply::status(status)
            .header("content-type", "application/json")
            .body(body.to_string())
    }

    /// Closes the connection without answering.
    pub fn drop_connection() -> Self {
        Reply {
            drop_connection: true,
            ..Reply::status(0)
        }
    }

    /// Adds a header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Sets the body.
    pub fn body(mut self, body: impl Into<String>) -> Self {
        self.body = body.into();
        self
    }

    /// Answers after `delay` (a slow target).
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = delay;
        self
    }
}

/// Replies per path; other paths get the replies of [`Script::any`], else `404`; with
/// [`Script::answer_with`], every request is answered by a function of it.
#[derive(Clone, Default)]
pub struct Script {
    routes: HashMap<String, Vec<Reply>>,
    any: Vec<Reply>,
    answer: Option<Answerer>,
}

/// A function that answers a request (a target that checks what it gets).
type Answerer = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

impl std::fmt::Debug for Script {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Script")
            .field("routes", &self.routes)
            .field("any", &self.any)
            .field("answer_with", &self.answer.is_some())
            .finish()
    }
}

impl Script {
    /// An empty script (every path answers 404).
    pub fn new() -> Self {
        Script::default()
    }

    /// Answers requests to `path` with `replies` in order; the last one repeats.
    pub fn route(mut self, path: &str, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.routes.insert(path.to_owned(), replies.into_iter().collect());
        self
    }

    /// Answers requests to every path not given to [`Script::route`] with `replies` in order (the
    /// count is per path); the last one repeats.
    pub fn any(mut self, replies: impl IntoIterator<Item = Reply>) -> Self {
        self.any = replies.into_iter().collect();
        self
    }

    /// Answers every request with `answer` of it (recorded first, like every request): a target
    /// that checks what it gets and answers accordingly. Routes and `any` are not used.
    pub fn answer_with(mut self, answer: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> Self {
        self.answer = Some(Arc::new(answer));
        self
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// `GET`, `POST`, …
    pub method: String,
    /// The path, without the query.
    pub path: String,
    /// The query string, if any.
    pub query: Option<String>,
    /// Headers, lower-case names, in arrival order.
    pub headers: Vec<(String, String)>,
    /// The body (lossy UTF-8).
    pub body: String,
    /// When the request had fully arrived (monotonic).
    pub at: Instant,
    /// When the request had fully arrived (wall clock).
    pub received: SystemTime,
}

impl Recorded {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

#[derive(Debug, Default)]
struct State {
    script: Script,
    served: HashMap<String, usize>,
    requests: Vec<Recorded>,
}

/// A running receiver; stops when dropped.
#[derive(Debug)]
pub struct Receiver {
    address: std::net::SocketAddr,
    state: Arc<Mutex<State>>,
    task: JoinHandle<()>,
}

impl Receiver {
    /// Starts a receiver on a free port of 127.0.0.1.
    pub async fn start(script: Script) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let state = Arc::new(Mutex::new(State {
            script,
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
                    let service = service_fn(move |request| answer(Arc::clone(&state), request));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { address, state, task }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// The bound address.
    pub fn address(&self) -> std::net::SocketAddr {
        self.address
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.state.lock().expect("receiver state").requests.clone()
    }

    /// The requests to `path`, in arrival order.
    pub fn requests_to(&self, path: &str) -> Vec<Recorded> {
        self.requests()
            .into_iter()
            .filter(|request| request.path == path)
            .collect()
    }

    /// Waits until at least `count` requests arrived, or `timeout` passed; returns them.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Recorded> {
        let until = Instant::now() + timeout;
        loop {
            let requests = self.requests();
            if requests.len() >= count || Instant::now() >= until {
                return requests;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The error that makes hyper close the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by script")
    }
}

impl std::error::Error for Dropped {}

async fn answer(
    state: Arc<Mutex<State>>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let query = request.uri().query().map(str::to_owned);
    let headers = request
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
    let reply = {
        let mut state = state.lock().expect("receiver state");
        let recorded = Recorded {
            method,
            path: path.clone(),
            query,
            headers,
            body,
            at: Instant::now(),
            received: SystemTime::now(),
        };
        let answered = state.script.answer.as_ref().map(|answer| answer(&recorded));
        state.requests.push(recorded);
        match answered {
            Some(reply) => reply,
            None => {
                let index = *state
                    .served
                    .entry(path.clone())
                    .and_modify(|n| *n += 1)
                    .or_insert(0);
                let replies = state.script.routes.get(&path).unwrap_or(&state.script.any);
                match replies.last() {
                    Some(last) => replies.get(index).unwrap_or(last).clone(),
                    None => Reply::status(404).body("no such path in the script"),
                }
            }
        }
    };
    respond(reply).await
}

async fn respond(reply: Reply) -> Result<Response<Full<Bytes>>, Dropped> {
    if !reply.delay.is_zero() {
        tokio::time::sleep(reply.delay).await;
    }
    if reply.drop_connection {
        return Err(Dropped);
    }
    let mut response = Response::builder().status(reply.status);
    for (name, value) in &reply.headers {
        response = response.header(name, value);
    }
    Ok(response
        .body(Full::new(Bytes::from(reply.body)))
        .expect("a valid scripted reply"))
}
