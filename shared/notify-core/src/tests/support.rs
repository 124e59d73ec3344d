//! Test-only notifier and definitions builders.

use std::{collections::BTreeMap, time::Duration};

use alert_model::IntegrationKind;
use definition_store::{
    AlertDefinition, Attachment, Definitions, EscalationLevel, Integration, SecretRef, VariableDef,
};
use serde_json::json;

use crate::{
    AllowList, Config, HttpClient, HttpRequest, Notifier, NotifyError, Outgoing, RouteContext, Sent, Settings,
};

/// A webhook-like notifier: `settings.url` (with `{step}` replaced by the step number) and
/// `settings.steps` requests per route; the `Token` variable goes into a header and the query.
pub(crate) struct TestNotifier {
    pub(crate) http: HttpClient,
}

pub(crate) struct TestTarget {
    url: String,
    steps: u64,
}

impl Notifier for TestNotifier {
    const KIND: IntegrationKind = IntegrationKind::Webhook;
    type Target = TestTarget;
    type Message = HttpRequest;

    fn target(&self, integration: &Integration) -> Result<TestTarget, NotifyError> {
        let url = integration
            .settings
            .get("url")
            .and_then(|v| v.as_str())
            .ok_or_else(|| {
                NotifyError::permanent(format!(
                    "integration `{}`: settings.url is missing",
                    integration.id
                ))
            })?;
        let steps = integration
            .settings
            .get("steps")
            .and_then(|v| v.as_u64())
            .unwrap_or(1);
        Ok(TestTarget {
            url: url.to_owned(),
            steps,
        })
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &TestTarget,
    ) -> Result<Vec<Outgoing<HttpRequest>>, NotifyError> {
        let token = route.variables.values().get("Token").cloned();
        Ok((1..=target.steps)
            .map(|step| {
                let mut url = target.url.replace("{step}", &step.to_string());
                let mut headers = BTreeMap::new();
                headers.insert("content-type".to_owned(), "application/json".to_owned());
                if let Some(token) = &token {
                    headers.insert("authorization".to_owned(), format!("Bearer {token}"));
                    url = format!("{url}?token={token}");
                }
                let body = json!({
                    "alertGuid": route.alert.alert.alert_guid,
                    "monitor": route.alert.monitor.name,
                    "definition": route.alert.alert_definition.name,
                    "levelMessage": route.alert.escalation_level.message,
                    "description": route.alert.alert.description,
                    "variables": route.variables.values(),
                    "step": step,
                });
                Outgoing {
                    step: format!("step-{step}"),
                    message: HttpRequest {
                        method: "POST".to_owned(),
                        url,
                        headers,
                        body: body.to_string(),
                    },
                }
            })
            .collect())
    }

    async fn send(&self, message: &HttpRequest) -> Result<Sent, NotifyError> {
        self.http.send(message).await
    }

    fn describe(&self, message: &HttpRequest) -> serde_json::Value {
        json!({ "request": message })
    }
}

/// A client that may reach the local receiver.
pub(crate) fn local_client() -> HttpClient {
    HttpClient::new(&local_config()).unwrap()
}

pub(crate) fn local_config() -> Config {
    Config {
        allow_hosts: "127.0.0.1".parse::<AllowList>().unwrap(),
        allow_http: true,
        http_connect_timeout: Duration::from_millis(1000),
        http_timeout: Duration::from_millis(1500),
        ..Config::default()
    }
}

/// Fast retries for tests.
pub(crate) fn settings(max_attempts: u32) -> Settings {
    Settings {
        max_attempts,
        cache_ttl: Duration::from_secs(60),
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        safety_margin: Duration::ZERO,
        min_attempt_time: Duration::from_millis(10),
        ..Settings::default()
    }
}

/// One webhook integration.
pub(crate) fn integration(id: &str, url: &str) -> Integration {
    let mut settings = serde_json::Map::new();
    settings.insert("url".to_owned(), json!(url));
    Integration {
        id: id.to_owned(),
        name: format!("{id} name"),
        kind: IntegrationKind::Webhook,
        active: true,
        variables: BTreeMap::new(),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

pub(crate) fn with_secret_token(mut integration: Integration, reference: &str) -> Integration {
    integration.variables.insert(
        "Token".to_owned(),
        VariableDef::Secret {
            secret: SecretRef(reference.to_owned()),
        },
    );
    integration
}

pub(crate) fn attachment(integration: &str) -> Attachment {
    Attachment {
        integration: integration.to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::new(),
        extra_emails: Vec::new(),
        extra_phones: Vec::new(),
        service_links: Vec::new(),
    }
}

/// One definition covering every monitor, level 1 attached to every integration.
pub(crate) fn definitions(integrations: Vec<Integration>) -> Definitions {
    let attachments = integrations
        .iter()
        .map(|integration| attachment(&integration.id))
        .collect();
    Definitions {
        integrations,
        alert_definitions: vec![AlertDefinition {
            id: "def-1".to_owned(),
            name: "Everything".to_owned(),
            active: true,
            monitors: vec!["*".to_owned()],
            levels: vec![EscalationLevel {
                id: 1,
                active: true,
                message: "level one".to_owned(),
                operators: Vec::new(),
                integrations: attachments,
            }],
        }],
        ..Definitions::default()
    }
}
