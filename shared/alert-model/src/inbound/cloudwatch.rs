//! CloudWatch alarms: the SNS alarm notification and the EventBridge "Alarm State Change" event.
//!
//! Both map the same way:
//! - `monitor.name` = alarm name; `monitor.monitorGuid` = alarm ARN (built from region, account and
//!   name when the message has none); `monitor.type` = `CloudWatch alarm`;
//!   `monitor.url` = `monitor.dashboardUrl` = the alarm's CloudWatch console page in its region
//!   (China and GovCloud partitions use their console hosts); `monitor.notes` = alarm description
//!   (`null` → empty); `alert.description` = state reason; `alert.firstErrorDescription` = the
//!   reason of the transition into ALARM (this one on ALARM; EventBridge's `previousState.reason`
//!   when leaving ALARM); `account.accountId` = the account.
//! - `alert.type`: `ALARM` → Alert, `OK` → Ok, `INSUFFICIENT_DATA` → Alert (the alarm cannot tell
//!   whether the resource is healthy; the state is in `customFields.state` for routing).
//! - `monitor.customFields`: `region` (the code, from the alarm ARN: the SNS `Region` is a display
//!   name, kept as `regionName` and mapped to its code only when there is no ARN), `state`, `previousState`, `namespace`, `metricName`, `statistic`, `unit`,
//!   `period`, `evaluationPeriods`, `datapointsToAlarm`, `comparisonOperator`, `threshold`,
//!   `treatMissingData`, `expression` (metric math: the returned expression), `alarmActions`,
//!   `okActions`, `insufficientDataActions` (comma-separated), `alarmRule` (composite alarms),
//!   and every metric dimension by name.
//!   Metric-math alarms take `metricName` from the returned metric's label (else its metric name,
//!   else its id) and namespace / dimensions from the metrics they read.
//! - Times: the alert time is the state change time (`StateChangeTime`, `detail.state.timestamp`),
//!   else the event `time`, else `Sns.Timestamp`. The first error is the transition into ALARM:
//!   the state change itself on ALARM; on EventBridge also `previousState.timestamp` when leaving
//!   ALARM, which gives `downtimeDuration` on Ok. A present but unreadable time is `Invalid`.
//! - `incident.key`: SNS → `cloudwatch:<AlarmArn>` (the notification does not say when the alarm
//!   went into ALARM); EventBridge → `cloudwatch:<alarm ARN>@<transition into ALARM, RFC 3339 UTC
//!   millis>` (`state.timestamp` on ALARM, `previousState.timestamp` when leaving ALARM), so each
//!   incident of the alarm gets its own key and its Ok shares it; other transitions fall back to
//!   `cloudwatch:<alarm ARN>`.
//! - `alert.alertGuid`: the EventBridge event `id`; for SNS, the UUID v5 of the SNS message id.
//! - Required: SNS `AlarmName` and `NewStateValue` (`$.AlarmName`, `$.NewStateValue`); EventBridge
//!   `detail`, `detail.alarmName`, `detail.state`, `detail.state.value`.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde_json::Value;

use super::{
    InboundError, InboundFormat, InboundMessage,
    common::{
        Obj, fill_times, invalid, message_guid, object, optional_time, required_obj, required_str, scalar,
        sns_time, text,
    },
};
use crate::{Alert, AlertType};

/// The `monitor.type` of both alarm formats.
const MONITOR_TYPE: &str = "CloudWatch alarm";

/// What `encodeURIComponent` leaves alone.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*');

/// An alarm state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Alarm,
    Ok,
    InsufficientData,
}

impl State {
    fn parse(text: &str) -> Option<State> {
        match text.trim().to_ascii_uppercase().as_str() {
            "ALARM" => Some(State::Alarm),
            "OK" => Some(State::Ok),
            "INSUFFICIENT_DATA" => Some(State::InsufficientData),
            _ => None,
        }
    }

    fn parse_at(text: &str, format: InboundFormat, path: &str) -> Result<State, InboundError> {
        State::parse(text).ok_or_else(|| {
            invalid(
                format,
                path,
                format!("unknown alarm state `{text}` (expected ALARM, OK or INSUFFICIENT_DATA)"),
            )
        })
    }

    fn alert_type(self) -> AlertType {
        match self {
            State::Ok => AlertType::Ok,
            State::Alarm | State::InsufficientData => AlertType::Alert,
        }
    }
}

/// The parts of `arn:<partition>:cloudwatch:<region>:<account>:alarm:<name>`.
#[derive(Debug, Default)]
struct Arn {
    partition: String,
    region: String,
    account: String,
}

impl Arn {
    fn parse(arn: &str) -> Arn {
        let mut parts = arn.split(':');
        let (Some("arn"), Some(partition), Some(_service), Some(region), Some(account)) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return Arn::default();
        };
        Arn {
            partition: partition.to_owned(),
            region: region.to_owned(),
            account: account.to_owned(),
        }
    }
}

/// The fields both alarm formats share, before they become an [`Alert`].
struct Alarm {
    name: String,
    arn: Option<String>,
    account: Option<String>,
    region: Option<String>,
    state: State,
    description: Option<String>,
    reason: Option<String>,
    /// The reason of the transition into ALARM, when known.
    first_error_reason: Option<String>,
    at: Option<DateTime<Utc>>,
    first_error: Option<DateTime<Utc>>,
    guid: String,
    key_time: Option<DateTime<Utc>>,
    fields: BTreeMap<String, String>,
}

impl Alarm {
    fn into_alert(self) -> Alert {
        let parsed = self.arn.as_deref().map(Arn::parse).unwrap_or_default();
        let region = non_empty(parsed.region).or(self.region.filter(|region| !region.is_empty()));
        let account = self
            .account
            .filter(|account| !account.is_empty())
            .or_else(|| non_empty(parsed.account));
        let partition = non_empty(parsed.partition).unwrap_or_else(|| {
            match region.as_deref() {
                Some(region) if region.starts_with("cn-") => "aws-cn",
                Some(region) if region.starts_with("us-gov-") => "aws-us-gov",
                _ => "aws",
            }
            .to_owned()
        });
        let arn = self.arn.unwrap_or_else(|| match (&region, &account) {
            (Some(region), Some(account)) => {
                format!(
                    "arn:{partition}:cloudwatch:{region}:{account}:alarm:{}",
                    self.name
                )
            }
            _ => self.name.clone(),
        });

        let mut alert = Alert::default();
        alert.account.account_id = account.unwrap_or_default();
        alert.alert.alert_guid = self.guid;
        alert.alert.alert_type = self.state.alert_type();
        alert.alert.first_error_description = self.first_error_reason.unwrap_or_default();
        alert.alert.description = self.reason.unwrap_or_default();
        alert.monitor.name = self.name.clone();
        alert.monitor.monitor_guid = arn.clone();
        alert.monitor.monitor_type = MONITOR_TYPE.to_owned();
        alert.monitor.notes = self.description.unwrap_or_default();
        if let Some(region) = &region {
            let url = console_url(&partition, region, &self.name);
            alert.monitor.url = url.clone();
            alert.monitor.dashboard_url = url;
        }
        alert.monitor.custom_fields = self.fields;
        if let Some(region) = region {
            alert.monitor.custom_fields.insert("region".to_owned(), region);
        }
        alert.incident.key = match self.key_time {
            Some(time) => format!(
                "cloudwatch:{arn}@{}",
                time.to_rfc3339_opts(SecondsFormat::Millis, true)
            ),
            None => format!("cloudwatch:{arn}"),
        };
        fill_times(&mut alert.alert, self.at, self.first_error);
        alert
    }
}

/// The region code for the display name CloudWatch puts in `Region` (`EU (Milan)` →
/// `eu-south-1`); `Europe (…)` and `EU (…)` are both seen.
fn region_code(display_name: &str) -> Option<&'static str> {
    const REGIONS: &[(&str, &str)] = &[
        ("US East (N. Virginia)", "us-east-1"),
        ("US East (Ohio)", "us-east-2"),
        ("US West (N. California)", "us-west-1"),
        ("US West (Oregon)", "us-west-2"),
        ("Africa (Cape Town)", "af-south-1"),
        ("Asia Pacific (Hong Kong)", "ap-east-1"),
        ("Asia Pacific (Taipei)", "ap-east-2"),
        ("Asia Pacific (Mumbai)", "ap-south-1"),
        ("Asia Pacific (Hyderabad)", "ap-south-2"),
        ("Asia Pacific (Tokyo)", "ap-northeast-1"),
        ("Asia Pacific (Seoul)", "ap-northeast-2"),
        ("Asia Pacific (Osaka)", "ap-northeast-3"),
        ("Asia Pacific (Singapore)", "ap-southeast-1"),
        ("Asia Pacific (Sydney)", "ap-southeast-2"),
        ("Asia Pacific (Jakarta)", "ap-southeast-3"),
        ("Asia Pacific (Melbourne)", "ap-southeast-4"),
        ("Asia Pacific (Malaysia)", "ap-southeast-5"),
        ("Asia Pacific (Thailand)", "ap-southeast-7"),
        ("Canada (Central)", "ca-central-1"),
        ("Canada West (Calgary)", "ca-west-1"),
        ("EU (Frankfurt)", "eu-central-1"),
        ("EU (Zurich)", "eu-central-2"),
        ("EU (Ireland)", "eu-west-1"),
        ("EU (London)", "eu-west-2"),
        ("EU (Paris)", "eu-west-3"),
        ("EU (Milan)", "eu-south-1"),
        ("EU (Spain)", "eu-south-2"),
        ("EU (Stockholm)", "eu-north-1"),
        ("Israel (Tel Aviv)", "il-central-1"),
        ("Middle East (Bahrain)", "me-south-1"),
        ("Middle East (UAE)", "me-central-1"),
        ("Mexico (Central)", "mx-central-1"),
        ("South America (Sao Paulo)", "sa-east-1"),
        ("South America (São Paulo)", "sa-east-1"),
        ("AWS GovCloud (US-West)", "us-gov-west-1"),
        ("AWS GovCloud (US-East)", "us-gov-east-1"),
        ("China (Beijing)", "cn-north-1"),
        ("China (Ningxia)", "cn-northwest-1"),
    ];
    let name = display_name.trim();
    let name = name
        .strip_prefix("Europe (")
        .map_or_else(|| name.to_owned(), |rest| format!("EU ({rest}"));
    REGIONS
        .iter()
        .find(|(display, _)| display.eq_ignore_ascii_case(&name))
        .map(|(_, code)| *code)
}

fn non_empty(text: String) -> Option<String> {
    (!text.is_empty()).then_some(text)
}

/// The alarm's page in the CloudWatch console of its region.
fn console_url(partition: &str, region: &str, name: &str) -> String {
    let region = utf8_percent_encode(region, COMPONENT);
    let host = match partition {
        "aws-cn" => format!("https://{region}.console.amazonaws.cn"),
        "aws-us-gov" => "https://console.amazonaws-us-gov.com".to_owned(),
        _ => format!("https://{region}.console.aws.amazon.com"),
    };
    format!(
        "{host}/cloudwatch/home?region={region}#alarmsV2:alarm/{}",
        utf8_percent_encode(name, COMPONENT)
    )
}

pub(super) fn matches_sns(object: &Obj) -> bool {
    ["AlarmName", "AlarmArn", "NewStateValue"]
        .iter()
        .any(|key| object.contains_key(*key))
}

pub(super) fn matches_eventbridge(object: &Obj) -> bool {
    object.get("detail-type").and_then(Value::as_str) == Some("CloudWatch Alarm State Change")
}

/// The SNS alarm notification (`AlarmName`, `NewStateValue`, `Trigger`, …).
pub(super) fn normalize_sns(object: &Obj, input: &InboundMessage<'_>) -> Result<Alert, InboundError> {
    const FORMAT: InboundFormat = InboundFormat::CloudwatchAlarm;
    let name = required_str(object, "AlarmName", FORMAT, "$")?;
    let state = State::parse_at(
        &required_str(object, "NewStateValue", FORMAT, "$")?,
        FORMAT,
        "$.NewStateValue",
    )?;
    let at = optional_time(object, "StateChangeTime", FORMAT, "$")?.or_else(|| sns_time(input));

    let mut fields = BTreeMap::new();
    if let Some(trigger) = object.get("Trigger").and_then(Value::as_object) {
        metric_fields(trigger, &mut fields);
    }
    for (key, field) in [
        ("AlarmActions", "alarmActions"),
        ("OKActions", "okActions"),
        ("InsufficientDataActions", "insufficientDataActions"),
    ] {
        let actions = actions(object.get(key));
        if !actions.is_empty() {
            fields.insert(field.to_owned(), actions.join(", "));
        }
    }
    insert(&mut fields, "regionName", text(object, &["Region"]));
    insert(&mut fields, "alarmRule", text(object, &["AlarmRule"]));
    insert(&mut fields, "state", text(object, &["NewStateValue"]));
    insert(&mut fields, "previousState", text(object, &["OldStateValue"]));

    Ok(Alarm {
        name,
        arn: text(object, &["AlarmArn"]),
        account: text(object, &["AWSAccountId"]),
        // Older notifications have no `AlarmArn`: then the display name gives the code.
        region: text(object, &["Region"])
            .and_then(|name| region_code(&name))
            .map(str::to_owned),
        state,
        description: text(object, &["AlarmDescription"]),
        reason: text(object, &["NewStateReason"]),
        first_error_reason: if state == State::Alarm {
            text(object, &["NewStateReason"])
        } else {
            None
        },
        at,
        first_error: if state == State::Alarm { at } else { None },
        guid: message_guid(input),
        key_time: None,
        fields,
    }
    .into_alert())
}

/// The EventBridge event (`detail-type: CloudWatch Alarm State Change`).
pub(super) fn normalize_eventbridge(object: &Obj, input: &InboundMessage<'_>) -> Result<Alert, InboundError> {
    const FORMAT: InboundFormat = InboundFormat::EventbridgeAlarm;
    let detail = required_obj(object, "detail", FORMAT, "$")?;
    let name = required_str(detail, "alarmName", FORMAT, "$.detail")?;
    let state_obj = required_obj(detail, "state", FORMAT, "$.detail")?;
    let state = State::parse_at(
        &required_str(state_obj, "value", FORMAT, "$.detail.state")?,
        FORMAT,
        "$.detail.state.value",
    )?;
    let state_time = optional_time(state_obj, "timestamp", FORMAT, "$.detail.state")?;
    let previous = object_or_empty(detail.get("previousState"));
    let previous_state = text(&previous, &["value"]);
    let previous_time = optional_time(&previous, "timestamp", FORMAT, "$.detail.previousState")?;
    let event_time = optional_time(object, "time", FORMAT, "$")?;
    let at = state_time.or(event_time).or_else(|| sns_time(input));

    let left_alarm =
        state != State::Alarm && previous_state.as_deref().and_then(State::parse) == Some(State::Alarm);
    let alarm_since = if state == State::Alarm {
        state_time
    } else if left_alarm {
        previous_time
    } else {
        None
    };

    let arn = match object.get("resources") {
        Some(Value::Array(resources)) => resources.first().map(scalar).filter(|arn| !arn.is_empty()),
        _ => None,
    };
    let configuration = object_or_empty(detail.get("configuration"));
    let mut fields = BTreeMap::new();
    metric_fields(&configuration, &mut fields);
    insert(&mut fields, "alarmRule", text(&configuration, &["alarmRule"]));
    if let Some(reason_data) = state_obj.get("reasonData").and_then(Value::as_str) {
        // Auxiliary JSON in a string: unreadable reason data only loses the threshold.
        if let Ok(Value::Object(data)) = serde_json::from_str::<Value>(reason_data) {
            insert(&mut fields, "threshold", text(&data, &["threshold"]));
        }
    }
    insert(&mut fields, "state", text(state_obj, &["value"]));
    insert(&mut fields, "previousState", previous_state);

    Ok(Alarm {
        name,
        arn,
        account: text(object, &["account"]),
        region: text(object, &["region"]),
        state,
        description: text(&configuration, &["description"]),
        reason: text(state_obj, &["reason"]),
        first_error_reason: if state == State::Alarm {
            text(state_obj, &["reason"])
        } else if left_alarm {
            text(&previous, &["reason"])
        } else {
            None
        },
        at,
        first_error: alarm_since.or(if state == State::Alarm { at } else { None }),
        guid: text(object, &["id"]).unwrap_or_else(|| message_guid(input)),
        key_time: alarm_since,
        fields,
    }
    .into_alert())
}

fn object_or_empty(value: Option<&Value>) -> Obj {
    value.and_then(Value::as_object).cloned().unwrap_or_default()
}

fn insert(fields: &mut BTreeMap<String, String>, key: &str, value: Option<String>) {
    if let Some(value) = value.filter(|value| !value.is_empty()) {
        fields.insert(key.to_owned(), value);
    }
}

/// Alarm actions: a list of ARNs, or (seen in the wild) one string `[arn1, arn2]`.
fn actions(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items.iter().map(scalar).filter(|item| !item.is_empty()).collect(),
        Some(Value::String(text)) => text
            .trim()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .split(',')
            .map(|item| item.trim().trim_matches('"').to_owned())
            .filter(|item| !item.is_empty())
            .collect(),
        _ => Vec::new(),
    }
}

/// Metric details of an SNS `Trigger` or an EventBridge `configuration` (both key casings).
fn metric_fields(source: &Obj, fields: &mut BTreeMap<String, String>) {
    for (keys, field) in [
        (&["Namespace", "namespace"][..], "namespace"),
        (&["MetricName", "metricName"][..], "metricName"),
        (
            &["Statistic", "ExtendedStatistic", "statistic", "extendedStatistic"][..],
            "statistic",
        ),
        (&["Unit", "unit"][..], "unit"),
        (&["Period", "period"][..], "period"),
        (
            &["EvaluationPeriods", "evaluationPeriods"][..],
            "evaluationPeriods",
        ),
        (
            &["DatapointsToAlarm", "datapointsToAlarm"][..],
            "datapointsToAlarm",
        ),
        (
            &["ComparisonOperator", "comparisonOperator"][..],
            "comparisonOperator",
        ),
        (&["Threshold", "threshold"][..], "threshold"),
        (&["TreatMissingData", "treatMissingData"][..], "treatMissingData"),
    ] {
        insert(fields, field, text(source, keys));
    }
    dimensions(
        source.get("Dimensions").or_else(|| source.get("dimensions")),
        fields,
    );

    let metrics: Vec<&Obj> = match source.get("Metrics").or_else(|| source.get("metrics")) {
        Some(Value::Array(metrics)) => metrics.iter().filter_map(Value::as_object).collect(),
        _ => Vec::new(),
    };
    let returned = metrics
        .iter()
        .find(|metric| {
            metric.get("ReturnData").or_else(|| metric.get("returnData")) == Some(&Value::Bool(true))
        })
        .or_else(|| metrics.first());
    if let Some(returned) = returned {
        let stat = object(returned, &["MetricStat", "metricStat"]);
        let inner = stat.and_then(|stat| object(stat, &["Metric", "metric"]));
        let name = text(returned, &["Label", "label"])
            .or_else(|| inner.and_then(|inner| text(inner, &["MetricName", "metricName", "name"])))
            .or_else(|| text(returned, &["Id", "id"]));
        if !fields.contains_key("metricName") {
            insert(fields, "metricName", name);
        }
        insert(
            fields,
            "expression",
            text(returned, &["Expression", "expression"]),
        );
        // The statistic of the metric the alarm watches (an expression has none).
        if let Some(stat) = stat {
            for (keys, field) in [
                (&["Stat", "stat"][..], "statistic"),
                (&["Period", "period"][..], "period"),
            ] {
                if !fields.contains_key(field) {
                    insert(fields, field, text(stat, keys));
                }
            }
        }
    }
    for metric in &metrics {
        let Some(stat) = object(metric, &["MetricStat", "metricStat"]) else {
            continue;
        };
        let Some(inner) = object(stat, &["Metric", "metric"]) else {
            continue;
        };
        if !fields.contains_key("namespace") {
            insert(fields, "namespace", text(inner, &["Namespace", "namespace"]));
        }
        dimensions(
            inner.get("Dimensions").or_else(|| inner.get("dimensions")),
            fields,
        );
    }
}

/// Dimensions as `[{"name":…,"value":…}]` (either casing) or a `{name: value}` map; the first
/// value of a name wins.
fn dimensions(value: Option<&Value>, fields: &mut BTreeMap<String, String>) {
    let pairs: Vec<(String, String)> = match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_object)
            .filter_map(|item| {
                let name = text(item, &["name", "Name"])?;
                Some((name, text(item, &["value", "Value"]).unwrap_or_default()))
            })
            .collect(),
        Some(Value::Object(map)) => map
            .iter()
            .map(|(name, value)| (name.clone(), scalar(value)))
            .collect(),
        _ => Vec::new(),
    };
    for (name, value) in pairs {
        fields.entry(name).or_insert(value);
    }
}
