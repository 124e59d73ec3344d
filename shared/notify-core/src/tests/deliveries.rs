//! The delivery log: the same behaviour from the in-memory and the DynamoDB implementation.

use crate::clock::ManualClock;
use std::{sync::Arc, time::Duration};

use chrono::Utc;
use test_support::moto::{sdk_config, unique};

use crate::{
    ClaimOutcome, DeliveryKey, DeliveryLog, DeliveryLogError, DeliveryRecord, DeliveryStatus,
    DynamoDeliveryLog, Finish, LogTimes, MemoryDeliveryLog,
    deliveries::{AttemptOutcome, create_table},
};

fn key(alert: &str, step: &str) -> DeliveryKey {
    DeliveryKey {
        alert_id: alert.to_owned(),
        integration_id: "hook".to_owned(),
        step: step.to_owned(),
    }
}

fn times(claim_ttl: Duration) -> LogTimes {
    LogTimes {
        claim_ttl,
        retention: Duration::from_secs(30 * 86_400),
    }
}

async fn dynamo(claim_ttl: Duration) -> (DynamoDeliveryLog, aws_sdk_dynamodb::Client, String) {
    dynamo_on(claim_ttl, crate::clock::system_clock()).await
}

async fn dynamo_on(
    claim_ttl: Duration,
    clock: crate::clock::SharedClock,
) -> (DynamoDeliveryLog, aws_sdk_dynamodb::Client, String) {
    let client = aws_sdk_dynamodb::Client::new(&sdk_config().await);
    let table = unique("Deliveries");
    create_table(&client, &table).await.unwrap();
    (
        DynamoDeliveryLog::with_clock(client.clone(), &table, times(claim_ttl), clock),
        client,
        table,
    )
}

fn record(key: &DeliveryKey, attempt: u32, outcome: AttemptOutcome) -> DeliveryRecord {
    DeliveryRecord {
        key: key.clone(),
        attempt,
        time: Utc::now(),
        outcome,
        http_status: Some(if outcome == AttemptOutcome::Delivered {
            200
        } else {
            500
        }),
        latency_ms: 12,
        error: (outcome != AttemptOutcome::Delivered).then(|| "x".repeat(5000)),
        request: "r".repeat(5000),
        response: "é".repeat(5000),
    }
}

async fn claim_once_then_settled(log: &impl DeliveryLog) {
    let alert = unique("alert");
    let first = match log.claim(&key(&alert, "step-1")).await.unwrap() {
        ClaimOutcome::Claimed(claim) => claim,
        other => panic!("expected a claim, got {other:?}"),
    };
    assert_eq!(first.previous_attempts, 0);
    assert_eq!(
        log.claim(&key(&alert, "step-1")).await.unwrap(),
        ClaimOutcome::InFlight
    );
    // Another step of the same route is independent.
    assert!(matches!(
        log.claim(&key(&alert, "step-2")).await.unwrap(),
        ClaimOutcome::Claimed(_)
    ));
    log.finish(
        &first,
        &Finish::Delivered {
            external_id: Some("ext-1".to_owned()),
            kept: Default::default(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        log.claim(&key(&alert, "step-1")).await.unwrap(),
        ClaimOutcome::AlreadyDelivered(Default::default())
    );
    // Finishing twice is refused: the claim is settled.
    let again = log
        .finish(
            &first,
            &Finish::Delivered {
                external_id: None,
                kept: Default::default(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(again, DeliveryLogError::ClaimLost(_)), "{again}");

    let failed = match log.claim(&key(&alert, "step-3")).await.unwrap() {
        ClaimOutcome::Claimed(claim) => claim,
        other => panic!("expected a claim, got {other:?}"),
    };
    log.finish(
        &failed,
        &Finish::FailedPermanently {
            error: "status 400".to_owned(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        log.claim(&key(&alert, "step-3")).await.unwrap(),
        ClaimOutcome::AlreadyFailed
    );
}

async fn released_and_expired_claims_are_reclaimable(log: &impl DeliveryLog, clock: &ManualClock) {
    let alert = unique("alert");
    let released = match log.claim(&key(&alert, "released")).await.unwrap() {
        ClaimOutcome::Claimed(claim) => claim,
        other => panic!("expected a claim, got {other:?}"),
    };
    log.record_attempt(&record(&released.key, 1, AttemptOutcome::Retryable))
        .await
        .unwrap();
    log.record_attempt(&record(&released.key, 2, AttemptOutcome::Retryable))
        .await
        .unwrap();
    log.finish(
        &released,
        &Finish::ReleasedForRetry {
            error: "status 500".to_owned(),
        },
    )
    .await
    .unwrap();
    match log.claim(&key(&alert, "released")).await.unwrap() {
        ClaimOutcome::Claimed(claim) => {
            assert_eq!(claim.previous_attempts, 2, "attempt numbering continues");
            assert_ne!(claim.token, released.token);
        }
        other => panic!("expected the released claim to be taken again, got {other:?}"),
    }

    let stale = match log.claim(&key(&alert, "expired")).await.unwrap() {
        ClaimOutcome::Claimed(claim) => claim,
        other => panic!("expected a claim, got {other:?}"),
    };
    // The claim's lifetime passes (the log's clock moves; nothing sleeps).
    clock.advance(Duration::from_secs(301));
    let fresh = match log.claim(&key(&alert, "expired")).await.unwrap() {
        ClaimOutcome::Claimed(claim) => claim,
        other => panic!("expected the expired claim to be taken over, got {other:?}"),
    };
    // The crashed holder's late finish cannot overwrite the new holder's claim.
    let late = log
        .finish(
            &stale,
            &Finish::Delivered {
                external_id: None,
                kept: Default::default(),
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(late, DeliveryLogError::ClaimLost(_)), "{late}");
    log.finish(
        &fresh,
        &Finish::Delivered {
            external_id: None,
            kept: Default::default(),
        },
    )
    .await
    .unwrap();
}

async fn concurrent_claims_have_one_winner<L: DeliveryLog + 'static>(log: Arc<L>) {
    let alert = unique("alert");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let log = Arc::clone(&log);
        let key = key(&alert, "step-1");
        tasks.spawn(async move { log.claim(&key).await.unwrap() });
    }
    let outcomes = tasks.join_all().await;
    let winners = outcomes
        .iter()
        .filter(|outcome| matches!(outcome, ClaimOutcome::Claimed(_)))
        .count();
    assert_eq!(winners, 1, "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .all(|o| matches!(o, ClaimOutcome::Claimed(_) | ClaimOutcome::InFlight)),
        "{outcomes:?}"
    );
}

async fn history_lists_attempts_in_order_and_bounded(log: &impl DeliveryLog) {
    let alert = unique("alert");
    let first = key(&alert, "step-1");
    let second = DeliveryKey {
        integration_id: "mail".to_owned(),
        ..key(&alert, "step-1")
    };
    log.record_attempt(&record(&first, 1, AttemptOutcome::Retryable))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    log.record_attempt(&record(&second, 1, AttemptOutcome::Permanent))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(5)).await;
    log.record_attempt(&record(&first, 2, AttemptOutcome::Delivered))
        .await
        .unwrap();
    log.record_attempt(&record(
        &key("another-alert", "step-1"),
        1,
        AttemptOutcome::Delivered,
    ))
    .await
    .unwrap();
    let history = log.history(&alert).await.unwrap();
    let summary: Vec<(String, u32, AttemptOutcome)> = history
        .iter()
        .map(|r| (r.key.integration_id.clone(), r.attempt, r.outcome))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("hook".to_owned(), 1, AttemptOutcome::Retryable),
            ("mail".to_owned(), 1, AttemptOutcome::Permanent),
            ("hook".to_owned(), 2, AttemptOutcome::Delivered),
        ]
    );
    for record in &history {
        assert!(record.error.as_ref().is_none_or(|e| e.len() <= 1024));
        assert!(record.request.len() <= 2048 && record.response.len() <= 1024);
        assert_eq!(record.latency_ms, 12);
    }
    assert_eq!(history[0].http_status, Some(500));
    assert_eq!(history[2].error, None);
}

#[tokio::test]
async fn memory_claim_once_then_settled() {
    claim_once_then_settled(&MemoryDeliveryLog::new(LogTimes::default())).await;
}

#[tokio::test]
async fn dynamo_claim_once_then_settled() {
    claim_once_then_settled(&dynamo(Duration::from_secs(300)).await.0).await;
}

#[tokio::test]
async fn memory_released_and_expired_claims_are_reclaimable() {
    let clock = ManualClock::new();
    let log = MemoryDeliveryLog::with_clock(times(Duration::from_secs(300)), Arc::new(clock.clone()));
    released_and_expired_claims_are_reclaimable(&log, &clock).await;
}

#[tokio::test]
async fn dynamo_released_and_expired_claims_are_reclaimable() {
    let clock = ManualClock::new();
    let (log, _, _) = dynamo_on(Duration::from_secs(300), Arc::new(clock.clone())).await;
    released_and_expired_claims_are_reclaimable(&log, &clock).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn memory_concurrent_claims_have_one_winner() {
    concurrent_claims_have_one_winner(Arc::new(MemoryDeliveryLog::new(LogTimes::default()))).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dynamo_concurrent_claims_have_one_winner() {
    concurrent_claims_have_one_winner(Arc::new(dynamo(Duration::from_secs(300)).await.0)).await;
}

#[tokio::test]
async fn memory_history_lists_attempts_in_order_and_bounded() {
    history_lists_attempts_in_order_and_bounded(&MemoryDeliveryLog::new(LogTimes::default())).await;
}

#[tokio::test]
async fn dynamo_history_lists_attempts_in_order_and_bounded() {
    history_lists_attempts_in_order_and_bounded(&dynamo(Duration::from_secs(300)).await.0).await;
}

#[tokio::test]
async fn dynamo_items_all_expire_and_the_table_has_ttl() {
    let (log, client, table) = dynamo(Duration::from_secs(300)).await;
    let alert = unique("alert");
    let ClaimOutcome::Claimed(claim) = log.claim(&key(&alert, "step-1")).await.unwrap() else {
        panic!("no claim")
    };
    log.record_attempt(&record(&claim.key, 1, AttemptOutcome::Delivered))
        .await
        .unwrap();
    log.finish(
        &claim,
        &Finish::Delivered {
            external_id: Some("ext".to_owned()),
            kept: Default::default(),
        },
    )
    .await
    .unwrap();
    let items = client
        .scan()
        .table_name(&table)
        .send()
        .await
        .unwrap()
        .items
        .unwrap_or_default();
    assert_eq!(items.len(), 2);
    let now = Utc::now().timestamp();
    for item in &items {
        let expires: i64 = item["expiresAt"].as_n().unwrap().parse().unwrap();
        assert!(
            expires > now + 29 * 86_400 && expires <= now + 30 * 86_400 + 5,
            "{item:?}"
        );
    }
    let ttl = client
        .describe_time_to_live()
        .table_name(&table)
        .send()
        .await
        .unwrap();
    let description = ttl.time_to_live_description.unwrap();
    assert_eq!(description.attribute_name.as_deref(), Some("expiresAt"));
}

async fn states_show_where_each_message_stands(log: &impl DeliveryLog) {
    let alert = unique("alert");
    let claim = |step: &'static str| {
        let key = key(&alert, step);
        async move {
            match log.claim(&key).await.unwrap() {
                ClaimOutcome::Claimed(claim) => claim,
                other => panic!("expected a claim, got {other:?}"),
            }
        }
    };
    let delivered = claim("a-delivered").await;
    log.record_attempt(&record(&delivered.key, 1, AttemptOutcome::Delivered))
        .await
        .unwrap();
    log.finish(
        &delivered,
        &Finish::Delivered {
            external_id: Some("msg-1".to_owned()),
            kept: Default::default(),
        },
    )
    .await
    .unwrap();
    let failed = claim("b-failed").await;
    log.finish(
        &failed,
        &Finish::FailedPermanently {
            error: "status 400".to_owned(),
        },
    )
    .await
    .unwrap();
    let released = claim("c-released").await;
    log.record_attempt(&record(&released.key, 1, AttemptOutcome::Retryable))
        .await
        .unwrap();
    log.record_attempt(&record(&released.key, 2, AttemptOutcome::Retryable))
        .await
        .unwrap();
    log.finish(
        &released,
        &Finish::ReleasedForRetry {
            error: "status 503".to_owned(),
        },
    )
    .await
    .unwrap();
    let _held = claim("d-claimed").await;
    type Row = (String, DeliveryStatus, u32, Option<String>, Option<String>);
    let states: Vec<Row> = log
        .states(&alert)
        .await
        .unwrap()
        .into_iter()
        .map(|state| {
            (
                state.key.step,
                state.status,
                state.attempts,
                state.external_id,
                state.last_error,
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            (
                "a-delivered".to_owned(),
                DeliveryStatus::Delivered,
                1,
                Some("msg-1".to_owned()),
                None
            ),
            (
                "b-failed".to_owned(),
                DeliveryStatus::Failed,
                0,
                None,
                Some("status 400".to_owned())
            ),
            (
                "c-released".to_owned(),
                DeliveryStatus::Released,
                2,
                None,
                Some("status 503".to_owned())
            ),
            ("d-claimed".to_owned(), DeliveryStatus::Claimed, 0, None, None),
        ]
    );
}

#[tokio::test]
async fn memory_states_show_where_each_message_stands() {
    states_show_where_each_message_stands(&MemoryDeliveryLog::new(LogTimes::default())).await;
}

#[tokio::test]
async fn dynamo_states_show_where_each_message_stands() {
    states_show_where_each_message_stands(&dynamo(Duration::from_secs(300)).await.0).await;
}

/// A TCP relay to `upstream` that counts the connections open at once (the most seen).
async fn counting_relay(upstream: std::net::SocketAddr) -> (String, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let open = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let seen = Arc::clone(&most);
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let (open, most) = (Arc::clone(&open), Arc::clone(&most));
            tokio::spawn(async move {
                let now = open.fetch_add(1, Ordering::SeqCst) + 1;
                most.fetch_max(now, Ordering::SeqCst);
                if let Ok(mut outbound) = tokio::net::TcpStream::connect(upstream).await {
                    let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
                }
                open.fetch_sub(1, Ordering::SeqCst);
            });
        }
    });
    (url, seen)
}

#[tokio::test]
async fn the_dynamodb_log_keeps_at_most_max_log_calls_in_flight() {
    // GIVEN the DynamoDB log reaching the emulator through a relay that counts open connections
    let moto = test_support::moto::endpoint();
    let upstream = moto
        .trim_start_matches("http://")
        .trim_end_matches('/')
        .parse()
        .unwrap();
    let (url, most) = counting_relay(upstream).await;
    let config = aws_sdk_dynamodb::config::Builder::from(&sdk_config().await)
        .endpoint_url(url)
        .build();
    let client = aws_sdk_dynamodb::Client::from_conf(config);
    let table = unique("Deliveries");
    create_table(&client, &table).await.unwrap();
    let log = Arc::new(DynamoDeliveryLog::new(
        client,
        &table,
        times(Duration::from_secs(60)),
    ));

    // WHEN 120 deliveries are claimed at once
    let alert = unique("alert");
    let claims = (0..120).map(|n| {
        let log = Arc::clone(&log);
        let key = key(&alert, &format!("step-{n}"));
        tokio::spawn(async move { log.claim(&key).await })
    });
    let outcomes = futures_util::future::join_all(claims).await;

    // THEN every claim succeeds, over about as many connections as the bound allows calls: the
    // SDK's pool opens one per call in flight, so without the bound it opens ~120. A connection goes
    // back to the pool just after its call's response is read, so the next permitted call sometimes
    // opens a new one: a few more than the bound are seen, never the 120.
    for outcome in outcomes {
        assert!(matches!(outcome.unwrap(), Ok(ClaimOutcome::Claimed(_))));
    }
    let most = most.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(crate::deliveries::MAX_LOG_CALLS, 32);
    assert!(most <= 48, "{most} connections open at once");
    assert!(most > 1, "the calls ran concurrently: {most}");
}

/// A delivered step's extracted values come back to the claim that finds it delivered, and with its
/// state (`tocsin log`): what a retry resumes with.
async fn kept_values_come_back(log: &impl DeliveryLog) {
    let alert = unique("alert");
    let claim = match log.claim(&key(&alert, "lookup")).await.unwrap() {
        ClaimOutcome::Claimed(claim) => claim,
        other => panic!("expected a claim, got {other:?}"),
    };
    let kept = crate::Kept {
        extracted: [("SysId".to_owned(), "9d38\"5017".to_owned())].into(),
        withheld: vec!["Token".to_owned()],
    };
    log.finish(
        &claim,
        &Finish::Delivered {
            external_id: None,
            kept: kept.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        log.claim(&key(&alert, "lookup")).await.unwrap(),
        ClaimOutcome::AlreadyDelivered(kept.clone())
    );
    let states = log.states(&alert).await.unwrap();
    assert_eq!(states[0].kept, kept);
    assert_eq!(states[0].status, DeliveryStatus::Delivered);
}

#[tokio::test]
async fn memory_kept_values_come_back() {
    kept_values_come_back(&MemoryDeliveryLog::new(LogTimes::default())).await;
}

#[tokio::test]
async fn dynamo_kept_values_come_back() {
    kept_values_come_back(&dynamo(Duration::from_secs(300)).await.0).await;
}
