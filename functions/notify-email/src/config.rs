//! `EmailSettings` (what an e-mail integration may set) and `EmailTarget` (the settings, checked,
//! with the sender chosen).

use definition_store::{Integration, rules};
use notify_core::NotifyError;
use serde::Deserialize;

/// The settings of an e-mail integration. Every key is optional: the sender falls back to the
/// function's `TOCSIN_EMAIL_FROM`, the templates to the built-in `email.subject`, `email.html` and
/// `email.text`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EmailSettings {
    /// The sender, a verified SES identity: `alerts@example.com` or `Alerts <alerts@example.com>`.
    #[serde(default)]
    pub from: Option<String>,
    /// Subject template (one line; line breaks become spaces).
    #[serde(default)]
    pub subject: Option<String>,
    /// HTML body template (values are HTML-escaped).
    #[serde(default)]
    pub html: Option<String>,
    /// Plain-text body template.
    #[serde(default)]
    pub text: Option<String>,
}

/// The settings of one e-mail integration, checked, with the sender chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmailTarget {
    /// The sender: a verified SES identity, `alerts@example.com` or `Alerts <alerts@example.com>`.
    pub from: String,
    /// Subject template override.
    pub subject: Option<String>,
    /// HTML body template override.
    pub html: Option<String>,
    /// Text body template override.
    pub text: Option<String>,
}

impl EmailTarget {
    /// The target of `integration`; `default_from` is used when `settings.from` is not set.
    ///
    /// Errors (permanent, naming the integration and the path): settings that do not fit
    /// [`EmailSettings`], an invalid sender, no sender at all.
    pub fn parse(integration: &Integration, default_from: Option<&str>) -> Result<EmailTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::EmailNotifier>(integration)?;
        EmailTarget::from_settings(settings, default_from)
            .map_err(|reason| NotifyError::permanent(format!("integration `{}`: {reason}", integration.id)))
    }

    fn from_settings(settings: EmailSettings, default_from: Option<&str>) -> Result<EmailTarget, String> {
        let (from, origin) = match (settings.from, default_from) {
            (Some(from), _) => (from, "settings.from"),
            (None, Some(default)) => (default.to_owned(), "TOCSIN_EMAIL_FROM"),
            (None, None) => {
                return Err(
                    "no sender: set `settings.from` or the function's `TOCSIN_EMAIL_FROM`".to_owned(),
                );
            }
        };
        if let Some(problem) = rules::sender_problem(&from) {
            return Err(format!(
                "`{origin}` is not a valid sender address (`name@example.com` or `Name <name@example.com>`): {problem}"
            ));
        }
        Ok(EmailTarget {
            from,
            subject: settings.subject,
            html: settings.html,
            text: settings.text,
        })
    }
}
