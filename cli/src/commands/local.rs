//! The notifiers, built for local use by `render` (offline) and `demo` (against the emulator).

use notify_core::{Config, HttpClient, Init};
use notify_email::EmailNotifier;
use notify_webhook::WebhookNotifier;

use crate::{CliError, aws};

/// One notifier per kind.
pub(crate) struct Notifiers {
    pub(crate) email: EmailNotifier,
    pub(crate) webhook: WebhookNotifier,
}

impl Notifiers {
    /// Notifiers that are only asked to build messages: no network call is made.
    pub(crate) async fn offline() -> Result<Notifiers, CliError> {
        let config = Config::from_lookup(|name| match name {
            // Rendering reads definitions from the file given on the command line.
            "TOCSIN_DEFINITIONS_FILE" => Some("-".to_owned()),
            _ => std::env::var(name).ok(),
        })
        .map_err(|err| CliError::Input(err.to_string()))?;
        Notifiers::new(&config, &aws::sdk_config().await)
    }

    /// Notifiers that send for real, through the given settings and AWS config.
    pub(crate) fn new(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Notifiers, CliError> {
        let http = HttpClient::new(config).map_err(|err| CliError::Input(err.to_string()))?;
        // The functions' own constructors, so that local runs build their clients as Lambda does.
        let init = Init {
            config: config.clone(),
            sdk: sdk.clone(),
            http,
        };
        let input = |err: notify_core::ConfigError| CliError::Input(err.to_string());
        Ok(Notifiers {
            email: EmailNotifier::new(&init).map_err(input)?,
            webhook: WebhookNotifier::new(&init).map_err(input)?,
        })
    }
}
