//! The contract between the runner and one integration kind.

use std::{collections::BTreeMap, future::Future, time::Duration};

use alert_model::{Alert, IntegrationKind};
use definition_store::{Attachment, EscalationLevel, Integration, Operator};
use serde::Serialize;

/// One integration kind: turns a route into messages (pure) and sends one message (once).
///
/// Contract, after Alertmanager's `Notifier`: `build` is deterministic and does no I/O (time and ids
/// come from the [`RouteContext`]); `send` makes exactly one attempt and says through
/// [`NotifyError`] whether trying again could help. Retries, backoff, idempotency and logging belong
/// to the runner.
pub trait Notifier: Send + Sync + 'static {
    /// The kind this notifier serves; routes of other kinds are not its business.
    const KIND: IntegrationKind;
    /// Kind-specific settings, parsed from [`Integration::settings`].
    type Target: Send + Sync;
    /// One ready-to-send message.
    type Message: Send + Sync;

    /// Parses and validates the integration's settings. Errors are permanent.
    fn target(&self, integration: &Integration) -> Result<Self::Target, NotifyError>;

    /// Builds the messages for one route, one per step, in sending order. Pure.
    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &Self::Target,
    ) -> Result<Vec<Outgoing<Self::Message>>, NotifyError>;

    /// Sends one message once.
    fn send(&self, message: &Self::Message) -> impl Future<Output = Result<Sent, NotifyError>> + Send;

    /// What `tocsin render` prints and the delivery log summarises: `{"request": {...}}` for HTTP
    /// kinds, `{"email": {...}}` for e-mail. Secret values are redacted by the caller.
    fn describe(&self, message: &Self::Message) -> serde_json::Value;
}

/// Everything a notifier may use to build the messages for one route.
#[derive(Debug, Clone)]
pub struct RouteContext<'a> {
    /// The alert, with `alertDefinition` and `escalationLevel.message` filled from the route.
    pub alert: &'a Alert,
    /// The integration.
    pub integration: &'a Integration,
    /// The attachment (per-level values, extra e-mails, flags).
    pub attachment: &'a Attachment,
    /// The escalation level.
    pub level: &'a EscalationLevel,
    /// Active, on-duty operators of the level, operator groups expanded, without duplicates.
    pub recipients: Vec<&'a Operator>,
    /// User variables resolved for this route (fixed, per-level and secret values).
    pub variables: &'a Variables,
    /// The time of this delivery, for `@DateTime` and timestamps.
    pub now: chrono::DateTime<chrono::Utc>,
    /// The template engine, created once per process by the runner.
    pub engine: &'a alert_model::template::Engine,
}

/// The values of an integration's user variables, with the secret ones marked.
#[derive(Debug, Clone, Default)]
pub struct Variables {
    values: BTreeMap<String, String>,
    secrets: Vec<String>,
}

impl Variables {
    /// Adds a plain value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// Adds a secret value: usable in templates, redacted everywhere it could be printed.
    pub fn insert_secret(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let value = value.into();
        if !value.is_empty() {
            self.secrets.push(value.clone());
        }
        self.values.insert(name.into(), value);
    }

    /// Name → value, for the template context.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// Replaces every secret value in `text` with `[redacted]`.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        // Longest first, so that a secret containing another is replaced whole.
        let mut secrets: Vec<&String> = self.secrets.iter().collect();
        secrets.sort_by_key(|secret| std::cmp::Reverse(secret.len()));
        for secret in secrets {
            out = out.replace(secret.as_str(), "[redacted]");
        }
        out
    }
}

/// One message of a route, named by its step (`step-1`, `batch-1`, …).
#[derive(Debug, Clone)]
pub struct Outgoing<M> {
    /// Stable within the route: part of the idempotency key `(alert id, integration id, step)`.
    pub step: String,
    /// The message.
    pub message: M,
}

/// What a successful send reports.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sent {
    /// HTTP status, where there is one.
    pub status: Option<u16>,
    /// The target's id for what was created (SES MessageId, incident id, …).
    pub external_id: Option<String>,
    /// The first bytes of the response body.
    pub response: String,
}

/// A failed attempt, classified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotifyError {
    /// Trying again later could succeed: 5xx, 408, 429, timeouts, connection errors, throttling.
    #[error("{reason}")]
    Retryable {
        /// Lower-case, names the target, never holds a secret.
        reason: String,
        /// HTTP status, where there is one.
        status: Option<u16>,
        /// The target's `Retry-After`, where given.
        retry_after: Option<Duration>,
    },
    /// Trying again cannot help: 4xx, a rejected message, a bad template or setting.
    #[error("{reason}")]
    Permanent {
        /// Lower-case, names the target, never holds a secret.
        reason: String,
        /// HTTP status, where there is one.
        status: Option<u16>,
    },
}

impl NotifyError {
    /// A permanent error without HTTP status.
    pub fn permanent(reason: impl Into<String>) -> Self {
        NotifyError::Permanent {
            reason: reason.into(),
            status: None,
        }
    }

    /// A retryable error without HTTP status.
    pub fn retryable(reason: impl Into<String>) -> Self {
        NotifyError::Retryable {
            reason: reason.into(),
            status: None,
            retry_after: None,
        }
    }

    /// Whether the runner may try again.
    pub fn is_retryable(&self) -> bool {
        matches!(self, NotifyError::Retryable { .. })
    }

    /// The HTTP status, where there is one.
    pub fn status(&self) -> Option<u16> {
        match self {
            NotifyError::Retryable { status, .. } | NotifyError::Permanent { status, .. } => *status,
        }
    }
}

/// A rendered HTTP request, as HTTP notifiers send it and `tocsin render` prints it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HttpRequest {
    /// GET, POST, PUT, PATCH or DELETE.
    pub method: String,
    /// Absolute URL.
    pub url: String,
    /// Header name → value.
    pub headers: BTreeMap<String, String>,
    /// The body, exactly as sent.
    pub body: String,
}
