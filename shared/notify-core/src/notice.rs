//! Delivery-failure notices: the "delivery failed" alert a route's fallback integration receives.
//!
//! A notice is an ordinary alert in the native envelope, published to the alerts topic, addressed
//! with `deliverTo` to the fallback integration (so it reaches that integration only, whatever its
//! kind, through the function serving that kind) and carrying the failed route's alert definition
//! and escalation level (so its operators are the recipients). A notice is never about a notice:
//! failures of alerts that carry `deliverTo` are only counted and logged.

use std::sync::{Arc, Mutex, PoisonError};

use alert_model::{Alert, AlertType, DELIVERY_FAILURE, DeliverTo, NativeEnvelope};
use chrono::{DateTime, Utc};
use definition_store::{Integration, Route};

use crate::{http::truncate_utf8, metrics::FailureOutcome, pipeline::RouteFailure};

/// Namespace of the notices' alert ids (UUID v5 of the route and the time).
const NOTICE_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x2b7e_61c4_3d0f_4a8e_9b15_c7a2_48f0_d913);

/// The notice that `failed` (a route of `route`, for alert `original`) failed, addressed to
/// `fallback`, as of `now`. Every text of `failed` is already redacted.
pub fn failure_notice(
    failed: &RouteFailure,
    original: &Alert,
    route: &Route<'_>,
    fallback: &Integration,
    now: DateTime<Utc>,
) -> Alert {
    let integration = route.integration;
    let definition = route.definition;
    let name = if integration.name.is_empty() {
        integration.id.as_str()
    } else {
        integration.name.as_str()
    };
    let state = match failed.outcome {
        FailureOutcome::Permanent => "failed permanently",
        FailureOutcome::Retryable => "keeps failing",
    };
    let mut alert = Alert {
        account: original.account.clone(),
        ..Alert::default()
    };
    let seed = format!(
        "{}\u{0}{}\u{0}{}",
        integration.id,
        definition.id,
        now.timestamp_millis()
    );
    alert.alert.alert_guid = uuid::Uuid::new_v5(&NOTICE_NAMESPACE, seed.as_bytes()).to_string();
    alert.alert.alert_type = AlertType::Alert;
    alert.alert.description = truncate_utf8(
        &format!(
            "Tocsin could not deliver alert {} ({} for monitor \"{}\") to integration \"{}\" ({}): \
             delivery {state} after {} attempt(s): {}. The delivery log shows every attempt: \
             tocsin log --alert {}",
            original.alert.alert_guid,
            original.alert.alert_type,
            original.monitor.name,
            integration.id,
            failed.kind,
            failed.attempts,
            failed.reason,
            original.alert.alert_guid,
        ),
        4096,
    );
    alert.alert.failure_message = truncate_utf8(&failed.reason, 1024);
    alert.alert.timestamp_utc = now.format("%Y-%m-%dT%H:%M:%S").to_string();
    alert.alert.first_error_utc = alert.alert.timestamp_utc.clone();
    alert.alert_definition.guid = definition.id.clone();
    alert.alert_definition.name = definition.name.clone();
    alert.escalation_level.id = route.level.id;
    alert.incident.key = format!("tocsin-delivery:{}:{}", integration.id, definition.id);
    alert.monitor.monitor_guid = format!("tocsin-integration-{}", integration.id);
    alert.monitor.name = format!("Tocsin delivery to {name}");
    alert.monitor.monitor_type = "TocsinDelivery".to_owned();
    let fields = [
        ("failedIntegration", integration.id.clone()),
        ("failedKind", failed.kind.as_str().to_owned()),
        ("failedAlertId", original.alert.alert_guid.clone()),
        ("failedMonitor", original.monitor.name.clone()),
        ("failedStep", failed.step.clone().unwrap_or_default()),
        ("failureOutcome", failed.outcome.as_str().to_owned()),
        ("attempts", failed.attempts.to_string()),
    ];
    alert.monitor.custom_fields = fields
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
    alert.deliver_to = Some(DeliverTo {
        integration: fallback.id.clone(),
        reason: DELIVERY_FAILURE.to_owned(),
    });
    alert
}

/// The SNS subject of a notice: ASCII, one line, at most 100 characters (SNS's rules).
pub fn notice_subject(alert: &Alert) -> String {
    let text: String = format!("Tocsin: {}", alert.monitor.name)
        .chars()
        .map(|c| if c.is_ascii_graphic() || c == ' ' { c } else { '?' })
        .collect();
    truncate_utf8(&text, 100)
}

/// Published notices, `(subject, message)`, kept by [`NoticePublisher::Memory`].
pub type PublishedNotices = Arc<Mutex<Vec<(String, String)>>>;

/// Where notices are published.
#[derive(Debug, Clone)]
pub enum NoticePublisher {
    /// The alerts topic.
    Sns {
        /// The SNS client.
        client: aws_sdk_sns::Client,
        /// `TOCSIN_TOPIC_ARN`.
        topic_arn: String,
    },
    /// Kept in memory (tests, local tools): `(subject, message)`.
    Memory(PublishedNotices),
}

impl NoticePublisher {
    /// A publisher that keeps the notices, and the handle to read them.
    pub fn memory() -> (NoticePublisher, PublishedNotices) {
        let notices = Arc::new(Mutex::new(Vec::new()));
        (NoticePublisher::Memory(Arc::clone(&notices)), notices)
    }

    /// Publishes `alert` as a native envelope. The error holds no message content.
    pub async fn publish(&self, alert: &Alert) -> Result<(), String> {
        let message = serde_json::to_string(&NativeEnvelope::new(alert.clone()))
            .map_err(|error| format!("the notice is not serialisable: {error}"))?;
        let subject = notice_subject(alert);
        match self {
            NoticePublisher::Sns { client, topic_arn } => client
                .publish()
                .topic_arn(topic_arn)
                .subject(subject)
                .message(message)
                .send()
                .await
                .map(|_| ())
                .map_err(|error| {
                    format!(
                        "sns publish to the alerts topic failed: {}",
                        crate::sdk::error_chain(&error)
                    )
                }),
            NoticePublisher::Memory(notices) => {
                notices
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .push((subject, message));
                Ok(())
            }
        }
    }
}
