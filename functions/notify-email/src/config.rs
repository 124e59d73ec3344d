//! `EmailTarget`: an e-mail integration's settings, validated.

use definition_store::Integration;
use notify_core::NotifyError;

/// The settings of one e-mail integration: `{from?, subject?, html?, text?}`.
///
/// `from` falls back to the function's default sender (`TOCSIN_EMAIL_FROM`); the templates fall
/// back to the built-in `email.subject`, `email.html` and `email.text`.
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
    /// Parses `integration.settings`; `default_from` is used when `from` is not set.
    ///
    /// Errors (permanent, naming the integration and the key): an unknown key, a value that is not
    /// a string, an invalid sender, no sender at all.
    pub fn parse(integration: &Integration, default_from: Option<&str>) -> Result<EmailTarget, NotifyError> {
        let invalid =
            |reason: String| NotifyError::permanent(format!("integration `{}`: {reason}", integration.id));
        let mut from = None;
        let mut target = EmailTarget {
            from: String::new(),
            subject: None,
            html: None,
            text: None,
        };
        for (key, value) in &integration.settings {
            let slot = match key.as_str() {
                "from" => &mut from,
                "subject" => &mut target.subject,
                "html" => &mut target.html,
                "text" => &mut target.text,
                _ => {
                    return Err(invalid(format!(
                        "unknown setting `settings.{key}` (known: from, subject, html, text)"
                    )));
                }
            };
            let serde_json::Value::String(text) = value else {
                return Err(invalid(format!("`settings.{key}` must be a string")));
            };
            *slot = Some(text.clone());
        }
        let (from, origin) = match (from, default_from) {
            (Some(from), _) => (from, "settings.from"),
            (None, Some(default)) => (default.to_owned(), "TOCSIN_EMAIL_FROM"),
            (None, None) => {
                return Err(invalid(
                    "no sender: set `settings.from` or the function's `TOCSIN_EMAIL_FROM`".to_owned(),
                ));
            }
        };
        if !is_valid_sender(&from) {
            return Err(invalid(format!(
                "`{origin}` is not a valid sender address (`name@example.com` or `Name <name@example.com>`)"
            )));
        }
        target.from = from;
        Ok(target)
    }
}

/// A bare address `local@domain.tld`: ASCII, no display name, no white space, no control characters.
///
/// Deliberately simpler than RFC 5322: this is what SES and humans accept for alert recipients.
pub fn is_valid_address(address: &str) -> bool {
    address_problem(address).is_none()
}

/// Why `address` cannot be sent to, if it cannot.
pub fn address_problem(address: &str) -> Option<&'static str> {
    const FORBIDDEN: &[char] = &['<', '>', '(', ')', '[', ']', ',', ';', ':', '\\', '"', '@'];
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Some("not an e-mail address (no `@`)");
    };
    // SES does not support SMTPUTF8; an international domain must be given in punycode.
    if !address.is_ascii() {
        return Some("non-ASCII address (SES needs ASCII; write an international domain in punycode)");
    }
    let clean = |part: &str| {
        !part.is_empty()
            && !part
                .chars()
                .any(|c| c.is_whitespace() || c.is_control() || FORBIDDEN.contains(&c))
    };
    let valid = clean(local)
        && clean(domain)
        && local.len() <= 64
        && address.len() <= 254
        && domain.contains('.')
        && domain
            .split('.')
            .all(|label| !label.is_empty() && !label.starts_with('-') && !label.ends_with('-'));
    (!valid).then_some("not an e-mail address")
}

/// A bare address, or `Display Name <address>` with an ASCII display name (SES would need
/// non-ASCII names MIME-encoded).
fn is_valid_sender(sender: &str) -> bool {
    match sender.strip_suffix('>').and_then(|rest| rest.rsplit_once('<')) {
        Some((name, address)) => {
            name.chars()
                .all(|c| c.is_ascii() && !c.is_ascii_control() && !matches!(c, '<' | '>' | '"'))
                && is_valid_address(address)
        }
        None => is_valid_address(sender),
    }
}
