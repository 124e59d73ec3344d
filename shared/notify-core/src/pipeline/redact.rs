//! Redaction of what the pipeline records and prints.

use crate::Variables;

/// Replaces the value of credentials headers (`Authorization`, `Proxy-Authorization`) in a
/// described HTTP request with its scheme and `[redacted]`: Basic credentials are base64 of
/// `user:password`, which no search for the password's own text can find.
pub(crate) fn mask_credentials(mut description: serde_json::Value) -> serde_json::Value {
    if let Some(serde_json::Value::Object(headers)) = description.pointer_mut("/request/headers") {
        for (name, value) in headers.iter_mut() {
            let is_credential = name.eq_ignore_ascii_case("authorization")
                || name.eq_ignore_ascii_case("proxy-authorization");
            if let (true, Some(text)) = (is_credential, value.as_str()) {
                let scheme = text.split_whitespace().next().filter(|word| text.trim() != *word);
                *value = serde_json::Value::String(match scheme {
                    Some(scheme) => format!("{scheme} [redacted]"),
                    None => "[redacted]".to_owned(),
                });
            }
        }
    }
    description
}

pub(crate) fn redact_json(variables: &Variables, value: serde_json::Value) -> serde_json::Value {
    match value {
        serde_json::Value::String(text) => serde_json::Value::String(variables.redact(&text)),
        serde_json::Value::Array(items) => serde_json::Value::Array(
            items
                .into_iter()
                .map(|item| redact_json(variables, item))
                .collect(),
        ),
        serde_json::Value::Object(map) => serde_json::Value::Object(
            map.into_iter()
                .map(|(key, item)| (variables.redact(&key), redact_json(variables, item)))
                .collect(),
        ),
        other => other,
    }
}
