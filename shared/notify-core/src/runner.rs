//! The Lambda runner: the only code that knows Lambda and SNS.

use crate::{Config, ConfigError, HttpClient, Notifier};

/// What a notifier may need to build itself: settings, the AWS config, the shared HTTP client.
#[derive(Debug, Clone)]
pub struct Init {
    /// The function's settings.
    pub config: Config,
    /// The AWS SDK config from the standard chain (so `AWS_ENDPOINT_URL` works).
    pub sdk: aws_config::SdkConfig,
    /// The shared HTTP client.
    pub http: HttpClient,
}

/// Runs the Lambda function serving `N`: `notify_core::run(EmailNotifier::new).await`.
pub async fn run<N, F>(make: F) -> Result<(), lambda_runtime::Error>
where
    N: Notifier,
    F: FnOnce(&Init) -> Result<N, ConfigError>,
{
    let _ = make;
    Err("not implemented yet".into())
}
