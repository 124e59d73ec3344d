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
//! once per `(alert id, integration id, step)`; a claim left by a crashed invocation expires.

use std::{
    collections::HashMap,
    future::Future,
    sync::{Arc, Mutex},
    time::{Duration, SystemTime, UNIX_EPOCH},
};

use aws_sdk_dynamodb::{
    error::ProvideErrorMetadata,
    types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    },
};
use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::http::truncate_utf8;

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
    /// Already delivered by an earlier invocation: skip.
    AlreadyDelivered,
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
    fn as_str(self) -> &'static str {
        match self {
            AttemptOutcome::Delivered => "delivered",
            AttemptOutcome::Retryable => "retryable",
            AttemptOutcome::Permanent => "permanent",
        }
    }

    fn parse(text: &str) -> Option<Self> {
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
    fn bounded(mut self) -> Self {
        self.error = self.error.map(|error| truncate_utf8(&error, MAX_ERROR_BYTES));
        self.request = truncate_utf8(&self.request, MAX_REQUEST_BYTES);
        self.response = truncate_utf8(&self.response, MAX_RESPONSE_BYTES);
        self
    }
}

/// How a claimed step ends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish {
    /// Delivered; the target's id for what was created, if any.
    Delivered {
        /// SES MessageId, incident id, …
        external_id: Option<String>,
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

/// The delivery log: claims, attempts, outcomes, history.
pub trait DeliveryLog: Send + Sync {
    /// Claims `key` for sending: succeeds only if no record exists, the existing one was released
    /// for retry, or its claim has expired.
    fn claim(&self, key: &DeliveryKey)
    -> impl Future<Output = Result<ClaimOutcome, DeliveryLogError>> + Send;

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

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn new_token() -> String {
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
type State = DeliveryStatus;

impl DeliveryStatus {
    fn as_str(self) -> &'static str {
        match self {
            State::Claimed => "claimed",
            State::Delivered => "delivered",
            State::Failed => "failed",
            State::Released => "released",
        }
    }

    fn parse(text: &str) -> Option<Self> {
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
}

#[derive(Debug, Clone)]
struct MemoryState {
    state: State,
    token: String,
    claim_expires_ms: u64,
    attempts: u32,
    external_id: Option<String>,
    last_error: Option<String>,
}

/// The delivery log in memory: tests, the CLI's local runs.
#[derive(Debug, Default)]
pub struct MemoryDeliveryLog {
    times: LogTimes,
    states: Mutex<HashMap<DeliveryKey, MemoryState>>,
    records: Mutex<Vec<DeliveryRecord>>,
    /// Notice key → (sent at, epoch ms; token).
    notices: Mutex<HashMap<NoticeKey, (u64, String)>>,
}

impl MemoryDeliveryLog {
    /// An empty log.
    pub fn new(times: LogTimes) -> Self {
        MemoryDeliveryLog {
            times,
            ..MemoryDeliveryLog::default()
        }
    }

    /// Every record, in the order recorded (tests, `tocsin demo`).
    pub fn records(&self) -> Vec<DeliveryRecord> {
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl DeliveryLog for MemoryDeliveryLog {
    async fn claim(&self, key: &DeliveryKey) -> Result<ClaimOutcome, DeliveryLogError> {
        let now = now_ms();
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (previous_attempts, taken_over) = match states.get(key) {
            None => (0, false),
            Some(existing) => match existing.state {
                State::Delivered => return Ok(ClaimOutcome::AlreadyDelivered),
                State::Failed => return Ok(ClaimOutcome::AlreadyFailed),
                State::Claimed if existing.claim_expires_ms > now => return Ok(ClaimOutcome::InFlight),
                State::Claimed => (existing.attempts, true),
                State::Released => (existing.attempts, false),
            },
        };
        let token = new_token();
        states.insert(
            key.clone(),
            MemoryState {
                state: State::Claimed,
                token: token.clone(),
                claim_expires_ms: now + self.times.claim_ttl.as_millis() as u64,
                attempts: previous_attempts,
                external_id: None,
                last_error: None,
            },
        );
        Ok(ClaimOutcome::Claimed(Claim {
            key: key.clone(),
            token,
            previous_attempts,
            taken_over,
        }))
    }

    async fn record_attempt(&self, record: &DeliveryRecord) -> Result<(), DeliveryLogError> {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(state) = states.get_mut(&record.key) {
            state.attempts = state.attempts.max(record.attempt);
        }
        drop(states);
        self.records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(record.clone().bounded());
        Ok(())
    }

    async fn finish(&self, claim: &Claim, finish: &Finish) -> Result<(), DeliveryLogError> {
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some(state) = states.get_mut(&claim.key) else {
            return Err(DeliveryLogError::ClaimLost(describe_key(&claim.key)));
        };
        if state.token != claim.token || state.state != State::Claimed {
            return Err(DeliveryLogError::ClaimLost(describe_key(&claim.key)));
        }
        state.state = match finish {
            Finish::Delivered { external_id } => {
                state.external_id = external_id.clone();
                State::Delivered
            }
            Finish::FailedPermanently { error } => {
                state.last_error = Some(truncate_utf8(error, MAX_ERROR_BYTES));
                State::Failed
            }
            Finish::ReleasedForRetry { error } => {
                state.last_error = Some(truncate_utf8(error, MAX_ERROR_BYTES));
                State::Released
            }
        };
        Ok(())
    }

    async fn states(&self, alert_id: &str) -> Result<Vec<DeliveryState>, DeliveryLogError> {
        let states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut found: Vec<DeliveryState> = states
            .iter()
            .filter(|(key, _)| key.alert_id == alert_id)
            .map(|(key, state)| DeliveryState {
                key: key.clone(),
                status: state.state,
                attempts: state.attempts,
                external_id: state.external_id.clone(),
                last_error: state.last_error.clone(),
            })
            .collect();
        found.sort_by(|a, b| (&a.key.integration_id, &a.key.step).cmp(&(&b.key.integration_id, &b.key.step)));
        Ok(found)
    }

    async fn claim_notice(
        &self,
        key: &NoticeKey,
        interval: Duration,
    ) -> Result<Option<NoticeClaim>, DeliveryLogError> {
        let now = now_ms();
        let mut notices = self
            .notices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((sent_ms, _)) = notices.get(key)
            && *sent_ms > now.saturating_sub(interval.as_millis() as u64)
        {
            return Ok(None);
        }
        let token = new_token();
        notices.insert(key.clone(), (now, token.clone()));
        Ok(Some(NoticeClaim {
            key: key.clone(),
            token,
        }))
    }

    async fn release_notice(&self, claim: &NoticeClaim) -> Result<(), DeliveryLogError> {
        let mut notices = self
            .notices
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if notices
            .get(&claim.key)
            .is_some_and(|(_, token)| *token == claim.token)
        {
            notices.remove(&claim.key);
        }
        Ok(())
    }

    async fn history(&self, alert_id: &str) -> Result<Vec<DeliveryRecord>, DeliveryLogError> {
        let records = self
            .records
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let mut found: Vec<DeliveryRecord> = records
            .iter()
            .filter(|record| record.key.alert_id == alert_id)
            .cloned()
            .collect();
        found.sort_by_key(|record| (record.time, record.attempt));
        Ok(found)
    }
}

fn describe_key(key: &DeliveryKey) -> String {
    format!("{}/{}/{}", key.alert_id, key.integration_id, key.step)
}

/// The delivery log on the DynamoDB `Deliveries` table.
#[derive(Debug, Clone)]
pub struct DynamoDeliveryLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
    times: LogTimes,
    /// Permits for DynamoDB calls in flight ([`MAX_LOG_CALLS`]), shared by the clones.
    calls: Arc<tokio::sync::Semaphore>,
}

/// DynamoDB calls of one delivery log in flight at once. Each call in flight holds a pooled
/// connection (kept open afterwards) and the SDK's request state: without a bound, a fan-out's
/// window of routes claiming at once opened as many connections (≈ 70 KB each, BENCHMARKS.md,
/// peak RSS). A call takes a few milliseconds, so the bound costs little throughput; no permit is
/// held while waiting for anything else, so it cannot deadlock.
pub const MAX_LOG_CALLS: usize = 32;

impl DynamoDeliveryLog {
    /// A log on `table`.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, times: LogTimes) -> Self {
        DynamoDeliveryLog {
            client,
            table: table.into(),
            times,
            calls: Arc::new(tokio::sync::Semaphore::new(MAX_LOG_CALLS)),
        }
    }

    /// Runs one DynamoDB call under a permit.
    async fn limited<T>(&self, call: impl Future<Output = T>) -> T {
        let _permit = self.calls.acquire().await.ok();
        call.await
    }

    fn dynamo_error<E: ProvideErrorMetadata + std::error::Error + 'static>(
        &self,
        operation: &'static str,
        error: &aws_sdk_dynamodb::error::SdkError<E, aws_sdk_dynamodb::config::http::HttpResponse>,
    ) -> DeliveryLogError {
        DeliveryLogError::Dynamo {
            operation,
            table: self.table.clone(),
            message: crate::sdk::error_chain(error),
        }
    }

    fn expires_at(&self) -> AttributeValue {
        let seconds = now_ms() / 1000 + self.times.retention.as_secs();
        AttributeValue::N(seconds.to_string())
    }
}

fn pk(alert_id: &str) -> AttributeValue {
    AttributeValue::S(format!("alert#{alert_id}"))
}

fn state_sk(key: &DeliveryKey) -> AttributeValue {
    AttributeValue::S(format!("route#{}#{}", key.integration_id, key.step))
}

fn notice_pk(key: &NoticeKey) -> AttributeValue {
    AttributeValue::S(format!("notice#{}", key.integration_id))
}

fn notice_sk(key: &NoticeKey) -> AttributeValue {
    AttributeValue::S(format!("definition#{}", key.definition_id))
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl std::fmt::Display) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl DeliveryLog for DynamoDeliveryLog {
    async fn claim(&self, key: &DeliveryKey) -> Result<ClaimOutcome, DeliveryLogError> {
        let now = now_ms();
        // Read first to learn the attempt count and to answer without a write when settled.
        let existing = self.state_item(key).await?;
        let (previous_attempts, taken_over) = match &existing {
            None => (0, false),
            Some(item) => {
                let status = item.get("status").and_then(|v| v.as_s().ok()).map(String::as_str);
                let expires: u64 = number(item, "claimExpiresMs");
                match status {
                    Some("delivered") => return Ok(ClaimOutcome::AlreadyDelivered),
                    Some("failed") => return Ok(ClaimOutcome::AlreadyFailed),
                    Some("claimed") if expires > now => return Ok(ClaimOutcome::InFlight),
                    Some("claimed") => (number(item, "attempts") as u32, true),
                    _ => (number(item, "attempts") as u32, false),
                }
            }
        };
        let token = new_token();
        let result = self
            .limited(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item("pk", pk(&key.alert_id))
                    .item("sk", state_sk(key))
                    .item("kind", s("state"))
                    .item("alertId", s(&key.alert_id))
                    .item("integrationId", s(&key.integration_id))
                    .item("step", s(&key.step))
                    .item("status", s(State::Claimed.as_str()))
                    .item("claimToken", s(&token))
                    .item("claimExpiresMs", n(now + self.times.claim_ttl.as_millis() as u64))
                    .item("attempts", n(previous_attempts))
                    .item("updatedAt", s(Utc::now().to_rfc3339()))
                    .item("expiresAt", self.expires_at())
                    .condition_expression(
                        "attribute_not_exists(pk) OR #status = :released \
                 OR (#status = :claimed AND claimExpiresMs < :now)",
                    )
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":released", s(State::Released.as_str()))
                    .expression_attribute_values(":claimed", s(State::Claimed.as_str()))
                    .expression_attribute_values(":now", n(now))
                    .send(),
            )
            .await;
        match result {
            Ok(_) => Ok(ClaimOutcome::Claimed(Claim {
                key: key.clone(),
                token,
                previous_attempts,
                taken_over,
            })),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_conditional_check_failed_exception()) =>
            {
                // Someone else won the race (or settled it in between): report what they left.
                Box::pin(self.claim_lost_race(key)).await
            }
            Err(error) => Err(self.dynamo_error("PutItem", &error)),
        }
    }

    async fn record_attempt(&self, record: &DeliveryRecord) -> Result<(), DeliveryLogError> {
        let record = record.clone().bounded();
        let key = &record.key;
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(&key.alert_id))
            .item(
                "sk",
                s(format!(
                    "attempt#{}#{}#{:04}",
                    key.integration_id, key.step, record.attempt
                )),
            )
            .item("kind", s("attempt"))
            .item("alertId", s(&key.alert_id))
            .item("integrationId", s(&key.integration_id))
            .item("step", s(&key.step))
            .item("attempt", n(record.attempt))
            .item(
                "time",
                s(record.time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            )
            .item("outcome", s(record.outcome.as_str()))
            .item("latencyMs", n(record.latency_ms))
            .item("request", s(&record.request))
            .item("response", s(&record.response))
            .item("expiresAt", self.expires_at());
        if let Some(status) = record.http_status {
            request = request.item("httpStatus", n(status));
        }
        if let Some(error) = &record.error {
            request = request.item("error", s(error));
        }
        self.limited(request.send())
            .await
            .map_err(|error| self.dynamo_error("PutItem", &error))?;
        // Keep the attempt count on the state item, so that numbering continues after a crash.
        let _ = self
            .limited(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", pk(&key.alert_id))
                    .key("sk", state_sk(key))
                    .update_expression("SET attempts = :attempt")
                    .condition_expression("attribute_exists(pk) AND (attempts < :attempt)")
                    .expression_attribute_values(":attempt", n(record.attempt))
                    .send(),
            )
            .await;
        Ok(())
    }

    async fn finish(&self, claim: &Claim, finish: &Finish) -> Result<(), DeliveryLogError> {
        let (state, error, external_id) = match finish {
            Finish::Delivered { external_id } => (State::Delivered, None, external_id.clone()),
            Finish::FailedPermanently { error } => (State::Failed, Some(error), None),
            Finish::ReleasedForRetry { error } => (State::Released, Some(error), None),
        };
        let mut update = String::from("SET #status = :state, updatedAt = :now");
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .key("pk", pk(&claim.key.alert_id))
            .key("sk", state_sk(&claim.key))
            .condition_expression("claimToken = :token AND #status = :claimed")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":state", s(state.as_str()))
            .expression_attribute_values(":now", s(Utc::now().to_rfc3339()))
            .expression_attribute_values(":token", s(&claim.token))
            .expression_attribute_values(":claimed", s(State::Claimed.as_str()));
        if let Some(error) = error {
            update.push_str(", lastError = :error");
            request = request.expression_attribute_values(":error", s(truncate_utf8(error, MAX_ERROR_BYTES)));
        }
        if let Some(external_id) = external_id {
            update.push_str(", externalId = :external");
            request = request.expression_attribute_values(":external", s(external_id));
        }
        match self.limited(request.update_expression(update).send()).await {
            Ok(_) => Ok(()),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_conditional_check_failed_exception()) =>
            {
                Err(DeliveryLogError::ClaimLost(describe_key(&claim.key)))
            }
            Err(error) => Err(self.dynamo_error("UpdateItem", &error)),
        }
    }

    async fn history(&self, alert_id: &str) -> Result<Vec<DeliveryRecord>, DeliveryLogError> {
        let mut records = self
            .items_of(alert_id, "attempt#", false)
            .await?
            .iter()
            .map(record_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        records.sort_by_key(|record| (record.time, record.attempt));
        Ok(records)
    }

    async fn claim_notice(
        &self,
        key: &NoticeKey,
        interval: Duration,
    ) -> Result<Option<NoticeClaim>, DeliveryLogError> {
        self.claim_notice_item(key, interval).await
    }

    async fn release_notice(&self, claim: &NoticeClaim) -> Result<(), DeliveryLogError> {
        self.release_notice_item(claim).await
    }

    async fn states(&self, alert_id: &str) -> Result<Vec<DeliveryState>, DeliveryLogError> {
        let mut states = self
            .items_of(alert_id, "route#", true)
            .await?
            .iter()
            .map(state_from_item)
            .collect::<Result<Vec<_>, _>>()?;
        states
            .sort_by(|a, b| (&a.key.integration_id, &a.key.step).cmp(&(&b.key.integration_id, &b.key.step)));
        Ok(states)
    }
}

impl DynamoDeliveryLog {
    async fn claim_notice_item(
        &self,
        key: &NoticeKey,
        interval: Duration,
    ) -> Result<Option<NoticeClaim>, DeliveryLogError> {
        let now = now_ms();
        let token = new_token();
        let result = self
            .limited(
                self.client
                    .put_item()
                    .table_name(&self.table)
                    .item("pk", notice_pk(key))
                    .item("sk", notice_sk(key))
                    .item("kind", s("notice"))
                    .item("integrationId", s(&key.integration_id))
                    .item("definitionId", s(&key.definition_id))
                    .item("sentAtMs", n(now))
                    .item("noticeToken", s(&token))
                    .item("expiresAt", n(now / 1000 + interval.as_secs() + 24 * 3600))
                    .condition_expression("attribute_not_exists(pk) OR sentAtMs <= :cutoff")
                    .expression_attribute_values(
                        ":cutoff",
                        n(now.saturating_sub(interval.as_millis() as u64)),
                    )
                    .send(),
            )
            .await;
        match result {
            Ok(_) => Ok(Some(NoticeClaim {
                key: key.clone(),
                token,
            })),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_conditional_check_failed_exception()) =>
            {
                Ok(None)
            }
            Err(error) => Err(self.dynamo_error("PutItem", &error)),
        }
    }

    async fn release_notice_item(&self, claim: &NoticeClaim) -> Result<(), DeliveryLogError> {
        let result = self
            .limited(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", notice_pk(&claim.key))
                    .key("sk", notice_sk(&claim.key))
                    .update_expression("SET sentAtMs = :zero")
                    .condition_expression("noticeToken = :token")
                    .expression_attribute_values(":zero", n(0))
                    .expression_attribute_values(":token", s(&claim.token))
                    .send(),
            )
            .await;
        match result {
            Ok(_) => Ok(()),
            // Another invocation has sent a notice since: nothing of ours to give back.
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|service| service.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(error) => Err(self.dynamo_error("UpdateItem", &error)),
        }
    }

    /// Every item of `alert_id` whose sort key starts with `prefix`, all pages.
    async fn items_of(
        &self,
        alert_id: &str,
        prefix: &str,
        consistent: bool,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, DeliveryLogError> {
        let mut items = Vec::new();
        let mut start: Option<HashMap<String, AttributeValue>> = None;
        loop {
            let output = self
                .limited(
                    self.client
                        .query()
                        .table_name(&self.table)
                        .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
                        .expression_attribute_values(":pk", pk(alert_id))
                        .expression_attribute_values(":prefix", s(prefix))
                        .set_exclusive_start_key(start.take())
                        .consistent_read(consistent)
                        .send(),
                )
                .await
                .map_err(|error| self.dynamo_error("Query", &error))?;
            items.extend(output.items.unwrap_or_default());
            match output.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => break,
            }
        }
        Ok(items)
    }
}

fn state_from_item(item: &HashMap<String, AttributeValue>) -> Result<DeliveryState, DeliveryLogError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let sk = text("sk").unwrap_or_default();
    let bad = |reason: &str| DeliveryLogError::Item {
        key: sk.clone(),
        reason: reason.to_owned(),
    };
    Ok(DeliveryState {
        key: DeliveryKey {
            alert_id: text("alertId").ok_or_else(|| bad("missing `alertId`"))?,
            integration_id: text("integrationId").ok_or_else(|| bad("missing `integrationId`"))?,
            step: text("step").ok_or_else(|| bad("missing `step`"))?,
        },
        status: text("status")
            .and_then(|status| DeliveryStatus::parse(&status))
            .ok_or_else(|| bad("missing or invalid `status`"))?,
        attempts: number(item, "attempts") as u32,
        external_id: text("externalId"),
        last_error: text("lastError"),
    })
}

impl DynamoDeliveryLog {
    /// The state item of `key`, read consistently.
    async fn state_item(
        &self,
        key: &DeliveryKey,
    ) -> Result<Option<HashMap<String, AttributeValue>>, DeliveryLogError> {
        Ok(self
            .limited(
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", pk(&key.alert_id))
                    .key("sk", state_sk(key))
                    .consistent_read(true)
                    .send(),
            )
            .await
            .map_err(|error| self.dynamo_error("GetItem", &error))?
            .item)
    }

    async fn claim_lost_race(&self, key: &DeliveryKey) -> Result<ClaimOutcome, DeliveryLogError> {
        let item = self.state_item(key).await?;
        let status = item
            .as_ref()
            .and_then(|item| item.get("status"))
            .and_then(|v| v.as_s().ok());
        Ok(match status.map(String::as_str) {
            Some("delivered") => ClaimOutcome::AlreadyDelivered,
            Some("failed") => ClaimOutcome::AlreadyFailed,
            // Claimed by the winner, or released by it meanwhile: either way not ours now.
            _ => ClaimOutcome::InFlight,
        })
    }
}

fn number(item: &HashMap<String, AttributeValue>, name: &str) -> u64 {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn record_from_item(item: &HashMap<String, AttributeValue>) -> Result<DeliveryRecord, DeliveryLogError> {
    let text = |name: &str| item.get(name).and_then(|v| v.as_s().ok()).cloned();
    let sk = text("sk").unwrap_or_default();
    let bad = |reason: &str| DeliveryLogError::Item {
        key: sk.clone(),
        reason: reason.to_owned(),
    };
    let time = text("time")
        .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
        .map(|t| t.with_timezone(&Utc))
        .ok_or_else(|| bad("missing or invalid `time`"))?;
    let outcome = text("outcome")
        .and_then(|o| AttemptOutcome::parse(&o))
        .ok_or_else(|| bad("missing or invalid `outcome`"))?;
    Ok(DeliveryRecord {
        key: DeliveryKey {
            alert_id: text("alertId").ok_or_else(|| bad("missing `alertId`"))?,
            integration_id: text("integrationId").ok_or_else(|| bad("missing `integrationId`"))?,
            step: text("step").ok_or_else(|| bad("missing `step`"))?,
        },
        attempt: number(item, "attempt") as u32,
        time,
        outcome,
        http_status: item
            .get("httpStatus")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok()),
        latency_ms: number(item, "latencyMs"),
        error: text("error"),
        request: text("request").unwrap_or_default(),
        response: text("response").unwrap_or_default(),
    })
}

/// Creates a `Deliveries` table (`pk`/`sk` strings, on-demand) with TTL on `expiresAt`: for local
/// runs and tests; production tables come from the SAM template.
pub async fn create_table(client: &aws_sdk_dynamodb::Client, name: &str) -> Result<(), DeliveryLogError> {
    let error = |operation: &'static str, message: String| DeliveryLogError::Dynamo {
        operation,
        table: name.to_owned(),
        message,
    };
    let attribute = |attribute: &str| {
        AttributeDefinition::builder()
            .attribute_name(attribute)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| error("CreateTable", e.to_string()))
    };
    let key = |attribute: &str, key_type: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(attribute)
            .key_type(key_type)
            .build()
            .map_err(|e| error("CreateTable", e.to_string()))
    };
    client
        .create_table()
        .table_name(name)
        .attribute_definitions(attribute("pk")?)
        .attribute_definitions(attribute("sk")?)
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .billing_mode(BillingMode::PayPerRequest)
        .send()
        .await
        .map_err(|e| error("CreateTable", crate::sdk::error_chain(&e)))?;
    let ttl = TimeToLiveSpecification::builder()
        .attribute_name("expiresAt")
        .enabled(true)
        .build()
        .map_err(|e| error("UpdateTimeToLive", e.to_string()))?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(ttl)
        .send()
        .await
        .map_err(|e| error("UpdateTimeToLive", crate::sdk::error_chain(&e)))?;
    Ok(())
}
