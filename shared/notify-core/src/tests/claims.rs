//! Hardening of claims and keys (issue 10): a claim outlives every attempt of its holder, a
//! lifetime too short is refused, an item the store refuses fails the route instead of looping,
//! delivery keys cannot collide, and an alert that reaches no route is counted and said.

use std::{sync::Arc, time::Duration};

use definition_store::MemoryStore;
use test_support::{
    Receiver, Reply, Script,
    moto::{sdk_config, unique},
    sns::{event as sns_event, native_alert as native},
};

use super::support::{TestNotifier, definitions, integration, local_client, settings};
use crate::{
    ClaimOutcome, Config, DeliveryKey, DeliveryLog, DynamoDeliveryLog, HandlerError, LogTimes,
    MemoryDeliveryLog, MemorySecrets, Pipeline, Settings, clock::ManualClock, deliveries::create_table,
    metrics::MetricsSink,
};

fn later(seconds: u64) -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(seconds)
}

#[tokio::test]
async fn a_claim_that_expired_while_its_holder_waited_is_not_sent_again_by_the_holder() {
    // GIVEN claims of 60 s on the log's clock, attempts of at most 10 s, and a target that first
    // answers 429 with Retry-After: 1
    let receiver = Receiver::start(Script::new().route(
        "/hook",
        [Reply::status(429).header("Retry-After", "1"), Reply::ok()],
    ))
    .await;
    let clock = ManualClock::new();
    let log = MemoryDeliveryLog::with_clock(
        LogTimes {
            claim_ttl: Duration::from_secs(60),
            ..LogTimes::default()
        },
        Arc::new(clock.clone()),
    );
    let pipeline = Pipeline::new(
        TestNotifier { http: local_client() },
        MemoryStore::new(definitions(vec![integration("hook", &receiver.url("/hook"))])),
        MemorySecrets::new(),
        log,
        Settings {
            attempt_time: Duration::from_secs(10),
            claim_margin: Duration::from_secs(5),
            ..settings(3)
        },
    );
    let event = sns_event(&[("m-1", &native(&unique("alert")))]);

    // WHEN invocation A waits out the Retry-After, its claim expires meanwhile (the clock moves past
    // it) and invocation B, a copy of the event, takes the claim over and delivers
    let a = pipeline.handle_event(&event, later(60));
    let b = async {
        receiver.wait_for(1, Duration::from_secs(30)).await;
        clock.advance(Duration::from_secs(61));
        pipeline.handle_event(&event, later(60)).await
    };
    let (a, b) = tokio::join!(a, b);

    // THEN B delivered, and A, finding its claim lost when it wanted to renew it before its next
    // attempt, sent nothing more: the target got the 429'd attempt and B's, not a third
    assert_eq!(b.as_ref().map(|report| report.delivered).ok(), Some(1), "{b:?}");
    match &a {
        Err(HandlerError::Retryable { routes, .. }) => {
            assert!(routes[0].reason.contains("could not be renewed"), "{routes:?}");
        }
        other => panic!("invocation A: {other:?}"),
    }
    assert_eq!(receiver.requests_to("/hook").len(), 2);
    // … and a later copy sends nothing either.
    let again = pipeline.handle_event(&event, later(60)).await.unwrap();
    assert_eq!(again.skipped, 1);
    assert_eq!(receiver.requests_to("/hook").len(), 2);
}

#[tokio::test]
async fn a_claim_about_to_expire_is_renewed_before_the_attempt() {
    // GIVEN a claim that holds for less than one attempt when the retry comes
    let receiver = Receiver::start(Script::new().route(
        "/hook",
        [Reply::status(503).header("Retry-After", "1"), Reply::ok()],
    ))
    .await;
    let clock = ManualClock::new();
    let log = MemoryDeliveryLog::with_clock(
        LogTimes {
            claim_ttl: Duration::from_secs(60),
            ..LogTimes::default()
        },
        Arc::new(clock.clone()),
    );
    let pipeline = Pipeline::new(
        TestNotifier { http: local_client() },
        MemoryStore::new(definitions(vec![integration("hook", &receiver.url("/hook"))])),
        MemorySecrets::new(),
        log,
        Settings {
            attempt_time: Duration::from_secs(10),
            claim_margin: Duration::from_secs(5),
            ..settings(3)
        },
    );
    let alert_id = unique("alert");
    let event = sns_event(&[("m-1", &native(&alert_id))]);

    // WHEN the holder's clock moves 50 s during its wait (10 s of the claim left, less than an
    // attempt and the margin)
    let handled = pipeline.handle_event(&event, later(60));
    let mover = async {
        receiver.wait_for(1, Duration::from_secs(30)).await;
        clock.advance(Duration::from_secs(50));
    };
    let (handled, ()) = tokio::join!(handled, mover);

    // THEN it renewed its claim and delivered; no other invocation could have taken it meanwhile
    assert_eq!(handled.unwrap().delivered, 1);
    let key = DeliveryKey {
        alert_id,
        integration_id: "hook".to_owned(),
        step: "def-1/step-1".to_owned(),
    };
    assert_eq!(
        pipeline.deliveries().claim(&key).await.unwrap(),
        ClaimOutcome::AlreadyDelivered(Default::default())
    );
}

#[test]
fn a_claim_lifetime_shorter_than_an_attempt_or_the_function_timeout_is_refused() {
    let config = |pairs: &[(&str, &str)]| {
        let tables = [
            ("DEFINITIONS_TABLE", "Definitions"),
            ("DELIVERIES_TABLE", "Deliveries"),
        ];
        let pairs: Vec<(String, String)> = pairs
            .iter()
            .chain(tables.iter())
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect();
        Config::from_lookup(|name| {
            pairs
                .iter()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.clone())
        })
    };
    let error = config(&[("TOCSIN_CLAIM_SECONDS", "1")]).unwrap_err().to_string();
    assert!(
        error.contains("TOCSIN_CLAIM_SECONDS") && error.contains("shorter than one attempt"),
        "{error}"
    );
    let error = config(&[
        ("TOCSIN_CLAIM_SECONDS", "300"),
        ("TOCSIN_FUNCTION_TIMEOUT_SECONDS", "900"),
    ])
    .unwrap_err()
    .to_string();
    assert!(error.contains("the function's timeout"), "{error}");
    assert!(config(&[("TOCSIN_CLAIM_SECONDS", "20")]).is_ok());
    assert!(
        config(&[
            ("TOCSIN_CLAIM_SECONDS", "300"),
            ("TOCSIN_FUNCTION_TIMEOUT_SECONDS", "60"),
        ])
        .is_ok()
    );
}

#[tokio::test]
async fn an_item_the_store_refuses_fails_its_route_instead_of_being_retried_forever() {
    // GIVEN the DynamoDB log and an alert id far beyond DynamoDB's key size (inbound parsing bounds
    // ids; this is the log's own answer to what gets past)
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique("Deliveries");
    create_table(&client, &table).await.unwrap();
    let log = DynamoDeliveryLog::new(client, table, LogTimes::default());
    let key = DeliveryKey {
        alert_id: "a".repeat(3000),
        integration_id: "hook".to_owned(),
        step: "def-1/step-1".to_owned(),
    };

    // WHEN it is claimed
    let error = log.claim(&key).await.unwrap_err();

    // THEN the refusal is permanent
    assert!(error.is_permanent(), "{error}");
}

#[tokio::test]
async fn delivery_keys_of_different_routes_never_collide() {
    // GIVEN integration `a#b` through definition `d` and integration `a` through definition `b#d`,
    // which used to share `route#a#b#d/…`
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique("Deliveries");
    create_table(&client, &table).await.unwrap();
    let log = DynamoDeliveryLog::new(client, table, LogTimes::default());
    let alert = unique("alert");
    let first = DeliveryKey {
        alert_id: alert.clone(),
        integration_id: "a#b".to_owned(),
        step: "d/step-1".to_owned(),
    };
    let second = DeliveryKey {
        alert_id: alert.clone(),
        integration_id: "a".to_owned(),
        step: "b#d/step-1".to_owned(),
    };

    // WHEN both are claimed
    // THEN each gets its own claim, and the log keeps them apart
    assert!(matches!(
        log.claim(&first).await.unwrap(),
        ClaimOutcome::Claimed(_)
    ));
    assert!(matches!(
        log.claim(&second).await.unwrap(),
        ClaimOutcome::Claimed(_)
    ));
    let states = log.states(&alert).await.unwrap();
    let mut ids: Vec<&str> = states
        .iter()
        .map(|state| state.key.integration_id.as_str())
        .collect();
    ids.sort();
    assert_eq!(ids, ["a", "a#b"]);
}

/// The test notifier serving the first kind, whose function reports alerts nobody receives.
struct FirstKind(TestNotifier);

impl crate::Notifier for FirstKind {
    const KIND: alert_model::IntegrationKind = alert_model::IntegrationKind::ALL[0];
    type Target = <TestNotifier as crate::Notifier>::Target;
    type Message = <TestNotifier as crate::Notifier>::Message;

    fn target(
        &self,
        integration: &definition_store::Integration,
    ) -> Result<Self::Target, crate::NotifyError> {
        self.0.target(integration)
    }

    fn build(
        &self,
        route: &crate::RouteContext<'_>,
        target: &Self::Target,
    ) -> Result<Vec<crate::Outgoing<Self::Message>>, crate::NotifyError> {
        self.0.build(route, target)
    }

    async fn send(&self, message: &Self::Message) -> Result<crate::Sent, crate::NotifyError> {
        self.0.send(message).await
    }

    fn describe(&self, message: &Self::Message) -> serde_json::Value {
        self.0.describe(message)
    }
}

#[tokio::test]
async fn an_alert_that_reaches_no_route_is_counted_and_said_at_warn() {
    // GIVEN definitions whose only alert definition covers another monitor
    let mut unrelated = definitions(vec![integration("hook", "http://127.0.0.1:9/hook")]);
    unrelated.alert_definitions[0].monitors = vec!["name:some other monitor".to_owned()];
    let (sink, lines) = MetricsSink::memory();
    let pipeline = Pipeline::new(
        FirstKind(TestNotifier { http: local_client() }),
        MemoryStore::new(unrelated),
        MemorySecrets::new(),
        MemoryDeliveryLog::default(),
        settings(1),
    )
    .with_metrics(sink, "Tocsin");
    let (logs, _guard) = test_support::logs::capture();

    // WHEN an alert arrives
    let report = pipeline
        .handle_event(&sns_event(&[("m-1", &native(&unique("alert")))]), later(30))
        .await
        .unwrap();

    // THEN it is counted, measured as Tocsin/Unrouted with its monitor, and logged at WARN
    assert_eq!((report.routes, report.unrouted), (0, 1));
    let lines = lines.lock().unwrap().clone();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Tocsin");
    assert_eq!(
        lines[0]["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Name"],
        "Unrouted"
    );
    assert_eq!(lines[0]["monitor"], "GalacticResorts.com - DNS");
    let text = logs.text();
    assert!(
        text.contains("WARN") && text.contains("reaches no route of any kind"),
        "{text}"
    );
}

/// The test notifier with independent messages (one per recipient, as SMS and e-mail batches).
struct Independent(TestNotifier);

impl crate::Notifier for Independent {
    const KIND: alert_model::IntegrationKind = TestNotifier::KIND;
    const INDEPENDENT_STEPS: bool = true;
    type Target = <TestNotifier as crate::Notifier>::Target;
    type Message = <TestNotifier as crate::Notifier>::Message;

    fn target(
        &self,
        integration: &definition_store::Integration,
    ) -> Result<Self::Target, crate::NotifyError> {
        self.0.target(integration)
    }

    fn build(
        &self,
        route: &crate::RouteContext<'_>,
        target: &Self::Target,
    ) -> Result<Vec<crate::Outgoing<Self::Message>>, crate::NotifyError> {
        self.0.build(route, target)
    }

    async fn send(&self, message: &Self::Message) -> Result<crate::Sent, crate::NotifyError> {
        self.0.send(message).await
    }

    fn describe(&self, message: &Self::Message) -> serde_json::Value {
        self.0.describe(message)
    }
}

#[tokio::test]
async fn independent_messages_are_each_sent_whatever_happens_to_the_others() {
    // GIVEN three messages per route (three recipients): the first refused, the second failing
    // for now, the third accepted
    let receiver = Receiver::start(
        Script::new()
            .route("/r1", [Reply::status(400).body("unknown number")])
            .route("/r2", [Reply::status(503).body("busy")])
            .route("/r3", [Reply::ok()]),
    )
    .await;
    let mut hook = integration("hook", &receiver.url("/r{step}"));
    hook.settings.insert("steps".to_owned(), serde_json::json!(3));
    let notifier = || Independent(TestNotifier { http: local_client() });
    let pipeline = Pipeline::new(
        notifier(),
        MemoryStore::new(definitions(vec![hook])),
        MemorySecrets::new(),
        MemoryDeliveryLog::default(),
        settings(1),
    );
    let event = sns_event(&[("m-1", &native(&unique("alert")))]);

    // WHEN the alert is delivered
    let handled = pipeline.handle_event(&event, later(30)).await;

    // THEN every recipient was tried, and the route is left for a retry (the 503) rather than
    // given up (the 400); the retry sends only what is still due
    assert_eq!(receiver.requests_to("/r1").len(), 1);
    assert_eq!(receiver.requests_to("/r2").len(), 1);
    assert_eq!(receiver.requests_to("/r3").len(), 1);
    assert!(
        matches!(handled, Err(HandlerError::Retryable { .. })),
        "{handled:?}"
    );
    let _ = pipeline.handle_event(&event, later(30)).await;
    assert_eq!(
        receiver.requests_to("/r1").len(),
        1,
        "the refused one is not sent again"
    );
    assert_eq!(receiver.requests_to("/r2").len(), 2);
    assert_eq!(
        receiver.requests_to("/r3").len(),
        1,
        "the delivered one is not sent again"
    );
}

/// The test notifier keeping state per incident: its messages carry what the incident's earlier
/// messages left (`x-kept`), and each send leaves the alert type it sent.
struct Stateful(TestNotifier);

impl crate::Notifier for Stateful {
    const KIND: alert_model::IntegrationKind = TestNotifier::KIND;
    const INCIDENT_STATE: bool = true;
    type Target = <TestNotifier as crate::Notifier>::Target;
    type Message = <TestNotifier as crate::Notifier>::Message;

    fn target(
        &self,
        integration: &definition_store::Integration,
    ) -> Result<Self::Target, crate::NotifyError> {
        self.0.target(integration)
    }

    fn build(
        &self,
        route: &crate::RouteContext<'_>,
        target: &Self::Target,
    ) -> Result<Vec<crate::Outgoing<Self::Message>>, crate::NotifyError> {
        let mut messages = self.0.build(route, target)?;
        for outgoing in &mut messages {
            let kept = route.incident.map(ToString::to_string).unwrap_or_default();
            outgoing.message.headers.insert("x-kept".to_owned(), kept);
            outgoing
                .message
                .headers
                .insert("x-type".to_owned(), route.alert.alert.alert_type.to_string());
        }
        Ok(messages)
    }

    async fn send(&self, message: &Self::Message) -> Result<crate::Sent, crate::NotifyError> {
        let mut sent = self.0.send(message).await?;
        let sent_type = message.headers.get("x-type").cloned().unwrap_or_default();
        sent.incident = Some(serde_json::json!({ "last": sent_type }));
        Ok(sent)
    }

    fn describe(&self, message: &Self::Message) -> serde_json::Value {
        self.0.describe(message)
    }
}

async fn incident_state_is_kept_for_the_next_message<L: DeliveryLog>(log: L) {
    // GIVEN a kind that keeps state per incident
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let pipeline = Pipeline::new(
        Stateful(TestNotifier { http: local_client() }),
        MemoryStore::new(definitions(vec![integration("hook", &receiver.url("/hook"))])),
        MemorySecrets::new(),
        log,
        settings(1),
    );

    // WHEN an incident's Alert, then its Ok, are delivered
    for alert_type in ["Alert", "Ok"] {
        let message = test_support::sns::native(&unique("alert"), alert_type);
        pipeline
            .handle_event(&sns_event(&[(&unique("m"), &message)]), later(30))
            .await
            .unwrap();
    }

    // THEN the Alert was built without state, and the Ok with what the Alert's send left
    let kept: Vec<String> = receiver
        .requests_to("/hook")
        .iter()
        .map(|request| request.header("x-kept").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(kept, ["", r#"{"last":"Alert"}"#]);
    let key = crate::IncidentKey {
        integration_id: "hook".to_owned(),
        incident_key: test_support::sns::SAMPLE_INCIDENT_KEY.to_owned(),
    };
    assert_eq!(
        pipeline.deliveries().incident_state(&key).await.unwrap(),
        Some(serde_json::json!({"last": "Ok"}))
    );
}

#[tokio::test]
async fn memory_incident_state_is_kept_for_the_next_message() {
    incident_state_is_kept_for_the_next_message(MemoryDeliveryLog::default()).await;
}

#[tokio::test]
async fn dynamo_incident_state_is_kept_for_the_next_message() {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique("Deliveries");
    create_table(&client, &table).await.unwrap();
    incident_state_is_kept_for_the_next_message(DynamoDeliveryLog::new(client, table, LogTimes::default()))
        .await;
}
