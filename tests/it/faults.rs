//! The fault-injection suite, smaller than `scripts/faults.sh` runs it (300 alerts, 20
//! integrations of every kind, 30 % faults, emulator outages, Lambda's retries, `tocsin replay`,
//! and a kill run per kind): no alert lost, no duplicate, every route delivered in the log.

use e2e::faults::{FaultOptions, run};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn no_alert_is_lost_and_no_route_is_delivered_twice_under_faults() {
    // GIVEN the suite's targets failing 30 % of requests and the emulator down now and then
    let options = FaultOptions {
        function_executable: Some(env!("CARGO_BIN_EXE_tocsin-faults").into()),
        ..FaultOptions::small(&test_support::moto::endpoint())
    };

    // WHEN every alert has gone through the functions, Lambda's retries and the replay
    let report = run(&options)
        .await
        .unwrap_or_else(|error| panic!("the suite could not run: {error}"));

    // THEN the promise holds, and every path to it was taken
    let problems = report.problems();
    assert!(problems.is_empty(), "{problems:#?}\n{}", report.markdown());
    assert_eq!(
        report.routes,
        alert_model::IntegrationKind::ALL.len() * report.alerts,
        "one route of every kind per alert"
    );
    assert_eq!(report.delivered_once, report.routes);
    assert!(
        report.receiver_faults.total() > 0 && report.proxy.ses_faults() > 0,
        "faults were injected at every kind's target: {}",
        report.markdown()
    );
    assert!(report.proxy.dropped_in_outage > 0, "the emulator was unreachable");
    assert!(
        report.on_failure_queue.records > 0 && report.replays[0].alerts_republished > 0,
        "alerts reached the on-failure queue and were replayed: {}",
        report.markdown()
    );
    assert_eq!(report.left_in_queue, 0);
    assert_eq!(report.kill_runs.len(), alert_model::IntegrationKind::ALL.len());
    for kill in &report.kill_runs {
        assert!(kill.retry_while_claimed.starts_with("error"), "{kill:?}");
        assert!(kill.retry_after_expiry.starts_with("ok"), "{kill:?}");
        assert_eq!(
            kill.history.first().map(String::as_str),
            Some("#1 retryable (taken over)"),
            "{kill:?}"
        );
    }
}
