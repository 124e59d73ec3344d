//! The retry decision, as a pure function of the attempt, the failure and the time left.

use std::time::{Duration, Instant};

use super::Settings;
use crate::NotifyError;

/// What to do after a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Wait this long, then try again.
    RetryAfter(Duration),
    /// Stop: the failure is permanent.
    Permanent,
    /// Stop and leave the route for a later invocation, for this reason.
    Release(&'static str),
}

/// The decision after attempt `attempt` (counted in this invocation) failed with `failure`, at
/// `now`, with the sending `deadline`; `jitter` in `0.0..=1.0` picks the wait in the backoff window.
///
/// Full-jitter exponential backoff (`base·2^(n-1)`, capped), never shorter than the target's
/// `Retry-After`; no more than `max_attempts`; no retry whose wait and attempt (the longer of
/// `min_attempt_time` and `attempt_time`) would end after the deadline.
pub(crate) fn decide(
    settings: &Settings,
    attempt: u32,
    failure: &NotifyError,
    now: Instant,
    deadline: Instant,
    jitter: f64,
) -> Decision {
    if !failure.is_retryable() {
        return Decision::Permanent;
    }
    if attempt >= settings.max_attempts {
        return Decision::Release("attempts exhausted");
    }
    let wait = backoff(settings, attempt, failure, jitter);
    // No attempt is started with less than `attempt_time` left (the deadline could cut it after it
    // reached the target): a wait that leaves less would be spent for nothing.
    let shortest = settings.min_attempt_time.max(settings.attempt_time);
    let out_of_time = now
        .checked_add(wait.saturating_add(shortest))
        .is_none_or(|earliest_end| earliest_end > deadline);
    if out_of_time {
        return Decision::Release("no time left to retry");
    }
    Decision::RetryAfter(wait)
}

/// The wait before the next attempt: a random point (`jitter`) of the exponential window, never
/// shorter than the target's `Retry-After`.
pub(crate) fn backoff(settings: &Settings, attempt: u32, failure: &NotifyError, jitter: f64) -> Duration {
    let exponent = attempt.saturating_sub(1).min(20);
    let ceiling = settings
        .backoff_base
        .saturating_mul(1 << exponent)
        .min(settings.backoff_cap);
    let wait = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
    match failure {
        NotifyError::Retryable {
            retry_after: Some(retry_after),
            ..
        } => wait.max(*retry_after),
        _ => wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retryable(retry_after: Option<Duration>) -> NotifyError {
        NotifyError::Retryable {
            reason: "busy".to_owned(),
            status: Some(503),
            retry_after,
        }
    }

    #[test]
    fn permanent_failures_stop_at_once() {
        let now = Instant::now();
        let decision = decide(
            &Settings::default(),
            1,
            &NotifyError::permanent("no"),
            now,
            now + Duration::from_secs(60),
            0.5,
        );
        assert_eq!(decision, Decision::Permanent);
    }

    #[test]
    fn retries_wait_in_a_growing_capped_window_never_below_retry_after() {
        let settings = Settings::default();
        let now = Instant::now();
        let later = now + Duration::from_secs(600);
        let wait = |attempt, jitter, retry_after| match decide(
            &settings,
            attempt,
            &retryable(retry_after),
            now,
            later,
            jitter,
        ) {
            Decision::RetryAfter(wait) => wait,
            other => panic!("{other:?}"),
        };
        assert_eq!(wait(1, 1.0, None), Duration::from_millis(200));
        assert_eq!(wait(2, 1.0, None), Duration::from_millis(400));
        assert_eq!(wait(3, 0.5, None), Duration::from_millis(400));
        assert_eq!(wait(3, 0.0, None), Duration::ZERO);
        let capped = Settings {
            max_attempts: 30,
            ..settings
        };
        match decide(&capped, 25, &retryable(None), now, later, 1.0) {
            Decision::RetryAfter(wait) => assert_eq!(wait, settings.backoff_cap),
            other => panic!("{other:?}"),
        }
        assert_eq!(wait(1, 0.0, Some(Duration::from_secs(3))), Duration::from_secs(3));
    }

    #[test]
    fn retries_stop_at_the_attempt_limit_and_before_the_deadline() {
        let settings = Settings::default();
        let now = Instant::now();
        assert_eq!(
            decide(
                &settings,
                4,
                &retryable(None),
                now,
                now + Duration::from_secs(60),
                0.0
            ),
            Decision::Release("attempts exhausted")
        );
        // A Retry-After that would end past the deadline leaves the route to Lambda's retry.
        assert_eq!(
            decide(
                &settings,
                1,
                &retryable(Some(Duration::from_secs(30))),
                now,
                now + Duration::from_secs(10),
                0.0
            ),
            Decision::Release("no time left to retry")
        );
    }
}
