//! End to end: the sample definitions and alerts through the real notify-email and notify-webhook
//! pipelines (as `build_pipeline` builds them for Lambda), with DynamoDB, SSM and SES in the local
//! emulator and webhooks to a local scripted receiver. Every test has its own stack (tables,
//! secret, receiver, e-mail addresses), so the tests are independent of each other and of order.

use std::{collections::BTreeMap, time::Duration};

use alert_model::{
    IntegrationKind,
    inbound::{InboundFormat, InboundMessage, normalize},
};
use notify_core::{DeliveryStatus, EventReport, HandlerError, deliveries::AttemptOutcome};
use serde_json::{Value, json};
use test_support::{
    moto::unique,
    receiver::{Reply, Script},
    sns,
};

use crate::stack::{
    OPS_PATH, RELAY_PATH, SAMPLE_SENDER, Stack, alert_guid, event_file, message_of, sample_alert,
    ses_messages_with_ids, to_addresses, with_alert_guid,
};

/// Both webhook paths answer 200.
fn all_ok() -> Script {
    Script::new()
        .route(OPS_PATH, [Reply::ok()])
        .route(RELAY_PATH, [Reply::ok()])
}

/// The Alert sample as a new alert (fresh guid), in an SNS event of one record.
fn fresh_alert() -> (String, Value) {
    let guid = unique("alert");
    let message = with_alert_guid(&message_of(&event_file("alert.json")), &guid);
    let event = sns::event(&[(&unique("sns"), &message)]);
    (guid, event)
}

/// A deadline half a minute away.
fn later() -> std::time::Instant {
    std::time::Instant::now() + Duration::from_secs(30)
}

fn report(records: usize, routes: usize, delivered: usize, skipped: usize) -> EventReport {
    EventReport {
        records,
        routes,
        delivered,
        skipped,
        ..EventReport::default()
    }
}

fn route(integration: &str, step: &str) -> (String, String) {
    (integration.to_owned(), step.to_owned())
}

fn json_body(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|error| panic!("the body is not JSON ({error}): {body}"))
}

fn normalized_native(body: &str) -> alert_model::Alert {
    let normalized = normalize(&InboundMessage {
        message: body,
        subject: None,
        message_id: "relay-test",
        timestamp: None,
        attributes: &BTreeMap::new(),
    })
    .unwrap_or_else(|error| panic!("the relay body does not normalise ({error}): {body}"));
    assert_eq!(normalized.format, InboundFormat::Native, "relay body: {body}");
    normalized.alert
}

#[tokio::test]
async fn the_sample_alert_reaches_every_target_of_both_functions() {
    // GIVEN the sample definitions, with a receiver that accepts every webhook
    let stack = Stack::start(all_ok()).await;
    let event = event_file("alert.json");
    let message = message_of(&event);
    let sent: Value = serde_json::from_str(&message).expect("the sample is JSON");
    let guid = alert_guid(&message);

    // WHEN the sample event reaches both functions
    let (email, webhook) = stack.handle(&event).await.reports();

    // THEN each function delivered its two routes: e-mail through both alert definitions covering
    // the monitor, the incident webhook through `dns-critical` and the relay through `everything`
    assert_eq!(email, report(1, 2, 2, 0), "notify-email");
    assert_eq!(webhook, report(1, 2, 2, 0), "notify-webhook");
    let states = stack.states_by_route(&guid).await;
    let keys: Vec<_> = states.keys().cloned().collect();
    assert_eq!(
        keys,
        [
            route("ops-email", "dns-critical/batch-1"),
            route("ops-email", "everything/batch-1"),
            route("ops-webhook", "dns-critical/open"),
            route("tocsin-relay", "everything/step-1"),
        ]
    );
    for state in states.values() {
        assert_eq!(state.status, DeliveryStatus::Delivered, "{state:?}");
        assert_eq!(state.attempts, 1, "{state:?}");
    }

    // … the e-mails as SES recorded them: from the sample sender, to the on-duty active operators
    // of the level (and the attachment's extra address), with the alert's subject
    let by_definition = |definition: &str| {
        states[&route("ops-email", &format!("{definition}/batch-1"))]
            .external_id
            .clone()
            .expect("an SES message id")
    };
    let ids = [by_definition("dns-critical"), by_definition("everything")];
    let mails = ses_messages_with_ids(&ids).await;
    let (alice, bob, noc) = (stack.address("alice"), stack.address("bob"), stack.address("noc"));
    let mut expected_to = vec![alice.clone(), bob.clone(), noc];
    expected_to.sort();
    assert_eq!(to_addresses(&mails[0]), expected_to, "dns-critical e-mail");
    let mut expected_to = vec![alice, bob];
    expected_to.sort();
    assert_eq!(to_addresses(&mails[1]), expected_to, "everything e-mail");
    for mail in &mails {
        assert_eq!(mail["source"], SAMPLE_SENDER);
        assert_eq!(
            mail["subject"],
            "[Alert] GalacticResorts.com - DNS: DNS lookup of galacticresorts.com failed: \"SERVFAIL\" \
             from ns-1.awsdns."
        );
        let body = mail["body"].as_str().expect("an e-mail body");
        assert!(body.contains("GalacticResorts.com - DNS"), "{body}");
        // The hostile notes are data: HTML-escaped, template syntax printed, not run.
        assert!(body.contains("&lt;b&gt;bold?&lt;/b&gt;"), "{body}");
        assert!(!body.contains("<b>bold?</b>"), "{body}");
        assert!(body.contains("{{@account.accountId}}"), "{body}");
        assert!(body.contains("ünïcödé"), "{body}");
    }
    assert_eq!(
        stack.ses_messages().await.len(),
        2,
        "exactly two e-mails for this stack"
    );

    // … the incident webhook: the secret as bearer token, a JSON body with the alert as data
    let ops = stack.receiver.requests_to(OPS_PATH);
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].method, "POST");
    assert_eq!(
        ops[0].header("authorization"),
        Some(format!("Bearer {}", stack.secret).as_str())
    );
    let body = json_body(&ops[0].body);
    assert_eq!(
        body,
        json!({
            "event": "Alert",
            "severity": "major",
            "incident": sns::SAMPLE_INCIDENT_KEY,
            "monitor": sns::SAMPLE_MONITOR_NAME,
            "description": sent["alert"]["description"],
            "level": "1",
        })
    );

    // … the relay: the native envelope, which reads back as the same alert, hostile notes intact
    let relay = stack.receiver.requests_to(RELAY_PATH);
    assert_eq!(relay.len(), 1);
    assert_eq!(relay[0].method, "POST");
    let envelope = json_body(&relay[0].body);
    assert_eq!(envelope["version"], 1);
    assert_eq!(envelope["monitor"]["notes"], sent["monitor"]["notes"]);
    assert_eq!(envelope["alert"]["description"], sent["alert"]["description"]);
    let relayed = normalized_native(&relay[0].body);
    assert_eq!(relayed.alert.alert_guid, guid);
    assert_eq!(relayed.monitor.monitor_guid, sns::SAMPLE_MONITOR_GUID);
    assert_eq!(relayed.monitor.name, sns::SAMPLE_MONITOR_NAME);
    assert_eq!(relayed.incident.key, sns::SAMPLE_INCIDENT_KEY);
    assert_eq!(relayed.alert_definition.guid, "everything");
    assert!(
        relay[0].header("authorization").is_none(),
        "the relay has no credentials"
    );
}

#[tokio::test]
async fn a_redelivered_event_sends_nothing_new_and_concurrent_copies_send_once() {
    // GIVEN the sample event, delivered once
    let stack = Stack::start(all_ok()).await;
    let event = event_file("alert.json");
    stack.handle(&event).await.reports();
    let requests = stack.receiver.requests().len();
    let mails = stack.ses_messages().await.len();
    assert_eq!((requests, mails), (2, 2));

    // WHEN SNS delivers it again
    let (email, webhook) = stack.handle(&event).await.reports();

    // THEN every route is skipped and nothing is sent
    assert_eq!(email, report(1, 2, 0, 2), "notify-email");
    assert_eq!(webhook, report(1, 2, 0, 2), "notify-webhook");
    assert_eq!(stack.receiver.requests().len(), requests);
    assert_eq!(stack.ses_messages().await.len(), mails);

    // WHEN a new alert arrives twice at the same time (two concurrent invocations)
    let (guid, event) = fresh_alert();
    let (first, second) = tokio::join!(stack.handle(&event), stack.handle(&event));

    // THEN each message went out once; an invocation that found a message in flight asks for a
    // retry, and that retry sends nothing
    // Each route was delivered by exactly one of the two invocations.
    let delivered = |result: &Result<EventReport, HandlerError>| match result {
        Ok(report) => report.delivered,
        Err(error) => error.report().delivered,
    };
    assert_eq!(
        delivered(first.of(IntegrationKind::Email)) + delivered(second.of(IntegrationKind::Email)),
        2,
        "notify-email"
    );
    assert_eq!(
        delivered(first.of(IntegrationKind::Webhook)) + delivered(second.of(IntegrationKind::Webhook)),
        2,
        "notify-webhook"
    );
    let results = [&first, &second]
        .map(|handled| handled.results.values().cloned().collect::<Vec<_>>())
        .concat();
    for result in &results {
        if let Err(error) = result {
            let HandlerError::Retryable { routes, .. } = error else {
                panic!("unexpected error: {error}");
            };
            for pending in routes {
                assert!(pending.reason.contains("another invocation"), "{pending}");
            }
        }
    }
    let (email, webhook) = stack.handle(&event).await.reports();
    assert_eq!(email, report(1, 2, 0, 2), "notify-email, Lambda's retry");
    assert_eq!(webhook, report(1, 2, 0, 2), "notify-webhook, Lambda's retry");
    assert_eq!(stack.receiver.requests_to(OPS_PATH).len(), 2);
    assert_eq!(stack.receiver.requests_to(RELAY_PATH).len(), 2);
    assert_eq!(stack.ses_messages().await.len(), mails + 2);
    let states = stack.states(&guid).await;
    assert_eq!(states.len(), 4);
    for state in &states {
        assert_eq!(state.status, DeliveryStatus::Delivered, "{state:?}");
        assert_eq!(state.attempts, 1, "{state:?}");
    }
}

#[tokio::test]
async fn ok_messages_follow_send_ok() {
    // GIVEN the sample definitions, with `sendOk: false` on the `everything` e-mail attachment
    // (the sample itself has none: checked here, so that the test notices when it gets one)
    let stack = Stack::with(all_ok(), &[], |definitions| {
        let attachments = || {
            definitions
                .alert_definitions
                .iter()
                .flat_map(|definition| &definition.levels)
                .flat_map(|level| &level.integrations)
        };
        assert!(attachments().all(|attachment| attachment.send_ok));
        let everything = definitions
            .alert_definitions
            .iter_mut()
            .find(|definition| definition.id == "everything")
            .expect("the `everything` alert definition");
        let email = everything.levels[0]
            .integrations
            .iter_mut()
            .find(|attachment| attachment.integration == "ops-email")
            .expect("`everything` e-mails the team");
        email.send_ok = false;
    })
    .await;
    let event = event_file("ok.json");
    let sent: Value = serde_json::from_str(&message_of(&event)).expect("JSON");
    let guid = alert_guid(&message_of(&event));

    // WHEN the Ok sample arrives
    let (email, webhook) = stack.handle(&event).await.reports();

    // THEN one e-mail (dns-critical), the Ok webhook message and the relay
    assert_eq!(email, report(1, 1, 1, 0), "notify-email");
    assert_eq!(webhook, report(1, 2, 2, 0), "notify-webhook");
    let keys: Vec<_> = stack.states_by_route(&guid).await.into_keys().collect();
    assert_eq!(
        keys,
        [
            route("ops-email", "dns-critical/batch-1"),
            route("ops-webhook", "dns-critical/resolve"),
            route("tocsin-relay", "everything/step-1"),
        ]
    );
    let mails = ses_messages_with_ids(&stack.ses_ids(&guid).await).await;
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0]["subject"], "[Resolved] GalacticResorts.com - DNS");
    assert_eq!(stack.ses_messages().await.len(), 1);
    let ops = stack.receiver.requests_to(OPS_PATH);
    assert_eq!(ops.len(), 1);
    assert_eq!(
        json_body(&ops[0].body),
        json!({
            "event": "resolved",
            "incident": sns::SAMPLE_INCIDENT_KEY,
            "monitor": sns::SAMPLE_MONITOR_NAME,
            "downtime": sent["alert"]["downtimeDuration"],
        })
    );
    let relay = stack.receiver.requests_to(RELAY_PATH);
    assert_eq!(relay.len(), 1);
    assert_eq!(
        normalized_native(&relay[0].body).alert.alert_type,
        alert_model::AlertType::Ok
    );
}

#[tokio::test]
async fn reminders_follow_send_reminder() {
    // GIVEN the sample definitions: `everything` e-mails no reminders, nor does level 2 of
    // `dns-critical`
    let stack = Stack::start(all_ok()).await;
    let reminder = sample_alert("reminder.json");
    let guid = alert_guid(&reminder);

    // WHEN the Reminder sample (level 1) arrives
    let event = sns::event(&[(&unique("sns"), &reminder)]);
    let (email, webhook) = stack.handle(&event).await.reports();

    // THEN one e-mail (dns-critical, not everything), the webhook and the relay
    assert_eq!(email, report(1, 1, 1, 0), "notify-email");
    assert_eq!(webhook, report(1, 2, 2, 0), "notify-webhook");
    let keys: Vec<_> = stack.states_by_route(&guid).await.into_keys().collect();
    assert_eq!(
        keys,
        [
            route("ops-email", "dns-critical/batch-1"),
            route("ops-webhook", "dns-critical/open"),
            route("tocsin-relay", "everything/step-1"),
        ]
    );
    let mails = ses_messages_with_ids(&stack.ses_ids(&guid).await).await;
    let subject = mails[0]["subject"].as_str().unwrap_or_default();
    assert!(
        subject.starts_with("[Reminder] GalacticResorts.com - DNS"),
        "{subject}"
    );
    let ops = stack.receiver.requests_to(OPS_PATH);
    assert_eq!(json_body(&ops[0].body)["event"], "Reminder");

    // WHEN a reminder at escalation level 2 arrives
    let mut level_two: Value = serde_json::from_str(&reminder).expect("JSON");
    level_two["alert"]["alertGuid"] = json!(unique("reminder"));
    level_two["escalationLevel"]["id"] = json!(2);
    let event = sns::event(&[(&unique("sns"), &level_two.to_string())]);
    let (email, webhook) = stack.handle(&event).await.reports();

    // THEN no e-mail (level 2 has `sendReminder: false`), the webhook at its level-2 severity
    assert_eq!(email, report(1, 0, 0, 0), "notify-email");
    assert_eq!(webhook, report(1, 1, 1, 0), "notify-webhook");
    let ops = stack.receiver.requests_to(OPS_PATH);
    assert_eq!(ops.len(), 2);
    let body = json_body(&ops[1].body);
    assert_eq!(
        (&body["event"], &body["severity"], &body["level"]),
        (&json!("Reminder"), &json!("critical"), &json!("2"))
    );
    assert_eq!(
        stack.ses_messages().await.len(),
        1,
        "only the level-1 reminder was e-mailed"
    );
}

#[tokio::test]
async fn bad_records_do_not_block_the_good_one() {
    // GIVEN an event whose first five records are bad in every way, and a good alert last
    let stack = Stack::start(all_ok()).await;
    let (guid, good) = fresh_alert();
    let good = good["Records"][0].clone();
    let with_message = |message: Value| {
        let mut record = good.clone();
        record["Sns"]["MessageId"] = json!(unique("bad"));
        record["Sns"]["Message"] = message;
        record
    };
    let mut without_message = with_message(Value::Null);
    without_message["Sns"]
        .as_object_mut()
        .expect("an Sns object")
        .remove("Message");
    let deep = format!("{}1{}", "{\"a\":".repeat(10_000), "}".repeat(10_000));
    let event = json!({"Records": [
        "not an object",
        without_message,
        with_message(json!("")),
        with_message(json!("x".repeat(300 * 1024))),
        with_message(json!(deep)),
        good,
    ]});

    // WHEN the event arrives
    let handled = stack.handle(&event).await;

    // THEN the five bad records are rejected (not retried) and the good alert is delivered
    let (email, webhook) = handled.reports();
    let expected = EventReport {
        rejected: 5,
        ..report(6, 2, 2, 0)
    };
    assert_eq!(email, expected, "notify-email");
    assert_eq!(webhook, expected, "notify-webhook");
    assert_eq!(stack.receiver.requests_to(OPS_PATH).len(), 1);
    assert_eq!(stack.receiver.requests_to(RELAY_PATH).len(), 1);
    assert_eq!(ses_messages_with_ids(&stack.ses_ids(&guid).await).await.len(), 2);
}

#[tokio::test]
async fn a_server_error_is_retried_and_both_attempts_are_logged() {
    // GIVEN an incident webhook that fails once with 500
    let script = all_ok().route(OPS_PATH, [Reply::status(500).body("busy"), Reply::ok()]);
    let stack = Stack::start(script).await;
    let (guid, event) = fresh_alert();

    // WHEN the alert arrives
    let (_, webhook) = stack.handle(&event).await.reports();

    // THEN it is delivered on the second attempt, and the log shows both
    assert_eq!(webhook, report(1, 2, 2, 0));
    assert_eq!(stack.receiver.requests_to(OPS_PATH).len(), 2);
    let attempts: Vec<_> = stack
        .history(&guid)
        .await
        .into_iter()
        .filter(|record| record.key.integration_id == "ops-webhook")
        .map(|record| (record.attempt, record.outcome, record.http_status))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, AttemptOutcome::Retryable, Some(500)),
            (2, AttemptOutcome::Delivered, Some(200)),
        ]
    );
    let state = &stack.states_by_route(&guid).await[&route("ops-webhook", "dns-critical/open")];
    assert_eq!((state.status, state.attempts), (DeliveryStatus::Delivered, 2));
}

#[tokio::test]
async fn a_throttled_webhook_waits_for_retry_after() {
    // GIVEN an incident webhook that answers 429 with `Retry-After: 1` once
    let script = all_ok().route(
        OPS_PATH,
        [Reply::status(429).header("Retry-After", "1"), Reply::ok()],
    );
    let stack = Stack::start(script).await;
    let (guid, event) = fresh_alert();

    // WHEN the alert arrives
    let (_, webhook) = stack.handle(&event).await.reports();

    // THEN the second request came at least a second after the first, and was delivered
    assert_eq!(webhook, report(1, 2, 2, 0));
    let ops = stack.receiver.requests_to(OPS_PATH);
    assert_eq!(ops.len(), 2);
    let gap = ops[1].at.duration_since(ops[0].at);
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    let outcomes: Vec<_> = stack
        .history(&guid)
        .await
        .into_iter()
        .filter(|record| record.key.integration_id == "ops-webhook")
        .map(|record| (record.outcome, record.http_status))
        .collect();
    assert_eq!(
        outcomes,
        [
            (AttemptOutcome::Retryable, Some(429)),
            (AttemptOutcome::Delivered, Some(200))
        ]
    );
}

#[tokio::test]
async fn a_client_error_fails_permanently_without_retry() {
    // GIVEN an incident webhook that answers 400
    let script = all_ok().route(OPS_PATH, [Reply::status(400).body("bad request")]);
    let stack = Stack::start(script).await;
    let (guid, event) = fresh_alert();

    // WHEN the alert arrives, twice
    let (_, webhook) = stack.handle(&event).await.reports();
    let (_, again) = stack.handle(&event).await.reports();

    // THEN one request, a permanent failure; the invocation succeeds (nothing to retry); the
    // relay is still delivered; and the redelivery does not try again
    assert_eq!(
        webhook,
        EventReport {
            failed: 1,
            ..report(1, 2, 1, 0)
        }
    );
    assert_eq!(
        again,
        EventReport {
            failed: 1,
            ..report(1, 2, 0, 1)
        }
    );
    assert_eq!(stack.receiver.requests_to(OPS_PATH).len(), 1);
    assert_eq!(stack.receiver.requests_to(RELAY_PATH).len(), 1);
    let states = stack.states_by_route(&guid).await;
    let ops = &states[&route("ops-webhook", "dns-critical/open")];
    assert_eq!((ops.status, ops.attempts), (DeliveryStatus::Failed, 1));
    assert!(
        ops.last_error.as_deref().unwrap_or_default().contains("400"),
        "{ops:?}"
    );
    let history: Vec<_> = stack
        .history(&guid)
        .await
        .into_iter()
        .filter(|record| record.key.integration_id == "ops-webhook")
        .map(|record| (record.outcome, record.http_status))
        .collect();
    assert_eq!(history, [(AttemptOutcome::Permanent, Some(400))]);
}

#[tokio::test]
async fn an_unavailable_webhook_is_left_to_lambda_retries_and_delivered_later() {
    // GIVEN two attempts per invocation, and an incident webhook unavailable for four requests
    let unavailable = Reply::status(503).body("unavailable");
    let script = all_ok().route(
        OPS_PATH,
        [
            unavailable.clone(),
            unavailable.clone(),
            unavailable.clone(),
            unavailable,
            Reply::ok(),
        ],
    );
    let stack = Stack::with(script, &[("TOCSIN_MAX_ATTEMPTS", "2")], |_| {}).await;
    let (guid, event) = fresh_alert();
    let ops_key = route("ops-webhook", "dns-critical/open");

    // WHEN the alert arrives, and Lambda retries the invocation twice
    let mut outcomes = Vec::new();
    for _ in 0..3 {
        let handled = stack.handle(&event).await;
        handled
            .of(IntegrationKind::Email)
            .as_ref()
            .expect("notify-email has nothing to retry");
        let state = stack.states_by_route(&guid).await[&ops_key].clone();
        outcomes.push((
            handled.of(IntegrationKind::Webhook).clone(),
            stack.receiver.requests_to(OPS_PATH).len(),
            state,
        ));
    }

    // THEN the first two invocations ask for a retry, naming the route, with the relay delivered
    // by the first; the third delivers only the remaining route
    for (index, (result, requests, state)) in outcomes.iter().enumerate() {
        let sent = 2 * (index + 1);
        if index < 2 {
            let Err(HandlerError::Retryable {
                routes,
                report: partial,
            }) = result
            else {
                panic!("invocation {index} should ask for a retry: {result:?}");
            };
            assert_eq!(routes.len(), 1, "{routes:?}");
            assert_eq!(routes[0].integration_id, "ops-webhook");
            assert_eq!(routes[0].step.as_deref(), Some("dns-critical/open"));
            assert!(routes[0].reason.contains("503"), "{}", routes[0]);
            // The relay is delivered by the first invocation and skipped by the second.
            let (delivered, skipped) = if index == 0 { (1, 0) } else { (0, 1) };
            assert_eq!(
                *partial,
                EventReport {
                    retryable: 1,
                    ..report(1, 2, delivered, skipped)
                }
            );
            assert_eq!(*requests, sent);
            assert_eq!(
                (state.status, state.attempts),
                (DeliveryStatus::Released, sent as u32)
            );
        } else {
            let third = result.as_ref().expect("the third invocation succeeds");
            assert_eq!(*third, report(1, 2, 1, 1));
            assert_eq!(*requests, 5);
            assert_eq!((state.status, state.attempts), (DeliveryStatus::Delivered, 5));
        }
    }
    assert_eq!(stack.receiver.requests_to(RELAY_PATH).len(), 1);
    let attempts: Vec<_> = stack
        .history(&guid)
        .await
        .into_iter()
        .filter(|record| record.key.integration_id == "ops-webhook")
        .map(|record| (record.attempt, record.http_status))
        .collect();
    assert_eq!(
        attempts,
        [
            (1, Some(503)),
            (2, Some(503)),
            (3, Some(503)),
            (4, Some(503)),
            (5, Some(200))
        ]
    );
}

#[tokio::test]
async fn the_webhook_secret_never_leaks() {
    // GIVEN a target that echoes the token back in every answer: accepted, then a server error,
    // a client error, and unavailable from then on
    let (logs, _guard) = test_support::logs::capture();
    let echo_secret = |secret: &str| {
        let echo = format!("token {secret} seen");
        all_ok().route(
            OPS_PATH,
            [
                Reply::ok().body(echo.clone()),
                Reply::status(500).body(echo.clone()),
                Reply::status(401)
                    .header("WWW-Authenticate", &format!("Bearer realm=\"{secret}\""))
                    .body(echo.clone()),
                Reply::status(503).body(echo),
            ],
        )
    };
    let stack = Stack::build(echo_secret, &[("TOCSIN_MAX_ATTEMPTS", "2")], |_| {}).await;

    // WHEN three alerts go through: delivered, failed permanently, left retryable
    let mut outputs = Vec::new();
    let mut webhook_results = Vec::new();
    for _ in 0..3 {
        let (_, event) = fresh_alert();
        let handled = stack.handle(&event).await;
        for result in handled.results.values() {
            match result {
                Ok(report) => outputs.push(format!("{report:?}")),
                Err(error) => outputs.push(format!("{error} / {error:?}")),
            }
        }
        webhook_results.push(handled.of(IntegrationKind::Webhook).clone());
    }

    // THEN the three outcomes happened …
    assert_eq!(webhook_results[0].as_ref().ok(), Some(&report(1, 2, 2, 0)));
    assert_eq!(
        webhook_results[1].as_ref().ok().map(|report| report.failed),
        Some(1)
    );
    assert!(
        matches!(webhook_results[2], Err(HandlerError::Retryable { .. })),
        "{:?}",
        webhook_results[2]
    );
    // … the receiver got the token on every request …
    let ops = stack.receiver.requests_to(OPS_PATH);
    assert_eq!(ops.len(), 5);
    for request in &ops {
        assert_eq!(
            request.header("authorization"),
            Some(format!("Bearer {}", stack.secret).as_str())
        );
    }
    // … and it is in no report or error, no log line and no delivery-log item
    for output in &outputs {
        assert!(!output.contains(&stack.secret), "secret in {output}");
    }
    let text = logs.text();
    assert!(text.contains("delivered"), "the logs were captured: {text}");
    assert!(!text.contains(&stack.secret), "secret in the logs: {text}");
    let items = stack.scan_deliveries().await;
    // 3 alerts × 4 routes: a state item per route and an item per attempt.
    assert!(items.len() >= 12 + 5, "{} items", items.len());
    for item in &items {
        for (name, value) in item {
            let printed = format!("{value:?}");
            assert!(
                !printed.contains(&stack.secret),
                "secret in attribute {name}: {printed}"
            );
        }
    }
    assert!(
        items
            .iter()
            .any(|item| format!("{item:?}").contains("[redacted]")),
        "the echoed token was redacted in the log"
    );
}

#[tokio::test]
async fn a_webhook_that_refuses_every_request_gets_its_fallback_to_mail_the_levels_operators() {
    // GIVEN the sample definitions (ops-webhook falls back to ops-email), a webhook that answers
    // 403, and the functions publishing notices to a topic whose deliveries land in a queue
    let sdk = test_support::moto::sdk_config().await;
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (topic_arn, queue_url) = test_support::moto::topic_with_queue(&sdk, "e2e-alerts").await;
    let refused = Script::new()
        .route(OPS_PATH, [Reply::status(403).body("forbidden")])
        .route(RELAY_PATH, [Reply::ok()]);
    let stack = Stack::with(refused, &[("TOCSIN_TOPIC_ARN", topic_arn.as_str())], |_| {}).await;
    let (guid, event) = fresh_alert();

    // WHEN the alert reaches the webhook function, which fails the ops-webhook route permanently
    let report = stack
        .function(IntegrationKind::Webhook)
        .handle(&event, later())
        .await
        .unwrap();
    assert_eq!((report.failed, report.notices), (1, 1), "{report:?}");

    // AND the notice it published on the topic reaches the e-mail function, as SNS delivers it
    let received = test_support::moto::received(&sqs, &queue_url).await;
    assert_eq!(received.len(), 1, "one notice on the topic");
    let notification: Value = json_body(&received[0]);
    let notice_message = notification["Message"].as_str().unwrap().to_owned();
    let notice_event = sns::event(&[(notification["MessageId"].as_str().unwrap(), &notice_message)]);
    let email_report = stack
        .function(IntegrationKind::Email)
        .handle(&notice_event, later())
        .await
        .unwrap();
    let webhook_report = stack
        .function(IntegrationKind::Webhook)
        .handle(&notice_event, later())
        .await
        .unwrap();

    // THEN the level's operators got a "delivery failed" e-mail naming the alert and the reason,
    // the webhook function sent nothing for the notice, and nothing else was mailed
    assert_eq!(
        (email_report.routes, email_report.delivered),
        (1, 1),
        "{email_report:?}"
    );
    assert_eq!(
        webhook_report.routes, 0,
        "the notice is addressed to ops-email only"
    );
    let notice: Value = json_body(&notice_message);
    let notice_id = notice["alert"]["alertGuid"].as_str().unwrap().to_owned();
    let ids = stack.ses_ids(&notice_id).await;
    let mails = ses_messages_with_ids(&ids).await;
    assert_eq!(mails.len(), 1);
    let mail = mails[0].to_string();
    assert!(mail.contains("Tocsin delivery to"), "{mail}");
    assert!(mail.contains(&guid), "the notice names the alert: {mail}");
    assert!(mail.contains("403"), "the notice says why: {mail}");
    assert_eq!(
        to_addresses(&mails[0]),
        [stack.address("alice"), stack.address("bob"), stack.address("noc")],
        "level 1 of dns-critical: the ops team (on duty) and its extra address"
    );
    assert!(!mail.contains(&stack.secret), "no secret in the notice");
}
