use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// The closed set of integration kinds: one Lambda function (`functions/notify-<kind>`) each.
///
/// Match on it exhaustively (no `_ =>` arm) so that adding a kind makes the compiler list every place
/// that must change; the tidy test keeps it in step with `functions/`, the SAM template and the README.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum IntegrationKind {
    /// E-mail through Amazon SES v2 to the level's operators and extra addresses.
    Email,
    /// Custom integrations: any HTTP API, requests written with templates.
    Webhook,
}

/// A kind name that is not one of [`IntegrationKind::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown integration kind `{0}` (known: email, webhook)")]
pub struct UnknownKind(pub String);

impl IntegrationKind {
    /// Every kind, in declaration order.
    pub const ALL: &'static [IntegrationKind] = &[IntegrationKind::Email, IntegrationKind::Webhook];

    /// The name used in definitions, DynamoDB items and logs (`email`, `webhook`).
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::Email => "email",
            IntegrationKind::Webhook => "webhook",
        }
    }

    /// The crate, folder and binary name of the function that serves this kind.
    pub fn function_name(self) -> String {
        format!("notify-{}", self.as_str())
    }

    /// True for kinds whose requests are plain HTTP (rendered as `request` by `tocsin render`).
    pub fn is_http(self) -> bool {
        match self {
            IntegrationKind::Email => false,
            IntegrationKind::Webhook => true,
        }
    }
}

impl fmt::Display for IntegrationKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for IntegrationKind {
    type Err = UnknownKind;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        IntegrationKind::ALL
            .iter()
            .copied()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| UnknownKind(s.to_owned()))
    }
}
