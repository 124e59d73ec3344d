//! Escaping of user text in error messages.
//!
//! A definitions file, a DynamoDB item or a monitor selector is outside input, and its text (ids,
//! keys, values) ends up in errors that `tocsin validate` prints and CI logs keep. A raw CR or LF in
//! such a value would let a crafted file forge lines in those logs ("::error::…", a fake "valid"
//! line), and an ANSI escape could rewrite a terminal. Every error type of this crate therefore
//! escapes its text when it is displayed.

use std::borrow::Cow;

/// `text` with control characters written as Rust escapes: `\n`, `\r`, `\t`, and `\u{…}` for the
/// others (NUL is `\u{0}`, ESC `\u{1b}`, NEL `\u{85}`), as well as the Unicode line and paragraph
/// separators and the bidirectional formatting characters, which can break or reorder a log line.
///
/// Idempotent: escaped text has no such character left, so escaping twice (a message built from an
/// escaped error and escaped again by its own `Display`) changes nothing. Backslashes and quotes are
/// kept as they are; this is not a quoting function.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut escaped = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => escaped.push_str("\\n"),
            '\r' => escaped.push_str("\\r"),
            '\t' => escaped.push_str("\\t"),
            c if needs_escape(c) => escaped.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
            c => escaped.push(c),
        }
    }
    Cow::Owned(escaped)
}

fn needs_escape(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{2028}' | '\u{2029}' // line and paragraph separators
                | '\u{200e}' | '\u{200f}' // left-to-right and right-to-left marks
                | '\u{202a}'..='\u{202e}' // embeddings and overrides
                | '\u{2066}'..='\u{2069}' // isolates
                | '\u{feff}' // zero-width no-break space (BOM)
        )
}
