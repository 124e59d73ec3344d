//! Lifecycle tests: SNS events through the real runner (claims, retries, incident state, delivery
//! log in memory) and the real notifier, against the local Jira Service Management API of
//! [`super::vendor`], which refuses what the API refuses, answers `202` and processes afterwards.

use std::time::Duration;

use kind_kit::lifecycle::{delivered, event, handle, nothing_sent};
use notify_core::{
    DeliveryRecord, HandlerError, MemoryDeliveryLog, MemorySecrets, Pipeline, Settings,
    deliveries::AttemptOutcome,
};
use serde_json::json;

use super::{
    API_KEY, notifier,
    vendor::{ApiServer, Processed},
};
use crate::JsmNotifier;

const SECRET_REF: &str = "ssm:/tocsin/ops-jsm/api-key";
const INCIDENT: &str = "dns-incident-1";

type Runner = Pipeline<JsmNotifier, definition_store::MemoryStore, MemorySecrets, MemoryDeliveryLog>;

/// The runner with one JSM integration sending to `api`, with `settings` added, attached to
/// level 1 of a definition covering every monitor; the API key `key` in the secrets.
fn runner_with(api: &ApiServer, settings: &str, key: &str) -> Runner {
    let yaml = format!(
        r#"
integrations:
  - id: ops-jsm
    kind: jsm
    variables:
      ApiKey: {{secret: "{SECRET_REF}"}}
    settings:
      url: "{base}"
      responders: [{{type: team, name: DNS}}]
{settings}
alertDefinitions:
  - id: ops-dns
    name: Ops DNS
    monitors: ["*"]
    levels:
      - id: 1
        message: Call the DNS team
        integrations:
          - integration: ops-jsm
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

fn runner(api: &ApiServer) -> Runner {
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

fn created(alert: usize) -> Processed {
    Processed::Created {
        alias: INCIDENT.to_owned(),
        alert,
    }
}

fn closed(alert: usize) -> Processed {
    Processed::Closed {
        alias: INCIDENT.to_owned(),
        alert,
    }
}

#[tokio::test]
async fn alert_reminder_reminder_ok_opens_exactly_one_alert_and_closes_it() {
    // GIVEN Jira Service Management and an integration with the default settings (no reminders)
    let api = ApiServer::start().await;
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

    // THEN one alert was created, by the incident key as its alias, and closed by it
    let jsm = api.state();
    assert_eq!(jsm.processed, [created(1), closed(1)]);
    assert!(jsm.open_alerts().is_empty());
    assert_eq!(api.receiver.requests().len(), 2, "the Reminders sent nothing");
    assert_eq!(
        jsm.bodies[0]["responders"],
        json!([{"type": "team", "name": "DNS"}])
    );
}

#[tokio::test]
async fn the_requests_202_and_request_id_count_as_delivered() {
    let api = ApiServer::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    let history = records(&runner, "a-1").await;
    assert_eq!(
        (history[0].outcome, history[0].http_status),
        (AttemptOutcome::Delivered, Some(202))
    );
    let states = {
        use notify_core::DeliveryLog as _;
        runner.deliveries().states("a-1").await.expect("the delivery log")
    };
    assert_eq!(
        states[0].external_id.as_deref(),
        Some("00000000-0000-4000-8000-000000000001"),
        "the API's requestId"
    );
}

#[tokio::test]
async fn with_reminders_on_a_reminder_is_counted_on_the_open_alert() {
    let api = ApiServer::start().await;
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
    let jsm = api.state();
    assert_eq!((jsm.opened(), jsm.deduplicated(), jsm.closed()), (1, 2, 1));
    assert!(jsm.open_alerts().is_empty());
}

#[tokio::test]
async fn an_ok_without_an_alert_is_accepted_and_its_processing_fails_harmlessly() {
    let api = ApiServer::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let jsm = api.state();
    assert_eq!(
        jsm.processed,
        [Processed::CloseFailed {
            alias: INCIDENT.to_owned()
        }]
    );
    assert_eq!(jsm.opened(), 0);
}

#[tokio::test]
async fn a_duplicate_alert_is_sent_once_and_a_repeated_alert_is_deduplicated_by_alias() {
    let api = ApiServer::start().await;
    let runner = runner(&api);
    let alert = event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT);
    delivered(&runner, &alert).await;
    let again = handle(&runner, &alert).await.unwrap();
    assert_eq!((again.delivered, again.skipped), (0, 1), "{again:?}");
    assert_eq!(api.receiver.requests().len(), 1);
    delivered(&runner, &event("a-2", "Alert", "2026-11-28T10:01:00", INCIDENT)).await;
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let jsm = api.state();
    assert_eq!((jsm.opened(), jsm.deduplicated(), jsm.closed()), (1, 1, 1));
    assert!(jsm.open_alerts().is_empty());
}

#[tokio::test]
async fn an_ok_before_its_alert_leaves_no_alert_open() {
    let api = ApiServer::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let (logs, _guard) = test_support::logs::capture();
    nothing_sent(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    let jsm = api.state();
    assert_eq!((jsm.opened(), jsm.failed_closes()), (0, 1));
    assert!(jsm.open_alerts().is_empty());
    assert!(
        logs.text()
            .contains("arrived after the Ok of 2026-11-28T10:25:00Z"),
        "{}",
        logs.text()
    );
}

#[tokio::test]
async fn a_key_used_again_after_the_ok_opens_a_new_alert() {
    let api = ApiServer::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    delivered(&runner, &event("a-2", "Alert", "2026-11-28T11:00:00", INCIDENT)).await;
    let jsm = api.state();
    assert_eq!(jsm.processed, [created(1), closed(1), created(2)]);
    assert_eq!(jsm.open_alerts(), [2]);
}

#[tokio::test]
async fn a_late_ok_of_an_older_incident_does_not_close_the_newer_alert() {
    let api = ApiServer::start().await;
    let runner = runner(&api);
    delivered(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT)).await;
    delivered(&runner, &event("a-2", "Alert", "2026-11-28T11:00:00", INCIDENT)).await;
    nothing_sent(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    assert_eq!(api.state().open_alerts().len(), 1, "the late Ok closed nothing");
    delivered(&runner, &event("o-2", "Ok", "2026-11-28T11:30:00", INCIDENT)).await;
    let jsm = api.state();
    assert_eq!((jsm.opened(), jsm.closed()), (1, 1));
    assert!(jsm.open_alerts().is_empty());
}

#[tokio::test]
async fn a_throttled_request_is_retried_after_retry_after_and_delivered() {
    let api = ApiServer::start().await;
    api.state().fail_next([test_support::Reply::json(
        429,
        &json!({"message": "You are making too many requests! To avoid errors, we recommend you limit requests.", "took": 0.0, "requestId": "throttled"}),
    )
    .header("Retry-After", "1")
    .header("X-RateLimit-State", "THROTTLED")]);
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
            (AttemptOutcome::Delivered, Some(202))
        ]
    );
    assert_eq!(api.state().opened(), 1);
}

#[tokio::test]
async fn server_errors_are_retried_and_those_that_last_leave_the_route_to_lambda_retries() {
    let api = ApiServer::start().await;
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
    assert_eq!(statuses, [Some(500), Some(503), Some(202)]);
    api.state()
        .fail_next((0..3).map(|_| test_support::Reply::status(502).body("Bad Gateway")));
    let result = handle(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    assert!(
        matches!(result, Err(HandlerError::Retryable { .. })),
        "{result:?}"
    );
    delivered(&runner, &event("o-1", "Ok", "2026-11-28T10:25:00", INCIDENT)).await;
    let jsm = api.state();
    assert_eq!((jsm.opened(), jsm.closed()), (1, 1));
}

#[tokio::test]
async fn a_refused_request_fails_once_with_the_apis_message_and_no_key_anywhere() {
    // GIVEN a wrong API key
    let api = ApiServer::start().await;
    let key = "wrong-secret-genie-key-0000";
    let runner = runner_with(&api, "", key);
    let alert = event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT);

    // WHEN the alert is handled
    let captured = notify_core::testing::capture(&runner, &alert).await;

    // THEN the route failed after one attempt, the delivery log says what the API said, and the
    // key is in no output
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(api.receiver.requests().len(), 1);
    let records = records(&runner, "a-1").await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].outcome, AttemptOutcome::Permanent);
    let error = records[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("status 401: the alert API refused the request (Could not authenticate)"),
        "{error}"
    );
    captured.assert_no_leak(key);
}

#[tokio::test]
async fn an_invalid_request_names_the_apis_errors() {
    let api = ApiServer::start().await;
    // The API's 422 for a body it cannot process, with its errors by field.
    api.state().fail_next([test_support::Reply::json(
        422,
        &json!({"message": "Request body is not processable. Please check the errors.", "errors": {"message": "Message can not be empty."}, "took": 0.0, "requestId": "r"}),
    )]);
    let runner = runner(&api);
    let report = handle(&runner, &event("a-1", "Alert", "2026-11-28T10:00:00", INCIDENT))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((report.delivered, report.failed), (0, 1), "{report:?}");
    let error = records(&runner, "a-1").await[0].error.clone().unwrap_or_default();
    assert!(
        error.contains(
            "(Request body is not processable. Please check the errors.): message: Message can not be empty."
        ),
        "{error}"
    );
}
