//! Secrets: a value type that never prints, and resolvers for secret references.
//!
//! A reference is `ssm:/parameter/name` (SSM GetParameter with decryption) or
//! `secretsmanager:<name or arn>[#json-key]` (Secrets Manager GetSecretValue; with `#key` the
//! SecretString is a JSON object and the key's value is taken). Errors name the reference, never the
//! value.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    future::Future,
    time::{Duration, Instant},
};

use aws_sdk_ssm::error::{ProvideErrorMetadata, SdkError};
pub use definition_store::SecretLocation;
use definition_store::SecretRef;
use tokio::sync::Mutex;

use crate::NotifyError;

/// A value that prints as `[redacted]` in `Debug` and `Display`; [`Secret::expose`] reads it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value. Call it only where the value is used, never to print it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// Resolves secret references.
pub trait Secrets: Send + Sync {
    /// The value of `reference`. A missing secret is a permanent error naming the reference;
    /// throttling and server errors are retryable.
    fn resolve(
        &self,
        reference: &SecretRef,
    ) -> impl Future<Output = Result<Secret<String>, NotifyError>> + Send;

    /// Whether resolved values are real secrets to be redacted (false for placeholders).
    fn are_secret(&self) -> bool {
        true
    }
}

/// Parses a reference ([`SecretRef::location`], the rule `tocsin validate` applies too); the error
/// names the reference (a reference is a name, not a secret) and is permanent.
pub fn locate(reference: &SecretRef) -> Result<SecretLocation, NotifyError> {
    reference
        .location()
        .map_err(|reason| NotifyError::permanent(format!("secret `{}`: {reason}", reference.0.trim())))
}

/// Resolves references against SSM Parameter Store and Secrets Manager, caching values for a TTL.
#[derive(Debug)]
pub struct SecretResolver {
    ssm: aws_sdk_ssm::Client,
    secrets_manager: aws_sdk_secretsmanager::Client,
    ttl: Duration,
    cache: Mutex<HashMap<String, (Instant, Secret<String>)>>,
}

impl SecretResolver {
    /// A resolver with a cache of `ttl` (`TOCSIN_CACHE_SECONDS`; zero disables it).
    pub fn new(sdk: &aws_config::SdkConfig, ttl: Duration) -> Self {
        SecretResolver {
            ssm: aws_sdk_ssm::Client::new(sdk),
            secrets_manager: aws_sdk_secretsmanager::Client::new(sdk),
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn fetch(&self, reference: &SecretRef) -> Result<Secret<String>, NotifyError> {
        let text = reference.0.trim();
        match locate(reference)? {
            SecretLocation::Ssm { name } => {
                let output = self
                    .ssm
                    .get_parameter()
                    .name(&name)
                    .with_decryption(true)
                    .send()
                    .await
                    .map_err(|error| sdk_error(text, &error))?;
                let value = output
                    .parameter
                    .and_then(|parameter| parameter.value)
                    .ok_or_else(|| {
                        NotifyError::permanent(format!("secret `{text}`: the parameter has no value"))
                    })?;
                Ok(Secret::new(value))
            }
            SecretLocation::SecretsManager { id, key } => {
                let output = self
                    .secrets_manager
                    .get_secret_value()
                    .secret_id(&id)
                    .send()
                    .await
                    .map_err(|error| sdk_error(text, &error))?;
                let value = output.secret_string.ok_or_else(|| {
                    NotifyError::permanent(format!("secret `{text}`: the secret has no string value"))
                })?;
                let Some(key) = key else {
                    return Ok(Secret::new(value));
                };
                json_key(text, &value, &key)
            }
        }
    }
}

fn json_key(reference: &str, value: &str, key: &str) -> Result<Secret<String>, NotifyError> {
    // The parse error would quote the secret text: report only that it is not JSON.
    let object: serde_json::Map<String, serde_json::Value> = serde_json::from_str(value).map_err(|_| {
        NotifyError::permanent(format!("secret `{reference}`: the value is not a json object"))
    })?;
    match object.get(key) {
        Some(serde_json::Value::String(text)) => Ok(Secret::new(text.clone())),
        Some(serde_json::Value::Null) | None => Err(NotifyError::permanent(format!(
            "secret `{reference}`: no key `{key}` in the json value"
        ))),
        Some(other) => Ok(Secret::new(other.to_string())),
    }
}

/// Classifies an SDK error: not found and access denied are permanent; throttling, 5xx, timeouts
/// and connection failures are retryable. The message names the reference only.
fn sdk_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
    reference: &str,
    error: &SdkError<E, aws_sdk_ssm::config::http::HttpResponse>,
) -> NotifyError {
    let code = error.code().unwrap_or("unknown");
    let status = error.raw_response().map(|response| response.status().as_u16());
    match error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            NotifyError::retryable(format!("secret `{reference}`: the request failed, will retry"))
        }
        _ if matches!(code, "ParameterNotFound" | "ResourceNotFoundException") => {
            NotifyError::permanent(format!("secret `{reference}` not found"))
        }
        _ if code.contains("Throttl")
            || code == "TooManyRequestsException"
            || code.starts_with("InternalServer")
            || code == "InternalServiceError"
            || status.is_some_and(|status| status >= 500 || status == 429) =>
        {
            NotifyError::Retryable {
                reason: format!("secret `{reference}`: {code}"),
                status,
                retry_after: None,
            }
        }
        _ => NotifyError::Permanent {
            reason: format!("secret `{reference}`: {code}"),
            status,
        },
    }
}

impl Secrets for SecretResolver {
    async fn resolve(&self, reference: &SecretRef) -> Result<Secret<String>, NotifyError> {
        let key = reference.0.trim().to_owned();
        if !self.ttl.is_zero() {
            let cache = self.cache.lock().await;
            if let Some((fetched, value)) = cache.get(&key)
                && fetched.elapsed() < self.ttl
            {
                return Ok(value.clone());
            }
        }
        let value = self.fetch(reference).await?;
        if !self.ttl.is_zero() {
            self.cache
                .lock()
                .await
                .insert(key, (Instant::now(), value.clone()));
        }
        Ok(value)
    }
}

/// How the placeholder shown instead of a secret starts: `[secret ssm:/path]` (`tocsin render`),
/// `[secret Name]` (`tocsin test`, [`Variables::with_placeholders`](crate::Variables)). It ends at
/// the next `]`.
pub const PLACEHOLDER_PREFIX: &str = "[secret ";

/// The resolver of `tocsin render`: yields `[secret ssm:/path]` without calling AWS.
#[derive(Debug, Clone, Copy, Default)]
pub struct PlaceholderSecrets;

impl Secrets for PlaceholderSecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<Secret<String>, NotifyError> {
        locate(reference)?;
        Ok(Secret::new(format!(
            "{PLACEHOLDER_PREFIX}{}]",
            reference.0.trim()
        )))
    }

    fn are_secret(&self) -> bool {
        false
    }
}

/// Secrets held in memory (tests, local demo): reference text → value.
#[derive(Debug, Clone, Default)]
pub struct MemorySecrets {
    values: BTreeMap<String, String>,
}

impl MemorySecrets {
    /// An empty store.
    pub fn new() -> Self {
        MemorySecrets::default()
    }

    /// Adds `reference` → `value`.
    pub fn with(mut self, reference: impl Into<String>, value: impl Into<String>) -> Self {
        self.values.insert(reference.into(), value.into());
        self
    }
}

impl Secrets for MemorySecrets {
    async fn resolve(&self, reference: &SecretRef) -> Result<Secret<String>, NotifyError> {
        locate(reference)?;
        self.values
            .get(reference.0.trim())
            .map(|value| Secret::new(value.clone()))
            .ok_or_else(|| NotifyError::permanent(format!("secret `{}` not found", reference.0.trim())))
    }
}
