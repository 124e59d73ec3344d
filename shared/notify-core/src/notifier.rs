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

    /// Whether the messages of a route stand alone (one per recipient, per batch of recipients):
    /// then a message that fails does not keep the route's other messages from being sent. Steps of
    /// a custom integration depend on each other (the product's step semantics): false.
    const INDEPENDENT_STEPS: bool = false;

    /// Whether the kind keeps state per incident at its target (a Slack message's `ts`, a
    /// ServiceNow `sys_id`, a StatusHub incident id): the runner then reads it before building
    /// ([`RouteContext::incident`]) and saves what a send reports ([`Sent::incident`]).
    const INCIDENT_STATE: bool = false;

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

    /// Whether a failure of this message is logged and recorded and the route goes on (a custom
    /// integration's `optional` step); a failure otherwise stops a route of dependent steps.
    fn is_optional(&self, _message: &Self::Message) -> bool {
        false
    }
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
    /// What earlier messages of this incident left at the target (kinds with
    /// [`Notifier::INCIDENT_STATE`]): `None` before the first, and when the state is not read
    /// (`tocsin render`).
    pub incident: Option<&'a serde_json::Value>,
}

/// The values of an integration's user variables, with the secret ones marked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Variables {
    values: BTreeMap<String, String>,
    /// The names of the secret values.
    secret_names: std::collections::BTreeSet<String>,
    /// Every secret value, raw.
    secrets: Vec<String>,
    /// Every form a secret may take once written into a message (raw, JSON-escaped,
    /// percent-encoded, form-encoded, HTML-escaped, base64), longest first.
    forms: Vec<String>,
}

/// Secrets shorter than this are not looked for at the cut-off end of a text: a prefix that short
/// tells nothing and matches too much.
const MIN_PREFIX_CHARS: usize = 3;

impl Variables {
    /// Adds a plain value.
    pub fn insert(&mut self, name: impl Into<String>, value: impl Into<String>) {
        self.values.insert(name.into(), value.into());
    }

    /// Adds a secret value: usable in templates, redacted everywhere it could be printed.
    pub fn insert_secret(&mut self, name: impl Into<String>, value: impl Into<String>) {
        let value = value.into();
        if !value.is_empty() {
            for form in encoded_forms(&value) {
                if !self.forms.contains(&form) {
                    self.forms.push(form);
                }
            }
            // Longest first, so that a secret containing another is replaced whole.
            self.forms.sort_by_key(|form| std::cmp::Reverse(form.len()));
            self.secrets.push(value.clone());
        }
        let name = name.into();
        self.secret_names.insert(name.clone());
        self.values.insert(name, value);
    }

    /// Adds every value of `other`, secret ones as secrets (a step's extracted values).
    pub fn extend(&mut self, other: &Variables) {
        for (name, value) in &other.values {
            if other.secret_names.contains(name) {
                self.insert_secret(name.clone(), value.clone());
            } else {
                self.insert(name.clone(), value.clone());
            }
        }
    }

    /// Whether there is no value.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Whether a value is secret.
    pub fn has_secrets(&self) -> bool {
        !self.secret_names.is_empty()
    }

    /// These values with each secret one replaced by `[secret <name>]` (plain values, for showing
    /// a message as `tocsin render` does).
    pub fn with_placeholders(&self) -> Variables {
        let mut shown = Variables::default();
        for (name, value) in &self.values {
            if self.is_secret(name) {
                shown.insert(
                    name.clone(),
                    format!("{}{name}]", crate::secret::PLACEHOLDER_PREFIX),
                );
            } else {
                shown.insert(name.clone(), value.clone());
            }
        }
        shown
    }

    /// Whether the value of `name` is secret.
    pub fn is_secret(&self, name: &str) -> bool {
        self.secret_names.contains(name)
    }

    /// The values that may be kept and printed: not secret, and holding no secret of `known` in
    /// any form (an extracted value that equals or contains a secret is withheld too). The names
    /// withheld come second.
    pub fn keepable(&self, known: &Variables) -> (BTreeMap<String, String>, Vec<String>) {
        let mut kept = BTreeMap::new();
        let mut withheld = Vec::new();
        for (name, value) in &self.values {
            if self.is_secret(name) || known.redact(value) != *value || self.redact(value) != *value {
                withheld.push(name.clone());
            } else {
                kept.insert(name.clone(), value.clone());
            }
        }
        (kept, withheld)
    }

    /// Name → value, for the template context.
    pub fn values(&self) -> &BTreeMap<String, String> {
        &self.values
    }

    /// Replaces every secret value in `text`, in every encoding a message may hold it in, with
    /// `[redacted]`; a text that was cut off in the middle of a secret loses that partial secret too,
    /// and a base64 text wrapped over several lines (MIME, PEM: 76 or 64 columns) that holds one
    /// loses those lines.
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for form in &self.forms {
            if out.contains(form.as_str()) {
                out = out.replace(form.as_str(), "[redacted]");
            }
        }
        if !self.forms.is_empty() {
            out = self.redact_wrapped_base64(&out);
        }
        for form in &self.forms {
            if let Some(kept) = cut_partial_tail(&out, form) {
                out = format!("{kept}[redacted]");
            }
        }
        out
    }
}

impl Variables {
    /// Runs of lines made of base64 characters only, joined: when the joined text holds a form of
    /// a secret, the run is replaced by `[redacted]`.
    fn redact_wrapped_base64(&self, text: &str) -> String {
        let is_base64_line = |line: &str| {
            let line = line.trim_end_matches('\r');
            line.len() >= 16
                && line
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=' | b'-' | b'_'))
        };
        let lines: Vec<&str> = text.split('\n').collect();
        if lines.len() < 2 {
            return text.to_owned();
        }
        let mut out: Vec<String> = Vec::with_capacity(lines.len());
        let mut index = 0;
        while index < lines.len() {
            let end = (index..lines.len())
                .find(|&i| !is_base64_line(lines[i]))
                .unwrap_or(lines.len());
            if end - index >= 2 {
                let joined: String = lines[index..end]
                    .iter()
                    .map(|l| l.trim_end_matches('\r'))
                    .collect();
                if self.forms.iter().any(|form| joined.contains(form.as_str())) {
                    out.push("[redacted]".to_owned());
                    index = end;
                    continue;
                }
            }
            let stop = end.max(index + 1);
            out.extend(lines[index..stop].iter().map(|line| (*line).to_owned()));
            index = stop;
        }
        out.join("\n")
    }
}

/// The forms a secret takes in JSON strings, URLs, form bodies, HTML and base64, and the ways a
/// target may echo it changed: upper- or lower-cased, reversed, hex-encoded, its UTF-8 bytes read
/// as Latin-1.
fn encoded_forms(secret: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

    const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let json = serde_json::to_string(secret).unwrap_or_default();
    let json = json
        .get(1..json.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned();
    let percent = utf8_percent_encode(secret, NON_ALPHANUMERIC).to_string();
    let component = utf8_percent_encode(secret, COMPONENT).to_string();
    let form = component.replace("%20", "+");
    // The engine's own escaper: a secret is found in the form the HTML context wrote it.
    let html = alert_model::escape::html(secret);
    let hex: String = secret.bytes().map(|byte| format!("{byte:02x}")).collect();
    let latin1: String = secret.bytes().map(char::from).collect();
    let mut forms = vec![
        secret.to_owned(),
        json,
        percent,
        component,
        form,
        html,
        secret.to_uppercase(),
        secret.to_lowercase(),
        secret.chars().rev().collect(),
        hex.to_uppercase(),
        hex,
        latin1,
    ];
    for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
        for offset in 0..3 {
            forms.extend(base64_forms(engine, secret, offset));
        }
    }
    forms.retain(|form| !form.is_empty());
    forms.sort();
    forms.dedup();
    forms
}

/// The base64 characters that encode `secret` when `offset` (0, 1 or 2) bytes precede it in the
/// encoded text, as in Basic credentials (`user:password`) or an echoed header: each character
/// holds 6 bits, so the first ones, which also hold bits of the bytes before, are left out. Two
/// forms: up to the end of the secret (the secret ends the text), and without the last character
/// when it also holds bits of what follows. Forms too short to tell anything are left out.
fn base64_forms(engine: &impl base64::Engine, secret: &str, offset: usize) -> Vec<String> {
    let mut bytes = vec![0u8; offset];
    bytes.extend_from_slice(secret.as_bytes());
    let encoded = engine.encode(&bytes);
    // ceil(8·offset / 6) characters hold bits of the bytes before.
    let start = [0, 2, 3].get(offset).copied().unwrap_or(0);
    let shared_end = (bytes.len() % 3).min(1);
    [encoded.len(), encoded.len() - shared_end]
        .into_iter()
        .filter_map(|end| encoded.get(start..end))
        .filter(|form| form.len() > MIN_PREFIX_CHARS)
        .map(str::to_owned)
        .collect()
}

/// When `text` ends with the first characters of `secret` (it was cut off there), the text before
/// them.
fn cut_partial_tail<'a>(text: &'a str, secret: &str) -> Option<&'a str> {
    let boundaries: Vec<usize> = secret
        .char_indices()
        .map(|(index, _)| index)
        .skip(MIN_PREFIX_CHARS)
        .collect();
    boundaries
        .into_iter()
        .rev()
        .find(|&end| text.ends_with(&secret[..end]))
        .map(|end| &text[..text.len() - end])
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
    /// State to keep for the incident (kinds with [`Notifier::INCIDENT_STATE`]): its keys replace
    /// the same keys of what was kept, the others stay.
    pub incident: Option<serde_json::Value>,
    /// Values the step took from its response for the route's later messages (a custom
    /// integration's `extract` rules), secret ones marked: the runner builds the later messages
    /// again with them and keeps the ones that are not secret in the delivery log.
    pub extracted: Variables,
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
