//! `PagerDutySettings` (what a PagerDuty integration may set) and `PagerDutyTarget` (the settings,
//! checked).

use std::collections::BTreeMap;

use definition_store::Integration;
use notify_core::{NotifyError, incident::is_template};
use serde::Deserialize;

/// The Events API v2 endpoint of PagerDuty's US service region.
pub const US_URL: &str = "https://events.pagerduty.com/v2/enqueue";
/// The Events API v2 endpoint of PagerDuty's EU service region.
pub const EU_URL: &str = "https://events.eu.pagerduty.com/v2/enqueue";

/// The variable the routing key comes from when `settings.routingKey` is not given.
pub const ROUTING_KEY_VARIABLE: &str = "RoutingKey";

/// The settings of a PagerDuty integration (Events API v2); every key is optional. Templates see
/// the alert variables and the integration's user variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PagerDutySettings {
    /// The account's service region: `us` (default, events.pagerduty.com) or `eu`
    /// (events.eu.pagerduty.com). Not with `url`.
    #[serde(default)]
    pub region: Option<Region>,
    /// The Events API v2 URL, a template (a leading user variable may hold the base:
    /// `{{BaseUrl}}/v2/enqueue`); default by `region`.
    #[serde(default)]
    pub url: Option<String>,
    /// The integration (routing) key, a template; default `{{RoutingKey}}`: a user variable that is
    /// a secret (`{secret: "ssm:/…"}`) for one key per integration, or `{perLevel: true}` for a key
    /// per escalation level.
    #[serde(default)]
    pub routing_key: Option<String>,
    /// The severity, a template; default `critical`. Its value, looked up in `severityMap` (any
    /// case), must be `critical`, `error`, `warning` or `info`; another value is sent as
    /// `critical` with a warning in the log (an alert is never dropped for its severity).
    #[serde(default)]
    pub severity: Option<String>,
    /// Values `severity` may render to → the PagerDuty severity they stand for
    /// (`{P1: critical, page: critical, ticket: warning}`).
    #[serde(default)]
    pub severity_map: BTreeMap<String, Severity>,
    /// The alert's title, a template; default the built-in `pagerduty.summary`. One line, cut at
    /// 1,024 characters (PagerDuty's limit).
    #[serde(default)]
    pub summary: Option<String>,
    /// The affected system, a template; default the built-in `pagerduty.source` (the monitor's URL,
    /// else its name).
    #[serde(default)]
    pub source: Option<String>,
    /// `payload.component`, a template (omitted when it renders empty).
    #[serde(default)]
    pub component: Option<String>,
    /// `payload.group`, a template (omitted when it renders empty).
    #[serde(default)]
    pub group: Option<String>,
    /// `payload.class`, a template (omitted when it renders empty).
    #[serde(default)]
    pub class: Option<String>,
    /// `payload.custom_details`, a JSON template (an object; anything else is sent as
    /// `{"details": …}`); default every alert variable that has a value, and the level's message
    /// as `message`.
    #[serde(default)]
    pub custom_details: Option<String>,
    /// Whether a Reminder sends the Alert's event again (a `trigger` with the same `dedup_key`,
    /// which PagerDuty merges into the open alert); default false: the incident stays open until
    /// the Ok, as the product advises for state-based systems.
    #[serde(default)]
    pub send_reminders: bool,
}

/// PagerDuty's service regions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// events.pagerduty.com
    #[default]
    Us,
    /// events.eu.pagerduty.com
    Eu,
}

/// `payload.severity`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The default.
    #[default]
    Critical,
    /// An error.
    Error,
    /// A warning.
    Warning,
    /// Information.
    Info,
}

impl Severity {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Critical => "critical",
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        }
    }

    /// The severity named `name` (any case).
    pub fn parse(name: &str) -> Option<Severity> {
        [
            Severity::Critical,
            Severity::Error,
            Severity::Warning,
            Severity::Info,
        ]
        .into_iter()
        .find(|severity| severity.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// The settings of one PagerDuty integration, checked; templates are rendered per route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PagerDutyTarget {
    /// The URL template.
    pub url: String,
    /// The routing key template.
    pub routing_key: String,
    /// The severity template.
    pub severity: String,
    /// Lower-cased value → severity.
    pub severity_map: BTreeMap<String, Severity>,
    /// The summary template (`None`: the built-in `pagerduty.summary`).
    pub summary: Option<String>,
    /// The source template (`None`: the built-in `pagerduty.source`).
    pub source: Option<String>,
    /// `payload.component`, `payload.group`, `payload.class` templates.
    pub component: Option<String>,
    /// See `component`.
    pub group: Option<String>,
    /// See `component`.
    pub class: Option<String>,
    /// The custom details template (`None`: every alert variable).
    pub custom_details: Option<String>,
    /// Reminders re-trigger.
    pub send_reminders: bool,
}

impl PagerDutyTarget {
    /// The target of `integration`; errors are permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<PagerDutyTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::PagerDutyNotifier>(integration)?;
        if let Some((path, problem)) = problems(&settings, integration).into_iter().next() {
            return Err(NotifyError::permanent(format!(
                "integration `{}`: `{path}`: {problem}",
                integration.id
            )));
        }
        let url = match (&settings.url, settings.region.unwrap_or_default()) {
            (Some(url), _) => url.clone(),
            (None, Region::Us) => US_URL.to_owned(),
            (None, Region::Eu) => EU_URL.to_owned(),
        };
        Ok(PagerDutyTarget {
            url,
            routing_key: settings
                .routing_key
                .unwrap_or_else(|| format!("{{{{{ROUTING_KEY_VARIABLE}}}}}")),
            severity: settings
                .severity
                .unwrap_or_else(|| Severity::Critical.as_str().to_owned()),
            severity_map: settings
                .severity_map
                .into_iter()
                .map(|(value, severity)| (value.trim().to_lowercase(), severity))
                .collect(),
            summary: settings.summary,
            source: settings.source,
            component: settings.component,
            group: settings.group,
            class: settings.class,
            custom_details: settings.custom_details,
            send_reminders: settings.send_reminders,
        })
    }
}

/// What is wrong with `settings` beyond their types: `(path, problem)`.
pub(crate) fn problems(settings: &PagerDutySettings, integration: &Integration) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, text: String| problems.push((path.to_owned(), text));
    if settings.url.is_some() && settings.region.is_some() {
        problem(
            "settings.url",
            "give either `region` or `url`, not both".to_owned(),
        );
    }
    for (path, value) in [
        ("settings.url", &settings.url),
        ("settings.routingKey", &settings.routing_key),
        ("settings.severity", &settings.severity),
    ] {
        if value.as_deref().is_some_and(|value| value.trim().is_empty()) {
            problem(path, "empty: leave it out for the default".to_owned());
        }
    }
    if settings.routing_key.is_none() && !integration.variables.contains_key(ROUTING_KEY_VARIABLE) {
        problem(
            "settings.routingKey",
            format!(
                "no routing key: define the variable `{ROUTING_KEY_VARIABLE}` (`{{secret: \"ssm:/…\"}}`, or \
                 `{{perLevel: true}}` for a key per escalation level) or set `settings.routingKey`"
            ),
        );
    }
    for value in settings.severity_map.keys() {
        if value.trim().is_empty() {
            problem(
                "settings.severityMap",
                "an empty value cannot be mapped".to_owned(),
            );
        }
    }
    if let Some(severity) = settings.severity.as_deref()
        && !severity.trim().is_empty()
        && !is_template(severity)
        && !settings
            .severity_map
            .keys()
            .any(|value| value.trim().eq_ignore_ascii_case(severity.trim()))
        && Severity::parse(severity).is_none()
    {
        problem(
            "settings.severity",
            format!(
                "`{}` is not a PagerDuty severity (critical, error, warning, info) nor a value of \
                 settings.severityMap",
                severity.escape_debug()
            ),
        );
    }
    problems
}
