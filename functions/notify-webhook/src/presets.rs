//! The preset library: ready-made integrations kept as data files (`presets/<name>.yaml`, built
//! into the function), loaded by name (`settings.preset`), and changed field by field by an
//! integration's `settings.overrides`.
//!
//! A preset file holds a title, a description, the documentation it follows, the variables it
//! reads (required or not, secret or not), its user functions and its `messages` (the same steps
//! as an integration's own).

use std::{collections::BTreeMap, sync::OnceLock};

use alert_model::template::FunctionDef;
use definition_store::MessageDefinition;
use serde::Deserialize;

use crate::config::{Problem, StepOverride};

/// The preset that sends the native envelope (every variable), kept in code: its body is the
/// serialised alert, not a template.
pub const ALL_VARIABLES: &str = "all-variables";

/// Every preset file, by name.
const FILES: &[(&str, &str)] = &[
    ("alertops", include_str!("../presets/alertops.yaml")),
    ("discord", include_str!("../presets/discord.yaml")),
    ("google-chat", include_str!("../presets/google-chat.yaml")),
    ("incident-io", include_str!("../presets/incident-io.yaml")),
    ("jira", include_str!("../presets/jira.yaml")),
    ("mattermost", include_str!("../presets/mattermost.yaml")),
    ("ntfy", include_str!("../presets/ntfy.yaml")),
    ("pushover", include_str!("../presets/pushover.yaml")),
    ("rocket-chat", include_str!("../presets/rocket-chat.yaml")),
    ("statuspage", include_str!("../presets/statuspage.yaml")),
    ("telegram", include_str!("../presets/telegram.yaml")),
    ("webex", include_str!("../presets/webex.yaml")),
    ("zapier", include_str!("../presets/zapier.yaml")),
];

/// One preset, as its file says.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresetDef {
    /// One line.
    pub title: String,
    /// What it sends, and how.
    pub description: String,
    /// The target's documentation of the requests.
    pub docs: Vec<String>,
    /// The variables the steps read.
    #[serde(default)]
    pub variables: BTreeMap<String, PresetVariable>,
    /// User functions of the preset.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionDef>,
    /// The steps, per alert type.
    pub messages: Vec<MessageDefinition>,
}

/// A variable a preset reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PresetVariable {
    /// What it holds.
    pub description: String,
    /// Whether the integration must define it (false when it has a default).
    #[serde(default = "yes")]
    pub required: bool,
    /// The value when the integration does not define it.
    #[serde(default)]
    pub default: Option<String>,
    /// Whether it should be a secret variable (`{secret: …}`).
    #[serde(default)]
    pub secret: bool,
}

fn yes() -> bool {
    true
}

/// What `tocsin presets` prints of a preset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetSummary {
    /// The name (`settings.preset`).
    pub name: String,
    /// One line.
    pub title: String,
    /// Required variables, `Name (secret)` for the secret ones.
    pub required: Vec<String>,
    /// Variables it reads when given.
    pub optional: Vec<String>,
}

/// Every preset file, parsed once; a file that does not parse is kept as its error (the tests
/// parse every file, so this is a bug, reported and never a panic).
fn library() -> &'static BTreeMap<&'static str, Result<PresetDef, String>> {
    static LIBRARY: OnceLock<BTreeMap<&'static str, Result<PresetDef, String>>> = OnceLock::new();
    LIBRARY.get_or_init(|| {
        FILES
            .iter()
            .map(|(name, text)| {
                let parsed = serde_norway::from_str::<PresetDef>(text)
                    .map_err(|error| format!("preset \"{name}\" is broken: {error}"));
                (*name, parsed)
            })
            .collect()
    })
}

/// The preset `name`, or why not.
pub fn load(name: &str) -> Result<&'static PresetDef, String> {
    match library().get(name) {
        Some(Ok(preset)) => Ok(preset),
        Some(Err(problem)) => Err(problem.clone()),
        None => Err(format!(
            "unknown preset \"{}\" (known: {})",
            definition_store::escape_controls(name),
            names().join(", ")
        )),
    }
}

/// Every preset's name, `all-variables` first.
pub fn names() -> Vec<&'static str> {
    std::iter::once(ALL_VARIABLES)
        .chain(FILES.iter().map(|(name, _)| *name))
        .collect()
}

/// Every preset with its required and optional variables (`tocsin presets`).
pub fn summaries() -> Vec<PresetSummary> {
    let mut summaries = vec![PresetSummary {
        name: ALL_VARIABLES.to_owned(),
        title: "every alert variable as the native envelope v1 (JSON), to any URL (settings.url)".to_owned(),
        required: Vec::new(),
        optional: Vec::new(),
    }];
    for (name, preset) in library() {
        let Ok(preset) = preset else { continue };
        let described = |(variable, spec): (&String, &PresetVariable)| match (&spec.default, spec.secret) {
            (_, true) => format!("{variable} (secret)"),
            (Some(default), false) => format!("{variable} (default {default})"),
            (None, false) => variable.clone(),
        };
        summaries.push(PresetSummary {
            name: (*name).to_owned(),
            title: preset.title.clone(),
            required: preset
                .variables
                .iter()
                .filter(|(_, spec)| spec.required && spec.default.is_none())
                .map(described)
                .collect(),
            optional: preset
                .variables
                .iter()
                .filter(|(_, spec)| !spec.required || spec.default.is_some())
                .map(described)
                .collect(),
        });
    }
    summaries
}

/// The values of the preset's variables that have a default.
pub(crate) fn defaults(preset: &PresetDef) -> BTreeMap<String, String> {
    preset
        .variables
        .iter()
        .filter_map(|(name, spec)| Some((name.clone(), spec.default.clone()?)))
        .collect()
}

/// The preset's messages with `overrides` applied step by step (a step name overridden is every
/// step of that name); an override naming no step of the preset is a problem.
pub(crate) fn overridden(
    preset: &PresetDef,
    overrides: &BTreeMap<String, StepOverride>,
    problems: &mut Vec<Problem>,
) -> Vec<MessageDefinition> {
    let mut messages = preset.messages.clone();
    for (step_name, fields) in overrides {
        let mut found = false;
        for message in &mut messages {
            for (index, step) in message.steps.iter_mut().enumerate() {
                let name = step.name.clone().unwrap_or_else(|| format!("step-{}", index + 1));
                if name != *step_name {
                    continue;
                }
                found = true;
                apply(step, fields);
            }
        }
        if !found {
            let known: std::collections::BTreeSet<String> = messages
                .iter()
                .flat_map(|message| message.steps.iter().filter_map(|step| step.name.clone()))
                .collect();
            problems.push((
                format!(
                    "settings.overrides.{}",
                    definition_store::escape_controls(step_name)
                ),
                format!(
                    "the preset has no step \"{}\" (its steps: {})",
                    definition_store::escape_controls(step_name),
                    known.into_iter().collect::<Vec<_>>().join(", ")
                ),
            ));
        }
    }
    messages
}

fn apply(step: &mut definition_store::HttpStep, fields: &StepOverride) {
    if let Some(method) = &fields.method {
        step.method = method.clone();
    }
    if let Some(url) = &fields.url {
        step.url = url.clone();
    }
    for (name, value) in &fields.headers {
        step.headers.retain(|known, _| !known.eq_ignore_ascii_case(name));
        if !value.is_empty() {
            step.headers.insert(name.clone(), value.clone());
        }
    }
    if let Some(body) = &fields.body {
        step.body = Some(body.clone());
    }
    if let Some(body_type) = fields.body_type {
        step.body_type = Some(body_type);
    }
    if let Some(auth) = &fields.auth {
        step.auth = (*auth != definition_store::HttpAuth::None).then(|| auth.clone());
    }
    for (name, rule) in &fields.extract {
        step.extract.insert(name.clone(), rule.clone());
    }
    if let Some(optional) = fields.optional {
        step.optional = optional;
    }
    if let Some(timeout) = fields.timeout_seconds {
        step.timeout_seconds = Some(timeout);
    }
}
