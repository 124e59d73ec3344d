//! Delivery-failure metrics as CloudWatch Embedded Metric Format (EMF) log lines.
//!
//! A line on standard output that is a JSON object with an `_aws.CloudWatchMetrics` directive is
//! turned into metrics by CloudWatch Logs, with no API call and no extra permission
//! (<https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>).
//! One line per failed route: metric `DeliveryFailures` (Count, 1) with the dimension sets
//! `[Kind, Outcome]` and `[Kind, Integration, Outcome]`, and the alert id, step, attempts and the
//! redacted reason as properties, so that the log line itself says what failed.

use std::{
    io::Write as _,
    sync::{Arc, Mutex, PoisonError},
};

use serde_json::{Value, json};

use crate::pipeline::RouteFailure;

/// The metric's name.
pub const DELIVERY_FAILURES: &str = "DeliveryFailures";

/// How a failed route ended in this invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum FailureOutcome {
    /// It will not be sent again.
    Permanent,
    /// Left for a retry of the invocation (attempts exhausted or no time left).
    Retryable,
}

impl FailureOutcome {
    /// `permanent` or `retryable`: the `Outcome` dimension.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureOutcome::Permanent => "permanent",
            FailureOutcome::Retryable => "retryable",
        }
    }
}

/// Where metric lines go.
#[derive(Debug, Clone, Default)]
pub enum MetricsSink {
    /// Nowhere (a pipeline that is not a Lambda function's: tests, the CLI's `render`).
    #[default]
    Off,
    /// Standard output, one JSON line each (Lambda sends it to CloudWatch Logs).
    Stdout,
    /// Kept in memory (tests, local tools).
    Memory(Arc<Mutex<Vec<Value>>>),
}

impl MetricsSink {
    /// A sink that keeps the lines, and the handle to read them.
    pub fn memory() -> (MetricsSink, Arc<Mutex<Vec<Value>>>) {
        let lines = Arc::new(Mutex::new(Vec::new()));
        (MetricsSink::Memory(Arc::clone(&lines)), lines)
    }

    /// Writes one line. Standard output failing (closed pipe) loses the metric, never the delivery.
    pub fn emit(&self, line: Value) {
        match self {
            MetricsSink::Off => {}
            MetricsSink::Stdout => {
                let mut out = std::io::stdout().lock();
                let _ = writeln!(out, "{line}");
            }
            MetricsSink::Memory(lines) => lines.lock().unwrap_or_else(PoisonError::into_inner).push(line),
        }
    }
}

/// The EMF line of one failed route, at `timestamp_ms` (epoch milliseconds).
pub fn failure_line(namespace: &str, route: &RouteFailure, timestamp_ms: i64) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [["Kind", "Outcome"], ["Kind", "Integration", "Outcome"]],
                "Metrics": [{"Name": DELIVERY_FAILURES, "Unit": "Count"}],
            }],
        },
        "Kind": route.kind.as_str(),
        "Integration": route.integration_id,
        "Outcome": route.outcome.as_str(),
        DELIVERY_FAILURES: 1,
        "alertId": route.alert_id,
        "step": route.step,
        "attempts": route.attempts,
        "reason": route.reason,
    })
}

/// The metric of alerts that reach no route of any kind.
pub const UNROUTED: &str = "Unrouted";

/// The EMF line of an alert that reaches no route of any kind (metric `Unrouted`, no dimension),
/// at `timestamp_ms`, with the alert and its monitor as properties.
pub fn unrouted_line(namespace: &str, alert: &alert_model::Alert, timestamp_ms: i64) -> Value {
    json!({
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [[]],
                "Metrics": [{"Name": UNROUTED, "Unit": "Count"}],
            }],
        },
        UNROUTED: 1,
        "alertId": alert.alert.alert_guid,
        "alertType": alert.alert.alert_type.as_str(),
        "monitor": alert.monitor.name,
        "monitorGuid": alert.monitor.monitor_guid,
    })
}
