//! The one definition of each rule about values in definitions: e-mail addresses, senders, phone
//! numbers, secret references. `validate`, the notifiers and the secret resolver all call these,
//! so that what `tocsin validate` accepts is what a function can use.

use crate::SecretRef;

/// Why `address` cannot be sent to, if it cannot: a bare `local@domain.tld`, ASCII (SES does not
/// support SMTPUTF8; an international domain is written in punycode), no display name, no white
/// space or control characters, no empty domain label (`a@b..com`).
///
/// Deliberately simpler than RFC 5322: this is what SES and humans accept for alert recipients.
pub fn email_problem(address: &str) -> Option<&'static str> {
    const FORBIDDEN: &[char] = &['<', '>', '(', ')', '[', ']', ',', ';', ':', '\\', '"', '@'];
    let Some((local, domain)) = address.rsplit_once('@') else {
        return Some("not an e-mail address (no `@`)");
    };
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

/// Why `sender` cannot be a From address, if it cannot: a bare address ([`email_problem`]) or
/// `Display Name <address>` with an ASCII display name (SES would need a non-ASCII name
/// MIME-encoded).
pub fn sender_problem(sender: &str) -> Option<&'static str> {
    match sender.strip_suffix('>').and_then(|rest| rest.rsplit_once('<')) {
        Some((name, address)) => {
            let name_ok = name
                .chars()
                .all(|c| c.is_ascii() && !c.is_ascii_control() && !matches!(c, '<' | '>' | '"'));
            if !name_ok {
                return Some("the display name must be ASCII without quotes or angle brackets");
            }
            email_problem(address)
        }
        None => email_problem(sender),
    }
}

/// Why `number` is not a phone number in E.164 form (`+` and 8 to 15 digits, the first not 0), if
/// it is not.
pub fn phone_problem(number: &str) -> Option<&'static str> {
    let Some(digits) = number.strip_prefix('+') else {
        return Some("not in E.164 form (it must start with +)");
    };
    if !digits.chars().all(|c| c.is_ascii_digit()) {
        return Some("not in E.164 form (only digits after +)");
    }
    if !(8..=15).contains(&digits.len()) {
        return Some("not in E.164 form (8 to 15 digits after +)");
    }
    if digits.starts_with('0') {
        return Some("not in E.164 form (a country code never starts with 0)");
    }
    None
}

/// Where a secret reference points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretLocation {
    /// `ssm:/path`.
    Ssm {
        /// The parameter name (starts with `/`).
        name: String,
    },
    /// `secretsmanager:<id>[#key]`.
    SecretsManager {
        /// Name or ARN.
        id: String,
        /// The JSON key, if any.
        key: Option<String>,
    },
}

impl SecretRef {
    /// Parses the reference. The error describes the problem without echoing the text (a secret
    /// value written there by mistake must not be printed).
    ///
    /// A Secrets Manager name or ARN never holds `#`, so the *first* `#` starts the JSON key, which
    /// may itself hold `#` (`secretsmanager:a#b#c` is secret `a`, key `b#c`).
    pub fn location(&self) -> Result<SecretLocation, String> {
        let text = self.0.trim();
        if let Some(name) = text.strip_prefix("ssm:") {
            if !name.starts_with('/') || name.len() < 2 {
                return Err("an ssm secret reference must be \"ssm:/<parameter name>\"".to_owned());
            }
            if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err("an ssm parameter name cannot contain white space".to_owned());
            }
            return Ok(SecretLocation::Ssm {
                name: name.to_owned(),
            });
        }
        if let Some(rest) = text.strip_prefix("secretsmanager:") {
            let (id, key) = match rest.split_once('#') {
                Some((id, key)) => (id, Some(key)),
                None => (rest, None),
            };
            if id.trim().is_empty() {
                return Err("a secretsmanager reference needs a secret name or arn".to_owned());
            }
            if id.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err("a secretsmanager secret name cannot contain white space".to_owned());
            }
            if key.is_some_and(|key| key.trim().is_empty()) {
                return Err("empty json key after \"#\" in secretsmanager reference".to_owned());
            }
            return Ok(SecretLocation::SecretsManager {
                id: id.to_owned(),
                key: key.map(str::to_owned),
            });
        }
        Err(
            "a secret reference must start with \"ssm:/\" or \"secretsmanager:\" (value not shown)"
                .to_owned(),
        )
    }
}

/// The methods an HTTP step may use.
pub const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// `method` as sent (upper case), if it is one of [`HTTP_METHODS`] in any case.
pub fn http_method(method: &str) -> Option<&'static str> {
    let upper = method.trim().to_ascii_uppercase();
    HTTP_METHODS.iter().copied().find(|known| *known == upper)
}

/// Why `name` cannot be an HTTP header name (an RFC 9110 token), if it cannot.
pub fn header_name_problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("empty header name");
    }
    let token = name
        .bytes()
        .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte));
    (!token).then_some("not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)")
}

/// The structural problems of an integration's `messages` (not their templates): each message
/// has alert types and steps, an alert type is served by one message only, step names are unique
/// within a message (they are part of the idempotency key: a second step of the same name would
/// look delivered), methods are known, URLs are given, header names are tokens. Each problem is a
/// path inside the integration (`messages[0].steps[1].method`) and what is wrong.
pub fn message_problems(messages: &[crate::MessageDefinition]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut served: std::collections::HashMap<alert_model::AlertType, usize> = Default::default();
    for (m, message) in messages.iter().enumerate() {
        let path = format!("messages[{m}]");
        if message.types.is_empty() {
            problems.push((format!("{path}.types"), "no alert type".to_owned()));
        }
        for (t, alert_type) in message.types.iter().enumerate() {
            match served.get(alert_type) {
                Some(first) if *first != m => problems.push((
                    format!("{path}.types[{t}]"),
                    format!("alert type {alert_type} already served by messages[{first}]"),
                )),
                Some(_) => problems.push((
                    format!("{path}.types[{t}]"),
                    format!("alert type {alert_type} listed twice"),
                )),
                None => {
                    served.insert(*alert_type, m);
                }
            }
        }
        if message.steps.is_empty() {
            problems.push((format!("{path}.steps"), "no step".to_owned()));
        }
        if message.steps.len() > crate::MAX_STEPS {
            problems.push((
                format!("{path}.steps"),
                format!(
                    "{} steps; a message has at most {}",
                    message.steps.len(),
                    crate::MAX_STEPS
                ),
            ));
        }
        problems.extend(extraction_problems(&path, &message.steps));
        let mut names = std::collections::BTreeSet::new();
        for (s, step) in message.steps.iter().enumerate() {
            let step_path = format!("{path}.steps[{s}]");
            let name = step.name.clone().unwrap_or_else(|| format!("step-{}", s + 1));
            if !names.insert(name.clone()) {
                problems.push((
                    format!("{step_path}.name"),
                    format!(
                        "step name \"{}\" is used twice in {path}",
                        crate::escape_controls(&name)
                    ),
                ));
            }
            if http_method(&step.method).is_none() {
                problems.push((format!("{step_path}.method"), unknown_method(&step.method)));
            }
            if step.url.trim().is_empty() {
                problems.push((format!("{step_path}.url"), "empty url".to_owned()));
            }
            for name in step.headers.keys() {
                if let Some(problem) = header_name_problem(name) {
                    problems.push((
                        format!("{step_path}.headers.{}", crate::escape_controls(name)),
                        problem.to_owned(),
                    ));
                }
            }
            if let Some(problem) = step.auth.as_ref().and_then(auth_problem) {
                problems.push((format!("{step_path}.auth"), problem));
            }
            if let Some(seconds) = step.timeout_seconds
                && !(1..=MAX_STEP_TIMEOUT_SECONDS).contains(&seconds)
            {
                problems.push((
                    format!("{step_path}.timeoutSeconds"),
                    format!("{seconds} is not between 1 and {MAX_STEP_TIMEOUT_SECONDS}"),
                ));
            }
        }
    }
    problems
}

/// The longest timeout a step may ask for, in seconds (the function's own HTTP timeout still caps
/// it at run time).
pub const MAX_STEP_TIMEOUT_SECONDS: u32 = 60;

/// Why an authentication is malformed beyond its type, if it is: an API key goes in exactly one of
/// a header (a valid name) and a query parameter.
fn auth_problem(auth: &crate::HttpAuth) -> Option<String> {
    let crate::HttpAuth::ApiKey { header, query, .. } = auth else {
        return None;
    };
    match (header, query) {
        (Some(_), Some(_)) | (None, None) => {
            Some("an API key goes in exactly one of `header` and `query`".to_owned())
        }
        (Some(header), None) => header_name_problem(header).map(|problem| format!("header: {problem}")),
        (None, Some(query)) if query.trim().is_empty() => Some("empty query parameter name".to_owned()),
        (None, Some(_)) => None,
    }
}

/// Why `name` cannot name a variable a step extracts, if it cannot: an identifier
/// (`[A-Za-z_][A-Za-z0-9_]*`), so that `{{Name}}` reads it.
pub fn variable_name_problem(name: &str) -> Option<&'static str> {
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (!identifier)
        .then_some("an extracted variable's name is letters, digits and `_`, not starting with a digit")
}

/// The structure of the steps' `extract` rules: identifier names, each extracted by one step of
/// the message only, exactly one source each, `group` only with `regex`.
fn extraction_problems(path: &str, steps: &[crate::HttpStep]) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut extracted_by: std::collections::BTreeMap<&str, usize> = Default::default();
    for (s, step) in steps.iter().enumerate() {
        for (name, rule) in &step.extract {
            let rule_path = format!("{path}.steps[{s}].extract.{}", crate::escape_controls(name));
            if let Some(problem) = variable_name_problem(name) {
                problems.push((rule_path.clone(), problem.to_owned()));
            }
            if let Some(first) = extracted_by.insert(name, s) {
                problems.push((
                    rule_path.clone(),
                    format!("`{name}` is already extracted by {path}.steps[{first}]"),
                ));
            }
            let sources = [
                rule.json_path.is_some(),
                rule.header.is_some(),
                rule.status,
                rule.body,
            ];
            if sources.iter().filter(|given| **given).count() != 1 {
                problems.push((
                    rule_path.clone(),
                    "give exactly one of `jsonPath`, `header`, `status: true` and `body: true`".to_owned(),
                ));
            }
            if rule.group.is_some() && rule.regex.is_none() {
                problems.push((format!("{rule_path}.group"), "`group` needs `regex`".to_owned()));
            }
        }
    }
    problems
}

/// `unknown method "X" (expected GET, POST, PUT, PATCH or DELETE)`.
pub fn unknown_method(method: &str) -> String {
    format!(
        "unknown method \"{}\" (expected {})",
        crate::escape_controls(method),
        HTTP_METHODS.join(", ")
    )
}
