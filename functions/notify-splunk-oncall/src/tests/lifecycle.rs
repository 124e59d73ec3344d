//! Lifecycle tests: SNS events through the real runner (claims, retries, incident state, delivery
//! log in memory) and the real notifier, against the local Splunk On-Call of [`super::vendor`],
//! which refuses what the REST endpoint refuses and keeps incidents as Splunk On-Call does.

use std::time::Duration;

use kind_kit::lifecycle::{delivered, event, handle, nothing_sent};
use notify_core::{
    DeliveryRecord, HandlerError, MemoryDeliveryLog, MemorySecrets, Pipeline, Settings,
    deliveries::AttemptOutcome,
};
use serde_json::json;

use super::{
    API_KEY, notifier,
    vendor::{Api, Outcome},
};
use crate::SplunkOnCallNotifier;

const SECRET_REF: &str = "ssm:/tocsin/ops-oncall/api-key";
const INCIDENT: &str = "dns-incident-1";

type Runner = Pipeline<SplunkOnCallNotifier, definition_store::MemoryStore, MemorySecrets, MemoryDeliveryLog>;

/// The runner with one Splunk On-Call integration sending to `api`, with `settings` added,
/// attached to level 1 of a definition covering every monitor; the API key `key` in the secrets.
fn runner_with(api: &Api, settings: &str, key: &str) -> Runner {
    let yaml = format!(
        r#"
integrations:
  - id: ops-oncall
    kind: splunk-oncall
    variables:
      ApiKey: {{secret: "{SECRET_REF}"}}
      RoutingKey: dns-team
    settings:
      url: "{base}/{{{{ApiKey}}}}"
{settings}
alertDefinitions:
  - id: ops-dns
    name: Ops DNS
    monitors: ["*"]
    levels:
      - id: 1
        message: Call the DNS team
        integrations:
          - integration: ops-oncall
"#,
        base = api.base()
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
    runner_with(api, "", API_KEY)
}

async fn records(runner: &Runner, alert: &str) -> Vec<DeliveryRecord> {
    use notify_core::DeliveryLog as _;
    runner
        .deliveries()
        .history(alert)
        .await
        .expect("the delivery log")
}

fn opened(incident: usize) -> Outcome {
    Outcome::Opened {
        entity_id: INCIDENT.to_owned(),
        incident,
    }
}

fn resolved(incident: usize) -> Outcome {
    Outcome::Resolved {
        entity_id: INCIDENT.to_owned(),
        incident,
    }
}

#[tokio::test]
async fn alert_reminder_reminder_ok_opens_exactly_one_incident_and_resolves_it() {
    // GIVEN Splunk On-Call and an integration with the default settings (no reminders)
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

    // THEN Splunk On-Call opened exactly one incident, by the incident key, and resolved it
    let oncall = api.state();
    assert_eq!(oncall.outcomes, [opened(1), resolved(1)]);
    assert!(oncall.open_incidents().is_empty());
    assert_eq!(api.receiver.requests().len(), 2, "the Reminders sent nothing");
    assert!(
        oncall
            .messages
            .iter()
            .all(|(routing_key, _)| routing_key == "dns-team"),
        "{:?}",
        oncall.messages
    );
}

#[tokio::test]
async fn with_reminders_on_a_reminder_joins_the_open_incident() {
    let api = Api::start().await;
    let runner = runner_with(&api, "      sendReminders: true", API_KEY);
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
    let oncall = api.state();
    assert_eq!((oncall.opened(), oncall.joined(), oncall.resolved()), (1, 2, 1));
    assert!(oncall.open_incidents().is_empty());
}

#[tokio::test]
async fn a_warning_by_setting_reaches_the_timeline_and_its_recovery_too() {
    let api = Api::start().await;
    let runner = runner_with(&api, "      messageType: WARNING", API_KEY);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let oncall = api.state();
    assert_eq!((oncall.opened(), oncall.timeline()), (0, 2));
}

#[tokio::test]
async fn an_ok_without_an_alert_is_sent_and_lands_on_the_timeline() {
    let api = Api::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let oncall = api.state();
    assert_eq!(
        oncall.outcomes,
        [Outcome::Timeline {
            entity_id: INCIDENT.to_owned(),
            message_type: "RECOVERY".to_owned()
        }]
    );
    assert_eq!(oncall.opened(), 0);
}

#[tokio::test]
async fn a_duplicate_alert_is_sent_once_and_a_repeated_alert_joins_the_open_incident() {
    let api = Api::start().await;
    let runner = runner(&api);
    // The same SNS message twice (at-least-once delivery): sent once.
    let alert = event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT);
    delivered(&runner, &alert).await;
    let again = handle(&runner, &alert).await.unwrap();
    assert_eq!((again.delivered, again.skipped), (0, 1), "{again:?}");
    assert_eq!(api.receiver.requests().len(), 1);
    // Another Alert of the same incident: Splunk On-Call adds it to the open incident.
    delivered(&runner, &event("a-2", "Alert", "2026-11-28T10:01:00", INCIDENT)).await;
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let oncall = api.state();
    assert_eq!((oncall.opened(), oncall.joined(), oncall.resolved()), (1, 1, 1));
    assert!(oncall.open_incidents().is_empty());
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

    // THEN the recovery went to the timeline, and the late Alert opened nothing (it says why)
    let oncall = api.state();
    assert_eq!((oncall.opened(), oncall.timeline()), (0, 1));
    assert!(oncall.open_incidents().is_empty());
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
    let oncall = api.state();
    assert_eq!(oncall.outcomes, [opened(1), resolved(1), opened(2)]);
    assert_eq!(oncall.open_incidents(), [2]);
}

#[tokio::test]
async fn a_late_ok_of_an_older_incident_does_not_resolve_the_newer_one() {
    let api = Api::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    delivered(&runner, &event("a-2", "Alert", "2026-11-28T11:00:00", INCIDENT)).await;
    nothing_sent(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    assert_eq!(
        api.state().open_incidents().len(),
        1,
        "the late Ok resolved nothing"
    );
    delivered(&runner, &event("o-2", "Ok", "2026-11-28T11:30:00", INCIDENT)).await;
    let oncall = api.state();
    assert_eq!((oncall.opened(), oncall.resolved()), (1, 1));
    assert!(oncall.open_incidents().is_empty());
}

#[tokio::test]
async fn a_throttled_message_is_retried_after_retry_after_and_delivered() {
    let api = Api::start().await;
    api.state().fail_next([test_support::Reply::status(429)
        .body("Too Many Requests")
        .header("Retry-After", "1")]);
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    let requests = api.receiver.requests();
    assert_eq!(requests.len(), 2);
    let waited = requests[1].at.saturating_duration_since(requests[0].at);
    assert!(
        waited >= Duration::from_secs(1),
        "retried after {waited:?}, before Retry-After"
    );
    let outcomes: Vec<_> = records(&runner, "a-1")
        .await
        .iter()
        .map(|record| (record.outcome, record.http_status))
        .collect();
    assert_eq!(
        outcomes,
        [
            (AttemptOutcome::Retryable, Some(429)),
            (AttemptOutcome::Delivered, Some(200))
        ]
    );
    assert_eq!(api.state().opened(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_and_the_message_delivered() {
    let api = Api::start().await;
    api.state().fail_next([
        test_support::Reply::status(500).body("Internal Server Error"),
        test_support::Reply::status(503).body("Service Unavailable"),
    ]);
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    let statuses: Vec<_> = records(&runner, "a-1")
        .await
        .iter()
        .map(|record| record.http_status)
        .collect();
    assert_eq!(statuses, [Some(500), Some(503), Some(200)]);
    let states = {
        use notify_core::DeliveryLog as _;
        runner.deliveries().states("a-1").await.expect("the delivery log")
    };
    assert_eq!(states.len(), 1);
    assert_eq!(
        states[0].external_id.as_deref(),
        Some(INCIDENT),
        "Splunk On-Call's entity_id"
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
    // Lambda's retry of the event: Splunk On-Call is back.
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    assert_eq!(api.state().opened(), 1);
}

#[tokio::test]
async fn a_refused_message_fails_once_with_splunks_message_in_the_delivery_log_and_no_key_anywhere() {
    // GIVEN a wrong API key
    let api = Api::start().await;
    let key = "wrong-secret-api-key-0000";
    let runner = runner_with(&api, "", key);
    let alert = event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT);

    // WHEN the alert is handled
    let captured = notify_core::testing::capture(&runner, &alert).await;

    // THEN the route failed after one attempt, the delivery log says what Splunk On-Call said,
    // and the key is in no output
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(api.receiver.requests().len(), 1);
    let records = records(&runner, "a-1").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, AttemptOutcome::Permanent);
    let error = records[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("status 401: splunk on-call refused the message (failure): Invalid API key"),
        "{error}"
    );
    captured.assert_no_leak(key);
    assert_eq!(api.state().opened(), 0);
}

#[tokio::test]
async fn a_failure_answered_with_200_is_not_delivered() {
    // Splunk On-Call's answer names its result: a 200 that says `failure` is a refusal.
    let api = Api::start().await;
    api.state().fail_next([test_support::Reply::json(
        200,
        &json!({"result": "failure", "message": "Routing key not found"}),
    )]);
    let runner = runner(&api);
    let report = handle(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((report.delivered, report.failed), (0, 1), "{report:?}");
    let error = records(&runner, "a-1").await[0].error.clone().unwrap_or_default();
    assert!(error.contains("Routing key not found"), "{error}");
}
