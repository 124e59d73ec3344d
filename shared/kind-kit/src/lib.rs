//! Dev-only: the conformance suite every integration kind must pass, run by a kind's tests in one
//! line:
//!
//! ```ignore
//! #[tokio::test]
//! async fn conformance() {
//!     kind_kit::conformance::<EmailNotifier>().await;
//! }
//! ```
//!
//! Each check builds the kind's real notifier with [`Kind::new`] (the SDK pointed at a scripted
//! [`Receiver`](test_support::Receiver), dummy credentials, HTTP allowed to 127.0.0.1, a 1.5 s
//! request timeout) inside the real [`Pipeline`](notify_core::Pipeline): the definitions hold
//! [`Kind::sample`] (with the secret reference `ssm:/kit/secret`, holding a Standard Webhooks
//! signing secret, which is also a fine token) on one level with one on-duty operator who has an
//! e-mail address and an E.164 phone number, the secrets and the delivery log are in memory, three
//! attempts per message with a short backoff. Every path of the receiver
//! answers as the kind's client expects ([`target`]: plain HTTP, SES v2 JSON or SNS XML, by
//! [`Kind::TRANSPORT`]), so the kind chooses its own paths.
//!
//! The checks ([`Check`]):
//!
//! - **delivered**: one alert; the route is delivered (`report.delivered == 1`), the target got
//!   exactly the messages the kind plans for it (`tocsin render`'s plan), one request each, and the
//!   delivery log has each of those steps delivered.
//! - **idempotent redelivery**: the same SNS event handled twice, then another event handled by two
//!   copies at once and once more (Lambda's retry): the target saw each message once.
//! - **429 with Retry-After**: a throttled answer (`Retry-After: 1`), then success: retried and
//!   delivered; for HTTP kinds the retry came no sooner than the `Retry-After` (a lower bound on
//!   the time between the two arrivals; the AWS SDKs do not expose the header, see
//!   [`target::Case::honours_retry_after`]).
//! - **5xx then 200**: retried and delivered, every attempt in the delivery log.
//! - **5xx forever**: the invocation ends with `HandlerError::Retryable` after every attempt, each
//!   attempt one request and one retryable record in the delivery log.
//! - **400**: failed permanently after one attempt, one permanent record.
//! - **timeout**: an answer delayed past the request timeout is retryable, each attempt recorded.
//! - **dropped connection**: a connection closed without an answer is retryable, each attempt
//!   recorded.
//! - **bad settings**: the sample passes validation; with an unknown key `settings.noSuchSetting`
//!   validation names it, and the route fails permanently with a reason naming it, nothing sent.
//! - **redaction**: the sample's templated fields hold the secret variable `Token`
//!   ([`Kind::set_templates`]; a secret with every character an escaper changes); the target
//!   answers 500, 400 and 200 echoing it raw, JSON-escaped and in base64. The secret reached the
//!   target, and no output ([`Captured::outputs`](notify_core::testing::Captured::outputs): the
//!   invocation's result, its log lines, every delivery record) holds it raw, by its first 12
//!   characters (so in any escaping, or cut off) or in base64; nor the sample's own secret. The log
//!   lines are captured through the functions' own subscriber at trace level
//!   ([`notify_core::log_subscriber`]), not with `notify_core::testing::capture`, which also lets the
//!   AWS SDK's trace events through: they print whole SES responses, echo included, which no
//!   function ever logs.
//!
//! Every check runs whatever the others found; [`conformance`] fails once at the end with every
//! problem, each naming its check and what happened. [`problems`] runs one check (the kit's own
//! tests use it to show that each check fails on a kind with the flaw it looks for).
//!
//! Run it on a current-thread runtime (`#[tokio::test]`'s default): the log capture is per thread.
//! No check asserts an upper bound on time.
//!
//! Invariant: only `[dev-dependencies]` name this crate, except the other dev-only crates
//! (tests/it/tidy.rs).
#![warn(missing_docs)]

mod harness;
mod leaks;
pub mod lifecycle;
pub mod target;
#[cfg(test)]
mod tests;

use std::time::Duration;

use notify_core::{
    DeliveryRecord, EventReport, HandlerError, Kind, Templates, deliveries::AttemptOutcome, testing::Captured,
};
use serde_json::Value;
use test_support::{Recorded, Reply};

use crate::{
    harness::{HTTP_TIMEOUT, Harness, MAX_ATTEMPTS, TOKEN_REF, capture_logs, event, step_of},
    target::Answer,
};

/// One conformance check (the module documentation says what each proves).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// One alert, delivered: exactly the kind's messages reached the target.
    Delivered,
    /// The same event twice, and two copies at once: each message sent once.
    Redelivery,
    /// 429 with `Retry-After`: retried (not sooner than it for HTTP kinds) and delivered.
    RetryAfter,
    /// 5xx then 200: retried and delivered.
    ServerErrorThenSuccess,
    /// 5xx forever: left retryable, every attempt recorded.
    ServerErrorForever,
    /// 400: failed permanently after one attempt.
    ClientError,
    /// An answer later than the request timeout: retryable.
    Timeout,
    /// A connection closed without an answer: retryable.
    DroppedConnection,
    /// An unknown settings key: refused by name, nothing sent.
    BadSettings,
    /// The target echoes the secret: no output holds it.
    Redaction,
}

impl Check {
    /// Every check, in the order [`conformance`] runs them.
    pub const ALL: &'static [Check] = &[
        Check::Delivered,
        Check::Redelivery,
        Check::RetryAfter,
        Check::ServerErrorThenSuccess,
        Check::ServerErrorForever,
        Check::ClientError,
        Check::Timeout,
        Check::DroppedConnection,
        Check::BadSettings,
        Check::Redaction,
    ];

    /// The check's name, which starts each of its problems.
    pub fn name(self) -> &'static str {
        match self {
            Check::Delivered => "delivered",
            Check::Redelivery => "idempotent redelivery",
            Check::RetryAfter => "429 with Retry-After",
            Check::ServerErrorThenSuccess => "5xx then 200",
            Check::ServerErrorForever => "5xx forever",
            Check::ClientError => "400",
            Check::Timeout => "timeout",
            Check::DroppedConnection => "dropped connection",
            Check::BadSettings => "bad settings",
            Check::Redaction => "redaction",
        }
    }
}

/// Runs every [`Check`] on kind `K` and panics with the list of every problem found, each naming
/// its check and what happened.
pub async fn conformance<K: Kind>() {
    let mut problems = Vec::new();
    for &check in Check::ALL {
        problems.extend(self::problems::<K>(check).await);
    }
    assert!(
        problems.is_empty(),
        "kind `{}` fails the conformance kit ({} problem(s)):\n  - {}\n",
        K::KIND,
        problems.len(),
        problems.join("\n  - ")
    );
}

/// The problems `check` finds in kind `K`, each starting with the check's name; empty when it passes.
pub async fn problems<K: Kind>(check: Check) -> Vec<String> {
    let found = match check {
        Check::Delivered => delivered::<K>().await,
        Check::Redelivery => redelivery::<K>().await,
        Check::RetryAfter => retry_after::<K>().await,
        Check::ServerErrorThenSuccess => server_error_then_success::<K>().await,
        Check::ServerErrorForever => server_error_forever::<K>().await,
        Check::ClientError => client_error::<K>().await,
        Check::Timeout => timeout::<K>().await,
        Check::DroppedConnection => dropped_connection::<K>().await,
        Check::BadSettings => bad_settings::<K>().await,
        Check::Redaction => redaction::<K>().await,
    };
    let problems = match found {
        Ok(problems) => problems,
        Err(problem) => vec![problem],
    };
    problems
        .into_iter()
        .map(|problem| format!("{}: {problem}", check.name()))
        .collect()
}

/// A check's outcome: its problems, or the one problem that stopped it.
type Found = Result<Vec<String>, String>;

/// A kind's sample with `answers` at every path, and no other change.
async fn harness<K: Kind>(answers: &[(Answer, &str)]) -> Result<Harness<K>, String> {
    let case = target::case(K::TRANSPORT);
    let replies = answers
        .iter()
        .map(|(answer, text)| case.reply(*answer, text))
        .collect();
    Harness::start(replies, None, |_| {}).await
}

/// The steps the kind plans for `event`; a problem when it plans none.
async fn planned<K: Kind>(harness: &Harness<K>, event: &Value) -> Result<Vec<String>, String> {
    let steps = harness
        .planned_steps(event)
        .await
        .map_err(|error| format!("the sample integration cannot be planned: {error}"))?;
    if steps.is_empty() {
        return Err(
            "the sample integration builds no message for the kit's alert (one on-duty operator with \
             an e-mail address and a phone number): nothing could be checked"
                .to_owned(),
        );
    }
    Ok(steps)
}

async fn delivered<K: Kind>() -> Found {
    let harness = harness::<K>(&[(Answer::Success, "kit-message-id")]).await?;
    let (_, event) = event();
    let mut steps = planned(&harness, &event).await?;
    let result = harness.handle(&event).await;
    let mut problems = Vec::new();
    expect_delivered(&result, &mut problems);
    let requests = harness.requests();
    if requests.len() != steps.len() {
        problems.push(format!(
            "the target got {} request(s) for the {} message(s) planned ({steps:?}): {}",
            requests.len(),
            steps.len(),
            describe(&requests)
        ));
    }
    let mut delivered: Vec<String> = harness
        .records()
        .iter()
        .filter(|record| record.outcome == AttemptOutcome::Delivered)
        .map(|record| step_of(record).to_owned())
        .collect();
    delivered.sort();
    steps.sort();
    if delivered != steps {
        problems.push(format!(
            "the delivery log has steps {delivered:?} delivered, the plan has {steps:?}"
        ));
    }
    Ok(problems)
}

async fn redelivery<K: Kind>() -> Found {
    let harness = harness::<K>(&[(Answer::Success, "kit-message-id")]).await?;
    let mut problems = Vec::new();

    // The same event, one invocation after the other.
    let (_, once) = event();
    let steps = planned(&harness, &once).await?;
    let first = harness.handle(&once).await;
    expect_delivered(&first, &mut problems);
    let again = harness.handle(&once).await;
    match &again {
        Ok(report) if report.failed == 0 && report.retryable == 0 => {}
        other => problems.push(format!(
            "handling the delivered event again returned {other:?}, expected nothing to do"
        )),
    }
    let sent = harness.requests().len();
    if sent != steps.len() {
        problems.push(format!(
            "the same event handled twice: the target got {sent} request(s) for {} message(s) ({steps:?})",
            steps.len()
        ));
    }

    // Another event, by two copies at once, then once more (Lambda's retry of a copy that found
    // the claim held by the other).
    let (_, racing) = event();
    let (one, other) = tokio::join!(harness.handle(&racing), harness.handle(&racing));
    for copy in [&one, &other] {
        match copy {
            Ok(report) if report.failed == 0 => {}
            Err(HandlerError::Retryable { .. }) => {}
            other => problems.push(format!(
                "a copy handled concurrently returned {other:?}, expected delivered or left for a retry"
            )),
        }
    }
    let retry = harness.handle(&racing).await;
    match &retry {
        Ok(report) if report.failed == 0 && report.retryable == 0 => {}
        other => problems.push(format!(
            "the retry after two concurrent copies returned {other:?}, expected it delivered"
        )),
    }
    let sent_now = harness.requests().len() - sent;
    if sent_now != steps.len() {
        problems.push(format!(
            "two concurrent copies and a retry: the target got {sent_now} request(s) for {} message(s)",
            steps.len()
        ));
    }
    Ok(problems)
}

async fn retry_after<K: Kind>() -> Found {
    let harness = harness::<K>(&[
        (Answer::Throttled, "slow down"),
        (Answer::Success, "kit-message-id"),
    ])
    .await?;
    let (_, event) = event();
    let result = harness.handle(&event).await;
    let mut problems = Vec::new();
    expect_delivered(&result, &mut problems);
    let retry_after = Duration::from_secs(1);
    for (path, requests) in by_path(&harness.requests()) {
        let [throttled, retried, ..] = requests.as_slice() else {
            problems.push(format!(
                "{path}: answered 429 once, the message was not retried ({} request)",
                requests.len()
            ));
            continue;
        };
        // A lower bound only: the runner waits at least `Retry-After` after it got the answer,
        // which came after the request arrived.
        let waited = retried.at.saturating_duration_since(throttled.at);
        if harness.case().honours_retry_after && waited < retry_after {
            problems.push(format!(
                "{path}: retried {waited:?} after a 429 with `Retry-After: 1`, sooner than it allows"
            ));
        }
    }
    if harness.requests().is_empty() {
        problems.push("the target got no request".to_owned());
    }
    Ok(problems)
}

async fn server_error_then_success<K: Kind>() -> Found {
    let harness = harness::<K>(&[
        (Answer::ServerError, "try again"),
        (Answer::Success, "kit-message-id"),
    ])
    .await?;
    let (_, event) = event();
    let steps = planned(&harness, &event).await?;
    let result = harness.handle(&event).await;
    let mut problems = Vec::new();
    expect_delivered(&result, &mut problems);
    let requests = harness.requests();
    if requests.len() <= steps.len() {
        problems.push(format!(
            "a 500 was not retried: {} request(s) for {} message(s)",
            requests.len(),
            steps.len()
        ));
    }
    let records = harness.records();
    expect_one_record_per_request(&records, &requests, &mut problems);
    if !records
        .iter()
        .any(|record| record.outcome == AttemptOutcome::Retryable)
    {
        problems.push(format!(
            "the delivery log has no retryable attempt for the 500: {}",
            outcomes(&records)
        ));
    }
    Ok(problems)
}

async fn server_error_forever<K: Kind>() -> Found {
    let harness = harness::<K>(&[(Answer::ServerError, "down")]).await?;
    let (_, event) = event();
    let result = harness.handle(&event).await;
    let mut problems = Vec::new();
    expect_retryable(&result, &mut problems);
    let records = harness.records();
    expect_one_record_per_request(&records, &harness.requests(), &mut problems);
    expect_all(&records, AttemptOutcome::Retryable, &mut problems);
    let most = attempts_per_step(&records).into_iter().max().unwrap_or(0);
    if most != MAX_ATTEMPTS as usize {
        problems.push(format!(
            "a message was attempted {most} time(s), expected every one of the {MAX_ATTEMPTS} attempts"
        ));
    }
    Ok(problems)
}

async fn client_error<K: Kind>() -> Found {
    let harness = harness::<K>(&[(Answer::ClientError, "bad request")]).await?;
    let (_, event) = event();
    let result = harness.handle(&event).await;
    let mut problems = Vec::new();
    match &result {
        Ok(report) if report.routes == 1 && report.failed == 1 => {}
        other => problems.push(format!(
            "expected the route failed permanently, the pipeline returned {other:?}"
        )),
    }
    let requests = harness.requests();
    if requests.len() != 1 {
        problems.push(format!(
            "a 400 must end the route after one attempt; the target got {} request(s)",
            requests.len()
        ));
    }
    let records = harness.records();
    if records.len() != 1 {
        problems.push(format!(
            "expected one attempt in the delivery log, found {}",
            outcomes(&records)
        ));
    }
    expect_all(&records, AttemptOutcome::Permanent, &mut problems);
    Ok(problems)
}

async fn timeout<K: Kind>() -> Found {
    let case = target::case(K::TRANSPORT);
    // Far past the request timeout; the receiver holds the answer, the client gives up.
    let slow = case.reply(Answer::Success, "too late").delay(HTTP_TIMEOUT * 8);
    unanswered::<K>(slow).await
}

async fn dropped_connection<K: Kind>() -> Found {
    unanswered::<K>(Reply::drop_connection()).await
}

/// A target that never answers with `reply`: every attempt is retryable and recorded.
async fn unanswered<K: Kind>(reply: Reply) -> Found {
    let harness = Harness::<K>::start(vec![reply], None, |_| {}).await?;
    let (_, event) = event();
    let result = harness.handle(&event).await;
    let mut problems = Vec::new();
    expect_retryable(&result, &mut problems);
    let records = harness.records();
    if records.is_empty() {
        problems.push("no attempt in the delivery log".to_owned());
    }
    expect_one_record_per_request(&records, &harness.requests(), &mut problems);
    expect_all(&records, AttemptOutcome::Retryable, &mut problems);
    Ok(problems)
}

async fn bad_settings<K: Kind>() -> Found {
    let mut problems = Vec::new();
    let sample = harness::<K>(&[]).await?;
    let issues = sample.validate();
    if !issues.is_empty() {
        problems.push(format!(
            "the sample integration does not pass validation: {}",
            join(&issues)
        ));
    }

    let harness = Harness::<K>::start(vec![], None, |integration| {
        integration
            .settings
            .insert("noSuchSetting".to_owned(), Value::Bool(true));
    })
    .await?;
    let issues = harness.validate();
    if !issues
        .iter()
        .any(|issue| issue.to_string().contains("settings.noSuchSetting"))
    {
        problems.push(format!(
            "validation does not name `settings.noSuchSetting`: {}",
            if issues.is_empty() {
                "no issue".to_owned()
            } else {
                join(&issues)
            }
        ));
    }
    let (alert_id, event) = event();
    let (logs, guard) = capture_logs();
    let result = harness.handle(&event).await;
    drop(guard);
    let logs = logs.text();
    match &result {
        Ok(report) if report.routes == 1 && report.failed == 1 => {}
        other => problems.push(format!(
            "expected the route failed permanently, the pipeline returned {other:?}"
        )),
    }
    if !logs.contains(&alert_id) {
        problems.push(not_captured());
    } else if !logs.contains("settings.noSuchSetting") {
        problems.push(format!(
            "no log line names `settings.noSuchSetting`: {}",
            tail(&logs)
        ));
    }
    let requests = harness.requests();
    if !requests.is_empty() {
        problems.push(format!(
            "the target got {} request(s) from an integration with bad settings: {}",
            requests.len(),
            describe(&requests)
        ));
    }
    Ok(problems)
}

async fn redaction<K: Kind>() -> Found {
    let mut problems = Vec::new();
    for (answer, expected) in [
        (Answer::ServerError, Expected::Retryable),
        (Answer::ClientError, Expected::Failed),
        (Answer::Success, Expected::Delivered),
    ] {
        let secret = leaks::secret();
        let reply = target::case(K::TRANSPORT).reply(answer, &leaks::echo(&secret));
        let harness = Harness::<K>::start(vec![reply], Some(&secret), |integration| {
            integration.variables.insert(
                "Token".to_owned(),
                definition_store::VariableDef::Secret {
                    secret: definition_store::SecretRef(TOKEN_REF.to_owned()),
                },
            );
            K::set_templates(integration, &secret_templates());
        })
        .await?;
        let (alert_id, event) = event();
        let (logs, guard) = capture_logs();
        let result = harness.handle(&event).await;
        drop(guard);
        let captured = Captured {
            result,
            logs: logs.text(),
            records: harness.records(),
        };
        let scene = format!("a {answer:?} echoing the secret");
        if expected.of(&captured.result) {
            // It happened as the scene says; now nothing may show the secret.
        } else {
            problems.push(format!(
                "{scene}: expected {expected:?}, the pipeline returned {:?}",
                captured.result
            ));
        }
        let requests = harness.requests();
        if !requests.iter().any(|request| holds(&secret, request)) {
            problems.push(format!(
                "{scene}: the secret never reached the target, so nothing was checked (does \
                 `Kind::set_templates` write the templates into the messages?): {}",
                describe(&requests)
            ));
        }
        if !captured.logs.contains(&alert_id) {
            problems.push(format!("{scene}: {}", not_captured()));
        }
        for output in captured.outputs() {
            for (name, secret) in [
                ("the secret", &secret),
                ("the sample's secret", &harness.sample_secret),
            ] {
                let forms = leaks::find(secret, &output);
                if !forms.is_empty() {
                    problems.push(format!(
                        "{scene}: {name} ({}) is in an output: …{}…",
                        forms.join(", "),
                        leaks::excerpt(secret, &output)
                    ));
                }
            }
        }
    }
    Ok(problems)
}

/// Templates that write the secret variable `Token` into every context a kind's messages have.
fn secret_templates() -> Templates {
    Templates {
        json: "{\"token\": \"{{Token}}\", \"monitor\": \"{{@monitor.name}}\"}".to_owned(),
        url: "x?key={{Token}}".to_owned(),
        header: "{{Token}}".to_owned(),
        subject: "{{@monitor.name}} {{Token}}".to_owned(),
        html: "<a href=\"https://ops.example.com/ack?token={{Token}}\">{{Token}}</a>".to_owned(),
        text: "Acknowledge: https://ops.example.com/ack?token={{Token}}".to_owned(),
    }
}

/// What the pipeline must have done with the route.
#[derive(Debug, Clone, Copy)]
enum Expected {
    Delivered,
    Failed,
    Retryable,
}

impl Expected {
    fn of(self, result: &Result<EventReport, HandlerError>) -> bool {
        match (self, result) {
            (Expected::Delivered, Ok(report)) => report.delivered == 1,
            (Expected::Failed, Ok(report)) => report.failed == 1,
            (Expected::Retryable, Err(HandlerError::Retryable { routes, .. })) => routes.len() == 1,
            _ => false,
        }
    }
}

fn expect_delivered(result: &Result<EventReport, HandlerError>, problems: &mut Vec<String>) {
    match result {
        Ok(report)
            if report.routes == 1 && report.delivered == 1 && report.failed == 0 && report.retryable == 0 => {
        }
        other => problems.push(format!(
            "expected the one route delivered, the pipeline returned {other:?}"
        )),
    }
}

fn expect_retryable(result: &Result<EventReport, HandlerError>, problems: &mut Vec<String>) {
    if !Expected::Retryable.of(result) {
        problems.push(format!(
            "expected the route left retryable (HandlerError::Retryable), the pipeline returned {result:?}"
        ));
    }
}

/// The notifier made one request per attempt, and the runner recorded each.
fn expect_one_record_per_request(
    records: &[DeliveryRecord],
    requests: &[Recorded],
    problems: &mut Vec<String>,
) {
    if records.len() != requests.len() {
        problems.push(format!(
            "{} attempt(s) in the delivery log ({}) but {} request(s) at the target: each attempt \
             must be one request (notifiers never retry) and every attempt recorded",
            records.len(),
            outcomes(records),
            requests.len()
        ));
    }
}

fn expect_all(records: &[DeliveryRecord], outcome: AttemptOutcome, problems: &mut Vec<String>) {
    if records.iter().any(|record| record.outcome != outcome) {
        problems.push(format!(
            "expected every attempt {outcome:?}, the delivery log has {}",
            outcomes(records)
        ));
    }
}

fn attempts_per_step(records: &[DeliveryRecord]) -> Vec<usize> {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for record in records {
        *counts.entry(record.key.step.as_str()).or_default() += 1;
    }
    counts.into_values().collect()
}

fn outcomes(records: &[DeliveryRecord]) -> String {
    let list: Vec<String> = records
        .iter()
        .map(|record| {
            format!(
                "{} #{} {:?} ({})",
                step_of(record),
                record.attempt,
                record.outcome,
                record.error.as_deref().unwrap_or("no error")
            )
        })
        .collect();
    format!("[{}]", list.join("; "))
}

/// The requests grouped by path, each group in arrival order.
fn by_path(requests: &[Recorded]) -> Vec<(String, Vec<Recorded>)> {
    let mut groups: Vec<(String, Vec<Recorded>)> = Vec::new();
    for request in requests {
        match groups.iter_mut().find(|(path, _)| *path == request.path) {
            Some((_, group)) => group.push(request.clone()),
            None => groups.push((request.path.clone(), vec![request.clone()])),
        }
    }
    groups
}

/// Whether `request` carries `secret` in any form (its query, headers or body).
fn holds(secret: &str, request: &Recorded) -> bool {
    let mut parts = vec![
        request.body.as_str(),
        request.query.as_deref().unwrap_or_default(),
    ];
    parts.extend(request.headers.iter().map(|(_, value)| value.as_str()));
    parts.iter().any(|part| !leaks::find(secret, part).is_empty())
}

fn describe(requests: &[Recorded]) -> String {
    let list: Vec<String> = requests
        .iter()
        .map(|request| format!("{} {}", request.method, request.path))
        .collect();
    format!("[{}]", list.join(", "))
}

fn join(issues: &[definition_store::ValidationIssue]) -> String {
    issues
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

fn not_captured() -> String {
    "the logs did not capture the invocation: run the kit on a current-thread runtime (`#[tokio::test]`)"
        .to_owned()
}

/// The last lines of `logs`, for a problem's message.
fn tail(logs: &str) -> String {
    let lines: Vec<&str> = logs.lines().collect();
    lines[lines.len().saturating_sub(5)..].join("\n")
}
