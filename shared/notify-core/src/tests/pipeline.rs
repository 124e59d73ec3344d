//! The pipeline end to end, with the test notifier against the local receiver and the in-memory
//! or DynamoDB delivery log.
//!
//! These tests need the real `alert_model::inbound::normalize` (native envelope and plain text) and
//! `Catalog::routes` of the other branches.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use alert_model::{Alert, AlertType, template::Engine};
use definition_store::{Catalog, Definitions, MemoryStore, VariableDef};
use test_support::{
    Receiver, Reply, Script,
    logs::capture as capture_logs,
    moto::{sdk_config, unique},
    sns::{event as sns_event, native_alert as native},
};

use super::support::{TestNotifier, definitions, integration, local_client, settings, with_secret_token};
use crate::{
    DeliveryLog, DynamoDeliveryLog, EventReport, HandlerError, LogTimes, MemoryDeliveryLog, MemorySecrets,
    Pipeline, PlaceholderSecrets, Settings, deliveries::AttemptOutcome, deliveries::create_table, plan,
};

type MemoryPipeline = Pipeline<TestNotifier, MemoryStore, MemorySecrets, MemoryDeliveryLog>;

fn pipeline(definitions: Definitions, settings: Settings) -> MemoryPipeline {
    pipeline_with(definitions, settings, MemorySecrets::new())
}

fn pipeline_with(definitions: Definitions, settings: Settings, secrets: MemorySecrets) -> MemoryPipeline {
    Pipeline::new(
        TestNotifier { http: local_client() },
        MemoryStore::new(definitions),
        secrets,
        MemoryDeliveryLog::new(LogTimes::default()),
        settings,
    )
}

async fn dynamo_pipeline(
    definitions: Definitions,
    settings: Settings,
) -> Pipeline<TestNotifier, MemoryStore, MemorySecrets, DynamoDeliveryLog> {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique("Deliveries");
    create_table(&client, &table).await.unwrap();
    Pipeline::new(
        TestNotifier { http: local_client() },
        MemoryStore::new(definitions),
        MemorySecrets::new(),
        DynamoDeliveryLog::new(client, table, LogTimes::default()),
        settings,
    )
}

fn later(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

#[tokio::test]
async fn a_native_alert_is_delivered_with_the_route_filled_in() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(4),
    );
    let alert_id = unique("alert");
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&alert_id))]), later(30))
        .await
        .unwrap();
    assert_eq!(
        report,
        EventReport {
            records: 1,
            routes: 1,
            delivered: 1,
            ..EventReport::default()
        }
    );
    let requests = receiver.requests_to("/hook");
    assert_eq!(requests.len(), 1);
    let body: serde_json::Value = serde_json::from_str(&requests[0].body).unwrap();
    assert_eq!(body["alertGuid"], alert_id.as_str());
    assert_eq!(body["monitor"], "GalacticResorts.com - DNS");
    assert_eq!(body["definition"], "Everything");
    assert_eq!(body["levelMessage"], "level one");
    let history = pipeline.deliveries().history(&alert_id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].outcome, AttemptOutcome::Delivered);
    assert_eq!(history[0].http_status, Some(200));
    assert_eq!(history[0].response, "ok");
    assert!(
        history[0].request.contains("\"method\":\"POST\""),
        "{}",
        history[0].request
    );
}

#[tokio::test]
async fn a_500_is_retried_then_delivered() {
    let receiver =
        Receiver::start(Script::new().route("/hook", [Reply::status(500), Reply::status(503), Reply::ok()]))
            .await;
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(4),
    );
    let alert_id = unique("alert");
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&alert_id))]), later(30))
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);
    assert_eq!(receiver.requests_to("/hook").len(), 3);
    let outcomes: Vec<(u32, AttemptOutcome, Option<u16>)> = pipeline
        .deliveries()
        .history(&alert_id)
        .await
        .unwrap()
        .iter()
        .map(|r| (r.attempt, r.outcome, r.http_status))
        .collect();
    assert_eq!(
        outcomes,
        vec![
            (1, AttemptOutcome::Retryable, Some(500)),
            (2, AttemptOutcome::Retryable, Some(503)),
            (3, AttemptOutcome::Delivered, Some(200))
        ]
    );
}

#[tokio::test]
async fn retry_after_is_honoured() {
    let receiver = Receiver::start(Script::new().route(
        "/hook",
        [Reply::status(429).header("Retry-After", "1"), Reply::ok()],
    ))
    .await;
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(4),
    );
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("a")))]), later(30))
        .await
        .unwrap();
    assert_eq!(report.delivered, 1);
    let requests = receiver.requests_to("/hook");
    assert_eq!(requests.len(), 2);
    let gap = requests[1].at.duration_since(requests[0].at);
    assert!(
        gap >= Duration::from_secs(1),
        "second request after {gap:?}, before Retry-After"
    );
}

#[tokio::test]
async fn a_400_is_permanent_and_sent_once() {
    let receiver =
        Receiver::start(Script::new().route("/hook", [Reply::status(400).body("bad payload")])).await;
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(4),
    );
    let alert_id = unique("alert");
    let event = sns_event(&[("m-1", &native(&alert_id))]);
    let report = pipeline.handle_event(&event, later(30)).await.unwrap();
    assert_eq!(
        report,
        EventReport {
            records: 1,
            routes: 1,
            failed: 1,
            ..EventReport::default()
        }
    );
    assert_eq!(receiver.requests().len(), 1);
    // A redelivery of the event does not send it again either.
    let again = pipeline.handle_event(&event, later(30)).await.unwrap();
    assert_eq!(again.failed, 1);
    assert_eq!(receiver.requests().len(), 1);
    let history = pipeline.deliveries().history(&alert_id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].outcome, AttemptOutcome::Permanent);
    assert!(
        history[0]
            .error
            .as_deref()
            .unwrap()
            .contains("status 400 Bad Request: bad payload")
    );
}

#[tokio::test]
async fn attempts_are_capped_and_the_claim_released() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::status(502)])).await;
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(3),
    );
    let alert_id = unique("alert");
    let event = sns_event(&[("m-1", &native(&alert_id))]);
    let error = pipeline.handle_event(&event, later(30)).await.unwrap_err();
    assert_eq!(receiver.requests().len(), 3);
    let HandlerError::Retryable { routes, report } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(report.retryable, 1);
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].integration_id, "hook");
    assert_eq!(routes[0].step.as_deref(), Some("def-1/step-1"));
    assert!(
        error
            .to_string()
            .starts_with("1 route(s) left retryable: alert `"),
        "{error}"
    );
    assert!(error.to_string().contains("attempts exhausted"), "{error}");
    // The released claim is taken again by the next invocation; numbering continues.
    let _ = pipeline.handle_event(&event, later(30)).await.unwrap_err();
    assert_eq!(receiver.requests().len(), 6);
    let attempts: Vec<u32> = pipeline
        .deliveries()
        .history(&alert_id)
        .await
        .unwrap()
        .iter()
        .map(|r| r.attempt)
        .collect();
    assert_eq!(attempts, vec![1, 2, 3, 4, 5, 6]);
}

#[tokio::test]
async fn the_deadline_is_respected() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::status(500)])).await;
    let settings = Settings {
        backoff_base: Duration::from_millis(200),
        backoff_cap: Duration::from_millis(400),
        // The receiver answers at once: an attempt takes far less.
        attempt_time: Duration::from_millis(100),
        ..settings(50)
    };
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings,
    );
    let deadline = Instant::now() + Duration::from_millis(1500);
    let error = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("a")))]), deadline)
        .await
        .unwrap_err();
    assert!(error.to_string().contains("no time left to retry"), "{error}");
    let requests = receiver.requests();
    assert!(
        !requests.is_empty() && requests.len() < 50,
        "{} requests",
        requests.len()
    );
    assert!(
        requests.iter().all(|request| request.at <= deadline),
        "a request was sent after the deadline"
    );
    // A deadline already passed sends nothing.
    let before = receiver.requests().len();
    let error = pipeline
        .handle_event(&sns_event(&[("m-2", &native(&unique("a")))]), Instant::now())
        .await
        .unwrap_err();
    assert!(error.to_string().contains("deadline"), "{error}");
    assert_eq!(receiver.requests().len(), before);
}

#[tokio::test]
async fn no_send_is_started_that_the_deadline_could_cut() {
    // GIVEN a target that answers at once but an attempt may take 2 s (the HTTP timeouts), and an
    // invocation with 1 s left: a send started now could be cut by the deadline after the target
    // acted on it, and be sent again (a duplicate at a target without an idempotency key)
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        Settings {
            attempt_time: Duration::from_secs(2),
            ..settings(3)
        },
    );
    let alert_id = unique("alert");
    let event = sns_event(&[("m-1", &native(&alert_id))]);

    // WHEN the event comes with 1 s left, then again with time for an attempt
    let short = pipeline
        .handle_event(&event, Instant::now() + Duration::from_secs(1))
        .await
        .unwrap_err();
    let requests_after_short = receiver.requests().len();
    let states_after_short = pipeline.deliveries().states(&alert_id).await.unwrap();
    let history_after_short = pipeline.deliveries().history(&alert_id).await.unwrap();
    let full = pipeline.handle_event(&event, later(30)).await.unwrap();

    // THEN the first sends nothing, records no attempt and releases the claim for a retry; the
    // retry sends the message once, as attempt #1
    assert!(short.to_string().contains("not sent"), "{short}");
    assert_eq!(requests_after_short, 0);
    assert_eq!(states_after_short[0].status, crate::DeliveryStatus::Released);
    assert!(history_after_short.is_empty(), "{history_after_short:?}");
    assert_eq!(full.delivered, 1);
    assert_eq!(receiver.requests().len(), 1);
    let attempts: Vec<u32> = pipeline
        .deliveries()
        .history(&alert_id)
        .await
        .unwrap()
        .iter()
        .map(|r| r.attempt)
        .collect();
    assert_eq!(attempts, vec![1]);
}

#[tokio::test]
async fn a_slow_target_or_dropped_connection_is_retried() {
    let receiver = Receiver::start(
        Script::new()
            .route("/slow", [Reply::ok().delay(Duration::from_secs(3)), Reply::ok()])
            .route("/drop", [Reply::drop_connection(), Reply::ok()]),
    )
    .await;
    let pipeline = pipeline(
        definitions(vec![
            integration("slow", &receiver.url("/slow")),
            integration("drop", &receiver.url("/drop")),
        ]),
        settings(3),
    );
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("a")))]), later(30))
        .await
        .unwrap();
    assert_eq!(report.delivered, 2);
    assert_eq!(receiver.requests_to("/slow").len(), 2);
    assert_eq!(receiver.requests_to("/drop").len(), 2);
}

#[tokio::test]
async fn later_steps_are_not_sent_after_a_failed_step() {
    let receiver = Receiver::start(
        Script::new()
            .route("/1", [Reply::status(404)])
            .route("/2", [Reply::ok()]),
    )
    .await;
    let mut hook = integration("hook", &receiver.url("/{step}"));
    hook.settings.insert("steps".to_owned(), serde_json::json!(2));
    let pipeline = pipeline(definitions(vec![hook]), settings(3));
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("a")))]), later(30))
        .await
        .unwrap();
    assert_eq!(report.failed, 1);
    assert_eq!(receiver.requests_to("/1").len(), 1);
    assert!(receiver.requests_to("/2").is_empty());
}

async fn same_event_twice_sends_once<L: DeliveryLog>(
    pipeline: &Pipeline<TestNotifier, MemoryStore, MemorySecrets, L>,
    receiver: &Receiver,
) {
    let event = sns_event(&[("m-1", &native(&unique("alert")))]);
    let first = pipeline.handle_event(&event, later(30)).await.unwrap();
    assert_eq!(first.delivered, 1);
    let second = pipeline.handle_event(&event, later(30)).await.unwrap();
    assert_eq!(
        second,
        EventReport {
            records: 1,
            routes: 1,
            skipped: 1,
            ..EventReport::default()
        }
    );
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test]
async fn memory_same_event_twice_sends_once() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(3),
    );
    same_event_twice_sends_once(&pipeline, &receiver).await;
}

#[tokio::test]
async fn dynamo_same_event_twice_sends_once() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let pipeline = dynamo_pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(3),
    )
    .await;
    same_event_twice_sends_once(&pipeline, &receiver).await;
}

async fn concurrent_invocations_send_once<L: DeliveryLog + 'static>(
    pipeline: Arc<Pipeline<TestNotifier, MemoryStore, MemorySecrets, L>>,
    receiver: &Receiver,
) {
    let event = sns_event(&[("m-1", &native(&unique("alert")))]);
    let (first, second) = tokio::join!(
        tokio::spawn({
            let (pipeline, event) = (Arc::clone(&pipeline), event.clone());
            async move { pipeline.handle_event(&event, later(30)).await }
        }),
        tokio::spawn({
            let (pipeline, event) = (Arc::clone(&pipeline), event.clone());
            async move { pipeline.handle_event(&event, later(30)).await }
        }),
    );
    let results = [first.unwrap(), second.unwrap()];
    let delivered = results
        .iter()
        .filter(|r| matches!(r, Ok(report) if report.delivered == 1))
        .count();
    assert_eq!(delivered, 1, "{results:?}");
    assert_eq!(receiver.requests().len(), 1);
    // Whoever lost the race sees the delivery on its retry.
    let retry = pipeline.handle_event(&event, later(30)).await.unwrap();
    assert_eq!(retry.skipped, 1);
    assert_eq!(receiver.requests().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_concurrent_invocations_send_once() {
    let receiver =
        Receiver::start(Script::new().route("/hook", [Reply::ok().delay(Duration::from_millis(200))])).await;
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(3),
    );
    concurrent_invocations_send_once(Arc::new(pipeline), &receiver).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamo_concurrent_invocations_send_once() {
    let receiver =
        Receiver::start(Script::new().route("/hook", [Reply::ok().delay(Duration::from_millis(200))])).await;
    let pipeline = dynamo_pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(3),
    )
    .await;
    concurrent_invocations_send_once(Arc::new(pipeline), &receiver).await;
}

async fn a_retry_delivers_only_the_remaining_route<L: DeliveryLog>(
    pipeline: &Pipeline<TestNotifier, MemoryStore, MemorySecrets, L>,
    receiver: &Receiver,
) {
    let event = sns_event(&[("m-1", &native(&unique("alert")))]);
    // GIVEN one target up and one failing
    // WHEN the event is handled
    let error = pipeline.handle_event(&event, later(30)).await.unwrap_err();
    // THEN the invocation fails for the failing route only
    assert_eq!(
        *error.report(),
        EventReport {
            records: 1,
            routes: 2,
            delivered: 1,
            retryable: 1,
            ..EventReport::default()
        }
    );
    // AND its retry delivers only that route
    let report = pipeline.handle_event(&event, later(30)).await.unwrap();
    assert_eq!(
        report,
        EventReport {
            records: 1,
            routes: 2,
            delivered: 1,
            skipped: 1,
            ..EventReport::default()
        }
    );
    assert_eq!(receiver.requests_to("/up").len(), 1);
    assert_eq!(receiver.requests_to("/flaky").len(), 2);
}

#[tokio::test]
async fn memory_a_retry_delivers_only_the_remaining_route() {
    let receiver = Receiver::start(
        Script::new()
            .route("/up", [Reply::ok()])
            .route("/flaky", [Reply::status(503), Reply::ok()]),
    )
    .await;
    let definitions = definitions(vec![
        integration("up", &receiver.url("/up")),
        integration("flaky", &receiver.url("/flaky")),
    ]);
    a_retry_delivers_only_the_remaining_route(&pipeline(definitions, settings(1)), &receiver).await;
}

#[tokio::test]
async fn dynamo_a_retry_delivers_only_the_remaining_route() {
    let receiver = Receiver::start(
        Script::new()
            .route("/up", [Reply::ok()])
            .route("/flaky", [Reply::status(503), Reply::ok()]),
    )
    .await;
    let definitions = definitions(vec![
        integration("up", &receiver.url("/up")),
        integration("flaky", &receiver.url("/flaky")),
    ]);
    a_retry_delivers_only_the_remaining_route(&dynamo_pipeline(definitions, settings(1)).await, &receiver)
        .await;
}

#[tokio::test]
async fn bad_records_are_rejected_one_by_one_and_the_others_delivered() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let pipeline = pipeline(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(2),
    );
    let good = native(&unique("good"));
    let huge = "x".repeat(300 * 1024);
    let deep = format!("{}{}", "[".repeat(10_000), "]".repeat(10_000));
    let mut event = sns_event(&[
        ("m-good", &good),
        ("m-empty", ""),
        ("m-huge", &huge),
        ("m-deep", &deep),
        ("m-text", "disk full on db-1"),
        ("m-good-2", &native(&unique("good"))),
    ]);
    let records = event["Records"].as_array_mut().unwrap();
    records.push(serde_json::json!("not a record"));
    records.push(serde_json::json!({"Sns": {"MessageId": "m-no-message"}}));
    records.push(serde_json::json!({"Sns": {"Message": "no id"}}));
    records.push(serde_json::json!({"Sns": 42}));
    let (logs, _guard) = capture_logs();
    let report = pipeline.handle_event(&event, later(30)).await.unwrap();
    assert_eq!(report.records, 10);
    // Empty, too large, not an object, without Message, without MessageId, Sns not an object.
    // The deep nesting is either plain text or rejected, never a panic.
    assert!(report.rejected == 6 || report.rejected == 7, "{report:?}");
    assert_eq!(report.delivered + report.rejected, 10, "{report:?}");
    assert_eq!(receiver.requests().len(), report.delivered);
    let bodies: Vec<String> = receiver.requests().iter().map(|r| r.body.clone()).collect();
    assert!(
        bodies.iter().any(|b| b.contains("disk full on db-1")),
        "the plain-text alert is delivered"
    );
    let text = logs.text();
    for reason in [
        "empty message",
        "larger than the limit",
        "the record is not an object",
        "no `Sns.Message`",
        "no `Sns.MessageId`",
    ] {
        assert!(text.contains(reason), "no log line says {reason:?}");
    }
    assert!(
        text.contains("\"sns_message_id\":\"m-empty\""),
        "the log names the message id"
    );
    assert!(text.contains("\"index\":1"), "the log names the record index");
}

#[tokio::test]
async fn an_event_without_records_is_rejected_not_retried() {
    let pipeline = pipeline(Definitions::default(), settings(2));
    for event in [
        serde_json::json!({}),
        serde_json::json!([]),
        serde_json::json!({"Records": "x"}),
    ] {
        let report = pipeline.handle_event(&event, later(30)).await.unwrap();
        assert_eq!(
            report,
            EventReport {
                rejected: 1,
                ..EventReport::default()
            }
        );
    }
}

#[tokio::test]
async fn secrets_are_redacted_in_errors_records_and_logs() {
    const SECRET: &str = "sekrit-7f3a9c";
    let receiver = Receiver::start(
        Script::new()
            .route("/echo", [Reply::status(500).body(format!("bad token {SECRET}"))])
            .route(
                "/reject",
                [Reply::status(401).body(format!("token {SECRET} is revoked"))],
            ),
    )
    .await;
    let definitions = definitions(vec![
        with_secret_token(integration("echo", &receiver.url("/echo")), "ssm:/tocsin/token"),
        with_secret_token(
            integration("reject", &receiver.url("/reject")),
            "ssm:/tocsin/token",
        ),
    ]);
    let pipeline = pipeline_with(
        definitions,
        settings(2),
        MemorySecrets::new().with("ssm:/tocsin/token", SECRET),
    );
    let alert_id = unique("alert");
    let (logs, _guard) = capture_logs();
    let error = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&alert_id))]), later(30))
        .await
        .unwrap_err();
    // The secret did reach the target (so the test can fail).
    assert!(
        receiver.requests_to("/echo")[0]
            .header("authorization")
            .unwrap()
            .contains(SECRET)
    );
    let history = pipeline.deliveries().history(&alert_id).await.unwrap();
    assert_eq!(history.len(), 3);
    let mut outputs = vec![error.to_string(), format!("{error:?}"), logs.text()];
    outputs.extend(history.iter().map(|record| format!("{record:?}")));
    outputs.push(serde_json::to_string(&history).unwrap());
    for output in &outputs {
        assert!(!output.contains(SECRET), "secret leaked in: {output}");
    }
    // The request is shown as `tocsin render` shows it: the secret variable as its placeholder.
    assert!(
        history
            .iter()
            .all(|r| r.request.contains("[secret ssm:/tocsin/token]")),
        "{history:?}"
    );
    assert!(
        history
            .iter()
            .all(|r| r.error.as_deref().unwrap().contains("[redacted]")),
        "{history:?}"
    );
    assert!(
        logs.text().contains("\"integration_id\":\"echo\""),
        "route logs carry the integration id"
    );
    assert!(
        logs.text().contains(&format!("\"alert_id\":\"{alert_id}\"")),
        "logs carry the alert id"
    );
}

#[tokio::test]
async fn a_missing_secret_or_variable_fails_the_route_permanently() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let mut per_level = integration("per-level", &receiver.url("/hook"));
    per_level.variables.insert(
        "Team".to_owned(),
        VariableDef::PerLevel {
            per_level: true,
            default: None,
        },
    );
    let definitions = definitions(vec![
        with_secret_token(integration("secret", &receiver.url("/hook")), "ssm:/nope"),
        per_level,
    ]);
    let pipeline = pipeline(definitions, settings(2));
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("a")))]), later(30))
        .await
        .unwrap();
    assert_eq!(report.failed, 2);
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn plan_describes_messages_without_sending() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let mut definitions = definitions(vec![
        with_secret_token(integration("hook", &receiver.url("/hook")), "ssm:/tocsin/token"),
        integration("broken", &receiver.url("/hook")),
    ]);
    definitions.integrations[1].settings.remove("url");
    definitions.alert_definitions[0].levels[0].integrations[0].send_ok = false;
    let catalog = Catalog::new(definitions);
    let notifier = TestNotifier { http: local_client() };
    let mut alert = Alert::default();
    alert.alert.alert_guid = "a-1".to_owned();
    alert.monitor.monitor_guid = "849b2046-213d-43ad-9efc-5af1faaeb222".to_owned();
    let now = chrono::Utc::now();
    let engine = Engine::new();
    let planned = plan(
        &notifier,
        &catalog,
        &alert,
        None,
        &PlaceholderSecrets,
        &engine,
        now,
    )
    .await;
    assert_eq!(planned.len(), 2, "{planned:?}");
    let message = planned[0].as_ref().unwrap();
    assert_eq!(
        (
            message.integration.as_str(),
            message.step.as_str(),
            message.alert_type
        ),
        ("hook", "step-1", AlertType::Alert)
    );
    assert_eq!(
        message.description["request"]["headers"]["authorization"],
        "Bearer [secret ssm:/tocsin/token]"
    );
    let broken = planned[1].as_ref().unwrap_err();
    assert_eq!(
        broken.to_string(),
        "integration `broken`: integration `broken`: settings.url is missing"
    );
    // The alert-type override applies to routing: `hook` does not send Ok.
    let ok = plan(
        &notifier,
        &catalog,
        &alert,
        Some(AlertType::Ok),
        &PlaceholderSecrets,
        &engine,
        now,
    )
    .await;
    assert_eq!(ok.len(), 1);
    assert!(ok[0].is_err());
    // With real secrets, the description is the same as with placeholders (what `tocsin test`
    // prints): no form of the secret, whatever a template did to it.
    let secrets = MemorySecrets::new().with("ssm:/tocsin/token", "sekrit-plan");
    let real = plan(&notifier, &catalog, &alert, None, &secrets, &engine, now).await;
    let text = serde_json::to_string(&real[0].as_ref().unwrap().description).unwrap();
    assert!(
        !text.contains("sekrit-plan") && text.contains("[secret ssm:/tocsin/token]"),
        "{text}"
    );
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn routes_are_delivered_concurrently_so_a_throttled_target_holds_back_no_other() {
    let receiver = Receiver::start(
        Script::new()
            .route(
                "/throttled",
                [Reply::status(429).header("Retry-After", "1"), Reply::ok()],
            )
            .route("/fast", [Reply::ok().delay(Duration::from_millis(100))]),
    )
    .await;
    let definitions = definitions(vec![
        integration("throttled", &receiver.url("/throttled")),
        integration("fast", &receiver.url("/fast")),
    ]);
    let pipeline = pipeline(definitions, settings(3));
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("a")))]), later(30))
        .await
        .unwrap();
    assert_eq!(report.delivered, 2);
    let throttled = receiver.requests_to("/throttled");
    let fast = receiver.requests_to("/fast");
    assert_eq!((throttled.len(), fast.len()), (2, 1));
    assert!(
        fast[0].at < throttled[1].at,
        "the fast route waited for the throttled one"
    );
}

#[tokio::test]
async fn without_a_claim_nothing_is_sent_and_the_invocation_is_retried() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let pipeline = Pipeline::new(
        TestNotifier { http: local_client() },
        MemoryStore::new(definitions(vec![integration("hook", &receiver.url("/hook"))])),
        MemorySecrets::new(),
        DynamoDeliveryLog::new(client, unique("NoSuchTable"), LogTimes::default()),
        settings(3),
    );
    let error = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("a")))]), later(30))
        .await
        .unwrap_err();
    assert_eq!(error.report().retryable, 1);
    assert!(
        error
            .to_string()
            .contains("dynamodb GetItem on table `NoSuchTable"),
        "{error}"
    );
    assert!(receiver.requests().is_empty());
}

#[tokio::test]
async fn the_testing_helper_finds_a_leak_and_passes_redacted_output() {
    let receiver =
        Receiver::start(Script::new().route("/echo", [Reply::status(400).body("token sekrit-helper")])).await;
    let definitions = definitions(vec![with_secret_token(
        integration("echo", &receiver.url("/echo")),
        "ssm:/t",
    )]);
    let pipeline = pipeline_with(
        definitions,
        settings(1),
        MemorySecrets::new().with("ssm:/t", "sekrit-helper"),
    );
    let captured = crate::testing::capture(&pipeline, &sns_event(&[("m-1", &native(&unique("a")))])).await;
    assert_eq!(captured.result.as_ref().map(|report| report.failed).ok(), Some(1));
    assert_eq!(captured.records.len(), 1);
    assert!(captured.logs.contains("failed permanently"), "{}", captured.logs);
    captured.assert_no_leak("sekrit-helper");
    // It does see what the pipeline printed: the redaction marker, and non-secret values.
    assert!(
        captured
            .outputs()
            .iter()
            .any(|output| output.contains("[redacted]"))
    );
    let found = std::panic::catch_unwind(|| captured.assert_no_leak("token"));
    assert!(found.is_err(), "a value that is printed is reported");
}

/// What the test notifier did, in order: a route's messages built, a send started or ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    Built,
    SendStarted,
    SendEnded,
}

/// The test notifier, recording every build and send in order and the most sends in flight at once
/// (no clock: the order and the count say what happened).
struct Recording {
    inner: TestNotifier,
    events: std::sync::Mutex<Vec<Event>>,
    in_flight: std::sync::atomic::AtomicUsize,
    most_in_flight: std::sync::atomic::AtomicUsize,
}

impl Recording {
    fn new() -> Self {
        Recording {
            inner: TestNotifier { http: local_client() },
            events: std::sync::Mutex::new(Vec::new()),
            in_flight: std::sync::atomic::AtomicUsize::new(0),
            most_in_flight: std::sync::atomic::AtomicUsize::new(0),
        }
    }

    fn push(&self, event: Event) {
        self.events
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push(event);
    }

    fn events(&self) -> Vec<Event> {
        self.events.lock().unwrap().clone()
    }
}

impl crate::Notifier for Recording {
    const KIND: alert_model::IntegrationKind = TestNotifier::KIND;
    type Target = <TestNotifier as crate::Notifier>::Target;
    type Message = <TestNotifier as crate::Notifier>::Message;

    fn target(
        &self,
        integration: &definition_store::Integration,
    ) -> Result<Self::Target, crate::NotifyError> {
        self.inner.target(integration)
    }

    fn build(
        &self,
        route: &crate::RouteContext<'_>,
        target: &Self::Target,
    ) -> Result<Vec<crate::Outgoing<Self::Message>>, crate::NotifyError> {
        self.push(Event::Built);
        self.inner.build(route, target)
    }

    async fn send(&self, message: &Self::Message) -> Result<crate::Sent, crate::NotifyError> {
        use std::sync::atomic::Ordering;
        self.push(Event::SendStarted);
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.most_in_flight.fetch_max(now, Ordering::SeqCst);
        let sent = self.inner.send(message).await;
        self.in_flight.fetch_sub(1, Ordering::SeqCst);
        self.push(Event::SendEnded);
        sent
    }

    fn describe(&self, message: &Self::Message) -> serde_json::Value {
        self.inner.describe(message)
    }
}

/// A pipeline of the recording notifier over `routes` routes to a target that answers after a
/// while, with `cap` send permits; the alert is handled and every route delivered.
async fn recorded_fan_out(
    routes: usize,
    cap: usize,
) -> Pipeline<Recording, MemoryStore, MemorySecrets, MemoryDeliveryLog> {
    let receiver =
        Receiver::start(Script::new().route("/hook", [Reply::ok().delay(Duration::from_millis(100))])).await;
    let integrations = (0..routes)
        .map(|n| integration(&format!("hook-{n}"), &receiver.url("/hook")))
        .collect();
    let pipeline = Pipeline::new(
        Recording::new(),
        MemoryStore::new(definitions(integrations)),
        MemorySecrets::new(),
        MemoryDeliveryLog::new(LogTimes::default()),
        Settings {
            max_concurrent_sends: cap,
            ..settings(1)
        },
    );
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("a")))]), later(60))
        .await
        .unwrap();
    assert_eq!(report.delivered, routes);
    pipeline
}

#[tokio::test]
async fn at_most_max_concurrent_sends_messages_are_on_the_wire_at_once() {
    // GIVEN six routes to a target that answers after a while
    // WHEN one alert reaches all six, with two send permits, then with six
    let capped = recorded_fan_out(6, 2).await;
    let free = recorded_fan_out(6, 6).await;

    // THEN no more than two were ever on the wire at once with two permits; with six, all six were
    let most = |pipeline: &Pipeline<Recording, _, _, _>| {
        pipeline
            .notifier()
            .most_in_flight
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    assert_eq!(most(&capped), 2);
    assert_eq!(most(&free), 6);
}

#[tokio::test]
async fn a_fan_out_works_on_a_window_of_routes_not_on_all_of_them_at_once() {
    // GIVEN twelve routes to a target that answers after a while, and four send permits: a window
    // of four routes
    // WHEN one alert reaches all twelve
    let pipeline = recorded_fan_out(12, 4).await;

    // THEN all are delivered, but only four routes are started before the first send ends: the
    // fifth is built after a route left the window (without it, all twelve start at once)
    let events = pipeline.notifier().events();
    assert_eq!(events.iter().filter(|event| **event == Event::Built).count(), 12);
    let first_end = events
        .iter()
        .position(|event| *event == Event::SendEnded)
        .expect("a send ended");
    let built_before = events[..first_end]
        .iter()
        .filter(|event| **event == Event::Built)
        .count();
    assert_eq!(built_before, 4, "{events:?}");
}
