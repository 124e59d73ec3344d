//! `tocsin replay`: drains the on-failure queue back into the alerts topic.
//!
//! Lambda puts an event whose invocation still failed after its async retries on the functions'
//! on-failure destination, the `FailedAlertsQueue`, as an invocation record
//! (`{requestContext: {condition, approximateInvokeCount, functionArn}, requestPayload: <SNS event>,
//! responsePayload: {errorType, errorMessage}}`). Replay reads each record, re-publishes every alert
//! of its SNS event to the topic, and deletes the record only once all of them are published.
//!
//! An alert is re-published as Tocsin's own envelope (native v1) of the alert as the functions read
//! it, whatever its original format: the alert id of a CloudWatch alarm or a plain-text message is
//! derived from its SNS message id, which a new publish would change, so re-publishing the original
//! text would deliver its routes again. With the id kept, the routes delivered before the failure are
//! skipped by their delivery claims and only the failed ones are sent. Every function receives the
//! replayed alert, as it received the original.

use std::time::Duration;

use aws_sdk_sqs::types::Message;
use notify_core::pipeline::alert_from_record;
use serde::Serialize;
use serde_json::Value;

use crate::{CliError, commands::publish::aws_error};

/// What `tocsin replay` works on.
#[derive(Debug, Clone)]
pub struct ReplayOptions {
    /// The on-failure queue.
    pub queue_url: String,
    /// The alerts topic.
    pub topic_arn: String,
    /// Stop after this many queue messages (all when `None`).
    pub max_messages: Option<usize>,
    /// Only say what would be replayed: publish nothing, delete nothing.
    pub dry_run: bool,
}

/// One queue message and what became of it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayedMessage {
    /// The SQS message id.
    pub message_id: String,
    /// Why Lambda gave up on it (`RetriesExhausted`, `EventAgeExceeded`), when the record says.
    pub condition: Option<String>,
    /// Invocations Lambda made, when the record says.
    pub invocations: Option<u64>,
    /// The function's last error message, when the record says.
    pub error: Option<String>,
    /// The alert ids re-published (or that would be, with `--dry-run`).
    pub alerts: Vec<String>,
    /// Records of the event that could not be read (the functions rejected them too): reasons.
    pub unreadable: Vec<String>,
    /// `replayed`, `would-replay`, or `kept`: left in the queue (see `reason`).
    pub outcome: String,
    /// Why a message was kept in the queue.
    pub reason: Option<String>,
}

/// What a replay did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplayReport {
    /// Every queue message read.
    pub messages: Vec<ReplayedMessage>,
    /// Alerts re-published.
    pub alerts_published: usize,
    /// Queue messages deleted after their alerts were published.
    pub deleted: usize,
    /// Queue messages left in the queue.
    pub kept: usize,
}

/// How long a received message stays invisible to other readers while it is replayed.
const VISIBILITY: Duration = Duration::from_secs(60);

/// Replays the on-failure queue into the topic (see the module documentation).
pub async fn replay(sdk: &aws_config::SdkConfig, options: &ReplayOptions) -> Result<ReplayReport, CliError> {
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let sns = aws_sdk_sns::Client::new(sdk);
    let mut report = ReplayReport::default();
    // Messages kept (or looked at in a dry run) stay invisible while this runs, so an empty receive
    // means the queue has nothing else to give; a message seen twice ends the run too.
    let mut seen = std::collections::HashSet::new();
    let mut looked_at = Vec::new();
    'receive: loop {
        let wanted = options
            .max_messages
            .map_or(10, |max| max.saturating_sub(report.messages.len()).min(10));
        if wanted == 0 {
            break;
        }
        let received = sqs
            .receive_message()
            .queue_url(&options.queue_url)
            .max_number_of_messages(wanted as i32)
            .visibility_timeout(VISIBILITY.as_secs() as i32)
            .wait_time_seconds(1)
            .send()
            .await
            .map_err(|err| {
                CliError::Aws(format!(
                    "sqs ReceiveMessage from `{}` failed: {}",
                    options.queue_url,
                    aws_error(&err)
                ))
            })?
            .messages
            .unwrap_or_default();
        if received.is_empty() {
            break;
        }
        for message in received {
            if !seen.insert(message.message_id().unwrap_or_default().to_owned()) {
                break 'receive;
            }
            if options.dry_run
                && let Some(handle) = message.receipt_handle()
            {
                looked_at.push(handle.to_owned());
            }
            let replayed = replay_message(&sqs, &sns, options, &message).await;
            match replayed.outcome.as_str() {
                "replayed" => {
                    report.alerts_published += replayed.alerts.len();
                    report.deleted += 1;
                }
                "kept" => report.kept += 1,
                _ => {}
            }
            report.messages.push(replayed);
        }
    }
    // A dry run changes nothing: what it looked at is visible again at once.
    for handle in looked_at {
        let _ = sqs
            .change_message_visibility()
            .queue_url(&options.queue_url)
            .receipt_handle(handle)
            .visibility_timeout(0)
            .send()
            .await;
    }
    Ok(report)
}

async fn replay_message(
    sqs: &aws_sdk_sqs::Client,
    sns: &aws_sdk_sns::Client,
    options: &ReplayOptions,
    message: &Message,
) -> ReplayedMessage {
    let mut replayed = ReplayedMessage {
        message_id: message.message_id().unwrap_or_default().to_owned(),
        condition: None,
        invocations: None,
        error: None,
        alerts: Vec::new(),
        unreadable: Vec::new(),
        outcome: "kept".to_owned(),
        reason: None,
    };
    let keep = |mut replayed: ReplayedMessage, reason: String| {
        replayed.outcome = "kept".to_owned();
        replayed.reason = Some(reason);
        replayed
    };
    let record: Value = match serde_json::from_str(message.body().unwrap_or_default()) {
        Ok(record) => record,
        Err(error) => return keep(replayed, format!("the message body is not JSON: {error}")),
    };
    replayed.condition = text(&record, "/requestContext/condition");
    replayed.invocations = record
        .pointer("/requestContext/approximateInvokeCount")
        .and_then(Value::as_u64);
    replayed.error = text(&record, "/responsePayload/errorMessage");
    // An invocation record carries the event as `requestPayload`; a bare SNS event is taken too.
    let event = record.get("requestPayload").unwrap_or(&record);
    let Some(records) = event
        .get("Records")
        .or_else(|| event.get("records"))
        .and_then(Value::as_array)
    else {
        return keep(
            replayed,
            "not a Lambda on-failure record of an SNS event: no `requestPayload.Records`".to_owned(),
        );
    };
    let mut alerts = Vec::new();
    for (index, sns_record) in records.iter().enumerate() {
        match alert_from_record(sns_record) {
            Ok(alert) => {
                let subject = sns_record
                    .pointer("/Sns/Subject")
                    .and_then(Value::as_str)
                    .filter(|subject| !subject.is_empty())
                    .map(str::to_owned);
                let original_id = text(sns_record, "/Sns/MessageId").unwrap_or_default();
                alerts.push((alert, subject, original_id));
            }
            Err(reason) => replayed.unreadable.push(format!("Records[{index}]: {reason}")),
        }
    }
    replayed.alerts = alerts
        .iter()
        .map(|(alert, _, _)| alert.alert.alert_guid.clone())
        .collect();
    if options.dry_run {
        replayed.outcome = "would-replay".to_owned();
        return replayed;
    }
    for (alert, subject, original_id) in &alerts {
        let body = match serde_json::to_string(&alert_model::NativeEnvelope::new(alert.clone())) {
            Ok(body) => body,
            Err(error) => return keep(replayed, format!("cannot write the alert: {error}")),
        };
        let mut publish = sns
            .publish()
            .topic_arn(&options.topic_arn)
            .message(body)
            .set_subject(subject.clone());
        // Which message this replays, for whoever reads the topic; the functions do not need it.
        if let (false, Ok(attribute)) = (
            original_id.is_empty(),
            aws_sdk_sns::types::MessageAttributeValue::builder()
                .data_type("String")
                .string_value(original_id)
                .build(),
        ) {
            publish = publish.message_attributes("tocsin.replayOf", attribute);
        }
        if let Err(error) = publish.send().await {
            // Alerts published before this one are delivered at most once anyway (their claims);
            // the record stays, so the next replay publishes them all again.
            return keep(
                replayed,
                format!(
                    "sns Publish to `{}` failed: {}",
                    options.topic_arn,
                    aws_error(&error)
                ),
            );
        }
    }
    let Some(handle) = message.receipt_handle() else {
        return keep(replayed, "the message has no receipt handle".to_owned());
    };
    match sqs
        .delete_message()
        .queue_url(&options.queue_url)
        .receipt_handle(handle)
        .send()
        .await
    {
        Ok(_) => {
            replayed.outcome = "replayed".to_owned();
            replayed
        }
        Err(error) => keep(
            replayed,
            format!(
                "published, but sqs DeleteMessage failed (a later replay sends nothing twice): {}",
                aws_error(&error)
            ),
        ),
    }
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).map(str::to_owned)
}

/// `tocsin replay`: prints one line (or JSON object) per queue message and a summary.
pub(crate) async fn run(
    queue_url: Option<String>,
    topic_arn: Option<String>,
    max_messages: Option<usize>,
    dry_run: bool,
    json: bool,
) -> Result<(), CliError> {
    let queue_url = queue_url
        .or_else(|| std::env::var("TOCSIN_FAILED_QUEUE_URL").ok().filter(|url| !url.is_empty()))
        .ok_or_else(|| {
            CliError::Input(
                "no queue: give --queue-url or set TOCSIN_FAILED_QUEUE_URL (the stack output FailedAlertsQueueUrl)"
                    .to_owned(),
            )
        })?;
    let sdk = crate::aws::sdk_config().await;
    let topic_arn = crate::commands::publish::topic_arn(&sdk, topic_arn).await?;
    let options = ReplayOptions {
        queue_url,
        topic_arn,
        max_messages,
        dry_run,
    };
    let report = replay(&sdk, &options).await?;
    for message in &report.messages {
        if json {
            println!("{}", serde_json::to_string(message).unwrap_or_default());
            continue;
        }
        let why = match (&message.condition, message.invocations, &message.error) {
            (Some(condition), Some(invocations), Some(error)) => {
                format!(" ({condition} after {invocations} invocation(s): {error})")
            }
            (Some(condition), _, _) => format!(" ({condition})"),
            _ => String::new(),
        };
        let alerts = message.alerts.join(", ");
        match message.outcome.as_str() {
            "replayed" => println!("replayed {}: alert(s) {alerts}{why}", message.message_id),
            "would-replay" => println!("would replay {}: alert(s) {alerts}{why}", message.message_id),
            _ => println!(
                "kept {}: {}{why}",
                message.message_id,
                message.reason.as_deref().unwrap_or("")
            ),
        }
        for unreadable in &message.unreadable {
            println!("  skipped unreadable record {unreadable}");
        }
    }
    let summary = if dry_run {
        format!("{} message(s) would be replayed", report.messages.len())
    } else {
        format!(
            "{} message(s) replayed ({} alert(s) re-published), {} kept in the queue",
            report.deleted, report.alerts_published, report.kept
        )
    };
    eprintln!("{summary}");
    if report.kept > 0 && !dry_run {
        return Err(CliError::Aws(format!(
            "{} message(s) could not be replayed and stay in the queue",
            report.kept
        )));
    }
    Ok(())
}
