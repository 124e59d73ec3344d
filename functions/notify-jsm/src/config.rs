//! `JsmSettings` (what a Jira Service Management / Opsgenie integration may set) and `JsmTarget`
//! (the settings, checked).

use std::collections::BTreeMap;

use definition_store::Integration;
use notify_core::{NotifyError, incident::is_template};
use serde::Deserialize;

/// Jira Service Management's integration events API (one host).
pub const JSM_URL: &str = "https://api.atlassian.com";
/// Opsgenie's US API.
pub const OPSGENIE_US_URL: &str = "https://api.opsgenie.com";
/// Opsgenie's EU API.
pub const OPSGENIE_EU_URL: &str = "https://api.eu.opsgenie.com";
/// The variable the API key comes from when `settings.apiKey` is not given.
pub const API_KEY_VARIABLE: &str = "ApiKey";
/// At most this many responders (the API's limit).
pub const MAX_RESPONDERS: usize = 50;
/// At most this many tags (the API's limit).
pub const MAX_TAGS: usize = 20;

/// The settings of a Jira Service Management (Operations) or Opsgenie integration; every key is
/// optional. Templates see the alert variables and the integration's user variables.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct JsmSettings {
    /// Which API: `jsm` (default: Jira Service Management's integration events API,
    /// api.atlassian.com/jsm/ops/integration/v2/alerts) or `opsgenie` (Opsgenie's alert API,
    /// /v2/alerts, until Opsgenie's end of support).
    #[serde(default)]
    pub api: Option<Api>,
    /// Opsgenie's region: `us` (default, api.opsgenie.com) or `eu` (api.eu.opsgenie.com). Not with
    /// `url`, and not with `api: jsm` (its API has one host).
    #[serde(default)]
    pub region: Option<Region>,
    /// The API's base URL, a template (a leading user variable may hold it: `{{BaseUrl}}`); the
    /// API's paths are added to it. Default by `api` and `region`.
    #[serde(default)]
    pub url: Option<String>,
    /// The API key of the API integration (sent as `Authorization: GenieKey <key>`), a template;
    /// default `{{ApiKey}}`: a user variable, which should be a secret (`{secret: "ssm:/…"}`).
    #[serde(default)]
    pub api_key: Option<String>,
    /// `message`, the alert's title, a template; default the built-in `jsm.message`. One line, cut
    /// at 130 characters (the API's limit).
    #[serde(default)]
    pub message: Option<String>,
    /// `description`, a template; default the built-in `jsm.description`. Cut at 15,000
    /// bytes (the API's limit is 15,000 characters).
    #[serde(default)]
    pub description: Option<String>,
    /// `priority`, a template whose value is looked up in `priorityMap` (any case) or read as
    /// `P1`…`P5`; left out (the API's default, `P3`) when not given or when it renders empty. Any
    /// other value is sent as `P1` with a warning in the log (an alert is never lost to its
    /// priority).
    #[serde(default)]
    pub priority: Option<String>,
    /// Values `priority` may render to → the priority they stand for (`{critical: P1, minor: P4}`).
    #[serde(default)]
    pub priority_map: BTreeMap<String, Priority>,
    /// Who is notified: teams, users, escalations or schedules (at most 50).
    #[serde(default)]
    pub responders: Vec<Responder>,
    /// Tags, each a template (at most 20; each cut at 50 characters; empty ones left out).
    #[serde(default)]
    pub tags: Vec<String>,
    /// Extra `details` (name → template), added to the alert's identifying values (`alert`,
    /// `monitor`, `dashboardUrl`, …), whose names they may replace.
    #[serde(default)]
    pub details: BTreeMap<String, String>,
    /// `entity`, a template; default the monitor's name. Cut at 512 characters.
    #[serde(default)]
    pub entity: Option<String>,
    /// `source`; default `Tocsin`. Cut at 100 characters.
    #[serde(default)]
    pub source: Option<String>,
    /// The note of the close, a template; default the built-in `jsm.note`.
    #[serde(default)]
    pub close_note: Option<String>,
    /// Whether a Reminder sends the Alert's create again (the same alias, which the API counts on
    /// the open alert); default false: the alert stays open until the Ok, as the product advises
    /// for state-based systems.
    #[serde(default)]
    pub send_reminders: bool,
}

/// Which API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Api {
    /// Jira Service Management's integration events API.
    #[default]
    Jsm,
    /// Opsgenie's alert API.
    Opsgenie,
}

impl Api {
    /// The path of the alerts, after the base URL.
    pub fn alerts_path(self) -> &'static str {
        match self {
            Api::Jsm => "/jsm/ops/integration/v2/alerts",
            Api::Opsgenie => "/v2/alerts",
        }
    }
}

/// Opsgenie's regions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Region {
    /// api.opsgenie.com
    #[default]
    Us,
    /// api.eu.opsgenie.com
    Eu,
}

/// An alert's priority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum Priority {
    /// The highest.
    P1,
    /// High.
    P2,
    /// Moderate (the API's default).
    P3,
    /// Low.
    P4,
    /// Informational.
    P5,
}

impl Priority {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::P1 => "P1",
            Priority::P2 => "P2",
            Priority::P3 => "P3",
            Priority::P4 => "P4",
            Priority::P5 => "P5",
        }
    }

    /// The priority named `name` (any case).
    pub fn parse(name: &str) -> Option<Priority> {
        [
            Priority::P1,
            Priority::P2,
            Priority::P3,
            Priority::P4,
            Priority::P5,
        ]
        .into_iter()
        .find(|priority| priority.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

/// A responder: its type and one of `id`, `name` (teams, escalations, schedules) or `username`
/// (users).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Responder {
    /// `team`, `user`, `escalation` or `schedule`.
    #[serde(rename = "type")]
    pub kind: ResponderKind,
    /// Its id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Its name (teams, escalations, schedules).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Its user name (users: an e-mail address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
}

/// A responder's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ResponderKind {
    /// A team.
    Team,
    /// A user.
    User,
    /// An escalation.
    Escalation,
    /// A schedule.
    Schedule,
}

/// The settings of one integration, checked; templates are rendered per route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JsmTarget {
    /// Which API.
    pub api: Api,
    /// The base URL template.
    pub url: String,
    /// The API key template.
    pub api_key: String,
    /// The message template (`None`: the built-in `jsm.message`).
    pub message: Option<String>,
    /// The description template (`None`: the built-in `jsm.description`).
    pub description: Option<String>,
    /// The priority template, if any.
    pub priority: Option<String>,
    /// Lower-cased value → priority.
    pub priority_map: BTreeMap<String, Priority>,
    /// The responders.
    pub responders: Vec<Responder>,
    /// Tag templates.
    pub tags: Vec<String>,
    /// Extra details (name → template).
    pub details: BTreeMap<String, String>,
    /// The entity template (`None`: the monitor's name).
    pub entity: Option<String>,
    /// `source`.
    pub source: String,
    /// The close note template (`None`: the built-in `jsm.note`).
    pub close_note: Option<String>,
    /// Reminders create again.
    pub send_reminders: bool,
}

impl JsmTarget {
    /// The target of `integration`; errors are permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<JsmTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::JsmNotifier>(integration)?;
        if let Some((path, problem)) = problems(&settings, integration).into_iter().next() {
            return Err(NotifyError::permanent(format!(
                "integration `{}`: `{path}`: {problem}",
                integration.id
            )));
        }
        let api = settings.api.unwrap_or_default();
        let url = match (&settings.url, api, settings.region.unwrap_or_default()) {
            (Some(url), _, _) => url.clone(),
            (None, Api::Jsm, _) => JSM_URL.to_owned(),
            (None, Api::Opsgenie, Region::Us) => OPSGENIE_US_URL.to_owned(),
            (None, Api::Opsgenie, Region::Eu) => OPSGENIE_EU_URL.to_owned(),
        };
        Ok(JsmTarget {
            api,
            url,
            api_key: settings
                .api_key
                .unwrap_or_else(|| format!("{{{{{API_KEY_VARIABLE}}}}}")),
            message: settings.message,
            description: settings.description,
            priority: settings.priority.filter(|priority| !priority.trim().is_empty()),
            priority_map: settings
                .priority_map
                .into_iter()
                .map(|(value, priority)| (value.trim().to_lowercase(), priority))
                .collect(),
            responders: settings.responders,
            tags: settings.tags,
            details: settings.details,
            entity: settings.entity,
            source: settings
                .source
                .map(|source| source.trim().to_owned())
                .unwrap_or_else(|| crate::SOURCE.to_owned()),
            close_note: settings.close_note,
            send_reminders: settings.send_reminders,
        })
    }
}

/// What is wrong with `settings` beyond their types: `(path, problem)`.
pub(crate) fn problems(settings: &JsmSettings, integration: &Integration) -> Vec<(String, String)> {
    let mut problems = Vec::new();
    let mut problem = |path: &str, text: String| problems.push((path.to_owned(), text));
    if settings.region.is_some() && settings.url.is_some() {
        problem(
            "settings.url",
            "give either `region` or `url`, not both".to_owned(),
        );
    }
    if settings.region.is_some() && settings.api.unwrap_or_default() == Api::Jsm {
        problem(
            "settings.region",
            "`region` is Opsgenie's (`api: opsgenie`); Jira Service Management's integration API has one \
             host"
                .to_owned(),
        );
    }
    for (path, value) in [
        ("settings.url", &settings.url),
        ("settings.apiKey", &settings.api_key),
        ("settings.source", &settings.source),
    ] {
        if value.as_deref().is_some_and(|value| value.trim().is_empty()) {
            problem(path, "empty: leave it out for the default".to_owned());
        }
    }
    if settings.api_key.is_none() && !integration.variables.contains_key(API_KEY_VARIABLE) {
        problem(
            "settings.apiKey",
            format!(
                "no API key: define the variable `{API_KEY_VARIABLE}` (`{{secret: \"ssm:/…\"}}`) or set \
                 `settings.apiKey`"
            ),
        );
    }
    if settings.responders.len() > MAX_RESPONDERS {
        problem(
            "settings.responders",
            format!(
                "{} responders: the API takes at most {MAX_RESPONDERS}",
                settings.responders.len()
            ),
        );
    }
    for (index, responder) in settings.responders.iter().enumerate() {
        let named = [&responder.id, &responder.name, &responder.username]
            .iter()
            .filter(|value| value.as_deref().is_some_and(|value| !value.trim().is_empty()))
            .count();
        if named != 1 {
            problem(
                &format!("settings.responders[{index}]"),
                "give exactly one of `id`, `name` or `username`".to_owned(),
            );
        } else if responder.username.is_some() && responder.kind != ResponderKind::User {
            problem(
                &format!("settings.responders[{index}].username"),
                "only a `user` responder has a `username`".to_owned(),
            );
        }
    }
    if settings.tags.len() > MAX_TAGS {
        problem(
            "settings.tags",
            format!("{} tags: the API takes at most {MAX_TAGS}", settings.tags.len()),
        );
    }
    if let Some(priority) = settings.priority.as_deref()
        && !priority.trim().is_empty()
        && !is_template(priority)
        && !settings
            .priority_map
            .keys()
            .any(|value| value.trim().eq_ignore_ascii_case(priority.trim()))
        && Priority::parse(priority).is_none()
    {
        problem(
            "settings.priority",
            format!(
                "`{}` is not a priority (P1 to P5) nor a value of settings.priorityMap",
                priority.escape_debug()
            ),
        );
    }
    problems
}
