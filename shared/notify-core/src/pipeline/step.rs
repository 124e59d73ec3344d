//! One message of a route: claimed, sent with retries, every attempt recorded, the claim ended.

use std::time::{Duration, Instant};

use chrono::Utc;
use definition_store::{DefinitionSource, Route};
use tracing::{Instrument, error, info, info_span, warn};

use super::{
    Pipeline,
    failure::{RouteFailure, RouteOutcome},
    retry::{Decision, decide},
    route::{Preparation, Prepared, prepare, rebuild},
};
use crate::{
    Notifier, NotifyError, Outgoing, Sent, Variables,
    deliveries::{
        AttemptOutcome, Claim, ClaimOutcome, DeliveryKey, DeliveryLog, DeliveryRecord, Finish, IncidentKey,
        Kept,
    },
    http::truncate_utf8,
    metrics::FailureOutcome,
    secret::Secrets,
};

/// The error of the attempt record written for a claim taken over from a stopped invocation.
pub const TAKEN_OVER: &str = "the previous attempt ended without an outcome (the invocation holding \
the claim stopped mid-delivery); its claim expired and was taken over";

/// How one step ended.
pub(crate) enum StepOutcome {
    /// Sent now; what the target reported to keep for the incident, and the values the step
    /// extracted for the later steps.
    Delivered {
        incident: Option<serde_json::Value>,
        extracted: Variables,
    },
    /// Delivered by an earlier invocation; what it kept for the later steps.
    AlreadyDelivered(Kept),
    /// Failed permanently in an earlier invocation.
    AlreadyFailed,
    /// Failed permanently now.
    Failed { reason: String, attempts: u32 },
    /// Left for a retry; `attempts` (over every invocation) when the target was tried and failed.
    Retryable { reason: String, attempts: Option<u32> },
}

impl StepOutcome {
    fn retryable(reason: impl Into<String>) -> Self {
        StepOutcome::Retryable {
            reason: reason.into(),
            attempts: None,
        }
    }
}

/// The worse of two failed outcomes of a route: a retryable one (Lambda retries, delivered messages
/// are skipped), else the first.
fn worse(kept: Option<RouteOutcome>, new: RouteOutcome) -> RouteOutcome {
    match (kept, new) {
        (Some(kept @ RouteOutcome::Retryable { .. }), _) => kept,
        (_, new @ RouteOutcome::Retryable { .. }) => new,
        (Some(kept), _) => kept,
        (None, new) => new,
    }
}

/// A failed attempt, for [`Pipeline::after_failure`].
struct Failed<'a> {
    claim: &'a Claim,
    attempt: u32,
    failure: &'a NotifyError,
    variables: &'a Variables,
    deadline: Instant,
    /// An optional step: given up (settled as failed) instead of released for a retry.
    optional: bool,
}

/// One attempt's result and when it happened.
struct Attempt {
    result: Result<Sent, NotifyError>,
    time: chrono::DateTime<Utc>,
    latency_ms: u64,
}

/// What stays the same for every step of one route.
struct RouteWork<'a, 'r> {
    route: &'a Route<'r>,
    alert: &'a alert_model::Alert,
    now: chrono::DateTime<Utc>,
    deadline: Instant,
}

impl RouteWork<'_, '_> {
    fn failure(
        &self,
        kind: alert_model::IntegrationKind,
        step: Option<String>,
        reason: String,
        attempts: u32,
        outcome: FailureOutcome,
    ) -> RouteFailure {
        RouteFailure {
            kind,
            alert_id: self.alert.alert.alert_guid.clone(),
            integration_id: self.route.integration.id.clone(),
            step,
            reason,
            attempts,
            outcome,
        }
    }

    /// The delivery key of `step`: an alert that reaches one integration through two alert
    /// definitions is two deliveries, as in the product we replace, so the step is scoped by the
    /// definition.
    fn key(&self, step: &str) -> DeliveryKey {
        DeliveryKey {
            alert_id: self.alert.alert.alert_guid.clone(),
            integration_id: self.route.integration.id.clone(),
            step: format!("{}/{step}", self.route.definition.id),
        }
    }
}

/// Where a route's delivery stands.
#[derive(Default)]
struct RouteRun {
    sent_any: bool,
    /// With independent messages, the worst failure so far.
    failed: Option<RouteOutcome>,
    /// Delivered steps whose extracted values were withheld from the log (secrets): sent again
    /// before a later step is sent, which may need them.
    refetch: Vec<usize>,
    /// The incident's state, when the kind keeps one.
    incident: Option<serde_json::Value>,
}

impl<N, D, S, L> Pipeline<N, D, S, L>
where
    N: Notifier,
    D: DefinitionSource,
    S: Secrets,
    L: DeliveryLog,
{
    /// Delivers every message of one route, in order; a failed step stops the route (later steps
    /// depend on earlier ones, as in the product's step semantics) unless it is optional or the
    /// kind's messages are independent. A step that extracted values has the later messages built
    /// again with them.
    pub(crate) async fn deliver_route(
        &self,
        route: &Route<'_>,
        alert: &alert_model::Alert,
        deadline: Instant,
    ) -> RouteOutcome {
        let work = RouteWork {
            route,
            alert,
            now: Utc::now(),
            deadline,
        };
        let incident_key = IncidentKey {
            integration_id: route.integration.id.clone(),
            incident_key: alert.incident.key.clone(),
        };
        let mut run = RouteRun::default();
        match self.incident_state(&incident_key).await {
            Ok(state) => run.incident = state,
            Err(reason) => {
                let failed = work.failure(N::KIND, None, reason, 0, FailureOutcome::Retryable);
                return RouteOutcome::Retryable {
                    failure: failed,
                    reported: true,
                };
            }
        }
        let mut prepared = match self.prepare_route(&work, run.incident.as_ref()).await {
            Ok(prepared) => prepared,
            Err(outcome) => return outcome,
        };
        for index in 0..prepared.messages.len() {
            let Some(ended) = self
                .route_step(&work, &incident_key, &mut prepared, index, &mut run)
                .await
            else {
                continue;
            };
            if !N::INDEPENDENT_STEPS {
                return ended;
            }
            run.failed = Some(worse(run.failed.take(), ended));
        }
        if let Some(failed) = run.failed {
            return failed;
        }
        if prepared.messages.is_empty() {
            info!("the route has nothing to send");
        }
        if run.sent_any {
            RouteOutcome::Delivered
        } else {
            RouteOutcome::Skipped
        }
    }

    /// The route's variables and messages, or how the route ends when they cannot be had.
    async fn prepare_route(
        &self,
        work: &RouteWork<'_, '_>,
        incident: Option<&serde_json::Value>,
    ) -> Result<Prepared<N::Message>, RouteOutcome> {
        let input = self.preparation(work, incident);
        prepare(&self.notifier, work.route, &input)
            .await
            .map_err(|(variables, failure_error)| self.unprepared(work, &variables, &failure_error))
    }

    fn preparation<'a>(
        &'a self,
        work: &RouteWork<'a, '_>,
        incident: Option<&'a serde_json::Value>,
    ) -> Preparation<'a, S> {
        Preparation {
            alert: work.alert,
            secrets: &self.secrets,
            engine: &self.engine,
            now: work.now,
            incident,
        }
    }

    /// How a route ends whose messages could not be built.
    fn unprepared(
        &self,
        work: &RouteWork<'_, '_>,
        variables: &Variables,
        failure_error: &NotifyError,
    ) -> RouteOutcome {
        let reason = variables.redact(&failure_error.to_string());
        if failure_error.is_retryable() {
            warn!(%reason, "route preparation failed, will retry");
            let failed = work.failure(N::KIND, None, reason, 0, FailureOutcome::Retryable);
            RouteOutcome::Retryable {
                failure: failed,
                reported: true,
            }
        } else {
            error!(%reason, "route failed permanently");
            RouteOutcome::Failed(Some(work.failure(
                N::KIND,
                None,
                reason,
                0,
                FailureOutcome::Permanent,
            )))
        }
    }

    /// Delivers message `index` of the route; how the route ends when it ends there.
    async fn route_step(
        &self,
        work: &RouteWork<'_, '_>,
        incident_key: &IncidentKey,
        prepared: &mut Prepared<N::Message>,
        index: usize,
        run: &mut RouteRun,
    ) -> Option<RouteOutcome> {
        let step = prepared.messages.get(index)?.step.clone();
        let key = work.key(&step);
        let span = info_span!("step", step = %step);
        async {
            let outcome = self.deliver_step(work, &key, prepared, index, run).await;
            let optional = self.notifier.is_optional(&prepared.messages.get(index)?.message);
            let step = Some(key.step.clone());
            match outcome {
                StepOutcome::Delivered { incident, extracted } => {
                    run.sent_any = true;
                    if let Some(update) = incident {
                        run.incident = Some(
                            self.keep_incident_state(incident_key, run.incident.as_ref(), update)
                                .await,
                        );
                    }
                    self.take_extracted(work, prepared, run, &extracted).await
                }
                StepOutcome::AlreadyDelivered(kept) => {
                    if !kept.withheld.is_empty() {
                        run.refetch.push(index);
                    }
                    let mut extracted = Variables::default();
                    for (name, value) in kept.extracted {
                        extracted.insert(name, value);
                    }
                    self.take_extracted(work, prepared, run, &extracted).await
                }
                StepOutcome::AlreadyFailed | StepOutcome::Failed { .. } if optional => {
                    warn!("the optional step failed; the message goes on");
                    None
                }
                StepOutcome::AlreadyFailed => Some(RouteOutcome::Failed(None)),
                StepOutcome::Failed { reason, attempts } => Some(RouteOutcome::Failed(Some(work.failure(
                    N::KIND,
                    step,
                    reason,
                    attempts,
                    FailureOutcome::Permanent,
                )))),
                StepOutcome::Retryable { reason, attempts } => Some(RouteOutcome::Retryable {
                    failure: work.failure(
                        N::KIND,
                        step,
                        reason,
                        attempts.unwrap_or(0),
                        FailureOutcome::Retryable,
                    ),
                    reported: attempts.is_some(),
                }),
            }
        }
        .instrument(span)
        .await
    }

    /// Builds the later messages again with the values a step extracted; a build that fails ends
    /// the route permanently.
    async fn take_extracted(
        &self,
        work: &RouteWork<'_, '_>,
        prepared: &mut Prepared<N::Message>,
        run: &RouteRun,
        extracted: &Variables,
    ) -> Option<RouteOutcome> {
        if extracted.is_empty() {
            return None;
        }
        let input = self.preparation(work, run.incident.as_ref());
        let rebuilt = rebuild(&self.notifier, work.route, &input, prepared, extracted).await;
        let failure_error = rebuilt.err()?;
        Some(self.unprepared(work, &prepared.variables, &failure_error))
    }

    /// The state kept for the incident, when the kind keeps one; the error (redacted by nature: ids
    /// only) leaves the route for a retry, since building without it could open a second incident.
    async fn incident_state(&self, key: &IncidentKey) -> Result<Option<serde_json::Value>, String> {
        if !N::INCIDENT_STATE {
            return Ok(None);
        }
        self.deliveries.incident_state(key).await.map_err(|error| {
            warn!(%error, "cannot read the incident's state");
            format!("cannot read the incident's state: {error}")
        })
    }

    /// Keeps what a send reported for the incident, merged over what was kept; a failure to keep it
    /// is logged (the message was delivered; a later message of the incident may then not find it).
    async fn keep_incident_state(
        &self,
        key: &IncidentKey,
        kept: Option<&serde_json::Value>,
        update: serde_json::Value,
    ) -> serde_json::Value {
        let merged = crate::deliveries::merge_state(kept, update);
        if let Err(error) = self.deliveries.save_incident_state(key, &merged).await {
            error!(%error, "cannot keep the incident's state");
        }
        merged
    }

    /// Claims message `index`, sends again the earlier steps whose withheld values it may need,
    /// then sends it until it is delivered, fails permanently, or is left for a later invocation.
    async fn deliver_step(
        &self,
        work: &RouteWork<'_, '_>,
        key: &DeliveryKey,
        prepared: &mut Prepared<N::Message>,
        index: usize,
        run: &mut RouteRun,
    ) -> StepOutcome {
        if Instant::now() >= work.deadline {
            return StepOutcome::retryable("the invocation deadline was reached before sending");
        }
        let claim = match self.claim_step(key, &prepared.variables).await {
            Ok(claim) => claim,
            Err(outcome) => return outcome,
        };
        if !run.refetch.is_empty()
            && let Err(reason) = self.refetch(work, prepared, run).await
        {
            let finish = Finish::ReleasedForRetry {
                error: truncate_utf8(&reason, 1024),
            };
            self.finish_logged(&claim, &finish, &prepared.variables, work.deadline)
                .await;
            return StepOutcome::retryable(reason);
        }
        let (Some(outgoing), Some(shown)) = (prepared.messages.get(index), prepared.shown.get(index)) else {
            return StepOutcome::retryable("the route's messages changed while it was delivered");
        };
        self.send_claimed(claim, outgoing, shown, &prepared.variables, work.deadline)
            .await
    }

    /// Sends again the delivered steps whose extracted values were withheld from the delivery log
    /// (secrets, such as a token), for the step about to be sent; each send is recorded as an
    /// attempt of its step. The error is the redacted reason.
    async fn refetch(
        &self,
        work: &RouteWork<'_, '_>,
        prepared: &mut Prepared<N::Message>,
        run: &mut RouteRun,
    ) -> Result<(), String> {
        for index in std::mem::take(&mut run.refetch) {
            let Some(outgoing) = prepared.messages.get(index) else {
                continue;
            };
            let key = work.key(&outgoing.step);
            let previous = self
                .deliveries
                .states(&key.alert_id)
                .await
                .ok()
                .and_then(|states| states.into_iter().find(|state| state.key == key))
                .map_or(0, |state| state.attempts);
            info!(step = %outgoing.step, "sending a delivered step again for the values it extracted");
            let Some(tried) = self.send_once(&outgoing.message, work.deadline).await else {
                return Err(format!(
                    "step `{}`, to be sent again for its extracted values: less than one attempt's time was left before the invocation deadline",
                    outgoing.step
                ));
            };
            let summary =
                serde_json::to_string(prepared.shown.get(index).unwrap_or(&serde_json::Value::Null))
                    .unwrap_or_default();
            self.record(&key, previous + 1, &tried, &summary, &prepared.variables)
                .await;
            let extracted = match tried.result {
                Ok(sent) => sent.extracted,
                Err(failure) => {
                    let reason = prepared.variables.redact(&failure.to_string());
                    return Err(format!(
                        "step `{}`, sent again for its extracted values: {reason}",
                        outgoing.step
                    ));
                }
            };
            if let Some(RouteOutcome::Failed(Some(failure)) | RouteOutcome::Retryable { failure, .. }) =
                self.take_extracted(work, prepared, run, &extracted).await
            {
                return Err(failure.reason);
            }
        }
        Ok(())
    }

    /// Sends a claimed message until it is delivered, fails permanently, or is left for a later
    /// invocation.
    async fn send_claimed(
        &self,
        mut claim: Claim,
        outgoing: &Outgoing<N::Message>,
        shown: &serde_json::Value,
        variables: &Variables,
        deadline: Instant,
    ) -> StepOutcome {
        let summary = serde_json::to_string(shown).unwrap_or_default();
        let previous = self.record_takeover(&claim, &summary, variables).await;
        let optional = self.notifier.is_optional(&outgoing.message);
        let mut attempt_in_invocation = 0;
        loop {
            attempt_in_invocation += 1;
            if let Err(outcome) = self.keep_claim(&mut claim, variables).await {
                return outcome;
            }
            let attempt = previous + attempt_in_invocation;
            let Some(tried) = self.send_once(&outgoing.message, deadline).await else {
                return self
                    .release_unsent(
                        &claim,
                        attempt_in_invocation > 1,
                        attempt - 1,
                        variables,
                        deadline,
                    )
                    .await;
            };
            self.record(&claim.key, attempt, &tried, &summary, variables)
                .await;
            let failure = match tried.result {
                Ok(sent) => {
                    return self
                        .delivered(&claim, (attempt, tried.latency_ms), sent, variables, deadline)
                        .await;
                }
                Err(failure) => failure,
            };
            let decision = decide(
                &self.settings,
                attempt_in_invocation,
                &failure,
                Instant::now(),
                deadline,
                fastrand::f64(),
            );
            let failed = Failed {
                claim: &claim,
                attempt,
                failure: &failure,
                variables,
                deadline,
                optional,
            };
            if let Some(outcome) = self.after_failure(failed, decision).await {
                return outcome;
            }
        }
    }

    /// Ends the claim of a delivered message, keeping the values it extracted that may be kept.
    async fn delivered(
        &self,
        claim: &Claim,
        (attempt, latency_ms): (u32, u64),
        sent: Sent,
        variables: &Variables,
        deadline: Instant,
    ) -> StepOutcome {
        info!(attempt, status = ?sent.status, latency_ms, "delivered");
        let (extracted, withheld) = sent.extracted.keepable(variables);
        let finish = Finish::Delivered {
            external_id: sent.external_id.map(|id| variables.redact(&id)),
            kept: Kept { extracted, withheld },
        };
        self.finish_logged(claim, &finish, variables, deadline).await;
        StepOutcome::Delivered {
            incident: sent.incident,
            extracted: sent.extracted,
        }
    }

    /// Acts on the decision after a failed attempt: waits for the retry (`None`), or ends the claim
    /// as failed or released and says how the step ended.
    async fn after_failure(&self, failed: Failed<'_>, decision: Decision) -> Option<StepOutcome> {
        let Failed {
            claim,
            attempt,
            failure,
            variables,
            deadline,
            optional,
        } = failed;
        let reason = variables.redact(&failure.to_string());
        let status = failure.status();
        match decision {
            Decision::RetryAfter(wait) => {
                warn!(attempt, ?status, %reason, wait_ms = wait.as_millis() as u64, "retrying");
                tokio::time::sleep(wait).await;
                None
            }
            Decision::Release(why) if optional => {
                warn!(attempt, ?status, %reason, why, "the optional step is given up");
                let reason = format!("{reason} (optional step given up: {why})");
                let finish = Finish::FailedPermanently {
                    error: truncate_utf8(&reason, 1024),
                };
                self.finish_logged(claim, &finish, variables, deadline).await;
                Some(StepOutcome::Failed {
                    reason,
                    attempts: attempt,
                })
            }
            Decision::Permanent => {
                error!(attempt, ?status, %reason, "failed permanently");
                let finish = Finish::FailedPermanently {
                    error: truncate_utf8(&reason, 1024),
                };
                self.finish_logged(claim, &finish, variables, deadline).await;
                Some(StepOutcome::Failed {
                    reason,
                    attempts: attempt,
                })
            }
            Decision::Release(why) => {
                warn!(attempt, ?status, %reason, why, "released for a later retry");
                let finish = Finish::ReleasedForRetry {
                    error: truncate_utf8(&reason, 1024),
                };
                self.finish_logged(claim, &finish, variables, deadline).await;
                Some(StepOutcome::Retryable {
                    reason: format!("{reason} ({why})"),
                    attempts: Some(attempt),
                })
            }
        }
    }

    /// Takes the message's claim, or says why not (sent before, failed before, held elsewhere,
    /// the log unreachable: without a claim there is no idempotency, so nothing is sent).
    async fn claim_step(&self, key: &DeliveryKey, variables: &Variables) -> Result<Claim, StepOutcome> {
        match self.deliveries.claim(key).await {
            Ok(ClaimOutcome::Claimed(claim)) => Ok(claim),
            Ok(ClaimOutcome::AlreadyDelivered(kept)) => {
                info!("already delivered, skipped");
                Err(StepOutcome::AlreadyDelivered(kept))
            }
            Ok(ClaimOutcome::AlreadyFailed) => {
                info!("failed permanently earlier, not sent again");
                Err(StepOutcome::AlreadyFailed)
            }
            Ok(ClaimOutcome::InFlight) => {
                warn!("another invocation is sending this message");
                Err(StepOutcome::retryable(
                    "another invocation holds the delivery claim",
                ))
            }
            Err(log_error) => {
                let reason = variables.redact(&log_error.to_string());
                if log_error.is_permanent() {
                    // The store refuses the item itself: every retry would be refused again.
                    error!(%reason, "the delivery log refuses this message's claim");
                    return Err(StepOutcome::Failed { reason, attempts: 0 });
                }
                error!(%reason, "cannot claim the delivery");
                Err(StepOutcome::retryable(reason))
            }
        }
    }

    /// A claim must outlive the attempt about to start, or another invocation could take it over
    /// and send too: renewed when it would expire within an attempt's time and the margin; after a
    /// renewal it must at least outlive the attempt (the configuration refuses lifetimes shorter
    /// than an attempt and the margin, so this only fails when the log's clock jumps).
    async fn keep_claim(&self, claim: &mut Claim, variables: &Variables) -> Result<(), StepOutcome> {
        let holds_until =
            |claim: &Claim| Duration::from_millis(claim.expires_ms.saturating_sub(self.deliveries.now_ms()));
        if holds_until(claim) >= self.settings.attempt_time + self.settings.claim_margin {
            return Ok(());
        }
        match self.deliveries.renew(claim).await {
            Ok(()) if holds_until(claim) > self.settings.attempt_time => Ok(()),
            Ok(()) => {
                warn!(
                    "the claim lifetime is shorter than one attempt; not sent (raise TOCSIN_CLAIM_SECONDS)"
                );
                Err(StepOutcome::retryable(
                    "the claim lifetime is shorter than one attempt (TOCSIN_CLAIM_SECONDS)",
                ))
            }
            Err(log_error) => {
                let reason = variables.redact(&log_error.to_string());
                warn!(%reason, "cannot renew the claim; not sent");
                Err(StepOutcome::retryable(format!(
                    "the claim could not be renewed before the attempt: {reason}"
                )))
            }
        }
    }

    /// For a claim taken over from an invocation that stopped mid-delivery, an attempt record saying
    /// that its attempt ended without an outcome. The attempts made before this invocation.
    async fn record_takeover(&self, claim: &Claim, summary: &str, variables: &Variables) -> u32 {
        if !claim.taken_over {
            return claim.previous_attempts;
        }
        let attempt = claim.previous_attempts + 1;
        warn!(
            attempt,
            "took over an expired claim: the previous attempt ended without an outcome"
        );
        let record = DeliveryRecord {
            key: claim.key.clone(),
            attempt,
            time: Utc::now(),
            outcome: AttemptOutcome::Retryable,
            http_status: None,
            latency_ms: 0,
            error: Some(TAKEN_OVER.to_owned()),
            request: summary.to_owned(),
            response: String::new(),
        };
        if let Err(log_error) = self.deliveries.record_attempt(&record).await {
            warn!(error = %variables.redact(&log_error.to_string()), "cannot record the lost attempt");
        }
        attempt
    }

    /// One send, bounded by the invocation's deadline; at most `max_concurrent_sends` messages on
    /// the wire at once over every route (Lambda gives a function 1,024 file descriptors, and each
    /// send in flight holds a connection and its buffers). A retry's backoff holds no permit.
    ///
    /// `None` when the send was not started: less than one whole attempt's time
    /// ([`Settings::attempt_time`](super::Settings::attempt_time)) is left before the deadline once a
    /// permit is held. A send the deadline cuts may already have reached the target, which then acts
    /// on it while its answer is lost: the step stays undelivered and is sent again, a duplicate at
    /// every target without an idempotency key (Slack). So no send is started that the deadline
    /// could cut; a later invocation sends it whole.
    async fn send_once(&self, message: &N::Message, deadline: Instant) -> Option<Attempt> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        let _permit = tokio::time::timeout(remaining, self.sends.acquire())
            .await
            .ok()?
            .ok();
        let started = Instant::now();
        let remaining = deadline.saturating_duration_since(started);
        if remaining < self.settings.attempt_time {
            return None;
        }
        let time = Utc::now();
        // The HTTP timeouts end an attempt within `attempt_time`; this bound only guards a notifier
        // that ignores them.
        let result = match tokio::time::timeout(remaining, self.notifier.send(message)).await {
            Ok(result) => result,
            Err(_) => Err(NotifyError::retryable(
                "the invocation deadline was reached while sending",
            )),
        };
        Some(Attempt {
            result,
            time,
            latency_ms: started.elapsed().as_millis() as u64,
        })
    }

    /// Ends a claim whose send was not started for lack of time ([`Pipeline::send_once`]): released
    /// for a later invocation. `tried`: an earlier attempt of this invocation failed (`attempts`
    /// over every invocation).
    async fn release_unsent(
        &self,
        claim: &Claim,
        tried: bool,
        attempts: u32,
        variables: &Variables,
        deadline: Instant,
    ) -> StepOutcome {
        let reason = "not sent: less than one attempt's time was left before the invocation deadline";
        warn!(reason, "released for a later retry");
        let finish = Finish::ReleasedForRetry {
            error: reason.to_owned(),
        };
        self.finish_logged(claim, &finish, variables, deadline).await;
        StepOutcome::Retryable {
            reason: reason.to_owned(),
            attempts: tried.then_some(attempts),
        }
    }

    /// The attempt record of `tried`, redacted and bounded.
    async fn record(
        &self,
        key: &DeliveryKey,
        attempt: u32,
        tried: &Attempt,
        summary: &str,
        variables: &Variables,
    ) {
        let (outcome, http_status, error, response) = match &tried.result {
            // The values the step extracted are redacted too: a token it fetched is a secret.
            Ok(sent) => (
                AttemptOutcome::Delivered,
                sent.status,
                None,
                sent.extracted.redact(&variables.redact(&sent.response)),
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
            time: tried.time,
            outcome,
            http_status,
            latency_ms: tried.latency_ms,
            error,
            request: summary.to_owned(),
            response,
        };
        if let Err(log_error) = self.deliveries.record_attempt(&record).await {
            warn!(error = %variables.redact(&log_error.to_string()), "cannot record the attempt");
        }
    }

    /// [`Pipeline::finish`], logging a failure.
    async fn finish_logged(&self, claim: &Claim, finish: &Finish, variables: &Variables, deadline: Instant) {
        if let Err(log_error) = self.finish(claim, finish, deadline).await {
            error!(error = %variables.redact(&log_error.to_string()), "cannot record the outcome");
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
        claim: &Claim,
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
}
