use std::{collections::BTreeMap, fs, path::PathBuf};

use serde_json::{Value, json};

use super::*;
use crate::AlertType;

static NO_ATTRIBUTES: BTreeMap<String, String> = BTreeMap::new();
const SNS_TIME: &str = "2026-11-28T10:00:30.000Z";

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn message<'a>(text: &'a str, subject: Option<&'a str>) -> InboundMessage<'a> {
    InboundMessage {
        message: text,
        subject,
        message_id: "0c9a3b7e-5d1f-5a2b-8e4c-6f7a8b9c0d1e",
        timestamp: Some(SNS_TIME),
        attributes: &NO_ATTRIBUTES,
    }
}

fn run(text: &str, subject: Option<&str>) -> Result<Normalized, InboundError> {
    normalize(&message(text, subject))
}

fn ok(text: &str, subject: Option<&str>) -> Normalized {
    match run(text, subject) {
        Ok(normalized) => normalized,
        Err(error) => panic!(
            "expected a normalised alert, got `{error}` for {:?}…",
            preview(text)
        ),
    }
}

fn preview(text: &str) -> &str {
    text.char_indices()
        .nth(200)
        .and_then(|(end, _)| text.get(..end))
        .unwrap_or(text)
}

/// Loads `fixtures/inbound/<name>.json` or `.txt` (and `<name>.subject` when present), normalises
/// it as SNS would deliver it, and snapshots the format and every variable.
fn check(name: &str) -> Normalized {
    let dir = manifest_dir().join("fixtures/inbound");
    let body = ["json", "txt"]
        .iter()
        .find_map(|ext| fs::read_to_string(dir.join(format!("{name}.{ext}"))).ok())
        .unwrap_or_else(|| {
            panic!(
                "fixture {name}.json or {name}.txt is missing in {}",
                dir.display()
            )
        });
    let subject = fs::read_to_string(dir.join(format!("{name}.subject"))).ok();
    let subject = subject.as_deref().map(|subject| subject.trim_end_matches('\n'));
    let message_id = format!("fixture-{name}");
    let input = InboundMessage {
        message: &body,
        subject,
        message_id: &message_id,
        timestamp: Some(SNS_TIME),
        attributes: &NO_ATTRIBUTES,
    };
    let normalized = normalize(&input).unwrap_or_else(|error| panic!("fixture {name}: {error}"));
    insta::assert_json_snapshot!(
        name,
        json!({"format": normalized.format, "alert": normalized.alert})
    );
    normalized
}

// ---------------------------------------------------------------------------------------------
// Fixtures, one per format and variant.

#[test]
fn cloudwatch_single_metric() {
    let n = check("cloudwatch-single-metric");
    assert_eq!(n.format, InboundFormat::CloudwatchAlarm);
    assert_eq!(n.alert.alert.alert_type, AlertType::Alert);
    assert_eq!(
        n.alert.monitor.custom_fields.get("region").map(String::as_str),
        Some("eu-south-1")
    );
    assert_eq!(
        n.alert.monitor.custom_fields.get("threshold").map(String::as_str),
        Some("80")
    );
    assert_eq!(
        n.alert.incident.key,
        "cloudwatch:arn:aws:cloudwatch:eu-south-1:123456789012:alarm:HighCPU"
    );
    assert_eq!(n.alert.alert.first_error_utc, "2026-11-28T10:00:12");
    assert_eq!(n.alert.alert.timestamp_utc_formatted, "11/28/2026 10:00 AM");
}

#[test]
fn cloudwatch_null_description_and_string_actions() {
    let n = check("cloudwatch-null-description");
    assert_eq!(n.format, InboundFormat::CloudwatchAlarm);
    assert_eq!(n.alert.monitor.notes, "");
    assert!(
        n.alert.monitor.custom_fields["alarmActions"]
            .ends_with(", arn:aws:sns:us-east-2:123456789012:alerts")
    );
    assert!(
        !n.alert
            .monitor
            .custom_fields
            .contains_key("insufficientDataActions")
    );
    assert!(
        n.alert
            .monitor
            .url
            .starts_with("https://us-east-2.console.aws.amazon.com/cloudwatch/home?region=us-east-2#")
    );
}

#[test]
fn cloudwatch_metric_math() {
    let n = check("cloudwatch-metric-math");
    let fields = &n.alert.monitor.custom_fields;
    assert_eq!(fields["metricName"], "5xx rate (%)");
    assert_eq!(fields["expression"], "100 * errors / requests");
    assert_eq!(fields["namespace"], "AWS/ApiGateway");
    assert_eq!(fields["ApiName"], "orders-api");
    assert_eq!(fields["region"], "ap-northeast-1");
}

#[test]
fn cloudwatch_ok_shares_the_alarm_key() {
    let alarm = check("cloudwatch-single-metric");
    let ok = check("cloudwatch-ok");
    assert_eq!(ok.alert.alert.alert_type, AlertType::Ok);
    assert_eq!(ok.alert.incident.key, alarm.alert.incident.key);
    assert_eq!(
        ok.alert.alert.first_error_utc, "",
        "the SNS OK notification does not say when it fired"
    );
}

#[test]
fn eventbridge_alarm_and_ok_share_the_incident_key() {
    let alarm = check("eventbridge-alarm");
    let ok = check("eventbridge-ok");
    assert_eq!(alarm.format, InboundFormat::EventbridgeAlarm);
    assert_eq!(ok.format, InboundFormat::EventbridgeAlarm);
    assert_eq!(alarm.alert.alert.alert_type, AlertType::Alert);
    assert_eq!(ok.alert.alert.alert_type, AlertType::Ok);
    assert_eq!(
        alarm.alert.incident.key,
        "cloudwatch:arn:aws:cloudwatch:eu-south-1:123456789012:alarm:ServerCpuTooHigh@2026-11-28T10:00:12.551Z"
    );
    assert_eq!(ok.alert.incident.key, alarm.alert.incident.key);
    assert_eq!(ok.alert.alert.downtime_duration, "1:41:53");
    assert_eq!(
        alarm.alert.alert.alert_guid,
        "c4c1c1c9-6542-e61b-6ef0-8c4d36933a92"
    );
    assert_eq!(alarm.alert.monitor.custom_fields["threshold"], "50");
}

#[test]
fn alertmanager_json_firing_and_resolved_share_the_key() {
    let firing = check("alertmanager-firing");
    let resolved = check("alertmanager-resolved");
    assert_eq!(firing.format, InboundFormat::AlertmanagerJson);
    assert_eq!(firing.alert.alert.alert_type, AlertType::Alert);
    assert_eq!(resolved.alert.alert.alert_type, AlertType::Ok);
    assert_eq!(firing.alert.incident.key, resolved.alert.incident.key);
    assert!(firing.alert.incident.key.starts_with("alertmanager:"));
    assert_eq!(firing.alert.monitor.name, "HighLatency");
    assert_eq!(firing.alert.alert.first_error_utc, "2026-11-28T09:58:30");
    assert_eq!(resolved.alert.alert.timestamp_utc, "2026-11-28T10:32:15");
    assert_eq!(resolved.alert.alert.downtime_duration, "0:33:45");
}

#[test]
fn alertmanager_single_alert_reminder_uses_fingerprint() {
    let n = check("alertmanager-reminder-single");
    assert_eq!(n.alert.alert.alert_type, AlertType::Reminder);
    assert_eq!(n.alert.incident.key, "alertmanager:c5a1d6e9b2f3a4b7");
    assert_eq!(n.alert.monitor.custom_fields["instance"], "api-1:9100");
}

#[test]
fn alertmanager_text_firing_and_resolved_share_the_key() {
    let firing = check("alertmanager-text-firing");
    let resolved = check("alertmanager-text-resolved");
    assert_eq!(firing.format, InboundFormat::AlertmanagerText);
    assert_eq!(resolved.format, InboundFormat::AlertmanagerText);
    assert_eq!(firing.alert.alert.alert_type, AlertType::Alert);
    assert_eq!(resolved.alert.alert.alert_type, AlertType::Ok);
    assert_eq!(firing.alert.incident.key, resolved.alert.incident.key);
    assert_eq!(firing.alert.monitor.name, "HighLatency");
    // Labels both alerts share; `instance` differs.
    assert_eq!(
        firing.alert.monitor.custom_fields.get("team").map(String::as_str),
        Some("ops")
    );
    assert!(!firing.alert.monitor.custom_fields.contains_key("instance"));
}

#[test]
fn grafana_json() {
    let n = check("grafana");
    assert_eq!(n.format, InboundFormat::GrafanaJson);
    assert_eq!(n.alert.account.account_id, "1");
    assert_eq!(
        n.alert.monitor.dashboard_url,
        "https://grafana.example.com/d/infra01?orgId=1"
    );
    assert!(n.alert.incident.key.starts_with("grafana:"));
}

#[test]
fn grafana_text() {
    let n = check("grafana-text");
    assert_eq!(n.format, InboundFormat::GrafanaText);
    assert_eq!(n.alert.alert.alert_type, AlertType::Alert);
    assert_eq!(n.alert.monitor.name, "DiskFull");
    assert_eq!(n.alert.alert.description, "Disk almost full on db-1");
    assert_eq!(
        n.alert.monitor.dashboard_url,
        "https://grafana.example.com/d/infra01?orgId=1"
    );
}

#[test]
fn plain_text_with_and_without_subject() {
    let with = check("plain-text");
    assert_eq!(with.format, InboundFormat::PlainText);
    assert_eq!(with.alert.monitor.name, "Backup job failed on db-1");
    assert!(
        with.alert
            .alert
            .description
            .contains("{{@monitor.name}} and {% raw %} — ünïcödé ✓")
    );
    let without = check("plain-text-no-subject");
    assert_eq!(without.alert.monitor.name, "Disk space low on build-agent-7");
}

#[test]
fn unknown_json_is_plain_text() {
    let n = check("unknown-json");
    assert_eq!(n.format, InboundFormat::PlainText);
    assert!(n.alert.alert.description.contains("\"checkout\""));
}

#[test]
fn native_envelope_is_taken_as_given() {
    let n = check("native");
    assert_eq!(n.format, InboundFormat::Native);
    assert_eq!(
        n.alert.alert.alert_type,
        AlertType::Alert,
        "`Error` is the API's name for Alert"
    );
    assert_eq!(n.alert.alert.alert_guid, "cbfc7769-edb2-46a7-89d0-1e1b1fb0815b");
    assert_eq!(
        n.alert.incident.key, "849b2046-213d-43ad-9efc-5af1faaeb222",
        "falls back to the monitor guid"
    );
    assert_eq!(n.alert.monitor.custom_fields["Team"], "ops");
    assert_eq!(n.alert.escalation_level.id, 2);
    assert_eq!(n.alert.account.account_id, "299840");
    assert_eq!(n.alert.alert.timestamp_formatted, "11/28/2026 9:26 AM");
    assert_eq!(n.alert.alert.first_error, "2026-11-28T09:21:58");
}

#[test]
fn native_delivery_target_is_kept_and_round_trips() {
    let text = r#"{"version":1,"alert":{"alertGuid":"n-1"},"deliverTo":{"integration":"ops-email","reason":"delivery-failure"}}"#;
    let n = ok(text, None);
    let target = n.alert.deliver_to.clone().expect("deliverTo is kept");
    assert_eq!(target.integration, "ops-email");
    assert_eq!(target.reason, crate::DELIVERY_FAILURE);
    let again = serde_json::to_string(&crate::NativeEnvelope::new(n.alert.clone())).unwrap();
    assert_eq!(ok(&again, None).alert, n.alert);
    // An envelope without it, or with an empty integration, has none; none is not serialised.
    assert_eq!(ok(r#"{"version":1,"alert":{}}"#, None).alert.deliver_to, None);
    let empty = ok(
        r#"{"version":1,"alert":{},"deliverTo":{"integration":" "}}"#,
        None,
    );
    assert_eq!(empty.alert.deliver_to, None);
    assert!(!serde_json::to_string(&empty.alert).unwrap().contains("deliverTo"));
}

// ---------------------------------------------------------------------------------------------
// Detection.

#[test]
fn detection_table() {
    let cases: &[(&str, Option<&str>, InboundFormat)] = &[
        (
            r#"{"version":1,"alert":{"type":"Ok"}}"#,
            None,
            InboundFormat::Native,
        ),
        (
            r#"{"version":"1","monitor":{"name":"x"},"alert":{}}"#,
            None,
            InboundFormat::Native,
        ),
        (
            r#"{"AlarmName":"a","NewStateValue":"OK"}"#,
            None,
            InboundFormat::CloudwatchAlarm,
        ),
        (
            r#"{"version":"0","account":"1","detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{"value":"ALARM"}}}"#,
            None,
            InboundFormat::EventbridgeAlarm,
        ),
        (
            r#"{"status":"firing","alerts":[]}"#,
            None,
            InboundFormat::AlertmanagerJson,
        ),
        (
            r#"{"status":"firing","orgId":1,"alerts":[]}"#,
            None,
            InboundFormat::GrafanaJson,
        ),
        (
            r#"{"status":"firing","title":"t","state":"alerting","alerts":[]}"#,
            None,
            InboundFormat::GrafanaJson,
        ),
        (
            "x\nAlerts Firing:\nLabels:\n - alertname = A\n",
            None,
            InboundFormat::AlertmanagerText,
        ),
        (
            "custom body",
            Some("[FIRING:1] A"),
            InboundFormat::AlertmanagerText,
        ),
        (
            "custom body",
            Some("[RESOLVED] A (b)"),
            InboundFormat::AlertmanagerText,
        ),
        (
            "**Resolved**\n\nValue: A=1\nLabels:\n - alertname = A\n",
            None,
            InboundFormat::GrafanaText,
        ),
        ("**Firing**\n", Some("[FIRING:1] A"), InboundFormat::GrafanaText),
        ("hello", None, InboundFormat::PlainText),
        ("hello", Some("[WARN] not alertmanager"), InboundFormat::PlainText),
        ("{not json at all", None, InboundFormat::PlainText),
        ("{{@monitor.name}} is down", None, InboundFormat::PlainText),
        ("[1, 2, 3]", None, InboundFormat::PlainText),
        (r#"{"version":1}"#, None, InboundFormat::PlainText),
        (
            r#"{"version":"0","account":"1","detail-type":"EC2 Instance State-change Notification","detail":{}}"#,
            None,
            InboundFormat::PlainText,
        ),
        ("\"just a json string\"", None, InboundFormat::PlainText),
        ("42", None, InboundFormat::PlainText),
    ];
    for (text, subject, expected) in cases {
        let found = run(text, *subject).map(|normalized| normalized.format);
        assert_eq!(found, Ok(*expected), "message {text:?} with subject {subject:?}");
    }
}

#[test]
fn alert_types_by_state() {
    let cases: &[(&str, AlertType)] = &[
        (r#"{"AlarmName":"a","NewStateValue":"ALARM"}"#, AlertType::Alert),
        (r#"{"AlarmName":"a","NewStateValue":"OK"}"#, AlertType::Ok),
        (
            r#"{"AlarmName":"a","NewStateValue":"INSUFFICIENT_DATA"}"#,
            AlertType::Alert,
        ),
        (r#"{"status":"resolved","alerts":[]}"#, AlertType::Ok),
        (
            r#"{"status":"firing","notification_reason":"repeat interval elapsed","alerts":[]}"#,
            AlertType::Reminder,
        ),
        (
            r#"{"version":1,"alert":{"type":"reminder"}}"#,
            AlertType::Reminder,
        ),
        (r#"{"version":1,"alert":{"type":"resolved"}}"#, AlertType::Ok),
        ("Alerts Resolved:\nLabels:\n - alertname = A\n", AlertType::Ok),
    ];
    for (text, expected) in cases {
        assert_eq!(ok(text, None).alert.alert.alert_type, *expected, "message {text}");
    }
}

#[test]
fn plain_text_type_comes_from_attributes() {
    let attributes = BTreeMap::from([("status".to_owned(), "resolved".to_owned())]);
    let input = InboundMessage {
        attributes: &attributes,
        ..message("all good again", Some("Backup"))
    };
    let n = normalize(&input).unwrap();
    assert_eq!(n.alert.alert.alert_type, AlertType::Ok);
    assert_eq!(n.alert.monitor.custom_fields["status"], "resolved");
}

// ---------------------------------------------------------------------------------------------
// Errors, with their paths.

fn invalid_at(format: InboundFormat, path: &str) -> impl Fn(&InboundError) -> bool + '_ {
    move |error| matches!(error, InboundError::Invalid { format: f, path: p, .. } if *f == format && p == path)
}

#[test]
fn error_table() {
    use InboundFormat::*;
    let cases: &[(&str, InboundFormat, &str)] = &[
        (r#"{"version":2,"alert":{}}"#, Native, "$.version"),
        (r#"{"version":"one","alert":{}}"#, Native, "$.version"),
        (r#"{"version":1,"monitor":{"name":"x"}}"#, Native, "$.alert"),
        (r#"{"version":1,"alert":[]}"#, Native, "$.alert"),
        (
            r#"{"version":1,"alert":{"type":"Explosion"}}"#,
            Native,
            "$.alert.type",
        ),
        (r#"{"version":1,"alert":{"type":3}}"#, Native, "$.alert.type"),
        (r#"{"version":1,"alert":{},"monitor":"x"}"#, Native, "$.monitor"),
        (
            r#"{"version":1,"alert":{},"deliverTo":"ops-email"}"#,
            Native,
            "$.deliverTo",
        ),
        (
            r#"{"version":1,"alert":{},"escalationLevel":{"id":"first"}}"#,
            Native,
            "$.escalationLevel",
        ),
        (
            r#"{"version":1,"alert":{},"monitor":{"customFields":[{"Value":"x"}]}}"#,
            Native,
            "$.monitor",
        ),
        (r#"{"NewStateValue":"ALARM"}"#, CloudwatchAlarm, "$.AlarmName"),
        (
            r#"{"AlarmName":"","NewStateValue":"ALARM"}"#,
            CloudwatchAlarm,
            "$.AlarmName",
        ),
        (
            r#"{"AlarmName":7,"NewStateValue":"ALARM"}"#,
            CloudwatchAlarm,
            "$.AlarmName",
        ),
        (r#"{"AlarmName":"a"}"#, CloudwatchAlarm, "$.NewStateValue"),
        (
            r#"{"AlarmName":"a","NewStateValue":"ON_FIRE"}"#,
            CloudwatchAlarm,
            "$.NewStateValue",
        ),
        (
            r#"{"AlarmName":"a","NewStateValue":"OK","StateChangeTime":"yesterday"}"#,
            CloudwatchAlarm,
            "$.StateChangeTime",
        ),
        (
            r#"{"detail-type":"CloudWatch Alarm State Change"}"#,
            EventbridgeAlarm,
            "$.detail",
        ),
        (
            r#"{"detail-type":"CloudWatch Alarm State Change","detail":{}}"#,
            EventbridgeAlarm,
            "$.detail.alarmName",
        ),
        (
            r#"{"detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a"}}"#,
            EventbridgeAlarm,
            "$.detail.state",
        ),
        (
            r#"{"detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{}}}"#,
            EventbridgeAlarm,
            "$.detail.state.value",
        ),
        (
            r#"{"detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{"value":"x"}}}"#,
            EventbridgeAlarm,
            "$.detail.state.value",
        ),
        (
            r#"{"detail-type":"CloudWatch Alarm State Change","detail":{"alarmName":"a","state":{"value":"OK"},"previousState":{"value":"ALARM","timestamp":"soon"}}}"#,
            EventbridgeAlarm,
            "$.detail.previousState.timestamp",
        ),
        (r#"{"groupKey":"g","alerts":[]}"#, AlertmanagerJson, "$.status"),
        (
            r#"{"status":"pending","alerts":[]}"#,
            AlertmanagerJson,
            "$.status",
        ),
        (r#"{"status":"firing","alerts":{}}"#, AlertmanagerJson, "$.alerts"),
        (
            r#"{"status":"firing","alerts":[{},"x"]}"#,
            AlertmanagerJson,
            "$.alerts[1]",
        ),
        (
            r#"{"status":"firing","alerts":[{"startsAt":"noon"}]}"#,
            AlertmanagerJson,
            "$.alerts[0].startsAt",
        ),
        (
            r#"{"status":"firing","orgId":1,"alerts":[{"endsAt":5}]}"#,
            GrafanaJson,
            "$.alerts[0].endsAt",
        ),
    ];
    for (text, format, path) in cases {
        match run(text, None) {
            Err(error) => {
                assert!(
                    invalid_at(*format, path)(&error),
                    "message {text}: expected {format:?} at {path}, got {error:?}"
                );
                assert!(!error.to_string().is_empty());
            }
            Ok(normalized) => panic!(
                "message {text}: expected an error at {path}, got {:?}",
                normalized.format
            ),
        }
    }
}

#[test]
fn error_messages_name_the_reason() {
    let error = run(r#"{"AlarmName":"a"}"#, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid CloudwatchAlarm message at `$.NewStateValue`: missing required field `NewStateValue`"
    );
    let error = run(r#"{"version":2,"alert":{}}"#, None).unwrap_err();
    assert_eq!(
        error.to_string(),
        "invalid Native message at `$.version`: unsupported native envelope version 2 (expected 1)"
    );
}

#[test]
fn empty_messages_are_refused() {
    for text in ["", " ", "\n\t  \r\n"] {
        assert_eq!(
            run(text, Some("subject")),
            Err(InboundError::Empty),
            "message {text:?}"
        );
    }
}

#[test]
fn a_300_kb_message_is_too_large() {
    let text = "x".repeat(300 * 1024);
    assert_eq!(
        run(&text, None),
        Err(InboundError::TooLarge {
            size: 300 * 1024,
            max: MAX_MESSAGE_BYTES
        })
    );
    let at_limit = "y".repeat(MAX_MESSAGE_BYTES);
    assert_eq!(
        ok(&at_limit, None).alert.alert.description.len(),
        MAX_MESSAGE_BYTES
    );
}

#[test]
fn deeply_nested_json_is_invalid_not_a_crash() {
    let arrays = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    let unclosed = "[".repeat(10_000);
    for text in [arrays, objects, unclosed] {
        match run(&text, None) {
            Err(InboundError::Invalid { path, reason, .. }) => {
                assert_eq!(path, "$");
                assert!(reason.contains("nested too deeply"), "{reason}");
            }
            other => panic!(
                "expected Invalid for {}…, got {other:?}",
                text.get(..20).unwrap_or_default()
            ),
        }
    }
    // Moderately nested JSON of unknown shape is plain text.
    let shallow = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert_eq!(ok(&shallow, None).format, InboundFormat::PlainText);
}

// ---------------------------------------------------------------------------------------------
// Stability of derived ids.

#[test]
fn same_message_id_gives_same_alert_guid() {
    let text = r#"{"AlarmName":"a","NewStateValue":"ALARM"}"#;
    let first = ok(text, None);
    let again = ok(text, None);
    assert_eq!(first.alert.alert.alert_guid, again.alert.alert.alert_guid);
    assert_eq!(
        uuid::Uuid::parse_str(&first.alert.alert.alert_guid).map(|id| id.get_version_num()),
        Ok(5)
    );
    let other = normalize(&InboundMessage {
        message_id: "another-id",
        ..message(text, None)
    })
    .unwrap();
    assert_ne!(other.alert.alert.alert_guid, first.alert.alert.alert_guid);
    // Without a message id, the content seeds it.
    let a = normalize(&InboundMessage {
        message_id: "",
        ..message("same text", None)
    })
    .unwrap();
    let b = normalize(&InboundMessage {
        message_id: "",
        ..message("same text", None)
    })
    .unwrap();
    let c = normalize(&InboundMessage {
        message_id: "",
        ..message("other text", None)
    })
    .unwrap();
    assert_eq!(a.alert.alert.alert_guid, b.alert.alert.alert_guid);
    assert_ne!(a.alert.alert.alert_guid, c.alert.alert.alert_guid);
}

#[test]
fn firing_and_resolved_give_the_same_incident_key() {
    let pairs: &[(&str, Option<&str>, &str, Option<&str>)] = &[
        (
            r#"{"AlarmName":"a","AlarmArn":"arn:aws:cloudwatch:eu-west-1:1:alarm:a","NewStateValue":"ALARM"}"#,
            None,
            r#"{"AlarmName":"a","AlarmArn":"arn:aws:cloudwatch:eu-west-1:1:alarm:a","NewStateValue":"OK"}"#,
            None,
        ),
        (
            r#"{"status":"firing","groupKey":"{}:{alertname=\"A\"}","alerts":[{"fingerprint":"1"},{"fingerprint":"2"}]}"#,
            None,
            r#"{"status":"resolved","groupKey":"{}:{alertname=\"A\"}","alerts":[{"fingerprint":"2"}]}"#,
            None,
        ),
        (
            r#"{"status":"firing","alerts":[{"fingerprint":"abc"}]}"#,
            None,
            r#"{"status":"resolved","alerts":[{"fingerprint":"abc"}]}"#,
            None,
        ),
        (
            "body",
            Some("[FIRING:3] A b (c d)"),
            "body",
            Some("[RESOLVED] A b (c d)"),
        ),
        (
            "body",
            Some("[FIRING:1] A b (c (d))"),
            "body",
            Some("[RESOLVED] A b (c (e))"),
        ),
        (
            "**Firing**\n",
            Some("[FIRING:1] A"),
            "**Resolved**\n",
            Some("[RESOLVED] A"),
        ),
        ("it broke", Some("Backup"), "it works", Some("Backup")),
        // Subjects cut at 100 characters lose different tails.
        (
            "body",
            Some(
                "[FIRING:12] VeryLongAlertName eu-west-1 production-cluster-number-one checkout-service (critical team-paym…",
            ),
            "body",
            Some(
                "[RESOLVED] VeryLongAlertName eu-west-1 production-cluster-number-one checkout-service (critical team-payme…",
            ),
        ),
        (
            "body",
            Some(
                "[FIRING:12] VeryLongAlertName eu-west-1 production-cluster-number-one checkout-service payments-backen...",
            ),
            "body",
            Some(
                "[RESOLVED] VeryLongAlertName eu-west-1 production-cluster-number-one checkout-service payments-backend...",
            ),
        ),
    ];
    for (firing, firing_subject, resolved, resolved_subject) in pairs {
        let a = ok(firing, *firing_subject);
        let b = ok(resolved, *resolved_subject);
        assert!(!a.alert.incident.key.is_empty());
        assert_eq!(
            a.alert.incident.key, b.alert.incident.key,
            "{firing} / {resolved}"
        );
    }
    // Different groups, different keys.
    assert_ne!(
        ok("body", Some("[FIRING:1] A")).alert.incident.key,
        ok("body", Some("[FIRING:1] B")).alert.incident.key
    );
}

#[test]
fn eventbridge_key_falls_back_to_the_arn() {
    let text = r#"{"detail-type":"CloudWatch Alarm State Change","region":"eu-west-1","account":"1","detail":{"alarmName":"a","state":{"value":"INSUFFICIENT_DATA"},"previousState":{"value":"OK"}}}"#;
    let n = ok(text, None);
    assert_eq!(
        n.alert.incident.key,
        "cloudwatch:arn:aws:cloudwatch:eu-west-1:1:alarm:a"
    );
    assert_eq!(
        n.alert.alert.timestamp_utc, "2026-11-28T10:00:30",
        "no own time: the SNS time"
    );
}

#[test]
fn cloudwatch_console_links_follow_the_partition() {
    let cases = [
        (
            "arn:aws-cn:cloudwatch:cn-north-1:1:alarm:a b",
            "https://cn-north-1.console.amazonaws.cn/cloudwatch/home?region=cn-north-1#alarmsV2:alarm/a%20b",
        ),
        (
            "arn:aws-us-gov:cloudwatch:us-gov-west-1:1:alarm:a",
            "https://console.amazonaws-us-gov.com/cloudwatch/home?region=us-gov-west-1#alarmsV2:alarm/a",
        ),
    ];
    for (arn, url) in cases {
        let name = arn.rsplit(':').next().unwrap();
        let text = json!({"AlarmName": name, "AlarmArn": arn, "NewStateValue": "ALARM"}).to_string();
        assert_eq!(ok(&text, None).alert.monitor.dashboard_url, url);
    }
}

// ---------------------------------------------------------------------------------------------
// Hostile values and malformed input.

const HOSTILE: &[&str] = &[
    "quote \" and 'single'",
    "new\nline\r\nand\ttab",
    "{{@account.accountId}} {% raw %} {{ 7*7 }}",
    "<script>alert(1)</script>",
    "ünïcödé ✓ 🚨 \u{200c} \u{0}",
    "back\\slash",
];

#[test]
fn hostile_values_pass_through_unchanged() {
    for value in HOSTILE {
        let native = json!({"version": 1, "alert": {"description": value}, "monitor": {"name": value, "notes": value, "customFields": {"Team": value}}});
        let n = ok(&native.to_string(), None);
        assert_eq!(&n.alert.alert.description, value);
        assert_eq!(&n.alert.monitor.notes, value);
        assert_eq!(&n.alert.monitor.custom_fields["Team"], value);

        // (Identifiers are not values: an ARN with a control character is refused, see
        // `identifiers_with_control_characters_are_refused`.)
        let cloudwatch = json!({"AlarmName": value, "AlarmDescription": value, "NewStateValue": "ALARM", "NewStateReason": value,
            "AlarmArn": "arn:aws:cloudwatch:eu-west-1:1:alarm:hostile"});
        let n = ok(&cloudwatch.to_string(), None);
        assert_eq!(&n.alert.monitor.name, value);
        assert_eq!(&n.alert.monitor.notes, value);
        assert_eq!(&n.alert.alert.description, value);

        let alertmanager = json!({"status": "firing", "commonLabels": {"alertname": value, "team": value},
            "commonAnnotations": {"summary": value, "description": value}, "alerts": [{"labels": {"alertname": value}}]});
        let n = ok(&alertmanager.to_string(), None);
        assert_eq!(&n.alert.monitor.name, value);
        assert_eq!(&n.alert.alert.description, value);
        assert_eq!(&n.alert.monitor.custom_fields["team"], value);

        let n = ok(&format!("{value}\nmore"), Some(value));
        assert_eq!(n.alert.alert.description, format!("{value}\nmore"));
    }
    let huge = "A\"\n".repeat(40_000);
    let native = json!({"version": 1, "alert": {"description": huge}});
    assert_eq!(ok(&native.to_string(), None).alert.alert.description, huge);
}

#[test]
fn malformed_variants_never_panic() {
    let seeds: Vec<String> = fs::read_dir(manifest_dir().join("fixtures/inbound"))
        .unwrap()
        .filter_map(|entry| fs::read_to_string(entry.unwrap().path()).ok())
        .chain(
            [
                "../../examples/alerts/alert.json",
                "../../examples/alerts/alertmanager.json",
            ]
            .iter()
            .map(|path| fs::read_to_string(manifest_dir().join(path)).unwrap()),
        )
        .collect();
    let replacements = [
        "null",
        "1",
        "-1e300",
        "\"\"",
        "[]",
        "{}",
        "true",
        "\"0001-01-01T00:00:00Z\"",
        "\"9999-99-99\"",
        "\"\\u0000\"",
        "[[[]]]",
        "{\"a\":{}}",
        "\"]\"",
        "\"[\"",
    ];
    let mut runs = 0usize;
    for seed in &seeds {
        // Every prefix cut (truncated messages), at char boundaries.
        for (cut, _) in seed.char_indices().step_by(7) {
            assert_structured(run(seed.get(..cut).unwrap_or_default(), Some("[FIRING:1] x")));
            runs += 1;
        }
        // Every field of the JSON seeds replaced by odd values, at every depth.
        if let Ok(value) = serde_json::from_str::<Value>(seed) {
            let mut paths = Vec::new();
            collect_paths(&value, &mut Vec::new(), &mut paths);
            for path in &paths {
                for replacement in replacements {
                    let mut mutated = value.clone();
                    if let Some(slot) = pointer_mut(&mut mutated, path) {
                        *slot = serde_json::from_str(replacement).unwrap();
                    }
                    assert_structured(run(&mutated.to_string(), None));
                    runs += 1;
                }
            }
        }
        // Line-level damage of text seeds.
        let lines: Vec<&str> = seed.lines().collect();
        for skip in 0..lines.len() {
            let damaged: Vec<&str> = lines
                .iter()
                .enumerate()
                .filter(|(index, _)| *index != skip)
                .map(|(_, line)| *line)
                .collect();
            assert_structured(run(&damaged.join("\n"), None));
            assert_structured(run(&damaged.join("\n - = \n"), Some("[RESOLVED]")));
            runs += 2;
        }
    }
    for odd in [
        "[",
        "]",
        "[FIRING",
        "[]",
        "[FIRING:x]",
        ")",
        "(",
        " - =",
        "Labels:",
        "**Firing**\nLabels:\n - =",
    ] {
        assert_structured(run(odd, Some(odd)));
        assert_structured(run("body", Some(odd)));
        runs += 2;
    }
    assert!(runs > 5_000, "only {runs} variants ran");
}

/// A result that is an alert with its ids set, or an error that names a path.
fn assert_structured(result: Result<Normalized, InboundError>) {
    match result {
        Ok(normalized) => {
            assert!(!normalized.alert.alert.alert_guid.is_empty());
            assert!(!normalized.alert.incident.key.is_empty());
        }
        Err(InboundError::Invalid { path, reason, .. }) => {
            assert!(path.starts_with('$') && !reason.is_empty(), "{path}: {reason}");
        }
        Err(InboundError::Empty | InboundError::TooLarge { .. }) => {}
    }
}

fn collect_paths(value: &Value, current: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(key, child)| (key.clone(), child)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, child)| (index.to_string(), child))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        current.push(key);
        out.push(current.clone());
        collect_paths(child, current, out);
        current.pop();
    }
}

fn pointer_mut<'a>(value: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |value, key| match value {
        Value::Object(map) => map.get_mut(key),
        Value::Array(items) => key.parse::<usize>().ok().and_then(|index| items.get_mut(index)),
        _ => None,
    })
}

// ---------------------------------------------------------------------------------------------
// The samples in examples/alerts and events.

fn repo_file(path: &str) -> String {
    let full = manifest_dir().join("../..").join(path);
    fs::read_to_string(&full).unwrap_or_else(|error| panic!("cannot read {}: {error}", full.display()))
}

#[test]
fn samples_normalise_in_their_formats() {
    let cases: &[(&str, InboundFormat, AlertType)] = &[
        ("alert.json", InboundFormat::Native, AlertType::Alert),
        ("reminder.json", InboundFormat::Native, AlertType::Reminder),
        ("ok.json", InboundFormat::Native, AlertType::Ok),
        (
            "cloudwatch-alarm.json",
            InboundFormat::CloudwatchAlarm,
            AlertType::Alert,
        ),
        (
            "alertmanager.json",
            InboundFormat::AlertmanagerJson,
            AlertType::Alert,
        ),
    ];
    let mut native_keys = Vec::new();
    for (file, format, alert_type) in cases {
        let n = ok(&repo_file(&format!("examples/alerts/{file}")), None);
        assert_eq!(
            (n.format, n.alert.alert.alert_type),
            (*format, *alert_type),
            "examples/alerts/{file}"
        );
        if *format == InboundFormat::Native {
            assert_eq!(
                n.alert.monitor.monitor_guid,
                "849b2046-213d-43ad-9efc-5af1faaeb222"
            );
            assert_eq!(n.alert.monitor.name, "GalacticResorts.com - DNS");
            assert_eq!(
                n.alert.monitor.custom_fields.get("Team").map(String::as_str),
                Some("ops")
            );
            for hostile in ["\"", "\n", "{{@account.accountId}}", "{% raw %}"] {
                assert!(
                    n.alert.monitor.notes.contains(hostile),
                    "notes of {file} lack {hostile:?}"
                );
                if *alert_type != AlertType::Ok {
                    assert!(
                        n.alert.alert.description.contains(hostile),
                        "description of {file} lacks {hostile:?}"
                    );
                }
            }
            native_keys.push(n.alert.incident.key.clone());
        }
        if *format == InboundFormat::CloudwatchAlarm {
            assert_eq!(n.alert.monitor.name, "HighCPU");
            assert_eq!(n.alert.account.account_id, "123456789012");
            assert_eq!(
                n.alert.monitor.custom_fields.get("region").map(String::as_str),
                Some("eu-south-1")
            );
        }
        if *format == InboundFormat::AlertmanagerJson {
            assert_eq!(n.alert.monitor.name, "HighLatency");
            assert_eq!(
                n.alert.monitor.custom_fields.get("team").map(String::as_str),
                Some("ops")
            );
        }
    }
    assert_eq!(
        native_keys,
        vec!["ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746"; 3]
    );
}

#[test]
fn events_carry_the_example_alerts() {
    let dir = manifest_dir().join("../../events");
    let mut seen = Vec::new();
    for entry in fs::read_dir(&dir).unwrap_or_else(|error| panic!("cannot list {}: {error}", dir.display())) {
        let path = entry.unwrap().path();
        if path.extension().and_then(|ext| ext.to_str()) != Some("json") {
            continue;
        }
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let event: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
        let records = event["Records"]
            .as_array()
            .unwrap_or_else(|| panic!("events/{name} has no Records"));
        assert!(!records.is_empty(), "events/{name} has no records");
        for record in records {
            assert_eq!(record["EventSource"], "aws:sns", "events/{name}");
            let sns = &record["Sns"];
            let text = sns["Message"]
                .as_str()
                .unwrap_or_else(|| panic!("events/{name}: Message is not a string"));
            let example = repo_file(&format!("examples/alerts/{name}"));
            assert_eq!(
                text,
                example.trim_end(),
                "events/{name} is out of step with examples/alerts/{name}"
            );
            let input = InboundMessage {
                message: text,
                subject: sns["Subject"].as_str(),
                message_id: sns["MessageId"].as_str().unwrap(),
                timestamp: sns["Timestamp"].as_str(),
                attributes: &NO_ATTRIBUTES,
            };
            let from_event = normalize(&input).unwrap_or_else(|error| panic!("events/{name}: {error}"));
            assert_eq!(from_event.format, ok(&example, None).format, "events/{name}");
        }
        seen.push(name);
    }
    seen.sort();
    for expected in [
        "alert.json",
        "alertmanager.json",
        "cloudwatch-alarm.json",
        "ok.json",
    ] {
        assert!(
            seen.iter().any(|name| name == expected),
            "events/{expected} is missing (found {seen:?})"
        );
    }
}

#[test]
fn cloudwatch_without_arn_takes_the_region_from_its_display_name() {
    let cases = [
        (
            "EU (Milan)",
            "eu-south-1",
            "arn:aws:cloudwatch:eu-south-1:123456789012:alarm:HighCPU",
        ),
        (
            "Europe (Milan)",
            "eu-south-1",
            "arn:aws:cloudwatch:eu-south-1:123456789012:alarm:HighCPU",
        ),
        (
            "China (Beijing)",
            "cn-north-1",
            "arn:aws-cn:cloudwatch:cn-north-1:123456789012:alarm:HighCPU",
        ),
    ];
    for (display, code, arn) in cases {
        let text = json!({"AlarmName": "HighCPU", "AWSAccountId": "123456789012", "NewStateValue": "ALARM", "Region": display})
            .to_string();
        let n = ok(&text, None);
        assert_eq!(n.alert.monitor.custom_fields["region"], code, "{display}");
        assert_eq!(n.alert.monitor.monitor_guid, arn, "{display}");
        assert_eq!(n.alert.incident.key, format!("cloudwatch:{arn}"), "{display}");
    }
    // Unknown display name, no ARN: no region, no console link, the name still identifies it.
    let text = r#"{"AlarmName":"a","NewStateValue":"ALARM","Region":"Mars (Olympus)"}"#;
    let n = ok(text, None);
    assert_eq!(
        (n.alert.monitor.url.as_str(), n.alert.incident.key.as_str()),
        ("", "cloudwatch:a")
    );
    assert!(!n.alert.monitor.custom_fields.contains_key("region"));
}

#[test]
fn composite_alarms_keep_their_rule() {
    let text = r#"{"AlarmName":"ServiceDown","NewStateValue":"ALARM","AlarmArn":"arn:aws:cloudwatch:eu-west-1:1:alarm:ServiceDown","AlarmRule":"ALARM(\"HighCPU\") AND ALARM(\"High5xx\")"}"#;
    let n = ok(text, None);
    assert_eq!(
        n.alert.monitor.custom_fields["alarmRule"],
        "ALARM(\"HighCPU\") AND ALARM(\"High5xx\")"
    );
}

#[test]
fn a_byte_order_mark_does_not_hide_json() {
    let n = ok("\u{feff}{\"AlarmName\":\"a\",\"NewStateValue\":\"OK\"}", None);
    assert_eq!(n.format, InboundFormat::CloudwatchAlarm);
}

// ---------------------------------------------------------------------------------------------
// Identifiers that become keys (issue 10, item 4).

/// The `Invalid` error of `result`: its path and reason.
fn refused(result: Result<Normalized, InboundError>) -> (InboundFormat, String, String) {
    match result {
        Err(InboundError::Invalid { format, path, reason }) => (format, path, reason),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn over_long_identifiers_are_refused_naming_the_field_and_its_length() {
    let long = "g".repeat(3000);
    // (message, path, variable)
    let cases = [
        (
            json!({"version": 1, "alert": {"alertGuid": long}}),
            "$.alert.alertGuid",
            "alert.alertGuid",
        ),
        (
            json!({"version": 1, "alert": {}, "alertDefinition": {"guid": long}}),
            "$.alertDefinition.guid",
            "alertDefinition.guid",
        ),
        (
            json!({"version": 1, "alert": {}, "deliverTo": {"integration": long, "reason": "delivery-failure"}}),
            "$.deliverTo.integration",
            "deliverTo.integration",
        ),
        (
            json!({"version": 1, "alert": {}, "monitor": {"monitorGuid": long}}),
            "$.monitor.monitorGuid",
            "monitor.monitorGuid",
        ),
    ];
    for (envelope, path, variable) in cases {
        let (format, found_path, reason) = refused(run(&envelope.to_string(), None));
        assert_eq!(format, InboundFormat::Native);
        assert_eq!(found_path, path);
        assert!(
            reason.starts_with(&format!("`{variable}` is 3000 bytes long, more than the ")),
            "{reason}"
        );
    }
    // The sender's id of an EventBridge event is bounded the same way.
    let mut event: Value = serde_json::from_str(
        &fs::read_to_string(manifest_dir().join("fixtures/inbound/eventbridge-alarm.json")).unwrap(),
    )
    .unwrap();
    event["id"] = json!(long);
    let (format, path, reason) = refused(run(&event.to_string(), None));
    assert_eq!(format, InboundFormat::EventbridgeAlarm);
    assert_eq!(path, "$.alert.alertGuid");
    assert!(
        reason.contains("3000 bytes long, more than the 255 bytes"),
        "{reason}"
    );
    // At the limit, ids are kept; an alarm ARN (the monitor guid) may be longer than 255 bytes.
    let at_limit = "g".repeat(MAX_ID_BYTES);
    let n = ok(&json!({"version": 1, "alert": {"alertGuid": at_limit}, "alertDefinition": {"guid": at_limit},
        "deliverTo": {"integration": at_limit}, "monitor": {"monitorGuid": "m".repeat(MAX_MONITOR_GUID_BYTES)}, "incident": {"key": at_limit}}).to_string(), None);
    assert_eq!(n.alert.alert.alert_guid, at_limit);
    assert_eq!(n.alert.incident.key, at_limit);
    assert!(!n.alert.monitor.custom_fields.contains_key(ORIGINAL_INCIDENT_KEY));
    let arn = format!(
        "arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{}",
        "a".repeat(255)
    );
    let n = ok(
        &json!({"AlarmName": "a".repeat(255), "NewStateValue": "ALARM", "AlarmArn": arn}).to_string(),
        None,
    );
    assert_eq!(n.alert.monitor.monitor_guid, arn);
}

#[test]
fn identifiers_with_control_characters_are_refused() {
    for control in ["\u{0}", "\r", "\n", "\t", "\u{7f}"] {
        let id = format!("id{control}x");
        let cases = [
            (
                json!({"version": 1, "alert": {"alertGuid": id}}),
                "$.alert.alertGuid",
            ),
            (
                json!({"version": 1, "alert": {}, "incident": {"key": id}}),
                "$.incident.key",
            ),
            (
                json!({"version": 1, "alert": {}, "alertDefinition": {"guid": id}}),
                "$.alertDefinition.guid",
            ),
            (
                json!({"version": 1, "alert": {}, "deliverTo": {"integration": id}}),
                "$.deliverTo.integration",
            ),
            (
                json!({"version": 1, "alert": {}, "monitor": {"monitorGuid": id}}),
                "$.monitor.monitorGuid",
            ),
            // Derived: the monitor guid and incident key of an alarm are its ARN.
            (
                json!({"AlarmName": "x", "NewStateValue": "ALARM", "AlarmArn": format!("arn:aws:cloudwatch:eu-west-1:1:alarm:{id}")}),
                "$.monitor.monitorGuid",
            ),
        ];
        for (message, path) in cases {
            let (_, found, reason) = refused(run(&message.to_string(), None));
            assert_eq!(found, path, "{message}");
            assert!(
                reason.contains(&format!(
                    "contains the control character U+{:04X}",
                    u32::from(control.chars().next().unwrap())
                )),
                "{reason}"
            );
        }
    }
}

#[test]
fn an_over_long_incident_key_is_shortened_to_a_stable_hash_and_kept_whole() {
    let long_key = format!("sender-key:{}", "ü".repeat(1500));
    let firing =
        json!({"version": 1, "alert": {"alertGuid": "a-1", "type": "Alert"}, "incident": {"key": long_key}});
    let resolved =
        json!({"version": 1, "alert": {"alertGuid": "a-2", "type": "Ok"}, "incident": {"key": long_key}});
    let firing = ok(&firing.to_string(), None).alert;
    let resolved = ok(&resolved.to_string(), None).alert;
    let key = &firing.incident.key;
    assert!(key.len() <= MAX_ID_BYTES, "{} bytes", key.len());
    assert!(key.starts_with("sender-key:üü"), "{key}");
    let (_, hash) = key.split_once("#sha256:").expect("a hash");
    assert_eq!(hash.len(), 64);
    assert!(hash.bytes().all(|b| b.is_ascii_hexdigit()));
    assert_eq!(&resolved.incident.key, key, "Alert and Ok still share the key");
    assert_eq!(firing.monitor.custom_fields[ORIGINAL_INCIDENT_KEY], long_key);
    // Another key gives another hash, even with the same first bytes.
    let other = ok(
        &json!({"version": 1, "alert": {}, "incident": {"key": format!("{long_key}!")}}).to_string(),
        None,
    )
    .alert;
    assert_ne!(&other.incident.key, key);

    // Derived keys too: an EventBridge alarm with a long name has a key beyond 255 bytes.
    let mut event: Value = serde_json::from_str(
        &fs::read_to_string(manifest_dir().join("fixtures/inbound/eventbridge-alarm.json")).unwrap(),
    )
    .unwrap();
    let arn = format!(
        "arn:aws:cloudwatch:us-east-1:123456789012:alarm:{}",
        "n".repeat(255)
    );
    event["resources"] = json!([arn]);
    event["detail"]["alarmName"] = json!("n".repeat(255));
    let n = ok(&event.to_string(), None).alert;
    assert!(n.incident.key.len() <= MAX_ID_BYTES);
    assert!(
        n.incident
            .key
            .starts_with("cloudwatch:arn:aws:cloudwatch:us-east-1:123456789012:alarm:nnn"),
        "{}",
        n.incident.key
    );
    assert!(n.monitor.custom_fields[ORIGINAL_INCIDENT_KEY].starts_with(&format!("cloudwatch:{arn}@")));
    assert_eq!(n.monitor.monitor_guid, arn);
}
