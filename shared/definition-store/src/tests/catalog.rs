//! Routing rules, one test each (GIVEN / WHEN / THEN), and index-vs-scan equivalence.

use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, IntegrationKind};

use super::defs;
use crate::{
    AlertDefinition, Attachment, Catalog, Definitions, EscalationLevel, Integration, MonitorGroup, Operator,
    OperatorGroup, Route,
};

const GUID: &str = "849b2046-213d-43ad-9efc-5af1faaeb222";

fn alert(alert_type: AlertType) -> Alert {
    let mut alert = Alert::default();
    alert.alert.alert_type = alert_type;
    alert.monitor.monitor_guid = GUID.to_owned();
    alert.monitor.name = "GalacticResorts.com - DNS".to_owned();
    alert.monitor.custom_fields = BTreeMap::from([("Team".to_owned(), "ops".to_owned())]);
    alert
}

/// `definition/level/integration` of each route.
fn summary(routes: &[Route<'_>]) -> Vec<String> {
    routes
        .iter()
        .map(|route| {
            format!(
                "{}/{}/{}",
                route.definition.id, route.level.id, route.integration.id
            )
        })
        .collect()
}

fn route_ids(catalog: &Catalog, alert: &Alert, kind: IntegrationKind) -> Vec<String> {
    summary(&catalog.routes(alert, kind))
}

const INTEGRATIONS: &str = r#"
integrations:
  - {id: mail, kind: email}
  - {id: mail2, kind: email}
  - {id: hook, kind: webhook, settings: {preset: all-variables, url: "http://x"}}
  - {id: off, kind: email, active: false}
"#;

fn catalog(definitions: &str) -> Catalog {
    Catalog::new(defs(&format!("{INTEGRATIONS}{definitions}")))
}

#[test]
fn wildcard_guid_name_tag_and_group_selectors_cover_the_monitor() {
    // GIVEN one definition per selector form, and some that select another monitor
    let catalog = catalog(&format!(
        r#"
monitorGroups: [{{id: dns, monitors: ["name:GalacticResorts.com - DNS"]}}, {{id: web, monitors: ["name:Shop"]}}]
alertDefinitions:
  - {{id: star, monitors: ["*"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}
  - {{id: bare, monitors: ["{}"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}
  - {{id: id, monitors: ["id:{GUID}"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}
  - {{id: name, monitors: ["name:GalacticResorts.com - DNS"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}
  - {{id: tag, monitors: ["tag:Team=ops"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}
  - {{id: group, monitors: ["group:dns"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}
  - {{id: other-guid, monitors: ["00000000-0000-0000-0000-000000000000"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}
  - {{id: other-tag, monitors: ["tag:Team=web", "tag:Owner=ops"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}
  - {{id: other-group, monitors: ["group:web"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}
"#,
        GUID.to_uppercase()
    ));
    // WHEN an alert for the sample monitor is routed
    let routes = route_ids(&catalog, &alert(AlertType::Alert), IntegrationKind::Email);
    // THEN every covering definition (guid case-insensitively) and only those, in definition order
    assert_eq!(
        routes,
        [
            "star/1/mail",
            "bare/1/mail",
            "id/1/mail",
            "name/1/mail",
            "tag/1/mail",
            "group/1/mail"
        ]
    );
}

#[test]
fn a_definition_covering_the_monitor_twice_routes_once() {
    // GIVEN a definition selecting the monitor by guid, name and `*`
    let catalog = catalog(&format!(
        "alertDefinitions: [{{id: d, monitors: [\"*\", \"{GUID}\", \"name:GalacticResorts.com - DNS\"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}]\n"
    ));
    // WHEN routed THEN one route
    assert_eq!(
        route_ids(&catalog, &alert(AlertType::Alert), IntegrationKind::Email),
        ["d/1/mail"]
    );
}

#[test]
fn inactive_definition_routes_nothing() {
    // GIVEN an inactive definition covering everything
    let catalog = catalog(
        "alertDefinitions: [{id: d, active: false, monitors: [\"*\"], levels: [{id: 1, integrations: [{integration: mail}]}]}]\n",
    );
    // WHEN routed THEN nothing
    assert!(
        catalog
            .routes(&alert(AlertType::Alert), IntegrationKind::Email)
            .is_empty()
    );
}

#[test]
fn a_named_alert_definition_is_the_only_one_used() {
    // GIVEN two definitions covering the monitor, and one covering nothing of it
    let catalog = catalog(
        r#"
alertDefinitions:
  - {id: a, monitors: ["*"], levels: [{id: 1, integrations: [{integration: mail}]}]}
  - {id: b, monitors: ["*"], levels: [{id: 1, integrations: [{integration: mail2}]}]}
  - {id: c, monitors: ["name:Elsewhere"], levels: [{id: 1, integrations: [{integration: mail}]}]}
"#,
    );
    let mut named = alert(AlertType::Alert);
    // WHEN the alert names definition b THEN only b
    named.alert_definition.guid = "b".to_owned();
    assert_eq!(route_ids(&catalog, &named, IntegrationKind::Email), ["b/1/mail2"]);
    // WHEN it names c (which does not select the monitor) THEN c: the sender said so
    named.alert_definition.guid = "c".to_owned();
    assert_eq!(route_ids(&catalog, &named, IntegrationKind::Email), ["c/1/mail"]);
    // WHEN it names an inactive definition THEN nothing (no fall back to the others)
    let mut inactive = catalog.definitions().clone();
    inactive.alert_definitions[1].active = false;
    let inactive = Catalog::new(inactive);
    named.alert_definition.guid = "b".to_owned();
    assert!(inactive.routes(&named, IntegrationKind::Email).is_empty());
    // WHEN it names a definition that does not exist THEN the monitor decides
    named.alert_definition.guid = "zzz".to_owned();
    assert_eq!(
        route_ids(&catalog, &named, IntegrationKind::Email),
        ["a/1/mail", "b/1/mail2"]
    );
}

#[test]
fn the_level_the_alert_carries_is_used_default_one() {
    // GIVEN levels 1 and 2 with different integrations
    let catalog = catalog(
        "alertDefinitions: [{id: d, monitors: [\"*\"], levels: [{id: 1, integrations: [{integration: mail}]}, {id: 2, integrations: [{integration: mail2}]}]}]\n",
    );
    let mut alert = alert(AlertType::Alert);
    // WHEN the alert carries no level (default 1) THEN level 1
    assert_eq!(route_ids(&catalog, &alert, IntegrationKind::Email), ["d/1/mail"]);
    // WHEN it carries level 2 THEN level 2
    alert.escalation_level.id = 2;
    assert_eq!(route_ids(&catalog, &alert, IntegrationKind::Email), ["d/2/mail2"]);
    // WHEN it carries a level the definition lacks THEN nothing
    alert.escalation_level.id = 3;
    assert!(catalog.routes(&alert, IntegrationKind::Email).is_empty());
}

#[test]
fn inactive_level_routes_nothing() {
    // GIVEN an inactive level 1
    let catalog = catalog(
        "alertDefinitions: [{id: d, monitors: [\"*\"], levels: [{id: 1, active: false, integrations: [{integration: mail}]}]}]\n",
    );
    // WHEN routed THEN nothing
    assert!(
        catalog
            .routes(&alert(AlertType::Alert), IntegrationKind::Email)
            .is_empty()
    );
}

#[test]
fn inactive_attachments_and_integrations_route_nothing() {
    // GIVEN an inactive attachment, an inactive integration, an unknown integration and an active one
    let catalog = catalog(
        "alertDefinitions: [{id: d, monitors: [\"*\"], levels: [{id: 1, integrations: [{integration: mail, active: false}, {integration: off}, {integration: ghost}, {integration: mail2}]}]}]\n",
    );
    // WHEN routed THEN only the active attachment of the active integration
    assert_eq!(
        route_ids(&catalog, &alert(AlertType::Alert), IntegrationKind::Email),
        ["d/1/mail2"]
    );
}

#[test]
fn only_integrations_of_the_requested_kind() {
    // GIVEN an e-mail and a webhook attachment
    let catalog = catalog(
        "alertDefinitions: [{id: d, monitors: [\"*\"], levels: [{id: 1, integrations: [{integration: mail}, {integration: hook}]}]}]\n",
    );
    // WHEN routed for each kind THEN each gets its own
    assert_eq!(
        route_ids(&catalog, &alert(AlertType::Alert), IntegrationKind::Email),
        ["d/1/mail"]
    );
    assert_eq!(
        route_ids(&catalog, &alert(AlertType::Alert), IntegrationKind::Webhook),
        ["d/1/hook"]
    );
}

#[test]
fn ok_only_where_send_ok_and_reminder_only_where_send_reminder() {
    // GIVEN one attachment without Ok, one without Reminder, one with both (defaults)
    let catalog = catalog(
        "alertDefinitions: [{id: d, monitors: [\"*\"], levels: [{id: 1, integrations: [{integration: mail, sendOk: false}, {integration: mail2, sendReminder: false}, {integration: hook}]}]}]\n",
    );
    // WHEN routed per type THEN the flags decide; Alert always goes
    let all = |alert_type| {
        let mut ids = route_ids(&catalog, &alert(alert_type), IntegrationKind::Email);
        ids.extend(route_ids(&catalog, &alert(alert_type), IntegrationKind::Webhook));
        ids
    };
    assert_eq!(all(AlertType::Alert), ["d/1/mail", "d/1/mail2", "d/1/hook"]);
    assert_eq!(all(AlertType::Ok), ["d/1/mail2", "d/1/hook"]);
    assert_eq!(all(AlertType::Reminder), ["d/1/mail", "d/1/hook"]);
}

#[test]
fn recipients_are_active_on_duty_deduplicated_in_order() {
    // GIVEN operators (one off duty, one inactive), a group overlapping the direct operators
    let catalog = catalog(
        r#"
operators:
  - {id: a, email: a@example.com}
  - {id: b, email: b@example.com}
  - {id: off, email: off@example.com, onDuty: false}
  - {id: gone, email: gone@example.com, active: false}
  - {id: c, email: c@example.com}
operatorGroups: [{id: team, members: [c, a, off, gone, b]}]
alertDefinitions: [{id: d, monitors: ["*"], levels: [{id: 1, operators: [b, team, a, ghost], integrations: [{integration: mail}]}]}]
"#,
    );
    // WHEN routed
    let routes = catalog.routes(&alert(AlertType::Alert), IntegrationKind::Email);
    // THEN b, then the group's active on-duty members not yet listed, each once
    let recipients: Vec<&str> = routes[0]
        .recipients
        .iter()
        .map(|operator| operator.id.as_str())
        .collect();
    assert_eq!(recipients, ["b", "c", "a"]);
}

#[test]
fn routes_follow_definition_then_attachment_order_and_repeat_per_definition() {
    // GIVEN two definitions both reaching `mail`, the second listed first in the file order
    let catalog = catalog(
        r#"
alertDefinitions:
  - {id: first, monitors: ["tag:Team=ops"], levels: [{id: 1, integrations: [{integration: mail2}, {integration: mail}]}]}
  - {id: second, monitors: ["*"], levels: [{id: 1, integrations: [{integration: mail}]}]}
"#,
    );
    // WHEN routed THEN definition order, attachment order, `mail` twice (two definitions)
    assert_eq!(
        route_ids(&catalog, &alert(AlertType::Alert), IntegrationKind::Email),
        ["first/1/mail2", "first/1/mail", "second/1/mail"]
    );
}

#[test]
fn an_alert_for_another_monitor_reaches_only_wildcards() {
    // GIVEN a guid definition and a wildcard one
    let catalog = catalog(&format!(
        "alertDefinitions: [{{id: g, monitors: [\"{GUID}\"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}, {{id: s, monitors: [\"*\"], levels: [{{id: 1, integrations: [{{integration: mail}}]}}]}}]\n"
    ));
    // WHEN an alert for another monitor (no guid, other name, no fields) is routed
    let mut other = Alert::default();
    other.monitor.name = "HighCPU".to_owned();
    // THEN only the wildcard
    assert_eq!(route_ids(&catalog, &other, IntegrationKind::Email), ["s/1/mail"]);
}

#[test]
fn stats_and_lookups() {
    let catalog = catalog(&format!(
        "alertDefinitions: [{{id: g, monitors: [\"{GUID}\", \"tag:Team=ops\", \"name:x\"], levels: []}}, {{id: s, monitors: [\"*\"], levels: []}}]\n"
    ));
    assert_eq!(catalog.len(), 2);
    assert!(!catalog.is_empty());
    let stats = catalog.stats();
    assert_eq!(
        (stats.integrations, stats.definitions, stats.wildcard_definitions),
        (4, 2, 1)
    );
    assert_eq!(
        (stats.indexed_guids, stats.indexed_names, stats.indexed_tags),
        (1, 1, 1)
    );
    assert_eq!(
        catalog.integration("hook").map(|i| i.kind),
        Some(IntegrationKind::Webhook)
    );
    assert!(catalog.integration("nope").is_none());
    assert_eq!(catalog.alert_definition("s").map(|d| d.id.as_str()), Some("s"));
    assert!(Catalog::default().is_empty());
}

// ---- index vs scan -----------------------------------------------------------------------------

/// A deterministic pseudo-random generator (xorshift), so the generated set is the same every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn guid(n: u64) -> String {
    format!("00000000-0000-0000-0000-{n:012}")
}

fn generated(count: usize) -> Definitions {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let integrations: Vec<Integration> = (0..6)
        .map(|i| {
            let kind = if i % 2 == 0 { "email" } else { "webhook" };
            serde_json::from_value(serde_json::json!({
                "id": format!("int-{i}"), "kind": kind, "active": i != 4,
                "settings": if kind == "webhook" { serde_json::json!({"preset": "all-variables", "url": "http://x"}) } else { serde_json::json!({}) }
            }))
            .unwrap()
        })
        .collect();
    let operators: Vec<Operator> = (0..8)
        .map(|i| Operator {
            id: format!("op-{i}"),
            name: String::new(),
            email: Some(format!("op{i}@example.com")),
            phone: None,
            active: i != 3,
            on_duty: i != 5,
        })
        .collect();
    let operator_groups = vec![
        OperatorGroup {
            id: "g-0".to_owned(),
            name: String::new(),
            members: vec!["op-1".into(), "op-2".into(), "op-5".into()],
        },
        OperatorGroup {
            id: "g-1".to_owned(),
            name: String::new(),
            members: vec!["op-6".into(), "op-0".into()],
        },
    ];
    let monitor_groups = (0..5)
        .map(|g| MonitorGroup {
            id: format!("mg-{g}"),
            name: String::new(),
            monitors: vec![
                guid(g * 3),
                format!("name:monitor-{}", g + 10),
                format!("tag:Team=t{g}"),
            ],
        })
        .collect();
    let alert_definitions = (0..count)
        .map(|d| {
            let selectors = (0..=rng.below(3))
                .map(|_| match rng.below(40) {
                    0 => "*".to_owned(),
                    1..=12 => guid(rng.below(50)),
                    13..=16 => format!("id:{}", guid(rng.below(50)).to_uppercase()),
                    17..=26 => format!("name:monitor-{}", rng.below(50)),
                    27..=34 => format!(
                        "tag:{}=t{}",
                        if rng.below(2) == 0 { "Team" } else { "Env" },
                        rng.below(6)
                    ),
                    _ => format!("group:mg-{}", rng.below(6)), // mg-5 does not exist
                })
                .collect();
            let levels = (1..=1 + rng.below(3) as u32)
                .map(|level| EscalationLevel {
                    id: level,
                    active: rng.below(8) != 0,
                    message: String::new(),
                    operators: (0..rng.below(4))
                        .map(|_| match rng.below(10) {
                            0..=1 => format!("g-{}", rng.below(2)),
                            _ => format!("op-{}", rng.below(8)),
                        })
                        .collect(),
                    integrations: (0..rng.below(4))
                        .map(|_| Attachment {
                            integration: format!("int-{}", rng.below(7)), // int-6 does not exist
                            active: rng.below(8) != 0,
                            send_ok: rng.below(3) != 0,
                            send_reminder: rng.below(3) != 0,
                            variables: BTreeMap::new(),
                            extra_emails: Vec::new(),
                            extra_phones: Vec::new(),
                            service_links: Vec::new(),
                        })
                        .collect(),
                })
                .collect();
            AlertDefinition {
                id: format!("def-{d}"),
                name: String::new(),
                active: rng.below(10) != 0,
                monitors: selectors,
                levels,
            }
        })
        .collect();
    Definitions {
        integrations,
        alert_definitions,
        operators,
        operator_groups,
        monitor_groups,
    }
}

/// The obvious implementation: scan every definition and evaluate each selector.
fn scan(definitions: &Definitions, alert: &Alert, kind: IntegrationKind) -> Vec<String> {
    let monitor = &alert.monitor;
    let matches = |selector: &str| -> bool {
        if selector == "*" {
            return true;
        }
        if let Some(name) = selector.strip_prefix("name:") {
            return name == monitor.name;
        }
        if let Some(tag) = selector.strip_prefix("tag:") {
            let (field, value) = tag.split_once('=').unwrap();
            return monitor.custom_fields.get(field).map(String::as_str) == Some(value);
        }
        let guid = selector.strip_prefix("id:").unwrap_or(selector);
        guid.eq_ignore_ascii_case(&monitor.monitor_guid)
    };
    let covers = |definition: &AlertDefinition| {
        definition
            .monitors
            .iter()
            .any(|selector| match selector.strip_prefix("group:") {
                Some(group) => definitions
                    .monitor_groups
                    .iter()
                    .find(|g| g.id == group)
                    .is_some_and(|g| g.monitors.iter().any(|s| matches(s))),
                None => matches(selector),
            })
    };
    let mut out = Vec::new();
    for definition in &definitions.alert_definitions {
        if !definition.active || !covers(definition) {
            continue;
        }
        for level in &definition.levels {
            if level.id != alert.escalation_level.id || !level.active {
                continue;
            }
            let mut recipients: Vec<&str> = Vec::new();
            for id in &level.operators {
                let members: Vec<&str> = match definitions.operator_groups.iter().find(|g| &g.id == id) {
                    Some(group) => group.members.iter().map(String::as_str).collect(),
                    None => vec![id.as_str()],
                };
                for member in members {
                    let operator = definitions.operators.iter().find(|o| o.id == member).unwrap();
                    if operator.active && operator.on_duty && !recipients.contains(&member) {
                        recipients.push(member);
                    }
                }
            }
            for attachment in &level.integrations {
                let Some(integration) = definitions
                    .integrations
                    .iter()
                    .find(|i| i.id == attachment.integration)
                else {
                    continue;
                };
                let wanted = match alert.alert.alert_type {
                    AlertType::Alert => true,
                    AlertType::Ok => attachment.send_ok,
                    AlertType::Reminder => attachment.send_reminder,
                };
                if attachment.active && wanted && integration.active && integration.kind == kind {
                    out.push(format!(
                        "{}/{}/{} -> {}",
                        definition.id,
                        level.id,
                        integration.id,
                        recipients.join(",")
                    ));
                }
            }
            break;
        }
    }
    out
}

#[test]
fn index_and_scan_agree_on_1000_generated_definitions() {
    // GIVEN 1,000 generated definitions
    let definitions = generated(1000);
    let catalog = Catalog::new(definitions.clone());
    let mut rng = Rng(42);
    let mut non_empty = 0;
    // WHEN 400 generated alerts are routed both ways, for each kind
    for _ in 0..400 {
        let mut alert = Alert::default();
        alert.alert.alert_type =
            [AlertType::Alert, AlertType::Ok, AlertType::Reminder][rng.below(3) as usize];
        alert.escalation_level.id = 1 + rng.below(3) as u32;
        alert.monitor.monitor_guid = guid(rng.below(60));
        alert.monitor.name = format!("monitor-{}", rng.below(60));
        alert.monitor.custom_fields = BTreeMap::from([
            ("Team".to_owned(), format!("t{}", rng.below(8))),
            ("Env".to_owned(), format!("t{}", rng.below(8))),
        ]);
        for kind in IntegrationKind::ALL {
            let indexed: Vec<String> = catalog
                .routes(&alert, *kind)
                .iter()
                .map(|route| {
                    let recipients: Vec<&str> = route.recipients.iter().map(|o| o.id.as_str()).collect();
                    format!(
                        "{}/{}/{} -> {}",
                        route.definition.id,
                        route.level.id,
                        route.integration.id,
                        recipients.join(",")
                    )
                })
                .collect();
            // THEN both give the same routes in the same order
            assert_eq!(
                indexed,
                scan(&definitions, &alert, *kind),
                "alert {:?}",
                alert.monitor
            );
            non_empty += usize::from(!indexed.is_empty());
        }
    }
    assert!(
        non_empty > 100,
        "the generated set should route many alerts; only {non_empty} did"
    );
}

// ---------------------------------------------------------------------------------------------
// Alerts addressed to one integration (`deliverTo`), and fallbacks

const DIRECT: &str = r#"
operators:
  - {id: ann, email: ann@example.com}
  - {id: bob, email: bob@example.com}
alertDefinitions:
  - id: dns
    monitors: ["*"]
    levels:
      - {id: 1, operators: [ann], integrations: [{integration: hook}, {integration: mail}]}
      - {id: 2, operators: [bob], integrations: [{integration: mail2, extraEmails: [noc@example.com]}]}
"#;

fn addressed(integration: &str, definition: &str, level: u32) -> Alert {
    let mut alert = alert(AlertType::Alert);
    alert.deliver_to = Some(alert_model::DeliverTo {
        integration: integration.to_owned(),
        reason: alert_model::DELIVERY_FAILURE.to_owned(),
    });
    alert.alert_definition.guid = definition.to_owned();
    alert.escalation_level.id = level;
    alert
}

#[test]
fn an_addressed_alert_reaches_only_its_integration_through_the_named_level() {
    // GIVEN a definition that sends both kinds at level 1
    let catalog = catalog(DIRECT);

    // WHEN an alert addressed to `mail2` names level 1 of `dns` (which does not attach `mail2`)
    let alert = addressed("mail2", "dns", 1);

    // THEN only `mail2` is reached, with level 1's operators and a default attachment
    assert!(catalog.routes(&alert, IntegrationKind::Webhook).is_empty());
    let routes = catalog.routes(&alert, IntegrationKind::Email);
    assert_eq!(summary(&routes), ["dns/1/mail2"]);
    let recipients: Vec<&str> = routes[0].recipients.iter().map(|o| o.id.as_str()).collect();
    assert_eq!(recipients, ["ann"]);
    assert!(routes[0].attachment.extra_emails.is_empty());
}

#[test]
fn an_addressed_alert_uses_the_levels_own_attachment_when_there_is_one() {
    let catalog = catalog(DIRECT);
    let routes = catalog.routes(&addressed("mail2", "dns", 2), IntegrationKind::Email);
    assert_eq!(summary(&routes), ["dns/2/mail2"]);
    assert_eq!(routes[0].attachment.extra_emails, ["noc@example.com"]);
    assert_eq!(routes[0].recipients[0].id, "bob");
}

#[test]
fn an_addressed_alert_without_a_known_level_has_no_recipients() {
    let catalog = catalog(DIRECT);
    for alert in [addressed("mail", "gone", 1), addressed("mail", "dns", 7)] {
        let routes = catalog.routes(&alert, IntegrationKind::Email);
        assert_eq!(routes.len(), 1, "{:?}", alert.alert_definition);
        assert_eq!(routes[0].integration.id, "mail");
        assert!(routes[0].recipients.is_empty());
    }
}

#[test]
fn an_addressed_alert_to_an_unknown_or_inactive_integration_reaches_nothing() {
    let catalog = catalog(DIRECT);
    for target in ["nope", "off"] {
        assert!(
            catalog
                .routes(&addressed(target, "dns", 1), IntegrationKind::Email)
                .is_empty()
        );
    }
}

#[test]
fn the_fallback_of_an_integration_is_another_integration() {
    let catalog = Catalog::new(defs(
        r#"
integrations:
  - {id: pager, kind: webhook, settings: {preset: all-variables, url: "http://x"}, fallback: mail}
  - {id: mail, kind: email, fallback: mail}
  - {id: lost, kind: email, fallback: nowhere}
  - {id: plain, kind: email}
"#,
    ));
    assert_eq!(catalog.fallback_of("pager").map(|i| i.id.as_str()), Some("mail"));
    assert!(catalog.fallback_of("mail").is_none(), "never itself");
    assert!(catalog.fallback_of("lost").is_none(), "unknown integration");
    assert!(catalog.fallback_of("plain").is_none());
    assert!(catalog.fallback_of("unknown").is_none());
}
