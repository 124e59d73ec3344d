//! The Slack kind's tests: messages and settings (pure, snapshot-tested), and sending to a local
//! Slack that checks requests as Slack documents them ([`fake_slack`]).

mod fake_slack;
mod messages;
mod sending;

use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, IntegrationKind, template::Engine};
use definition_store::{Attachment, EscalationLevel, Integration, SecretRef, VariableDef};
use notify_core::{Config, HttpClient, Notifier, NotifyError, Outgoing, RouteContext, Variables};
use serde_json::{Value, json};

use crate::{SlackMessage, SlackNotifier};

/// The bot token and webhook URL of the tests, as their secret variables resolve.
pub(crate) const TOKEN: &str = fake_slack::BOT_TOKEN;

/// The sample alert, with links whose query holds a `&`.
pub(crate) fn alert(alert_type: AlertType) -> Alert {
    let mut alert = test_support::fixtures::sample_alert(alert_type);
    alert.monitor.dashboard_url = "https://app.example.com/dashboard?probe=849b&range=24h".to_owned();
    alert.alert.first_error_check_url = "https://app.example.com/checks/30099055746".to_owned();
    alert
}

/// The same alert as another message of the same incident: `alert_type`, with its own guid.
pub(crate) fn alert_of_incident(alert_type: AlertType, guid: &str) -> Alert {
    let mut alert = alert(alert_type);
    alert.alert.alert_guid = guid.to_owned();
    alert
}

pub(crate) fn integration(settings: Value, variables: &[(&str, VariableDef)]) -> Integration {
    let Value::Object(settings) = settings else {
        panic!("settings must be an object")
    };
    Integration {
        id: "ops-slack".to_owned(),
        name: "Ops Slack".to_owned(),
        kind: IntegrationKind::Slack,
        active: true,
        variables: variables
            .iter()
            .map(|(name, variable)| ((*name).to_owned(), variable.clone()))
            .collect(),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

pub(crate) fn secret(reference: &str) -> VariableDef {
    VariableDef::Secret {
        secret: SecretRef(reference.to_owned()),
    }
}

/// An incoming webhook whose URL is a secret variable.
pub(crate) fn webhook_integration() -> Integration {
    integration(
        json!({"webhookUrl": "{{WebhookUrl}}"}),
        &[("WebhookUrl", secret("ssm:/tocsin/slack/webhook"))],
    )
}

/// A bot posting to `#ops` through the Web API at `{{ApiUrl}}`.
pub(crate) fn bot_integration() -> Integration {
    integration(
        json!({"botToken": "{{BotToken}}", "channel": "#ops", "apiUrl": "{{ApiUrl}}"}),
        &[
            ("BotToken", secret("ssm:/tocsin/slack/bot-token")),
            (
                "ApiUrl",
                VariableDef::Fixed("https://slack.example.com/api".to_owned()),
            ),
        ],
    )
}

/// The variables as the runner resolves them for the integrations above, against `base`.
pub(crate) fn variables(webhook_url: &str, api_url: &str) -> Variables {
    let mut variables = Variables::default();
    variables.insert_secret("WebhookUrl", webhook_url);
    variables.insert_secret("BotToken", TOKEN);
    variables.insert("ApiUrl", api_url);
    variables
}

pub(crate) fn level() -> EscalationLevel {
    EscalationLevel {
        id: 1,
        active: true,
        message: "Call the DNS team".to_owned(),
        operators: Vec::new(),
        integrations: vec![attachment()],
    }
}

pub(crate) fn attachment() -> Attachment {
    Attachment {
        integration: "ops-slack".to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::new(),
        extra_emails: Vec::new(),
        extra_phones: Vec::new(),
        service_links: Vec::new(),
    }
}

/// The real client, allowed to reach the local Slack over plain http.
pub(crate) fn client() -> HttpClient {
    let config = Config {
        allow_hosts: "127.0.0.1".parse().expect("allow-list"),
        allow_http: true,
        ..Config::default()
    };
    HttpClient::new(&config).expect("http client")
}

pub(crate) fn notifier() -> SlackNotifier {
    SlackNotifier::with_client(client())
}

pub(crate) fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-11-28T16:00:05Z".parse().expect("fixed time")
}

/// Builds the messages of one route as the runner does, with the incident's state `incident`.
pub(crate) fn build(
    alert: &Alert,
    integration: &Integration,
    variables: &Variables,
    incident: Option<&Value>,
) -> Result<Vec<Outgoing<SlackMessage>>, NotifyError> {
    let notifier = notifier();
    let target = notifier.target(integration)?;
    let engine = Engine::new();
    let attachment = attachment();
    let level = level();
    let route = RouteContext {
        alert,
        integration,
        attachment: &attachment,
        level: &level,
        recipients: Vec::new(),
        variables,
        now: now(),
        engine: &engine,
        incident,
    };
    notifier.build(&route, &target)
}

/// The messages as snapshots show them: step, API, URL, headers and the body parsed.
pub(crate) fn shown(messages: &[Outgoing<SlackMessage>]) -> Value {
    Value::Array(
        messages
            .iter()
            .map(|outgoing| {
                let request = &outgoing.message.request;
                json!({
                    "step": outgoing.step,
                    "api": outgoing.message.api,
                    "keep": outgoing.message.keep,
                    "url": request.url,
                    "headers": request.headers,
                    "body": serde_json::from_str::<Value>(&request.body).expect("the body is JSON"),
                })
            })
            .collect(),
    )
}

/// The body of a message as JSON.
pub(crate) fn body(message: &SlackMessage) -> serde_json::Map<String, Value> {
    match serde_json::from_str(&message.request.body) {
        Ok(Value::Object(body)) => body,
        other => panic!("the body is not a JSON object: {other:?}"),
    }
}

/// The state a bot keeps after opening an incident with message `ts` of `alert`.
pub(crate) fn opened(ts: &str, alert: &str) -> Value {
    json!({"channel": fake_slack::OPS_CHANNEL, "ts": ts, "openedBy": alert, "resolvedBy": null})
}

/// The conformance kit: delivery, redelivery, Retry-After, failures, bad settings and redaction,
/// for both samples (the kit's sample is an incoming webhook; `sending.rs` runs the bot's pipeline).
#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<SlackNotifier>().await;
}
