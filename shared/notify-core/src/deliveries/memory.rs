//! The delivery log in memory.

use std::{collections::HashMap, sync::Mutex, time::Duration};

use super::{
    Claim, ClaimOutcome, DeliveryKey, DeliveryLog, DeliveryLogError, DeliveryRecord, DeliveryState, Finish,
    IncidentKey, Kept, LogTimes, MAX_ERROR_BYTES, NoticeClaim, NoticeKey, State, describe_key, new_token,
};
use crate::{
    clock::{SharedClock, system_clock},
    http::truncate_utf8,
};

#[derive(Debug, Clone)]
struct MemoryState {
    state: State,
    token: String,
    claim_expires_ms: u64,
    attempts: u32,
    external_id: Option<String>,
    last_error: Option<String>,
    kept: Kept,
}

/// The delivery log in memory: tests, the CLI's local runs.
#[derive(Debug)]
pub struct MemoryDeliveryLog {
    times: LogTimes,
    clock: SharedClock,
    states: Mutex<HashMap<DeliveryKey, MemoryState>>,
    records: Mutex<Vec<DeliveryRecord>>,
    /// Notice key → (sent at, epoch ms; token).
    notices: Mutex<HashMap<NoticeKey, (u64, String)>>,
    /// Incident → state kept by its kind.
    incidents: Mutex<HashMap<IncidentKey, serde_json::Value>>,
}

impl MemoryDeliveryLog {
    /// An empty log on the system clock.
    pub fn new(times: LogTimes) -> Self {
        MemoryDeliveryLog::with_clock(times, system_clock())
    }

    /// An empty log on `clock`.
    pub fn with_clock(times: LogTimes, clock: SharedClock) -> Self {
        MemoryDeliveryLog {
            times,
            clock,
            states: Mutex::default(),
            records: Mutex::default(),
            notices: Mutex::default(),
            incidents: Mutex::default(),
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

impl Default for MemoryDeliveryLog {
    fn default() -> Self {
        MemoryDeliveryLog::new(LogTimes::default())
    }
}

impl DeliveryLog for MemoryDeliveryLog {
    fn now_ms(&self) -> u64 {
        self.clock.now_ms()
    }

    async fn claim(&self, key: &DeliveryKey) -> Result<ClaimOutcome, DeliveryLogError> {
        let now = self.now_ms();
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (previous_attempts, taken_over) = match states.get(key) {
            None => (0, false),
            Some(existing) => match existing.state {
                State::Delivered => return Ok(ClaimOutcome::AlreadyDelivered(existing.kept.clone())),
                State::Failed => return Ok(ClaimOutcome::AlreadyFailed),
                State::Claimed if existing.claim_expires_ms > now => return Ok(ClaimOutcome::InFlight),
                State::Claimed => (existing.attempts, true),
                State::Released => (existing.attempts, false),
            },
        };
        let token = new_token();
        let expires_ms = now + self.times.claim_ttl.as_millis() as u64;
        states.insert(
            key.clone(),
            MemoryState {
                state: State::Claimed,
                token: token.clone(),
                claim_expires_ms: expires_ms,
                attempts: previous_attempts,
                external_id: None,
                last_error: None,
                kept: Kept::default(),
            },
        );
        Ok(ClaimOutcome::Claimed(Claim {
            key: key.clone(),
            token,
            previous_attempts,
            taken_over,
            expires_ms,
        }))
    }

    async fn renew(&self, claim: &mut Claim) -> Result<(), DeliveryLogError> {
        let expires_ms = self.now_ms() + self.times.claim_ttl.as_millis() as u64;
        let mut states = self
            .states
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match states.get_mut(&claim.key) {
            Some(state) if state.token == claim.token && state.state == State::Claimed => {
                state.claim_expires_ms = expires_ms;
                claim.expires_ms = expires_ms;
                Ok(())
            }
            _ => Err(DeliveryLogError::ClaimLost(describe_key(&claim.key))),
        }
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
            Finish::Delivered { external_id, kept } => {
                state.external_id = external_id.clone();
                state.kept = kept.clone();
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
                kept: state.kept.clone(),
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
        let now = self.now_ms();
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

    async fn incident_state(&self, key: &IncidentKey) -> Result<Option<serde_json::Value>, DeliveryLogError> {
        Ok(self
            .incidents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(key)
            .cloned())
    }

    async fn save_incident_state(
        &self,
        key: &IncidentKey,
        state: &serde_json::Value,
    ) -> Result<(), DeliveryLogError> {
        self.incidents
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(key.clone(), state.clone());
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
