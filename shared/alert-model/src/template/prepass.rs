//! The product-syntax pre-pass: rewrites `{{@monitor.name}}`, `{{@JsonEncode({{@monitor.notes}})}}`,
//! `{{@CustomField(Team)}}`, `{{@DateTime(yyyy-MM-dd, -3600)}}` and `{{myFn({{x}})}}` in the TEMPLATE
//! text into Jinja expressions, and leaves everything else (Jinja tags, `{% raw %}` blocks, comments,
//! literal text) untouched. Values never pass through here, so a value that looks like template code
//! stays data.
//!
//! Every rewritten tag keeps the number of line breaks it had, so minijinja's line numbers are the
//! lines of the original template.
//!
//! Grammar of a product tag (no whitespace after `{{`):
//! - `{{@group.name}}`: one of the alert variables (case-insensitive, written back canonically);
//! - `{{@Function}}` / `{{@Function(arguments)}}`: a helper; the argument list ends at `)}}`;
//! - `{{name(arguments)}}` without `@`: a user function, recognised only when an argument holds a
//!   nested `{{…}}` (otherwise it is an ordinary Jinja call such as `{{range(3)}}`);
//! - an argument is literal text mixed with nested tags: `{{@Base64Encode({{User}}:{{Password}})}}`.
//!   A nested tag is a product tag or any Jinja expression (`{{ApiKey}}`, `{{ x | upper }}`).
//!   One-argument helpers take the whole text (commas included) as their argument; `DateTime`
//!   splits off a trailing `, offset` only when it looks like an offset (or is a nested tag).

use std::{collections::BTreeMap, sync::OnceLock};

use super::helpers::{self, Arity};
use crate::Alert;

/// Deepest nesting of tags inside arguments.
const MAX_DEPTH: usize = 32;

/// Largest template accepted, in bytes.
pub(super) const MAX_TEMPLATE_BYTES: usize = 512 * 1024;

/// Name of the per-render object that carries the helpers in translated expressions.
pub(super) const INTERNAL: &str = "__tocsin";

/// A product-syntax error at a byte offset of the template.
#[derive(Debug)]
pub(super) struct PrepassError {
    pub offset: usize,
    pub reason: String,
}

type Result<T> = std::result::Result<T, PrepassError>;

/// Translates the product syntax in `source` into Jinja, keeping line numbers.
///
/// With `url_base` (URL templates), a user variable tag at the very start of the template is
/// wrapped in `UrlBase`, which keeps an absolute http(s) URL value as it is
/// (`{{ApiUrl}}/incidents`); every other value of a URL template is percent-encoded, alert values
/// included: an alert value comes from whoever publishes the alert and must never choose the
/// host a request (and its credentials) goes to.
pub(super) fn translate(source: &str, url_base: bool) -> Result<String> {
    if source.len() > MAX_TEMPLATE_BYTES {
        return Err(PrepassError {
            offset: 0,
            reason: format!("the template is larger than {MAX_TEMPLATE_BYTES} bytes"),
        });
    }
    let scanner = Scanner {
        src: source,
        bytes: source.as_bytes(),
    };
    let translated = scanner.run()?;
    Ok(if url_base {
        wrap_url_base(&translated)
    } else {
        translated
    })
}

/// Wraps the expression of a leading `{{ … }}` tag of translated Jinja in `UrlBase`.
fn wrap_url_base(translated: &str) -> String {
    if !translated.starts_with("{{") {
        return translated.to_owned();
    }
    let scanner = Scanner {
        src: translated,
        bytes: translated.as_bytes(),
    };
    let end = scanner.tag_end(2, "}}");
    let Some(inner) = translated
        .get(2..end.saturating_sub(2))
        .filter(|_| translated[..end].ends_with("}}"))
    else {
        return translated.to_owned();
    };
    let inner = inner.strip_prefix(['-', '+']).unwrap_or(inner);
    let (inner, trail) = match inner.strip_suffix(['-', '+']) {
        Some(stripped) => (stripped, &inner[stripped.len()..]),
        None => (inner, ""),
    };
    // Only a bare name, which is a user variable (the alert groups are objects, not URLs).
    let name = inner.trim();
    let bare = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name != INTERNAL;
    if !bare {
        return translated.to_owned();
    }
    format!(
        "{{{{ {INTERNAL}.UrlBase(({inner})) {trail}}}}}{}",
        &translated[end..]
    )
}

/// Whether `source` contains Jinja block tags (`{% … %}`), which can drop or repeat lines.
pub(super) fn has_blocks(source: &str) -> bool {
    source.contains("{%")
}

/// 1-based line of byte `offset` in `source`.
pub(super) fn line_of(source: &str, offset: usize) -> usize {
    let end = offset.min(source.len());
    source.as_bytes()[..end].iter().filter(|&&b| b == b'\n').count() + 1
}

/// One piece of an argument list.
#[derive(Debug)]
enum Part {
    Lit(String),
    Expr(String),
    Comma,
}

struct Scanner<'a> {
    src: &'a str,
    bytes: &'a [u8],
}

impl<'a> Scanner<'a> {
    fn at(&self, pos: usize, text: &str) -> bool {
        self.bytes.get(pos..pos + text.len()) == Some(text.as_bytes())
    }

    fn err(&self, offset: usize, reason: impl Into<String>) -> PrepassError {
        PrepassError {
            offset,
            reason: reason.into(),
        }
    }

    fn run(&self) -> Result<String> {
        let mut out = String::with_capacity(self.src.len() + 64);
        let mut copied = 0;
        let mut pos = 0;
        while pos < self.bytes.len() {
            if self.at(pos, "{#") {
                pos = self.find(pos + 2, "#}").map_or(self.bytes.len(), |end| end + 2);
            } else if self.at(pos, "{%") {
                let end = self.tag_end(pos + 2, "%}");
                pos = if block_name(self.src.get(pos + 2..end.saturating_sub(2)).unwrap_or("")) == "raw" {
                    self.raw_end(end)
                } else {
                    end
                };
            } else if self.at(pos, "{{") {
                match self.top_tag(pos)? {
                    Some((expr, end)) => {
                        out.push_str(&self.src[copied..pos]);
                        out.push_str("{{ ");
                        out.push_str(&expr);
                        let lost = count_newlines(&self.src[pos..end]).saturating_sub(count_newlines(&expr));
                        out.extend(std::iter::repeat_n('\n', lost));
                        out.push_str(" }}");
                        copied = end;
                        pos = end;
                    }
                    None => pos = self.tag_end(pos + 2, "}}"),
                }
            } else {
                pos += 1;
            }
        }
        out.push_str(&self.src[copied..]);
        Ok(out)
    }

    /// First occurrence of `text` at or after `from`.
    fn find(&self, from: usize, text: &str) -> Option<usize> {
        self.src.get(from..)?.find(text).map(|i| i + from)
    }

    /// Position just after the `close` delimiter of a Jinja tag whose content starts at `from`,
    /// skipping string literals; the end of the text when unterminated (minijinja reports it).
    fn tag_end(&self, from: usize, close: &str) -> usize {
        // As minijinja's lexer: the delimiter closes the tag only outside brackets, so that the
        // `}}` of `{{{}}}` is the map literal's `}` and the tag's first `}`, not the tag's end.
        let mut balance: isize = 0;
        let mut pos = from;
        while pos < self.bytes.len() {
            match self.bytes[pos] {
                quote @ (b'"' | b'\'') => {
                    pos += 1;
                    while pos < self.bytes.len() && self.bytes[pos] != quote {
                        pos += if self.bytes[pos] == b'\\' { 2 } else { 1 };
                    }
                    pos += 1;
                }
                _ if balance == 0 && self.at(pos, close) => return pos + close.len(),
                b'(' | b'[' | b'{' => {
                    balance += 1;
                    pos += 1;
                }
                b')' | b']' | b'}' => {
                    balance -= 1;
                    pos += 1;
                }
                _ => pos += 1,
            }
        }
        self.bytes.len()
    }

    /// Position just after the `{% endraw %}` that closes a raw block whose body starts at `from`.
    fn raw_end(&self, from: usize) -> usize {
        let mut pos = from;
        while let Some(start) = self.find(pos, "{%") {
            let end = self.tag_end(start + 2, "%}");
            if block_name(self.src.get(start + 2..end.saturating_sub(2)).unwrap_or("")) == "endraw" {
                return end;
            }
            pos = start + 2;
        }
        self.bytes.len()
    }

    /// A top-level `{{…}}` at `start`: `Some` when it is product syntax, `None` for plain Jinja.
    fn top_tag(&self, start: usize) -> Result<Option<(String, usize)>> {
        let body = start + 2;
        if self.at(body, "@") {
            return self.product(body + 1, start, 0).map(Some);
        }
        self.user_call(body, 0)
    }

    /// A nested `{{…}}` inside an argument list: product syntax or any Jinja expression.
    fn nested_tag(&self, start: usize, depth: usize) -> Result<(String, usize)> {
        if depth > MAX_DEPTH {
            return Err(self.err(start, format!("tags are nested more than {MAX_DEPTH} deep")));
        }
        let body = start + 2;
        if self.at(body, "@") {
            return self.product(body + 1, start, depth);
        }
        if let Some(found) = self.user_call(body, depth)? {
            return Ok(found);
        }
        let end = self.tag_end(body, "}}");
        if !self.src[..end].ends_with("}}") {
            return Err(self.err(start, "unterminated nested `{{` (missing `}}`)"));
        }
        let inner = self.src[body..end - 2].trim();
        if inner.is_empty() {
            return Err(self.err(start, "empty nested `{{}}`"));
        }
        Ok((format!("({inner})"), end))
    }

    /// `name(args)}}` without `@`, starting at `body`: a user function when a nested `{{` comes
    /// before the next `}}` (a Jinja call such as `{{range(3)}}` never holds one). Decided by that
    /// short look-ahead, never by backtracking, so scanning stays linear.
    fn user_call(&self, body: usize, depth: usize) -> Result<Option<(String, usize)>> {
        let name_end = self.ident_end(body, false);
        if name_end == body || !self.at(name_end, "(") {
            return Ok(None);
        }
        let rest = &self.bytes[name_end + 1..];
        let nested_first = rest
            .windows(2)
            .find(|pair| pair == b"{{" || pair == b"}}")
            .is_some_and(|pair| pair == b"{{");
        if !nested_first {
            return Ok(None);
        }
        let (parts, end) = self.args(name_end + 1, body - 2, depth)?;
        let name = &self.src[body..name_end];
        let arg = argument(parts);
        Ok(Some((format!("{name}({arg})"), end)))
    }

    /// End of an identifier (`[A-Za-z0-9_]`, and `.` when `dotted`) starting at `from`.
    fn ident_end(&self, from: usize, dotted: bool) -> usize {
        let mut pos = from;
        while pos < self.bytes.len() {
            let b = self.bytes[pos];
            if b.is_ascii_alphanumeric() || b == b'_' || (dotted && b == b'.') {
                pos += 1;
            } else {
                break;
            }
        }
        pos
    }

    /// After `{{@` (at `body`): a variable or a helper call; `start` is the tag's `{{`.
    fn product(&self, body: usize, start: usize, depth: usize) -> Result<(String, usize)> {
        let name_end = self.ident_end(body, true);
        let name = &self.src[body..name_end];
        if name.is_empty() {
            return Err(self.err(start, "`{{@` must be followed by a variable or function name"));
        }
        if name.contains('.') {
            let end = self.close(name_end, start, name)?;
            return Ok((variable(name).map_err(|reason| self.err(start, reason))?, end));
        }
        let Some((canonical, arity)) = helpers::lookup(name) else {
            return Err(self.err(
                start,
                format!(
                    "unknown function `@{name}` (known: {})",
                    helpers::names().join(", ")
                ),
            ));
        };
        let (parts, end) = if self.at(name_end, "(") {
            self.args(name_end + 1, start, depth)?
        } else {
            (Vec::new(), self.close(name_end, start, name)?)
        };
        let args = split_args(parts, arity);
        if args.len() < arity.min || args.len() > arity.max {
            return Err(self.err(start, arity_message(canonical, arity, args.len())));
        }
        let args: Vec<String> = args.into_iter().map(argument).collect();
        Ok((format!("{INTERNAL}.{canonical}({})", args.join(", ")), end))
    }

    /// Expects optional spaces and `}}` at `pos`; returns the position after it.
    fn close(&self, pos: usize, start: usize, name: &str) -> Result<usize> {
        let mut pos = pos;
        while self.bytes.get(pos).is_some_and(|b| *b == b' ') {
            pos += 1;
        }
        if self.at(pos, "}}") {
            Ok(pos + 2)
        } else {
            Err(self.err(start, format!("`{{{{@{name}` must be closed by `}}}}`")))
        }
    }

    /// An argument list starting after `(`, ending at `)}}`; returns the parts and the position
    /// after `}}`.
    fn args(&self, from: usize, start: usize, depth: usize) -> Result<(Vec<Part>, usize)> {
        let mut parts = Vec::new();
        let mut literal = String::new();
        let mut pos = from;
        loop {
            if pos >= self.bytes.len() {
                return Err(self.err(start, "unterminated argument list (missing `)}}`)"));
            }
            if self.at(pos, ")}}") {
                flush(&mut literal, &mut parts);
                return Ok((parts, pos + 3));
            }
            if self.at(pos, "{{") {
                flush(&mut literal, &mut parts);
                let (expr, end) = self.nested_tag(pos, depth + 1)?;
                parts.push(Part::Expr(expr));
                pos = end;
                continue;
            }
            let Some(ch) = self.src[pos..].chars().next() else {
                return Err(self.err(start, "unterminated argument list (missing `)}}`)"));
            };
            if ch == ',' {
                flush(&mut literal, &mut parts);
                parts.push(Part::Comma);
            } else {
                literal.push(ch);
            }
            pos += ch.len_utf8();
        }
    }
}

fn flush(literal: &mut String, parts: &mut Vec<Part>) {
    if !literal.is_empty() {
        parts.push(Part::Lit(std::mem::take(literal)));
    }
}

fn count_newlines(text: &str) -> usize {
    text.bytes().filter(|&b| b == b'\n').count()
}

/// The keyword of a block tag's content (`- raw -` → `raw`).
fn block_name(content: &str) -> &str {
    content.trim_matches(|c: char| c == '-' || c == '+' || c == '~' || c.is_whitespace())
}

/// Splits the parts of an argument list into arguments according to the helper's arity.
fn split_args(parts: Vec<Part>, arity: Arity) -> Vec<Vec<Part>> {
    let empty = parts
        .iter()
        .all(|part| matches!(part, Part::Lit(text) if text.trim().is_empty()));
    if empty {
        return Vec::new();
    }
    if arity.max <= 1 {
        return vec![parts];
    }
    if arity.offset_tail {
        // DateTime(format[, offset]): split at the last comma only when the tail is an offset.
        let last_comma = parts.iter().rposition(|part| matches!(part, Part::Comma));
        if let Some(comma) = last_comma {
            let tail = &parts[comma + 1..];
            let is_offset = match tail {
                [Part::Lit(text)] => helpers::looks_like_offset(text.trim()),
                [Part::Expr(_)] => true,
                [Part::Lit(a), Part::Expr(_)] | [Part::Expr(_), Part::Lit(a)] => a.trim().is_empty(),
                [Part::Lit(a), Part::Expr(_), Part::Lit(b)] => a.trim().is_empty() && b.trim().is_empty(),
                _ => false,
            };
            if is_offset {
                let mut head = parts;
                let tail = head.split_off(comma + 1);
                head.pop();
                return vec![trim(head), trim(tail)];
            }
        }
        return vec![trim(parts)];
    }
    let mut args = vec![Vec::new()];
    for part in parts {
        match part {
            Part::Comma => args.push(Vec::new()),
            other => {
                if let Some(last) = args.last_mut() {
                    last.push(other);
                }
            }
        }
    }
    args.into_iter().map(trim).collect()
}

/// Trims whitespace at both ends of an argument's literal text.
fn trim(mut parts: Vec<Part>) -> Vec<Part> {
    if let Some(Part::Lit(first)) = parts.first_mut() {
        *first = first.trim_start().to_owned();
    }
    if let Some(Part::Lit(last)) = parts.last_mut() {
        *last = last.trim_end().to_owned();
    }
    parts.retain(|part| !matches!(part, Part::Lit(text) if text.is_empty()));
    parts
}

/// The Jinja expression of one argument: a string literal, an expression, or their concatenation.
fn argument(parts: Vec<Part>) -> String {
    let mut pieces: Vec<String> = parts
        .into_iter()
        .map(|part| match part {
            Part::Lit(text) => string_literal(&text),
            Part::Expr(expr) => expr,
            Part::Comma => string_literal(","),
        })
        .collect();
    match pieces.len() {
        0 => "\"\"".to_owned(),
        1 => pieces.remove(0),
        _ => format!("{INTERNAL}.concat({})", pieces.join(", ")),
    }
}

/// A Jinja string literal holding `text` exactly (JSON escapes are valid Jinja escapes).
fn string_literal(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_else(|_| "\"\"".to_owned())
}

/// The canonical Jinja path of a product variable (`alert.Type` → `alert.type`), or why not.
fn variable(name: &str) -> std::result::Result<String, String> {
    if name.to_ascii_lowercase().starts_with("vaultitem.") {
        return Err(format!(
            "`@{name}`: vault items are not supported; use a secret variable of the integration"
        ));
    }
    if let Some(field) = name
        .get(..21)
        .filter(|prefix| prefix.eq_ignore_ascii_case("monitor.customFields."))
        .and_then(|_| name.get(21..))
        .filter(|field| !field.is_empty())
    {
        return Ok(format!("{INTERNAL}.CustomField({})", string_literal(field)));
    }
    known_variables()
        .get(&name.to_ascii_lowercase())
        .cloned()
        .ok_or_else(|| format!("unknown variable `@{name}`"))
}

/// Lower-cased `group.name` → canonical `group.name`, for every scalar alert variable.
fn known_variables() -> &'static BTreeMap<String, String> {
    static KNOWN: OnceLock<BTreeMap<String, String>> = OnceLock::new();
    KNOWN.get_or_init(|| {
        let mut known = BTreeMap::new();
        if let Ok(serde_json::Value::Object(groups)) = serde_json::to_value(Alert::default()) {
            for (group, fields) in groups {
                if let serde_json::Value::Object(fields) = fields {
                    for (field, value) in fields {
                        if !value.is_object() {
                            let path = format!("{group}.{field}");
                            known.insert(path.to_ascii_lowercase(), path);
                        }
                    }
                }
            }
        }
        known
    })
}

/// The canonical names of every product variable, for documentation and tests.
pub(super) fn variable_names() -> Vec<&'static str> {
    known_variables().values().map(String::as_str).collect()
}

fn arity_message(name: &str, arity: Arity, got: usize) -> String {
    let expected = match (arity.min, arity.max) {
        (0, 0) => "no arguments".to_owned(),
        (min, max) if min == max => format!("{min} argument{}", if min == 1 { "" } else { "s" }),
        (min, max) => format!("{min} to {max} arguments"),
    };
    format!("`@{name}` takes {expected}, got {got}")
}
