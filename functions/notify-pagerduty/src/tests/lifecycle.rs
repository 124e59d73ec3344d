//! Lifecycle tests: SNS events through the real runner (claims, retries, incident state, delivery
//! log in memory) and the real notifier, against the local PagerDuty of [`super::vendor`], which
//! refuses what PagerDuty refuses and keeps its open alerts as PagerDuty does.

use std::time::Duration;

use kind_kit::lifecycle::{delivered, event, handle, nothing_sent};
use notify_core::{
    DeliveryRecord, HandlerError, MemoryDeliveryLog, MemorySecrets, Pipeline, Settings,
    deliveries::AttemptOutcome,
};
use serde_json::{Value, json};

use super::{
    ROUTING_KEY, notifier,
    vendor::{Api, Outcome, PagerDuty},
};
use crate::PagerDutyNotifier;

const SECRET_REF: &str = "ssm:/tocsin/ops-pagerduty/routing-key";
const INCIDENT: &str = "dns-incident-1";

type Runner = Pipeline<PagerDutyNotifier, definition_store::MemoryStore, MemorySecrets, MemoryDeliveryLog>;

/// The runner with one PagerDuty integration sending to `api`, with `settings` added, attached to
/// level 1 of a definition covering every monitor; the routing key `key` in the secrets.
fn runner_with(api: &Api, settings: &str, key: &str) -> Runner {
    let yaml = format!(
        r#"
integrations:
  - id: ops-pagerduty
    kind: pagerduty
    variables:
      RoutingKey: {{secret: "{SECRET_REF}"}}
    settings:
      url: "{url}"
{settings}
alertDefinitions:
  - id: ops-dns
    name: Ops DNS
    monitors: ["*"]
    levels:
      - id: 1
        message: Call the DNS team
        integrations:
          - integration: ops-pagerduty
"#,
        url = api.url()
    );
    let definitions = definition_store::from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}"));
    Pipeline::new(
        notifier(),
        definition_store::MemoryStore::new(definitions),
        MemorySecrets::new().with(SECRET_REF, key),
        MemoryDeliveryLog::default(),
        Settings {
            max_attempts: 3,
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(50),
            ..Settings::default()
        },
    )
}

fn runner(api: &Api) -> Runner {
    runner_with(api, "", ROUTING_KEY)
}

async fn records(runner: &Runner, alert: &str) -> Vec<DeliveryRecord> {
    use notify_core::DeliveryLog as _;
    runner
        .deliveries()
        .history(alert)
        .await
        .expect("the delivery log")
}

#[tokio::test]
async fn alert_reminder_reminder_ok_opens_exactly_one_incident_and_closes_it() {
    // GIVEN PagerDuty and an integration with the default settings (no reminders)
    let api = Api::start().await;
    let runner = runner(&api);

    // WHEN an incident goes Alert, Reminder, Reminder, Ok
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    nothing_sent(
        &runner,
        &event("r-1", "Reminder", "2026-11-28T10:10:00", INCIDENT),
    )
    .await;
    nothing_sent(
        &runner,
        &event("r-2", "Reminder", "2026-11-28T10:20:00", INCIDENT),
    )
    .await;
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;

    // THEN PagerDuty opened exactly one alert, by the incident key, and resolved it
    let pagerduty = api.state();
    assert_eq!(
        pagerduty.outcomes,
        [
            Outcome::Opened {
                dedup_key: INCIDENT.to_owned(),
                alert: 1
            },
            Outcome::Resolved {
                dedup_key: INCIDENT.to_owned(),
                alert: 1
            },
        ]
    );
    assert!(pagerduty.open_alerts().is_empty());
    assert_eq!(api.receiver.requests().len(), 2, "the Reminders sent nothing");
}

#[tokio::test]
async fn with_reminders_on_a_reminder_triggers_again_and_pagerduty_counts_it_on_the_open_alert() {
    let api = Api::start().await;
    let runner = runner_with(&api, "      sendReminders: true", ROUTING_KEY);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    delivered(
        &runner,
        &event("r-1", "Reminder", "2026-11-28T10:10:00", INCIDENT),
    )
    .await;
    delivered(
        &runner,
        &event("r-2", "Reminder", "2026-11-28T10:20:00", INCIDENT),
    )
    .await;
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let pagerduty = api.state();
    assert_eq!(
        (pagerduty.opened(), pagerduty.duplicates(), pagerduty.resolved()),
        (1, 2, 1)
    );
    assert!(pagerduty.open_alerts().is_empty());
}

#[tokio::test]
async fn an_ok_without_an_alert_is_sent_and_pagerduty_drops_it() {
    let api = Api::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let pagerduty = api.state();
    assert_eq!(
        pagerduty.outcomes,
        [Outcome::Dropped {
            dedup_key: INCIDENT.to_owned(),
            action: "resolve".to_owned()
        }]
    );
    assert_eq!(pagerduty.opened(), 0);
}

#[tokio::test]
async fn a_duplicate_alert_is_sent_once_and_a_repeated_alert_joins_the_open_one() {
    let api = Api::start().await;
    let runner = runner(&api);
    // The same SNS message twice (at-least-once delivery): sent once.
    let alert = event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT);
    delivered(&runner, &alert).await;
    let again = handle(&runner, &alert).await.unwrap();
    assert_eq!((again.delivered, again.skipped), (0, 1), "{again:?}");
    assert_eq!(api.receiver.requests().len(), 1);
    // Another Alert of the same incident (a sender that repeats itself): PagerDuty merges it.
    delivered(&runner, &event("a-2", "Alert", "2026-11-28T10:01:00", INCIDENT)).await;
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let pagerduty = api.state();
    assert_eq!(
        (pagerduty.opened(), pagerduty.duplicates(), pagerduty.resolved()),
        (1, 1, 1)
    );
    assert!(pagerduty.open_alerts().is_empty());
}

#[tokio::test]
async fn an_ok_before_its_alert_leaves_no_incident_open() {
    // GIVEN the Ok of an incident, arriving first
    let api = Api::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;

    // WHEN its Alert arrives late
    let (logs, _guard) = test_support::logs::capture();
    nothing_sent(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;

    // THEN PagerDuty dropped the resolve, and the late Alert opened nothing (it says why)
    let pagerduty = api.state();
    assert_eq!((pagerduty.opened(), pagerduty.dropped()), (0, 1));
    assert!(pagerduty.open_alerts().is_empty());
    assert!(
        logs.text()
            .contains("arrived after the Ok of 2026-11-28T10:25:00Z"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn a_key_used_again_after_the_ok_opens_a_new_incident() {
    let api = Api::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    delivered(&runner, &event("a-2", "Alert", "2026-11-28T11:00:00", INCIDENT)).await;
    let pagerduty = api.state();
    assert_eq!((pagerduty.opened(), pagerduty.resolved()), (2, 1));
    let open = pagerduty.open_alerts();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].number, 2);
}

#[tokio::test]
async fn a_late_ok_of_an_older_incident_does_not_close_the_newer_one() {
    // GIVEN an incident whose key opened again (a second Alert, later) before the first Ok arrived
    let api = Api::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    delivered(&runner, &event("a-2", "Alert", "2026-11-28T11:00:00", INCIDENT)).await;

    // WHEN the first incident's Ok arrives, then the second's
    nothing_sent(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    assert_eq!(api.state().open_alerts().len(), 1, "the late Ok closed nothing");
    delivered(&runner, &event("o-2", "Ok", "2026-11-28T11:30:00", INCIDENT)).await;

    // THEN one alert was open throughout, and the last Ok closed it
    let pagerduty = api.state();
    assert_eq!((pagerduty.opened(), pagerduty.resolved()), (1, 1));
    assert!(pagerduty.open_alerts().is_empty());
}

#[tokio::test]
async fn a_throttled_event_is_retried_after_retry_after_and_delivered() {
    let api = Api::start().await;
    api.state().fail_next([PagerDuty::throttled()]);
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    let requests = api.receiver.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at.saturating_duration_since(requests[0].at);
    assert!(
        waited >= Duration::from_secs(1),
        "retried after {waited:?}, before Retry-After"
    );
    let history = records(&runner, "a-1").await;
    let outcomes: Vec<_> = history
        .iter()
        .map(|record| (record.outcome, record.http_status))
        .collect();
    assert_eq!(
        outcomes,
        [
            (AttemptOutcome::Retryable, Some(429)),
            (AttemptOutcome::Delivered, Some(202))
        ]
    );
    assert_eq!(api.state().opened(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_and_the_event_delivered() {
    let api = Api::start().await;
    api.state().fail_next([
        test_support::Reply::status(500).body("Internal Server Error"),
        test_support::Reply::status(503).body("Service Unavailable"),
    ]);
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    let history = records(&runner, "a-1").await;
    let statuses: Vec<_> = history.iter().map(|record| record.http_status).collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(202)]);
    let states = {
        use notify_core::DeliveryLog as _;
        runner.deliveries().states("a-1").await.expect("the delivery log")
    };
    assert_eq!(states.len(), 1);
    assert_eq!(
        states[0].external_id.as_deref(),
        Some(INCIDENT),
        "PagerDuty's dedup_key"
    );
    assert_eq!(api.state().opened(), 1);
}

#[tokio::test]
async fn server_errors_that_last_leave_the_route_to_lambda_retries() {
    let api = Api::start().await;
    api.state()
        .fail_next((0..3).map(|_| test_support::Reply::status(502).body("Bad Gateway")));
    let runner = runner(&api);
    let result = handle(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    assert!(
        matches!(result, Err(HandlerError::Retryable { .. })),
        "{result:?}"
    );
    // Lambda's retry of the event: PagerDuty is back.
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    assert_eq!(api.state().opened(), 1);
}

#[tokio::test]
async fn an_invalid_event_fails_once_with_pagerdutys_errors_in_the_delivery_log_and_no_key_anywhere() {
    // GIVEN a routing key of the wrong length
    let api = Api::start().await;
    let key = "short-secret-routing-key";
    let runner = runner_with(&api, "", key);
    let alert = event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT);

    // WHEN the alert is handled
    let captured = notify_core::testing::capture(&runner, &alert).await;

    // THEN the route failed after one attempt, the delivery log says what PagerDuty said, and the
    // key is in no output
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(api.receiver.requests().len(), 1);
    let records = records(&runner, "a-1").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, AttemptOutcome::Permanent);
    let error = records[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("pagerduty refused the event (Event object is invalid): Length of 'routing_key' is incorrect (should be 32 characters)"),
        "{error}"
    );
    assert!(
        records[0]
            .request
            .contains("[secret ssm:/tocsin/ops-pagerduty/routing-key]"),
        "the key shows as its placeholder: {}",
        records[0].request
    );
    captured.assert_no_leak(key);
}

#[tokio::test]
async fn a_large_alert_reaches_pagerduty_within_its_limit_and_says_what_was_cut() {
    let api = Api::start().await;
    let runner = runner_with(
        &api,
        r#"      customDetails: '{"a": "{{@alert.description}}", "b": "{{@alert.description}}", "c": "{{@alert.description}}"}'"#,
        ROUTING_KEY,
    );
    let mut message: Value = json!({
        "version": 1,
        "alert": {"alertGuid": "a-big", "type": "Alert", "description": "d".repeat(200_000), "timestampUtc": "2026-11-28T10:00:00"},
        "monitor": {"monitorGuid": "dns-1", "name": "GalacticResorts.com - DNS"},
        "incident": {"key": INCIDENT},
    });
    message["monitor"]["url"] = json!("galacticresorts.com");
    delivered(
        &runner,
        &test_support::sns::event(&[("sns-big", &message.to_string())]),
    )
    .await;
    let pagerduty = api.state();
    assert_eq!(pagerduty.opened(), 1);
    let details = &pagerduty.events[0]["payload"]["custom_details"];
    let cut = ["a", "b", "c"]
        .iter()
        .filter(|key| details[**key] == "[cut: 200000 bytes]")
        .count();
    assert_eq!(
        cut,
        1,
        "one value cut is enough: {}",
        details[crate::SHRUNK_NOTE_KEY]
    );
    assert!(details[crate::SHRUNK_NOTE_KEY].as_str().is_some());
}
