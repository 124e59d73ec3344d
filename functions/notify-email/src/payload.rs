//! Pure: one route → e-mail messages, one per batch of recipients.

use alert_model::template::{Escape, RenderContext, TemplateSource};
use notify_core::{NotifyError, Outgoing, RouteContext};
use serde::Serialize;

use definition_store::rules::email_problem;

use crate::config::EmailTarget;

/// SES accepts at most 50 recipients (To + Cc + Bcc) per message (targets.md §8).
pub const MAX_RECIPIENTS_PER_MESSAGE: usize = 50;

/// Subjects longer than this are cut (with `…`): mail clients show far less, and a runaway
/// template must not produce a megabyte header.
pub const MAX_SUBJECT_CHARS: usize = 200;

/// One e-mail, ready for SES v2 `SendEmail` (Simple content, UTF-8).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EmailMessage {
    /// The sender.
    pub from: String,
    /// The recipients (To), at most [`MAX_RECIPIENTS_PER_MESSAGE`].
    pub to: Vec<String>,
    /// One line, at most [`MAX_SUBJECT_CHARS`] characters.
    pub subject: String,
    /// Plain-text body.
    pub text: String,
    /// HTML body.
    pub html: String,
}

/// Builds the messages of one route: steps `batch-1`, `batch-2`, … of at most 50 recipients.
/// No recipients means no messages.
pub(crate) fn build_messages(
    route: &RouteContext<'_>,
    target: &EmailTarget,
) -> Result<Vec<Outgoing<EmailMessage>>, NotifyError> {
    let recipients = recipients(route);
    if recipients.is_empty() {
        return Ok(Vec::new());
    }
    let context = RenderContext {
        alert: route.alert,
        variables: route.variables.values(),
        now: route.now,
    };
    let render = |field: Field, escape: Escape| -> Result<String, NotifyError> {
        let integration = route.integration.id.as_str();
        let (template, source_field) = match field.overridden(target) {
            Some(template) => (template, field.setting()),
            None => {
                let template = crate::default_template(field.default()).ok_or_else(|| {
                    NotifyError::permanent(format!(
                        "integration `{integration}`: no built-in template `{}`",
                        field.default()
                    ))
                })?;
                (template, field.default())
            }
        };
        let source = TemplateSource {
            integration,
            field: source_field,
        };
        route
            .engine
            .render(source, template, escape, &context)
            .map_err(|error| NotifyError::permanent(error.to_string()))
    };
    let subject = one_line(&render(Field::Subject, Escape::Text)?, MAX_SUBJECT_CHARS);
    let html = render(Field::Html, Escape::Html)?;
    let text = render(Field::Text, Escape::Text)?;
    Ok(recipients
        .chunks(MAX_RECIPIENTS_PER_MESSAGE)
        .enumerate()
        .map(|(index, batch)| Outgoing {
            step: format!("batch-{}", index + 1),
            message: EmailMessage {
                from: target.from.clone(),
                to: batch.to_vec(),
                subject: subject.clone(),
                text: text.clone(),
                html: html.clone(),
            },
        })
        .collect())
}

/// One templated field of the message.
#[derive(Clone, Copy)]
enum Field {
    Subject,
    Html,
    Text,
}

impl Field {
    /// Where an override lives, for errors.
    fn setting(self) -> &'static str {
        match self {
            Field::Subject => "settings.subject",
            Field::Html => "settings.html",
            Field::Text => "settings.text",
        }
    }

    /// The built-in template.
    fn default(self) -> &'static str {
        match self {
            Field::Subject => "email.subject",
            Field::Html => "email.html",
            Field::Text => "email.text",
        }
    }

    fn overridden(self, target: &EmailTarget) -> Option<&str> {
        match self {
            Field::Subject => target.subject.as_deref(),
            Field::Html => target.html.as_deref(),
            Field::Text => target.text.as_deref(),
        }
    }
}

/// The level's operators' addresses, then the attachment's extra addresses: invalid ones skipped
/// (and logged: `tocsin validate` reports them before they get here), duplicates removed ignoring
/// case, first spelling kept.
fn recipients(route: &RouteContext<'_>) -> Vec<String> {
    let integration = route.integration.id.as_str();
    let operators = route
        .recipients
        .iter()
        .filter_map(|operator| match &operator.email {
            Some(email) => Some((format!("operator `{}`", operator.id), email.trim())),
            None => {
                tracing::debug!(integration, operator = %operator.id, "operator has no e-mail address");
                None
            }
        });
    let extra = route
        .attachment
        .extra_emails
        .iter()
        .enumerate()
        .map(|(index, email)| (format!("extraEmails[{index}]"), email.trim()));
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (origin, email) in operators.chain(extra) {
        if let Some(reason) = email_problem(email) {
            // The address itself is personal data: log where it came from, not what it is.
            tracing::warn!(integration, origin, reason, "e-mail recipient skipped");
            continue;
        }
        if seen.insert(email.to_lowercase()) {
            out.push(email.to_owned());
        }
    }
    out
}

/// Joins the lines of `text` with spaces (a subject is one header line: CR/LF would inject
/// headers; control characters and the Unicode line and paragraph separators become spaces too)
/// and cuts it to `max` characters at a character boundary, ending with `…`.
fn one_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let line: String = line
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
