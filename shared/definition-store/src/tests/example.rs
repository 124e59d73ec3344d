//! `examples/definitions.yaml`: it validates, and routes the sample alert as it says.

use alert_model::{Alert, AlertType, IntegrationKind};

use crate::{Catalog, Definitions, load_file};

fn example() -> Definitions {
    load_file(&test_support::moto::workspace_root().join("examples/definitions.yaml")).unwrap()
}

fn native_alert(alert_type: AlertType, level: u32) -> Alert {
    let mut alert = Alert::default();
    alert.alert.alert_type = alert_type;
    alert.escalation_level.id = level;
    alert.monitor.monitor_guid = "849b2046-213d-43ad-9efc-5af1faaeb222".to_owned();
    alert.monitor.name = "GalacticResorts.com - DNS".to_owned();
    alert
        .monitor
        .custom_fields
        .insert("Team".to_owned(), "ops".to_owned());
    alert.incident.key = "ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746".to_owned();
    alert
}

fn routes(catalog: &Catalog, alert: &Alert, kind: IntegrationKind) -> Vec<String> {
    catalog
        .routes(alert, kind)
        .iter()
        .map(|route| {
            let recipients: Vec<&str> = route.recipients.iter().map(|o| o.id.as_str()).collect();
            format!(
                "{}/{}/{} [{}]",
                route.definition.id,
                route.level.id,
                route.integration.id,
                recipients.join(",")
            )
        })
        .collect()
}

#[test]
fn sample_native_alert_routes_as_the_file_says() {
    let catalog = Catalog::new(example());
    let alert = native_alert(AlertType::Alert, 1);
    assert_eq!(
        routes(&catalog, &alert, IntegrationKind::Email),
        [
            "dns-critical/1/ops-email [alice,bob]",
            "everything/1/ops-email [alice,bob]"
        ]
    );
    assert_eq!(
        routes(&catalog, &alert, IntegrationKind::Webhook),
        [
            "dns-critical/1/ops-webhook [alice,bob]",
            "everything/1/tocsin-relay [alice,bob]"
        ]
    );
    let email = catalog.routes(&alert, IntegrationKind::Email);
    assert_eq!(email[0].attachment.extra_emails, ["noc@example.com"]);
    let webhook = catalog.routes(&alert, IntegrationKind::Webhook);
    assert_eq!(webhook[0].attachment.variables["Severity"], "major");
}

#[test]
fn sample_reminder_skips_the_attachments_without_reminders() {
    let catalog = Catalog::new(example());
    let alert = native_alert(AlertType::Reminder, 1);
    assert_eq!(
        routes(&catalog, &alert, IntegrationKind::Email),
        ["dns-critical/1/ops-email [alice,bob]"]
    );
    assert_eq!(
        routes(&catalog, &alert, IntegrationKind::Webhook),
        [
            "dns-critical/1/ops-webhook [alice,bob]",
            "everything/1/tocsin-relay [alice,bob]"
        ]
    );
}

#[test]
fn sample_level_two_reaches_the_escalation() {
    let catalog = Catalog::new(example());
    let alert = native_alert(AlertType::Alert, 2);
    assert_eq!(
        routes(&catalog, &alert, IntegrationKind::Email),
        ["dns-critical/2/ops-email [alice]"]
    );
    assert_eq!(
        routes(&catalog, &alert, IntegrationKind::Webhook),
        ["dns-critical/2/ops-webhook [alice]"]
    );
}

#[test]
fn other_sample_monitors_reach_the_catch_all() {
    let catalog = Catalog::new(example());
    let mut alert = Alert::default();
    alert.monitor.name = "HighCPU".to_owned();
    assert_eq!(
        routes(&catalog, &alert, IntegrationKind::Email),
        ["everything/1/ops-email [alice,bob]"]
    );
    assert_eq!(
        routes(&catalog, &alert, IntegrationKind::Webhook),
        ["everything/1/tocsin-relay [alice,bob]"]
    );
}
