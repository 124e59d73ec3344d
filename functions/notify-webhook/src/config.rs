//! `WebhookTarget`: a custom integration's requests (its `messages`) or a preset, validated.

use std::collections::BTreeMap;

use alert_model::AlertType;
use definition_store::{Integration, MessageDefinition};
use notify_core::NotifyError;

/// What a webhook integration sends, and how it is signed.
#[derive(Debug, Clone, PartialEq)]
pub struct WebhookTarget {
    /// The requests.
    pub requests: WebhookRequests,
    /// `settings.signingSecret`: a template (usually `{{SigningSecret}}`, a secret variable) whose
    /// value is a Standard Webhooks secret (`whsec_<base64>`); when given, every request carries a
    /// `webhook-signature` header.
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

/// The methods a step may use.
pub const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// The preset names `settings.preset` accepts.
pub const PRESETS: &[&str] = &["all-variables"];

/// The settings a custom integration (with `messages`) may have.
const CUSTOM_SETTINGS: &[&str] = &["signingSecret"];

/// The settings of a preset.
const PRESET_SETTINGS: &[&str] = &["preset", "url", "method", "headers", "signingSecret"];

impl WebhookTarget {
    /// Parses and validates an integration: either `settings.preset` (and no `messages`), or
    /// `messages`; both may have `settings.signingSecret`. Errors are permanent and name the
    /// integration and the path.
    pub fn parse(integration: &Integration) -> Result<WebhookTarget, NotifyError> {
        let invalid =
            |reason: String| NotifyError::permanent(format!("integration `{}`: {reason}", integration.id));
        let settings = &integration.settings;
        let signing_secret = signing_secret(settings).map_err(invalid)?;
        let requests = if settings.contains_key("preset") {
            if !integration.messages.is_empty() {
                return Err(invalid(
                    "`settings.preset` and `messages` exclude each other".to_owned(),
                ));
            }
            parse_preset(settings).map_err(invalid)?
        } else if integration.messages.is_empty() && settings.keys().any(|key| key != "signingSecret") {
            return Err(invalid(
                "`settings.preset` is required when settings are given".to_owned(),
            ));
        } else {
            if let Some(key) = settings
                .keys()
                .find(|key| !CUSTOM_SETTINGS.contains(&key.as_str()))
            {
                return Err(invalid(format!(
                    "unknown setting `settings.{key}` for an integration with `messages` (known: {})",
                    CUSTOM_SETTINGS.join(", ")
                )));
            }
            parse_messages(&integration.messages).map_err(invalid)?
        };
        Ok(WebhookTarget {
            requests,
            signing_secret,
        })
    }
}

fn signing_secret(settings: &serde_json::Map<String, serde_json::Value>) -> Result<Option<String>, String> {
    match settings.get("signingSecret") {
        None => Ok(None),
        Some(serde_json::Value::String(text)) if !text.trim().is_empty() => Ok(Some(text.clone())),
        Some(_) => Err(
            "`settings.signingSecret` must be a non-empty template, e.g. \"{{SigningSecret}}\" naming a secret variable"
                .to_owned(),
        ),
    }
}

/// Upper-cases `method` and checks it is one of [`METHODS`].
pub fn normalize_method(method: &str) -> Option<String> {
    let upper = method.trim().to_ascii_uppercase();
    METHODS.contains(&upper.as_str()).then_some(upper)
}

/// A header name is an RFC 9110 token.
pub fn is_valid_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&byte))
}

fn parse_messages(messages: &[MessageDefinition]) -> Result<WebhookRequests, String> {
    if messages.is_empty() {
        return Err(
            "a webhook integration needs `messages` or `settings.preset` (known presets: all-variables)"
                .to_owned(),
        );
    }
    let mut owner: BTreeMap<AlertType, usize> = BTreeMap::new();
    for (index, message) in messages.iter().enumerate() {
        if message.types.is_empty() {
            return Err(format!("`messages[{index}].types` is empty"));
        }
        if message.steps.is_empty() {
            return Err(format!("`messages[{index}].steps` is empty"));
        }
        for alert_type in &message.types {
            if let Some(first) = owner.insert(*alert_type, index)
                && first != index
            {
                return Err(format!(
                    "alert type `{alert_type}` is in both `messages[{first}].types` and `messages[{index}].types`"
                ));
            }
        }
        // Step names are part of the idempotency key: two equal names would make the second
        // step look delivered.
        let mut names = std::collections::BTreeSet::new();
        for (step_index, step) in message.steps.iter().enumerate() {
            let path = format!("messages[{index}].steps[{step_index}]");
            let name = step
                .name
                .clone()
                .unwrap_or_else(|| format!("step-{}", step_index + 1));
            if !names.insert(name.clone()) {
                return Err(format!(
                    "`{path}.name`: step name `{name}` is used twice in `messages[{index}]`"
                ));
            }
            if normalize_method(&step.method).is_none() {
                return Err(format!(
                    "`{path}.method`: unknown method `{}` (known: {})",
                    step.method,
                    METHODS.join(", ")
                ));
            }
            if step.url.trim().is_empty() {
                return Err(format!("`{path}.url` is empty"));
            }
            if let Some(name) = step.headers.keys().find(|name| !is_valid_header_name(name)) {
                return Err(format!(
                    "`{path}.headers`: invalid header name `{}`",
                    name.escape_debug()
                ));
            }
        }
    }
    Ok(WebhookRequests::Custom {
        messages: messages.to_vec(),
    })
}

fn parse_preset(settings: &serde_json::Map<String, serde_json::Value>) -> Result<WebhookRequests, String> {
    let string = |key: &str| match settings.get(key) {
        None => Ok(None),
        Some(serde_json::Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(format!("`settings.{key}` must be a string")),
    };
    if let Some(key) = settings
        .keys()
        .find(|key| !PRESET_SETTINGS.contains(&key.as_str()))
    {
        return Err(format!(
            "unknown setting `settings.{key}` (known: {})",
            PRESET_SETTINGS.join(", ")
        ));
    }
    let preset = string("preset")?.ok_or("`settings.preset` is required when settings are given")?;
    if !PRESETS.contains(&preset.as_str()) {
        return Err(format!(
            "unknown preset `{preset}` (known: {})",
            PRESETS.join(", ")
        ));
    }
    let url = string("url")?
        .filter(|url| !url.trim().is_empty())
        .ok_or_else(|| format!("`settings.url` is required for preset `{preset}`"))?;
    let method = match string("method")? {
        None => "POST".to_owned(),
        Some(method) => normalize_method(&method).ok_or_else(|| {
            format!(
                "`settings.method`: unknown method `{method}` (known: {})",
                METHODS.join(", ")
            )
        })?,
    };
    let headers = match settings.get("headers") {
        None => BTreeMap::new(),
        Some(serde_json::Value::Object(map)) => map
            .iter()
            .map(|(name, value)| match value {
                serde_json::Value::String(text) if is_valid_header_name(name) => {
                    Ok((name.clone(), text.clone()))
                }
                serde_json::Value::String(_) => Err(format!(
                    "`settings.headers`: invalid header name `{}`",
                    name.escape_debug()
                )),
                _ => Err(format!("`settings.headers.{name}` must be a string")),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => return Err("`settings.headers` must be a map of header name to value".to_owned()),
    };
    Ok(WebhookRequests::AllVariables { url, method, headers })
}
