//! `SmsSettings` (what an SMS integration may set) and `SmsTarget` (the settings, checked).

use definition_store::{Integration, rules};
use notify_core::NotifyError;
use serde::Deserialize;

/// The settings of an SMS integration; every key is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SmsSettings {
    /// The text template (default: the built-in `sms.text`). Cut at 1,600 bytes, SNS's limit.
    #[serde(default)]
    pub text: Option<String>,
    /// `Transactional` (default: delivered first, for alerts) or `Promotional` (cheaper).
    #[serde(default)]
    pub sms_type: Option<SmsType>,
    /// An alphanumeric sender ID (1 to 11 letters and digits, at least one letter), where the
    /// destination country supports one (not the US or Canada).
    #[serde(default)]
    pub sender_id: Option<String>,
    /// An origination number you own (E.164: a toll-free number, 10DLC or short code).
    #[serde(default)]
    pub origination_number: Option<String>,
}

/// `AWS.SNS.SMS.SMSType`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum SmsType {
    /// Critical messages: delivered with the highest reliability.
    #[default]
    Transactional,
    /// Marketing messages: the lowest cost.
    Promotional,
}

impl SmsType {
    /// The attribute's value.
    pub fn as_str(self) -> &'static str {
        match self {
            SmsType::Transactional => "Transactional",
            SmsType::Promotional => "Promotional",
        }
    }
}

/// The settings of one SMS integration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmsTarget {
    /// Text template override.
    pub text: Option<String>,
    /// `AWS.SNS.SMS.SMSType`.
    pub sms_type: SmsType,
    /// `AWS.SNS.SMS.SenderID`.
    pub sender_id: Option<String>,
    /// `AWS.MM.SMS.OriginationNumber`.
    pub origination_number: Option<String>,
}

impl SmsTarget {
    /// The target of `integration`; errors are permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<SmsTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::SmsNotifier>(integration)?;
        if let Some((path, problem)) = problems(&settings).into_iter().next() {
            return Err(NotifyError::permanent(format!(
                "integration `{}`: `{path}`: {problem}",
                integration.id
            )));
        }
        Ok(SmsTarget {
            text: settings.text,
            sms_type: settings.sms_type.unwrap_or_default(),
            sender_id: settings.sender_id,
            origination_number: settings.origination_number,
        })
    }
}

/// What is wrong with `settings` beyond their types: `(path, problem)`.
pub(crate) fn problems(settings: &SmsSettings) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    if let Some(sender) = &settings.sender_id
        && let Some(problem) = sender_id_problem(sender)
    {
        problems.push(("settings.senderId", problem.to_owned()));
    }
    if let Some(number) = &settings.origination_number
        && let Some(problem) = rules::phone_problem(number)
    {
        problems.push(("settings.originationNumber", problem.to_owned()));
    }
    problems
}

/// Why `sender` cannot be an alphanumeric sender ID, if it cannot.
fn sender_id_problem(sender: &str) -> Option<&'static str> {
    if sender.is_empty() || sender.len() > 11 {
        return Some("a sender ID has 1 to 11 characters");
    }
    if !sender.bytes().all(|byte| byte.is_ascii_alphanumeric()) {
        return Some("a sender ID has ASCII letters and digits only");
    }
    if !sender.bytes().any(|byte| byte.is_ascii_alphabetic()) {
        return Some("a sender ID has at least one letter");
    }
    None
}
