//! Pure: one route → one REST endpoint message (`CRITICAL`, or `WARNING`/`INFO` by setting, on an
//! Alert; `RECOVERY` on an Ok), keyed by `entity_id` = the incident key.

use std::collections::BTreeMap;

use alert_model::{
    Alert, AlertType,
    template::{Escape, RenderContext, TemplateSource},
};
use notify_core::{
    HttpRequest, NotifyError, Outgoing, RouteContext,
    http::truncate_utf8,
    incident::{self, Action},
};
use serde::Serialize;

use crate::config::{ROUTING_KEY_PLACEHOLDER, SplunkOnCallTarget};

/// `entity_id` has no documented limit; the incident key is already bounded to 255 bytes when an
/// alert is read (ARCHITECTURE.md), which this keeps.
pub const MAX_ENTITY_ID_BYTES: usize = 255;
/// `entity_display_name` is one line; Splunk On-Call documents no limit: cut at 1,024 characters,
/// as PagerDuty's summary.
pub const MAX_TITLE_CHARS: usize = 1024;
/// `state_message` has no documented limit; Alertmanager's VictorOps notifier cuts it at 20,480
/// characters (`notify/victorops/victorops.go`): cut at 20,480 bytes (at a character boundary),
/// which is stricter.
pub const MAX_STATE_MESSAGE_BYTES: usize = 20_480;
/// The `message_type` that resolves the incident of an `entity_id`.
pub const RECOVERY: &str = "RECOVERY";

/// One message, ready to encode ([`SplunkOnCallMessage::request`]).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SplunkOnCallMessage {
    /// The REST endpoint URL with its routing key.
    pub url: String,
    /// The routing key (for what `tocsin render` shows).
    pub routing_key: String,
    /// The body.
    pub body: Body,
    /// The incident state to keep once it is delivered.
    #[serde(skip)]
    pub keep: Option<serde_json::Value>,
}

/// The REST endpoint's JSON body (targets.md §4): its documented fields, then custom fields (text)
/// that Splunk On-Call shows in the alert's details.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Body {
    /// `CRITICAL`, `WARNING`, `INFO` or `RECOVERY`.
    pub message_type: &'static str,
    /// The incident key; absent for an Alert without one (Splunk On-Call makes one up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// The title, one line.
    pub entity_display_name: String,
    /// The long description.
    pub state_message: String,
    /// When the entity entered this state (epoch seconds): the first error of an Alert, the time
    /// of an Ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_start_time: Option<i64>,
    /// When the alert happened (epoch seconds).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    /// `Tocsin` or the setting.
    pub monitoring_tool: String,
    /// Custom fields, those with a value: `alert` (the alert id), `alert_type`, `alert_definition`,
    /// `escalation_level`, `monitor`, `monitor_type`, `monitor_url`, `dashboard_url`,
    /// `failed_check_url`, `checkpoint`.
    #[serde(flatten)]
    pub fields: BTreeMap<String, String>,
}

impl SplunkOnCallMessage {
    /// The HTTP request that sends this message.
    pub fn request(&self) -> Result<HttpRequest, NotifyError> {
        let body = serde_json::to_string(&self.body).map_err(|error| {
            NotifyError::permanent(format!("splunk on-call message not serialisable: {error}"))
        })?;
        Ok(HttpRequest {
            method: "POST".to_owned(),
            url: self.url.clone(),
            headers: BTreeMap::from([("Content-Type".to_owned(), "application/json".to_owned())]),
            body,
        })
    }
}

/// Builds the message of one route: the Alert's type for an Alert (and a Reminder with
/// `sendReminders`), `RECOVERY` for an Ok, nothing when the lifecycle says so
/// ([`incident::action`]).
pub(crate) fn build_messages(
    route: &RouteContext<'_>,
    target: &SplunkOnCallTarget,
) -> Result<Vec<Outgoing<SplunkOnCallMessage>>, NotifyError> {
    let integration = route.integration.id.as_str();
    let alert = route.alert;
    let action = incident::action(alert, "Splunk On-Call", target.send_reminders, route.incident);
    let entity_id = Some(incident::key_within(&alert.incident.key, MAX_ENTITY_ID_BYTES).into_owned())
        .filter(|key| !key.trim().is_empty());
    let (message_type, step) = match (&action, &entity_id) {
        (Action::Open, _) => (target.message_type.as_str(), "alert"),
        (Action::Close, Some(_)) => (RECOVERY, "recovery"),
        (Action::Close, None) => {
            tracing::warn!(
                integration,
                "nothing to send: the Ok has no incident key (entity_id) to recover"
            );
            return Ok(Vec::new());
        }
        (Action::Skip(reason), _) => {
            tracing::info!(integration, reason = reason.as_str(), "nothing to send");
            return Ok(Vec::new());
        }
    };
    let renderer = Renderer {
        route,
        context: RenderContext {
            alert,
            variables: route.variables.values(),
            now: route.now,
        },
    };
    let (url, routing_key) = renderer.url(target)?;
    let title = incident::title(
        &renderer.template_or_default(
            "settings.entityDisplayName",
            target.entity_display_name.as_deref(),
            "splunk-oncall.title",
        )?,
        MAX_TITLE_CHARS,
    );
    let title = if title.trim().is_empty() {
        fallback_title(alert)
    } else {
        title
    };
    let state_message = truncate_utf8(
        renderer
            .template_or_default(
                "settings.stateMessage",
                target.state_message.as_deref(),
                "splunk-oncall.message",
            )?
            .trim(),
        MAX_STATE_MESSAGE_BYTES,
    );
    let at = incident::alert_time(alert).map(|time| time.timestamp());
    let state_start_time = match alert.alert.alert_type {
        AlertType::Ok => at,
        AlertType::Alert | AlertType::Reminder => incident::parse_time(&alert.alert.first_error_utc)
            .map(|time| time.timestamp())
            .or(at),
    };
    let body = Body {
        message_type,
        entity_id,
        entity_display_name: title,
        state_message,
        state_start_time,
        timestamp: at,
        monitoring_tool: target.monitoring_tool.clone(),
        fields: custom_fields(alert),
    };
    Ok(vec![Outgoing {
        step: step.to_owned(),
        message: SplunkOnCallMessage {
            url,
            routing_key,
            body,
            keep: incident::keep(&action, alert, route.incident),
        },
    }])
}

/// `<Alert|Reminder|Ok>: <monitor>`, for a title that renders empty.
fn fallback_title(alert: &Alert) -> String {
    let monitor = alert.monitor.name.trim();
    let monitor = if monitor.is_empty() {
        "(unnamed monitor)"
    } else {
        monitor
    };
    incident::title(&format!("{}: {monitor}", alert.alert.alert_type), MAX_TITLE_CHARS)
}

/// The alert's identifying values as custom fields (text), those that have one. None of the names
/// is one Splunk On-Call reserves.
pub(crate) fn custom_fields(alert: &Alert) -> BTreeMap<String, String> {
    let level = alert.escalation_level.id.to_string();
    let alert_type = alert.alert.alert_type.to_string();
    [
        ("alert", alert.alert.alert_guid.as_str()),
        ("alert_type", alert_type.as_str()),
        ("alert_definition", alert.alert_definition.name.as_str()),
        ("escalation_level", level.as_str()),
        ("monitor", alert.monitor.name.as_str()),
        ("monitor_type", alert.monitor.monitor_type.as_str()),
        ("monitor_url", alert.monitor.url.as_str()),
        ("dashboard_url", alert.monitor.dashboard_url.as_str()),
        ("failed_check_url", alert.alert.first_error_check_url.as_str()),
        ("checkpoint", alert.alert.checkpoint_name.as_str()),
    ]
    .into_iter()
    .map(|(name, value)| (name, value.trim()))
    .filter(|(_, value)| !value.is_empty())
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

struct Renderer<'a> {
    route: &'a RouteContext<'a>,
    context: RenderContext<'a>,
}

impl Renderer<'_> {
    /// A permanent error naming the integration.
    fn error(&self, reason: impl std::fmt::Display) -> NotifyError {
        NotifyError::permanent(format!("integration `{}`: {reason}", self.route.integration.id))
    }

    fn render(&self, field: &str, template: &str, escape: Escape) -> Result<String, NotifyError> {
        let source = TemplateSource {
            integration: &self.route.integration.id,
            field,
        };
        self.route
            .engine
            .render(source, template, escape, &self.context)
            .map_err(|error| NotifyError::permanent(error.to_string()))
    }

    /// The integration's template at `field`, else the built-in `default` (as plain text).
    fn template_or_default(
        &self,
        field: &str,
        template: Option<&str>,
        default: &str,
    ) -> Result<String, NotifyError> {
        match template {
            Some(template) => self.render(field, template, Escape::Text),
            None => {
                let builtin = crate::default_template(default)
                    .ok_or_else(|| self.error(format!("no built-in template `{default}`")))?;
                self.render(default, builtin, Escape::Text)
            }
        }
    }

    /// The REST endpoint URL and the routing key: the URL template rendered (values
    /// percent-encoded), without the `$routing_key` its end may hold, then `/` and the routing key
    /// (percent-encoded). An absolute http(s) URL without white space; never quoted in an error (it
    /// holds the API key).
    fn url(&self, target: &SplunkOnCallTarget) -> Result<(String, String), NotifyError> {
        let url = self.render("settings.url", &target.url, Escape::Url)?;
        let url = url.trim();
        let url = url.strip_suffix(ROUTING_KEY_PLACEHOLDER).unwrap_or(url);
        let url = url.trim_end_matches('/');
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(self.error("`settings.url` does not render to an absolute http:// or https:// URL"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(
                self.error("`settings.url` renders to a URL containing white space or control characters")
            );
        }
        let routing_key = self.render("settings.routingKey", &target.routing_key, Escape::Url)?;
        let routing_key = routing_key.trim();
        if routing_key.is_empty() {
            return Err(self.error("`settings.routingKey` renders to an empty routing key"));
        }
        if routing_key
            .chars()
            .any(|c| c == '/' || c == '?' || c == '#' || c.is_whitespace() || c.is_control())
        {
            return Err(self.error(
                "`settings.routingKey` renders to a routing key with `/`, `?`, `#`, white space or control \
                 characters",
            ));
        }
        Ok((format!("{url}/{routing_key}"), routing_key.to_owned()))
    }
}
