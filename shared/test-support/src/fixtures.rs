//! Values shared by the notifier crates' tests.

use std::collections::BTreeMap;

use alert_model::{Alert, AlertType};

/// The sample DNS alert the notifiers' snapshot tests build their messages from.
pub fn sample_alert(alert_type: AlertType) -> Alert {
    let mut alert = Alert::default();
    alert.account.account_id = "123456".to_owned();
    alert.alert.alert_guid = "5b9e4d7c-8a63-4f4e-9f0e-1c2d3e4f5a6b".to_owned();
    alert.alert.alert_type = alert_type;
    alert.alert.description = "DNS lookup failed: NXDOMAIN".to_owned();
    alert.alert.timestamp_utc = "2026-11-28T16:00:00Z".to_owned();
    alert.alert.first_error_utc = "2026-11-28T15:55:00Z".to_owned();
    alert.alert.checkpoint_name = "Ghent, Belgium".to_owned();
    alert.alert.number_of_consecutive_errors = "2".to_owned();
    alert.alert_definition.guid = "ops-dns".to_owned();
    alert.alert_definition.name = "Ops DNS".to_owned();
    alert.escalation_level.message = "Call the DNS team".to_owned();
    alert.incident.key = "ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746".to_owned();
    alert.monitor.monitor_guid = "849b2046-213d-43ad-9efc-5af1faaeb222".to_owned();
    alert.monitor.name = "GalacticResorts.com - DNS".to_owned();
    alert.monitor.monitor_type = "DNS".to_owned();
    alert.monitor.url = "galacticresorts.com".to_owned();
    alert.monitor.custom_fields = BTreeMap::from([("Team".to_owned(), "ops".to_owned())]);
    if alert_type == AlertType::Ok {
        alert.alert.downtime_duration = "5 minutes".to_owned();
    }
    alert
}
