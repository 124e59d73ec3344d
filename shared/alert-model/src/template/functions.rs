//! User functions: defined per integration (the product's "user defined functions"), called from
//! its templates as `{{fn({{x}})}}` (product syntax) or `{{ fn(x) }}` (Jinja).
//!
//! Kinds: a mapping table (`Ok` → `resolved`, with a default), a regular expression (extract a
//! capture, or replace every match), a hash (MD5, SHA-1, SHA-256, SHA-512), an HMAC (SHA-1, SHA-256,
//! SHA-512) with a key that is a template (usually a secret variable), an encoding or decoding
//! (base64, base64url, URL, hex) and a date in a chosen time zone and .NET-style format.
//!
//! [`check`] reports every problem of a set of definitions with its path (for `tocsin validate`);
//! [`Functions::compile`] builds them for a render, the HMAC keys rendered by the caller.

use std::{collections::BTreeMap, fmt, sync::Arc};

use base64::Engine as _;
use chrono::{DateTime, Utc};
use minijinja::{State, Value, value::Object};
use serde::{Deserialize, Serialize};

use super::{MAX_BUILT_BYTES, helpers};

/// Most user functions one integration may define.
pub const MAX_FUNCTIONS: usize = 64;

/// Longest regular expression of a function or an extraction, in bytes.
pub const MAX_PATTERN_BYTES: usize = 4096;

/// The compiled size a regular expression may reach (the `regex` crate's `size_limit`), in bytes.
pub const MAX_REGEX_SIZE: usize = 1 << 20;

/// Entries of one mapping table at most.
pub const MAX_MAP_ENTRIES: usize = 1024;

/// One user function, as written under `settings.functions.<name>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum FunctionDef {
    /// A mapping table: `{type: map, values: {Ok: resolved, Alert: triggered}, default: unknown}`;
    /// an input not in the table gives `default`, and is an error without one.
    Map {
        /// Input → output.
        values: BTreeMap<String, String>,
        /// The output for any other input.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// A regular expression (Rust `regex` syntax, size-limited): without `replace`, the first
    /// match's capture `group` (default: 1 when the pattern has a group, else the whole match);
    /// with `replace`, every match replaced (`$1`, `${name}` name captures). No match gives
    /// `default`, and is an error without one.
    Regex {
        /// The pattern.
        pattern: String,
        /// The replacement of every match.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        replace: Option<String>,
        /// The capture to extract: a number or a name.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<CaptureGroup>,
        /// The result when nothing matches (extraction only).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
    /// A hash of the input's UTF-8 bytes: `{type: hash, algorithm: sha256, encoding: hex}`.
    Hash {
        /// md5, sha1, sha256 or sha512.
        algorithm: HashAlgorithm,
        /// hex (default) or base64.
        #[serde(default)]
        encoding: DigestEncoding,
    },
    /// An HMAC of the input with a key: `{type: hmac, algorithm: sha256, key: "{{HmacKey}}"}`.
    Hmac {
        /// sha1, sha256 or sha512.
        algorithm: HmacAlgorithm,
        /// A template giving the key, usually a secret variable (`{{HmacKey}}`).
        key: String,
        /// How the rendered key is read: text (its UTF-8 bytes, default), base64 or hex.
        #[serde(default)]
        key_encoding: KeyEncoding,
        /// hex (default) or base64.
        #[serde(default)]
        encoding: DigestEncoding,
    },
    /// Encodes the input: `{type: encode, encoding: base64url}`.
    Encode {
        /// base64, base64url, url or hex.
        encoding: TextEncoding,
    },
    /// Decodes the input (the result must be UTF-8 text).
    Decode {
        /// base64, base64url, url or hex.
        encoding: TextEncoding,
    },
    /// A date (the input: RFC 3339 / ISO 8601, `yyyy-MM-dd HH:mm:ss` as UTC, Unix seconds, or empty
    /// for now) in a time zone and a format: `{type: date, format: "dd-MM-yyyy HH:mm", timeZone:
    /// Europe/Amsterdam}`. Formats are those of `@DateTime` (`Iso`, `Unix`, .NET standard letters and
    /// custom formats).
    Date {
        /// The format.
        format: String,
        /// An IANA time zone (`Europe/Amsterdam`); UTC by default.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        time_zone: Option<String>,
    },
}

/// A capture group, by number or by name.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum CaptureGroup {
    /// By number (0 is the whole match).
    Number(usize),
    /// By name (`(?P<id>…)`).
    Name(String),
}

/// Hash algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HashAlgorithm {
    /// MD5 (for targets that ask for it; not for security).
    Md5,
    /// SHA-1.
    Sha1,
    /// SHA-256.
    Sha256,
    /// SHA-512.
    Sha512,
}

/// HMAC algorithms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum HmacAlgorithm {
    /// HMAC-SHA1.
    Sha1,
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How a digest is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DigestEncoding {
    /// Lower-case hexadecimal.
    #[default]
    Hex,
    /// Standard base64 with padding.
    Base64,
}

/// How an HMAC key's rendered text is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum KeyEncoding {
    /// Its UTF-8 bytes.
    #[default]
    Text,
    /// Base64.
    Base64,
    /// Hexadecimal.
    Hex,
}

/// Text encodings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum TextEncoding {
    /// Standard base64 with padding.
    Base64,
    /// URL-safe base64 without padding (JWT).
    Base64url,
    /// Percent-encoding of everything but the RFC 3986 unreserved characters.
    Url,
    /// Lower-case hexadecimal of the UTF-8 bytes.
    Hex,
}

/// A regular expression with the size limits of user input: at most [`MAX_PATTERN_BYTES`] of
/// pattern and [`MAX_REGEX_SIZE`] compiled.
pub fn bounded_regex(pattern: &str) -> Result<regex::Regex, String> {
    if pattern.len() > MAX_PATTERN_BYTES {
        return Err(format!("the pattern is longer than {MAX_PATTERN_BYTES} bytes"));
    }
    regex::RegexBuilder::new(pattern)
        .size_limit(MAX_REGEX_SIZE)
        .dfa_size_limit(MAX_REGEX_SIZE)
        .nest_limit(64)
        .build()
        .map_err(|error| format!("invalid regular expression: {}", one_line(&error.to_string())))
}

fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why `name` cannot name a user function, if it cannot: an identifier (`[A-Za-z_][A-Za-z0-9_]*`)
/// that is not a helper's name, an alert group's (`alert`, `monitor`, …) or Jinja's own.
pub fn name_problem(name: &str) -> Option<String> {
    let identifier = name
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if !identifier {
        return Some("a function name is letters, digits and `_`, not starting with a digit".to_owned());
    }
    const RESERVED: &[&str] = &[
        "account",
        "alert",
        "alertDefinition",
        "escalationLevel",
        "incident",
        "monitor",
        "range",
        "dict",
        "namespace",
        "loop",
        "true",
        "false",
        "none",
    ];
    if helpers::lookup(name).is_some() {
        return Some(format!("`{name}` is a built-in helper"));
    }
    if RESERVED
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
        || name.starts_with("__")
    {
        return Some(format!("`{name}` is a reserved name"));
    }
    None
}

/// Every problem of `functions` (path inside the map, `<name>.pattern`, and what is wrong), without
/// rendering anything: names, patterns, capture groups, time zones, formats, sizes. An HMAC key is
/// a template the caller checks.
pub fn check(functions: &BTreeMap<String, FunctionDef>) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    if functions.len() > MAX_FUNCTIONS {
        problems.push((String::new(), format!("more than {MAX_FUNCTIONS} functions")));
    }
    for (name, function) in functions {
        if let Some(problem) = name_problem(name) {
            problems.push((name.clone(), problem));
        }
        if let Err((field, problem)) = Compiled::new(function, Vec::new()) {
            let path = if field.is_empty() {
                name.clone()
            } else {
                format!("{name}.{field}")
            };
            problems.push((path, problem));
        }
    }
    problems
}

/// The user functions of one render, compiled. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Functions {
    compiled: BTreeMap<String, Arc<Compiled>>,
}

impl Functions {
    /// Compiles `definitions`; `key` renders an HMAC function's key template (its name and
    /// template), so that the caller's variables and secrets stay with the caller. The error is
    /// the path inside the map and the problem.
    pub fn compile(
        definitions: &BTreeMap<String, FunctionDef>,
        mut key: impl FnMut(&str, &str) -> Result<String, String>,
    ) -> Result<Functions, (String, String)> {
        let mut compiled = BTreeMap::new();
        for (name, definition) in definitions {
            if let Some(problem) = name_problem(name) {
                return Err((name.clone(), problem));
            }
            let key_bytes = match definition {
                FunctionDef::Hmac {
                    key: template,
                    key_encoding,
                    ..
                } => {
                    let text = key(name, template).map_err(|problem| (format!("{name}.key"), problem))?;
                    decode_key(&text, *key_encoding).map_err(|problem| (format!("{name}.key"), problem))?
                }
                _ => Vec::new(),
            };
            let function = Compiled::new(definition, key_bytes).map_err(|(field, problem)| {
                let path = if field.is_empty() {
                    name.clone()
                } else {
                    format!("{name}.{field}")
                };
                (path, problem)
            })?;
            compiled.insert(name.clone(), Arc::new(function));
        }
        Ok(Functions { compiled })
    }

    /// Whether there is none.
    pub fn is_empty(&self) -> bool {
        self.compiled.is_empty()
    }

    /// Calls function `name` on `input` (tests, and callers outside templates).
    pub fn call(&self, name: &str, input: &str, now: DateTime<Utc>) -> Result<String, String> {
        let function = self
            .compiled
            .get(name)
            .ok_or_else(|| format!("unknown function `{name}`"))?;
        function.apply(input, now)
    }

    /// Name → callable template value.
    pub(super) fn values(&self) -> impl Iterator<Item = (&String, Value)> {
        self.compiled.iter().map(|(name, function)| {
            (
                name,
                Value::from_dyn_object(Arc::new(Callable {
                    name: name.clone(),
                    function: Arc::clone(function),
                })),
            )
        })
    }
}

fn decode_key(text: &str, encoding: KeyEncoding) -> Result<Vec<u8>, String> {
    match encoding {
        KeyEncoding::Text => Ok(text.as_bytes().to_vec()),
        KeyEncoding::Base64 => base64::engine::general_purpose::STANDARD
            .decode(text.trim())
            .map_err(|_| "the key is not base64 (its value is not shown)".to_owned()),
        KeyEncoding::Hex => hex_decode(text.trim())
            .ok_or_else(|| "the key is not hexadecimal (its value is not shown)".to_owned()),
    }
}

fn hex_decode(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) || !text.is_ascii() {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A compiled function.
#[derive(Debug)]
enum Compiled {
    Map {
        values: BTreeMap<String, String>,
        default: Option<String>,
    },
    Extract {
        regex: regex::Regex,
        group: CaptureGroup,
        default: Option<String>,
    },
    Replace {
        regex: regex::Regex,
        replacement: String,
    },
    Hash(HashAlgorithm, DigestEncoding),
    Hmac {
        algorithm: HmacAlgorithm,
        key: Vec<u8>,
        encoding: DigestEncoding,
    },
    Encode(TextEncoding),
    Decode(TextEncoding),
    Date {
        format: String,
        zone: chrono_tz::Tz,
    },
}

/// A function's result, and whether it is an encoding the escaper may keep.
struct Output {
    text: String,
    url_encoded: bool,
}

impl Output {
    fn plain(text: String) -> Self {
        Output {
            text,
            url_encoded: false,
        }
    }
}

impl Compiled {
    /// The compiled function, or the field and problem.
    fn new(definition: &FunctionDef, key: Vec<u8>) -> Result<Compiled, (String, String)> {
        Ok(match definition {
            FunctionDef::Map { values, default } => {
                if values.len() > MAX_MAP_ENTRIES {
                    return Err((
                        "values".to_owned(),
                        format!("more than {MAX_MAP_ENTRIES} entries"),
                    ));
                }
                Compiled::Map {
                    values: values.clone(),
                    default: default.clone(),
                }
            }
            FunctionDef::Regex {
                pattern,
                replace,
                group,
                default,
            } => regex_function(pattern, replace.as_ref(), group.as_ref(), default.as_ref())?,
            FunctionDef::Hash { algorithm, encoding } => Compiled::Hash(*algorithm, *encoding),
            FunctionDef::Hmac {
                algorithm, encoding, ..
            } => Compiled::Hmac {
                algorithm: *algorithm,
                key,
                encoding: *encoding,
            },
            FunctionDef::Encode { encoding } => Compiled::Encode(*encoding),
            FunctionDef::Decode { encoding } => Compiled::Decode(*encoding),
            FunctionDef::Date { format, time_zone } => {
                let zone = match time_zone.as_deref().map(str::trim) {
                    None | Some("") => chrono_tz::Tz::UTC,
                    Some(name) => name.parse::<chrono_tz::Tz>().map_err(|_| {
                        (
                            "timeZone".to_owned(),
                            format!("unknown time zone `{name}` (an IANA name such as Europe/Amsterdam)"),
                        )
                    })?,
                };
                super::datetime::render_in(DateTime::UNIX_EPOCH, zone, format)
                    .map_err(|problem| ("format".to_owned(), problem))?;
                Compiled::Date {
                    format: format.clone(),
                    zone,
                }
            }
        })
    }

    fn apply(&self, input: &str, now: DateTime<Utc>) -> Result<String, String> {
        self.output(input, now).map(|output| output.text)
    }

    fn output(&self, input: &str, now: DateTime<Utc>) -> Result<Output, String> {
        Ok(match self {
            Compiled::Map { values, default } => Output::plain(
                values
                    .get(input)
                    .or(default.as_ref())
                    .cloned()
                    .ok_or_else(|| format!("no entry for `{}` and no default", truncated(input)))?,
            ),
            Compiled::Extract {
                regex,
                group,
                default,
            } => Output::plain(extract(regex, group, input, default.as_ref())?),
            Compiled::Replace { regex, replacement } => Output::plain(bounded(
                regex.replace_all(input, replacement.as_str()).into_owned(),
            )?),
            Compiled::Hash(algorithm, encoding) => {
                Output::plain(encode_digest(&hash(*algorithm, input.as_bytes()), *encoding))
            }
            Compiled::Hmac {
                algorithm,
                key,
                encoding,
            } => Output::plain(encode_digest(&hmac(*algorithm, key, input.as_bytes()), *encoding)),
            Compiled::Encode(encoding) => Output {
                text: encode(*encoding, input),
                url_encoded: *encoding == TextEncoding::Url,
            },
            Compiled::Decode(encoding) => Output::plain(decode(*encoding, input)?),
            Compiled::Date { format, zone } => {
                let at = parse_date(input, now)?;
                Output::plain(super::datetime::render_in(at, *zone, format)?)
            }
        })
    }
}

fn regex_function(
    pattern: &str,
    replace: Option<&String>,
    group: Option<&CaptureGroup>,
    default: Option<&String>,
) -> Result<Compiled, (String, String)> {
    let regex = bounded_regex(pattern).map_err(|problem| ("pattern".to_owned(), problem))?;
    if let Some(replacement) = replace {
        if group.is_some() || default.is_some() {
            return Err((
                "replace".to_owned(),
                "`replace` replaces every match; `group` and `default` are for extraction".to_owned(),
            ));
        }
        return Ok(Compiled::Replace {
            regex,
            replacement: replacement.clone(),
        });
    }
    let group = match group {
        Some(group) => group.clone(),
        None => CaptureGroup::Number(usize::from(regex.captures_len() > 1)),
    };
    group_problem(&regex, &group).map_err(|problem| ("group".to_owned(), problem))?;
    Ok(Compiled::Extract {
        regex,
        group,
        default: default.cloned(),
    })
}

/// Why `group` is not a capture of `regex`, if it is not.
pub fn group_problem(regex: &regex::Regex, group: &CaptureGroup) -> Result<(), String> {
    match group {
        CaptureGroup::Number(number) if *number >= regex.captures_len() => Err(format!(
            "the pattern has no capture group {number} (it has {})",
            regex.captures_len() - 1
        )),
        CaptureGroup::Name(name) if !regex.capture_names().any(|known| known == Some(name.as_str())) => {
            Err(format!("the pattern has no capture group named `{name}`"))
        }
        _ => Ok(()),
    }
}

/// The first match's capture `group` in `input`, or `default`.
pub fn extract(
    regex: &regex::Regex,
    group: &CaptureGroup,
    input: &str,
    default: Option<&String>,
) -> Result<String, String> {
    let found = regex.captures(input).and_then(|captures| match group {
        CaptureGroup::Number(number) => captures.get(*number),
        CaptureGroup::Name(name) => captures.name(name),
    });
    match (found, default) {
        (Some(found), _) => Ok(found.as_str().to_owned()),
        (None, Some(default)) => Ok(default.clone()),
        (None, None) => Err(format!(
            "the pattern does not match `{}` and there is no default",
            truncated(input)
        )),
    }
}

fn bounded(text: String) -> Result<String, String> {
    if text.len() > MAX_BUILT_BYTES {
        return Err(format!("the result is larger than {MAX_BUILT_BYTES} bytes"));
    }
    Ok(text)
}

/// At most 60 characters of `text`, for errors.
fn truncated(text: &str) -> String {
    let mut short: String = text.chars().take(60).collect();
    if short.len() < text.len() {
        short.push('…');
    }
    short.escape_debug().to_string()
}

fn hash(algorithm: HashAlgorithm, input: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    match algorithm {
        HashAlgorithm::Md5 => md5::Md5::digest(input).to_vec(),
        HashAlgorithm::Sha1 => sha1::Sha1::digest(input).to_vec(),
        HashAlgorithm::Sha256 => sha2::Sha256::digest(input).to_vec(),
        HashAlgorithm::Sha512 => sha2::Sha512::digest(input).to_vec(),
    }
}

fn hmac(algorithm: HmacAlgorithm, key: &[u8], input: &[u8]) -> Vec<u8> {
    use hmac::{KeyInit, Mac};
    fn run<M: Mac + KeyInit>(key: &[u8], input: &[u8]) -> Vec<u8> {
        // HMAC takes keys of any length: `new_from_slice` cannot fail for it.
        match <M as KeyInit>::new_from_slice(key) {
            Ok(mut mac) => {
                mac.update(input);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }
    match algorithm {
        HmacAlgorithm::Sha1 => run::<hmac::Hmac<sha1::Sha1>>(key, input),
        HmacAlgorithm::Sha256 => run::<hmac::Hmac<sha2::Sha256>>(key, input),
        HmacAlgorithm::Sha512 => run::<hmac::Hmac<sha2::Sha512>>(key, input),
    }
}

fn encode_digest(digest: &[u8], encoding: DigestEncoding) -> String {
    match encoding {
        DigestEncoding::Hex => hex(digest),
        DigestEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(digest),
    }
}

fn encode(encoding: TextEncoding, input: &str) -> String {
    match encoding {
        TextEncoding::Base64 => base64::engine::general_purpose::STANDARD.encode(input),
        TextEncoding::Base64url => base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(input),
        TextEncoding::Url => {
            percent_encoding::utf8_percent_encode(input, helpers::URL_UNRESERVED).to_string()
        }
        TextEncoding::Hex => hex(input.as_bytes()),
    }
}

fn decode(encoding: TextEncoding, input: &str) -> Result<String, String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
    let input = input.trim();
    let bytes = match encoding {
        TextEncoding::Base64 => STANDARD.decode(input).ok(),
        TextEncoding::Base64url => URL_SAFE_NO_PAD
            .decode(input)
            .or_else(|_| URL_SAFE.decode(input))
            .ok(),
        TextEncoding::Url => Some(percent_encoding::percent_decode_str(input).collect()),
        TextEncoding::Hex => hex_decode(input),
    };
    let bytes = bytes.ok_or_else(|| format!("the input is not {}", encoding_name(encoding)))?;
    String::from_utf8(bytes).map_err(|_| "the decoded bytes are not UTF-8 text".to_owned())
}

fn encoding_name(encoding: TextEncoding) -> &'static str {
    match encoding {
        TextEncoding::Base64 => "base64",
        TextEncoding::Base64url => "base64url",
        TextEncoding::Url => "percent-encoded",
        TextEncoding::Hex => "hexadecimal",
    }
}

/// A date given as RFC 3339, `yyyy-MM-dd[T ]HH:mm:ss[.fff]` (UTC), Unix seconds, or nothing (now).
fn parse_date(input: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let text = input.trim();
    if text.is_empty() || text.eq_ignore_ascii_case("now") {
        return Ok(now);
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Ok(at.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"] {
        if let Ok(at) = chrono::NaiveDateTime::parse_from_str(text, format) {
            return Ok(at.and_utc());
        }
    }
    if let Ok(seconds) = text.parse::<i64>()
        && let Some(at) = DateTime::from_timestamp(seconds, 0)
    {
        return Ok(at);
    }
    Err(format!(
        "`{}` is not a date (RFC 3339, yyyy-MM-dd HH:mm:ss or Unix seconds)",
        truncated(text)
    ))
}

/// A function as a template value.
struct Callable {
    name: String,
    function: Arc<Compiled>,
}

impl fmt::Debug for Callable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<function {}>", self.name)
    }
}

impl Object for Callable {
    fn call(self: &Arc<Self>, state: &State<'_, '_>, args: &[Value]) -> Result<Value, minijinja::Error> {
        let [input] = args else {
            return Err(helpers::failure(format!(
                "{} takes 1 argument, got {}",
                self.name,
                args.len()
            )));
        };
        let input = helpers::argument_text(input)?;
        let internal = state.lookup(super::prepass::INTERNAL);
        let internal = internal
            .as_ref()
            .and_then(|value| value.downcast_object_ref::<helpers::Internal>());
        let now = internal.map(|internal| internal.now).ok_or_else(|| {
            helpers::failure(format!("{}: helper data missing from the context", self.name))
        })?;
        let output = self
            .function
            .output(&input, now)
            .map_err(|problem| helpers::failure(format!("{}: {problem}", self.name)))?;
        match internal {
            Some(internal) if output.url_encoded => internal.url_encoded(output.text),
            _ => Ok(Value::from(output.text)),
        }
    }

    fn render(self: &Arc<Self>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<function {}>", self.name)
    }
}
