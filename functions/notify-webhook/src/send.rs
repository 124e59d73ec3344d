//! Sending one step: its OAuth 2 token (cached per integration until shortly before it expires,
//! fetched again once when the target answers 401), the request through the shared client (SSRF
//! guard, timeouts, bounded body), the classification, and the values it extracts.

use std::{
    collections::HashMap,
    sync::Mutex,
    time::{Duration, Instant},
};

use notify_core::{HttpAnswer, HttpClient, HttpRequest, NotifyError, Sent, Variables};
use sha2::Digest as _;

use crate::message::{OAuthClient, WebhookMessage, extract};

/// A token is used until this long before it expires.
pub const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// How long a token without `expires_in` is kept.
pub const TOKEN_DEFAULT_LIFETIME: Duration = Duration::from_secs(300);

/// Tokens kept at most (one per integration and client); the cache is emptied beyond.
const MAX_TOKENS: usize = 256;

/// OAuth 2 tokens by integration and client credentials.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl TokenCache {
    /// The cache key: the integration and a digest of the client (its secret included, so that a
    /// rotated secret gets a new token; the secret itself is never kept here).
    fn key(integration: &str, client: &OAuthClient) -> String {
        let mut digest = sha2::Sha256::new();
        for part in [
            client.token_url.as_str(),
            client.client_id.as_str(),
            client.client_secret.as_str(),
            client.scope.as_deref().unwrap_or(""),
            client.audience.as_deref().unwrap_or(""),
        ] {
            digest.update(part.as_bytes());
            digest.update([0]);
        }
        let digest: String = digest
            .finalize()
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect();
        format!("{integration}\u{0}{digest}")
    }

    fn cached(&self, key: &str) -> Option<String> {
        let tokens = self
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tokens
            .get(key)
            .filter(|(_, expires)| Instant::now() + TOKEN_MARGIN < *expires)
            .map(|(token, _)| token.clone())
    }

    fn keep(&self, key: String, token: String, lifetime: Duration) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if tokens.len() >= MAX_TOKENS {
            tokens.clear();
        }
        tokens.insert(key, (token, Instant::now() + lifetime));
    }

    fn forget(&self, key: &str) {
        let mut tokens = self
            .tokens
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        tokens.remove(key);
    }
}

/// Sends `message` once (a 401 with an OAuth 2 token: once more with a new token) and reads what
/// it extracts. Errors and the response never hold the token or the client secret.
pub(crate) async fn send(
    http: &HttpClient,
    tokens: &TokenCache,
    message: &WebhookMessage,
) -> Result<Sent, NotifyError> {
    if let Some(missing) = message.pending.first() {
        return Err(NotifyError::permanent(format!(
            "integration `{}`, step `{}`: it uses `{missing}`, which an earlier step did not extract (it failed or is optional)",
            message.integration, message.step
        )));
    }
    let mut secrets = Variables::default();
    let answer = match &message.oauth {
        None => http.exchange_within(&message.request, message.timeout).await,
        Some(client) => send_with_token(http, tokens, message, client, &mut secrets).await,
    };
    let answer = answer.map_err(|error| redacted_error(&secrets, error))?;
    let mut sent = answer
        .classified()
        .map_err(|error| redacted_error(&secrets, error))?;
    sent.response = secrets.redact(&sent.response);
    sent.extracted = extract(&message.extract, &answer).map_err(|problem| {
        NotifyError::permanent(format!(
            "integration `{}`, step `{}`: {}",
            message.integration,
            message.step,
            secrets.redact(&problem)
        ))
    })?;
    Ok(sent)
}

/// The request with a token; on 401, once more with a new token.
async fn send_with_token(
    http: &HttpClient,
    tokens: &TokenCache,
    message: &WebhookMessage,
    client: &OAuthClient,
    secrets: &mut Variables,
) -> Result<HttpAnswer, NotifyError> {
    let key = TokenCache::key(&message.integration, client);
    let mut fresh = false;
    let token = match tokens.cached(&key) {
        Some(token) => token,
        None => {
            fresh = true;
            fetch_token(http, tokens, &key, client).await?
        }
    };
    secrets.insert_secret("oauth2 token", token.clone());
    let answer = http
        .exchange_within(&authorized(&message.request, &token), message.timeout)
        .await?;
    if answer.status != 401 || fresh {
        return Ok(answer);
    }
    tokens.forget(&key);
    let token = fetch_token(http, tokens, &key, client).await?;
    secrets.insert_secret("oauth2 token", token.clone());
    http.exchange_within(&authorized(&message.request, &token), message.timeout)
        .await
}

fn authorized(request: &HttpRequest, token: &str) -> HttpRequest {
    let mut request = request.clone();
    request
        .headers
        .retain(|name, _| !name.eq_ignore_ascii_case("authorization"));
    request
        .headers
        .insert("Authorization".to_owned(), format!("Bearer {token}"));
    request
}

/// A token from the token endpoint (client credentials grant), kept for its lifetime.
async fn fetch_token(
    http: &HttpClient,
    tokens: &TokenCache,
    key: &str,
    client: &OAuthClient,
) -> Result<String, NotifyError> {
    let answer = http.exchange(&token_request(client)).await?;
    let context = |reason: String| format!("oauth2 token endpoint: {reason}");
    let sent = answer.classified().map_err(|error| match error {
        NotifyError::Retryable {
            reason,
            status,
            retry_after,
        } => NotifyError::Retryable {
            reason: context(reason),
            status,
            retry_after,
        },
        NotifyError::Permanent { reason, status } => NotifyError::Permanent {
            reason: context(reason),
            status,
        },
    })?;
    let body: serde_json::Value = serde_json::from_str(&answer.body)
        .map_err(|_| NotifyError::permanent(context(format!("{}: the answer is not JSON", answer.label))))?;
    let token = body
        .get("access_token")
        .and_then(serde_json::Value::as_str)
        .filter(|token| !token.is_empty() && !token.contains(['\r', '\n']))
        .ok_or_else(|| {
            NotifyError::permanent(context(format!(
                "{}: status {}, the answer has no `access_token`",
                answer.label,
                sent.status.unwrap_or_default()
            )))
        })?
        .to_owned();
    let lifetime = body
        .get("expires_in")
        .and_then(|value| value.as_u64().or_else(|| value.as_str()?.parse().ok()))
        .map_or(TOKEN_DEFAULT_LIFETIME, Duration::from_secs);
    tokens.keep(key.to_owned(), token.clone(), lifetime);
    Ok(token)
}

/// The client credentials grant (RFC 6749 §4.4): a form with the grant type, the scope and the
/// audience; the client authenticates with HTTP Basic (id and secret form-encoded first, §2.3.1)
/// or in the form.
fn token_request(client: &OAuthClient) -> HttpRequest {
    use base64::Engine as _;
    let form = |value: &str| form_urlencoded(value);
    let mut body = vec!["grant_type=client_credentials".to_owned()];
    if let Some(scope) = client.scope.as_deref().filter(|scope| !scope.trim().is_empty()) {
        body.push(format!("scope={}", form(scope)));
    }
    if let Some(audience) = client
        .audience
        .as_deref()
        .filter(|audience| !audience.trim().is_empty())
    {
        body.push(format!("audience={}", form(audience)));
    }
    let mut headers = std::collections::BTreeMap::from([
        (
            "Content-Type".to_owned(),
            "application/x-www-form-urlencoded".to_owned(),
        ),
        ("Accept".to_owned(), "application/json".to_owned()),
    ]);
    if client.basic {
        let credentials = format!("{}:{}", form(&client.client_id), form(&client.client_secret));
        let encoded = base64::engine::general_purpose::STANDARD.encode(credentials);
        headers.insert("Authorization".to_owned(), format!("Basic {encoded}"));
    } else {
        body.push(format!("client_id={}", form(&client.client_id)));
        body.push(format!("client_secret={}", form(&client.client_secret)));
    }
    HttpRequest {
        method: "POST".to_owned(),
        url: client.token_url.clone(),
        headers,
        body: body.join("&"),
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_urlencoded(value: &str) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    const FORM: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'*')
        .remove(b' ');
    utf8_percent_encode(value, FORM).to_string().replace(' ', "+")
}

fn redacted_error(secrets: &Variables, error: NotifyError) -> NotifyError {
    match error {
        NotifyError::Retryable {
            reason,
            status,
            retry_after,
        } => NotifyError::Retryable {
            reason: secrets.redact(&reason),
            status,
            retry_after,
        },
        NotifyError::Permanent { reason, status } => NotifyError::Permanent {
            reason: secrets.redact(&reason),
            status,
        },
    }
}
