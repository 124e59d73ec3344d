//! What the functions are built from, for local use: `render` (offline), `test` and `demo`.

use notify_core::{Config, HttpClient, Init};

use crate::{CliError, aws};

/// The functions' settings with definitions taken from the command line (no table is read).
pub(crate) fn file_config() -> Result<Config, CliError> {
    Config::from_lookup(|name| match name {
        "TOCSIN_DEFINITIONS_FILE" => Some("-".to_owned()),
        _ => std::env::var(name).ok(),
    })
    .map_err(|err| CliError::Input(err.to_string()))
}

/// What a notifier is built from, as `notify_core::run` makes it: the settings, the AWS config and
/// the shared HTTP client. The kinds' own constructors take it, so that local runs build their
/// clients as Lambda does. Makes no network call.
pub(crate) fn init(config: &Config, sdk: &aws_config::SdkConfig) -> Result<Init, CliError> {
    let http = HttpClient::new(config).map_err(|err| CliError::Input(err.to_string()))?;
    Ok(Init {
        config: config.clone(),
        sdk: sdk.clone(),
        http,
    })
}

/// [`init`] for notifiers that are only asked to build messages (`tocsin render`).
pub(crate) async fn offline() -> Result<Init, CliError> {
    init(&file_config()?, &aws::sdk_config().await)
}

/// A notifier constructor's error, as the command reports it.
pub(crate) fn constructed(err: &notify_core::ConfigError) -> CliError {
    CliError::Input(err.to_string())
}
