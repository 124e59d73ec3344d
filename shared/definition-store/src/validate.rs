//! Validation of a whole set of definitions, reporting every problem with its path.
//!
//! Paths use the YAML field names: `alertDefinitions[2].levels[0].integrations[1].integration`; map
//! keys are written as `.key` (`integrations[0].variables.Token.secret`). Secret values never appear in
//! a message: a bad secret reference is described, not echoed.

use std::{
    collections::{BTreeSet, HashMap},
    fmt,
};

use alert_model::{
    IntegrationKind,
    template::{Engine, TemplateSource},
};

use crate::{
    AlertDefinition, Attachment, Definitions, EscalationLevel, HttpAuth, Integration, MessageDefinition,
    Operator, SecretRef, VariableDef,
    escape::escape_controls,
    selector::{Selector, SelectorError},
};

/// One problem, with the path of the offending value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationIssue {
    /// E.g. `alertDefinitions[2].levels[0].integrations[1].integration`.
    pub path: String,
    /// E.g. `unknown integration "pagerduty-main"`.
    pub message: String,
}

/// The path and the message, with control characters escaped ([`escape_controls`]): both may hold
/// text from the file (ids, keys, values), and a raw line break there could forge a line of output.
impl fmt::Display for ValidationIssue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            escape_controls(&self.path),
            escape_controls(&self.message)
        )
    }
}

/// The HTTP methods a step may use.
pub const HTTP_METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The only webhook preset.
pub const PRESET_ALL_VARIABLES: &str = "all-variables";

const EMAIL_SETTINGS: &[&str] = &["from", "subject", "html", "text"];
const WEBHOOK_SETTINGS: &[&str] = &["preset", "url", "method", "headers", "signingSecret"];

/// Every problem in `definitions`; empty when they are valid.
///
/// Checks ids (empty, duplicate), references (attachments → integrations, level operators →
/// operators or operator groups, group members → operators, `group:` selectors → monitor groups),
/// selectors, variables (per-level use, secret references), message definitions, kind settings,
/// e-mail addresses, and the syntax of every template field.
pub fn validate(definitions: &Definitions) -> Vec<ValidationIssue> {
    let mut check = Checker {
        issues: Vec::new(),
        engine: Engine::new(),
    };
    check.run(definitions);
    check.issues
}

/// Indexes shared by the per-definition checks.
struct Lookups<'a> {
    definitions: &'a Definitions,
    integrations: &'a HashMap<&'a str, &'a Integration>,
    operators: &'a HashMap<&'a str, usize>,
    operator_groups: &'a HashMap<&'a str, usize>,
    monitor_groups: &'a HashMap<&'a str, usize>,
}

struct Checker {
    issues: Vec<ValidationIssue>,
    engine: Engine,
}

impl Checker {
    fn issue(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.issues.push(ValidationIssue {
            path: path.into(),
            message: message.into(),
        });
    }

    fn run(&mut self, definitions: &Definitions) {
        let integrations = self.unique_ids(
            "integrations",
            "integration",
            definitions.integrations.iter().map(|i| i.id.as_str()),
        );
        let _ = self.unique_ids(
            "alertDefinitions",
            "alert definition",
            definitions.alert_definitions.iter().map(|d| d.id.as_str()),
        );
        let operators = self.unique_ids(
            "operators",
            "operator",
            definitions.operators.iter().map(|o| o.id.as_str()),
        );
        let operator_groups = self.unique_ids(
            "operatorGroups",
            "operator group",
            definitions.operator_groups.iter().map(|g| g.id.as_str()),
        );
        let monitor_groups = self.unique_ids(
            "monitorGroups",
            "monitor group",
            definitions.monitor_groups.iter().map(|g| g.id.as_str()),
        );

        for (index, group) in definitions.operator_groups.iter().enumerate() {
            if operators.contains_key(group.id.as_str()) {
                self.issue(
                    format!("operatorGroups[{index}].id"),
                    format!("operator group id \"{}\" is also an operator id", group.id),
                );
            }
            for (m, member) in group.members.iter().enumerate() {
                if !operators.contains_key(member.as_str()) {
                    self.issue(
                        format!("operatorGroups[{index}].members[{m}]"),
                        format!("unknown operator \"{member}\""),
                    );
                }
            }
        }

        for (index, operator) in definitions.operators.iter().enumerate() {
            self.operator(index, operator);
        }

        for (index, group) in definitions.monitor_groups.iter().enumerate() {
            if group.monitors.is_empty() {
                self.issue(format!("monitorGroups[{index}].monitors"), "no monitor selector");
            }
            for (s, text) in group.monitors.iter().enumerate() {
                let path = format!("monitorGroups[{index}].monitors[{s}]");
                match Selector::parse(text) {
                    Ok(Selector::Group(_)) => {
                        self.issue(path, "a monitor group cannot contain \"group:\" selectors")
                    }
                    Ok(_) => {}
                    Err(error) => self.selector_error(path, &error),
                }
            }
        }

        for (index, integration) in definitions.integrations.iter().enumerate() {
            self.integration(index, integration);
        }

        let by_id: HashMap<&str, &Integration> = integrations
            .iter()
            .map(|(id, &i)| (*id, &definitions.integrations[i]))
            .collect();
        for (index, integration) in definitions.integrations.iter().enumerate() {
            let Some(fallback) = &integration.fallback else {
                continue;
            };
            let path = format!("integrations[{index}].fallback");
            if fallback == &integration.id {
                self.issue(path, "an integration cannot be its own fallback");
            } else if !by_id.contains_key(fallback.as_str()) {
                self.issue(path, format!("unknown integration \"{fallback}\""));
            }
        }
        self.fallback_cycles(definitions, &integrations);
        let lookups = Lookups {
            definitions,
            integrations: &by_id,
            operators: &operators,
            operator_groups: &operator_groups,
            monitor_groups: &monitor_groups,
        };
        for (index, definition) in definitions.alert_definitions.iter().enumerate() {
            self.definition(index, definition, &lookups);
        }
    }

    /// Reports every fallback chain that comes back to where it started (`a → b → a`), once per
    /// cycle, at the cycle's integration that comes first in the file. A self-fallback and an unknown
    /// fallback are reported by the caller; a chain that merely leads into a cycle is not a cycle.
    fn fallback_cycles(&mut self, definitions: &Definitions, by_id: &HashMap<&str, usize>) {
        let integrations = &definitions.integrations;
        // Each integration has at most one fallback: every chain is a path that ends, or that runs into
        // a cycle. One walk per unvisited integration, each integration visited once (linear time).
        let next = |index: usize| {
            let fallback = integrations[index].fallback.as_deref()?;
            by_id.get(fallback).copied()
        };
        // The walk that first visited each integration.
        let mut walk_of: Vec<Option<usize>> = vec![None; integrations.len()];
        for start in 0..integrations.len() {
            if walk_of[start].is_some() {
                continue;
            }
            let mut path = vec![start];
            walk_of[start] = Some(start);
            let mut current = start;
            while let Some(following) = next(current) {
                match walk_of[following] {
                    None => {
                        walk_of[following] = Some(start);
                        path.push(following);
                        current = following;
                    }
                    // Back onto this walk's own path: the path from there on is a cycle (one member
                    // long for a self-fallback, which the caller reports already).
                    Some(walk) if walk == start => {
                        let from = path.iter().position(|&i| i == following).unwrap_or(0);
                        let mut cycle = path.split_off(from);
                        if cycle.len() > 1 {
                            self.report_cycle(integrations, &mut cycle);
                        }
                        break;
                    }
                    // Into an earlier walk's path, whose cycle (if any) is reported already.
                    Some(_) => break,
                }
            }
        }
    }

    /// `integrations[i].fallback: fallback cycle a → b → a`, where `i` is the cycle's member first in
    /// the file and the chain starts there.
    fn report_cycle(&mut self, integrations: &[Integration], cycle: &mut [usize]) {
        let first = cycle
            .iter()
            .enumerate()
            .min_by_key(|(_, index)| **index)
            .map_or(0, |(position, _)| position);
        cycle.rotate_left(first);
        let ids: Vec<&str> = cycle
            .iter()
            .chain(cycle.first())
            .map(|&i| integrations[i].id.as_str())
            .collect();
        self.issue(
            format!("integrations[{}].fallback", cycle[0]),
            format!("fallback cycle {}", ids.join(" → ")),
        );
    }

    /// Reports empty and duplicate ids; returns id → first index.
    fn unique_ids<'a>(
        &mut self,
        list: &str,
        what: &str,
        ids: impl Iterator<Item = &'a str>,
    ) -> HashMap<&'a str, usize> {
        let mut seen: HashMap<&'a str, usize> = HashMap::new();
        for (index, id) in ids.enumerate() {
            if id.trim().is_empty() {
                self.issue(format!("{list}[{index}].id"), format!("empty {what} id"));
                continue;
            }
            if let Some(first) = seen.get(id) {
                self.issue(
                    format!("{list}[{index}].id"),
                    format!("duplicate {what} id \"{id}\" (first at {list}[{first}])"),
                );
            } else {
                seen.insert(id, index);
            }
        }
        seen
    }

    fn selector_error(&mut self, path: String, error: &SelectorError) {
        self.issue(path, error.to_string());
    }

    fn operator(&mut self, index: usize, operator: &Operator) {
        let path = format!("operators[{index}]");
        match (&operator.email, &operator.phone) {
            (None, None) => self.issue(
                path.clone(),
                format!("operator \"{}\" has neither email nor phone", operator.id),
            ),
            (email, phone) => {
                if let Some(email) = email
                    && !is_email(email)
                {
                    self.issue(
                        format!("{path}.email"),
                        format!("\"{email}\" is not an e-mail address"),
                    );
                }
                if let Some(phone) = phone
                    && !is_e164(phone)
                {
                    self.issue(
                        format!("{path}.phone"),
                        format!("\"{phone}\" is not a phone number in E.164 form (+ and 8 to 15 digits)"),
                    );
                }
            }
        }
    }

    fn integration(&mut self, index: usize, integration: &Integration) {
        let path = format!("integrations[{index}]");
        for (name, variable) in &integration.variables {
            let var_path = format!("{path}.variables.{name}");
            if name.trim().is_empty() {
                self.issue(var_path.clone(), "empty variable name");
            }
            if let VariableDef::Secret { secret } = variable
                && let Err(reason) = check_secret_ref(secret)
            {
                self.issue(format!("{var_path}.secret"), reason);
            }
        }

        self.messages(&path, integration);

        match integration.kind {
            IntegrationKind::Email => self.email_settings(&path, integration),
            IntegrationKind::Webhook => self.webhook_settings(&path, integration),
        }
    }

    fn messages(&mut self, path: &str, integration: &Integration) {
        let mut served: HashMap<alert_model::AlertType, usize> = HashMap::new();
        for (m, message) in integration.messages.iter().enumerate() {
            let message_path = format!("{path}.messages[{m}]");
            if message.types.is_empty() {
                self.issue(format!("{message_path}.types"), "no alert type");
            }
            for (t, alert_type) in message.types.iter().enumerate() {
                if let Some(first) = served.get(alert_type) {
                    self.issue(
                        format!("{message_path}.types[{t}]"),
                        format!("alert type {alert_type} already served by messages[{first}]"),
                    );
                } else {
                    served.insert(*alert_type, m);
                }
            }
            self.steps(path, m, message, integration);
        }
    }

    /// `path` is the integration's (`integrations[3]`), `m` the message definition's index.
    fn steps(&mut self, path: &str, m: usize, message: &MessageDefinition, integration: &Integration) {
        let message_path = format!("{path}.messages[{m}]");
        if message.steps.is_empty() {
            self.issue(format!("{message_path}.steps"), "no step");
        }
        for (s, step) in message.steps.iter().enumerate() {
            let step_path = format!("{message_path}.steps[{s}]");
            let field = format!("messages[{m}].steps[{s}]");
            if !HTTP_METHODS.contains(&step.method.as_str()) {
                self.issue(
                    format!("{step_path}.method"),
                    format!(
                        "unknown method \"{}\" (expected GET, POST, PUT, PATCH or DELETE)",
                        step.method
                    ),
                );
            }
            if step.url.trim().is_empty() {
                self.issue(format!("{step_path}.url"), "empty url");
            } else {
                self.template(&integration.id, path, &format!("{field}.url"), &step.url);
            }
            for (name, value) in &step.headers {
                if name.trim().is_empty() {
                    self.issue(format!("{step_path}.headers"), "empty header name");
                }
                self.template(&integration.id, path, &format!("{field}.headers.{name}"), value);
            }
            if let Some(body) = &step.body {
                self.template(&integration.id, path, &format!("{field}.body"), body);
            }
            match &step.auth {
                Some(HttpAuth::Basic { username, password }) => {
                    self.template(&integration.id, path, &format!("{field}.auth.username"), username);
                    self.template(&integration.id, path, &format!("{field}.auth.password"), password);
                }
                Some(HttpAuth::Bearer { token }) => {
                    self.template(&integration.id, path, &format!("{field}.auth.token"), token);
                }
                None => {}
            }
        }
    }

    /// Checks a template's syntax; `prefix` is the integration's path (`integrations[3]`), `field`
    /// the path inside the integration (`messages[0].steps[1].body`, `settings.subject`).
    fn template(&mut self, integration: &str, prefix: &str, field: &str, template: &str) {
        if let Err(error) = self.engine.check(TemplateSource { integration, field }, template) {
            let line = error
                .line
                .map(|line| format!(" (line {line})"))
                .unwrap_or_default();
            self.issue(
                format!("{prefix}.{field}"),
                format!("invalid template: {}{line}", error.reason),
            );
        }
    }

    fn unknown_settings(&mut self, path: &str, integration: &Integration, known: &[&str]) {
        for key in integration.settings.keys() {
            if !known.contains(&key.as_str()) {
                self.issue(
                    format!("{path}.settings.{key}"),
                    format!(
                        "unknown setting for kind {} (expected one of: {})",
                        integration.kind,
                        known.join(", ")
                    ),
                );
            }
        }
    }

    /// A string setting, or an issue when present with another type.
    fn string_setting<'a>(&mut self, path: &str, integration: &'a Integration, key: &str) -> Option<&'a str> {
        match integration.settings.get(key) {
            None => None,
            Some(serde_json::Value::String(text)) => Some(text),
            Some(_) => {
                self.issue(format!("{path}.settings.{key}"), "must be a string");
                None
            }
        }
    }

    fn email_settings(&mut self, path: &str, integration: &Integration) {
        self.unknown_settings(path, integration, EMAIL_SETTINGS);
        if let Some(from) = self.string_setting(path, integration, "from")
            && !is_email(from)
            && !is_named_email(from)
        {
            self.issue(
                format!("{path}.settings.from"),
                format!("\"{from}\" is not an e-mail address"),
            );
        }
        for key in ["subject", "html", "text"] {
            if let Some(template) = self.string_setting(path, integration, key) {
                self.template(&integration.id, path, &format!("settings.{key}"), template);
            }
        }
    }

    fn webhook_settings(&mut self, path: &str, integration: &Integration) {
        self.unknown_settings(path, integration, WEBHOOK_SETTINGS);
        let preset = self.string_setting(path, integration, "preset");
        match preset {
            None => {
                if integration.messages.is_empty() {
                    self.issue(
                        path.to_owned(),
                        format!(
                            "webhook integration \"{}\" needs \"messages\" or settings.preset \"{PRESET_ALL_VARIABLES}\"",
                            integration.id
                        ),
                    );
                } else if let Some(key) = integration
                    .settings
                    .keys()
                    .find(|key| WEBHOOK_SETTINGS.contains(&key.as_str()) && key.as_str() != "signingSecret")
                {
                    self.issue(
                        format!("{path}.settings.{key}"),
                        "only signingSecret goes with \"messages\" (the other settings are the preset's)",
                    );
                }
            }
            Some(PRESET_ALL_VARIABLES) => match self.string_setting(path, integration, "url") {
                None if !integration.settings.contains_key("url") => self.issue(
                    format!("{path}.settings.url"),
                    format!("preset \"{PRESET_ALL_VARIABLES}\" needs a url"),
                ),
                None => {}
                Some(url) if url.trim().is_empty() => self.issue(format!("{path}.settings.url"), "empty url"),
                Some(url) => self.template(&integration.id, path, "settings.url", url),
            },
            Some(other) => self.issue(
                format!("{path}.settings.preset"),
                format!("unknown preset \"{other}\" (expected \"{PRESET_ALL_VARIABLES}\")"),
            ),
        }
        if let Some(secret) = self.string_setting(path, integration, "signingSecret") {
            if secret.trim().is_empty() {
                self.issue(format!("{path}.settings.signingSecret"), "empty signing secret");
            } else {
                self.template(&integration.id, path, "settings.signingSecret", secret);
            }
        }
        if let Some(method) = self.string_setting(path, integration, "method")
            && !HTTP_METHODS.contains(&method)
        {
            self.issue(
                format!("{path}.settings.method"),
                format!("unknown method \"{method}\" (expected GET, POST, PUT, PATCH or DELETE)"),
            );
        }
        match integration.settings.get("headers") {
            None => {}
            Some(serde_json::Value::Object(headers)) => {
                for (name, value) in headers {
                    match value {
                        serde_json::Value::String(template) => self.template(
                            &integration.id,
                            path,
                            &format!("settings.headers.{name}"),
                            template,
                        ),
                        _ => self.issue(format!("{path}.settings.headers.{name}"), "must be a string"),
                    }
                }
            }
            Some(_) => self.issue(
                format!("{path}.settings.headers"),
                "must be a map of header name to template",
            ),
        }
    }

    fn definition(&mut self, index: usize, definition: &AlertDefinition, lookups: &Lookups<'_>) {
        let Lookups {
            integrations,
            operators,
            operator_groups,
            monitor_groups,
            ..
        } = *lookups;
        let path = format!("alertDefinitions[{index}]");
        if definition.monitors.is_empty() {
            self.issue(
                format!("{path}.monitors"),
                "no monitor selector (use \"*\" for every monitor)",
            );
        }
        for (s, text) in definition.monitors.iter().enumerate() {
            let selector_path = format!("{path}.monitors[{s}]");
            match Selector::parse(text) {
                Ok(Selector::Group(group)) if !monitor_groups.contains_key(group) => {
                    self.issue(selector_path, format!("unknown monitor group \"{group}\""))
                }
                Ok(_) => {}
                Err(error) => self.selector_error(selector_path, &error),
            }
        }

        let mut level_ids: HashMap<u32, usize> = HashMap::new();
        for (l, level) in definition.levels.iter().enumerate() {
            let level_path = format!("{path}.levels[{l}]");
            if level.id == 0 {
                self.issue(format!("{level_path}.id"), "level ids start at 1");
            } else if let Some(first) = level_ids.get(&level.id) {
                self.issue(
                    format!("{level_path}.id"),
                    format!(
                        "duplicate level id {} (first at {path}.levels[{first}])",
                        level.id
                    ),
                );
            } else {
                level_ids.insert(level.id, l);
            }
            for (o, operator) in level.operators.iter().enumerate() {
                if !operators.contains_key(operator.as_str())
                    && !operator_groups.contains_key(operator.as_str())
                {
                    self.issue(
                        format!("{level_path}.operators[{o}]"),
                        format!("unknown operator or operator group \"{operator}\""),
                    );
                }
            }
            self.level_emails(&level_path, level, lookups);
            for (a, attachment) in level.integrations.iter().enumerate() {
                let attachment_path = format!("{level_path}.integrations[{a}]");
                self.attachment(&attachment_path, attachment, integrations);
            }
        }
    }

    /// On a level that sends e-mail, every operator it names (directly or through a group) needs an
    /// address: otherwise that person silently gets nothing.
    fn level_emails(&mut self, level_path: &str, level: &EscalationLevel, lookups: &Lookups<'_>) {
        let Some(email) = level
            .integrations
            .iter()
            .filter_map(|attachment| lookups.integrations.get(attachment.integration.as_str()))
            .find(|integration| integration.kind == IntegrationKind::Email)
        else {
            return;
        };
        let operator = |id: &str| {
            lookups
                .operators
                .get(id)
                .map(|&i| &lookups.definitions.operators[i])
        };
        for (o, id) in level.operators.iter().enumerate() {
            let (members, via): (Vec<&Operator>, String) =
                match (operator(id), lookups.operator_groups.get(id.as_str())) {
                    (Some(operator), _) => (vec![operator], String::new()),
                    (None, Some(&g)) => (
                        lookups.definitions.operator_groups[g]
                            .members
                            .iter()
                            .filter_map(|m| operator(m))
                            .collect(),
                        format!(" (member of group \"{id}\")"),
                    ),
                    (None, None) => continue,
                };
            for member in members.iter().filter(|member| member.email.is_none()) {
                self.issue(
                    format!("{level_path}.operators[{o}]"),
                    format!(
                        "operator \"{}\"{via} has no email, but the level sends e-mail through \"{}\"",
                        member.id, email.id
                    ),
                );
            }
        }
    }

    fn attachment(
        &mut self,
        path: &str,
        attachment: &Attachment,
        integrations: &HashMap<&str, &Integration>,
    ) {
        for (e, email) in attachment.extra_emails.iter().enumerate() {
            if !is_email(email) {
                self.issue(
                    format!("{path}.extraEmails[{e}]"),
                    format!("\"{email}\" is not an e-mail address"),
                );
            }
        }
        for (k, link) in attachment.service_links.iter().enumerate() {
            if link.monitor.trim().is_empty() {
                self.issue(format!("{path}.serviceLinks[{k}].monitor"), "empty monitor");
            }
            if link.service.trim().is_empty() {
                self.issue(format!("{path}.serviceLinks[{k}].service"), "empty service");
            }
        }
        let Some(integration) = integrations.get(attachment.integration.as_str()) else {
            let message = if attachment.integration.trim().is_empty() {
                "empty integration id".to_owned()
            } else {
                format!("unknown integration \"{}\"", attachment.integration)
            };
            self.issue(format!("{path}.integration"), message);
            return;
        };
        if !attachment.extra_emails.is_empty() && integration.kind != IntegrationKind::Email {
            self.issue(
                format!("{path}.extraEmails"),
                format!(
                    "extraEmails are for e-mail integrations; \"{}\" is of kind {}",
                    integration.id, integration.kind
                ),
            );
        }
        for name in attachment.variables.keys() {
            match integration.variables.get(name) {
                Some(VariableDef::PerLevel { .. }) => {}
                Some(_) => self.issue(
                    format!("{path}.variables.{name}"),
                    format!(
                        "variable \"{name}\" of integration \"{}\" is not per-level",
                        integration.id
                    ),
                ),
                None => self.issue(
                    format!("{path}.variables.{name}"),
                    format!(
                        "integration \"{}\" declares no variable \"{name}\"",
                        integration.id
                    ),
                ),
            }
        }
        let missing: BTreeSet<&str> = integration
            .variables
            .iter()
            .filter(|(name, variable)| {
                matches!(variable, VariableDef::PerLevel { default: None, .. })
                    && attachment
                        .variables
                        .get(name.as_str())
                        .is_none_or(|value| value.is_empty())
            })
            .map(|(name, _)| name.as_str())
            .collect();
        for name in missing {
            self.issue(
                format!("{path}.variables.{name}"),
                format!("missing value for per-level variable \"{name}\" of integration \"{}\" (it has no default)", integration.id),
            );
        }
    }
}

/// Checks a secret reference's form without echoing it (a misplaced secret must not be printed).
pub(crate) fn check_secret_ref(secret: &SecretRef) -> Result<(), String> {
    let text = secret.0.as_str();
    if let Some(name) = text.strip_prefix("ssm:") {
        if !name.starts_with('/') || name.len() < 2 {
            return Err("an ssm secret reference must be \"ssm:/<parameter name>\"".to_owned());
        }
        if name.chars().any(char::is_whitespace) {
            return Err("an ssm parameter name cannot contain whitespace".to_owned());
        }
        return Ok(());
    }
    if let Some(rest) = text.strip_prefix("secretsmanager:") {
        let (name, key) = match rest.split_once('#') {
            Some((name, key)) => (name, Some(key)),
            None => (rest, None),
        };
        if name.trim().is_empty() {
            return Err("a secretsmanager reference needs a secret name or arn".to_owned());
        }
        if key.is_some_and(|key| key.trim().is_empty()) {
            return Err("empty json key after \"#\" in secretsmanager reference".to_owned());
        }
        return Ok(());
    }
    Err("a secret reference must start with \"ssm:/\" or \"secretsmanager:\" (value not shown)".to_owned())
}

/// A plain `local@domain.tld` address: one `@`, no whitespace or angle brackets, a dot in the domain.
pub(crate) fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text
            .chars()
            .any(|c| c.is_whitespace() || c == '<' || c == '>' || c == ',' || c == ';')
}

/// `Name <local@domain>`, as a sender.
fn is_named_email(text: &str) -> bool {
    text.strip_suffix('>')
        .and_then(|rest| rest.rsplit_once('<'))
        .is_some_and(|(name, address)| !name.trim().is_empty() && is_email(address))
}

fn is_e164(text: &str) -> bool {
    text.strip_prefix('+')
        .is_some_and(|digits| (8..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()))
}
