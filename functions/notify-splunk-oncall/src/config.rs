//! `SplunkOnCallSettings` (what a Splunk On-Call integration may set) and `SplunkOnCallTarget` (the
//! settings, checked).

use definition_store::Integration;
use notify_core::NotifyError;
use serde::Deserialize;

/// The variable the API key comes from when `settings.url` is not given.
pub const API_KEY_VARIABLE: &str = "ApiKey";
/// The REST endpoint URL when `settings.url` is not given: Splunk On-Call's, with the API key from
/// the variable [`API_KEY_VARIABLE`].
pub const DEFAULT_URL: &str = "https://alert.victorops.com/integrations/generic/20131114/alert/{{ApiKey}}";
/// The variable the routing key comes from when `settings.routingKey` is not given.
pub const ROUTING_KEY_VARIABLE: &str = "RoutingKey";
/// The placeholder Splunk On-Call's integration page shows at the end of the REST endpoint URL.
pub const ROUTING_KEY_PLACEHOLDER: &str = "$routing_key";
/// The monitoring tool named on the incident when `settings.monitoringTool` is not given.
pub const MONITORING_TOOL: &str = "Tocsin";

/// The settings of a Splunk On-Call (VictorOps) REST endpoint integration; every key is optional.
/// Templates see the alert variables and the integration's user variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SplunkOnCallSettings {
    /// The REST endpoint URL as Splunk On-Call's integration page shows it, up to the routing key
    /// (`https://alert.victorops.com/integrations/generic/20131114/alert/<api key>`; a
    /// `/$routing_key` at its end is dropped), a template; default Splunk On-Call's with the API key
    /// from the variable `ApiKey`, best a secret (`{secret: "ssm:/…"}`). A leading variable may hold
    /// the whole URL (`{{RestUrl}}`), a secret too.
    #[serde(default)]
    pub url: Option<String>,
    /// The routing key, a template; default `{{RoutingKey}}`: a user variable, a secret or
    /// `{perLevel: true}` for a routing key per escalation level.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// The `message_type` of an Alert: `CRITICAL` (default: opens an incident and pages),
    /// `WARNING` (an incident only if the account's Alert Behavior settings say so) or `INFO`
    /// (the timeline only). An Ok is always `RECOVERY`.
    #[serde(default)]
    pub message_type: Option<MessageType>,
    /// `entity_display_name`, the incident's title, a template; default the built-in
    /// `splunk-oncall.title`. One line.
    #[serde(default)]
    pub entity_display_name: Option<String>,
    /// `state_message`, the long description, a template; default the built-in
    /// `splunk-oncall.message`. Cut at 20,480 bytes.
    #[serde(default)]
    pub state_message: Option<String>,
    /// `monitoring_tool`; default `Tocsin`.
    #[serde(default)]
    pub monitoring_tool: Option<String>,
    /// Whether a Reminder sends the Alert's message again (the same `entity_id`, which Splunk On-Call
    /// adds to the open incident's timeline); default false: the incident stays open until the Ok,
    /// as the product advises for state-based systems.
    #[serde(default)]
    pub send_reminders: bool,
}

/// The `message_type` of an Alert.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum MessageType {
    /// Opens an incident and pages.
    #[default]
    Critical,
    /// An incident only if the account's Alert Behavior settings say so, else the timeline.
    Warning,
    /// The timeline only; never pages.
    Info,
}

impl MessageType {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageType::Critical => "CRITICAL",
            MessageType::Warning => "WARNING",
            MessageType::Info => "INFO",
        }
    }
}

/// The settings of one Splunk On-Call integration, checked; templates are rendered per route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SplunkOnCallTarget {
    /// The REST endpoint URL template.
    pub url: String,
    /// The routing key template.
    pub routing_key: String,
    /// The `message_type` of an Alert.
    pub message_type: MessageType,
    /// The title template (`None`: the built-in `splunk-oncall.title`).
    pub entity_display_name: Option<String>,
    /// The description template (`None`: the built-in `splunk-oncall.message`).
    pub state_message: Option<String>,
    /// `monitoring_tool`.
    pub monitoring_tool: String,
    /// Reminders send the Alert's message again.
    pub send_reminders: bool,
}

impl SplunkOnCallTarget {
    /// The target of `integration`; errors are permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<SplunkOnCallTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::SplunkOnCallNotifier>(integration)?;
        if let Some((path, problem)) = problems(&settings, integration).into_iter().next() {
            return Err(NotifyError::permanent(format!(
                "integration `{}`: `{path}`: {problem}",
                integration.id
            )));
        }
        Ok(SplunkOnCallTarget {
            url: settings.url.unwrap_or_else(|| DEFAULT_URL.to_owned()),
            routing_key: settings
                .routing_key
                .unwrap_or_else(|| format!("{{{{{ROUTING_KEY_VARIABLE}}}}}")),
            message_type: settings.message_type.unwrap_or_default(),
            entity_display_name: settings.entity_display_name,
            state_message: settings.state_message,
            monitoring_tool: settings
                .monitoring_tool
                .map(|tool| tool.trim().to_owned())
                .unwrap_or_else(|| MONITORING_TOOL.to_owned()),
            send_reminders: settings.send_reminders,
        })
    }
}

/// What is wrong with `settings` beyond their types: `(path, problem)`.
pub(crate) fn problems(settings: &SplunkOnCallSettings, integration: &Integration) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, text: String| problems.push((path.to_owned(), text));
    for (path, value) in [
        ("settings.url", &settings.url),
        ("settings.routingKey", &settings.routing_key),
        ("settings.monitoringTool", &settings.monitoring_tool),
    ] {
        if value.as_deref().is_some_and(|value| value.trim().is_empty()) {
            problem(path, "empty: leave it out for the default".to_owned());
        }
    }
    for (path, setting, variable, what) in [
        (
            "settings.url",
            &settings.url,
            API_KEY_VARIABLE,
            "no API key: define the variable `ApiKey` (best a secret, `{secret: \"ssm:/…\"}`) or set \
             `settings.url` (the REST endpoint URL, which holds the key)",
        ),
        (
            "settings.routingKey",
            &settings.routing_key,
            ROUTING_KEY_VARIABLE,
            "no routing key: define the variable `RoutingKey` (a value, a secret, or `{perLevel: true}` \
             for a routing key per escalation level) or set `settings.routingKey`",
        ),
    ] {
        if setting.is_none() && !integration.variables.contains_key(variable) {
            problem(path, what.to_owned());
        }
    }
    problems
}
