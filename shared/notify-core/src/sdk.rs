//! The AWS SDK config of a function, with a lazy HTTP client: no TLS set-up before the first call.
//!
//! The SDK's default HTTPS client loads the platform's root certificates (every file of
//! `/etc/ssl/certs` on Debian) when a client config is validated, that is inside
//! `aws_config::load_defaults`, on purpose, to move the cost out of the first request. For a Lambda
//! function that is the wrong place: it delays the first `GET /next` (cold start) by a few
//! milliseconds for a cost the first AWS call pays anyway. [`load_sdk_config`] keeps the same
//! client (hyper 1, rustls with aws-lc) but skips that eager validation, so the certificates load
//! on the first request, once per process.

use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_runtime_api::{
    box_error::BoxError,
    client::{
        http::{HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector},
        runtime_components::{RuntimeComponents, RuntimeComponentsBuilder},
    },
};
use aws_smithy_types::config_bag::ConfigBag;

/// The AWS SDK config from the standard chain (environment, profile files, …; so
/// `AWS_ENDPOINT_URL` works), with an HTTP client that sets up TLS on its first request instead
/// of at start-up. Makes no network call and reads no certificate.
pub async fn load_sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .http_client(LazyTlsHttpClient::new())
        .load()
        .await
}

/// The SDK's default HTTPS client without the eager certificate loading at validation time.
#[derive(Debug)]
struct LazyTlsHttpClient {
    inner: SharedHttpClient,
}

impl LazyTlsHttpClient {
    fn new() -> Self {
        // Building the client is cheap: the connector (and with it the root certificates) is made
        // by `http_connector`, on the first request.
        let inner = aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .build_https();
        LazyTlsHttpClient { inner }
    }
}

impl HttpClient for LazyTlsHttpClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.inner.http_connector(settings, components)
    }

    fn validate_base_client_config(
        &self,
        _components: &RuntimeComponentsBuilder,
        _cfg: &ConfigBag,
    ) -> Result<(), BoxError> {
        // The inner client would build a connector here just to load the root certificates early.
        Ok(())
    }

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.inner.connector_metadata()
    }
}

/// An SDK error as one line: its message and those of its sources, each once, without the Debug
/// dump that `DisplayErrorContext` appends (which repeats the chain as Rust structures).
pub(crate) fn error_chain(error: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![error.to_string()];
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if parts.last().is_none_or(|last| !last.contains(&text)) {
            parts.push(text);
        }
        source = cause.source();
    }
    parts.join(": ")
}

/// Sorts the failure of one call to a target reached through the AWS SDK (SES, SNS, …) into
/// retryable and permanent, for every such kind alike: `label` names the call (`ses send email`);
/// `known` says what the kind knows of a service error (`Some(true)`: retryable, `Some(false)`:
/// permanent); otherwise throttling codes, 429 and 5xx are retryable and the rest permanent.
/// Timeouts, connection failures and unreadable answers are retryable; a request the client could
/// not build or send (a client error) is permanent. The text holds the service's code and message
/// and the HTTP status, never the request.
pub fn classify_sdk_error<E>(
    label: &str,
    error: &aws_smithy_runtime_api::client::result::SdkError<
        E,
        aws_smithy_runtime_api::client::orchestrator::HttpResponse,
    >,
    known: impl FnOnce(&E) -> Option<bool>,
) -> crate::NotifyError
where
    E: aws_smithy_types::error::metadata::ProvideErrorMetadata + std::error::Error + 'static,
{
    use aws_smithy_runtime_api::client::result::SdkError;

    use crate::NotifyError;
    match error {
        SdkError::ServiceError(context) => {
            let service = context.err();
            let status = context.raw().status().as_u16();
            let code = service.code().unwrap_or("unknown error");
            let detail = service.message().unwrap_or_default();
            let reason = if detail.is_empty() {
                format!("{label}: {code} (http {status})")
            } else {
                format!("{label}: {code}: {detail} (http {status})")
            };
            let by_default = matches!(
                code,
                "Throttling"
                    | "ThrottlingException"
                    | "ThrottledException"
                    | "TooManyRequestsException"
                    | "ServiceUnavailable"
            ) || status == 429
                || status >= 500;
            let retryable = known(service).unwrap_or(by_default);
            if retryable {
                NotifyError::Retryable {
                    reason,
                    status: Some(status),
                    retry_after: None,
                }
            } else {
                NotifyError::Permanent {
                    reason,
                    status: Some(status),
                }
            }
        }
        SdkError::TimeoutError(_) => NotifyError::retryable(format!("{label}: timed out")),
        SdkError::DispatchFailure(failure) if failure.is_user() => {
            NotifyError::permanent(format!("{label}: request could not be sent (client error)"))
        }
        SdkError::DispatchFailure(failure) => NotifyError::retryable(format!(
            "{label}: connection failed{}",
            if failure.is_timeout() { " (timeout)" } else { "" }
        )),
        SdkError::ResponseError(_) => NotifyError::retryable(format!("{label}: unreadable response")),
        SdkError::ConstructionFailure(_) => NotifyError::permanent(format!("{label}: invalid request")),
        _ => NotifyError::retryable(format!("{label}: unexpected failure")),
    }
}
