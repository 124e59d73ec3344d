//! The one HTTP client: reqwest + rustls, timeouts, no redirects, an SSRF guard, and the shared
//! classification of responses into success, retryable and permanent.

use crate::{HttpRequest, NotifyError, Sent};

/// The shared HTTP client. Build it once per process; cloning is cheap.
#[derive(Debug, Clone)]
pub struct HttpClient {}

impl HttpClient {
    /// Sends `request` once and classifies the outcome: 2xx is success; 408, 429, 5xx, timeouts and
    /// connection errors are retryable (honouring `Retry-After`); everything else is permanent.
    pub async fn send(&self, request: &HttpRequest) -> Result<Sent, NotifyError> {
        let _ = request;
        Err(NotifyError::permanent("not implemented yet"))
    }
}
