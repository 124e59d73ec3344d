//! Slack's answers, classified: an incoming webhook answers `200 ok` or a plain-text error code
//! with its status; the Web API answers `200 {"ok": true, …}`, or `{"ok": false, "error": "…"}`
//! with 200 as well (429 when rate limited).

use notify_core::{HttpAnswer, NotifyError, Sent, http::truncate_utf8};
use serde_json::Value;

use crate::payload::{Api, IncidentState, SlackMessage};

/// The error codes of incoming webhooks (targets.md §2) and what they mean; all permanent but
/// `rollup_error`.
const WEBHOOK_ERRORS: &[(&str, &str)] = &[
    ("invalid_payload", "slack could not read the message"),
    ("invalid_blocks", "slack refused the message's blocks"),
    ("invalid_blocks_format", "slack refused the message's blocks"),
    (
        "missing_text_or_fallback_or_attachments",
        "the message has no text",
    ),
    ("user_not_found", "the webhook's user no longer exists"),
    (
        "action_prohibited",
        "a workspace administrator does not allow posting there",
    ),
    (
        "invalid_token",
        "the webhook URL's token is not valid (revoked or mistyped)",
    ),
    (
        "no_service",
        "the webhook is disabled or was removed: create a new one",
    ),
    ("no_team", "the webhook's workspace no longer exists"),
    ("channel_not_found", "the webhook's channel no longer exists"),
    ("channel_is_archived", "the webhook's channel is archived"),
    ("rollup_error", "slack failed to post the message"),
];

/// Web API error codes worth another try: rate limits, and failures on Slack's side.
const RETRYABLE_API_ERRORS: &[&str] = &[
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
];

/// What the common Web API error codes mean (the code alone for the others).
const API_ERRORS: &[(&str, &str)] = &[
    ("not_authed", "no bot token was sent"),
    ("invalid_auth", "the bot token is not valid"),
    ("token_revoked", "the bot token was revoked"),
    ("token_expired", "the bot token expired"),
    ("account_inactive", "the bot's app or workspace was deactivated"),
    ("missing_scope", "the bot token lacks the `chat:write` scope"),
    (
        "channel_not_found",
        "the channel does not exist, or the bot cannot see it",
    ),
    (
        "not_in_channel",
        "the bot is not a member of the channel: invite it",
    ),
    ("is_archived", "the channel is archived"),
    ("msg_too_long", "the message is too long"),
    ("no_text", "the message has no text"),
    ("invalid_blocks", "slack refused the message's blocks"),
    ("invalid_thread_ts", "the incident's thread no longer exists"),
    ("message_not_found", "the incident's message no longer exists"),
    (
        "cant_update_message",
        "the bot may not update the incident's message",
    ),
    (
        "edit_window_closed",
        "the workspace no longer allows the incident's message to be edited",
    ),
    (
        "restricted_action",
        "a workspace setting does not allow the bot to post there",
    ),
    ("ratelimited", "rate limited"),
    ("rate_limited", "the app posted too many messages"),
    ("internal_error", "slack failed (internal_error)"),
];

/// The name of the target in errors: `slack incoming webhook (POST https://hooks.slack.com)`; the
/// label holds the origin only (the webhook URL's path is its credential).
fn target(api: Api, answer: &HttpAnswer) -> String {
    format!("slack {} ({})", api.name(), answer.label)
}

/// An incoming webhook's answer: 2xx is success; a known error code is explained (permanent, but
/// `rollup_error`); the rest is classified by its status (429 and 5xx retryable, `Retry-After`
/// honoured).
pub(crate) fn webhook(answer: &HttpAnswer) -> Result<Sent, NotifyError> {
    let standard = answer.classified();
    let Err(error) = standard else {
        return standard;
    };
    let code = answer.body.trim();
    let Some((code, meaning)) = WEBHOOK_ERRORS.iter().find(|(known, _)| *known == code) else {
        return Err(error);
    };
    let reason = format!(
        "{}: {code}: {meaning} (http {})",
        target(Api::IncomingWebhook, answer),
        answer.status
    );
    Err(if *code == "rollup_error" {
        NotifyError::Retryable {
            reason,
            status: Some(answer.status),
            retry_after: answer.retry_after,
        }
    } else {
        NotifyError::Permanent {
            reason,
            status: Some(answer.status),
        }
    })
}

/// A Web API answer: `ok: true` is success, with what the message keeps for the incident; `ok:
/// false` is a failure classified by its `error` (rate limits and Slack's own failures retryable,
/// `Retry-After` honoured; the rest permanent, `invalid_blocks` with Slack's reasons); an answer
/// that is not the Web API's JSON is a failure classified by its status.
pub(crate) fn web_api(message: &SlackMessage, answer: &HttpAnswer) -> Result<Sent, NotifyError> {
    let parsed: Option<Value> = serde_json::from_str(&answer.body).ok();
    let ok = parsed
        .as_ref()
        .and_then(|body| body.get("ok"))
        .and_then(Value::as_bool);
    let name = target(message.api, answer);
    match (answer.classified(), ok) {
        (Ok(mut sent), Some(true)) => {
            let body = parsed.unwrap_or_default();
            let text = |key: &str| body.get(key).and_then(Value::as_str);
            let (channel, ts) = (text("channel"), text("ts"));
            sent.external_id = match (channel, ts) {
                (Some(channel), Some(ts)) => Some(format!("{channel}/{ts}")),
                (None, Some(ts)) => Some(ts.to_owned()),
                _ => None,
            };
            sent.incident = IncidentState::after(&message.keep, channel, ts);
            Ok(sent)
        }
        (result, _) => {
            let code = parsed
                .as_ref()
                .and_then(|body| body.get("error"))
                .and_then(Value::as_str);
            match (code, result) {
                (Some(code), _) => Err(api_error(&name, code, parsed.as_ref(), answer)),
                // 2xx that is not the Web API's answer: the message may have been posted, so it
                // is not tried again.
                (None, Ok(sent)) => Err(NotifyError::Permanent {
                    reason: format!(
                        "{name}: the answer is not the web api's JSON (`{}`)",
                        truncate_utf8(sent.response.trim(), 200)
                    ),
                    status: Some(answer.status),
                }),
                (None, Err(error)) => Err(error),
            }
        }
    }
}

/// An `ok: false` answer's error.
fn api_error(name: &str, code: &str, body: Option<&Value>, answer: &HttpAnswer) -> NotifyError {
    let code = truncate_utf8(code, 100);
    let meaning = API_ERRORS
        .iter()
        .find(|(known, _)| *known == code)
        .map(|(_, meaning)| format!(": {meaning}"))
        .unwrap_or_default();
    // `invalid_blocks` says why in `errors` (and again in `response_metadata.messages`).
    let details = body
        .and_then(|body| body.get("errors"))
        .and_then(Value::as_array)
        .map(|errors| {
            errors
                .iter()
                .filter_map(Value::as_str)
                .take(5)
                .map(|error| truncate_utf8(error, 200))
                .collect::<Vec<_>>()
                .join("; ")
        })
        .filter(|details| !details.is_empty())
        .map(|details| format!(" ({details})"))
        .unwrap_or_default();
    let reason = format!("{name}: {code}{meaning}{details} (http {})", answer.status);
    let retryable =
        RETRYABLE_API_ERRORS.contains(&code.as_str()) || answer.status == 429 || answer.status >= 500;
    if retryable {
        NotifyError::Retryable {
            reason,
            status: Some(answer.status),
            retry_after: answer.retry_after,
        }
    } else {
        NotifyError::Permanent {
            reason,
            status: Some(answer.status),
        }
    }
}
