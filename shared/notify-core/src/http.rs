//! The one HTTP client: reqwest + rustls, timeouts, no redirects, an SSRF guard, and the shared
//! classification of responses into success, retryable and permanent.
//!
//! Errors name the target as `scheme://host` only: never the path, query, user info or a header
//! value, which may carry tokens.

use std::{
    error::Error as _,
    net::IpAddr,
    str::FromStr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use reqwest::{
    Method, StatusCode, Url,
    header::{HeaderMap, HeaderName, HeaderValue, RETRY_AFTER},
};

use crate::{
    Config, ConfigError, HttpRequest, NotifyError, Sent,
    config::AllowList,
    ssrf::{self, GuardedResolver, SystemLookup},
};

pub use crate::ssrf::{Lookup, LookupFuture};

/// How much of a response body is kept (in [`Sent::response`] and in error messages).
pub const RESPONSE_PREVIEW_BYTES: usize = 1024;

/// The User-Agent of every request.
pub const USER_AGENT: &str = concat!("tocsin/", env!("CARGO_PKG_VERSION"));

/// The shared HTTP client. Build it once per process; cloning is cheap.
///
/// The underlying client is built on the first request, not by [`HttpClient::new`]: building it
/// loads the platform's root certificates (milliseconds), which would delay a Lambda function's
/// first request for work.
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: Arc<OnceLock<Result<reqwest::Client, String>>>,
    connect_timeout: Duration,
    timeout: Duration,
    allow: Arc<AllowList>,
    allow_http: bool,
    lookup: Arc<dyn Lookup>,
}

impl HttpClient {
    /// A client with the timeouts, allow-list and scheme policy of `config`. Cheap: TLS is set up
    /// on the first [`HttpClient::send`].
    pub fn new(config: &Config) -> Result<HttpClient, ConfigError> {
        Ok(HttpClient::build(config, Arc::new(SystemLookup)))
    }

    /// A client like [`HttpClient::new`] that resolves names with `lookup` instead of the system
    /// resolver, so that tests can make a name resolve to chosen addresses (private, mixed, or an
    /// answer that changes between lookups). The SSRF guard checks `lookup`'s answers exactly as
    /// it checks the system resolver's.
    #[cfg(any(test, feature = "testing"))]
    pub fn with_lookup(config: &Config, lookup: Arc<dyn Lookup>) -> HttpClient {
        HttpClient::build(config, lookup)
    }

    fn build(config: &Config, lookup: Arc<dyn Lookup>) -> HttpClient {
        HttpClient {
            client: Arc::new(OnceLock::new()),
            connect_timeout: config.http_connect_timeout,
            timeout: config.http_timeout,
            allow: Arc::new(config.allow_hosts.clone()),
            allow_http: config.allow_http,
            lookup,
        }
    }

    /// The reqwest client, built once. A failure (no usable root certificate, say) is retryable:
    /// the alert stays in Lambda's retries and then the on-failure queue until the environment is
    /// fixed.
    fn client(&self) -> Result<&reqwest::Client, NotifyError> {
        self.client
            .get_or_init(|| {
                reqwest::Client::builder()
                    .user_agent(USER_AGENT)
                    .connect_timeout(self.connect_timeout)
                    .timeout(self.timeout)
                    // 3xx is a failure (Standard Webhooks guidance); following could also walk past the guard.
                    .redirect(reqwest::redirect::Policy::none())
                    // A proxy would resolve names itself, out of the guard's sight.
                    .no_proxy()
                    .dns_resolver(GuardedResolver {
                        allow: Arc::clone(&self.allow),
                        lookup: Arc::clone(&self.lookup),
                    })
                    .build()
                    .map_err(|error| error.without_url().to_string())
            })
            .as_ref()
            .map_err(|error| NotifyError::retryable(format!("http client: {error}")))
    }

    /// Sends `request` once and classifies the outcome: 2xx is success; 408, 429, 5xx, timeouts and
    /// connection errors are retryable (honouring `Retry-After`); everything else is permanent,
    /// including 3xx (redirects are not followed) and URLs the SSRF guard refuses.
    pub async fn send(&self, request: &HttpRequest) -> Result<Sent, NotifyError> {
        self.exchange(request).await?.classified()
    }

    /// Sends `request` once and returns the answer whatever its status (transport failures and
    /// refused URLs are errors, classified as [`HttpClient::send`] does), its body read up to
    /// [`MAX_RESPONSE_BYTES`]: for kinds whose targets answer 200 with an error inside (Slack's
    /// `"ok": false`), or whose answer carries what later messages need (a message's `ts`).
    pub async fn exchange(&self, request: &HttpRequest) -> Result<HttpAnswer, NotifyError> {
        self.exchange_within(request, None).await
    }

    /// [`HttpClient::exchange`] with a shorter request timeout for this request (a custom step's
    /// `timeoutSeconds`); the client's own timeout applies when `timeout` is `None` or longer.
    pub async fn exchange_within(
        &self,
        request: &HttpRequest,
        timeout: Option<Duration>,
    ) -> Result<HttpAnswer, NotifyError> {
        let url = Url::parse(&request.url)
            .map_err(|error| NotifyError::permanent(format!("invalid url: {error}")))?;
        let target = origin(&url);
        // The URL parser silently drops tabs and line breaks; a URL holding any control character
        // is refused instead of being sent altered.
        if request.url.chars().any(char::is_control) {
            return Err(NotifyError::permanent(format!(
                "url `{target}/…` refused: it contains a control character (CR, LF, tab, NUL, …)"
            )));
        }
        self.check_url(&url, &target)?;
        let method = match request.method.to_ascii_uppercase().as_str() {
            "GET" => Method::GET,
            "POST" => Method::POST,
            "PUT" => Method::PUT,
            "PATCH" => Method::PATCH,
            "DELETE" => Method::DELETE,
            other => {
                return Err(NotifyError::permanent(format!(
                    "{target}: http method `{other}` is not GET, POST, PUT, PATCH or DELETE"
                )));
            }
        };
        let mut headers = HeaderMap::new();
        for (name, value) in &request.headers {
            let header = HeaderName::from_str(name)
                .map_err(|_| NotifyError::permanent(format!("{target}: invalid header name `{name}`")))?;
            // Bytes beyond ASCII go out as they are (RFC 9110 obs-text: UTF-8 in practice);
            // control characters other than tab are refused, so no value can end a header line.
            let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
                NotifyError::permanent(format!("{target}: invalid value for header `{name}`"))
            })?;
            headers.insert(header, value);
        }
        let label = format!("{method} {target}");
        let mut builder = self
            .client()?
            .request(method, url)
            .headers(headers)
            .body(request.body.clone());
        if let Some(timeout) = timeout.filter(|timeout| *timeout < self.timeout) {
            builder = builder.timeout(timeout);
        }
        let response = builder
            .send()
            .await
            .map_err(|error| transport_error(&label, &target, error))?;
        let status = response.status();
        let retry_after = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(parse_retry_after);
        let response_headers = response
            .headers()
            .iter()
            .take(MAX_RESPONSE_HEADERS)
            .map(|(name, value)| {
                (
                    name.as_str().to_owned(),
                    truncate_utf8(&String::from_utf8_lossy(value.as_bytes()), MAX_RESPONSE_BYTES),
                )
            })
            .collect();
        let body = read_body(response, MAX_RESPONSE_BYTES).await;
        Ok(HttpAnswer {
            label,
            status: status.as_u16(),
            retry_after,
            headers: response_headers,
            body,
        })
    }

    /// Refuses disallowed schemes and IP-literal hosts before anything is sent; names are checked
    /// by the resolver at connect time.
    fn check_url(&self, url: &Url, target: &str) -> Result<(), NotifyError> {
        match url.scheme() {
            "https" => {}
            "http" if self.allow_http => {}
            "http" => {
                return Err(NotifyError::permanent(format!(
                    "url `{target}/…` refused: plain http is not allowed (set TOCSIN_ALLOW_HTTP=true)"
                )));
            }
            other => {
                return Err(NotifyError::permanent(format!(
                    "url scheme `{other}` is not http or https"
                )));
            }
        }
        let Some(host) = url.host_str() else {
            return Err(NotifyError::permanent(format!("url `{target}` has no host")));
        };
        if self.allow.allows_host(host) {
            return Ok(());
        }
        // The URL parser has already normalised decimal, octal and hex IPv4 forms to dotted quads.
        if let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            && !self.allow.allows_ip(ip)
            && let Some(reason) = ssrf::refused_reason(ip)
        {
            return Err(refused(target, reason, ip));
        }
        Ok(())
    }
}

fn refused(target: &str, reason: &str, ip: IpAddr) -> NotifyError {
    NotifyError::permanent(format!(
        "url `{target}/…` refused: resolves to a private address ({reason} {ip})"
    ))
}

/// `scheme://host[:port]`, the only part of a URL that errors and logs may show.
pub fn origin(url: &Url) -> String {
    match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{}://{host}:{port}", url.scheme()),
        (Some(host), None) => format!("{}://{host}", url.scheme()),
        (None, _) => format!("{}://", url.scheme()),
    }
}

/// `scheme://host[:port]` of a URL given as text, or `[invalid url]`.
pub fn origin_of(url: &str) -> String {
    Url::parse(url)
        .map(|url| origin(&url))
        .unwrap_or_else(|_| "[invalid url]".to_owned())
}

fn transport_error(label: &str, target: &str, error: reqwest::Error) -> NotifyError {
    let error = error.without_url();
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(refusal) = cause.downcast_ref::<ssrf::Refused>() {
            return refused(target, refusal.reason, refusal.ip);
        }
        source = cause.source();
    }
    let detail = describe_cause(&error);
    if error.is_timeout() {
        NotifyError::retryable(format!("{label}: timed out{detail}"))
    } else if error.is_connect() {
        NotifyError::retryable(format!("{label}: connection failed{detail}"))
    } else if error.is_builder() {
        NotifyError::permanent(format!("{label}: invalid request{detail}"))
    } else {
        // Reset, dropped or half-written responses: the request may or may not have arrived.
        NotifyError::retryable(format!("{label}: request failed{detail}"))
    }
}

/// The innermost cause's text, which says "connection refused", "connection reset", … without URL.
fn describe_cause(error: &reqwest::Error) -> String {
    let mut innermost: Option<String> = None;
    let mut source = error.source();
    while let Some(cause) = source {
        innermost = Some(cause.to_string());
        source = cause.source();
    }
    innermost.map(|text| format!(": {text}")).unwrap_or_default()
}

/// At most `max` bytes of the body (a target cannot make the function hold more).
async fn read_body(mut response: reqwest::Response, max: usize) -> String {
    let mut bytes: Vec<u8> = Vec::new();
    while bytes.len() < max {
        match response.chunk().await {
            Ok(Some(chunk)) => bytes.extend_from_slice(&chunk),
            Ok(None) | Err(_) => break,
        }
    }
    truncate_utf8(&String::from_utf8_lossy(&bytes), max)
}

/// The most of a response body [`HttpClient::exchange`] reads.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// The most response headers [`HttpClient::exchange`] keeps.
pub const MAX_RESPONSE_HEADERS: usize = 100;

/// A target's answer, unclassified ([`HttpClient::exchange`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpAnswer {
    /// `METHOD scheme://host[:port]`, for messages (never the path or query: they may hold tokens).
    pub label: String,
    /// The HTTP status.
    pub status: u16,
    /// `Retry-After`, when given.
    pub retry_after: Option<Duration>,
    /// The response headers (lower-case names, at most [`MAX_RESPONSE_HEADERS`], values cut at
    /// [`MAX_RESPONSE_BYTES`]).
    pub headers: Vec<(String, String)>,
    /// The body, at most [`MAX_RESPONSE_BYTES`].
    pub body: String,
}

impl HttpAnswer {
    /// The first value of header `name` (any case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

impl HttpAnswer {
    /// The standard classification: 2xx is success (the first [`RESPONSE_PREVIEW_BYTES`] of the
    /// body kept); 408, 429 and 5xx retryable, honouring `Retry-After`; 3xx and other 4xx permanent.
    pub fn classified(&self) -> Result<Sent, NotifyError> {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        classify(
            &self.label,
            status,
            self.retry_after,
            truncate_utf8(&self.body, RESPONSE_PREVIEW_BYTES),
        )
    }
}

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn truncate_utf8(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

fn classify(
    label: &str,
    status: StatusCode,
    retry_after: Option<Duration>,
    body: String,
) -> Result<Sent, NotifyError> {
    let code = status.as_u16();
    if status.is_success() {
        return Ok(Sent {
            status: Some(code),
            external_id: None,
            response: body,
            ..Sent::default()
        });
    }
    let snippet = {
        let short = truncate_utf8(body.trim(), 200);
        if short.is_empty() {
            String::new()
        } else {
            format!(": {short}")
        }
    };
    if status.is_redirection() {
        return Err(NotifyError::Permanent {
            reason: format!("{label}: status {status}, redirect not followed"),
            status: Some(code),
        });
    }
    if code == 408 || code == 429 || status.is_server_error() {
        return Err(NotifyError::Retryable {
            reason: format!("{label}: status {status}{snippet}"),
            status: Some(code),
            retry_after,
        });
    }
    let gone = if code == 410 {
        " (the endpoint is gone)"
    } else {
        ""
    };
    Err(NotifyError::Permanent {
        reason: format!("{label}: status {status}{gone}{snippet}"),
        status: Some(code),
    })
}

/// Parses `Retry-After`: delay seconds, or an HTTP date (a date in the past is zero).
pub fn parse_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = chrono::DateTime::parse_from_rfc2822(value).ok()?;
    let wait = date.with_timezone(&chrono::Utc) - chrono::Utc::now();
    Some(wait.to_std().unwrap_or(Duration::ZERO))
}
