//! `ServiceNowSettings` (what a ServiceNow integration may set) and `ServiceNowTarget` (the
//! settings, checked).

use std::collections::BTreeMap;

use definition_store::Integration;
use notify_core::NotifyError;
use serde::Deserialize;

/// The settings of a ServiceNow integration.
///
/// Every text is a template (`{{@monitor.name}}`, `{{@CustomField(cmdb_ci)}}`, `{{Password}}`);
/// credentials belong in secret variables. A mode's settings are refused in the other mode.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceNowSettings {
    /// The instance: `https://acme.service-now.com`, or `{{InstanceUrl}}` naming a variable. The
    /// kind adds the API paths (`/api/now/table/incident`, `/api/global/em/jsonv2`,
    /// `/oauth_token.do`).
    pub instance_url: String,
    /// `incident` (default): incidents through the Table API, opened on Alert and resolved on Ok.
    /// `event`: events to Event Management (`em_event`), cleared on Ok.
    #[serde(default)]
    pub mode: Mode,
    /// How requests authenticate: `{type: basic, username, password}` or
    /// `{type: oauth, grant: password | clientCredentials, clientId, clientSecret, username?,
    /// password?}`.
    pub auth: AuthSettings,
    /// Reminders: `skip` (default: an open incident needs no reminder) or `update` (a work note on
    /// the open incident; the event again in mode `event`). A Reminder never opens an incident.
    #[serde(default)]
    pub reminders: Reminders,

    // Mode `incident`.
    /// `short_description` (default: the built-in `servicenow.short_description`); one line, cut at
    /// 160 characters.
    #[serde(default)]
    pub short_description: Option<String>,
    /// `description` (default: the built-in `servicenow.description`).
    #[serde(default)]
    pub description: Option<String>,
    /// `urgency`: `1` (high), `2` (medium) or `3` (low); else the monitor's custom field `urgency`.
    #[serde(default)]
    pub urgency: Option<String>,
    /// `impact`: `1` (high), `2` (medium) or `3` (low); else the monitor's custom field `impact`.
    #[serde(default)]
    pub impact: Option<String>,
    /// `caller_id` (a user's sys_id); else the monitor's custom field `caller_id`.
    #[serde(default)]
    pub caller_id: Option<String>,
    /// `assignment_group` (a group's sys_id); else the monitor's custom field `assignment_group`.
    #[serde(default)]
    pub assignment_group: Option<String>,
    /// `category`; else the monitor's custom field `category`.
    #[serde(default)]
    pub category: Option<String>,
    /// `cmdb_ci` (a configuration item's sys_id); else the monitor's custom field `cmdb_ci`.
    #[serde(default)]
    pub cmdb_ci: Option<String>,
    /// More incident columns, name → template (`u_team: "{{@CustomField(Team)}}"`).
    #[serde(default)]
    pub fields: BTreeMap<String, String>,
    /// `work_notes` added to the open incident by a repeated Alert or a Reminder (default: the
    /// built-in `servicenow.work_notes`).
    #[serde(default)]
    pub work_notes: Option<String>,
    /// `close_code` when the Ok resolves the incident (default `Solution provided`; the labels are
    /// the instance's own).
    #[serde(default)]
    pub close_code: Option<String>,
    /// `close_notes` when the Ok resolves the incident (default: the built-in
    /// `servicenow.close_notes`).
    #[serde(default)]
    pub close_notes: Option<String>,

    // Mode `event`.
    /// `source` (default `Tocsin`).
    #[serde(default)]
    pub source: Option<String>,
    /// `node`, the host the CMDB binds the event to (default: the monitor's checked address, else
    /// its name).
    #[serde(default)]
    pub node: Option<String>,
    /// `type` (default: the monitor's type).
    #[serde(default)]
    pub event_type: Option<String>,
    /// `resource` (default: the monitor's name).
    #[serde(default)]
    pub resource: Option<String>,
    /// `metric_name`.
    #[serde(default)]
    pub metric_name: Option<String>,
    /// `event_class` (default `Tocsin`).
    #[serde(default)]
    pub event_class: Option<String>,
    /// `severity` of an Alert: `1` critical (default), `2` major, `3` minor or `4` warning. An Ok
    /// is always `0` (clear).
    #[serde(default)]
    pub severity: Option<String>,
    /// `description` of the event (default: the built-in `servicenow.event_description`).
    #[serde(default)]
    pub event_description: Option<String>,
    /// `additional_info`: a JSON object template (sent as the stringified JSON Event Management
    /// expects; another JSON value is sent as `{"info": <value>}`); default: the built-in
    /// `servicenow.additional_info`.
    #[serde(default)]
    pub additional_info: Option<String>,
}

/// Which ServiceNow API the integration uses.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Mode {
    /// Incidents through the Table API.
    #[default]
    Incident,
    /// Events through Event Management's `/api/global/em/jsonv2`.
    Event,
}

/// What a Reminder does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Reminders {
    /// Nothing (the product's advice for systems that keep state).
    #[default]
    Skip,
    /// A work note on the open incident (mode `event`: the event again).
    Update,
}

/// How requests authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(tag = "type", rename_all = "camelCase", deny_unknown_fields)]
pub enum AuthSettings {
    /// HTTP Basic with a ServiceNow user (role `itil`, or `evt_mgmt_integration` for events).
    #[serde(rename_all = "camelCase")]
    Basic {
        /// The user name (no `:`).
        username: String,
        /// The password: a template naming a secret variable (`{{Password}}`).
        password: String,
    },
    /// OAuth 2 through the instance's `/oauth_token.do`; the token is cached until it expires.
    #[serde(rename_all = "camelCase")]
    Oauth {
        /// `password` (a user's credentials) or `clientCredentials`.
        grant: Grant,
        /// The application registry's client id.
        client_id: String,
        /// The client secret: a template naming a secret variable.
        client_secret: String,
        /// The user name (grant `password` only).
        #[serde(default)]
        username: Option<String>,
        /// The user's password (grant `password` only): a template naming a secret variable.
        #[serde(default)]
        password: Option<String>,
    },
}

/// The OAuth 2 grant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Grant {
    /// `grant_type=password`.
    Password,
    /// `grant_type=client_credentials`.
    ClientCredentials,
}

impl Grant {
    /// The `grant_type` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Grant::Password => "password",
            Grant::ClientCredentials => "client_credentials",
        }
    }
}

/// The settings of one ServiceNow integration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNowTarget {
    /// The settings.
    pub settings: ServiceNowSettings,
}

impl ServiceNowTarget {
    /// The target of `integration`; errors are permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<ServiceNowTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::ServiceNowNotifier>(integration)?;
        if let Some((path, problem)) = problems(&settings).into_iter().next() {
            return Err(NotifyError::permanent(format!(
                "integration `{}`: `{path}`: {problem}",
                integration.id
            )));
        }
        Ok(ServiceNowTarget { settings })
    }
}

/// Incident columns the kind sets itself, which `settings.fields` may not name.
const MANAGED_COLUMNS: &[&str] = &[
    "active",
    "close_code",
    "close_notes",
    "correlation_display",
    "correlation_id",
    "incident_state",
    "number",
    "state",
    "sys_id",
    "work_notes",
];

/// Columns that have their own setting.
const TYPED_COLUMNS: &[(&str, &str)] = &[
    ("short_description", "shortDescription"),
    ("description", "description"),
    ("urgency", "urgency"),
    ("impact", "impact"),
    ("caller_id", "callerId"),
    ("assignment_group", "assignmentGroup"),
    ("category", "category"),
    ("cmdb_ci", "cmdbCi"),
];

/// Whether `text` is a template (its value is known only when rendered).
pub(crate) fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// What is wrong with `settings` beyond their types: `(path, problem)`.
pub(crate) fn problems(settings: &ServiceNowSettings) -> Vec<(String, String)> {
    let mut problems: Vec<(String, String)> = Vec::new();
    let mut problem = |path: &str, text: String| problems.push((path.to_owned(), text));
    let url = settings.instance_url.trim();
    if url.is_empty() {
        problem("settings.instanceUrl", "empty instance url".to_owned());
    } else if !(is_template(url) || url.starts_with("https://") || url.starts_with("http://")) {
        problem(
            "settings.instanceUrl",
            "not an absolute https:// url (`https://acme.service-now.com`)".to_owned(),
        );
    }
    for (path, text) in credential_problems(&settings.auth) {
        problem(path, text);
    }
    let incident_only = [
        ("settings.shortDescription", settings.short_description.is_some()),
        ("settings.description", settings.description.is_some()),
        ("settings.urgency", settings.urgency.is_some()),
        ("settings.impact", settings.impact.is_some()),
        ("settings.callerId", settings.caller_id.is_some()),
        ("settings.assignmentGroup", settings.assignment_group.is_some()),
        ("settings.category", settings.category.is_some()),
        ("settings.cmdbCi", settings.cmdb_ci.is_some()),
        ("settings.fields", !settings.fields.is_empty()),
        ("settings.workNotes", settings.work_notes.is_some()),
        ("settings.closeCode", settings.close_code.is_some()),
        ("settings.closeNotes", settings.close_notes.is_some()),
    ];
    let event_only = [
        ("settings.source", settings.source.is_some()),
        ("settings.node", settings.node.is_some()),
        ("settings.eventType", settings.event_type.is_some()),
        ("settings.resource", settings.resource.is_some()),
        ("settings.metricName", settings.metric_name.is_some()),
        ("settings.eventClass", settings.event_class.is_some()),
        ("settings.severity", settings.severity.is_some()),
        ("settings.eventDescription", settings.event_description.is_some()),
        ("settings.additionalInfo", settings.additional_info.is_some()),
    ];
    let (foreign, mode): (&[(&str, bool)], &str) = match settings.mode {
        Mode::Incident => (&event_only, "incident"),
        Mode::Event => (&incident_only, "event"),
    };
    for (path, given) in foreign {
        if *given {
            problem(path, format!("not a setting of mode `{mode}`"));
        }
    }
    for (path, value) in [
        ("settings.urgency", &settings.urgency),
        ("settings.impact", &settings.impact),
    ] {
        if let Some(value) = value
            && !is_template(value)
            && level_problem(value).is_some()
        {
            problem(path, format!("\"{}\": {}", value.escape_debug(), LEVELS));
        }
    }
    if let Some(severity) = &settings.severity
        && !is_template(severity)
        && severity_problem(severity).is_some()
    {
        problem(
            "settings.severity",
            format!("\"{}\": {}", severity.escape_debug(), SEVERITIES),
        );
    }
    if settings
        .close_code
        .as_deref()
        .is_some_and(|code| code.trim().is_empty())
    {
        problem(
            "settings.closeCode",
            "empty close code (the instance refuses to resolve without one)".to_owned(),
        );
    }
    for name in settings.fields.keys() {
        let path = format!("settings.fields.{}", definition_store::escape_controls(name));
        if let Some((_, setting)) = TYPED_COLUMNS.iter().find(|(column, _)| column == name) {
            problem(
                &path,
                format!("`{name}` has its own setting: use `settings.{setting}`"),
            );
        } else if MANAGED_COLUMNS.contains(&name.as_str()) {
            problem(&path, format!("`{name}` is set by Tocsin itself"));
        } else if !column_name_ok(name) {
            problem(
                &path,
                "not a column name (lower-case letters, digits and `_`, starting with a letter)".to_owned(),
            );
        }
    }
    problems
}

/// Urgency and impact.
pub(crate) const LEVELS: &str = "must be 1 (high), 2 (medium) or 3 (low)";
/// Event severities of an Alert.
pub(crate) const SEVERITIES: &str = "must be 1 (critical), 2 (major), 3 (minor) or 4 (warning)";

/// Why `value` is no urgency or impact.
pub(crate) fn level_problem(value: &str) -> Option<&'static str> {
    (!matches!(value.trim(), "1" | "2" | "3")).then_some(LEVELS)
}

/// Why `value` is no severity of an Alert.
pub(crate) fn severity_problem(value: &str) -> Option<&'static str> {
    (!matches!(value.trim(), "1" | "2" | "3" | "4")).then_some(SEVERITIES)
}

fn column_name_ok(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && name.len() <= 80
}

/// Problems of the credentials: a password or client secret written out (it must come from a
/// secret variable), a user name with `:`, the grant's own fields.
fn credential_problems(auth: &AuthSettings) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let literal = |value: &str| !is_template(value);
    let secret_problem = |what: &str| {
        format!(
            "a literal {what}: keep it in a secret variable and write its name here (\"{{{{Password}}}}\")"
        )
    };
    match auth {
        AuthSettings::Basic { username, password } => {
            if username.trim().is_empty() {
                problems.push(("settings.auth.username", "empty user name".to_owned()));
            } else if literal(username) && username.contains(':') {
                problems.push((
                    "settings.auth.username",
                    "contains `:`, which basic auth cannot carry".to_owned(),
                ));
            }
            if password.trim().is_empty() {
                problems.push(("settings.auth.password", "empty password".to_owned()));
            } else if literal(password) {
                problems.push(("settings.auth.password", secret_problem("password")));
            }
        }
        AuthSettings::Oauth {
            grant,
            client_id,
            client_secret,
            username,
            password,
        } => {
            if client_id.trim().is_empty() {
                problems.push(("settings.auth.clientId", "empty client id".to_owned()));
            }
            if client_secret.trim().is_empty() {
                problems.push(("settings.auth.clientSecret", "empty client secret".to_owned()));
            } else if literal(client_secret) {
                problems.push(("settings.auth.clientSecret", secret_problem("client secret")));
            }
            match grant {
                Grant::Password => {
                    match username.as_deref().map(str::trim) {
                        None | Some("") => problems.push((
                            "settings.auth.username",
                            "grant `password` needs the user name".to_owned(),
                        )),
                        Some(_) => {}
                    }
                    match password.as_deref().map(str::trim) {
                        None | Some("") => problems.push((
                            "settings.auth.password",
                            "grant `password` needs the user's password".to_owned(),
                        )),
                        Some(password) if literal(password) => {
                            problems.push(("settings.auth.password", secret_problem("password")))
                        }
                        Some(_) => {}
                    }
                }
                Grant::ClientCredentials => {
                    for (path, given) in [
                        ("settings.auth.username", username.is_some()),
                        ("settings.auth.password", password.is_some()),
                    ] {
                        if given {
                            problems.push((
                                path,
                                "grant `clientCredentials` takes no user: the client acts as itself"
                                    .to_owned(),
                            ));
                        }
                    }
                }
            }
        }
    }
    problems
}
