//! Settings read once from the environment.

/// A missing or invalid setting.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("missing environment variable `{0}`")]
    Missing(&'static str),
    /// A variable has a value that cannot be used.
    #[error("environment variable `{name}`: {reason}")]
    Invalid {
        /// The variable.
        name: &'static str,
        /// Why.
        reason: String,
    },
}

/// The function's settings, read once in `main` (see [`Config::from_lookup`]).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Config {
    /// `DEFINITIONS_TABLE`.
    pub definitions_table: String,
    /// `DELIVERIES_TABLE`.
    pub deliveries_table: String,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup`, so tests need not touch the process environment.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        Ok(Config {
            definitions_table: lookup("DEFINITIONS_TABLE").ok_or(ConfigError::Missing("DEFINITIONS_TABLE"))?,
            deliveries_table: lookup("DELIVERIES_TABLE").ok_or(ConfigError::Missing("DELIVERIES_TABLE"))?,
        })
    }
}
