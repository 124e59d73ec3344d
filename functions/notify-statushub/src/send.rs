//! One attempt of one message, within StatusHub's write limit (5 requests a second per key): a
//! write the limit does not allow yet is not sent; the attempt is retryable after the time the
//! limit needs (a slot reserved for it), which the runner waits (a notifier never sleeps).

use std::{
    collections::HashMap,
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

/// The writes of this process per hub (its API URL and subdomain), each at the time its answer
/// came (StatusHub counted it on arrival, before that: a write sent a window after it cannot fall
/// into its second, whatever the latency), at the time it was sent while it is in flight, or at
/// the time reserved for it. A write the limit does not allow yet gets the next free slot reserved
/// (for its `write_id`), so that writes waiting in the runner go in turn instead of racing for each
/// freed slot (and running out of attempts).
#[derive(Debug, Default)]
pub struct WriteLimiter {
    sent: Mutex<HashMap<String, Vec<Slot>>>,
}

/// A write's slot.
#[derive(Debug, Clone)]
struct Slot {
    at: Instant,
    write: String,
    reserved: bool,
}

impl WriteLimiter {
    /// Takes a write for `key` at `now` (the slot reserved for `write`, once its time came), or
    /// reserves the next free slot for `write` and says how long until it.
    pub fn admit(&self, key: &str, write: &str, now: Instant) -> Result<(), Duration> {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        // Hubs without a write in the window (or reserved) are forgotten.
        sent.retain(|_, slots| slots.iter().any(|slot| now < slot.at + WINDOW));
        let slots = sent.entry(key.to_owned()).or_default();
        slots.retain(|slot| now < slot.at + WINDOW || slot.reserved);
        let fifth_latest = |slots: &[Slot], reserved_too: bool| {
            let mut times: Vec<Instant> = slots
                .iter()
                .filter(|slot| reserved_too || !slot.reserved)
                .map(|slot| slot.at)
                .collect();
            times.sort_unstable_by(|a, b| b.cmp(a));
            times.get(WRITES_PER_WINDOW - 1).copied()
        };
        let reserved = slots.iter().position(|slot| slot.reserved && slot.write == write);
        let at = match reserved {
            // A reservation not due yet.
            Some(index) if now < slots[index].at => return Err(slots[index].at - now),
            // Due: it goes unless the writes sent meanwhile fill the window (their answers came
            // later than they were sent): then a window after the fifth latest of those.
            Some(index) => {
                slots.remove(index);
                fifth_latest(slots, false).map_or(now, |fifth| (fifth + WINDOW).max(now))
            }
            // A new write: a window after the fifth latest write, reserved ones included, or now.
            None => fifth_latest(slots, true).map_or(now, |fifth| (fifth + WINDOW).max(now)),
        };
        let waits = at > now;
        slots.push(Slot {
            at,
            write: write.to_owned(),
            reserved: waits,
        });
        if waits { Err(at - now) } else { Ok(()) }
    }

    /// The answer to `write` came at `now` (or the attempt ended): its slot counts from then.
    pub fn answered(&self, key: &str, write: &str, now: Instant) {
        let mut sent = self.sent.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(slot) = sent.get_mut(key).and_then(|slots| {
            slots
                .iter_mut()
                .filter(|slot| !slot.reserved && slot.write == write)
                .max_by_key(|slot| slot.at)
        }) {
            slot.at = slot.at.max(now);
        }
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
            extracted: Default::default(),
        });
    }
    if let Err(wait) = limiter.admit(&message.limit_key, &message.write_id, Instant::now()) {
        return Err(NotifyError::Retryable {
            reason: format!(
                "{}: not sent: {WRITES_PER_WINDOW} writes to this hub in the last second already (StatusHub's limit); its slot comes in {} ms",
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
        .await;
    limiter.answered(&message.limit_key, &message.write_id, Instant::now());
    let answer = answer?;
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
