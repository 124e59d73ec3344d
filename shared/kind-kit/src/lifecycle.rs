//! What the lifecycle tests of kinds that open and close incidents at their target share: one
//! native alert per message of an incident, and one invocation of the kind's pipeline per event.

use std::time::{Duration, Instant};

use notify_core::{EventHandler, EventReport, HandlerError};
use serde_json::{Value, json};

/// A native alert of `alert_type` for incident `key` at `time`, with its own guid, in an SNS event.
pub fn event(guid: &str, alert_type: &str, time: &str, key: &str) -> Value {
    let message = json!({
        "version": 1,
        "alert": {
            "alertGuid": guid,
            "type": alert_type,
            "description": "DNS lookup failed: NXDOMAIN",
            "timestampUtc": time,
            "firstErrorUtc": "2026-11-28T10:00:00",
        },
        "monitor": {"monitorGuid": "dns-1", "name": "GalacticResorts.com - DNS", "url": "galacticresorts.com"},
        "incident": {"key": key},
    });
    test_support::sns::event(&[(&format!("sns-{guid}"), &message.to_string())])
}

/// One invocation with `event`, 30 s to go.
pub async fn handle(runner: &impl EventHandler, event: &Value) -> Result<EventReport, HandlerError> {
    runner
        .handle(event, Instant::now() + Duration::from_secs(30))
        .await
}

/// Handles `event` and expects its one route delivered.
pub async fn delivered(runner: &impl EventHandler, event: &Value) {
    let report = handle(runner, event)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((report.routes, report.delivered), (1, 1), "{report:?}");
}

/// Handles `event` and expects its one route skipped: nothing to send.
pub async fn nothing_sent(runner: &impl EventHandler, event: &Value) {
    let report = handle(runner, event)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(
        (report.routes, report.delivered, report.skipped),
        (1, 0, 1),
        "{report:?}"
    );
}
