//! The pipeline's settings.

use std::time::Duration;

use crate::Config;

/// Retry, timing and caching settings of a [`Pipeline`](super::Pipeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Settings {
    /// Attempts per message and invocation (`TOCSIN_MAX_ATTEMPTS`).
    pub max_attempts: u32,
    /// How long loaded definitions are reused (`TOCSIN_CACHE_SECONDS`).
    pub cache_ttl: Duration,
    /// First backoff step (full jitter: a wait is random in `0..=min(cap, base·2^n)`).
    pub backoff_base: Duration,
    /// Largest backoff step.
    pub backoff_cap: Duration,
    /// Subtracted from the invocation deadline: time kept to record outcomes and release claims.
    pub safety_margin: Duration,
    /// A retry is only started when at least this much time remains after its wait.
    pub min_attempt_time: Duration,
    /// The longest one attempt can take (the HTTP connect and request timeouts): a claim must hold
    /// at least this long, plus [`Settings::claim_margin`], when an attempt starts.
    pub attempt_time: Duration,
    /// Time a claim must still hold beyond an attempt's own timeout, or it is renewed first.
    pub claim_margin: Duration,
    /// A route that keeps failing is reported to its fallback once it has made this many attempts
    /// (`TOCSIN_FALLBACK_AFTER_ATTEMPTS`).
    pub fallback_after_attempts: u32,
    /// At most one delivery-failure notice per route in this interval (`TOCSIN_NOTICE_INTERVAL_SECONDS`).
    pub notice_interval: Duration,
    /// Messages on the wire at once, over every route of the invocation (`TOCSIN_MAX_CONCURRENT_SENDS`).
    pub max_concurrent_sends: usize,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_attempts: 4,
            cache_ttl: Duration::from_secs(60),
            backoff_base: Duration::from_millis(200),
            backoff_cap: Duration::from_secs(20),
            safety_margin: Duration::from_secs(2),
            min_attempt_time: Duration::from_secs(1),
            attempt_time: Duration::from_secs(13),
            claim_margin: Duration::from_secs(5),
            fallback_after_attempts: 8,
            notice_interval: Duration::from_secs(3600),
            max_concurrent_sends: 64,
        }
    }
}

impl Settings {
    /// The settings `config` gives; the rest default.
    pub fn from_config(config: &Config) -> Self {
        Settings {
            max_attempts: config.max_attempts,
            cache_ttl: config.cache_ttl,
            attempt_time: config.http_connect_timeout + config.http_timeout,
            fallback_after_attempts: config.fallback_after_attempts,
            notice_interval: config.notice_interval,
            max_concurrent_sends: config.max_concurrent_sends,
            ..Settings::default()
        }
    }
}
