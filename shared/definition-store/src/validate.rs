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
    AlertDefinition, Attachment, Definitions, EscalationLevel, HttpAuth, Integration, Operator, VariableDef,
    escape::escape_controls,
    rules,
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

/// Who the messages of a kind are addressed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recipients {
    /// Not to people: an API, a channel, an incident system.
    Nobody,
    /// The level's operators by e-mail address, and the attachment's `extraEmails`.
    Email,
    /// The level's operators by phone number, and the attachment's `extraPhones`.
    Phone,
}

/// What validation needs to know about each integration kind. The kind registry (`shared/kinds`)
/// implements it from the kinds' own types; [`validate`] alone uses [`NoKindRules`].
pub trait KindRules {
    /// Who the messages of `kind` are addressed to.
    fn recipients(&self, kind: IntegrationKind) -> Recipients;

    /// Checks what is particular to the integration's kind (its `settings`), reporting through `check`.
    fn check(&self, integration: &Integration, check: &mut IntegrationCheck<'_>);

    /// Why `service` (an attachment's `serviceLinks[].service`) names no service of `integration`;
    /// `None` when it does (and by default: kinds without services ignore the links).
    fn service_problem(&self, _integration: &Integration, _service: &str) -> Option<String> {
        None
    }
}

/// Kind rules that know no kind: the checks common to every integration only.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoKindRules;

impl KindRules for NoKindRules {
    fn recipients(&self, _kind: IntegrationKind) -> Recipients {
        Recipients::Nobody
    }

    fn check(&self, _integration: &Integration, _check: &mut IntegrationCheck<'_>) {}
}

/// Reports problems of one integration, with paths under the integration's own
/// (`integrations[3].settings.from`).
pub struct IntegrationCheck<'a> {
    engine: &'a Engine,
    issues: Vec<ValidationIssue>,
    path: String,
    integration: &'a Integration,
}

impl IntegrationCheck<'_> {
    /// The integration being checked.
    pub fn integration(&self) -> &Integration {
        self.integration
    }

    /// A problem at `field`, a path inside the integration (`settings.from`); empty for the
    /// integration itself.
    pub fn issue(&mut self, field: &str, message: impl Into<String>) {
        let path = if field.is_empty() {
            self.path.clone()
        } else {
            format!("{}.{field}", self.path)
        };
        self.issues.push(ValidationIssue {
            path,
            message: message.into(),
        });
    }

    /// Checks the syntax and bounds of the template at `field` (`settings.subject`).
    pub fn template(&mut self, field: &str, template: &str) {
        let issue = template_issue(self.engine, &self.integration.id, &self.path, field, template);
        self.issues.extend(issue);
    }

    /// The integration's settings as the kind's type `T`, or `None` after reporting why not, with
    /// the path of the offending value.
    pub fn settings<T: serde::de::DeserializeOwned>(&mut self) -> Option<T> {
        match parse_settings(self.integration) {
            Ok(settings) => Some(settings),
            Err(error) => {
                self.issue(&error.path, error.reason);
                None
            }
        }
    }
}

/// Settings that do not fit their kind's type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{path}`: {reason}")]
pub struct SettingsError {
    /// Inside the integration: `settings.from`, `settings` for the map itself.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

/// Reads an integration's `settings` as the kind's settings type `T` (its serde rules: unknown
/// keys, types, required values), naming the path of the offending value. Used by validation and by
/// the notifiers, so that both read settings the same way.
pub fn parse_settings<T: serde::de::DeserializeOwned>(integration: &Integration) -> Result<T, SettingsError> {
    let value = serde_json::Value::Object(integration.settings.clone());
    serde_path_to_error::deserialize(value).map_err(|error| {
        // Keys are the definitions' text: escaped, so that a key cannot forge lines in a log.
        let inner = crate::escape_controls(&error.path().to_string()).into_owned();
        SettingsError {
            path: if inner.is_empty() || inner == "." {
                "settings".to_owned()
            } else {
                format!("settings.{inner}")
            },
            reason: crate::escape_controls(&error.into_inner().to_string()).into_owned(),
        }
    })
}

/// Every problem in `definitions` that needs no knowledge of the kinds; empty when there is none.
/// `tocsin validate` uses the kind registry's `kinds::validate`, which adds each kind's own checks.
pub fn validate(definitions: &Definitions) -> Vec<ValidationIssue> {
    validate_with(definitions, &NoKindRules)
}

/// Every problem in `definitions`; empty when they are valid.
///
/// Checks ids (empty, duplicate), references (attachments → integrations, level operators →
/// operators or operator groups, group members → operators, `group:` selectors → monitor groups),
/// selectors, variables (per-level use, secret references), message definitions, operators'
/// addresses and numbers, recipients of person-addressed kinds, the syntax of every template field,
/// and, through `rules`, each kind's settings.
pub fn validate_with(definitions: &Definitions, rules: &dyn KindRules) -> Vec<ValidationIssue> {
    let mut check = Checker {
        issues: Vec::new(),
        engine: Engine::new(),
        rules,
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

struct Checker<'r> {
    issues: Vec<ValidationIssue>,
    engine: Engine,
    rules: &'r dyn KindRules,
}

impl Checker<'_> {
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
                    && let Some(problem) = rules::email_problem(email)
                {
                    self.issue(format!("{path}.email"), format!("\"{email}\": {problem}"));
                }
                if let Some(phone) = phone
                    && let Some(problem) = rules::phone_problem(phone)
                {
                    self.issue(format!("{path}.phone"), format!("\"{phone}\": {problem}"));
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
                && let Err(reason) = secret.location()
            {
                self.issue(format!("{var_path}.secret"), reason);
            }
        }

        self.messages(&path, integration);

        let mut check = IntegrationCheck {
            engine: &self.engine,
            issues: Vec::new(),
            path,
            integration,
        };
        self.rules.check(integration, &mut check);
        self.issues.extend(check.issues);
    }

    fn messages(&mut self, path: &str, integration: &Integration) {
        for (field, problem) in rules::message_problems(&integration.messages) {
            self.issue(format!("{path}.{field}"), problem);
        }
        for (m, message) in integration.messages.iter().enumerate() {
            for (s, step) in message.steps.iter().enumerate() {
                let field = format!("messages[{m}].steps[{s}]");
                let mut template = |name: &str, text: &str| {
                    self.template(&integration.id, path, &format!("{field}.{name}"), text);
                };
                if !step.url.trim().is_empty() {
                    template("url", &step.url);
                }
                for (name, value) in &step.headers {
                    template(&format!("headers.{name}"), value);
                }
                if let Some(body) = &step.body {
                    template("body", body);
                }
                for (name, text) in step.auth.iter().flat_map(HttpAuth::templates) {
                    template(&format!("auth.{name}"), text);
                }
            }
        }
    }

    /// Checks a template's syntax; `prefix` is the integration's path (`integrations[3]`), `field`
    /// the path inside the integration (`messages[0].steps[1].body`, `settings.subject`).
    fn template(&mut self, integration: &str, prefix: &str, field: &str, template: &str) {
        let issue = template_issue(&self.engine, integration, prefix, field, template);
        self.issues.extend(issue);
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
            self.level_recipients(&level_path, level, lookups);
            for (a, attachment) in level.integrations.iter().enumerate() {
                let attachment_path = format!("{level_path}.integrations[{a}]");
                self.attachment(&attachment_path, attachment, integrations);
            }
        }
    }

    /// On a level whose integrations address people (by e-mail, by phone), every operator it names
    /// (directly or through a group) needs that address: otherwise that person silently gets nothing.
    fn level_recipients(&mut self, level_path: &str, level: &EscalationLevel, lookups: &Lookups<'_>) {
        for (wanted, field) in [(Recipients::Email, "email"), (Recipients::Phone, "phone")] {
            let Some(integration) = level
                .integrations
                .iter()
                .filter_map(|attachment| lookups.integrations.get(attachment.integration.as_str()))
                .find(|integration| self.rules.recipients(integration.kind) == wanted)
            else {
                continue;
            };
            let has = |operator: &Operator| match wanted {
                Recipients::Email => operator.email.is_some(),
                Recipients::Phone => operator.phone.is_some(),
                Recipients::Nobody => true,
            };
            for (o, id) in level.operators.iter().enumerate() {
                let (members, via) = level_members(id, lookups);
                for member in members.iter().filter(|member| !has(member)) {
                    self.issue(
                        format!("{level_path}.operators[{o}]"),
                        format!(
                            "operator \"{}\"{via} has no {}, but the level sends {} through \"{}\"",
                            member.id, field, integration.kind, integration.id
                        ),
                    );
                }
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
            if let Some(problem) = rules::email_problem(email) {
                self.issue(
                    format!("{path}.extraEmails[{e}]"),
                    format!("\"{email}\": {problem}"),
                );
            }
        }
        for (n, phone) in attachment.extra_phones.iter().enumerate() {
            if let Some(problem) = rules::phone_problem(phone) {
                self.issue(
                    format!("{path}.extraPhones[{n}]"),
                    format!("\"{phone}\": {problem}"),
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
        for (k, link) in attachment.service_links.iter().enumerate() {
            if let Some(problem) = (!link.service.trim().is_empty())
                .then(|| self.rules.service_problem(integration, &link.service))
                .flatten()
            {
                self.issue(format!("{path}.serviceLinks[{k}].service"), problem);
            }
        }
        if !attachment.extra_emails.is_empty() && self.rules.recipients(integration.kind) != Recipients::Email
        {
            self.issue(
                format!("{path}.extraEmails"),
                format!(
                    "extraEmails are for kinds that send e-mail; \"{}\" is of kind {}",
                    integration.id, integration.kind
                ),
            );
        }
        if !attachment.extra_phones.is_empty() && self.rules.recipients(integration.kind) != Recipients::Phone
        {
            self.issue(
                format!("{path}.extraPhones"),
                format!(
                    "extraPhones are for kinds that call or text phones; \"{}\" is of kind {}",
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

/// The problem with the template at `prefix.field`, if any: syntax and bounds, with the line.
fn template_issue(
    engine: &Engine,
    integration: &str,
    prefix: &str,
    field: &str,
    template: &str,
) -> Option<ValidationIssue> {
    let error = engine
        .check(TemplateSource { integration, field }, template)
        .err()?;
    let line = error
        .line
        .map(|line| format!(" (line {line})"))
        .unwrap_or_default();
    Some(ValidationIssue {
        path: format!("{prefix}.{field}"),
        message: format!("invalid template: {}{line}", error.reason),
    })
}

/// The operators an entry of a level's `operators` names (itself, or a group's members), and how it
/// named them (` (member of group "g")`).
fn level_members<'a>(id: &str, lookups: &Lookups<'a>) -> (Vec<&'a Operator>, String) {
    let operator = |id: &str| {
        lookups
            .operators
            .get(id)
            .map(|&i| &lookups.definitions.operators[i])
    };
    match (operator(id), lookups.operator_groups.get(id)) {
        (Some(operator), _) => (vec![operator], String::new()),
        (None, Some(&g)) => (
            lookups.definitions.operator_groups[g]
                .members
                .iter()
                .filter_map(|m| operator(m))
                .collect(),
            format!(" (member of group \"{id}\")"),
        ),
        (None, None) => (Vec::new(), String::new()),
    }
}
