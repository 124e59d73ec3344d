//! AWS clients from the standard configuration chain.

/// Loads the SDK config: environment, profile, `AWS_ENDPOINT_URL` for the local emulator.
pub(crate) async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// `explicit`, else the environment variable `var`, else `fallback`.
pub(crate) fn setting(explicit: Option<String>, var: &str, fallback: &str) -> String {
    explicit
        .or_else(|| std::env::var(var).ok().filter(|value| !value.is_empty()))
        .unwrap_or_else(|| fallback.to_owned())
}
