//! The helper functions, callable as `{{@JsonEncode(…)}}` (product syntax, through the per-render
//! object) and as `{{ JsonEncode(x) }}` / `{{ x | JsonEncode }}` (Jinja).
//!
//! Encoders (`JsonEncode`, `XmlEncode`, `UrlEncode`, `Base64Encode`, `HexToBase64`) return values
//! marked safe and remembered with their [`Encoding`]: they are not escaped a second time where
//! their encoding fits, and are escaped where it does not. Every other helper
//! (`JsonDecode`, `XmlDecode`, `Base64Decode`, `DateTime`, `RandomGuid`, `UniqueGuid`,
//! `CustomField`) returns an ordinary value, escaped like any bare value.

use std::{
    collections::{BTreeMap, HashMap},
    fmt,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, AtomicUsize},
    },
};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use minijinja::{Error, ErrorKind, State, Value, value::Object};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

pub(super) use super::datetime::looks_like_offset;
use super::{MAX_BUILT_BYTES, bounds, datetime};

/// How many arguments a helper takes.
#[derive(Debug, Clone, Copy)]
pub(super) struct Arity {
    pub min: usize,
    pub max: usize,
    /// The last argument is split off only when it looks like a `DateTime` offset.
    pub offset_tail: bool,
}

const fn arity(min: usize, max: usize) -> Arity {
    Arity {
        min,
        max,
        offset_tail: false,
    }
}

/// Every helper: canonical name and arity.
pub(super) const HELPERS: &[(&str, Arity)] = &[
    ("JsonEncode", arity(1, 1)),
    ("JsonDecode", arity(1, 1)),
    ("XmlEncode", arity(1, 1)),
    ("XmlDecode", arity(1, 1)),
    ("UrlEncode", arity(1, 1)),
    ("Base64Encode", arity(1, 1)),
    ("Base64Decode", arity(1, 1)),
    ("HexToBase64", arity(1, 1)),
    (
        "DateTime",
        Arity {
            min: 1,
            max: 2,
            offset_tail: true,
        },
    ),
    ("RandomGuid", arity(0, 0)),
    ("UniqueGuid", arity(0, 0)),
    ("CustomField", arity(1, 1)),
];

/// The helper called `name` (any case): canonical name and arity.
pub(super) fn lookup(name: &str) -> Option<(&'static str, Arity)> {
    HELPERS
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .copied()
}

/// Every helper name.
pub(super) fn names() -> Vec<&'static str> {
    HELPERS.iter().map(|(name, _)| *name).collect()
}

/// RFC 3986 unreserved characters stay; everything else is percent-encoded.
pub(super) const URL_UNRESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// What an encoder's output is already encoded for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    /// `JsonEncode`: JSON string content.
    Json,
    /// `XmlEncode`: XML/HTML text.
    Xml,
    /// `UrlEncode` (and a URL base): only URL-safe characters.
    Url,
    /// `Base64Encode`, `HexToBase64`: `[A-Za-z0-9+/=]`.
    Base64,
}

/// Encoder outputs remembered per render, at most this many.
const MAX_REMEMBERED: usize = 10_000;

/// Per-render data the helpers need, put into the context as [`super::prepass::INTERNAL`].
pub(super) struct Internal {
    pub now: DateTime<Utc>,
    pub unique_guid: uuid::Uuid,
    pub custom_fields: BTreeMap<String, String>,
    /// Texts the encoders produced in this render, so that the formatter writes them unescaped
    /// only where their encoding fits (a `JsonEncode` output is still HTML-escaped in HTML).
    pub encoded: Mutex<Encoded>,
    /// Bytes the formatter wrote in this render, into the output and into captures.
    pub formatted: AtomicUsize,
    /// Set by the output writer once the output is larger than the limit.
    pub output_full: Arc<AtomicBool>,
}

/// The encoder outputs of one render, and the bytes they hold (at most [`MAX_BUILT_BYTES`]: a
/// loop of encoder calls would otherwise keep a copy of every result until the render ends).
#[derive(Debug, Default)]
pub(super) struct Encoded {
    texts: HashMap<String, Encoding>,
    bytes: usize,
}

impl Internal {
    /// A marked-safe encoder output, remembered with its encoding.
    fn encoded(&self, text: String, encoding: Encoding) -> Result<Value, Error> {
        let mut encoded = self.encoded.lock().unwrap_or_else(PoisonError::into_inner);
        if encoded.texts.len() < MAX_REMEMBERED && !encoded.texts.contains_key(&text) {
            encoded.bytes = encoded.bytes.saturating_add(text.len());
            if encoded.bytes > MAX_BUILT_BYTES {
                return Err(failure(format!(
                    "the template's encoder results (JsonEncode, XmlEncode, …) hold more than {MAX_BUILT_BYTES} bytes; bound its loops"
                )));
            }
            encoded.texts.insert(text.clone(), encoding);
        }
        Ok(Value::from_safe_string(text))
    }

    /// A URL-encoded output of a user function: kept as it is in URLs, like `UrlEncode`'s.
    pub(super) fn url_encoded(&self, text: String) -> Result<Value, Error> {
        self.encoded(text, Encoding::Url)
    }

    /// The encoding of `text` when an encoder produced it in this render.
    pub fn encoding_of(&self, text: &str) -> Option<Encoding> {
        self.encoded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .texts
            .get(text)
            .copied()
    }
}

impl fmt::Debug for Internal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<tocsin helpers>")
    }
}

impl Object for Internal {
    fn call_method(
        self: &Arc<Self>,
        _state: &State<'_, '_>,
        method: &str,
        args: &[Value],
    ) -> Result<Value, Error> {
        if method == "UrlBase" {
            // The value that starts a URL template: an absolute http(s) URL stays as it is.
            return Ok(match args.first().and_then(Value::as_str) {
                Some(text) if is_url_base(text) => self.encoded(text.to_owned(), Encoding::Url)?,
                _ => args.first().cloned().unwrap_or(Value::UNDEFINED),
            });
        }
        match (method, args) {
            ("tilde", [a, b]) => return bounds::tilde(a, b),
            ("plus", [a, b]) => return bounds::plus(a, b),
            ("times", [a, b]) => return bounds::times(a, b),
            ("needle", [value]) => return bounds::needle(value),
            _ => {}
        }
        if method == "concat" {
            // The pieces of a product-syntax argument (`{{@Base64Encode({{User}}:{{Password}})}}`).
            let mut text = String::new();
            for arg in args {
                text.push_str(&text_of(arg)?);
                if text.len() > MAX_BUILT_BYTES {
                    return Err(failure(format!(
                        "a helper's argument would be larger than {MAX_BUILT_BYTES} bytes; bound its pieces"
                    )));
                }
            }
            return Ok(Value::from(text));
        }
        call(self, method, args)
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<tocsin helpers>")
    }
}

/// Runs helper `name` from Jinja: finds the per-render object in the state.
pub(super) fn call_from_state(state: &State<'_, '_>, name: &str, args: &[Value]) -> Result<Value, Error> {
    let internal = state.lookup(super::prepass::INTERNAL);
    let Some(internal) = internal
        .as_ref()
        .and_then(|value| value.downcast_object_ref::<Internal>())
    else {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("{name}: helper data missing from the context"),
        ));
    };
    call(internal, name, args)
}

/// Marks an error whose detail is the whole user-facing reason (no minijinja kind prefix).
#[derive(Debug)]
pub(super) struct Plain;

impl fmt::Display for Plain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tocsin template error")
    }
}

impl std::error::Error for Plain {}

/// An error whose detail is shown as the reason.
pub(super) fn failure(detail: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidOperation, detail.into()).with_source(Plain)
}

/// Whether `err` came from [`failure`].
pub(super) fn is_plain(err: &Error) -> bool {
    std::error::Error::source(err).is_some_and(|source| source.is::<Plain>())
}

/// A helper argument as text; undefined is an error (strict), none is empty, and a value whose
/// text would be larger than [`MAX_BUILT_BYTES`] is refused (an encoder's output is up to six
/// times its input, and the next helper refuses that).
fn text_of(value: &Value) -> Result<String, Error> {
    if value.is_undefined() {
        return Err(Error::from(ErrorKind::UndefinedError));
    }
    if value.is_none() {
        return Ok(String::new());
    }
    bounds::text_within(value, MAX_BUILT_BYTES)
        .map(std::borrow::Cow::into_owned)
        .ok_or_else(|| {
            failure(format!(
                "a helper's argument is larger than {MAX_BUILT_BYTES} bytes; bound its input"
            ))
        })
}

/// A function argument as text ([`text_of`]: undefined is an error, the size is bounded).
pub(super) fn argument_text(value: &Value) -> Result<String, Error> {
    text_of(value)
}

fn call(internal: &Internal, name: &str, args: &[Value]) -> Result<Value, Error> {
    let Some((canonical, arity)) = lookup(name) else {
        return Err(Error::new(
            ErrorKind::UnknownMethod,
            format!("unknown helper `{name}`"),
        ));
    };
    if args.len() < arity.min || args.len() > arity.max {
        return Err(failure(format!(
            "{canonical} takes {} argument(s), got {}",
            if arity.min == arity.max {
                arity.min.to_string()
            } else {
                format!("{} to {}", arity.min, arity.max)
            },
            args.len()
        )));
    }
    let arg = |i: usize| -> Result<String, Error> { args.get(i).map_or(Ok(String::new()), text_of) };
    let value = match canonical {
        "JsonEncode" => internal.encoded(json_escape(&arg(0)?), Encoding::Json)?,
        "JsonDecode" => Value::from(json_decode(&arg(0)?)?),
        "XmlEncode" => internal.encoded(xml_encode(&arg(0)?), Encoding::Xml)?,
        "XmlDecode" => Value::from(xml_decode(&arg(0)?)),
        "UrlEncode" => internal.encoded(
            utf8_percent_encode(&arg(0)?, URL_UNRESERVED).to_string(),
            Encoding::Url,
        )?,
        "Base64Encode" => internal.encoded(
            base64::engine::general_purpose::STANDARD.encode(arg(0)?),
            Encoding::Base64,
        )?,
        "Base64Decode" => Value::from(base64_decode(&arg(0)?)?),
        "HexToBase64" => internal.encoded(hex_to_base64(&arg(0)?)?, Encoding::Base64)?,
        "DateTime" => {
            let offset = if args.len() > 1 { Some(arg(1)?) } else { None };
            Value::from(datetime::render(internal.now, &arg(0)?, offset.as_deref()).map_err(failure)?)
        }
        "RandomGuid" => Value::from(uuid::Uuid::new_v4().to_string()),
        "UniqueGuid" => Value::from(internal.unique_guid.to_string()),
        "CustomField" => Value::from(custom_field(&internal.custom_fields, &arg(0)?)?),
        other => {
            return Err(Error::new(
                ErrorKind::UnknownMethod,
                format!("unknown helper `{other}`"),
            ));
        }
    };
    Ok(value)
}

/// JSON string escaping without the surrounding quotes.
pub(super) fn json_escape(text: &str) -> String {
    let quoted = serde_json::to_string(text).unwrap_or_default();
    quoted
        .get(1..quoted.len().saturating_sub(1))
        .unwrap_or_default()
        .to_owned()
}

fn json_decode(text: &str) -> Result<String, Error> {
    serde_json::from_str::<String>(&format!("\"{text}\"")).map_err(|err| {
        failure(format!(
            "JsonDecode: the argument is not JSON-escaped text ({})",
            err_without_position(&err)
        ))
    })
}

fn err_without_position(err: &serde_json::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at line ") {
        Some(cut) => text[..cut].to_owned(),
        None => text,
    }
}

/// XML/HTML escaping of `& < > " '` ([`crate::escape::html`]).
pub(super) fn xml_encode(text: &str) -> String {
    crate::escape::html(text)
}

/// Reverses [`xml_encode`], plus numeric references (`&#65;`, `&#x41;`); unknown entities stay.
fn xml_decode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        out.push_str(&rest[..amp]);
        rest = &rest[amp..];
        let decoded = rest.find(';').filter(|&end| end <= 12).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => entity
                    .strip_prefix("#x")
                    .or_else(|| entity.strip_prefix("#X"))
                    .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                    .or_else(|| entity.strip_prefix('#').and_then(|dec| dec.parse().ok()))
                    .and_then(char::from_u32),
            };
            c.map(|c| (c, end))
        });
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

fn base64_decode(text: &str) -> Result<String, Error> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    let text = text.trim();
    let bytes = [STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD]
        .iter()
        .find_map(|engine| engine.decode(text).ok())
        .ok_or_else(|| failure("Base64Decode: the argument is not valid base64".to_owned()))?;
    String::from_utf8(bytes)
        .map_err(|_| failure("Base64Decode: the decoded bytes are not UTF-8 text".to_owned()))
}

fn hex_to_base64(text: &str) -> Result<String, Error> {
    let text = text.trim();
    let invalid = || failure("HexToBase64: the argument is not an even-length hexadecimal string".to_owned());
    if !text.len().is_multiple_of(2) || !text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid());
    }
    let bytes = (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| invalid()))
        .collect::<Result<Vec<u8>, Error>>()?;
    Ok(base64::engine::general_purpose::STANDARD.encode(bytes))
}

fn custom_field(fields: &BTreeMap<String, String>, name: &str) -> Result<String, Error> {
    let name = name.trim();
    if let Some(value) = fields.get(name) {
        return Ok(value.clone());
    }
    if let Some((_, value)) = fields.iter().find(|(key, _)| key.eq_ignore_ascii_case(name)) {
        return Ok(value.clone());
    }
    let known: Vec<String> = fields.keys().map(|key| format!("`{key}`")).collect();
    Err(failure(format!(
        "unknown custom field `{name}` (the monitor has {})",
        if known.is_empty() {
            "no custom fields".to_owned()
        } else {
            known.join(", ")
        }
    )))
}

/// An absolute `http://` or `https://` URL without characters a URL cannot hold.
fn is_url_base(text: &str) -> bool {
    let lower = text.get(..8).unwrap_or(text).to_ascii_lowercase();
    (lower.starts_with("http://") || lower.starts_with("https://"))
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "\"<>\\`{}|^".contains(c))
}
