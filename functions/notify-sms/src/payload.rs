//! Pure: one route → one text message per recipient.

use alert_model::template::{Escape, RenderContext, TemplateSource};
use definition_store::rules::phone_problem;
use notify_core::{NotifyError, Outgoing, RouteContext};
use serde::Serialize;

use crate::config::SmsTarget;

/// SNS takes at most 1,600 bytes in one `Publish` to a phone number (targets.md §9).
pub const MAX_SMS_BYTES: usize = 1600;

/// One text message, ready for SNS `Publish` to a phone number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SmsMessage {
    /// The recipient, E.164.
    pub to: String,
    /// The text, at most [`MAX_SMS_BYTES`], never cut inside a character.
    pub text: String,
    /// `AWS.SNS.SMS.SMSType`.
    pub sms_type: &'static str,
    /// `AWS.SNS.SMS.SenderID`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_id: Option<String>,
    /// `AWS.MM.SMS.OriginationNumber`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origination_number: Option<String>,
}

/// Builds the messages of one route: step `sms-<number>` per recipient (so that a retry after a
/// partial failure never texts the same person twice). No recipients means no messages.
pub(crate) fn build_messages(
    route: &RouteContext<'_>,
    target: &SmsTarget,
) -> Result<Vec<Outgoing<SmsMessage>>, NotifyError> {
    let numbers = recipients(route);
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    let text = cut(&render(route, target)?, MAX_SMS_BYTES);
    Ok(numbers
        .into_iter()
        .map(|to| Outgoing {
            step: format!("sms-{to}"),
            message: SmsMessage {
                to,
                text: text.clone(),
                sms_type: target.sms_type.as_str(),
                sender_id: target.sender_id.clone(),
                origination_number: target.origination_number.clone(),
            },
        })
        .collect())
}

/// The text: the integration's template, or the built-in `sms.text`; values as plain text.
fn render(route: &RouteContext<'_>, target: &SmsTarget) -> Result<String, NotifyError> {
    let integration = route.integration.id.as_str();
    let (template, field) = match &target.text {
        Some(template) => (template.as_str(), "settings.text"),
        None => (
            crate::default_template("sms.text").ok_or_else(|| {
                NotifyError::permanent(format!(
                    "integration `{integration}`: no built-in template `sms.text`"
                ))
            })?,
            "sms.text",
        ),
    };
    let context = RenderContext {
        alert: route.alert,
        variables: route.variables.values(),
        now: route.now,
    };
    route
        .engine
        .render(
            TemplateSource { integration, field },
            template,
            Escape::Text,
            &context,
        )
        .map_err(|error| NotifyError::permanent(error.to_string()))
        .map(|text| text.trim().to_owned())
}

/// `text` cut to at most `max` bytes at a character boundary.
pub(crate) fn cut(text: &str, max: usize) -> String {
    notify_core::http::truncate_utf8(text, max)
}

/// The level's operators' numbers, then the attachment's extra numbers: numbers not in E.164 are
/// skipped with a logged reason (naming where they came from, not the number: personal data),
/// duplicates removed.
fn recipients(route: &RouteContext<'_>) -> Vec<String> {
    let integration = route.integration.id.as_str();
    let operators = route
        .recipients
        .iter()
        .filter_map(|operator| match &operator.phone {
            Some(phone) => Some((format!("operator `{}`", operator.id), phone.trim())),
            None => {
                tracing::debug!(integration, operator = %operator.id, "operator has no phone number");
                None
            }
        });
    let extra = route
        .attachment
        .extra_phones
        .iter()
        .enumerate()
        .map(|(index, phone)| (format!("extraPhones[{index}]"), phone.trim()));
    let mut out: Vec<String> = Vec::new();
    for (origin, phone) in operators.chain(extra) {
        if let Some(reason) = phone_problem(phone) {
            tracing::warn!(integration, origin, reason, "text message recipient skipped");
            continue;
        }
        if !out.iter().any(|known| known == phone) {
            out.push(phone.to_owned());
        }
    }
    out
}
