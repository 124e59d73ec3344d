//! A small HTTP/1.1 server for the fault suite's parts (receivers, the emulator proxy, the SNS
//! subscription endpoint, the Lambda Runtime API): each request is answered by a handler, or its
//! connection is reset (closed with RST, no answer).

use std::{future::Future, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::JoinHandle};

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, as sent.
    pub path_and_query: String,
    /// Headers, lower-case names.
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Bytes,
}

impl Received {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path without the query.
    pub fn path(&self) -> &str {
        self.path_and_query
            .split_once('?')
            .map_or(self.path_and_query.as_str(), |(path, _)| path)
    }
}

/// How a request is answered.
#[derive(Debug)]
pub enum Answer {
    /// A response: status, headers, body.
    Respond(u16, Vec<(String, String)>, Bytes),
    /// No response: the connection is reset.
    Reset,
}

impl Answer {
    /// `status` with a body and no header.
    pub fn status(status: u16, body: impl Into<Bytes>) -> Answer {
        Answer::Respond(status, Vec::new(), body.into())
    }

    /// `status` with a JSON body.
    pub fn json(status: u16, body: &serde_json::Value) -> Answer {
        Answer::Respond(
            status,
            vec![("content-type".to_owned(), "application/json".to_owned())],
            Bytes::from(body.to_string()),
        )
    }
}

#[derive(Debug)]
struct Reset;

impl std::fmt::Display for Reset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection reset on purpose")
    }
}

impl std::error::Error for Reset {}

/// A running server; stops accepting when dropped.
#[derive(Debug)]
pub struct Server {
    /// The bound address.
    pub address: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    /// `http://<address><path>`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Serves `handler` on a free port of 127.0.0.1. Sockets close with RST (zero linger), so that
/// [`Answer::Reset`] is a real connection reset.
pub async fn serve<H, F>(handler: H) -> Result<Server, String>
where
    H: Fn(Received) -> F + Send + Sync + 'static,
    F: Future<Output = Answer> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("cannot listen on 127.0.0.1: {error}"))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("no local address: {error}"))?;
    let handler = Arc::new(handler);
    let task = tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_zero_linger();
            let _ = stream.set_nodelay(true);
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let handler = Arc::clone(&handler);
                    async move {
                        let received = read(request).await;
                        match handler(received).await {
                            Answer::Respond(status, headers, body) => {
                                let mut response = Response::new(Full::new(body));
                                *response.status_mut() = hyper::StatusCode::from_u16(status)
                                    .unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
                                for (name, value) in headers {
                                    if let (Ok(name), Ok(value)) = (
                                        hyper::header::HeaderName::from_bytes(name.as_bytes()),
                                        hyper::header::HeaderValue::from_str(&value),
                                    ) {
                                        response.headers_mut().append(name, value);
                                    }
                                }
                                Ok::<_, Reset>(response)
                            }
                            Answer::Reset => Err(Reset),
                        }
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok(Server { address, task })
}

async fn read(request: Request<Incoming>) -> Received {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|collected| collected.to_bytes())
        .unwrap_or_default();
    Received {
        method: parts.method.to_string(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map_or_else(|| "/".to_owned(), |pq| pq.as_str().to_owned()),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
    }
}
