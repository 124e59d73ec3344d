//! Pure: one route → the one Workflows request of its Teams message.

use std::collections::BTreeMap;

use alert_model::template::{Escape, RenderContext, TemplateSource};
use notify_core::{HttpRequest, NotifyError, Outgoing, RouteContext};
use serde::Serialize;
use serde_json::Value;

use crate::{
    config::TeamsTarget,
    size::{MAX_BODY_BYTES, fit},
};

/// The content type of an Adaptive Card attachment.
pub const ADAPTIVE_CARD: &str = "application/vnd.microsoft.card.adaptive";

/// The step of a Teams route: one message per alert.
pub const STEP: &str = "card";

/// The Standard Webhooks message id header: the same on every retry of a message, so that a flow
/// (or any receiver) can drop a message it already acted on.
pub const WEBHOOK_ID: &str = "webhook-id";
/// The time the message was built, in epoch seconds.
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";

/// Namespace of the `webhook-id` UUIDs of Teams messages (v5 of the delivery key).
const WEBHOOK_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3c2f_8e51_94d7_4a0b_b6e3_0d71_5a9c_e248);

/// One Teams message, ready to send.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TeamsMessage {
    /// The request: `POST` to the Workflows URL, a JSON body of at most
    /// [`MAX_BODY_BYTES`](crate::MAX_BODY_BYTES).
    pub request: HttpRequest,
    /// How many texts of the message were shortened to keep it under the limit.
    #[serde(skip_serializing_if = "is_zero")]
    pub shortened: usize,
    /// The message as its template rendered it, when texts were shortened (what
    /// [`Kind::fields`](notify_core::Kind::fields) shows: the values as they were escaped).
    #[serde(skip)]
    pub rendered: Option<String>,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_zero(count: &usize) -> bool {
    *count == 0
}

/// Builds the one message of a route (step [`STEP`]), whatever the alert's type.
pub(crate) fn build_messages(
    route: &RouteContext<'_>,
    target: &TeamsTarget,
) -> Result<Vec<Outgoing<TeamsMessage>>, NotifyError> {
    let integration = route.integration.id.as_str();
    let context = RenderContext {
        alert: route.alert,
        variables: route.variables.values(),
        now: route.now,
    };
    let render = |field: &str, template: &str, escape: Escape| {
        route
            .engine
            .render(TemplateSource { integration, field }, template, escape, &context)
            .map_err(|error| NotifyError::permanent(error.to_string()))
    };
    let problem = |field: &str, reason: String| {
        NotifyError::permanent(format!("integration `{integration}`, field `{field}`: {reason}"))
    };

    let url = render("settings.url", &target.url, Escape::Url)?
        .trim()
        .to_owned();
    // The URL is never quoted: its `sig` parameter is a credential.
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("https://") || lower.starts_with("http://")) {
        return Err(problem(
            "settings.url",
            "does not render to an absolute http:// or https:// URL".to_owned(),
        ));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(problem(
            "settings.url",
            "renders to a URL containing white space or control characters".to_owned(),
        ));
    }

    let (template, field) = match &target.card {
        Some(card) => (card.as_str(), "settings.card"),
        None => (
            crate::default_template("teams.card").unwrap_or_default(),
            "teams.card",
        ),
    };
    let rendered = render(field, template, Escape::Json)?;
    let rendered = rendered.trim();
    let value: Value = serde_json::from_str(rendered)
        .map_err(|error| problem(field, format!("the rendered message does not parse: {error}")))?;
    envelope_problem(&value).map_or(Ok(()), |reason| {
        Err(problem(field, format!("not a Workflows message: {reason}")))
    })?;
    let fitted = fit(rendered, value, MAX_BODY_BYTES).map_err(|reason| problem(field, reason))?;
    if fitted.shortened > 0 {
        tracing::info!(
            integration,
            shortened = fitted.shortened,
            bytes = fitted.body.len(),
            "teams message shortened to fit the size limit"
        );
    }

    let headers = BTreeMap::from([
        ("Content-Type".to_owned(), "application/json".to_owned()),
        (WEBHOOK_ID.to_owned(), webhook_id(route)),
        (WEBHOOK_TIMESTAMP.to_owned(), route.now.timestamp().to_string()),
    ]);
    Ok(vec![Outgoing {
        step: STEP.to_owned(),
        message: TeamsMessage {
            request: HttpRequest {
                method: "POST".to_owned(),
                url,
                headers,
                body: fitted.body,
            },
            shortened: fitted.shortened,
            rendered: (fitted.shortened > 0).then(|| rendered.to_owned()),
        },
    }])
}

/// `msg_` and a UUID v5 of the delivery key `(alert, integration, alert definition, step)`: stable
/// across retries and invocations, distinct for every message.
fn webhook_id(route: &RouteContext<'_>) -> String {
    let key = format!(
        "{}\u{0}{}\u{0}{}\u{0}{STEP}",
        route.alert.alert.alert_guid, route.integration.id, route.alert.alert_definition.guid
    );
    format!(
        "msg_{}",
        uuid::Uuid::new_v5(&WEBHOOK_ID_NAMESPACE, key.as_bytes()).simple()
    )
}

/// What keeps `message` from being the body Workflows' "Send webhook alerts to a channel" flow
/// takes (targets.md §3.2), if anything: `{"type": "message", "attachments": [{"contentType",
/// "contentUrl": null, "content"}, …]}`, an Adaptive Card's content being an `AdaptiveCard`
/// object. Other members are left to the flow.
pub(crate) fn envelope_problem(message: &Value) -> Option<String> {
    let Some(message) = message.as_object() else {
        return Some(
            "the message must be a JSON object {\"type\": \"message\", \"attachments\": […]}".to_owned(),
        );
    };
    if message.get("type").and_then(Value::as_str) != Some("message") {
        return Some("`type` must be \"message\"".to_owned());
    }
    let attachments = match message.get("attachments").and_then(Value::as_array) {
        Some(attachments) if !attachments.is_empty() => attachments,
        _ => {
            return Some(
                "`attachments` must be a list of at least one card (the flow posts each)".to_owned(),
            );
        }
    };
    for (index, attachment) in attachments.iter().enumerate() {
        let at = format!("attachments[{index}]");
        let Some(attachment) = attachment.as_object() else {
            return Some(format!("`{at}` must be an object"));
        };
        let Some(content_type) = attachment.get("contentType").and_then(Value::as_str) else {
            return Some(format!(
                "`{at}.contentType` is missing (\"{ADAPTIVE_CARD}\" for an Adaptive Card)"
            ));
        };
        match attachment.get("contentUrl") {
            None => {
                return Some(format!(
                    "`{at}.contentUrl` is missing: Workflows refuses an attachment without it (set it to null)"
                ));
            }
            Some(Value::Null) => {}
            Some(_) => return Some(format!("`{at}.contentUrl` must be null")),
        }
        let Some(content) = attachment.get("content") else {
            return Some(format!("`{at}.content` is missing (the card)"));
        };
        let is_card = content.get("type").and_then(Value::as_str) == Some("AdaptiveCard");
        if content_type == ADAPTIVE_CARD && !is_card {
            return Some(format!(
                "`{at}.content` must be an Adaptive Card (an object with \"type\": \"AdaptiveCard\")"
            ));
        }
    }
    None
}
