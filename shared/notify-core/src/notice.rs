//! Delivery-failure notices: the "delivery failed" alert a route's fallback integration receives.
//!
//! A notice is an ordinary alert in the native envelope, published to the alerts topic, addressed
//! with `deliverTo` to the fallback integration (so it reaches that integration only, whatever its
//! kind, through the function serving that kind) and carrying the failed route's alert definition
//! and escalation level (so its operators are the recipients). A notice is never about a notice:
//! failures of alerts that carry `deliverTo` are only counted and logged.

use std::sync::{Arc, Mutex, PoisonError};

use alert_model::{Alert, AlertType, DELIVERY_FAILURE, DeliverTo, IntegrationKind, NativeEnvelope};
use chrono::{DateTime, Utc};
use definition_store::{Integration, Route};

use crate::{http::truncate_utf8, metrics::FailureOutcome};

/// Namespace of the notices' alert ids (UUID v5 of the route and the time).
const NOTICE_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x2b7e_61c4_3d0f_4a8e_9b15_c7a2_48f0_d913);

/// What failed, for the notice's text. Every text is already redacted.
#[derive(Debug, Clone, Copy)]
pub struct FailedDelivery<'a> {
    /// The function's kind.
    pub kind: IntegrationKind,
    /// The alert that was not delivered.
    pub alert: &'a Alert,
    /// The route it failed on.
    pub route: &'a Route<'a>,
    /// `<alert definition>/<step>`, when a step was reached.
    pub step: Option<&'a str>,
    /// Attempts so far, over every invocation.
    pub attempts: u32,
    /// Permanent, or still retrying.
    pub outcome: FailureOutcome,
    /// Why, redacted.
    pub reason: &'a str,
}

/// The notice for `failed`, addressed to `fallback`, as of `now`.
pub fn failure_notice(failed: &FailedDelivery<'_>, fallback: &Integration, now: DateTime<Utc>) -> Alert {
    let integration = failed.route.integration;
    let definition = failed.route.definition;
    let name = if integration.name.is_empty() {
        integration.id.as_str()
    } else {
        integration.name.as_str()
    };
    let state = match failed.outcome {
        FailureOutcome::Permanent => "failed permanently",
        FailureOutcome::Retryable => "keeps failing",
    };
    let original = failed.alert;
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
    alert.alert.failure_message = truncate_utf8(failed.reason, 1024);
    alert.alert.timestamp_utc = now.format("%Y-%m-%dT%H:%M:%S").to_string();
    alert.alert.first_error_utc = alert.alert.timestamp_utc.clone();
    alert.alert_definition.guid = definition.id.clone();
    alert.alert_definition.name = definition.name.clone();
    alert.escalation_level.id = failed.route.level.id;
    alert.incident.key = format!("tocsin-delivery:{}:{}", integration.id, definition.id);
    alert.monitor.monitor_guid = format!("tocsin-integration-{}", integration.id);
    alert.monitor.name = format!("Tocsin delivery to {name}");
    alert.monitor.monitor_type = "TocsinDelivery".to_owned();
    let fields = [
        ("failedIntegration", integration.id.clone()),
        ("failedKind", failed.kind.as_str().to_owned()),
        ("failedAlertId", original.alert.alert_guid.clone()),
        ("failedMonitor", original.monitor.name.clone()),
        ("failedStep", failed.step.unwrap_or("").to_owned()),
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
                        aws_sdk_sns::error::DisplayErrorContext(&error)
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
