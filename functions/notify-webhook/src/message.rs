//! One built step of a webhook integration: its request and what its sending needs besides (the
//! values to extract from its response, an OAuth 2 token, its timeout, whether it is optional).

use std::time::Duration;

use alert_model::template::functions::{CaptureGroup, extract as regex_extract};
use notify_core::{HttpAnswer, HttpRequest, Variables};
use serde_json_path::JsonPath;

/// One step, ready to send.
#[derive(Debug, Clone)]
pub struct WebhookMessage {
    /// The request, as built (an OAuth 2 token is added when it is sent).
    pub request: HttpRequest,
    /// The step's name, for errors.
    pub step: String,
    /// The integration, for errors and the token cache.
    pub integration: String,
    /// What to take from the response.
    pub extract: Vec<ExtractRule>,
    /// A failure does not stop the message.
    pub optional: bool,
    /// The step's own request timeout.
    pub timeout: Option<Duration>,
    /// OAuth 2 client credentials, when the step authenticates with a token.
    pub oauth: Option<OAuthClient>,
    /// Values from earlier steps that this step uses and that are not known: an earlier optional
    /// step failed, or this step was built before they were extracted. Such a message is never
    /// sent.
    pub pending: Vec<String>,
}

impl PartialEq for WebhookMessage {
    fn eq(&self, other: &Self) -> bool {
        self.request == other.request && self.step == other.step && self.optional == other.optional
    }
}

/// OAuth 2 client credentials, rendered.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OAuthClient {
    /// The token endpoint.
    pub token_url: String,
    /// The client id.
    pub client_id: String,
    /// The client secret (a secret variable's value: redacted by the runner wherever it is shown).
    pub client_secret: String,
    /// Space-separated scopes.
    pub scope: Option<String>,
    /// The audience.
    pub audience: Option<String>,
    /// HTTP Basic (true) or the form body (false).
    pub basic: bool,
}

/// One `extract` rule, compiled.
#[derive(Debug, Clone)]
pub struct ExtractRule {
    /// The variable it sets.
    pub name: String,
    /// Where the value comes from.
    pub source: Source,
    /// A regular expression and its capture.
    pub regex: Option<(regex::Regex, CaptureGroup)>,
    /// The value when there is none.
    pub default: Option<String>,
    /// The value is a secret.
    pub secret: bool,
}

/// Where an extracted value comes from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The first match of a JSON path in the body.
    JsonPath(String, JsonPath),
    /// A response header.
    Header(String),
    /// The status code.
    Status,
    /// The whole body.
    Body,
}

impl Source {
    fn describe(&self) -> String {
        match self {
            Source::JsonPath(text, _) => format!("jsonPath `{text}`"),
            Source::Header(name) => format!("header `{name}`"),
            Source::Status => "the status".to_owned(),
            Source::Body => "the body".to_owned(),
        }
    }

    /// The value in `answer`, if it has one.
    fn value(&self, answer: &HttpAnswer, json: &mut Option<Option<serde_json::Value>>) -> Option<String> {
        match self {
            Source::Status => Some(answer.status.to_string()),
            Source::Body => Some(answer.body.clone()),
            Source::Header(name) => answer.header(name).map(str::to_owned),
            Source::JsonPath(_, path) => {
                let body = json.get_or_insert_with(|| serde_json::from_str(&answer.body).ok());
                let found = path.query(body.as_ref()?).first()?.clone();
                match found {
                    serde_json::Value::Null => None,
                    serde_json::Value::String(text) => Some(text),
                    other => Some(other.to_string()),
                }
            }
        }
    }
}

/// The values `rules` take from `answer`, secret ones marked; the error names the first value
/// that could not be had.
pub(crate) fn extract(rules: &[ExtractRule], answer: &HttpAnswer) -> Result<Variables, String> {
    let mut values = Variables::default();
    let mut json = None;
    for rule in rules {
        let value = rule
            .source
            .value(answer, &mut json)
            .and_then(|value| match &rule.regex {
                None => Some(value),
                Some((regex, group)) => regex_extract(regex, group, &value, None).ok(),
            });
        let value = match (value, &rule.default) {
            (Some(value), _) => value,
            (None, Some(default)) => default.clone(),
            (None, None) => {
                return Err(format!(
                    "the response has no value for `{}` ({}{})",
                    rule.name,
                    rule.source.describe(),
                    if rule.regex.is_some() {
                        " and its regex"
                    } else {
                        ""
                    }
                ));
            }
        };
        if rule.secret {
            values.insert_secret(rule.name.clone(), value);
        } else {
            values.insert(rule.name.clone(), value);
        }
    }
    Ok(values)
}
