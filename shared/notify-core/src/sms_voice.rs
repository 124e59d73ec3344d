//! AWS End User Messaging SMS and Voice v2 (`pinpoint-sms-voice-v2`) `SendVoiceMessage`: the
//! contract a voice call is built within and checked against ([`Transport::PinpointVoice`]).
//!
//! - The service's limits and names: [`MAX_SSML_CHARS`], [`MAX_TEXT_CHARS`], the Amazon Polly
//!   voices it takes and the language each speaks ([`VOICES`]).
//! - SSML: [`ssml_parts`] reads a spoken script as markup and text, refusing what is not
//!   well-formed (the one reader: the kind builds with it, `tocsin validate` and the local endpoint
//!   check with it).
//! - The endpoint: the client of this API reaches [`configured_endpoint`] when one is configured
//!   for the service (`AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2`, a profile's `services` section, or
//!   [`with_endpoint`] in code), whatever the SDK's global endpoint: the local emulator, where
//!   `AWS_ENDPOINT_URL` points in every local set-up, does not implement this API.
//! - The local voice endpoint ([`answer`]): what tests, the demo and the fault suite run in its
//!   place. It speaks the service's JSON protocol (awsJson1_0: `POST /`, `X-Amz-Target:
//!   PinpointSMSVoiceV2.SendVoiceMessage`), checks the request as the service does (a SigV4
//!   `Authorization` header, the required fields, an E.164 destination, the body's length for its
//!   type) and, stricter than the service, that an SSML body is well-formed with a `<speak>` root
//!   (the service accepts the call and Polly fails it later); it answers as the service does:
//!   `{"MessageId": …}`, or `{"__type": "ValidationException", "message": …}` with its status.
//!
//! [`Transport::PinpointVoice`]: crate::Transport::PinpointVoice

use aws_config::SdkConfig;
use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};
use serde::Serialize;
use serde_json::{Value, json};

/// The SDK's service id: the endpoint variable is `AWS_ENDPOINT_URL_` and it in upper case, with
/// `_` for spaces.
pub const SERVICE_ID: &str = "Pinpoint SMS Voice V2";

/// The variable that points the voice client at an endpoint of its own.
pub const ENDPOINT_URL_VARIABLE: &str = "AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2";

/// The `X-Amz-Target` of a `SendVoiceMessage` request.
pub const SEND_VOICE_MESSAGE_TARGET: &str = "PinpointSMSVoiceV2.SendVoiceMessage";

/// The content type of the service's requests and answers.
pub const CONTENT_TYPE: &str = "application/x-amz-json-1.0";

/// Most characters of a `TEXT` message body.
pub const MAX_TEXT_CHARS: usize = 3000;

/// Most characters of an `SSML` message body, tags included.
pub const MAX_SSML_CHARS: usize = 6000;

/// Every Amazon Polly voice `SendVoiceMessage` takes (`VoiceId`, as the API spells it), with the
/// language it speaks.
pub const VOICES: &[(&str, &str)] = &[
    ("AMY", "en-GB"),
    ("ASTRID", "sv-SE"),
    ("BIANCA", "it-IT"),
    ("BRIAN", "en-GB"),
    ("CAMILA", "pt-BR"),
    ("CARLA", "it-IT"),
    ("CARMEN", "ro-RO"),
    ("CELINE", "fr-FR"),
    ("CHANTAL", "fr-CA"),
    ("CONCHITA", "es-ES"),
    ("CRISTIANO", "pt-PT"),
    ("DORA", "is-IS"),
    ("EMMA", "en-GB"),
    ("ENRIQUE", "es-ES"),
    ("EWA", "pl-PL"),
    ("FILIZ", "tr-TR"),
    ("GERAINT", "en-GB-WLS"),
    ("GIORGIO", "it-IT"),
    ("GWYNETH", "cy-GB"),
    ("HANS", "de-DE"),
    ("INES", "pt-PT"),
    ("IVY", "en-US"),
    ("JACEK", "pl-PL"),
    ("JAN", "pl-PL"),
    ("JOANNA", "en-US"),
    ("JOEY", "en-US"),
    ("JUSTIN", "en-US"),
    ("KARL", "is-IS"),
    ("KENDRA", "en-US"),
    ("KIMBERLY", "en-US"),
    ("LEA", "fr-FR"),
    ("LIV", "nb-NO"),
    ("LOTTE", "nl-NL"),
    ("LUCIA", "es-ES"),
    ("LUPE", "es-US"),
    ("MADS", "da-DK"),
    ("MAJA", "pl-PL"),
    ("MARLENE", "de-DE"),
    ("MATHIEU", "fr-FR"),
    ("MATTHEW", "en-US"),
    ("MAXIM", "ru-RU"),
    ("MIA", "es-MX"),
    ("MIGUEL", "es-US"),
    ("MIZUKI", "ja-JP"),
    ("NAJA", "da-DK"),
    ("NICOLE", "en-AU"),
    ("PENELOPE", "es-US"),
    ("RAVEENA", "en-IN"),
    ("RICARDO", "pt-BR"),
    ("RUBEN", "nl-NL"),
    ("RUSSELL", "en-AU"),
    ("SALLI", "en-US"),
    ("SEOYEON", "ko-KR"),
    ("TAKUMI", "ja-JP"),
    ("TATYANA", "ru-RU"),
    ("VICKI", "de-DE"),
    ("VITORIA", "pt-BR"),
    ("ZEINA", "arb"),
    ("ZHIYU", "cmn-CN"),
];

/// The language `voice` (as the API spells it) speaks, when it is a voice of [`VOICES`].
pub fn voice_language(voice: &str) -> Option<&'static str> {
    VOICES
        .iter()
        .find(|(known, _)| *known == voice)
        .map(|(_, language)| *language)
}

// ---------------------------------------------------------------------------------------------
// The endpoint

/// The endpoint configured for this service in `sdk`'s service configuration (the environment
/// variable [`ENDPOINT_URL_VARIABLE`], `endpoint_url` in the profile's `services` section, or
/// [`with_endpoint`]), if any. The voice client uses it even where the SDK's global endpoint was
/// set in code, which the SDK would otherwise prefer.
pub fn configured_endpoint(sdk: &SdkConfig) -> Option<String> {
    let key = ServiceConfigKey::builder()
        .service_id(SERVICE_ID)
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    sdk.service_config()?
        .load_config(key)
        .filter(|url| !url.trim().is_empty())
}

/// `sdk` with `url` as this service's endpoint (as [`ENDPOINT_URL_VARIABLE`] would set it); every
/// other service keeps its own.
pub fn with_endpoint(sdk: &SdkConfig, url: &str) -> SdkConfig {
    sdk.to_builder()
        .service_config(VoiceEndpoint {
            base: sdk.clone(),
            url: url.to_owned(),
        })
        .build()
}

/// The service configuration of [`with_endpoint`].
#[derive(Debug)]
struct VoiceEndpoint {
    base: SdkConfig,
    url: String,
}

impl LoadServiceConfig for VoiceEndpoint {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.service_id() == SERVICE_ID && key.env() == "AWS_ENDPOINT_URL" {
            return Some(self.url.clone());
        }
        self.base.service_config()?.load_config(key)
    }
}

// ---------------------------------------------------------------------------------------------
// SSML

/// A piece of an SSML document as it is written: markup (a tag or a comment), or the text between
/// two tags (escaped, as written: `&amp;` stays five characters).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsmlPart<'a> {
    /// A tag (`<p>`, `</p>`, `<break time="1s"/>`) or a comment.
    Markup(&'a str),
    /// Text, possibly only white space.
    Text(&'a str),
}

impl<'a> SsmlPart<'a> {
    /// The part as written.
    pub fn as_str(&self) -> &'a str {
        match self {
            SsmlPart::Markup(text) | SsmlPart::Text(text) => text,
        }
    }
}

/// Whether XML 1.0 allows `c` in a document (escaped or not).
pub fn is_xml_char(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | '\u{20}'..='\u{D7FF}' | '\u{E000}'..='\u{FFFD}' | '\u{10000}'..)
}

/// Why `ssml` is not a well-formed SSML document, if it is not (see [`ssml_parts`]).
pub fn ssml_problem(ssml: &str) -> Option<String> {
    ssml_parts(ssml).err()
}

/// `ssml` as markup and text, in order (joined, they are `ssml` again); an error says why it is
/// not a well-formed SSML document: one `<speak>` element holding everything but white space,
/// every element closed in order, attributes quoted, `&` only in a reference (`&amp;`, `&#39;`, …),
/// only characters XML allows. Comments are markup; processing instructions, CDATA sections and
/// document types are refused (a spoken script needs none).
pub fn ssml_parts(ssml: &str) -> Result<Vec<SsmlPart<'_>>, String> {
    parse(ssml, true)
}

/// [`ssml_parts`] of what goes inside `<speak>` (text and elements, none of them `<speak>`);
/// positions in an error count from the start of `content`.
pub fn ssml_content_parts(content: &str) -> Result<Vec<SsmlPart<'_>>, String> {
    parse(content, false)
}

/// A document (one `<speak>` element) when `document`, else the content of one.
fn parse(ssml: &str, document: bool) -> Result<Vec<SsmlPart<'_>>, String> {
    if let Some((at, c)) = ssml.char_indices().find(|(_, c)| !is_xml_char(*c)) {
        return Err(format!(
            "character U+{:04X} at character {} is not allowed in SSML",
            u32::from(c),
            char_position(ssml, at)
        ));
    }
    let mut parts = Vec::new();
    let mut open: Vec<&str> = Vec::new();
    let mut root_seen = false;
    let mut at = 0;
    while at < ssml.len() {
        let rest = &ssml[at..];
        let position = || char_position(ssml, at);
        if let Some(after) = rest.strip_prefix("<!--") {
            let end = after
                .find("-->")
                .ok_or_else(|| format!("the comment at character {} is not closed", position()))?;
            if after[..end].contains("--") {
                return Err(format!("the comment at character {} holds `--`", position()));
            }
            let length = 4 + end + 3;
            parts.push(SsmlPart::Markup(&rest[..length]));
            at += length;
            continue;
        }
        if rest.starts_with("<?") || rest.starts_with("<!") {
            return Err(format!(
                "character {}: processing instructions, CDATA sections and document types are not \
                 supported in SSML",
                position()
            ));
        }
        if rest.starts_with('<') {
            let length = tag_length(rest)
                .ok_or_else(|| format!("the tag at character {} is not closed", position()))?;
            let tag = &rest[..length];
            match read_tag(tag)
                .map_err(|problem| format!("the tag at character {}: {problem}", position()))?
            {
                Tag::Close(name) => match open.pop() {
                    Some(opened) if opened == name => {}
                    Some(opened) => {
                        return Err(format!(
                            "`</{name}>` at character {} closes `<{opened}>`",
                            position()
                        ));
                    }
                    None => {
                        return Err(format!(
                            "`</{name}>` at character {} closes no element",
                            position()
                        ));
                    }
                },
                Tag::Open { name, empty } => {
                    if !document && name == "speak" {
                        return Err(format!(
                            "`<speak>` at character {} is inside the script, which is spoken in one <speak> \
                             element already",
                            position()
                        ));
                    }
                    if document && open.is_empty() {
                        if root_seen {
                            return Err(format!(
                                "`<{name}>` at character {} is outside the <speak> element",
                                position()
                            ));
                        }
                        if name != "speak" {
                            return Err(format!(
                                "the document element is `<{name}>`; SSML is one <speak> element"
                            ));
                        }
                        root_seen = true;
                    }
                    if !empty {
                        open.push(name);
                    }
                }
            }
            parts.push(SsmlPart::Markup(tag));
            at += length;
            continue;
        }
        let length = rest.find('<').unwrap_or(rest.len());
        let text = &rest[..length];
        if document && open.is_empty() && !text.chars().all(is_xml_space) {
            return Err(format!(
                "the text at character {} is outside the <speak> element",
                position()
            ));
        }
        references_problem(text).map_or(Ok(()), |problem| {
            Err(format!("the text at character {}: {problem}", position()))
        })?;
        parts.push(SsmlPart::Text(text));
        at += length;
    }
    if let Some(name) = open.last() {
        return Err(format!("`<{name}>` is not closed"));
    }
    if document && !root_seen {
        return Err("no <speak> element".to_owned());
    }
    Ok(parts)
}

/// The 1-based character position of byte `at` of `text`.
fn char_position(text: &str, at: usize) -> usize {
    text.get(..at).map_or(0, |before| before.chars().count()) + 1
}

fn is_xml_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\n' | '\r')
}

fn is_name_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_' || c == ':' || (!c.is_ascii() && c.is_alphabetic())
}

fn is_name_char(c: char) -> bool {
    is_name_start(c) || c.is_ascii_digit() || c == '-' || c == '.' || (!c.is_ascii() && c.is_alphanumeric())
}

/// The length of the tag `text` starts with (up to its `>`, quoted values skipped).
fn tag_length(text: &str) -> Option<usize> {
    let mut quote = None;
    for (index, c) in text.char_indices().skip(1) {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '>') => return Some(index + 1),
            (None, '<') => return None,
            (None, _) => {}
        }
    }
    None
}

enum Tag<'a> {
    Open { name: &'a str, empty: bool },
    Close(&'a str),
}

/// Reads one tag (`<…>`, whole).
fn read_tag(tag: &str) -> Result<Tag<'_>, String> {
    let inner = &tag[1..tag.len() - 1];
    if let Some(name) = inner.strip_prefix('/') {
        let name = name.trim_end_matches(is_xml_space);
        name_problem(name).map_or(Ok(()), Err)?;
        return Ok(Tag::Close(name));
    }
    let (inner, empty) = match inner.strip_suffix('/') {
        Some(inner) => (inner, true),
        None => (inner, false),
    };
    let name_end = inner.find(|c: char| !is_name_char(c)).unwrap_or(inner.len());
    let name = &inner[..name_end];
    name_problem(name).map_or(Ok(()), Err)?;
    let mut rest = &inner[name_end..];
    let mut seen: Vec<&str> = Vec::new();
    loop {
        let trimmed = rest.trim_start_matches(is_xml_space);
        if trimmed.is_empty() {
            break;
        }
        if trimmed.len() == rest.len() {
            return Err(format!("`<{name}>`: attributes are separated by white space"));
        }
        let attribute_end = trimmed.find(|c: char| !is_name_char(c)).unwrap_or(trimmed.len());
        let attribute = &trimmed[..attribute_end];
        name_problem(attribute).map_or(Ok(()), |problem| Err(format!("`<{name}>`: {problem}")))?;
        if seen.contains(&attribute) {
            return Err(format!("`<{name}>`: attribute `{attribute}` is given twice"));
        }
        seen.push(attribute);
        let after = trimmed[attribute_end..].trim_start_matches(is_xml_space);
        let Some(after) = after.strip_prefix('=') else {
            return Err(format!("`<{name}>`: attribute `{attribute}` has no value"));
        };
        let after = after.trim_start_matches(is_xml_space);
        let quote = after.chars().next().filter(|c| *c == '"' || *c == '\'');
        let Some(quote) = quote else {
            return Err(format!("`<{name}>`: the value of `{attribute}` is not quoted"));
        };
        let value_and_rest = &after[1..];
        let Some(close) = value_and_rest.find(quote) else {
            return Err(format!("`<{name}>`: the value of `{attribute}` is not closed"));
        };
        let value = &value_and_rest[..close];
        if value.contains('<') {
            return Err(format!("`<{name}>`: the value of `{attribute}` holds `<`"));
        }
        if let Some(problem) = references_problem(value) {
            return Err(format!("`<{name}>`: the value of `{attribute}`: {problem}"));
        }
        rest = &value_and_rest[close + 1..];
    }
    Ok(Tag::Open { name, empty })
}

fn name_problem(name: &str) -> Option<String> {
    match name.chars().next() {
        None => Some("a tag or attribute has no name".to_owned()),
        Some(first) if !is_name_start(first) || !name.chars().all(is_name_char) => {
            Some(format!("`{name}` is not a name"))
        }
        Some(_) => None,
    }
}

/// Why the `&` references of `text` (text or an attribute value) are not valid, if they are not.
fn references_problem(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        let after = &rest[at + 1..];
        let end = after.find(';').filter(|end| *end <= 10);
        let valid = end.is_some_and(|end| {
            let name = &after[..end];
            match name {
                "amp" | "lt" | "gt" | "quot" | "apos" => true,
                _ => name
                    .strip_prefix("#x")
                    .map(|hex| u32::from_str_radix(hex, 16))
                    .or_else(|| name.strip_prefix('#').map(str::parse::<u32>))
                    .and_then(Result::ok)
                    .and_then(char::from_u32)
                    .is_some_and(is_xml_char),
            }
        });
        if !valid {
            return Some("`&` starts no reference (write `&amp;`)".to_owned());
        }
        rest = &after[end.unwrap_or(0) + 1..];
    }
    None
}

// ---------------------------------------------------------------------------------------------
// The local voice endpoint

/// A request at the local voice endpoint.
#[derive(Debug, Clone, Copy)]
pub struct VoiceRequest<'a> {
    /// `POST`.
    pub method: &'a str,
    /// `/`.
    pub path: &'a str,
    /// Header names (any case) and values.
    pub headers: &'a [(String, String)],
    /// The JSON body.
    pub body: &'a [u8],
}

impl VoiceRequest<'_> {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(known, _)| known.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }

    /// Whether the request is a `SendVoiceMessage` (by its `X-Amz-Target`): what a local stand-in
    /// for AWS answers with [`answer`] instead of passing it on to the emulator.
    pub fn is_send_voice_message(&self) -> bool {
        self.header("x-amz-target") == Some(SEND_VOICE_MESSAGE_TARGET)
    }
}

/// A voice call the local endpoint accepted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct VoiceCall {
    /// The id it answered with.
    pub message_id: String,
    /// Whom it calls (E.164).
    pub destination_phone_number: String,
    /// From which number or pool.
    pub origination_identity: String,
    /// `TEXT` or `SSML`.
    pub message_body_text_type: String,
    /// The Polly voice, when the request names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub voice_id: Option<String>,
    /// What is spoken.
    pub message_body: String,
}

/// An answer of the local voice endpoint: status, headers and JSON body, as the service answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VoiceAnswer {
    /// The HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
}

/// The errors the service answers `SendVoiceMessage` with, and those of AWS's front door.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VoiceError {
    /// A field is missing or invalid (400).
    Validation,
    /// Too many requests (400).
    Throttling,
    /// The service failed (500).
    InternalServer,
    /// The caller may not use the origination identity (400).
    AccessDenied,
    /// The origination identity does not exist (400).
    ResourceNotFound,
    /// A quota (spend, calls) would be exceeded (400).
    ServiceQuotaExceeded,
    /// The identity's state does not allow the call (400).
    Conflict,
    /// No SigV4 `Authorization` header (403).
    MissingAuthenticationToken,
    /// A malformed SigV4 `Authorization` header (403).
    IncompleteSignature,
    /// Not `POST /` with the operation's `X-Amz-Target` (400, 404 for another path).
    UnknownOperation,
    /// The body is not a JSON object of the operation (400).
    Serialization,
}

impl VoiceError {
    /// The error's code (`__type`).
    pub fn code(self) -> &'static str {
        match self {
            VoiceError::Validation => "ValidationException",
            VoiceError::Throttling => "ThrottlingException",
            VoiceError::InternalServer => "InternalServerException",
            VoiceError::AccessDenied => "AccessDeniedException",
            VoiceError::ResourceNotFound => "ResourceNotFoundException",
            VoiceError::ServiceQuotaExceeded => "ServiceQuotaExceededException",
            VoiceError::Conflict => "ConflictException",
            VoiceError::MissingAuthenticationToken => "MissingAuthenticationTokenException",
            VoiceError::IncompleteSignature => "IncompleteSignatureException",
            VoiceError::UnknownOperation => "UnknownOperationException",
            VoiceError::Serialization => "SerializationException",
        }
    }

    /// The HTTP status the service answers it with (the API reference: 500 for an internal
    /// error, 400 for the others; 403 for a request without a valid signature).
    pub fn status(self) -> u16 {
        match self {
            VoiceError::InternalServer => 500,
            VoiceError::MissingAuthenticationToken | VoiceError::IncompleteSignature => 403,
            _ => 400,
        }
    }
}

impl VoiceAnswer {
    /// A call accepted: `200 {"MessageId": …}`.
    pub fn accepted(message_id: &str) -> VoiceAnswer {
        VoiceAnswer::new(200, &json!({ "MessageId": message_id }), None)
    }

    /// `error` with `message`, as the service answers it.
    pub fn error(error: VoiceError, message: &str) -> VoiceAnswer {
        let mut body = json!({ "__type": error.code(), "message": message });
        if error == VoiceError::Validation {
            body["Reason"] = json!("OTHER");
        }
        VoiceAnswer::new(error.status(), &body, Some(error.code()))
    }

    /// A `ValidationException` about field `field`.
    pub fn invalid(field: &str, message: &str) -> VoiceAnswer {
        let text = format!("1 validation error detected: {field}: {message}");
        let body = json!({
            "__type": VoiceError::Validation.code(),
            "message": text,
            "Reason": "FIELD_VALIDATION_FAILED",
            "Fields": [{ "Name": field, "Message": message }],
        });
        VoiceAnswer::new(400, &body, Some(VoiceError::Validation.code()))
    }

    fn new(status: u16, body: &Value, error: Option<&str>) -> VoiceAnswer {
        let mut headers = vec![
            ("content-type".to_owned(), CONTENT_TYPE.to_owned()),
            ("x-amzn-requestid".to_owned(), uuid::Uuid::new_v4().to_string()),
        ];
        if let Some(code) = error {
            headers.push(("x-amzn-errortype".to_owned(), code.to_owned()));
        }
        VoiceAnswer {
            status,
            headers,
            body: body.to_string(),
        }
    }
}

/// The local voice endpoint's answer to `request`: `200 {"MessageId": …}` for a valid
/// `SendVoiceMessage`, else the service's error.
pub fn answer(request: &VoiceRequest<'_>) -> VoiceAnswer {
    match check(request) {
        Ok(call) => VoiceAnswer::accepted(&call.message_id),
        Err(answer) => answer,
    }
}

/// `request` as the call the local voice endpoint accepts (with a new message id), or the error
/// answer the service would give.
pub fn check(request: &VoiceRequest<'_>) -> Result<VoiceCall, VoiceAnswer> {
    let fail = VoiceAnswer::error;
    if request.path != "/" {
        let mut answer = fail(VoiceError::UnknownOperation, "no such operation");
        answer.status = 404;
        return Err(answer);
    }
    if !request.method.eq_ignore_ascii_case("POST") {
        return Err(fail(VoiceError::UnknownOperation, "the operation is a POST to /"));
    }
    if !request.is_send_voice_message() {
        return Err(fail(
            VoiceError::UnknownOperation,
            &format!("X-Amz-Target must be {SEND_VOICE_MESSAGE_TARGET}"),
        ));
    }
    match request.header("authorization") {
        None => {
            return Err(fail(
                VoiceError::MissingAuthenticationToken,
                "Missing Authentication Token",
            ));
        }
        Some(authorization) => {
            let signed = authorization.starts_with("AWS4-HMAC-SHA256 ")
                && ["Credential=", "SignedHeaders=", "Signature="]
                    .iter()
                    .all(|part| authorization.contains(part))
                && request.header("x-amz-date").is_some();
            if !signed {
                return Err(fail(
                    VoiceError::IncompleteSignature,
                    "the Authorization header is not an AWS SigV4 signature (with X-Amz-Date)",
                ));
            }
        }
    }
    let content_type = request.header("content-type").unwrap_or_default();
    if !content_type.starts_with(CONTENT_TYPE) {
        return Err(fail(
            VoiceError::Serialization,
            &format!("the content type must be {CONTENT_TYPE}"),
        ));
    }
    let body: serde_json::Map<String, Value> = serde_json::from_slice(request.body)
        .map_err(|_| fail(VoiceError::Serialization, "the body is not a JSON object"))?;
    let text = |field: &str| -> Result<Option<&str>, VoiceAnswer> {
        match body.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(value)) => Ok(Some(value.as_str())),
            Some(_) => Err(fail(
                VoiceError::Serialization,
                &format!("{field} must be a string"),
            )),
        }
    };
    let required = |field: &str| -> Result<&str, VoiceAnswer> {
        text(field)?.ok_or_else(|| VoiceAnswer::invalid(field, "the field is required"))
    };

    let destination = required("DestinationPhoneNumber")?;
    if let Some(problem) = definition_store::rules::phone_problem(destination) {
        return Err(VoiceAnswer::invalid("DestinationPhoneNumber", problem));
    }
    let origination = required("OriginationIdentity")?;
    let origination_chars = origination.chars().count();
    if !(1..=256).contains(&origination_chars)
        || !origination
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | ':' | '/' | '+' | '-'))
    {
        return Err(VoiceAnswer::invalid(
            "OriginationIdentity",
            "1 to 256 characters of [A-Za-z0-9_:/+-]",
        ));
    }
    let text_type = text("MessageBodyTextType")?.unwrap_or("TEXT");
    let limit = match text_type {
        "TEXT" => MAX_TEXT_CHARS,
        "SSML" => MAX_SSML_CHARS,
        _ => {
            return Err(VoiceAnswer::invalid(
                "MessageBodyTextType",
                "the value must be TEXT or SSML",
            ));
        }
    };
    let message = required("MessageBody")?;
    let length = message.chars().count();
    if length == 0 || length > limit {
        return Err(VoiceAnswer::invalid(
            "MessageBody",
            &format!("{length} characters; a {text_type} body has 1 to {limit}"),
        ));
    }
    if text_type == "SSML"
        && let Some(problem) = ssml_problem(message)
    {
        return Err(VoiceAnswer::invalid(
            "MessageBody",
            &format!("not well-formed SSML: {problem}"),
        ));
    }
    let voice = text("VoiceId")?;
    if let Some(voice) = voice
        && voice_language(voice).is_none()
    {
        return Err(VoiceAnswer::invalid(
            "VoiceId",
            &format!("`{voice}` is not a voice of the service"),
        ));
    }
    if let Some(ttl) = body.get("TimeToLive")
        && !ttl.as_i64().is_some_and(|ttl| (5..=259_200).contains(&ttl))
    {
        return Err(VoiceAnswer::invalid(
            "TimeToLive",
            "a number of seconds from 5 to 259200",
        ));
    }
    Ok(VoiceCall {
        message_id: uuid::Uuid::new_v4().to_string(),
        destination_phone_number: destination.to_owned(),
        origination_identity: origination.to_owned(),
        message_body_text_type: text_type.to_owned(),
        voice_id: voice.map(str::to_owned),
        message_body: message.to_owned(),
    })
}

#[cfg(test)]
mod tests;
