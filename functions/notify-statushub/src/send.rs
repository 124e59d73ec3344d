//! One attempt of one message, within StatusHub's write limit (5 requests a second per key): a
//! write the limit does not allow yet is not sent; the attempt is retryable after the time the
//! limit needs, which the runner waits (a notifier never sleeps).

use std::{
    collections::{HashMap, VecDeque},
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use notify_core::{HttpClient, HttpRequest, NotifyError, Sent, http::origin_of};
use serde_json::Value;

use crate::payload::{Operation, StatusHubMessage, incident_id_ok};

/// StatusHub allows 5 writes a second per key (GET 30).
pub const WRITES_PER_WINDOW: usize = 5;
/// The window the writes are counted in: a second and a margin of 200 ms, since StatusHub counts
/// them when they arrive, not when they leave.
pub const WINDOW: Duration = Duration::from_millis(1200);

/// The writes of this process per hub (its API URL and subdomain) in the last [`WINDOW`].
#[derive(Debug, Default)]
pub struct WriteLimiter {
    sent: Mutex<HashMap<String, VecDeque<Instant>>>,
}

impl WriteLimiter {
    /// Takes a write for `key` at `now`, or says how long until one is free.
    pub fn admit(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        // Hubs without a write in the window are forgotten.
        sent.retain(|_, times| {
            times
                .back()
                .is_some_and(|last| now.duration_since(*last) < WINDOW)
        });
        let times = sent.entry(key.to_owned()).or_default();
        while times
            .front()
            .is_some_and(|first| now.duration_since(*first) >= WINDOW)
        {
            times.pop_front();
        }
        if times.len() >= WRITES_PER_WINDOW {
            let first = times.front().copied().unwrap_or(now);
            return Err(WINDOW.saturating_sub(now.duration_since(first)));
        }
        times.push_back(now);
        Ok(())
    }
}

/// Sends `message` once.
pub(crate) async fn send(
    http: &HttpClient,
    limiter: &WriteLimiter,
    message: &StatusHubMessage,
) -> Result<Sent, NotifyError> {
    if message.operation == Operation::Remember {
        return Ok(Sent {
            status: None,
            external_id: None,
            response: message.note.clone(),
            incident: Some(message.keep.clone()),
        });
    }
    if let Err(wait) = limiter.admit(&message.limit_key, Instant::now()) {
        return Err(NotifyError::Retryable {
            reason: format!(
                "{}: not sent: {WRITES_PER_WINDOW} writes to this hub in the last second already (StatusHub's limit); trying again in {} ms",
                origin_of(&message.url),
                wait.as_millis()
            ),
            status: None,
            retry_after: Some(wait),
        });
    }
    let answer = http
        .exchange(&HttpRequest {
            method: "POST".to_owned(),
            url: message.url.clone(),
            headers: message.headers.clone(),
            body: message.body.clone(),
        })
        .await?;
    let mut sent = answer.classified()?;
    match message.operation {
        Operation::Create => {
            let id = serde_json::from_str::<Value>(&answer.body)
                .ok()
                .as_ref()
                .and_then(incident_id);
            let mut keep = message.keep.clone();
            match &id {
                Some(id) => keep["incidentId"] = Value::String(id.clone()),
                None => tracing::warn!(
                    "statushub: the create was accepted without an incident id; the incident cannot be updated"
                ),
            }
            sent.external_id = id;
            sent.incident = Some(keep);
        }
        _ => sent.incident = Some(message.keep.clone()),
    }
    Ok(sent)
}

/// The created incident's id: `id` of the answer, or of its `incident` or `data`, a number or a
/// plain token.
fn incident_id(body: &Value) -> Option<String> {
    [body, &body["incident"], &body["data"]]
        .into_iter()
        .filter_map(|value| value.get("id"))
        .find_map(|id| match id {
            Value::Number(number) => Some(number.to_string()),
            Value::String(text) if incident_id_ok(text) => Some(text.clone()),
            _ => None,
        })
}
