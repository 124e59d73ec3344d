//! A local HTTP/1.1 receiver on 127.0.0.1 whose answers a function computes from each request:
//! the stand-in for a vendor's API that checks requests against its documented schema and keeps
//! state (the incidents open at PagerDuty, …), for lifecycle tests.
//!
//! ```ignore
//! let api = Arc::new(Mutex::new(MyVendor::default()));
//! let state = Arc::clone(&api);
//! let receiver = VendorReceiver::start(move |request| state.lock().unwrap().answer(request)).await;
//! // … send to receiver.url("/v2/enqueue") …
//! ```
//!
//! The answer is a [`Reply`]: a status with headers and body, after an optional delay, or a dropped
//! connection.

use std::{
    sync::{Arc, Mutex},
    time::{Instant, SystemTime},
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::JoinHandle};

use crate::receiver::{Recorded, Reply};

type Answer = Arc<dyn Fn(&Recorded) -> Reply + Send + Sync>;

/// A running receiver answering through a function; stops when dropped.
pub struct VendorReceiver {
    address: std::net::SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for VendorReceiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VendorReceiver")
            .field("address", &self.address)
            .finish()
    }
}

impl VendorReceiver {
    /// Starts a receiver on a free port of 127.0.0.1 that answers each request with `answer`
    /// (called with the whole request, once per request, in arrival order per connection).
    pub async fn start(answer: impl Fn(&Recorded) -> Reply + Send + Sync + 'static) -> VendorReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let address = listener.local_addr().expect("local address");
        let requests: Arc<Mutex<Vec<Recorded>>> = Arc::default();
        let answer: Answer = Arc::new(answer);
        let recorded = Arc::clone(&requests);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let answer = Arc::clone(&answer);
                let recorded = Arc::clone(&recorded);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        respond(Arc::clone(&answer), Arc::clone(&recorded), request)
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        VendorReceiver {
            address,
            requests,
            task,
        }
    }

    /// `http://127.0.0.1:<port><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().expect("receiver requests").clone()
    }
}

impl Drop for VendorReceiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The error that makes hyper close the connection without a response.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by the vendor receiver")
    }
}

impl std::error::Error for Dropped {}

async fn respond(
    answer: Answer,
    requests: Arc<Mutex<Vec<Recorded>>>,
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
    let recorded = Recorded {
        method,
        path,
        query,
        headers,
        body,
        at: Instant::now(),
        received: SystemTime::now(),
    };
    let reply = answer(&recorded);
    requests.lock().expect("receiver requests").push(recorded);
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
        .expect("a valid reply"))
}
