//! The forms a secret takes in what a target is sent and what it echoes, and finding them.

use base64::Engine as _;

/// A secret for one run: its first 12 characters are letters and digits unique to the run (so they
/// read the same raw, JSON-escaped, percent-encoded and HTML-escaped), followed by every character
/// an escaper changes and a non-ASCII letter.
pub(crate) fn secret() -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("Q7x{}\"quo\\te +sp ace/&<b>='é", &unique[..13])
}

/// A secret any sample can use ([`SampleEnv::secret`](notify_core::SampleEnv::secret)): a signing
/// secret in the Standard Webhooks form (`whsec_` and the base64 of 32 random bytes), which is also
/// a fine token.
pub(crate) fn sample_secret() -> String {
    let mut key = uuid::Uuid::new_v4().into_bytes().to_vec();
    key.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
    format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode(key))
}

/// What a target that echoes its request answers: the secret raw, JSON-escaped and in base64.
pub(crate) fn echo(secret: &str) -> String {
    format!(
        "raw {secret} json {} base64 {}",
        json_escaped(secret),
        base64::engine::general_purpose::STANDARD.encode(secret)
    )
}

/// Every form of `secret` found in `text`, named: raw, its first 12 characters (so also inside any
/// escaping, and the start of a secret cut off), and base64, standard and URL-safe, at each of the
/// three alignments a secret can have inside a longer encoded text (Basic credentials, an echoed
/// header).
pub(crate) fn find(secret: &str, text: &str) -> Vec<String> {
    forms(secret)
        .into_iter()
        .filter(|(_, form)| text.contains(form.as_str()))
        .map(|(name, _)| name)
        .collect()
}

fn forms(secret: &str) -> Vec<(String, String)> {
    let prefix: String = secret.chars().take(12).collect();
    let mut forms = vec![
        ("raw".to_owned(), secret.to_owned()),
        ("its first 12 characters".to_owned(), prefix),
    ];
    for (name, engine) in [
        ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
        (
            "url-safe base64",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ] {
        for offset in 0..3 {
            // `offset` bytes before the secret shift its encoding; the characters that depend on
            // the secret alone start after them. 16 characters are 12 bytes of the secret.
            let mut bytes = vec![b'x'; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&bytes);
            let start = [0, 2, 3][offset];
            if let Some(form) = encoded.get(start..start + 16) {
                forms.push((format!("{name} at offset {offset}"), form.to_owned()));
            }
        }
    }
    forms
}

fn json_escaped(secret: &str) -> String {
    let quoted = serde_json::to_string(secret).unwrap_or_default();
    quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

/// About 160 characters of `text` around the first place that holds `secret` in any form.
pub(crate) fn excerpt(secret: &str, text: &str) -> String {
    let at = forms(secret)
        .iter()
        .filter_map(|(_, form)| text.find(form.as_str()))
        .min()
        .unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(80)
        .map_or(0, |(index, _)| index);
    text[start..].chars().take(160).collect()
}
