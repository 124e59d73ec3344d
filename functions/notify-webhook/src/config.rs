//! `WebhookSettings` (what a custom integration may set) and `WebhookTarget` (its requests, checked).

use std::collections::BTreeMap;

use alert_model::template::FunctionDef;
use definition_store::{BodyType, Extract, HttpAuth, Integration, MessageDefinition, rules};
use notify_core::NotifyError;
use serde::Deserialize;

use crate::presets::{self, ALL_VARIABLES};

pub use definition_store::HTTP_METHODS as METHODS;

/// The settings of a webhook integration: a preset (`preset`, with `url`, `method`, `headers` for
/// `all-variables`, `overrides` for the others), or none when the integration has its own
/// `messages`; `signingSecret` and `functions` go with either.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSettings {
    /// A ready-made integration instead of `messages`, by name (`tocsin presets` lists them):
    /// `all-variables` sends the native envelope v1 (every alert variable) as a JSON body; the
    /// others (`discord`, `jira`, `statuspage`, …) are steps kept in the repository's
    /// `functions/notify-webhook/presets/`, which read the integration's variables.
    #[serde(default)]
    pub preset: Option<String>,
    /// `all-variables`: the URL template (values are percent-encoded).
    #[serde(default)]
    pub url: Option<String>,
    /// `all-variables`: the method: GET, POST (default), PUT, PATCH or DELETE.
    #[serde(default)]
    pub method: Option<String>,
    /// `all-variables`: headers, name → value template (a value with a line break is refused).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A step preset's steps changed field by field: step name → the fields that replace the
    /// preset's (`headers` and `extract` are merged name by name; an empty header value removes
    /// the header).
    #[serde(default)]
    pub overrides: BTreeMap<String, StepOverride>,
    /// A template, usually `{{SigningSecret}}` naming a secret variable, whose value is one or more
    /// Standard Webhooks secrets (`whsec_<base64>`), separated by spaces: every request then
    /// carries `webhook-signature` with one `v1,` signature per secret, so that a receiver can
    /// rotate its secret without losing messages.
    #[serde(default)]
    pub signing_secret: Option<String>,
    /// User functions, callable in every template of the integration (`{{status({{@alert.type}})}}`),
    /// by name: mapping tables, regular expressions, hashes, HMACs, encodings and dates.
    #[serde(default)]
    pub functions: BTreeMap<String, FunctionDef>,
}

/// The fields of a preset's step an integration replaces (`settings.overrides.<step>`).
#[derive(Debug, Clone, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StepOverride {
    /// Replaces the method.
    #[serde(default)]
    pub method: Option<String>,
    /// Replaces the URL template.
    #[serde(default)]
    pub url: Option<String>,
    /// Header name → value template, merged over the preset's; an empty value removes the header.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Replaces the body template.
    #[serde(default)]
    pub body: Option<String>,
    /// Replaces the body type.
    #[serde(default)]
    pub body_type: Option<BodyType>,
    /// Replaces the authentication (`{type: none}` removes it).
    #[serde(default)]
    pub auth: Option<HttpAuth>,
    /// Extraction rules, merged over the preset's by name.
    #[serde(default)]
    pub extract: BTreeMap<String, Extract>,
    /// Replaces whether the step is optional.
    #[serde(default)]
    pub optional: Option<bool>,
    /// Replaces the step's timeout.
    #[serde(default)]
    pub timeout_seconds: Option<u32>,
}

impl Eq for StepOverride {}

/// What a webhook integration sends, and how it is signed.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    /// The requests.
    pub requests: WebhookRequests,
    /// `settings.signingSecret`, when given: every request carries a `webhook-signature` header.
    pub signing_secret: Option<String>,
    /// The user functions (a preset's, then the integration's own of the same name instead).
    pub functions: BTreeMap<String, FunctionDef>,
    /// A preset's values of the variables the integration does not define.
    pub defaults: BTreeMap<String, String>,
}

/// The requests of a webhook integration.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookRequests {
    /// Request steps per alert type: the integration's own (`Integration.messages`) or a step
    /// preset's, overridden.
    Custom {
        /// The message definitions.
        messages: Vec<MessageDefinition>,
    },
    /// `settings: {preset: "all-variables", url, method?, headers?}`: the native envelope v1 as a
    /// JSON body, for every alert type.
    AllVariables {
        /// URL template.
        url: String,
        /// GET, POST, PUT, PATCH or DELETE; POST by default.
        method: String,
        /// Header name → value template.
        headers: BTreeMap<String, String>,
    },
}

/// A problem with a webhook integration: the path inside it (empty for the integration itself) and
/// what is wrong.
pub(crate) type Problem = (String, String);

impl WebhookTarget {
    /// Parses and checks an integration: either `settings.preset` (and no `messages`), or
    /// `messages`; both may have `settings.signingSecret` and `settings.functions`. Errors are
    /// permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<WebhookTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::WebhookNotifier>(integration)?;
        let mut problems = rules::message_problems(&integration.messages);
        let target = WebhookTarget::from_settings(&settings, integration);
        let target = match target {
            Ok(target) if problems.is_empty() => Ok(target),
            Ok(_) => Err(problems),
            Err(more) => {
                problems.extend(more);
                Err(problems)
            }
        };
        target.map_err(|problems| {
            let (path, reason) = problems.into_iter().next().unwrap_or_default();
            let reason = if path.is_empty() {
                reason
            } else {
                format!("`{path}`: {reason}")
            };
            NotifyError::permanent(format!("integration `{}`: {reason}", integration.id))
        })
    }

    /// The target, or every problem of its settings found (the structural problems of the
    /// integration's own `messages` are [`rules::message_problems`], which `tocsin validate`
    /// reports for every kind).
    pub(crate) fn from_settings(
        settings: &WebhookSettings,
        integration: &Integration,
    ) -> Result<WebhookTarget, Vec<Problem>> {
        let mut problems = Vec::new();
        if settings
            .signing_secret
            .as_ref()
            .is_some_and(|secret| secret.trim().is_empty())
        {
            problems.push((
                "settings.signingSecret".to_owned(),
                "empty signing secret: give a template such as \"{{SigningSecret}}\" naming a secret variable"
                    .to_owned(),
            ));
        }
        let mut functions = BTreeMap::new();
        let mut defaults = BTreeMap::new();
        let requests = match settings.preset.as_deref() {
            Some(ALL_VARIABLES) => all_variables(settings, integration, &mut problems),
            Some(name) => {
                let requests = step_preset(name, settings, integration, &mut problems, &mut functions);
                if let Ok(preset) = presets::load(name) {
                    defaults = presets::defaults(preset);
                    defaults.retain(|variable, _| !integration.variables.contains_key(variable));
                }
                requests
            }
            None => custom(settings, integration, &mut problems),
        };
        functions.extend(settings.functions.clone());
        for (path, problem) in alert_model::template::functions::check(&functions) {
            let path = if path.is_empty() {
                "settings.functions".to_owned()
            } else {
                format!("settings.functions.{}", definition_store::escape_controls(&path))
            };
            problems.push((path, problem));
        }
        problems.extend(name_clashes(integration, &functions, requests.as_ref()));
        match requests {
            Some(requests) if problems.is_empty() => Ok(WebhookTarget {
                requests,
                signing_secret: settings.signing_secret.clone(),
                functions,
                defaults,
            }),
            _ => Err(problems),
        }
    }
}

/// `preset: all-variables`: its own settings, and no `messages`.
fn all_variables(
    settings: &WebhookSettings,
    integration: &Integration,
    problems: &mut Vec<Problem>,
) -> Option<WebhookRequests> {
    if !integration.messages.is_empty() {
        problems.push((
            "settings.preset".to_owned(),
            "`settings.preset` and `messages` exclude each other".to_owned(),
        ));
    }
    if !settings.overrides.is_empty() {
        problems.push((
            "settings.overrides".to_owned(),
            "preset \"all-variables\" has no steps to override (set url, method and headers)".to_owned(),
        ));
    }
    let url = match settings.url.as_deref().map(str::trim) {
        Some(url) if !url.is_empty() => settings.url.clone(),
        Some(_) => {
            problems.push(("settings.url".to_owned(), "empty url".to_owned()));
            None
        }
        None => {
            problems.push((
                "settings.url".to_owned(),
                "preset \"all-variables\" needs a url".to_owned(),
            ));
            None
        }
    };
    let method = match settings.method.as_deref() {
        None => Some("POST"),
        Some(method) => {
            let known = rules::http_method(method);
            if known.is_none() {
                problems.push(("settings.method".to_owned(), rules::unknown_method(method)));
            }
            known
        }
    };
    for name in settings.headers.keys() {
        if let Some(problem) = rules::header_name_problem(name) {
            problems.push((
                format!("settings.headers.{}", definition_store::escape_controls(name)),
                problem.to_owned(),
            ));
        }
    }
    Some(WebhookRequests::AllVariables {
        url: url?,
        method: method?.to_owned(),
        headers: settings.headers.clone(),
    })
}

/// A step preset: its messages with the integration's overrides, its functions, and the variables
/// it needs; no `messages`, no `all-variables` settings.
fn step_preset(
    name: &str,
    settings: &WebhookSettings,
    integration: &Integration,
    problems: &mut Vec<Problem>,
    functions: &mut BTreeMap<String, FunctionDef>,
) -> Option<WebhookRequests> {
    let preset = match presets::load(name) {
        Ok(preset) => preset,
        Err(problem) => {
            problems.push(("settings.preset".to_owned(), problem));
            return None;
        }
    };
    if !integration.messages.is_empty() {
        problems.push((
            "settings.preset".to_owned(),
            "`settings.preset` and `messages` exclude each other (change a preset's steps with `settings.overrides`)".to_owned(),
        ));
    }
    for (key, given) in [
        ("url", settings.url.is_some()),
        ("method", settings.method.is_some()),
        ("headers", !settings.headers.is_empty()),
    ] {
        if given {
            problems.push((
                format!("settings.{key}"),
                format!("preset \"{name}\" takes its {key} from its steps: change them with `settings.overrides.<step>.{key}`"),
            ));
        }
    }
    for (variable, spec) in &preset.variables {
        if spec.required && spec.default.is_none() && !integration.variables.contains_key(variable) {
            problems.push((
                "variables".to_owned(),
                format!(
                    "preset \"{name}\" needs variable \"{variable}\" ({})",
                    spec.description
                ),
            ));
        }
    }
    *functions = preset.functions.clone();
    let messages = presets::overridden(preset, &settings.overrides, problems);
    for (path, problem) in rules::message_problems(&messages) {
        problems.push((format!("settings.preset ({name}): {path}"), problem));
    }
    Some(WebhookRequests::Custom { messages })
}

/// No preset: the integration's `messages`, and no preset settings.
fn custom(
    settings: &WebhookSettings,
    integration: &Integration,
    problems: &mut Vec<Problem>,
) -> Option<WebhookRequests> {
    let preset_keys = [
        ("url", settings.url.is_some()),
        ("method", settings.method.is_some()),
        ("headers", !settings.headers.is_empty()),
        ("overrides", !settings.overrides.is_empty()),
    ];
    for (key, given) in preset_keys {
        if given {
            problems.push((
                format!("settings.{key}"),
                "only signingSecret and functions go with \"messages\" (the other settings are a preset's; set `preset`)"
                    .to_owned(),
            ));
        }
    }
    if integration.messages.is_empty() {
        problems.push((
            String::new(),
            format!(
                "webhook integration \"{}\" needs \"messages\" or settings.preset (`tocsin presets` lists them)",
                integration.id
            ),
        ));
        return None;
    }
    Some(WebhookRequests::Custom {
        messages: integration.messages.to_vec(),
    })
}

/// A function, a variable and a value extracted by a step are all written `{{Name}}`: one name
/// names one of them.
fn name_clashes(
    integration: &Integration,
    functions: &BTreeMap<String, FunctionDef>,
    requests: Option<&WebhookRequests>,
) -> Vec<Problem> {
    let mut problems = Vec::new();
    for name in functions.keys() {
        if integration.variables.contains_key(name) {
            problems.push((
                format!("settings.functions.{}", definition_store::escape_controls(name)),
                format!("\"{name}\" is also a variable of the integration"),
            ));
        }
    }
    let Some(WebhookRequests::Custom { messages }) = requests else {
        return problems;
    };
    for (m, message) in messages.iter().enumerate() {
        for (s, step) in message.steps.iter().enumerate() {
            for name in step.extract.keys() {
                let taken = if integration.variables.contains_key(name) {
                    "a variable"
                } else if functions.contains_key(name) {
                    "a function"
                } else {
                    continue;
                };
                problems.push((
                    format!(
                        "messages[{m}].steps[{s}].extract.{}",
                        definition_store::escape_controls(name)
                    ),
                    format!("\"{name}\" is also {taken} of the integration"),
                ));
            }
        }
    }
    problems
}
