use std::{fmt, str::FromStr};

use serde::{Deserialize, Serialize};

/// Declares [`IntegrationKind`] from one list: each variant once, with its name. `ALL`, `as_str`,
/// the serde names, `FromStr` and the "known: …" list of [`UnknownKind`] all come from it, so no
/// second list can disagree with the first.
macro_rules! integration_kinds {
    ($( $(#[doc = $doc:literal])* $variant:ident => $name:literal, )+) => {
        /// The closed set of integration kinds: one Lambda function (`functions/notify-<kind>`) each.
        ///
        /// The registry (`shared/kinds`) holds the one exhaustive `match` that maps a kind to its
        /// notifier; everything else iterates [`IntegrationKind::ALL`] through it. The tidy test keeps
        /// the kinds in step with `functions/`, the SAM template, the README and the examples.
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize,
            schemars::JsonSchema,
        )]
        pub enum IntegrationKind {
            $( $(#[doc = $doc])* #[serde(rename = $name)] $variant, )+
        }

        impl IntegrationKind {
            /// Every kind, in declaration order.
            pub const ALL: &'static [IntegrationKind] = &[$(IntegrationKind::$variant),+];

            /// The name used in definitions, DynamoDB items and logs (`email`, `webhook`, …).
            pub fn as_str(self) -> &'static str {
                match self {
                    $(IntegrationKind::$variant => $name,)+
                }
            }
        }
    };
}

integration_kinds! {
    /// E-mail through Amazon SES v2 to the level's operators and extra addresses.
    Email => "email",
    /// Custom integrations: any HTTP API, requests written with templates.
    Webhook => "webhook",
    /// Text messages through Amazon SNS to the level's operators' phones and extra numbers.
    Sms => "sms",
    /// Slack messages through an incoming webhook, or a bot that threads each incident.
    Slack => "slack",
    /// Adaptive Cards in a Microsoft Teams channel or chat through a Workflows webhook.
    Teams => "teams",
    /// ServiceNow incidents (Table API) or events (Event Management), opened and resolved per incident.
    Servicenow => "servicenow",
    /// StatusHub status-page incidents: the level's linked services down on Alert, up on Ok.
    Statushub => "statushub",
    /// Incidents in PagerDuty through the Events API v2 (trigger on Alert, resolve on Ok).
    PagerDuty => "pagerduty",
    /// Incidents in Splunk On-Call (VictorOps) through its REST endpoint (CRITICAL on Alert,
    /// RECOVERY on Ok).
    SplunkOnCall => "splunk-oncall",
    /// Alerts in Jira Service Management Operations, or Opsgenie (the same alert API): create on
    /// Alert, close by alias on Ok.
    Jsm => "jsm",
    /// Voice calls through AWS End User Messaging SMS and Voice to the level's operators' phones
    /// and extra numbers.
    Voice => "voice",
}

/// A kind name that is not one of [`IntegrationKind::ALL`]; its message lists the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown integration kind `{}` (known: {})", .0.escape_debug(), IntegrationKind::known())]
pub struct UnknownKind(pub String);

impl IntegrationKind {
    /// The crate, folder and binary name of the function that serves this kind.
    pub fn function_name(self) -> String {
        format!("notify-{}", self.as_str())
    }

    /// `email, webhook, …`: every kind's name, for messages.
    pub fn known() -> String {
        IntegrationKind::ALL
            .iter()
            .map(|kind| kind.as_str())
            .collect::<Vec<_>>()
            .join(", ")
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
