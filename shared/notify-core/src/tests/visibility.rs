//! Delivery-failure visibility: the EMF metric of every failed route, the notice to a fallback
//! integration (once per route and interval, never about a notice), and the attempt record of a
//! claim taken over from a stopped invocation.

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alert_model::{Alert, inbound::InboundMessage};
use definition_store::{Catalog, Definitions, MemoryStore};
use serde_json::Value;
use test_support::{
    Receiver, Reply, Script,
    moto::{sdk_config, unique},
    sns::{event as sns_event, native_alert as native},
};

use super::support::{TestNotifier, definitions, integration, local_client, settings};
use crate::clock::ManualClock;
use crate::{
    Claim, ClaimOutcome, DeliveryKey, DeliveryLog, DynamoDeliveryLog, EventReport, HandlerError, LogTimes,
    MemoryDeliveryLog, MemorySecrets, NoticeKey, Pipeline, Settings,
    deliveries::{AttemptOutcome, create_table},
    metrics::MetricsSink,
    notice::NoticePublisher,
    pipeline::TAKEN_OVER,
};

type Lines = Arc<Mutex<Vec<Value>>>;
type Notices = Arc<Mutex<Vec<(String, String)>>>;

struct Watched<L> {
    pipeline: Pipeline<TestNotifier, MemoryStore, MemorySecrets, L>,
    metrics: Lines,
    notices: Notices,
}

fn watched_with<L: DeliveryLog>(definitions: Definitions, settings: Settings, log: L) -> Watched<L> {
    let (sink, metrics) = MetricsSink::memory();
    let (publisher, notices) = NoticePublisher::memory();
    let pipeline = Pipeline::new(
        TestNotifier { http: local_client() },
        MemoryStore::new(definitions),
        MemorySecrets::new(),
        log,
        settings,
    )
    .with_metrics(sink, "TocsinTest")
    .with_notices(Some(publisher));
    Watched {
        pipeline,
        metrics,
        notices,
    }
}

fn watched(definitions: Definitions, settings: Settings) -> Watched<MemoryDeliveryLog> {
    watched_with(definitions, settings, MemoryDeliveryLog::new(LogTimes::default()))
}

fn later(seconds: u64) -> Instant {
    Instant::now() + Duration::from_secs(seconds)
}

/// `hook` (to `/hook` on the receiver) with `mail-fallback` as its fallback; both attached.
fn with_fallback(receiver: &Receiver) -> Definitions {
    let mut hook = integration("hook", &receiver.url("/hook"));
    hook.fallback = Some("fallback".to_owned());
    let fallback = integration("fallback", &receiver.url("/fallback"));
    definitions(vec![hook, fallback])
}

fn lines(metrics: &Lines) -> Vec<Value> {
    metrics.lock().unwrap().clone()
}

fn notices(notices: &Notices) -> Vec<(String, Alert)> {
    notices
        .lock()
        .unwrap()
        .iter()
        .map(|(subject, message)| {
            let normalized = alert_model::inbound::normalize(&InboundMessage {
                message,
                subject: Some(subject),
                message_id: "notice",
                timestamp: None,
                attributes: &Default::default(),
            })
            .unwrap_or_else(|error| panic!("the notice is not a readable alert ({error}): {message}"));
            (subject.clone(), normalized.alert)
        })
        .collect()
}

#[tokio::test]
async fn a_permanent_failure_emits_one_metric_line_and_tells_the_fallback_once() {
    // GIVEN a webhook that refuses every request (400), whose fallback is another integration
    let receiver = Receiver::start(
        Script::new()
            .route("/hook", [Reply::status(400).body("bad request")])
            .route("/fallback", [Reply::ok()]),
    )
    .await;
    let watched = watched(with_fallback(&receiver), settings(3));
    let alert_id = unique("alert");

    // WHEN an alert reaches both
    let report = watched
        .pipeline
        .handle_event(&sns_event(&[("m-1", &native(&alert_id))]), later(30))
        .await
        .unwrap();

    // THEN the failed route is counted, measured and reported once; the other is delivered
    assert_eq!(
        report,
        EventReport {
            records: 1,
            routes: 2,
            delivered: 1,
            failed: 1,
            notices: 1,
            ..EventReport::default()
        }
    );
    let metric_lines = lines(&watched.metrics);
    assert_eq!(metric_lines.len(), 1, "{metric_lines:#?}");
    let line = &metric_lines[0];
    assert_eq!(line["_aws"]["CloudWatchMetrics"][0]["Namespace"], "TocsinTest");
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "DeliveryFailures"
    );
    assert_eq!(
        line["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["Kind", "Outcome"], ["Kind", "Integration", "Outcome"]])
    );
    assert!(line["_aws"]["Timestamp"].as_i64().unwrap() > 1_700_000_000_000);
    assert_eq!(line["DeliveryFailures"], 1);
    assert_eq!(line["Kind"], "webhook");
    assert_eq!(line["Integration"], "hook");
    assert_eq!(line["Outcome"], "permanent");
    assert_eq!(line["alertId"], alert_id.as_str());
    assert_eq!(line["step"], "def-1/step-1");
    assert_eq!(line["attempts"], 1);
    assert!(line["reason"].as_str().unwrap().contains("400"), "{line}");

    let sent = notices(&watched.notices);
    assert_eq!(sent.len(), 1);
    let (subject, notice) = &sent[0];
    assert_eq!(subject, "Tocsin: Tocsin delivery to hook name");
    let target = notice.deliver_to.as_ref().expect("addressed to the fallback");
    assert_eq!(target.integration, "fallback");
    assert_eq!(target.reason, "delivery-failure");
    assert_eq!(notice.alert_definition.guid, "def-1");
    assert_eq!(notice.escalation_level.id, 1);
    assert_eq!(notice.monitor.custom_fields["failedAlertId"], alert_id);
    assert_eq!(notice.monitor.custom_fields["failedIntegration"], "hook");
    assert_eq!(notice.monitor.custom_fields["failureOutcome"], "permanent");
    assert!(
        notice.alert.description.contains(&alert_id),
        "{}",
        notice.alert.description
    );
    assert!(
        notice.alert.description.contains("400"),
        "{}",
        notice.alert.description
    );

    // AND the notice, routed like any alert, reaches the fallback integration only
    let catalog = Catalog::new(with_fallback(&receiver));
    let routes = catalog.routes(notice, alert_model::IntegrationKind::Webhook);
    assert_eq!(routes.len(), 1);
    assert_eq!(routes[0].integration.id, "fallback");
}

#[tokio::test]
async fn another_failure_on_the_same_route_within_the_interval_sends_no_second_notice() {
    let receiver = Receiver::start(
        Script::new()
            .route("/hook", [Reply::status(400)])
            .route("/fallback", [Reply::ok()]),
    )
    .await;
    let watched = watched(with_fallback(&receiver), settings(3));
    for n in 0..3 {
        let event = sns_event(&[(&format!("m-{n}"), &native(&unique("alert")))]);
        watched.pipeline.handle_event(&event, later(30)).await.unwrap();
    }
    // Every failure is measured; the fallback is told once.
    assert_eq!(lines(&watched.metrics).len(), 3);
    assert_eq!(notices(&watched.notices).len(), 1);
}

#[tokio::test]
async fn a_failure_that_is_already_known_is_not_measured_again() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::status(400)])).await;
    let watched = watched(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(3),
    );
    let event = sns_event(&[("m-1", &native(&unique("alert")))]);
    watched.pipeline.handle_event(&event, later(30)).await.unwrap();
    // The redelivered event finds the route failed: no new attempt, no new metric.
    let report = watched.pipeline.handle_event(&event, later(30)).await.unwrap();
    assert_eq!(report.failed, 1);
    assert_eq!(receiver.requests_to("/hook").len(), 1);
    assert_eq!(lines(&watched.metrics).len(), 1);
}

#[tokio::test]
async fn a_route_that_keeps_failing_tells_the_fallback_once_it_has_made_enough_attempts() {
    // GIVEN a target that always answers 500, 2 attempts per invocation, a fallback after 4
    let receiver = Receiver::start(
        Script::new()
            .route("/hook", [Reply::status(500)])
            .route("/fallback", [Reply::ok()]),
    )
    .await;
    let watched = watched(
        with_fallback(&receiver),
        Settings {
            fallback_after_attempts: 4,
            ..settings(2)
        },
    );
    let event = sns_event(&[("m-1", &native(&unique("alert")))]);

    // WHEN Lambda runs the invocation, then retries it
    let first = watched.pipeline.handle_event(&event, later(30)).await;
    let after_first = notices(&watched.notices).len();
    let second = watched.pipeline.handle_event(&event, later(30)).await;

    // THEN each invocation is measured as retryable; the notice comes with the 4th attempt
    for outcome in [&first, &second] {
        assert!(
            matches!(outcome, Err(HandlerError::Retryable { .. })),
            "{outcome:?}"
        );
    }
    let metric_lines = lines(&watched.metrics);
    assert_eq!(metric_lines.len(), 2);
    assert!(metric_lines.iter().all(|line| line["Outcome"] == "retryable"));
    assert_eq!(metric_lines[0]["attempts"], 2);
    assert_eq!(metric_lines[1]["attempts"], 4);
    assert_eq!(after_first, 0);
    let sent = notices(&watched.notices);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.monitor.custom_fields["failureOutcome"], "retryable");
    assert_eq!(second.unwrap_err().report().notices, 1);
}

#[tokio::test]
async fn a_failed_notice_is_measured_but_never_reported_by_another_notice() {
    // GIVEN the fallback itself refuses, and has a fallback of its own
    let receiver = Receiver::start(Script::new().route("/fallback", [Reply::status(400)])).await;
    let mut defs = with_fallback(&receiver);
    defs.integrations[1].fallback = Some("hook".to_owned());
    let watched = watched(defs, settings(3));

    // WHEN a notice addressed to the fallback arrives
    let mut notice: Value = serde_json::from_str(&native(&unique("notice"))).unwrap();
    notice["deliverTo"] = serde_json::json!({"integration": "fallback", "reason": "delivery-failure"});
    notice["alertDefinition"] = serde_json::json!({"guid": "def-1"});
    let report = watched
        .pipeline
        .handle_event(&sns_event(&[("n-1", &notice.to_string())]), later(30))
        .await
        .unwrap();

    // THEN only the fallback was tried, the failure measured, and nothing published
    assert_eq!(report.routes, 1);
    assert_eq!(report.failed, 1);
    assert!(receiver.requests_to("/hook").is_empty());
    assert_eq!(lines(&watched.metrics).len(), 1);
    assert!(notices(&watched.notices).is_empty());
}

#[tokio::test]
async fn without_a_fallback_a_failure_is_only_measured() {
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::status(404)])).await;
    let watched = watched(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(3),
    );
    let report = watched
        .pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("alert")))]), later(30))
        .await
        .unwrap();
    assert_eq!(report.notices, 0);
    assert_eq!(lines(&watched.metrics).len(), 1);
    assert!(notices(&watched.notices).is_empty());
}

#[tokio::test]
async fn a_template_or_settings_failure_is_measured_without_a_step() {
    // GIVEN an integration the notifier cannot use (no url)
    let mut broken = integration("hook", "unused");
    broken.settings.clear();
    let watched = watched(definitions(vec![broken]), settings(3));
    watched
        .pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("alert")))]), later(30))
        .await
        .unwrap();
    let metric_lines = lines(&watched.metrics);
    assert_eq!(metric_lines.len(), 1);
    assert_eq!(metric_lines[0]["step"], Value::Null);
    assert_eq!(metric_lines[0]["attempts"], 0);
    assert_eq!(metric_lines[0]["Outcome"], "permanent");
    assert!(
        metric_lines[0]["reason"]
            .as_str()
            .unwrap()
            .contains("settings.url is missing")
    );
}

async fn takes_over_an_expired_claim<L: DeliveryLog>(log: L, clock: &ManualClock) {
    // GIVEN a claim left by an invocation that stopped mid-delivery
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let watched = watched_with(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(3),
        log,
    );
    let alert_id = unique("alert");
    let key = DeliveryKey {
        alert_id: alert_id.clone(),
        integration_id: "hook".to_owned(),
        step: "def-1/step-1".to_owned(),
    };
    let stopped: Claim = match watched.pipeline.deliveries().claim(&key).await.unwrap() {
        ClaimOutcome::Claimed(claim) => claim,
        other => panic!("expected a claim, got {other:?}"),
    };
    assert!(!stopped.taken_over);
    let event = sns_event(&[("m-1", &native(&alert_id))]);

    // WHEN the event comes again while the claim holds, and again once it has expired
    let while_held = watched.pipeline.handle_event(&event, later(30)).await;
    clock.advance(Duration::from_secs(301));
    let after = watched.pipeline.handle_event(&event, later(30)).await.unwrap();

    // THEN the first waits (nothing sent), the second takes over and delivers once, and the history
    // says that the stopped attempt ended without an outcome
    assert!(
        matches!(while_held, Err(HandlerError::Retryable { .. })),
        "{while_held:?}"
    );
    assert_eq!(after.delivered, 1);
    assert_eq!(receiver.requests_to("/hook").len(), 1);
    let history = watched.pipeline.deliveries().history(&alert_id).await.unwrap();
    let summary: Vec<(u32, AttemptOutcome, Option<&str>)> = history
        .iter()
        .map(|record| (record.attempt, record.outcome, record.error.as_deref()))
        .collect();
    assert_eq!(
        summary,
        [
            (1, AttemptOutcome::Retryable, Some(TAKEN_OVER)),
            (2, AttemptOutcome::Delivered, None)
        ]
    );
    // A taken-over claim is not a failure of the target: nothing measured.
    assert!(lines(&watched.metrics).is_empty());
}

#[tokio::test]
async fn memory_an_expired_claim_is_taken_over_and_its_lost_attempt_recorded() {
    let clock = ManualClock::new();
    let log = MemoryDeliveryLog::with_clock(LogTimes::default(), Arc::new(clock.clone()));
    takes_over_an_expired_claim(log, &clock).await;
}

#[tokio::test]
async fn dynamo_an_expired_claim_is_taken_over_and_its_lost_attempt_recorded() {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique("Deliveries");
    create_table(&client, &table).await.unwrap();
    let clock = ManualClock::new();
    let log = DynamoDeliveryLog::with_clock(client, table, LogTimes::default(), Arc::new(clock.clone()));
    takes_over_an_expired_claim(log, &clock).await;
}

async fn notice_slots<L: DeliveryLog>(log: L) {
    let key = NoticeKey {
        integration_id: unique("hook"),
        definition_id: "def-1".to_owned(),
    };
    let other = NoticeKey {
        definition_id: "def-2".to_owned(),
        ..key.clone()
    };
    let hour = Duration::from_secs(3600);
    let first = log.claim_notice(&key, hour).await.unwrap().expect("free");
    assert_eq!(
        log.claim_notice(&key, hour).await.unwrap(),
        None,
        "taken within the hour"
    );
    assert!(
        log.claim_notice(&other, hour).await.unwrap().is_some(),
        "another route"
    );
    // A notice that could not be published gives its slot back.
    log.release_notice(&first).await.unwrap();
    let again = log.claim_notice(&key, hour).await.unwrap().expect("released");
    // An interval that has passed frees the slot.
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(
        log.claim_notice(&key, Duration::from_millis(10))
            .await
            .unwrap()
            .is_some(),
        "the interval has passed"
    );
    // Releasing a slot someone else has taken since changes nothing.
    log.release_notice(&again).await.unwrap();
    assert_eq!(log.claim_notice(&key, hour).await.unwrap(), None);
}

#[tokio::test]
async fn memory_notice_slots_hold_one_notice_per_route_and_interval() {
    notice_slots(MemoryDeliveryLog::new(LogTimes::default())).await;
}

#[tokio::test]
async fn dynamo_notice_slots_hold_one_notice_per_route_and_interval() {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique("Deliveries");
    create_table(&client, &table).await.unwrap();
    notice_slots(DynamoDeliveryLog::new(client, table, LogTimes::default())).await;
}

#[tokio::test]
async fn notices_are_published_to_the_alerts_topic() {
    // GIVEN a topic in the emulator with a queue subscribed to it
    let sdk = sdk_config().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (topic_arn, queue_url) = test_support::moto::topic_with_queue(&sdk, "alerts").await;
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::status(400)])).await;
    let (sink, _metrics) = MetricsSink::memory();
    let pipeline = Pipeline::new(
        TestNotifier { http: local_client() },
        MemoryStore::new(with_fallback(&receiver)),
        MemorySecrets::new(),
        MemoryDeliveryLog::new(LogTimes::default()),
        settings(2),
    )
    .with_metrics(sink, "TocsinTest")
    .with_notices(Some(NoticePublisher::Sns {
        client: sns.clone(),
        topic_arn: topic_arn.clone(),
    }));
    let alert_id = unique("alert");

    // WHEN a route fails permanently
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&alert_id))]), later(30))
        .await
        .unwrap();

    // THEN the notice is on the topic: a native envelope addressed to the fallback
    assert_eq!(report.notices, 1);
    let received = test_support::moto::received(&sqs, &queue_url).await;
    assert_eq!(received.len(), 1);
    let envelope: Value = serde_json::from_str(&received[0]).unwrap();
    assert_eq!(envelope["Subject"], "Tocsin: Tocsin delivery to hook name");
    let notice: Value = serde_json::from_str(envelope["Message"].as_str().unwrap()).unwrap();
    assert_eq!(notice["version"], 1);
    assert_eq!(notice["deliverTo"]["integration"], "fallback");
    assert_eq!(
        notice["monitor"]["customFields"]["failedAlertId"],
        alert_id.as_str()
    );
}

/// The memory log, whose `finish` fails (as DynamoDB in an outage) a number of times.
struct FlakyFinish {
    inner: MemoryDeliveryLog,
    failures_left: std::sync::atomic::AtomicU32,
}

impl DeliveryLog for FlakyFinish {
    fn now_ms(&self) -> u64 {
        self.inner.now_ms()
    }

    async fn renew(&self, claim: &mut Claim) -> Result<(), crate::DeliveryLogError> {
        self.inner.renew(claim).await
    }

    async fn claim(&self, key: &DeliveryKey) -> Result<ClaimOutcome, crate::DeliveryLogError> {
        self.inner.claim(key).await
    }

    async fn record_attempt(&self, record: &crate::DeliveryRecord) -> Result<(), crate::DeliveryLogError> {
        self.inner.record_attempt(record).await
    }

    async fn finish(&self, claim: &Claim, finish: &crate::Finish) -> Result<(), crate::DeliveryLogError> {
        use std::sync::atomic::Ordering;
        if self
            .failures_left
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| left.checked_sub(1))
            .is_ok()
        {
            return Err(crate::DeliveryLogError::Dynamo {
                operation: "UpdateItem",
                table: "Deliveries".to_owned(),
                message: "dispatch failure: connection reset".to_owned(),
            });
        }
        self.inner.finish(claim, finish).await
    }

    async fn history(&self, alert_id: &str) -> Result<Vec<crate::DeliveryRecord>, crate::DeliveryLogError> {
        self.inner.history(alert_id).await
    }

    async fn states(&self, alert_id: &str) -> Result<Vec<crate::DeliveryState>, crate::DeliveryLogError> {
        self.inner.states(alert_id).await
    }

    async fn claim_notice(
        &self,
        key: &NoticeKey,
        interval: Duration,
    ) -> Result<Option<crate::NoticeClaim>, crate::DeliveryLogError> {
        self.inner.claim_notice(key, interval).await
    }

    async fn incident_state(
        &self,
        key: &crate::IncidentKey,
    ) -> Result<Option<Value>, crate::DeliveryLogError> {
        self.inner.incident_state(key).await
    }

    async fn save_incident_state(
        &self,
        key: &crate::IncidentKey,
        state: &Value,
    ) -> Result<(), crate::DeliveryLogError> {
        self.inner.save_incident_state(key, state).await
    }

    async fn release_notice(&self, claim: &crate::NoticeClaim) -> Result<(), crate::DeliveryLogError> {
        self.inner.release_notice(claim).await
    }
}

fn flaky(failures: u32) -> FlakyFinish {
    FlakyFinish {
        inner: MemoryDeliveryLog::new(LogTimes::default()),
        failures_left: std::sync::atomic::AtomicU32::new(failures),
    }
}

#[tokio::test]
async fn a_delivery_is_recorded_even_when_the_log_is_briefly_unreachable() {
    // GIVEN a delivery log that fails to end claims three times in a row (an outage)
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let watched = watched_with(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        settings(3),
        flaky(3),
    );
    let alert_id = unique("alert");
    let event = sns_event(&[("m-1", &native(&alert_id))]);

    // WHEN an alert is delivered, and its event comes again
    let first = watched.pipeline.handle_event(&event, later(30)).await.unwrap();
    let again = watched.pipeline.handle_event(&event, later(30)).await.unwrap();

    // THEN the delivery was recorded after the outage, so the copy sends nothing
    assert_eq!(first.delivered, 1);
    assert_eq!(again.skipped, 1);
    assert_eq!(receiver.requests_to("/hook").len(), 1);
    let states = watched.pipeline.deliveries().states(&alert_id).await.unwrap();
    assert_eq!(states[0].status, crate::DeliveryStatus::Delivered);
}

#[tokio::test]
async fn recording_the_outcome_gives_up_at_the_invocations_deadline() {
    // GIVEN a delivery log that never ends a claim, and an invocation with 3 s left (2 s to send,
    // the safety margin of 1 s to record)
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let watched = watched_with(
        definitions(vec![integration("hook", &receiver.url("/hook"))]),
        Settings {
            safety_margin: Duration::from_secs(1),
            // The receiver answers at once: an attempt fits in the 2 s to send.
            attempt_time: Duration::from_secs(1),
            ..settings(3)
        },
        flaky(u32::MAX),
    );
    let alert_id = unique("alert");

    // WHEN the alert is delivered
    let report = watched
        .pipeline
        .handle_event(&sns_event(&[("m-1", &native(&alert_id))]), later(3))
        .await
        .unwrap();

    // THEN the delivery counts, recording it was tried a few times and then given up (the log
    // never answers: a loop without an end would not return), and the claim stays held (it expires
    // later: the only window in which a copy of the event could send it again)
    assert_eq!(report.delivered, 1);
    let tries = u32::MAX
        - watched
            .pipeline
            .deliveries()
            .failures_left
            .load(std::sync::atomic::Ordering::SeqCst);
    assert!((2..=10).contains(&tries), "{tries} tries to end the claim");
    let states = watched.pipeline.deliveries().states(&alert_id).await.unwrap();
    assert_eq!(states[0].status, crate::DeliveryStatus::Claimed);
}
