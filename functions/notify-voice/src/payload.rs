//! Pure: one route → one voice call per recipient, with a spoken script in SSML.

use std::{borrow::Cow, collections::BTreeMap};

use alert_model::{
    Alert, AlertType,
    template::{Escape, RenderContext, TemplateSource},
};
use definition_store::rules::phone_problem;
use notify_core::{
    NotifyError, Outgoing, RouteContext,
    sms_voice::{self, MAX_SSML_CHARS, SsmlPart},
};
use serde::Serialize;

use crate::config::VoiceTarget;

/// The root element every script is spoken in.
const OPEN: &str = "<speak>";
/// See [`OPEN`].
const CLOSE: &str = "</speak>";

/// Most characters of what a template writes inside `<speak>`: the service's limit for an SSML
/// body less the root element's tags.
pub const MAX_SCRIPT_CHARS: usize = MAX_SSML_CHARS - OPEN.len() - CLOSE.len();

/// Most characters of `SpokenName` and of `SpokenError`, cut at a word.
const MAX_NAME_CHARS: usize = 100;
/// See [`MAX_NAME_CHARS`].
const MAX_ERROR_CHARS: usize = 300;

/// One voice call, ready for `SendVoiceMessage`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VoiceMessage {
    /// Whom it calls (E.164).
    pub to: String,
    /// `OriginationIdentity`.
    pub origination_identity: String,
    /// `VoiceId`.
    pub voice_id: String,
    /// The call's language.
    pub language: &'static str,
    /// `MessageBody`: a well-formed `<speak>` document of at most 6,000 characters
    /// (`MessageBodyTextType` `SSML`).
    pub ssml: String,
    /// `TimeToLive`, seconds.
    pub time_to_live: u32,
}

/// Builds the calls of one route: none for an Ok alert (a voice call says something is wrong, as
/// in the product), else step `call-<number>` per recipient (so that a retry after a partial
/// failure never calls the same person twice). No recipients means no calls.
pub(crate) fn build_messages(
    route: &RouteContext<'_>,
    target: &VoiceTarget,
) -> Result<Vec<Outgoing<VoiceMessage>>, NotifyError> {
    if route.alert.alert.alert_type == AlertType::Ok {
        return Ok(Vec::new());
    }
    let numbers = recipients(route);
    if numbers.is_empty() {
        return Ok(Vec::new());
    }
    let ssml = script(route, target)?;
    Ok(numbers
        .into_iter()
        .map(|to| Outgoing {
            step: format!("call-{to}"),
            message: VoiceMessage {
                to,
                origination_identity: target.origination_identity.clone(),
                voice_id: target.voice_id.clone(),
                language: target.language.code(),
                ssml: ssml.clone(),
                time_to_live: target.time_to_live,
            },
        })
        .collect())
}

/// The spoken script: the integration's template or the built-in one of its language, values
/// XML-escaped, inside `<speak>`; well-formed, at most [`MAX_SSML_CHARS`] characters.
pub(crate) fn script(route: &RouteContext<'_>, target: &VoiceTarget) -> Result<String, NotifyError> {
    let integration = route.integration.id.as_str();
    let builtin = format!("voice.ssml.{}", target.language.base());
    let (template, field) = match &target.ssml {
        Some(template) => (template.as_str(), "settings.ssml"),
        None => (
            crate::default_template(&builtin).ok_or_else(|| {
                NotifyError::permanent(format!(
                    "integration `{integration}`: no built-in template `{builtin}`"
                ))
            })?,
            builtin.as_str(),
        ),
    };
    let variables = speech_variables(route.variables.values(), route.alert, route.now, target);
    let context = RenderContext {
        alert: route.alert,
        variables: &variables,
        now: route.now,
    };
    let inner = route
        .engine
        .render(
            TemplateSource { integration, field },
            template,
            Escape::Html,
            &context,
        )
        .map_err(|error| NotifyError::permanent(error.to_string()))?;
    fit(inner.trim())
        .map(|inner| format!("{OPEN}{inner}{CLOSE}"))
        .map_err(|problem| {
            NotifyError::permanent(format!("integration `{integration}`, field `{field}`: {problem}"))
        })
}

/// The user variables with the speech values added (a user variable of the same name wins):
/// `SpokenName`, `SpokenError`, `MinutesSinceFirstError`.
pub(crate) fn speech_variables(
    user: &BTreeMap<String, String>,
    alert: &Alert,
    now: chrono::DateTime<chrono::Utc>,
    target: &VoiceTarget,
) -> BTreeMap<String, String> {
    let mut variables = user.clone();
    let mut add = |name: &str, value: String| {
        variables.entry(name.to_owned()).or_insert(value);
    };
    add("SpokenName", spoken_name(alert, &target.spoken_name_field));
    add("SpokenError", spoken_error(alert));
    add(
        "MinutesSinceFirstError",
        minutes_since_first_error(alert, now).map_or_else(String::new, |minutes| minutes.to_string()),
    );
    variables
}

/// The monitor's name for speech: its custom field `field` when set, else its name; the first line,
/// at most [`MAX_NAME_CHARS`] characters.
fn spoken_name(alert: &Alert, field: &str) -> String {
    let custom = alert
        .monitor
        .custom_fields
        .get(field)
        .map(|value| first_line(value))
        .filter(|value| !value.is_empty());
    let name = custom.unwrap_or_else(|| first_line(&alert.monitor.name));
    cut_at_word(&speakable(name), MAX_NAME_CHARS)
}

/// The error in words: the first line of the description (else of the failure message, else of the
/// first error's description), links read as their host, symbols that mean nothing aloud left out,
/// no trailing full stop; at most [`MAX_ERROR_CHARS`] characters, cut at a word.
fn spoken_error(alert: &Alert) -> String {
    let info = &alert.alert;
    let line = [
        &info.description,
        &info.failure_message,
        &info.first_error_description,
    ]
    .into_iter()
    .map(|text| first_line(text))
    .find(|line| !line.is_empty())
    .unwrap_or_default();
    let spoken = speakable(line);
    let spoken = spoken.trim_end_matches(['.', ',', ';', ':', ' ']);
    cut_at_word(spoken, MAX_ERROR_CHARS)
}

/// Whole minutes from the first error (`alert.firstErrorUtc`, else the alert's own time) to `now`;
/// none when neither is a time. Never negative.
pub(crate) fn minutes_since_first_error(alert: &Alert, now: chrono::DateTime<chrono::Utc>) -> Option<i64> {
    [&alert.alert.first_error_utc, &alert.alert.timestamp_utc]
        .into_iter()
        .find_map(|text| parse_time(text))
        .map(|first| (now - first).num_minutes().max(0))
}

/// An RFC 3339 time, or one without its zone (UTC, as the product writes `…Utc` values).
fn parse_time(text: &str) -> Option<chrono::DateTime<chrono::Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|time| time.with_timezone(&chrono::Utc))
        .ok()
        .or_else(|| {
            ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f"]
                .iter()
                .find_map(|format| chrono::NaiveDateTime::parse_from_str(text, format).ok())
                .map(|time| time.and_utc())
        })
}

/// The first non-blank line of `text`, trimmed.
fn first_line(text: &str) -> &str {
    text.lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default()
}

/// `text` as it reads aloud: a link becomes its host, symbols that are noise when spoken become
/// spaces, runs of white space one space.
fn speakable(text: &str) -> String {
    let words: Vec<Cow<'_, str>> = text
        .split_whitespace()
        .map(|word| match link_host(word) {
            Some(host) => Cow::Owned(host.to_owned()),
            None => Cow::Borrowed(word),
        })
        .collect();
    let joined = words.join(" ");
    let cleaned: String = joined
        .chars()
        .map(|c| match c {
            '_' | '|' | '*' | '#' | '~' | '`' | '^' | '{' | '}' | '[' | ']' | '<' | '>' | '\\' => ' ',
            c if c.is_control() => ' ',
            c => c,
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The host of a link (`https://example.com/a?b` → `example.com`).
fn link_host(word: &str) -> Option<&str> {
    let rest = word
        .strip_prefix("https://")
        .or_else(|| word.strip_prefix("http://"))?;
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default()
        .rsplit('@')
        .next()
        .unwrap_or_default();
    let host = host.split(':').next().unwrap_or_default();
    (!host.is_empty()).then_some(host)
}

/// `text` cut to at most `max` characters at a word, ending in `…` when cut.
fn cut_at_word(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    let at_word = match kept.rfind(' ') {
        Some(space) if space > kept.len() / 2 => &kept[..space],
        _ => kept.as_str(),
    };
    format!("{}…", at_word.trim_end_matches([' ', ',', ';', ':', '.']))
}

/// The rendered script (what goes inside `<speak>`), its characters invalid in XML replaced by
/// spaces, checked well-formed and, when longer than [`MAX_SCRIPT_CHARS`], with its text cut: each
/// text between tags to at most the same length (the longest are cut, the others kept), ending in
/// `…`, never inside a reference (`&amp;`); the tags are never cut.
pub(crate) fn fit(inner: &str) -> Result<String, String> {
    let inner: Cow<'_, str> = if inner.chars().all(sms_voice::is_xml_char) {
        Cow::Borrowed(inner)
    } else {
        Cow::Owned(
            inner
                .chars()
                .map(|c| if sms_voice::is_xml_char(c) { c } else { ' ' })
                .collect(),
        )
    };
    let inside = sms_voice::ssml_content_parts(&inner)
        .map_err(|problem| format!("the rendered script is not well-formed SSML: {problem}"))?;
    let length = |cap: usize| -> usize {
        inside
            .iter()
            .map(|part| match part {
                SsmlPart::Markup(markup) => markup.chars().count(),
                SsmlPart::Text(text) => cut_text(text, cap).chars().count(),
            })
            .sum()
    };
    let longest = inside
        .iter()
        .filter_map(|part| match part {
            SsmlPart::Text(text) => Some(text.chars().count()),
            SsmlPart::Markup(_) => None,
        })
        .max()
        .unwrap_or(0);
    if length(longest) <= MAX_SCRIPT_CHARS {
        return Ok(inner.into_owned());
    }
    if length(0) > MAX_SCRIPT_CHARS {
        return Err(format!(
            "the script's tags alone have {} characters; a call takes {MAX_SSML_CHARS} with its text",
            length(0) + OPEN.len() + CLOSE.len()
        ));
    }
    // The largest length every text may keep: length(cap) grows with cap.
    let (mut fits, mut too_long) = (0, longest);
    while too_long - fits > 1 {
        let middle = fits + (too_long - fits) / 2;
        if length(middle) <= MAX_SCRIPT_CHARS {
            fits = middle;
        } else {
            too_long = middle;
        }
    }
    Ok(inside
        .iter()
        .map(|part| match part {
            SsmlPart::Markup(markup) => Cow::Borrowed(*markup),
            SsmlPart::Text(text) => cut_text(text, fits),
        })
        .collect())
}

/// `text` (escaped SSML text) in at most `cap` characters: whole when it fits, else its start
/// (never ending inside a reference such as `&amp;`) and `…`; nothing when `cap` is 0.
fn cut_text(text: &str, cap: usize) -> Cow<'_, str> {
    if text.chars().count() <= cap {
        return Cow::Borrowed(text);
    }
    if cap == 0 {
        return Cow::Borrowed("");
    }
    let mut end = 0;
    let mut inside_reference = false;
    for (count, (index, c)) in text.char_indices().enumerate() {
        if count + 1 > cap - 1 {
            break;
        }
        match c {
            '&' => inside_reference = true,
            ';' => inside_reference = false,
            _ => {}
        }
        if !inside_reference {
            end = index + c.len_utf8();
        }
    }
    Cow::Owned(format!("{}…", text[..end].trim_end()))
}

/// The level's operators' numbers, then the attachment's extra numbers: numbers not in E.164 are
/// skipped with a logged reason (naming where they came from, not the number: personal data),
/// duplicates removed.
fn recipients(route: &RouteContext<'_>) -> Vec<String> {
    let integration = route.integration.id.as_str();
    let operators = route
        .recipients
        .iter()
        .filter_map(|operator| match &operator.phone {
            Some(phone) => Some((format!("operator `{}`", operator.id), phone.trim())),
            None => {
                tracing::debug!(integration, operator = %operator.id, "operator has no phone number");
                None
            }
        });
    let extra = route
        .attachment
        .extra_phones
        .iter()
        .enumerate()
        .map(|(index, phone)| (format!("extraPhones[{index}]"), phone.trim()));
    let mut out: Vec<String> = Vec::new();
    for (origin, phone) in operators.chain(extra) {
        if let Some(reason) = phone_problem(phone) {
            tracing::warn!(integration, origin, reason, "voice call recipient skipped");
            continue;
        }
        if !out.iter().any(|known| known == phone) {
            out.push(phone.to_owned());
        }
    }
    out
}
