//! The delivery log and idempotency claims (DESIGN.md §6), on the `Deliveries` table.
//!
//! Items, all with `expiresAt` (TTL, epoch seconds):
//! - state: `pk = alert#<alert id>`, `sk = route#<integration id>#<step>`: `status` (`claimed`,
//!   `delivered`, `failed`, `released`), `claimToken`, `claimExpiresMs`, `attempts`, `externalId`;
//! - attempt: same `pk`, `sk = attempt#<integration id>#<step>#<attempt, 4 digits>`: one per attempt;
//! - notice: `pk = notice#<integration id>`, `sk = definition#<alert definition id>`: `sentAtMs` of the
//!   last delivery-failure notice of that route (at most one per notice interval).
//!
//! A route step is claimed by a conditional write before it is sent, so that it is sent at most
//! once per `(alert id, integration id, step)`; a claim left by a crashed invocation expires, and a
//! claim whose holder is still working is renewed before each attempt.
//!
//! - this module: the keys, records and states, and the [`DeliveryLog`] trait;
//! - [`memory`]: [`MemoryDeliveryLog`] (tests, local runs);
//! - [`dynamo`]: [`DynamoDeliveryLog`] on the `Deliveries` table, and [`item`] its item mapping;
//! - [`any`]: [`AnyDeliveryLog`], either one, chosen at start-up.

mod any;
pub mod dynamo;
mod item;
mod memory;

use std::{collections::BTreeMap, future::Future, time::Duration};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::http::truncate_utf8;

pub use any::AnyDeliveryLog;
pub use dynamo::{DynamoDeliveryLog, MAX_LOG_CALLS, create_table};
pub use memory::MemoryDeliveryLog;

/// Bounds of the text fields of an attempt record, in bytes.
pub const MAX_ERROR_BYTES: usize = 1024;
/// See [`MAX_ERROR_BYTES`].
pub const MAX_REQUEST_BYTES: usize = 2048;
/// See [`MAX_ERROR_BYTES`].
pub const MAX_RESPONSE_BYTES: usize = 1024;

/// Identifies one message of one route: the idempotency key.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryKey {
    /// `alert.alertGuid`.
    pub alert_id: String,
    /// The integration.
    pub integration_id: String,
    /// The step (`step-1`, …).
    pub step: String,
}

/// A claim held by this invocation; pass it to [`DeliveryLog::record_attempt`] and
/// [`DeliveryLog::finish`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// What is claimed.
    pub key: DeliveryKey,
    /// Random, proves ownership when finishing.
    pub token: String,
    /// Attempts recorded by earlier invocations (numbering continues after them).
    pub previous_attempts: u32,
    /// The claim was taken over from an invocation that held it and stopped (crashed, timed out,
    /// was killed) before recording an outcome: its attempt may or may not have reached the target.
    pub taken_over: bool,
    /// When the claim expires (epoch milliseconds, the log's clock): another invocation may take it
    /// over after that, so no attempt may still be running then ([`DeliveryLog::renew`]).
    pub expires_ms: u64,
}

/// Names a route for delivery-failure notices: one notice per integration and alert definition in
/// each notice interval, whatever the alert.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NoticeKey {
    /// The integration that failed.
    pub integration_id: String,
    /// The alert definition of the route.
    pub definition_id: String,
}

/// Names the state a kind keeps for one incident at one integration's target (a Slack message's
/// `ts`, a ServiceNow `sys_id`): what the Alert's delivery left, for the Reminder and the Ok.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IncidentKey {
    /// The integration.
    pub integration_id: String,
    /// `incident.key` of the alert.
    pub incident_key: String,
}

/// A notice slot held by this invocation; [`DeliveryLog::release_notice`] gives it back when the
/// notice could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoticeClaim {
    /// The route.
    pub key: NoticeKey,
    /// Proves ownership when releasing.
    pub token: String,
}

/// The outcome of [`DeliveryLog::claim`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// Ours to send.
    Claimed(Claim),
    /// Already delivered by an earlier invocation: skip; what the step kept for later steps.
    AlreadyDelivered(Kept),
    /// Failed permanently earlier: do not send again.
    AlreadyFailed,
    /// Another invocation holds a live claim.
    InFlight,
}

/// How an attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum AttemptOutcome {
    /// The target accepted the message.
    Delivered,
    /// Failed; may succeed later.
    Retryable,
    /// Failed; will not succeed.
    Permanent,
}

impl AttemptOutcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retryable => "retryable",
            AttemptOutcome::Permanent => "permanent",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "delivered" => Some(AttemptOutcome::Delivered),
            "retryable" => Some(AttemptOutcome::Retryable),
            "permanent" => Some(AttemptOutcome::Permanent),
            _ => None,
        }
    }
}

/// One attempt, as `tocsin log` shows it. Text fields are redacted by the caller and bounded here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryRecord {
    /// What was attempted.
    #[serde(flatten)]
    pub key: DeliveryKey,
    /// 1, 2, … across invocations.
    pub attempt: u32,
    /// When the attempt started.
    pub time: DateTime<Utc>,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// HTTP status, where there is one.
    pub http_status: Option<u16>,
    /// Duration of the attempt.
    pub latency_ms: u64,
    /// The error, redacted, at most [`MAX_ERROR_BYTES`].
    pub error: Option<String>,
    /// A redacted summary of the request, at most [`MAX_REQUEST_BYTES`].
    pub request: String,
    /// The first bytes of the response, at most [`MAX_RESPONSE_BYTES`].
    pub response: String,
}

impl DeliveryRecord {
    pub(crate) fn bounded(mut self) -> Self {
        self.error = self.error.map(|error| truncate_utf8(&error, MAX_ERROR_BYTES));
        self.request = truncate_utf8(&self.request, MAX_REQUEST_BYTES);
        self.response = truncate_utf8(&self.response, MAX_RESPONSE_BYTES);
        self
    }
}

/// What a delivered step keeps in the delivery log for the route's later steps: the values it
/// extracted that are not secret, and the names of those withheld (secret, or holding a secret),
/// which a retry needing them gets by sending the step again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Kept {
    /// Name → value.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extracted: BTreeMap<String, String>,
    /// Names extracted but not kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub withheld: Vec<String>,
}

impl Kept {
    /// Whether nothing was extracted.
    pub fn is_empty(&self) -> bool {
        self.extracted.is_empty() && self.withheld.is_empty()
    }

    /// As stored in a state item (JSON), `None` when empty.
    pub(crate) fn to_json(&self) -> Option<String> {
        (!self.is_empty()).then(|| serde_json::to_string(self).unwrap_or_default())
    }

    /// Read back from a state item; an unreadable value keeps nothing.
    pub(crate) fn from_json(text: Option<&str>) -> Kept {
        text.and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }
}

/// How a claimed step ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Delivered; the target's id for what was created, if any.
    Delivered {
        /// SES MessageId, incident id, …
        external_id: Option<String>,
        /// The values kept for later steps.
        kept: Kept,
    },
    /// Failed permanently; never sent again.
    FailedPermanently {
        /// Redacted reason.
        error: String,
    },
    /// Failed, retryable: the claim is released so that the next invocation may take it.
    ReleasedForRetry {
        /// Redacted reason.
        error: String,
    },
}

/// A delivery-log failure.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryLogError {
    /// The store refused the item itself (DynamoDB `ValidationException`, e.g. a key over its size
    /// limit): trying again cannot help.
    #[error("dynamodb {operation} on table `{table}` refused the item: {message}")]
    Rejected {
        /// The operation.
        operation: &'static str,
        /// The table.
        table: String,
        /// The SDK's description (holds no item values).
        message: String,
    },
    /// The DynamoDB call failed.
    #[error("dynamodb {operation} on table `{table}` failed: {message}")]
    Dynamo {
        /// The operation.
        operation: &'static str,
        /// The table.
        table: String,
        /// The SDK's description (holds no item values).
        message: String,
    },
    /// Finishing a claim that another invocation has taken over (ours expired).
    #[error("claim on `{0}` was lost: it expired and was taken over")]
    ClaimLost(String),
    /// A stored item does not fit.
    #[error("delivery log item `{key}`: {reason}")]
    Item {
        /// The item's key.
        key: String,
        /// What is wrong.
        reason: String,
    },
}

impl DeliveryLogError {
    /// Whether trying again cannot help (the item itself was refused).
    pub fn is_permanent(&self) -> bool {
        matches!(self, DeliveryLogError::Rejected { .. })
    }
}

/// The delivery log: claims, attempts, outcomes, history.
pub trait DeliveryLog: Send + Sync {
    /// The log's clock, in epoch milliseconds: claims expire by it.
    fn now_ms(&self) -> u64;

    /// Claims `key` for sending: succeeds only if no record exists, the existing one was released
    /// for retry, or its claim has expired.
    fn claim(&self, key: &DeliveryKey)
    -> impl Future<Output = Result<ClaimOutcome, DeliveryLogError>> + Send;

    /// Extends a claim this invocation holds to a full claim lifetime from now, so that it cannot
    /// expire during the next attempt; [`DeliveryLogError::ClaimLost`] when another invocation took
    /// it over meanwhile (the caller must not send).
    fn renew(&self, claim: &mut Claim) -> impl Future<Output = Result<(), DeliveryLogError>> + Send;

    /// Records one attempt (fields are bounded in size before they are stored).
    fn record_attempt(
        &self,
        record: &DeliveryRecord,
    ) -> impl Future<Output = Result<(), DeliveryLogError>> + Send;

    /// Ends a claim.
    fn finish(
        &self,
        claim: &Claim,
        finish: &Finish,
    ) -> impl Future<Output = Result<(), DeliveryLogError>> + Send;

    /// Every attempt recorded for `alert_id`, in time order.
    fn history(
        &self,
        alert_id: &str,
    ) -> impl Future<Output = Result<Vec<DeliveryRecord>, DeliveryLogError>> + Send;

    /// The state of every message claimed for `alert_id`, by integration and step.
    fn states(
        &self,
        alert_id: &str,
    ) -> impl Future<Output = Result<Vec<DeliveryState>, DeliveryLogError>> + Send;

    /// The state kept for an incident at an integration's target, if any.
    fn incident_state(
        &self,
        key: &IncidentKey,
    ) -> impl Future<Output = Result<Option<serde_json::Value>, DeliveryLogError>> + Send;

    /// Keeps `state` for the incident (replacing what was kept; [`merge_state`] first to keep other
    /// keys). It expires with the delivery log.
    fn save_incident_state(
        &self,
        key: &IncidentKey,
        state: &serde_json::Value,
    ) -> impl Future<Output = Result<(), DeliveryLogError>> + Send;

    /// Takes the notice slot of `key` when no notice was sent for it within `interval`: `None`
    /// when one was (the caller sends nothing).
    fn claim_notice(
        &self,
        key: &NoticeKey,
        interval: Duration,
    ) -> impl Future<Output = Result<Option<NoticeClaim>, DeliveryLogError>> + Send;

    /// Gives a notice slot back (the notice could not be published), so that the next failure may
    /// send it.
    fn release_notice(
        &self,
        claim: &NoticeClaim,
    ) -> impl Future<Output = Result<(), DeliveryLogError>> + Send;
}

/// Timing of claims and items.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogTimes {
    /// A claim older than this may be taken over; longer than the function timeout.
    pub claim_ttl: Duration,
    /// `expiresAt` of every item.
    pub retention: Duration,
}

impl Default for LogTimes {
    fn default() -> Self {
        LogTimes {
            claim_ttl: Duration::from_secs(300),
            retention: Duration::from_secs(30 * 24 * 3600),
        }
    }
}

impl LogTimes {
    /// From `TOCSIN_CLAIM_SECONDS` and `TOCSIN_DELIVERY_RETENTION_DAYS`.
    pub fn from_config(config: &crate::Config) -> Self {
        LogTimes {
            claim_ttl: config.claim_ttl,
            retention: config.delivery_retention,
        }
    }
}

/// `update`'s keys over `kept`'s (both JSON objects; an update that is not an object replaces).
pub fn merge_state(kept: Option<&serde_json::Value>, update: serde_json::Value) -> serde_json::Value {
    match (kept, update) {
        (Some(serde_json::Value::Object(kept)), serde_json::Value::Object(update)) => {
            let mut merged = kept.clone();
            merged.extend(update);
            serde_json::Value::Object(merged)
        }
        (_, update) => update,
    }
}

pub(crate) fn new_token() -> String {
    format!("{:016x}{:016x}", fastrand::u64(..), fastrand::u64(..))
}

/// Where a message of a route stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeliveryStatus {
    /// An invocation holds the claim (or held it and crashed: it expires).
    Claimed,
    /// Delivered.
    Delivered,
    /// Failed permanently.
    Failed,
    /// Failed, retryable; the next invocation may claim it.
    Released,
}

/// Kept as `State` inside this module.
pub(crate) type State = DeliveryStatus;

impl DeliveryStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            State::Claimed => "claimed",
            State::Delivered => "delivered",
            State::Failed => "failed",
            State::Released => "released",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "claimed" => Some(State::Claimed),
            "delivered" => Some(State::Delivered),
            "failed" => Some(State::Failed),
            "released" => Some(State::Released),
            _ => None,
        }
    }
}

/// The current state of one message of a route, as `tocsin log` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryState {
    /// Which message.
    #[serde(flatten)]
    pub key: DeliveryKey,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts so far, over every invocation.
    pub attempts: u32,
    /// The target's id for what was created, once delivered.
    pub external_id: Option<String>,
    /// The last failure, redacted.
    pub last_error: Option<String>,
    /// What a delivered step kept for the route's later steps.
    #[serde(skip_serializing_if = "Kept::is_empty")]
    pub kept: Kept,
}

pub(crate) fn describe_key(key: &DeliveryKey) -> String {
    format!("{}/{}/{}", key.alert_id, key.integration_id, key.step)
}
