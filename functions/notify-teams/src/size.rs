//! Keeping a message under Teams's size limit by shortening its longest texts, never by cutting
//! the JSON: the message is parsed, its strings are shortened, and it is written again.
//!
//! The cut is shared fairly: every text longer than a cap is cut to the cap (with `…`), the cap
//! being the largest that brings the message under the limit, so one huge error message gives up
//! its tail before a short fact loses anything. Links (members whose name ends in `url`, and
//! `$schema`) are never cut: a cut link leads nowhere.

use serde_json::Value;

/// Teams takes about 28 KB per message (targets.md §3.3: "Request Entity too large" beyond): the
/// body is kept at most this many bytes, under both readings of "KB".
pub const MAX_BODY_BYTES: usize = 28_000;

/// A shortened text keeps at least this many bytes (as written in JSON, `…` included), so that
/// it still says something.
pub const MIN_TEXT_BYTES: usize = 100;

/// What ends a shortened text.
const ELLIPSIS: &str = "…";

/// A message that fits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fitted {
    /// The body to send: the rendered text when it fits as it is, else the JSON written compactly
    /// with its longest texts shortened.
    pub body: String,
    /// How many texts were shortened.
    pub shortened: usize,
}

/// `rendered` (which parses as `value`), made to fit `max` bytes; the error says by how much it
/// cannot.
pub(crate) fn fit(rendered: &str, mut value: Value, max: usize) -> Result<Fitted, String> {
    if rendered.len() <= max {
        return Ok(Fitted {
            body: rendered.to_owned(),
            shortened: 0,
        });
    }
    let compact = write(&value)?;
    if compact.len() <= max {
        return Ok(Fitted {
            body: compact,
            shortened: 0,
        });
    }
    let excess = compact.len() - max;
    let mut lengths = Vec::new();
    collect_lengths(&value, false, &mut lengths);
    let reduction = |cap: usize| -> usize { lengths.iter().map(|length| length.saturating_sub(cap)).sum() };
    if reduction(MIN_TEXT_BYTES) < excess {
        return Err(format!(
            "the message is {} bytes, and still over the {max}-byte limit of Teams with every text cut to \
             {MIN_TEXT_BYTES} bytes (too many facts or elements, or a long link)",
            compact.len()
        ));
    }
    // The largest cap that removes enough: reduction(low) >= excess > reduction(high).
    let mut low = MIN_TEXT_BYTES;
    let mut high = lengths
        .iter()
        .copied()
        .max()
        .unwrap_or(MIN_TEXT_BYTES)
        .max(low + 1);
    while high - low > 1 {
        let middle = low + (high - low) / 2;
        if reduction(middle) >= excess {
            low = middle;
        } else {
            high = middle;
        }
    }
    let shortened = shorten_all(&mut value, false, low);
    let body = write(&value)?;
    if body.len() > max {
        // Each shortened text is at most `low` bytes, so the body shrank by at least `excess`.
        return Err(format!(
            "the message is still {} bytes after shortening its texts, over the {max}-byte limit of Teams",
            body.len()
        ));
    }
    Ok(Fitted { body, shortened })
}

fn write(value: &Value) -> Result<String, String> {
    serde_json::to_string(value).map_err(|error| format!("the message cannot be written as JSON: {error}"))
}

/// Whether the strings of member `name` are links (or the schema), which are never cut.
fn is_link(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.ends_with("url") || lower == "$schema" || lower == "backgroundimage"
}

/// The JSON-escaped length of every string that may be cut.
fn collect_lengths(value: &Value, link: bool, out: &mut Vec<usize>) {
    match value {
        Value::String(text) if !link => out.push(escaped_len(text)),
        Value::Array(items) => {
            for item in items {
                collect_lengths(item, link, out);
            }
        }
        Value::Object(members) => {
            for (name, member) in members {
                collect_lengths(member, is_link(name), out);
            }
        }
        _ => {}
    }
}

/// Cuts every string that may be cut and is longer than `cap` bytes (JSON-escaped) to at most
/// `cap`; returns how many were cut.
fn shorten_all(value: &mut Value, link: bool, cap: usize) -> usize {
    match value {
        Value::String(text) if !link && escaped_len(text) > cap => {
            *text = shorten(text, cap);
            1
        }
        Value::Array(items) => items.iter_mut().map(|item| shorten_all(item, link, cap)).sum(),
        Value::Object(members) => members
            .iter_mut()
            .map(|(name, member)| shorten_all(member, is_link(name), cap))
            .sum(),
        _ => 0,
    }
}

/// The bytes `c` takes inside a JSON string as serde_json writes it.
fn escaped_char_len(c: char) -> usize {
    match c {
        '"' | '\\' | '\u{8}' | '\u{c}' | '\n' | '\r' | '\t' => 2,
        c if u32::from(c) < 0x20 => 6,
        c => c.len_utf8(),
    }
}

/// The bytes `text` takes inside a JSON string.
pub(crate) fn escaped_len(text: &str) -> usize {
    text.chars().map(escaped_char_len).sum()
}

/// The start of `text` and `…`, at most `cap` bytes as written in JSON, cut between characters.
pub(crate) fn shorten(text: &str, cap: usize) -> String {
    let budget = cap.saturating_sub(ELLIPSIS.len());
    let mut used = 0;
    let mut end = 0;
    for (index, c) in text.char_indices() {
        let length = escaped_char_len(c);
        if used + length > budget {
            break;
        }
        used += length;
        end = index + c.len_utf8();
    }
    format!("{}{ELLIPSIS}", text[..end].trim_end())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_message_that_fits_is_sent_as_rendered() {
        let rendered = "{\n  \"type\": \"message\"\n}";
        let fitted = fit(rendered, json!({"type": "message"}), 100).expect("fits");
        assert_eq!(fitted.body, rendered);
        assert_eq!(fitted.shortened, 0);
    }

    #[test]
    fn a_message_that_fits_once_compact_loses_only_its_white_space() {
        let value = json!({"text": "x".repeat(50)});
        let rendered = format!("{{\n{}\"text\": \"{}\"\n}}", " ".repeat(100), "x".repeat(50));
        let fitted = fit(&rendered, value.clone(), 80).expect("fits");
        assert_eq!(fitted.body, serde_json::to_string(&value).unwrap());
        assert_eq!(fitted.shortened, 0);
    }

    #[test]
    fn the_longest_texts_give_up_their_tails_first_and_links_are_kept() {
        let link = format!("https://example.com/{}", "l".repeat(300));
        let value = json!({
            "short": "kept as it is",
            "long": "a".repeat(5000),
            "longer": "b".repeat(9000),
            "url": link,
            "list": ["c".repeat(400), 7, null, true],
        });
        let rendered = serde_json::to_string(&value).unwrap();
        let fitted = fit(&rendered, value, 1200).expect("fits");
        assert!(fitted.body.len() <= 1200, "{} bytes", fitted.body.len());
        let parsed: Value = serde_json::from_str(&fitted.body).expect("still JSON");
        assert_eq!(parsed["short"], "kept as it is");
        assert_eq!(parsed["url"], json!(link));
        assert_eq!(parsed["list"][1], 7);
        let long = parsed["long"].as_str().unwrap();
        let longer = parsed["longer"].as_str().unwrap();
        assert!(long.starts_with("aaaa") && long.ends_with('…'), "{long}");
        assert!(longer.starts_with("bbbb") && longer.ends_with('…'), "{longer}");
        // Fair: both long texts were cut to the same cap, within one character.
        assert!(
            long.len().abs_diff(longer.len()) <= 1,
            "{} / {}",
            long.len(),
            longer.len()
        );
        assert_eq!(fitted.shortened, 3, "long, longer and the list item");
    }

    #[test]
    fn escapes_count_as_written_and_no_character_is_split() {
        let hostile = "\"\\\u{1}é🚨\n".repeat(2000);
        let value = json!({"text": hostile});
        let rendered = serde_json::to_string(&value).unwrap();
        for max in [300, 301, 302, 303, 1000, 5555] {
            let fitted = fit(&rendered, value.clone(), max).expect("fits");
            assert!(fitted.body.len() <= max, "{max}: {} bytes", fitted.body.len());
            let parsed: Value = serde_json::from_str(&fitted.body).expect("still JSON");
            let text = parsed["text"].as_str().unwrap();
            let kept = text.strip_suffix('…').expect("ends with …");
            assert!(hostile.starts_with(kept.trim_end()), "{max}: {text:?}");
            // Close to the limit: the cut does not throw away more than a few characters' worth.
            assert!(
                fitted.body.len() + 12 > max,
                "{max}: only {} bytes",
                fitted.body.len()
            );
        }
    }

    #[test]
    fn a_message_made_of_many_short_facts_is_refused_with_its_size() {
        let facts: Vec<Value> = (0..3000)
            .map(|i| json!({"title": format!("f{i}"), "value": "v"}))
            .collect();
        let value = json!({"facts": facts});
        let rendered = serde_json::to_string(&value).unwrap();
        let error = fit(&rendered, value, MAX_BODY_BYTES).expect_err("too many facts");
        assert!(
            error.starts_with(&format!(
                "the message is {} bytes, and still over the 28000-byte limit",
                rendered.len()
            )),
            "{error}"
        );
    }

    #[test]
    fn a_long_link_is_never_cut_even_when_that_means_refusing() {
        let value =
            json!({"url": format!("data:image/png;base64,{}", "A".repeat(40_000)), "text": "t".repeat(200)});
        let rendered = serde_json::to_string(&value).unwrap();
        assert!(fit(&rendered, value, MAX_BODY_BYTES).is_err());
    }

    #[test]
    fn shorten_counts_escapes_and_ends_with_an_ellipsis() {
        assert_eq!(shorten("abcdefgh", 7), "abcd…");
        assert_eq!(shorten("ab   cdefgh", 8), "ab…");
        assert_eq!(shorten("\"\"\"\"", 7), "\"\"…");
        assert_eq!(escaped_len(&shorten("éééé", 7)), 7);
        assert_eq!(shorten("éééé", 7), "éé…");
        assert_eq!(escaped_len("\u{1}\"a\n"), 6 + 2 + 1 + 2);
    }
}
