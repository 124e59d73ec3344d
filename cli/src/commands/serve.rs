//! A minimal loopback HTTP server for the demo: the SNS → function bridge and the webhook receiver.

use std::{convert::Infallible, future::Future, net::SocketAddr, sync::Arc};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use tokio::{net::TcpListener, task::JoinHandle};

use crate::CliError;

/// One request as received.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct Received {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) headers: std::collections::BTreeMap<String, String>,
    pub(crate) body: String,
}

/// Serves `handler` on `addr` until the returned task is aborted.
pub(crate) async fn serve<H, F>(
    addr: SocketAddr,
    handler: H,
) -> Result<(SocketAddr, JoinHandle<()>), CliError>
where
    H: Fn(Received) -> F + Send + Sync + 'static,
    F: Future<Output = (u16, String)> + Send + 'static,
{
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|err| CliError::Input(format!("cannot listen on {addr}: {err}")))?;
    let local = listener
        .local_addr()
        .map_err(|err| CliError::Input(format!("cannot listen on {addr}: {err}")))?;
    let handler = Arc::new(handler);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let handler = Arc::clone(&handler);
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let handler = Arc::clone(&handler);
                    async move {
                        let received = read(request).await;
                        let (status, body) = handler(received).await;
                        let mut response = Response::new(Full::new(Bytes::from(body)));
                        *response.status_mut() =
                            hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
                        Ok::<_, Infallible>(response)
                    }
                });
                // A client that goes away mid-request is not the demo's problem.
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((local, task))
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
        path: parts.uri.path().to_owned(),
        headers: parts
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.to_string(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body: String::from_utf8_lossy(&body).into_owned(),
    }
}
