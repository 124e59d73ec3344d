//! `WebhookSettings` (what a custom integration may set) and `WebhookTarget` (its requests, checked).

use std::collections::BTreeMap;

use definition_store::{Integration, MessageDefinition, rules};
use notify_core::NotifyError;
use serde::Deserialize;

pub use definition_store::HTTP_METHODS as METHODS;

/// The settings of a webhook integration: a preset (`preset`, `url`, `method`, `headers`), or none
/// when the integration has its own `messages`; `signingSecret` goes with either.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct WebhookSettings {
    /// A ready-made request instead of `messages`: `all-variables` sends the native envelope v1 (every
    /// alert variable) as a JSON body, for every alert type.
    #[serde(default)]
    pub preset: Option<Preset>,
    /// The preset's URL template (values are percent-encoded).
    #[serde(default)]
    pub url: Option<String>,
    /// The preset's method: GET, POST (default), PUT, PATCH or DELETE.
    #[serde(default)]
    pub method: Option<String>,
    /// The preset's headers: name → value template (a value with a line break is refused).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A template, usually `{{SigningSecret}}` naming a secret variable, whose value is a Standard
    /// Webhooks secret (`whsec_<base64>`): every request then carries `webhook-signature`.
    #[serde(default)]
    pub signing_secret: Option<String>,
}

/// The webhook presets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
pub enum Preset {
    /// The native envelope v1 as a JSON body.
    #[serde(rename = "all-variables")]
    AllVariables,
}

/// What a webhook integration sends, and how it is signed.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    /// The requests.
    pub requests: WebhookRequests,
    /// `settings.signingSecret`, when given: every request carries a `webhook-signature` header.
    pub signing_secret: Option<String>,
}

/// The requests of a webhook integration.
#[derive(Debug, Clone, PartialEq)]
pub enum WebhookRequests {
    /// The integration's own request steps, per alert type (`Integration.messages`).
    Custom {
        /// The message definitions, as in the integration.
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
    /// `messages`; both may have `settings.signingSecret`. Errors are permanent and name the
    /// integration and the path.
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

    /// The target, or every problem of its settings found (the structural problems of `messages`
    /// are [`rules::message_problems`], which `tocsin validate` reports for every kind).
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
        let requests = match settings.preset {
            Some(Preset::AllVariables) => preset(settings, integration, &mut problems),
            None => custom(settings, integration, &mut problems),
        };
        match requests {
            Some(requests) if problems.is_empty() => Ok(WebhookTarget {
                requests,
                signing_secret: settings.signing_secret.clone(),
            }),
            _ => Err(problems),
        }
    }
}

/// `settings.preset`: the preset's own settings, and no `messages`.
fn preset(
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
    ];
    for (key, given) in preset_keys {
        if given {
            problems.push((
                format!("settings.{key}"),
                "only signingSecret goes with \"messages\" (the other settings are the preset's; set `preset`)"
                    .to_owned(),
            ));
        }
    }
    if integration.messages.is_empty() {
        problems.push((
            String::new(),
            format!(
                "webhook integration \"{}\" needs \"messages\" or settings.preset \"all-variables\"",
                integration.id
            ),
        ));
        return None;
    }
    Some(WebhookRequests::Custom {
        messages: integration.messages.to_vec(),
    })
}
