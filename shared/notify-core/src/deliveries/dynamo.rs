//! The delivery log on the DynamoDB `Deliveries` table.

use std::{collections::HashMap, future::Future, sync::Arc, time::Duration};

use aws_sdk_dynamodb::{
    error::ProvideErrorMetadata,
    types::{
        AttributeDefinition, AttributeValue, BillingMode, KeySchemaElement, KeyType, ScalarAttributeType,
        TimeToLiveSpecification,
    },
};
use chrono::Utc;

use super::{
    Claim, ClaimOutcome, DeliveryKey, DeliveryLog, DeliveryLogError, DeliveryRecord, DeliveryState, Finish,
    IncidentKey, LogTimes, MAX_ERROR_BYTES, NoticeClaim, NoticeKey, State, describe_key,
    item::{
        attempt_sk, incident_pk, incident_sk, item_status, kept_of, n, notice_pk, notice_sk, number, pk,
        record_from_item, s, state_from_item, state_sk,
    },
    new_token,
};
use crate::{
    clock::{SharedClock, system_clock},
    http::truncate_utf8,
};

/// The delivery log on the DynamoDB `Deliveries` table.
#[derive(Debug, Clone)]
pub struct DynamoDeliveryLog {
    client: aws_sdk_dynamodb::Client,
    table: String,
    times: LogTimes,
    clock: SharedClock,
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
    /// A log on `table`, on the system clock.
    pub fn new(client: aws_sdk_dynamodb::Client, table: impl Into<String>, times: LogTimes) -> Self {
        DynamoDeliveryLog::with_clock(client, table, times, system_clock())
    }

    /// A log on `table`, on `clock`.
    pub fn with_clock(
        client: aws_sdk_dynamodb::Client,
        table: impl Into<String>,
        times: LogTimes,
        clock: SharedClock,
    ) -> Self {
        DynamoDeliveryLog {
            client,
            table: table.into(),
            times,
            clock,
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
        let message = crate::sdk::error_chain(error);
        // A refused item (a key too large, an attribute over its limit) is refused again on every
        // retry: reporting it as retryable would make the alert a poison message.
        if error.code() == Some("ValidationException") {
            return DeliveryLogError::Rejected {
                operation,
                table: self.table.clone(),
                message,
            };
        }
        DeliveryLogError::Dynamo {
            operation,
            table: self.table.clone(),
            message,
        }
    }

    fn expires_at(&self) -> AttributeValue {
        let seconds = self.clock.now_ms() / 1000 + self.times.retention.as_secs();
        AttributeValue::N(seconds.to_string())
    }
}

impl DeliveryLog for DynamoDeliveryLog {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    async fn claim(&self, key: &DeliveryKey) -> Result<ClaimOutcome, DeliveryLogError> {
        let now = self.now_ms();
        // Read first to learn the attempt count and to answer without a write when settled.
        let existing = self.state_item(key).await?;
        let (previous_attempts, taken_over) = match &existing {
            None => (0, false),
            Some(item) => {
                let attempts = number(item, "attempts") as u32;
                match item_status(item) {
                    Some(State::Delivered) => return Ok(ClaimOutcome::AlreadyDelivered(kept_of(item))),
                    Some(State::Failed) => return Ok(ClaimOutcome::AlreadyFailed),
                    Some(State::Claimed) if number(item, "claimExpiresMs") > now => {
                        return Ok(ClaimOutcome::InFlight);
                    }
                    Some(State::Claimed) => (attempts, true),
                    Some(State::Released) | None => (attempts, false),
                }
            }
        };
        let token = new_token();
        let expires_ms = now + self.times.claim_ttl.as_millis() as u64;
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
                    .item("claimExpiresMs", n(expires_ms))
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
                expires_ms,
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

    async fn renew(&self, claim: &mut Claim) -> Result<(), DeliveryLogError> {
        let expires_ms = self.now_ms() + self.times.claim_ttl.as_millis() as u64;
        let result = self
            .limited(
                self.client
                    .update_item()
                    .table_name(&self.table)
                    .key("pk", pk(&claim.key.alert_id))
                    .key("sk", state_sk(&claim.key))
                    .update_expression("SET claimExpiresMs = :expires")
                    .condition_expression("claimToken = :token AND #status = :claimed")
                    .expression_attribute_names("#status", "status")
                    .expression_attribute_values(":expires", n(expires_ms))
                    .expression_attribute_values(":token", s(&claim.token))
                    .expression_attribute_values(":claimed", s(State::Claimed.as_str()))
                    .send(),
            )
            .await;
        match result {
            Ok(_) => {
                claim.expires_ms = expires_ms;
                Ok(())
            }
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

    async fn record_attempt(&self, record: &DeliveryRecord) -> Result<(), DeliveryLogError> {
        let record = record.clone().bounded();
        let key = &record.key;
        let mut request = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", pk(&key.alert_id))
            .item("sk", attempt_sk(key, record.attempt))
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
        let (state, error, external_id, kept) = match finish {
            Finish::Delivered { external_id, kept } => {
                (State::Delivered, None, external_id.clone(), kept.to_json())
            }
            Finish::FailedPermanently { error } => (State::Failed, Some(error), None, None),
            Finish::ReleasedForRetry { error } => (State::Released, Some(error), None, None),
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
        if let Some(kept) = kept {
            update.push_str(", kept = :kept");
            request = request.expression_attribute_values(":kept", s(kept));
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

    async fn incident_state(&self, key: &IncidentKey) -> Result<Option<serde_json::Value>, DeliveryLogError> {
        let item = self
            .limited(
                self.client
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", incident_pk(key))
                    .key("sk", incident_sk(key))
                    .consistent_read(true)
                    .send(),
            )
            .await
            .map_err(|error| self.dynamo_error("GetItem", &error))?
            .item;
        let Some(text) = item
            .as_ref()
            .and_then(|item| item.get("state"))
            .and_then(|value| value.as_s().ok())
        else {
            return Ok(None);
        };
        serde_json::from_str(text)
            .map(Some)
            .map_err(|error| DeliveryLogError::Item {
                key: format!("incident {}", key.incident_key),
                reason: format!("the kept state is not JSON: {error}"),
            })
    }

    async fn save_incident_state(
        &self,
        key: &IncidentKey,
        state: &serde_json::Value,
    ) -> Result<(), DeliveryLogError> {
        self.limited(
            self.client
                .put_item()
                .table_name(&self.table)
                .item("pk", incident_pk(key))
                .item("sk", incident_sk(key))
                .item("kind", s("incident"))
                .item("integrationId", s(&key.integration_id))
                .item("incidentKey", s(&key.incident_key))
                .item("state", s(state.to_string()))
                .item("updatedAt", s(Utc::now().to_rfc3339()))
                .item("expiresAt", self.expires_at())
                .send(),
        )
        .await
        .map_err(|error| self.dynamo_error("PutItem", &error))?;
        Ok(())
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
        let now = self.now_ms();
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
        Ok(match item.as_ref().and_then(item_status) {
            Some(State::Delivered) => {
                ClaimOutcome::AlreadyDelivered(item.as_ref().map(kept_of).unwrap_or_default())
            }
            Some(State::Failed) => ClaimOutcome::AlreadyFailed,
            // Claimed by the winner, or released by it meanwhile: either way not ours now.
            Some(State::Claimed | State::Released) | None => ClaimOutcome::InFlight,
        })
    }
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
