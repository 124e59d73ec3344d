//! `tocsin log --alert ID [--json]`

use notify_core::{DeliveryLog, DynamoDeliveryLog, LogTimes};

use crate::{CliError, aws};

pub(crate) async fn run(alert_id: &str, table: Option<String>, json: bool) -> Result<(), CliError> {
    let table = aws::setting(table, "DELIVERIES_TABLE", "Deliveries");
    let client = aws_sdk_dynamodb::Client::new(&aws::sdk_config().await);
    let log = DynamoDeliveryLog::new(client, table, LogTimes::default());
    print(&log, alert_id, json).await
}

/// Prints the delivery log of `alert_id`: the state of each message, then every attempt.
pub(crate) async fn print(log: &impl DeliveryLog, alert_id: &str, json: bool) -> Result<(), CliError> {
    let states = log
        .states(alert_id)
        .await
        .map_err(|err| CliError::Aws(err.to_string()))?;
    let history = log
        .history(alert_id)
        .await
        .map_err(|err| CliError::Aws(err.to_string()))?;
    if json {
        for record in &history {
            println!("{}", serde_json::to_string(record).unwrap_or_default());
        }
        return Ok(());
    }
    if states.is_empty() && history.is_empty() {
        println!("no deliveries recorded for alert {alert_id}");
        return Ok(());
    }
    println!("alert {alert_id}");
    println!(
        "  {:<14} {:<22} {:<10} {:>8}  external id / last error",
        "integration", "step", "status", "attempts"
    );
    for state in &states {
        let status = serde_json::to_value(state.status)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        let note = state
            .external_id
            .clone()
            .or_else(|| state.last_error.clone())
            .unwrap_or_default();
        println!(
            "  {:<14} {:<22} {:<10} {:>8}  {}",
            state.key.integration_id,
            state.key.step,
            status,
            state.attempts,
            note.chars().take(80).collect::<String>()
        );
    }
    println!("  attempts:");
    for record in &history {
        let outcome = serde_json::to_value(record.outcome)
            .ok()
            .map(|value| {
                value
                    .as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| value.to_string())
            })
            .unwrap_or_default();
        println!(
            "    {} {:<14} {:<22} #{} {:<10} http {:<4} {:>5} ms {}",
            record.time.format("%H:%M:%S%.3f"),
            record.key.integration_id,
            record.key.step,
            record.attempt,
            outcome,
            record
                .http_status
                .map(|status| status.to_string())
                .unwrap_or_else(|| "-".to_owned()),
            record.latency_ms,
            record
                .error
                .as_deref()
                .unwrap_or("")
                .chars()
                .take(80)
                .collect::<String>()
        );
    }
    Ok(())
}
