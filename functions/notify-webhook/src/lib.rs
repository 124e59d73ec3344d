//! notify-webhook: custom integrations, i.e. any HTTP API, with requests written as templates.
//!
//! [`WebhookNotifier`] sends either the integration's own steps for the alert's type (URL values
//! percent-encoded, header values refused on CR/LF, JSON bodies JSON-escaped and checked), or the
//! preset `all-variables`: the native envelope v1 as a JSON body, so one Tocsin can feed another.
//! Every request carries the Standard Webhooks headers `webhook-id` (stable across retries, so
//! receivers can drop duplicates) and `webhook-timestamp`, and `webhook-signature` when the
//! integration has `settings.signingSecret`.
//! Every request goes through the shared [`HttpClient`] (timeouts, SSRF guard, classification).

mod config;
mod message;
mod payload;
pub mod presets;
mod send;

use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, IntegrationKind};
use base64::Engine as _;
use definition_store::{
    HttpAuth, HttpStep, Integration, IntegrationCheck, MessageDefinition, Recipients, SecretRef, VariableDef,
};
use notify_core::{
    ConfigError, Context, Field, HttpClient, Init, Kind, Notifier, NotifyError, Outgoing, PresetInfo,
    RouteContext, SampleEnv, Sent, Templates, Transport,
};
use serde_json::{Value, json};

pub use config::{METHODS, StepOverride, WebhookRequests, WebhookSettings, WebhookTarget};
pub use message::{OAuthClient, WebhookMessage};
pub use payload::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, sign};
pub use send::{TOKEN_DEFAULT_LIFETIME, TOKEN_MARGIN};

/// The webhook notifier: the shared HTTP client and the OAuth 2 tokens of its integrations.
#[derive(Debug)]
pub struct WebhookNotifier {
    http: HttpClient,
    tokens: send::TokenCache,
}

impl WebhookNotifier {
    /// The notifier for the Lambda function: `notify_core::run(WebhookNotifier::new)`.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(WebhookNotifier::with_client(init.http.clone()))
    }

    /// A notifier sending through `http`.
    pub fn with_client(http: HttpClient) -> Self {
        WebhookNotifier {
            http,
            tokens: send::TokenCache::default(),
        }
    }
}

impl Notifier for WebhookNotifier {
    const KIND: IntegrationKind = IntegrationKind::Webhook;
    type Target = WebhookTarget;
    type Message = WebhookMessage;

    fn target(&self, integration: &Integration) -> Result<WebhookTarget, NotifyError> {
        WebhookTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &WebhookTarget,
    ) -> Result<Vec<Outgoing<WebhookMessage>>, NotifyError> {
        payload::build_requests(route, target)
    }

    async fn send(&self, message: &WebhookMessage) -> Result<Sent, NotifyError> {
        send::send(&self.http, &self.tokens, message).await
    }

    /// `{"request": …}` (an OAuth 2 token shown as `Bearer [oauth2 token]`), with `extract` (the
    /// names the step extracts), `optional` and `waitsFor` (values of earlier steps it uses that
    /// are not known yet) when there are.
    fn describe(&self, message: &WebhookMessage) -> serde_json::Value {
        let mut request = message.request.clone();
        if message.oauth.is_some() {
            request
                .headers
                .insert("Authorization".to_owned(), "Bearer [oauth2 token]".to_owned());
        }
        let mut description = json!({ "request": request });
        if !message.extract.is_empty() {
            let names: Vec<&str> = message.extract.iter().map(|rule| rule.name.as_str()).collect();
            description["extract"] = json!(names);
        }
        if message.optional {
            description["optional"] = json!(true);
        }
        if !message.pending.is_empty() {
            description["waitsFor"] = json!(message.pending);
        }
        description
    }

    fn is_optional(&self, message: &WebhookMessage) -> bool {
        message.optional
    }
}

/// Where the URLs of [`Kind::set_templates`] put the URL template: after `{{BaseUrl}}/in/`.
const URL_TEMPLATE_BASE: &str = "/in/";

impl Kind for WebhookNotifier {
    type Settings = WebhookSettings;
    const RECIPIENTS: Recipients = Recipients::Nobody;
    const TRANSPORT: Transport = Transport::Http;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = &[];

    fn new(init: &Init) -> Result<Self, ConfigError> {
        WebhookNotifier::new(init)
    }

    fn check(settings: &WebhookSettings, check: &mut IntegrationCheck<'_>) {
        if let Err(problems) = WebhookTarget::from_settings(settings, check.integration()) {
            for (field, problem) in problems {
                check.issue(&field, problem);
            }
        }
        checks::steps(check);
        for (name, function) in &settings.functions {
            if let alert_model::template::FunctionDef::Hmac { key, .. } = function {
                let path = format!(
                    "settings.functions.{}.key",
                    definition_store::escape_controls(name)
                );
                check.template(&path, key);
                checks::hmac_key(check, &path, key);
            }
        }
        if let Some(url) = settings.url.as_deref().filter(|url| !url.trim().is_empty()) {
            check.template("settings.url", url);
        }
        for (name, value) in &settings.headers {
            check.template(&format!("settings.headers.{name}"), value);
        }
        if let Some(secret) = settings
            .signing_secret
            .as_deref()
            .filter(|s| !s.trim().is_empty())
        {
            check.template("settings.signingSecret", secret);
        }
    }

    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        sample_integration(id, env)
    }

    fn nothing_to_send(_integration: &Integration, alert: &Alert) -> String {
        format!(
            "the integration has no message for alert type {} (try --type)",
            alert.alert.alert_type
        )
    }

    fn summary(description: &Value) -> String {
        let request = &description["request"];
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        format!("{} {}", text(&request["method"]), text(&request["url"]))
    }

    /// One step to `{{BaseUrl}}/in/<url template>` with the JSON body, a header `X-Value` and Basic
    /// credentials whose password is the text template (it is rendered as text, then base64).
    fn set_templates(integration: &mut Integration, templates: &Templates) {
        let step = HttpStep {
            name: Some("templated".to_owned()),
            headers: [
                ("Content-Type".to_owned(), "application/json".to_owned()),
                ("X-Value".to_owned(), templates.header.clone()),
            ]
            .into(),
            body: Some(templates.json.clone()),
            auth: Some(HttpAuth::Basic {
                username: "ops".to_owned(),
                password: templates.text.clone(),
            }),
            ..HttpStep::new(
                "POST",
                &format!("{{{{BaseUrl}}}}{URL_TEMPLATE_BASE}{}", templates.url),
            )
        };
        integration.settings.clear();
        integration.messages = vec![MessageDefinition {
            types: AlertType::ALL.to_vec(),
            steps: vec![step],
        }];
    }

    fn presets() -> Vec<PresetInfo> {
        presets::summaries()
            .into_iter()
            .map(|summary| PresetInfo {
                name: summary.name,
                title: summary.title,
                required: summary.required,
                optional: summary.optional,
            })
            .collect()
    }

    fn fields(_step: &str, message: &WebhookMessage) -> Vec<Field> {
        let request = &message.request;
        let path = "messages[0].steps[0]";
        let url = request
            .url
            .split_once(URL_TEMPLATE_BASE)
            .map_or(request.url.as_str(), |(_, rest)| rest);
        let header = request.headers.get("X-Value").cloned().unwrap_or_default();
        let password = request
            .headers
            .get("Authorization")
            .and_then(|value| value.strip_prefix("Basic "))
            .and_then(|encoded| base64::engine::general_purpose::STANDARD.decode(encoded).ok())
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
            .and_then(|credentials| {
                credentials
                    .split_once(':')
                    .map(|(_, password)| password.to_owned())
            })
            .unwrap_or_default();
        vec![
            Field::new(format!("{path}.url"), Context::Url, url),
            Field::new(format!("{path}.headers.X-Value"), Context::Header, header),
            Field::new(format!("{path}.body"), Context::Json, &request.body),
            Field::new(format!("{path}.auth.password"), Context::Text, password),
        ]
    }
}

/// A webhook to `env.base_url`/hooks/`id`: the signed `all-variables` preset when `env` has a
/// secret and its variant is even, else a custom JSON step naming the alert.
fn sample_integration(id: &str, env: &SampleEnv<'_>) -> Integration {
    let url = format!("{{{{BaseUrl}}}}/hooks/{id}");
    let mut variables = BTreeMap::from([("BaseUrl".to_owned(), VariableDef::Fixed(env.base_url.to_owned()))]);
    let (settings, messages) = match env.secret {
        Some(secret) if env.variant.is_multiple_of(2) => {
            variables.insert(
                "SigningSecret".to_owned(),
                VariableDef::Secret {
                    secret: SecretRef(secret.to_owned()),
                },
            );
            let settings = json!({
                "preset": "all-variables",
                "url": url,
                "signingSecret": "{{SigningSecret}}",
            });
            (settings, Vec::new())
        }
        _ => {
            let step = HttpStep {
                name: Some("notify".to_owned()),
                headers: BTreeMap::from([("Content-Type".to_owned(), "application/json".to_owned())]),
                body: Some(
                    r#"{"alert": "{{@alert.alertGuid}}", "type": "{{@alert.type}}", "monitor": "{{@monitor.name}}", "description": "{{@alert.description}}"}"#
                        .to_owned(),
                ),
                ..HttpStep::new("POST", &url)
            };
            let messages = vec![MessageDefinition {
                types: AlertType::ALL.to_vec(),
                steps: vec![step],
            }];
            (json!({}), messages)
        }
    };
    Integration {
        id: id.to_owned(),
        name: format!("Sample webhook {id}"),
        kind: IntegrationKind::Webhook,
        active: true,
        variables,
        messages,
        settings: match settings {
            Value::Object(map) => map,
            _ => Default::default(),
        },
        fallback: None,
    }
}

mod checks;

#[cfg(test)]
mod flows;
#[cfg(test)]
mod preset_tests;
#[cfg(test)]
mod tests;
