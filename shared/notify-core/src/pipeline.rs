//! The delivery pipeline, independent of the Lambda runtime so that it can be tested and reused:
//! SNS event → records → alerts → routes → messages → claimed, retried, recorded sends.

use std::{
    collections::BTreeMap,
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use alert_model::{
    Alert, AlertType, IntegrationKind,
    inbound::{InboundMessage, normalize},
    template::Engine,
};
use chrono::{DateTime, Utc};
use definition_store::{Catalog, DefinitionSource, Route, VariableDef};
use futures_util::StreamExt as _;
use serde::{Deserialize, Serialize};
use tracing::{Instrument, error, info, info_span, warn};

use crate::{
    Config, Notifier, NotifyError, Outgoing, RouteContext, Variables,
    deliveries::{AttemptOutcome, ClaimOutcome, DeliveryKey, DeliveryLog, DeliveryRecord, Finish, NoticeKey},
    http::truncate_utf8,
    metrics::{FailedRoute, FailureOutcome, MetricsSink, failure_line},
    notice::{FailedDelivery, NoticePublisher, failure_notice},
    secret::Secrets,
};

/// Retry and caching settings of a [`Pipeline`].
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
            fallback_after_attempts: config.fallback_after_attempts,
            notice_interval: config.notice_interval,
            max_concurrent_sends: config.max_concurrent_sends,
            ..Settings::default()
        }
    }
}

/// What one invocation did, counted. Routes are counted once each, by their final state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventReport {
    /// SNS records in the event.
    pub records: usize,
    /// Records that could not be turned into an alert (logged, never retried).
    pub rejected: usize,
    /// Routes reached by the accepted records.
    pub routes: usize,
    /// Routes whose every message is now delivered, some of them by this invocation.
    pub delivered: usize,
    /// Routes with nothing left to send: delivered entirely by earlier invocations, or no message
    /// built (e.g. no recipient on duty).
    pub skipped: usize,
    /// Routes that failed permanently (now or earlier).
    pub failed: usize,
    /// Routes left for a retry of the invocation.
    pub retryable: usize,
    /// Delivery-failure notices published to fallback integrations.
    pub notices: usize,
}

/// A route left retryable, named without secrets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingRoute {
    /// The alert.
    pub alert_id: String,
    /// The integration.
    pub integration_id: String,
    /// The step that could not be delivered, when one was reached.
    pub step: Option<String>,
    /// Why, redacted.
    pub reason: String,
}

impl fmt::Display for PendingRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "alert `{}` integration `{}`",
            self.alert_id, self.integration_id
        )?;
        if let Some(step) = &self.step {
            write!(f, " step `{step}`")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Why an invocation must be retried by Lambda. Holds no secret.
#[derive(Debug, Clone, thiserror::Error)]
pub enum HandlerError {
    /// Some routes failed in a way a later invocation may fix; the others are done.
    #[error("{} route(s) left retryable: {}", .routes.len(), .routes.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    Retryable {
        /// The routes to retry.
        routes: Vec<PendingRoute>,
        /// What the invocation did.
        report: EventReport,
    },
    /// The definitions could not be loaded.
    #[error("cannot load definitions: {reason}")]
    Definitions {
        /// The store's error.
        reason: String,
        /// What the invocation did before.
        report: EventReport,
    },
}

impl HandlerError {
    /// What the invocation did.
    pub fn report(&self) -> &EventReport {
        match self {
            HandlerError::Retryable { report, .. } | HandlerError::Definitions { report, .. } => report,
        }
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(error: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: "Retryable".to_owned(),
            error_message: error.to_string(),
        }
    }
}

/// One message `tocsin render` would send.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedMessage {
    /// Integration id.
    pub integration: String,
    /// Its kind.
    pub kind: IntegrationKind,
    /// The alert type rendered.
    pub alert_type: AlertType,
    /// The step name.
    pub step: String,
    /// [`Notifier::describe`] of the message (secrets shown as placeholders or redacted).
    pub description: serde_json::Value,
}

/// A route `tocsin render` could not plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("integration `{integration}`: {reason}")]
pub struct PlanError {
    /// Integration id.
    pub integration: String,
    /// Why, redacted.
    pub reason: String,
}

/// Plans what would be sent for `alert` (with its type replaced by `alert_type`, if given) without
/// sending: the routes of `N::KIND`, their variables (secrets from `secrets`, e.g.
/// [`PlaceholderSecrets`](crate::PlaceholderSecrets)) and their described messages.
pub async fn plan<N: Notifier, S: Secrets>(
    notifier: &N,
    catalog: &Catalog,
    alert: &Alert,
    alert_type: Option<AlertType>,
    secrets: &S,
    engine: &Engine,
    now: DateTime<Utc>,
) -> Vec<Result<PlannedMessage, PlanError>> {
    let mut alert = alert.clone();
    if let Some(alert_type) = alert_type {
        alert.alert.alert_type = alert_type;
    }
    let mut planned = Vec::new();
    for route in catalog.routes(&alert, N::KIND) {
        let integration = route.integration.id.clone();
        match prepare(notifier, &route, &alert, secrets, engine, now).await {
            Ok(Prepared {
                variables, messages, ..
            }) => {
                for outgoing in messages {
                    let description = redact_json(&variables, notifier.describe(&outgoing.message));
                    planned.push(Ok(PlannedMessage {
                        integration: integration.clone(),
                        kind: N::KIND,
                        alert_type: alert.alert.alert_type,
                        step: outgoing.step,
                        description,
                    }));
                }
            }
            Err((variables, error)) => {
                planned.push(Err(PlanError {
                    integration,
                    reason: variables.redact(&error.to_string()),
                }));
            }
        }
    }
    planned
}

/// The testable heart of a notifier function: everything `run` does per event, without Lambda.
pub struct Pipeline<N, D, S, L> {
    notifier: N,
    definitions: D,
    secrets: S,
    deliveries: L,
    engine: Engine,
    settings: Settings,
    catalog: tokio::sync::Mutex<Option<(Instant, Arc<Catalog>)>>,
    metrics: MetricsSink,
    metrics_namespace: String,
    notices: Option<NoticePublisher>,
    /// Permits for messages on the wire ([`Settings::max_concurrent_sends`]).
    sends: tokio::sync::Semaphore,
}

impl<N, D, S, L> fmt::Debug for Pipeline<N, D, S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

struct Prepared<M> {
    variables: Variables,
    messages: Vec<Outgoing<M>>,
}

enum RouteOutcome {
    Delivered,
    Skipped,
    /// Failed permanently; the failure when it happened in this invocation (not earlier).
    Failed(Option<RouteFailure>),
    /// Left for a retry; the failure when the target (or the route's preparation) failed, as
    /// opposed to the claim being held elsewhere or the deadline.
    Retryable(PendingRoute, Option<RouteFailure>),
}

/// A route that failed in this invocation: reported by a metric and, through the integration's
/// fallback, by a notice.
struct RouteFailure {
    /// `<alert definition>/<step>`, when a step was reached.
    step: Option<String>,
    /// Redacted.
    reason: String,
    /// Over every invocation.
    attempts: u32,
}

/// One record of an SNS event, read tolerantly (DESIGN §1, inbound-formats §11.1).
#[derive(Debug, Deserialize)]
struct SnsRecord {
    #[serde(rename = "Sns", alias = "sns")]
    sns: SnsMessage,
}

#[derive(Debug, Deserialize)]
struct SnsMessage {
    #[serde(rename = "MessageId", alias = "messageId", default)]
    message_id: Option<String>,
    #[serde(rename = "Message", alias = "message", default)]
    message: Option<serde_json::Value>,
    #[serde(rename = "Subject", alias = "subject", default)]
    subject: Option<String>,
    #[serde(rename = "Timestamp", alias = "timestamp", default)]
    timestamp: Option<String>,
    #[serde(rename = "MessageAttributes", alias = "messageAttributes", default)]
    message_attributes: Option<BTreeMap<String, SnsAttribute>>,
}

#[derive(Debug, Deserialize)]
struct SnsAttribute {
    #[serde(rename = "Type", alias = "type", default)]
    kind: Option<String>,
    #[serde(rename = "Value", alias = "value", default)]
    value: Option<serde_json::Value>,
}

impl<N, D, S, L> Pipeline<N, D, S, L>
where
    N: Notifier,
    D: DefinitionSource,
    S: Secrets,
    L: DeliveryLog,
{
    /// A pipeline serving `notifier`'s kind. Creates the template engine once.
    pub fn new(notifier: N, definitions: D, secrets: S, deliveries: L, settings: Settings) -> Self {
        Pipeline {
            notifier,
            definitions,
            secrets,
            deliveries,
            engine: Engine::new(),
            settings,
            catalog: tokio::sync::Mutex::new(None),
            metrics: MetricsSink::default(),
            metrics_namespace: "Tocsin".to_owned(),
            notices: None,
            sends: tokio::sync::Semaphore::new(settings.max_concurrent_sends.max(1)),
        }
    }

    /// Where the delivery-failure metric lines go (nowhere by default; [`build_pipeline`](crate::build_pipeline)
    /// sends them to standard output), in which CloudWatch namespace.
    pub fn with_metrics(mut self, sink: MetricsSink, namespace: impl Into<String>) -> Self {
        self.metrics = sink;
        self.metrics_namespace = namespace.into();
        self
    }

    /// Where delivery-failure notices for fallback integrations are published (none by default:
    /// failures are then only counted and logged).
    pub fn with_notices(mut self, publisher: Option<NoticePublisher>) -> Self {
        self.notices = publisher;
        self
    }

    /// The delivery log (for `tocsin log` and tests).
    pub fn deliveries(&self) -> &L {
        &self.deliveries
    }

    /// The notifier.
    pub fn notifier(&self) -> &N {
        &self.notifier
    }

    /// The catalog, loaded at most once per cache TTL.
    pub async fn catalog(&self) -> Result<Arc<Catalog>, definition_store::StoreError> {
        let mut cached = self.catalog.lock().await;
        if let Some((loaded, catalog)) = cached.as_ref()
            && loaded.elapsed() < self.settings.cache_ttl
        {
            return Ok(Arc::clone(catalog));
        }
        let catalog = Arc::new(Catalog::new(self.definitions.load().await?));
        *cached = Some((Instant::now(), Arc::clone(&catalog)));
        Ok(catalog)
    }

    /// Handles one SNS event: every record independently, every route of this kind.
    ///
    /// Returns `Err` only while a retryable failure remains (Lambda then retries the invocation;
    /// delivered routes are skipped by their record); bad records are logged and counted.
    /// `deadline` is the invocation's deadline; no retry wait goes past it minus the safety margin.
    pub async fn handle_event(
        &self,
        event: &serde_json::Value,
        deadline: Instant,
    ) -> Result<EventReport, HandlerError> {
        let deadline = deadline
            .checked_sub(self.settings.safety_margin)
            .unwrap_or(deadline);
        let mut report = EventReport::default();
        let mut pending = Vec::new();
        let records = match event.get("Records").or_else(|| event.get("records")) {
            Some(serde_json::Value::Array(records)) => records.as_slice(),
            _ => {
                error!(reason = "the event has no `Records` list", "rejected event");
                report.rejected = 1;
                return Ok(report);
            }
        };
        report.records = records.len();
        for (index, record) in records.iter().enumerate() {
            let message_id = record
                .pointer("/Sns/MessageId")
                .and_then(serde_json::Value::as_str)
                .unwrap_or("")
                .to_owned();
            let span =
                info_span!("record", index, sns_message_id = %message_id, alert_id = tracing::field::Empty);
            let alert = match alert_from_record(record) {
                Ok(alert) => alert,
                Err(reason) => {
                    let _entered = span.enter();
                    error!(index, sns_message_id = %message_id, %reason, "rejected record");
                    report.rejected += 1;
                    continue;
                }
            };
            span.record("alert_id", alert.alert.alert_guid.as_str());
            let catalog = match self.catalog().instrument(span.clone()).await {
                Ok(catalog) => catalog,
                Err(store_error) => {
                    let _entered = span.enter();
                    error!(error = %store_error, "cannot load definitions");
                    return Err(HandlerError::Definitions {
                        reason: store_error.to_string(),
                        report,
                    });
                }
            };
            let routes = catalog.routes(&alert, N::KIND);
            if routes.is_empty() {
                let _entered = span.enter();
                info!("no route of this kind");
            }
            // Routes go to different targets: deliver them concurrently, so that one slow or
            // throttling target does not hold back the others. Steps within a route stay in order.
            // A fan-out to many routes works on `max_concurrent_sends` of them at a time, so that
            // its memory stays bounded: a route in progress holds its resolved variables, built
            // messages and request summary, its delivery-log calls and a connection (≈ 50 KB for
            // an e-mail route; a window of 4 × 64 routes kept 1,000-route fan-outs over 30 MB,
            // BENCHMARKS.md). A route waiting out a retry's backoff keeps its place in the window.
            report.routes += routes.len();
            let window = self.settings.max_concurrent_sends.max(1);
            // A route's future is created only when it enters the window: the futures of a
            // 1,000-route fan-out made up front took ~18 MB before the first was polled
            // (BENCHMARKS.md, peak RSS). A plain loop rather than `stream::iter(..).map(..)
            // .buffer_unordered(..)`: that closure kept in the stream makes the event's future lose
            // `Send` (a higher-ranked lifetime rustc cannot prove).
            let mut waiting = routes.iter().enumerate();
            let mut running = futures_util::stream::FuturesUnordered::new();
            let mut outcomes: Vec<(usize, RouteOutcome)> = Vec::with_capacity(routes.len());
            loop {
                while running.len() < window {
                    let Some((index, route)) = waiting.next() else {
                        break;
                    };
                    let route_span =
                        info_span!(parent: &span, "route", integration_id = %route.integration.id);
                    let delivery = self.deliver_route(route, &alert, deadline).instrument(route_span);
                    // Boxed: the set's task node outlives the future while a waker clone is
                    // held elsewhere (an idle pooled connection keeps the last one it was given),
                    // so the node should hold a pointer, not the whole route's state machine.
                    running.push(Box::pin(async move { (index, delivery.await) }));
                }
                match running.next().await {
                    Some(outcome) => outcomes.push(outcome),
                    None => break,
                }
            }
            outcomes.sort_by_key(|(index, _)| *index);
            let outcomes = outcomes.into_iter().map(|(_, outcome)| outcome);
            for (route, outcome) in routes.iter().zip(outcomes) {
                let failure = match outcome {
                    RouteOutcome::Delivered => {
                        report.delivered += 1;
                        None
                    }
                    RouteOutcome::Skipped => {
                        report.skipped += 1;
                        None
                    }
                    RouteOutcome::Failed(failure) => {
                        report.failed += 1;
                        failure.map(|failure| (failure, FailureOutcome::Permanent))
                    }
                    RouteOutcome::Retryable(pending_route, failure) => {
                        report.retryable += 1;
                        pending.push(pending_route);
                        failure.map(|failure| (failure, FailureOutcome::Retryable))
                    }
                };
                if let Some((failure, outcome)) = failure {
                    let route_span =
                        info_span!(parent: &span, "route", integration_id = %route.integration.id);
                    if self
                        .report_failure(&catalog, route, &alert, &failure, outcome)
                        .instrument(route_span)
                        .await
                    {
                        report.notices += 1;
                    }
                }
            }
        }
        if pending.is_empty() {
            info!(?report, "event handled");
            Ok(report)
        } else {
            warn!(?report, "event left retryable routes");
            Err(HandlerError::Retryable {
                routes: pending,
                report,
            })
        }
    }

    async fn deliver_route(&self, route: &Route<'_>, alert: &Alert, deadline: Instant) -> RouteOutcome {
        let alert_id = alert.alert.alert_guid.clone();
        let integration_id = route.integration.id.clone();
        let now = Utc::now();
        let Prepared { variables, messages } =
            match prepare(&self.notifier, route, alert, &self.secrets, &self.engine, now).await {
                Ok(prepared) => prepared,
                Err((variables, failure)) => {
                    let reason = variables.redact(&failure.to_string());
                    let failed = RouteFailure {
                        step: None,
                        reason: reason.clone(),
                        attempts: 0,
                    };
                    if failure.is_retryable() {
                        warn!(%reason, "route preparation failed, will retry");
                        let pending = PendingRoute {
                            alert_id,
                            integration_id,
                            step: None,
                            reason,
                        };
                        return RouteOutcome::Retryable(pending, Some(failed));
                    }
                    error!(%reason, "route failed permanently");
                    return RouteOutcome::Failed(Some(failed));
                }
            };
        let mut sent_any = false;
        for outgoing in &messages {
            // An alert that reaches one integration through two alert definitions is two deliveries,
            // as in the product we replace (each definition produces its own alert): the key's step
            // is scoped by the definition.
            let key = DeliveryKey {
                alert_id: alert_id.clone(),
                integration_id: integration_id.clone(),
                step: format!("{}/{}", route.definition.id, outgoing.step),
            };
            let step_span = info_span!("step", step = %outgoing.step);
            let result = self
                .deliver_step(&key, outgoing, &variables, deadline)
                .instrument(step_span)
                .await;
            let failure = |reason: &str, attempts: u32| RouteFailure {
                step: Some(key.step.clone()),
                reason: reason.to_owned(),
                attempts,
            };
            match result {
                StepOutcome::Delivered => sent_any = true,
                StepOutcome::AlreadyDelivered => {}
                // Later steps depend on earlier ones (the product's step semantics): stop here.
                StepOutcome::AlreadyFailed => return RouteOutcome::Failed(None),
                StepOutcome::Failed { reason, attempts } => {
                    return RouteOutcome::Failed(Some(failure(&reason, attempts)));
                }
                StepOutcome::Retryable { reason, attempts } => {
                    let failed = attempts.map(|attempts| failure(&reason, attempts));
                    let pending = PendingRoute {
                        alert_id,
                        integration_id,
                        step: Some(key.step.clone()),
                        reason,
                    };
                    return RouteOutcome::Retryable(pending, failed);
                }
            }
        }
        if messages.is_empty() {
            info!("the route has nothing to send");
        }
        if sent_any {
            RouteOutcome::Delivered
        } else {
            RouteOutcome::Skipped
        }
    }

    async fn deliver_step(
        &self,
        key: &DeliveryKey,
        outgoing: &Outgoing<N::Message>,
        variables: &Variables,
        deadline: Instant,
    ) -> StepOutcome {
        if Instant::now() >= deadline {
            return StepOutcome::Retryable {
                reason: "the invocation deadline was reached before sending".to_owned(),
                attempts: None,
            };
        }
        let claim = match self.deliveries.claim(key).await {
            Ok(ClaimOutcome::Claimed(claim)) => claim,
            Ok(ClaimOutcome::AlreadyDelivered) => {
                info!("already delivered, skipped");
                return StepOutcome::AlreadyDelivered;
            }
            Ok(ClaimOutcome::AlreadyFailed) => {
                info!("failed permanently earlier, not sent again");
                return StepOutcome::AlreadyFailed;
            }
            Ok(ClaimOutcome::InFlight) => {
                warn!("another invocation is sending this message");
                return StepOutcome::Retryable {
                    reason: "another invocation holds the delivery claim".to_owned(),
                    attempts: None,
                };
            }
            Err(log_error) => {
                // Without a claim there is no idempotency: do not send, let Lambda retry.
                let reason = variables.redact(&log_error.to_string());
                error!(%reason, "cannot claim the delivery");
                return StepOutcome::Retryable {
                    reason,
                    attempts: None,
                };
            }
        };
        // Redact the values before serialising them, so that a secret is found as the template
        // wrote it and not only as JSON escapes it; credentials headers are never kept at all.
        let description = mask_credentials(self.notifier.describe(&outgoing.message));
        let request_summary = serde_json::to_string(&redact_json(variables, description)).unwrap_or_default();
        let mut previous_attempts = claim.previous_attempts;
        if claim.taken_over {
            // The invocation that held the claim stopped before recording an outcome: its attempt
            // may or may not have reached the target. Say so in the history, then try again.
            previous_attempts += 1;
            warn!(
                attempt = previous_attempts,
                "took over an expired claim: the previous attempt ended without an outcome"
            );
            let record = DeliveryRecord {
                key: key.clone(),
                attempt: previous_attempts,
                time: Utc::now(),
                outcome: AttemptOutcome::Retryable,
                http_status: None,
                latency_ms: 0,
                error: Some(TAKEN_OVER.to_owned()),
                request: request_summary.clone(),
                response: String::new(),
            };
            if let Err(log_error) = self.deliveries.record_attempt(&record).await {
                warn!(error = %variables.redact(&log_error.to_string()), "cannot record the lost attempt");
            }
        }
        let mut attempt_in_invocation = 0;
        loop {
            attempt_in_invocation += 1;
            let attempt = previous_attempts + attempt_in_invocation;
            let mut started = Instant::now();
            let mut time = Utc::now();
            let remaining = deadline.saturating_duration_since(started);
            let send = async {
                // At most `max_concurrent_sends` messages on the wire at once, whatever the fan-out:
                // Lambda gives a function 1,024 file descriptors, and each send in flight holds a
                // connection and its buffers. A retry's backoff holds no permit.
                let _permit = self.sends.acquire().await.ok();
                started = Instant::now();
                time = Utc::now();
                self.notifier.send(&outgoing.message).await
            };
            let result = match tokio::time::timeout(remaining, send).await {
                Ok(result) => result,
                Err(_) => Err(NotifyError::retryable(
                    "the invocation deadline was reached while sending",
                )),
            };
            let latency_ms = started.elapsed().as_millis() as u64;
            let (outcome, http_status, error_text, response) = match &result {
                Ok(sent) => (
                    AttemptOutcome::Delivered,
                    sent.status,
                    None,
                    variables.redact(&sent.response),
                ),
                Err(failure) => (
                    if failure.is_retryable() {
                        AttemptOutcome::Retryable
                    } else {
                        AttemptOutcome::Permanent
                    },
                    failure.status(),
                    Some(variables.redact(&failure.to_string())),
                    String::new(),
                ),
            };
            let record = DeliveryRecord {
                key: key.clone(),
                attempt,
                time,
                outcome,
                http_status,
                latency_ms,
                error: error_text.clone(),
                request: request_summary.clone(),
                response,
            };
            if let Err(log_error) = self.deliveries.record_attempt(&record).await {
                warn!(error = %variables.redact(&log_error.to_string()), "cannot record the attempt");
            }
            let reason = error_text.unwrap_or_default();
            match result {
                Ok(sent) => {
                    info!(attempt, status = ?sent.status, latency_ms, "delivered");
                    // The target's id is its own text: a target may echo a secret even there.
                    let finish = Finish::Delivered {
                        external_id: sent.external_id.map(|id| variables.redact(&id)),
                    };
                    if let Err(log_error) = self.finish(&claim, &finish, deadline).await {
                        error!(error = %variables.redact(&log_error.to_string()), "cannot record the delivery");
                    }
                    return StepOutcome::Delivered;
                }
                Err(failure) if !failure.is_retryable() => {
                    error!(attempt, status = ?failure.status(), %reason, "failed permanently");
                    let finish = Finish::FailedPermanently {
                        error: truncate_utf8(&reason, 1024),
                    };
                    if let Err(log_error) = self.finish(&claim, &finish, deadline).await {
                        error!(error = %variables.redact(&log_error.to_string()), "cannot record the failure");
                    }
                    return StepOutcome::Failed {
                        reason,
                        attempts: attempt,
                    };
                }
                Err(failure) => {
                    let wait = self.backoff(attempt_in_invocation, &failure);
                    let out_of_attempts = attempt_in_invocation >= self.settings.max_attempts;
                    let out_of_time = Instant::now()
                        .checked_add(wait.saturating_add(self.settings.min_attempt_time))
                        .is_none_or(|earliest_end| earliest_end > deadline);
                    if out_of_attempts || out_of_time {
                        let why = if out_of_attempts {
                            "attempts exhausted"
                        } else {
                            "no time left to retry"
                        };
                        warn!(attempt, status = ?failure.status(), %reason, why, "released for a later retry");
                        let finish = Finish::ReleasedForRetry {
                            error: truncate_utf8(&reason, 1024),
                        };
                        if let Err(log_error) = self.finish(&claim, &finish, deadline).await {
                            error!(error = %variables.redact(&log_error.to_string()), "cannot release the claim");
                        }
                        return StepOutcome::Retryable {
                            reason: format!("{reason} ({why})"),
                            attempts: Some(attempt),
                        };
                    }
                    warn!(attempt, status = ?failure.status(), %reason, wait_ms = wait.as_millis() as u64, "retrying");
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }

    /// Reports a route that failed in this invocation: one metric line, and a notice to the
    /// integration's fallback when the failure is permanent or has lasted
    /// [`Settings::fallback_after_attempts`] attempts, at most once per route and
    /// [`Settings::notice_interval`]. Never about a notice itself. True when a notice was published.
    async fn report_failure(
        &self,
        catalog: &Catalog,
        route: &Route<'_>,
        alert: &Alert,
        failure: &RouteFailure,
        outcome: FailureOutcome,
    ) -> bool {
        let failed = FailedRoute {
            kind: N::KIND,
            integration: &route.integration.id,
            alert_id: &alert.alert.alert_guid,
            step: failure.step.as_deref(),
            attempts: failure.attempts,
            outcome,
            reason: &failure.reason,
        };
        self.metrics.emit(failure_line(
            &self.metrics_namespace,
            &failed,
            Utc::now().timestamp_millis(),
        ));
        if alert.deliver_to.is_some() {
            return false;
        }
        let Some(fallback) = catalog.fallback_of(&route.integration.id) else {
            return false;
        };
        let due =
            outcome == FailureOutcome::Permanent || failure.attempts >= self.settings.fallback_after_attempts;
        if !due {
            return false;
        }
        let Some(publisher) = &self.notices else {
            warn!(fallback = %fallback.id, "no TOCSIN_TOPIC_ARN: the fallback integration cannot be told");
            return false;
        };
        let key = NoticeKey {
            integration_id: route.integration.id.clone(),
            definition_id: route.definition.id.clone(),
        };
        let claim = match self
            .deliveries
            .claim_notice(&key, self.settings.notice_interval)
            .await
        {
            Ok(Some(claim)) => claim,
            Ok(None) => {
                info!(fallback = %fallback.id, "a delivery-failure notice for this route was sent within the interval");
                return false;
            }
            Err(log_error) => {
                warn!(error = %log_error, "cannot claim the delivery-failure notice");
                return false;
            }
        };
        let notice = failure_notice(
            &FailedDelivery {
                kind: N::KIND,
                alert,
                route,
                step: failure.step.as_deref(),
                attempts: failure.attempts,
                outcome,
                reason: &failure.reason,
            },
            fallback,
            Utc::now(),
        );
        match publisher.publish(&notice).await {
            Ok(()) => {
                info!(fallback = %fallback.id, notice_id = %notice.alert.alert_guid, "delivery-failure notice published");
                true
            }
            Err(reason) => {
                warn!(fallback = %fallback.id, %reason, "cannot publish the delivery-failure notice");
                if let Err(log_error) = self.deliveries.release_notice(&claim).await {
                    warn!(error = %log_error, "cannot release the delivery-failure notice");
                }
                false
            }
        }
    }

    /// Ends a claim, trying again while the delivery log is unreachable, until the invocation's own
    /// deadline (`deadline` is the sending deadline; the safety margin after it exists for this).
    ///
    /// A delivered message whose claim is not marked delivered would be sent again by a later copy
    /// of the event once the claim expires: recording the outcome is worth the rest of the
    /// invocation. A claim taken over meanwhile is not retried (the other invocation owns it now).
    async fn finish(
        &self,
        claim: &crate::deliveries::Claim,
        finish: &Finish,
        deadline: Instant,
    ) -> Result<(), crate::deliveries::DeliveryLogError> {
        let last_chance = (deadline + self.settings.safety_margin)
            .checked_sub(Duration::from_millis(100))
            .unwrap_or(deadline);
        let mut wait = Duration::from_millis(100);
        loop {
            match self.deliveries.finish(claim, finish).await {
                Ok(()) => return Ok(()),
                Err(error @ crate::deliveries::DeliveryLogError::ClaimLost(_)) => return Err(error),
                Err(error) => {
                    if Instant::now() + wait >= last_chance {
                        return Err(error);
                    }
                    warn!(error = %error, wait_ms = wait.as_millis() as u64, "cannot end the claim yet, trying again");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(Duration::from_secs(2));
                }
            }
        }
    }

    /// Full-jitter exponential backoff, never shorter than the target's `Retry-After`.
    fn backoff(&self, attempt: u32, failure: &NotifyError) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let ceiling = self
            .settings
            .backoff_base
            .saturating_mul(1 << exponent)
            .min(self.settings.backoff_cap);
        let jitter = Duration::from_nanos(fastrand::u64(0..=ceiling.as_nanos() as u64));
        match failure {
            NotifyError::Retryable {
                retry_after: Some(retry_after),
                ..
            } => jitter.max(*retry_after),
            _ => jitter,
        }
    }
}

enum StepOutcome {
    Delivered,
    AlreadyDelivered,
    /// Failed permanently in an earlier invocation.
    AlreadyFailed,
    /// Failed permanently now.
    Failed {
        reason: String,
        attempts: u32,
    },
    /// Left for a retry; `attempts` (over every invocation) when the target was tried and failed.
    Retryable {
        reason: String,
        attempts: Option<u32>,
    },
}

/// The error of the attempt record written for a claim taken over from a stopped invocation.
pub const TAKEN_OVER: &str = "the previous attempt ended without an outcome (the invocation holding \
the claim stopped mid-delivery); its claim expired and was taken over";

/// Reads one SNS record tolerantly and normalises its message (also used by `tocsin render` for
/// SNS event files). The error is the reason, for the log; it holds no message content.
pub fn alert_from_record(record: &serde_json::Value) -> Result<Alert, String> {
    if !record.is_object() {
        return Err("the record is not an object".to_owned());
    }
    let record: SnsRecord = serde_json::from_value(record.clone())
        .map_err(|e| format!("the record is not an sns record: {e}"))?;
    let sns = record.sns;
    let message_id = sns
        .message_id
        .filter(|id| !id.trim().is_empty())
        .ok_or("the record has no `Sns.MessageId`")?;
    let message = match sns.message {
        Some(serde_json::Value::String(text)) => text,
        Some(serde_json::Value::Null) | None => return Err("the record has no `Sns.Message`".to_owned()),
        // Not what SNS sends, but a JSON document in place of its string form is unambiguous.
        Some(other) => other.to_string(),
    };
    let attributes: BTreeMap<String, String> = sns
        .message_attributes
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, attribute)| {
            attribute
                .kind
                .as_deref()
                .is_none_or(|kind| kind == "String" || kind == "Number")
        })
        .filter_map(|(name, attribute)| match attribute.value {
            Some(serde_json::Value::String(text)) => Some((name, text)),
            Some(serde_json::Value::Number(number)) => Some((name, number.to_string())),
            _ => None,
        })
        .collect();
    let input = InboundMessage {
        message: &message,
        subject: sns.subject.as_deref(),
        message_id: &message_id,
        timestamp: sns.timestamp.as_deref(),
        attributes: &attributes,
    };
    let mut alert = normalize(&input)
        .map_err(|e| format!("cannot read the message: {e}"))?
        .alert;
    if alert.alert.alert_guid.trim().is_empty() {
        // The idempotency key must be stable across redeliveries: the SNS message id is.
        alert.alert.alert_guid = message_id;
    }
    Ok(alert)
}

/// The alert as the route sees it, its variables and its built messages.
async fn prepare<N: Notifier, S: Secrets>(
    notifier: &N,
    route: &Route<'_>,
    alert: &Alert,
    secrets: &S,
    engine: &Engine,
    now: DateTime<Utc>,
) -> Result<Prepared<N::Message>, (Variables, NotifyError)> {
    let mut alert = alert.clone();
    alert.alert_definition.guid = route.definition.id.clone();
    alert.alert_definition.name = route.definition.name.clone();
    alert.escalation_level.message = route.level.message.clone();
    let variables = resolve_variables(route, secrets).await?;
    let target = notifier
        .target(route.integration)
        .map_err(|e| (variables.clone(), e))?;
    let context = RouteContext {
        alert: &alert,
        integration: route.integration,
        attachment: route.attachment,
        level: route.level,
        recipients: route.recipients.clone(),
        variables: &variables,
        now,
        engine,
    };
    let messages = notifier
        .build(&context, &target)
        .map_err(|e| (variables.clone(), e))?;
    Ok(Prepared { variables, messages })
}

/// Fixed values, per-level values (attachment, else default) and secrets.
async fn resolve_variables<S: Secrets>(
    route: &Route<'_>,
    secrets: &S,
) -> Result<Variables, (Variables, NotifyError)> {
    let mut variables = Variables::default();
    for (name, definition) in &route.integration.variables {
        match definition {
            VariableDef::Fixed(value) => variables.insert(name.clone(), value.clone()),
            VariableDef::PerLevel { default, .. } => {
                match route.attachment.variables.get(name).or(default.as_ref()) {
                    Some(value) => variables.insert(name.clone(), value.clone()),
                    None => {
                        let reason = format!(
                            "variable `{name}` has no value on escalation level {} and no default",
                            route.level.id
                        );
                        return Err((variables, NotifyError::permanent(reason)));
                    }
                }
            }
            VariableDef::Secret { secret } => match secrets.resolve(secret).await {
                Ok(value) if secrets.are_secret() => {
                    variables.insert_secret(name.clone(), value.into_inner())
                }
                Ok(value) => variables.insert(name.clone(), value.into_inner()),
                Err(failure) => return Err((variables, failure)),
            },
        }
    }
    Ok(variables)
}

/// Replaces the value of credentials headers (`Authorization`, `Proxy-Authorization`) in a
/// described HTTP request with its scheme and `[redacted]`: Basic credentials are base64 of
/// `user:password`, which no search for the password's own text can find.
fn mask_credentials(mut description: serde_json::Value) -> serde_json::Value {
    if let Some(serde_json::Value::Object(headers)) = description.pointer_mut("/request/headers") {
        for (name, value) in headers.iter_mut() {
            let is_credential = name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("proxy-authorization");
            if let (true, Some(text)) = (is_credential, value.as_str()) {
                let scheme = text.split_whitespace().next().filter(|word| text.trim() != *word);
                *value = serde_json::Value::String(match scheme {
                    Some(scheme) => format!("{scheme} [redacted]"),
                    None => "[redacted]".to_owned(),
                });
            }
        }
    }
    description
}

fn redact_json(variables: &Variables, value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::String(text) => serde_json::Value::String(variables.redact(&text)),
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .into_iter()
                .map(|item| redact_json(variables, item))
                .collect(),
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(key, item)| (variables.redact(&key), redact_json(variables, item)))
                .collect(),
        ),
        other => other,
    }
}
