//! Either delivery log, chosen at start-up.

use std::time::Duration;

use super::{
    Claim, ClaimOutcome, DeliveryKey, DeliveryLog, DeliveryLogError, DeliveryRecord, DeliveryState,
    DynamoDeliveryLog, Finish, IncidentKey, MemoryDeliveryLog, NoticeClaim, NoticeKey,
};

/// Either delivery log, chosen at start-up.
#[derive(Debug)]
pub enum AnyDeliveryLog {
    /// The `Deliveries` table.
    Dynamo(DynamoDeliveryLog),
    /// In memory (local runs).
    Memory(MemoryDeliveryLog),
}

impl DeliveryLog for AnyDeliveryLog {
    fn now_ms(&self) -> u64 {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.now_ms(),
            AnyDeliveryLog::Memory(log) => log.now_ms(),
        }
    }

    async fn renew(&self, claim: &mut Claim) -> Result<(), DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.renew(claim).await,
            AnyDeliveryLog::Memory(log) => log.renew(claim).await,
        }
    }

    async fn claim(&self, key: &DeliveryKey) -> Result<ClaimOutcome, DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.claim(key).await,
            AnyDeliveryLog::Memory(log) => log.claim(key).await,
        }
    }

    async fn record_attempt(&self, record: &DeliveryRecord) -> Result<(), DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.record_attempt(record).await,
            AnyDeliveryLog::Memory(log) => log.record_attempt(record).await,
        }
    }

    async fn finish(&self, claim: &Claim, finish: &Finish) -> Result<(), DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.finish(claim, finish).await,
            AnyDeliveryLog::Memory(log) => log.finish(claim, finish).await,
        }
    }

    async fn states(&self, alert_id: &str) -> Result<Vec<DeliveryState>, DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.states(alert_id).await,
            AnyDeliveryLog::Memory(log) => log.states(alert_id).await,
        }
    }

    async fn history(&self, alert_id: &str) -> Result<Vec<DeliveryRecord>, DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.history(alert_id).await,
            AnyDeliveryLog::Memory(log) => log.history(alert_id).await,
        }
    }

    async fn incident_state(&self, key: &IncidentKey) -> Result<Option<serde_json::Value>, DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.incident_state(key).await,
            AnyDeliveryLog::Memory(log) => log.incident_state(key).await,
        }
    }

    async fn save_incident_state(
        &self,
        key: &IncidentKey,
        state: &serde_json::Value,
    ) -> Result<(), DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.save_incident_state(key, state).await,
            AnyDeliveryLog::Memory(log) => log.save_incident_state(key, state).await,
        }
    }

    async fn claim_notice(
        &self,
        key: &NoticeKey,
        interval: Duration,
    ) -> Result<Option<NoticeClaim>, DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.claim_notice(key, interval).await,
            AnyDeliveryLog::Memory(log) => log.claim_notice(key, interval).await,
        }
    }

    async fn release_notice(&self, claim: &NoticeClaim) -> Result<(), DeliveryLogError> {
        match self {
            AnyDeliveryLog::Dynamo(log) => log.release_notice(claim).await,
            AnyDeliveryLog::Memory(log) => log.release_notice(claim).await,
        }
    }
}
