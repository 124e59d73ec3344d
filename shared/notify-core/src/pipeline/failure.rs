//! What an invocation did, and the one failure type of a route.

use std::fmt;

use alert_model::IntegrationKind;
use serde::Serialize;

use crate::metrics::FailureOutcome;

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
    /// Accepted alerts that reached no route of any kind (`Tocsin/Unrouted`); counted by the
    /// functions whose kind they did not reach either.
    pub unrouted: usize,
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

/// A route that failed, named without secrets: the one failure type of a route. The invocation's
/// error lists the retryable ones, the metric line and the fallback's notice report each.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RouteFailure {
    /// The function's kind.
    pub kind: IntegrationKind,
    /// The alert.
    pub alert_id: String,
    /// The integration.
    pub integration_id: String,
    /// `<alert definition>/<step>`, when a step was reached; `None` when the route failed before a
    /// step (template, settings, secret).
    pub step: Option<String>,
    /// Why, redacted.
    pub reason: String,
    /// Attempts at the target over every invocation.
    pub attempts: u32,
    /// Permanent, or left for a retry.
    pub outcome: FailureOutcome,
}

impl fmt::Display for RouteFailure {
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
        routes: Vec<RouteFailure>,
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

/// How one route ended in this invocation.
pub(crate) enum RouteOutcome {
    Delivered,
    Skipped,
    /// Failed permanently; the failure when it happened in this invocation (not earlier).
    Failed(Option<RouteFailure>),
    /// Left for a retry; `reported` when the target (or the route's preparation) failed, as
    /// opposed to the claim being held elsewhere or the deadline.
    Retryable {
        failure: RouteFailure,
        reported: bool,
    },
}

impl RouteOutcome {
    /// Counts the outcome into `report`; returns the failure to report (metric, notice), if any.
    pub(crate) fn count(
        self,
        report: &mut EventReport,
        retryable: &mut Vec<RouteFailure>,
    ) -> Option<RouteFailure> {
        match self {
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
                failure
            }
            RouteOutcome::Retryable { failure, reported } => {
                report.retryable += 1;
                retryable.push(failure.clone());
                reported.then_some(failure)
            }
        }
    }
}
