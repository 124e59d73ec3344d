//! Pure: one route → the one message of the incident (open, note, resolve, or an event), rendered.

use std::collections::BTreeMap;

use alert_model::{
    AlertType,
    template::{Escape, RenderContext, TemplateSource},
};
use base64::Engine as _;
use notify_core::{Context, Field, NotifyError, Outgoing, RouteContext};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Serialize;
use serde_json::{Map, Value, json};
use sha2::Digest as _;

use crate::{
    config::{AuthSettings, ServiceNowSettings, ServiceNowTarget, level_problem, severity_problem},
    lifecycle::{self, Kept, Plan},
};

/// ServiceNow's `short_description` holds 160 characters by default.
pub const MAX_SHORT_DESCRIPTION_CHARS: usize = 160;
/// ServiceNow's `correlation_id` holds 100 characters by default: longer keys are hashed.
pub const MAX_CORRELATION_ID_CHARS: usize = 100;

/// The Table API path of incidents.
pub const INCIDENT_PATH: &str = "/api/now/table/incident";
/// Event Management's inbound path.
pub const EVENT_PATH: &str = "/api/global/em/jsonv2";
/// The instance's OAuth token endpoint.
pub const TOKEN_PATH: &str = "/oauth_token.do";

/// What one message does at the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Operation {
    /// Look up an open incident by `correlation_id`; open one when there is none.
    Open,
    /// Add `work_notes` to the open incident.
    Note,
    /// Resolve the open incident(s) (`state` 6, `close_code`, `close_notes`).
    Resolve,
    /// Send an event to Event Management.
    Event,
}

impl Operation {
    /// A few words for summaries and messages.
    pub fn describe(self) -> &'static str {
        match self {
            Operation::Open => "open an incident",
            Operation::Note => "add a work note to the open incident",
            Operation::Resolve => "resolve the open incident",
            Operation::Event => "send an event",
        }
    }
}

/// How a request authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credentials {
    /// `Authorization: Basic …`.
    Basic {
        /// The header value.
        authorization: String,
    },
    /// A bearer token from the instance's `/oauth_token.do`, fetched when none is cached.
    OAuth(TokenRequest),
}

/// The token request of an OAuth integration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRequest {
    /// `<instance>/oauth_token.do`.
    pub url: String,
    /// The form body (`grant_type=…&client_id=…&client_secret=…`).
    pub form: String,
    /// Names the token in the cache: a SHA-256 of the URL and the form (never shown).
    pub cache_key: String,
}

/// One message to a ServiceNow instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceNowMessage {
    /// What it does.
    pub operation: Operation,
    /// The instance's base URL, without a trailing `/`.
    pub instance: String,
    /// How its requests authenticate.
    pub credentials: Credentials,
    /// The incident's `correlation_id` (the incident key, hashed when it is too long for the
    /// column), or the event's `message_key`.
    pub correlation_id: String,
    /// The incident's kept `sys_id`, when known.
    pub sys_id: Option<String>,
    /// The JSON body of the create, update or event request.
    pub body: String,
    /// What the message keeps for the incident once sent (the send adds what the instance
    /// answered).
    pub keep: Value,
    /// The templated fields as rendered (for the security matrices).
    pub rendered: Vec<Field>,
}

impl ServiceNowMessage {
    /// The URL of the lookup by `correlation_id` of open incidents.
    pub fn lookup_url(&self) -> String {
        const VALUE: &AsciiSet = &NON_ALPHANUMERIC
            .remove(b'-')
            .remove(b'_')
            .remove(b'.')
            .remove(b'~');
        let query = format!("correlation_id={}^active=true", self.correlation_id);
        format!(
            "{}{INCIDENT_PATH}?sysparm_query={}&sysparm_fields=sys_id,number,state&sysparm_limit=10",
            self.instance,
            utf8_percent_encode(&query, VALUE)
        )
    }

    /// The URL of incident `sys_id`.
    pub fn incident_url(&self, sys_id: &str) -> String {
        format!("{}{INCIDENT_PATH}/{sys_id}", self.instance)
    }

    /// The URL of the create or event request.
    pub fn post_url(&self) -> String {
        match self.operation {
            Operation::Event => format!("{}{EVENT_PATH}", self.instance),
            _ => format!("{}{INCIDENT_PATH}", self.instance),
        }
    }
}

/// Builds the message of one route: none when the lifecycle says there is nothing to send.
pub(crate) fn build_messages(
    route: &RouteContext<'_>,
    target: &ServiceNowTarget,
) -> Result<Vec<Outgoing<ServiceNowMessage>>, NotifyError> {
    let settings = &target.settings;
    let alert_type = route.alert.alert.alert_type;
    let time = lifecycle::alert_time(route.alert, route.now);
    let kept = Kept::from_state(route.incident);
    let plan = lifecycle::plan(settings.mode, settings.reminders, alert_type, time, &kept);
    let renderer = Renderer::new(route);
    let (operation, sys_id) = match &plan {
        Plan::Nothing(reason) => {
            tracing::info!(integration = %route.integration.id, %alert_type, reason, "servicenow: nothing to send");
            return Ok(Vec::new());
        }
        Plan::Open => (Operation::Open, None),
        Plan::Note { sys_id } => (Operation::Note, sys_id.clone()),
        Plan::Resolve { sys_id } => (Operation::Resolve, sys_id.clone()),
        Plan::Event { .. } => (Operation::Event, None),
    };
    let mut rendered = Vec::new();
    let body = match operation {
        Operation::Open => incident_body(&renderer, settings, &mut rendered)?,
        Operation::Note => {
            let notes = renderer.text(
                &settings.work_notes,
                "workNotes",
                "servicenow.work_notes",
                &mut rendered,
            )?;
            json!({ "work_notes": notes })
        }
        Operation::Resolve => resolve_body(&renderer, settings, &mut rendered)?,
        Operation::Event => event_body(&renderer, settings, alert_type, time, &mut rendered)?,
    };
    // The instance, then the credentials: rendered after the fields, so that a failing field is
    // the error a hostile template meets first.
    let instance = renderer.instance(&settings.instance_url)?;
    let credentials = renderer.credentials(&settings.auth, &instance)?;
    let key = &route.alert.incident.key;
    let key = if key.trim().is_empty() {
        &route.alert.alert.alert_guid
    } else {
        key
    };
    let correlation_id = match operation {
        Operation::Event => key.clone(),
        _ => correlation_id(key),
    };
    let body = match (operation, body) {
        (Operation::Open, Value::Object(mut fields)) => {
            fields.insert("correlation_id".to_owned(), Value::String(correlation_id.clone()));
            fields.insert(
                "correlation_display".to_owned(),
                Value::String("Tocsin".to_owned()),
            );
            Value::Object(fields)
        }
        (_, body) => body,
    };
    let step = match alert_type {
        AlertType::Alert => "incident",
        AlertType::Reminder => "reminder",
        AlertType::Ok => "resolve",
    };
    let step = if operation == Operation::Event {
        "event"
    } else {
        step
    };
    Ok(vec![Outgoing {
        step: step.to_owned(),
        message: ServiceNowMessage {
            operation,
            instance,
            credentials,
            correlation_id,
            sys_id,
            body: body.to_string(),
            keep: lifecycle::keep(&plan, alert_type, time),
            rendered,
        },
    }])
}

/// The create body: the typed fields (settings, else the monitor's custom field of the column's
/// name), then `settings.fields`.
fn incident_body(
    renderer: &Renderer<'_>,
    settings: &ServiceNowSettings,
    rendered: &mut Vec<Field>,
) -> Result<Value, NotifyError> {
    let mut fields = Map::new();
    let short = renderer.render(
        settings.short_description.as_deref(),
        "shortDescription",
        "servicenow.short_description",
        Escape::Text,
    )?;
    let short_text = one_line(&short.text, MAX_SHORT_DESCRIPTION_CHARS);
    rendered.push(Field::new(short.field, Context::Subject, &short_text));
    fields.insert("short_description".to_owned(), Value::String(short_text));
    let description = renderer.text(
        &settings.description,
        "description",
        "servicenow.description",
        rendered,
    )?;
    fields.insert("description".to_owned(), Value::String(description));
    for (column, setting, value, levels) in [
        ("urgency", "urgency", &settings.urgency, true),
        ("impact", "impact", &settings.impact, true),
        ("caller_id", "callerId", &settings.caller_id, false),
        (
            "assignment_group",
            "assignmentGroup",
            &settings.assignment_group,
            false,
        ),
        ("category", "category", &settings.category, false),
        ("cmdb_ci", "cmdbCi", &settings.cmdb_ci, false),
    ] {
        let value = match value {
            Some(template) => {
                let value = renderer.line(template, &format!("settings.{setting}"))?;
                if levels
                    && !value.is_empty()
                    && let Some(problem) = level_problem(&value)
                {
                    return Err(renderer.error(format!(
                        "`settings.{setting}` renders to \"{}\": it {problem}",
                        shown(&value)
                    )));
                }
                value
            }
            None => match renderer.custom_field(column) {
                Some(value) if levels && level_problem(&value).is_some() => {
                    tracing::warn!(
                        integration = renderer.integration,
                        column,
                        "servicenow: the monitor's custom field is no urgency or impact (1, 2 or 3); left out"
                    );
                    String::new()
                }
                Some(value) => value,
                None => String::new(),
            },
        };
        if !value.is_empty() {
            fields.insert(column.to_owned(), Value::String(value));
        }
    }
    for (column, template) in &settings.fields {
        let value = renderer.line(template, &format!("settings.fields.{column}"))?;
        fields.insert(column.clone(), Value::String(value));
    }
    Ok(Value::Object(fields))
}

/// The resolve body: `state` 6 with the close code and notes the instance's data policy requires.
fn resolve_body(
    renderer: &Renderer<'_>,
    settings: &ServiceNowSettings,
    rendered: &mut Vec<Field>,
) -> Result<Value, NotifyError> {
    let notes = renderer.text(
        &settings.close_notes,
        "closeNotes",
        "servicenow.close_notes",
        rendered,
    )?;
    let code = match &settings.close_code {
        Some(template) => renderer.line(template, "settings.closeCode")?,
        None => DEFAULT_CLOSE_CODE.to_owned(),
    };
    if code.is_empty() {
        return Err(renderer.error("`settings.closeCode` renders to an empty close code"));
    }
    Ok(json!({ "state": "6", "close_code": code, "close_notes": notes }))
}

/// The close code when the settings give none.
pub const DEFAULT_CLOSE_CODE: &str = "Solution provided";

/// An Event Management request with one event: `message_key` is the incident key, severity `0`
/// (clear) for the Ok.
fn event_body(
    renderer: &Renderer<'_>,
    settings: &ServiceNowSettings,
    alert_type: AlertType,
    time: chrono::DateTime<chrono::Utc>,
    rendered: &mut Vec<Field>,
) -> Result<Value, NotifyError> {
    let description = renderer.text(
        &settings.event_description,
        "eventDescription",
        "servicenow.event_description",
        rendered,
    )?;
    let info = renderer.render(
        settings.additional_info.as_deref(),
        "additionalInfo",
        "servicenow.additional_info",
        Escape::Json,
    )?;
    let parsed: Value = serde_json::from_str(&info.text)
        .map_err(|error| renderer.error(format!("`{}` is not JSON: {error}", info.field)))?;
    // Event Management reads key/values: another JSON value is one, `info`.
    let parsed = match parsed {
        Value::Object(_) => parsed,
        other => json!({ "info": other }),
    };
    rendered.push(Field::new(info.field.clone(), Context::Json, info.text.trim()));
    let alert = &renderer.context.alert;
    let or = |value: &str, fallback: &str| {
        if value.trim().is_empty() {
            fallback.to_owned()
        } else {
            value.to_owned()
        }
    };
    let default_node = or(&alert.monitor.url, &alert.monitor.name);
    let mut event = Map::new();
    let mut put = |name: &str, value: String| {
        if !value.is_empty() {
            event.insert(name.to_owned(), Value::String(value));
        }
    };
    for (name, setting, template, fallback) in [
        ("source", "source", &settings.source, "Tocsin".to_owned()),
        (
            "event_class",
            "eventClass",
            &settings.event_class,
            "Tocsin".to_owned(),
        ),
        ("node", "node", &settings.node, default_node),
        (
            "type",
            "eventType",
            &settings.event_type,
            alert.monitor.monitor_type.clone(),
        ),
        (
            "resource",
            "resource",
            &settings.resource,
            alert.monitor.name.clone(),
        ),
        ("metric_name", "metricName", &settings.metric_name, String::new()),
    ] {
        let value = match template {
            Some(template) => renderer.line(template, &format!("settings.{setting}"))?,
            None => one_line(&fallback, usize::MAX),
        };
        put(name, value);
    }
    let key = if alert.incident.key.trim().is_empty() {
        alert.alert.alert_guid.clone()
    } else {
        alert.incident.key.clone()
    };
    put("message_key", key);
    let severity = match (alert_type, &settings.severity) {
        (AlertType::Ok, _) => "0".to_owned(),
        (_, Some(template)) => {
            let severity = renderer.line(template, "settings.severity")?;
            if let Some(problem) = severity_problem(&severity) {
                return Err(renderer.error(format!(
                    "`settings.severity` renders to \"{}\": it {problem}",
                    shown(&severity)
                )));
            }
            severity
        }
        (_, None) => "1".to_owned(),
    };
    put("severity", severity);
    put("description", description);
    put("additional_info", parsed.to_string());
    put("time_of_event", time.format("%Y-%m-%d %H:%M:%S").to_string());
    Ok(json!({ "records": [Value::Object(event)] }))
}

/// A rendered template and the field it came from.
struct Rendered {
    field: String,
    text: String,
}

/// Renders the route's templates, naming the integration and the field in errors.
struct Renderer<'a> {
    route: &'a RouteContext<'a>,
    integration: &'a str,
    context: RenderContext<'a>,
}

impl<'a> Renderer<'a> {
    fn new(route: &'a RouteContext<'a>) -> Self {
        Renderer {
            route,
            integration: &route.integration.id,
            context: RenderContext {
                alert: route.alert,
                variables: route.variables.values(),
                now: route.now,
            },
        }
    }

    fn error(&self, reason: impl std::fmt::Display) -> NotifyError {
        NotifyError::permanent(format!("integration `{}`: {reason}", self.integration))
    }

    /// The template of `settings.<setting>`, else the built-in `default`.
    fn render(
        &self,
        template: Option<&str>,
        setting: &str,
        default: &'static str,
        escape: Escape,
    ) -> Result<Rendered, NotifyError> {
        let (template, field) = match template {
            Some(template) => (template, format!("settings.{setting}")),
            None => (
                crate::default_template(default)
                    .ok_or_else(|| self.error(format!("no built-in template `{default}`")))?,
                default.to_owned(),
            ),
        };
        let text = self.raw(template, &field, escape)?;
        Ok(Rendered { field, text })
    }

    fn raw(&self, template: &str, field: &str, escape: Escape) -> Result<String, NotifyError> {
        let source = TemplateSource {
            integration: self.integration,
            field,
        };
        self.route
            .engine
            .render(source, template, escape, &self.context)
            .map_err(|error| NotifyError::permanent(error.to_string()))
    }

    /// A text field (trimmed), recorded in `rendered`.
    fn text(
        &self,
        template: &Option<String>,
        setting: &str,
        default: &'static str,
        rendered: &mut Vec<Field>,
    ) -> Result<String, NotifyError> {
        let text = self.render(template.as_deref(), setting, default, Escape::Text)?;
        let value = text.text.trim().to_owned();
        rendered.push(Field::new(text.field, Context::Text, &value));
        Ok(value)
    }

    /// A one-line value (a reference, a code, a name).
    fn line(&self, template: &str, field: &str) -> Result<String, NotifyError> {
        Ok(one_line(&self.raw(template, field, Escape::Text)?, usize::MAX))
    }

    /// The monitor's custom field named like the column, one line.
    fn custom_field(&self, column: &str) -> Option<String> {
        self.context
            .alert
            .monitor
            .custom_fields
            .get(column)
            .map(|value| one_line(value, usize::MAX))
            .filter(|value| !value.is_empty())
    }

    /// The instance's base URL: absolute http(s), no white space, no query; the trailing `/` off.
    /// The URL is not quoted in errors: it may carry a token.
    fn instance(&self, template: &str) -> Result<String, NotifyError> {
        let url = self.raw(template, "settings.instanceUrl", Escape::Url)?;
        let url = url.trim().trim_end_matches('/').to_owned();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(self.error("`settings.instanceUrl` does not render to an absolute https:// url"));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) || url.contains(['?', '#']) {
            return Err(
                self.error("`settings.instanceUrl` renders to a url with white space, a query or a fragment")
            );
        }
        Ok(url)
    }

    fn credentials(&self, auth: &AuthSettings, instance: &str) -> Result<Credentials, NotifyError> {
        match auth {
            AuthSettings::Basic { username, password } => {
                let username = self.raw(username, "settings.auth.username", Escape::Text)?;
                let password = self.raw(password, "settings.auth.password", Escape::Text)?;
                let username = username.trim();
                if username.is_empty() || username.contains(':') {
                    return Err(
                        self.error("`settings.auth.username` renders to an empty user name or one with `:`")
                    );
                }
                if password.is_empty() {
                    return Err(self.error("`settings.auth.password` renders to an empty password"));
                }
                let encoded =
                    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                Ok(Credentials::Basic {
                    authorization: format!("Basic {encoded}"),
                })
            }
            AuthSettings::Oauth {
                grant,
                client_id,
                client_secret,
                username,
                password,
            } => {
                let mut form = vec![("grant_type", grant.as_str().to_owned())];
                form.push((
                    "client_id",
                    self.raw(client_id, "settings.auth.clientId", Escape::Text)?
                        .trim()
                        .to_owned(),
                ));
                form.push((
                    "client_secret",
                    self.raw(client_secret, "settings.auth.clientSecret", Escape::Text)?,
                ));
                if let Some(username) = username {
                    form.push((
                        "username",
                        self.raw(username, "settings.auth.username", Escape::Text)?
                            .trim()
                            .to_owned(),
                    ));
                }
                if let Some(password) = password {
                    form.push((
                        "password",
                        self.raw(password, "settings.auth.password", Escape::Text)?,
                    ));
                }
                if let Some((name, _)) = form.iter().find(|(_, value)| value.is_empty()) {
                    return Err(self.error(format!("the OAuth `{name}` renders empty")));
                }
                let form = form_encode(&form);
                let url = format!("{instance}{TOKEN_PATH}");
                let cache_key = hex(&sha2::Sha256::digest(format!("{url}\n{form}").as_bytes()));
                Ok(Credentials::OAuth(TokenRequest { url, form, cache_key }))
            }
        }
    }
}

/// `application/x-www-form-urlencoded`.
pub(crate) fn form_encode(pairs: &[(&str, String)]) -> String {
    const FORM: &AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'*');
    pairs
        .iter()
        .map(|(name, value)| {
            format!(
                "{}={}",
                utf8_percent_encode(name, FORM),
                utf8_percent_encode(value, FORM).to_string().replace("%20", "+")
            )
        })
        .collect::<Vec<_>>()
        .join("&")
}

/// The incident's `correlation_id`: the incident key when it fits the column (100 characters) and
/// an encoded query can carry it (no `^`, no control character, no edge white space); else
/// `tocsin-sha256-` and the key's SHA-256, so that Alert and Ok still agree.
pub fn correlation_id(key: &str) -> String {
    let fits = !key.is_empty()
        && key.chars().count() <= MAX_CORRELATION_ID_CHARS
        && !key.contains('^')
        && !key.chars().any(char::is_control)
        && key.trim() == key;
    if fits {
        key.to_owned()
    } else {
        format!("tocsin-sha256-{}", hex(&sha2::Sha256::digest(key.as_bytes())))
    }
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// The lines of `text` joined by spaces, control characters and the Unicode line and paragraph
/// separators as spaces, cut to `max` characters with `…`.
pub(crate) fn one_line(text: &str, max: usize) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let line: String = line
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect();
    if line.chars().count() <= max {
        return line;
    }
    let mut cut: String = line.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// At most 40 characters of a value, for an error.
fn shown(value: &str) -> String {
    let cut: String = value.chars().take(40).collect();
    if cut.len() < value.len() {
        format!("{}…", cut.escape_debug())
    } else {
        cut.escape_debug().to_string()
    }
}

/// The headers of a request with a JSON body.
pub(crate) fn json_headers(authorization: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("Accept".to_owned(), "application/json".to_owned()),
        ("Content-Type".to_owned(), "application/json".to_owned()),
        ("Authorization".to_owned(), authorization.to_owned()),
    ])
}

/// What a request looks like for `tocsin render` and the delivery log.
pub(crate) fn describe(message: &ServiceNowMessage) -> Value {
    let authorization = match &message.credentials {
        Credentials::Basic { authorization } => authorization.clone(),
        Credentials::OAuth(_) => "Bearer [token from /oauth_token.do, fetched at send time]".to_owned(),
    };
    let (method, url) = match (message.operation, &message.sys_id) {
        (Operation::Open | Operation::Event, _) => ("POST", message.post_url()),
        (_, Some(sys_id)) => ("PATCH", message.incident_url(sys_id)),
        (_, None) => ("PATCH", message.incident_url("{sys_id of the lookup}")),
    };
    let mut servicenow = json!({
        "operation": message.operation,
        "correlationId": message.correlation_id,
    });
    let looks_up = matches!(message.operation, Operation::Open) || message.sys_id.is_none();
    if looks_up && message.operation != Operation::Event {
        servicenow["lookup"] = Value::String(format!("GET {}", message.lookup_url()));
    }
    if let Credentials::OAuth(token) = &message.credentials {
        servicenow["token"] = json!({
            "method": "POST",
            "url": token.url,
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
            "body": token.form,
        });
    }
    json!({
        "request": {
            "method": method,
            "url": url,
            "headers": json_headers(&authorization),
            "body": message.body,
        },
        "servicenow": servicenow,
    })
}
