//! `StatusHubSettings` (what a StatusHub integration may set) and `StatusHubTarget` (the settings,
//! checked).

use std::collections::BTreeMap;

use definition_store::Integration;
use notify_core::NotifyError;
use serde::Deserialize;

/// The settings of a StatusHub integration: where the hub is, the key, and the hub's services that
/// escalation levels link monitors to (`serviceLinks`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusHubSettings {
    /// The Management API v3: the host you log into and `/api/v3`
    /// (`https://acme.app.statushub.io/api/v3`), or `{{ApiUrl}}` naming a variable.
    pub api_url: String,
    /// The hub's subdomain (`acme-status`).
    pub hub: String,
    /// The API key: a template naming a secret variable (`{{ApiKey}}`).
    pub api_key: String,
    /// The header that carries the key: `Authorization` (default, as `Bearer <key>`) or another
    /// header name, which carries the key as it is.
    #[serde(default)]
    pub api_key_header: Option<String>,
    /// The hub's services: a name (what `serviceLinks[].service` says) → the StatusHub service id.
    pub services: BTreeMap<String, u64>,
    /// Services (names) an Alert affects when the level links none to its monitor; none by default:
    /// the Alert of a monitor without a link sends nothing.
    #[serde(default)]
    pub default_services: Vec<String>,
    /// What an Alert sets its services to: `down` (default) or `degradedPerformance`.
    #[serde(default)]
    pub alert_status: AlertStatus,
    /// What the Ok makes of the incident: `monitoring` (default, as the product: the services are
    /// operational again and a person resolves the incident) or `resolved`.
    #[serde(default)]
    pub ok_state: OkState,
    /// Reminders: `skip` (default) or `update` (a silent `investigating` update of the open
    /// incident). A Reminder never opens an incident.
    #[serde(default)]
    pub reminders: Reminders,
    /// Subscribers are not notified of the incident's updates.
    #[serde(default)]
    pub silent: bool,
    /// The Alert's title (default: the built-in `statushub.title`); one line.
    #[serde(default)]
    pub title: Option<String>,
    /// The Alert's body, basic HTML (default: the built-in `statushub.body`).
    #[serde(default)]
    pub body: Option<String>,
    /// The Ok's title (default: the built-in `statushub.ok_title`); one line.
    #[serde(default)]
    pub ok_title: Option<String>,
    /// The Ok's body, basic HTML (default: the built-in `statushub.ok_body`).
    #[serde(default)]
    pub ok_body: Option<String>,
}

/// A service's status while the incident lasts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum AlertStatus {
    /// `down`.
    #[default]
    Down,
    /// `degraded-performance`.
    DegradedPerformance,
}

impl AlertStatus {
    /// StatusHub's name.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertStatus::Down => "down",
            AlertStatus::DegradedPerformance => "degraded-performance",
        }
    }
}

/// The incident's state after the Ok.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum OkState {
    /// `monitoring`, the services `up`.
    #[default]
    Monitoring,
    /// `resolved` (StatusHub sets every affected service up).
    Resolved,
}

impl OkState {
    /// StatusHub's `incident_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            OkState::Monitoring => "monitoring",
            OkState::Resolved => "resolved",
        }
    }
}

/// What a Reminder does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Reminders {
    /// Nothing.
    #[default]
    Skip,
    /// A silent `investigating` update of the open incident.
    Update,
}

/// The settings of one StatusHub integration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatusHubTarget {
    /// The settings.
    pub settings: StatusHubSettings,
}

impl StatusHubTarget {
    /// The target of `integration`; errors are permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<StatusHubTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::StatusHubNotifier>(integration)?;
        if let Some((path, problem)) = problems(&settings).into_iter().next() {
            return Err(NotifyError::permanent(format!(
                "integration `{}`: `{path}`: {problem}",
                integration.id
            )));
        }
        Ok(StatusHubTarget { settings })
    }
}

/// Whether `text` is a template (its value is known only when rendered).
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// What is wrong with `settings` beyond their types: `(path, problem)`.
pub(crate) fn problems(settings: &StatusHubSettings) -> Vec<(String, String)> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut problem = |path: &str, text: &str| problems.push((path.to_owned(), text.to_owned()));
    let url = settings.api_url.trim();
    if url.is_empty() {
        problem("settings.apiUrl", "empty api url");
    } else if !(is_template(url) || url.starts_with("https://") || url.starts_with("http://")) {
        problem(
            "settings.apiUrl",
            "not an absolute https:// url (`https://acme.app.statushub.io/api/v3`)",
        );
    }
    if let Some(reason) = hub_problem(&settings.hub) {
        problem("settings.hub", reason);
    }
    if settings.api_key.trim().is_empty() {
        problem("settings.apiKey", "empty api key");
    } else if !is_template(&settings.api_key) {
        problem(
            "settings.apiKey",
            "a literal api key: keep it in a secret variable and write its name here (\"{{ApiKey}}\")",
        );
    }
    if let Some(header) = &settings.api_key_header
        && let Some(reason) = definition_store::rules::header_name_problem(header)
    {
        problem("settings.apiKeyHeader", reason);
    }
    if settings.services.is_empty() {
        problem(
            "settings.services",
            "no service: name the hub's services (`website: 12345`) that levels link monitors to",
        );
    }
    for (name, id) in &settings.services {
        let path = format!("settings.services.{}", definition_store::escape_controls(name));
        if name.trim().is_empty() {
            problem(&path, "empty service name");
        }
        if *id == 0 {
            problem(&path, "a StatusHub service id is a positive number");
        }
    }
    for (index, name) in settings.default_services.iter().enumerate() {
        if !settings.services.contains_key(name) {
            problem(
                &format!("settings.defaultServices[{index}]"),
                &format!(
                    "\"{}\" is not one of settings.services",
                    definition_store::escape_controls(name)
                ),
            );
        }
    }
    problems
}

/// Why `hub` cannot be a hub's subdomain, if it cannot.
fn hub_problem(hub: &str) -> Option<&'static str> {
    if hub.is_empty() || hub.len() > 63 {
        return Some("a hub is its subdomain: 1 to 63 characters");
    }
    let ok = hub
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !hub.starts_with('-')
        && !hub.ends_with('-');
    (!ok).then_some("a hub is its subdomain: lower-case letters, digits and `-`")
}

/// The StatusHub service id a service link names: one of `settings.services` by name, or by its
/// id; why not otherwise.
pub fn service_id(settings: &StatusHubSettings, service: &str) -> Result<u64, String> {
    if let Some(id) = settings.services.get(service) {
        return Ok(*id);
    }
    if let Ok(id) = service.trim().parse::<u64>()
        && settings.services.values().any(|known| *known == id)
    {
        return Ok(id);
    }
    let known: Vec<&str> = settings.services.keys().map(String::as_str).collect();
    Err(format!(
        "\"{}\" is not a service of the integration (known: {})",
        definition_store::escape_controls(service),
        known.join(", ")
    ))
}
