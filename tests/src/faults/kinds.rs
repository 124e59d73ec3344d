//! Every kind in the fault suite: its integrations, its function, where its deliveries are counted
//! and how one of its sends is held while the function is killed. The one exhaustive `match` per
//! question makes a new kind a compile error here until the suite covers it.

use std::{collections::BTreeMap, sync::Arc};

use alert_model::IntegrationKind;
use definition_store::{HttpStep, Integration, MessageDefinition, SecretRef, VariableDef};
use notify_core::{Config, Init, build_pipeline, metrics::MetricsSink};
use notify_email::EmailNotifier;
use notify_webhook::WebhookNotifier;
use serde_json::json;
use tokio::sync::oneshot;

use super::{lambda::Function, proxy::Proxy, receiver::Receivers};

/// The sender of every e-mail integration of the suite.
pub const SENDER: &str = "faults@example.com";

/// The id of integration `index` of `kind`: `webhook-3`, `email-3`.
pub fn integration_id(kind: IntegrationKind, index: usize) -> String {
    format!("{}-{index}", kind.as_str())
}

/// Whether integration `index` of `kind` signs its requests (half the webhooks do).
pub fn signs(kind: IntegrationKind, index: usize) -> bool {
    match kind {
        IntegrationKind::Email => false,
        IntegrationKind::Webhook => index.is_multiple_of(2),
    }
}

/// Integration `index` of `kind`, sending to the suite's targets: webhooks to `receivers_url`
/// (`/hooks/<id>`; every other one the all-variables preset, signed with the SSM secret
/// `signing_parameter`, the others a custom JSON step), e-mails through SES with a subject that
/// names the alert and the integration.
pub fn integration(
    kind: IntegrationKind,
    index: usize,
    receivers_url: &str,
    signing_parameter: &str,
) -> Integration {
    let id = integration_id(kind, index);
    let mut integration = Integration {
        id: id.clone(),
        name: format!("Fault suite {id}"),
        kind,
        active: true,
        variables: BTreeMap::new(),
        messages: Vec::new(),
        settings: serde_json::Map::new(),
        fallback: None,
    };
    let url = format!("{{{{BaseUrl}}}}/hooks/{id}");
    match kind {
        IntegrationKind::Email => {
            let settings = json!({
                "from": SENDER,
                "subject": format!("{{{{@alert.alertGuid}}}} via {id}"),
                "text": "{{@alert.description}}",
                "html": "<p>{{@alert.description}}</p>",
            });
            if let serde_json::Value::Object(settings) = settings {
                integration.settings = settings;
            }
        }
        IntegrationKind::Webhook if signs(kind, index) => {
            integration
                .variables
                .insert("BaseUrl".to_owned(), VariableDef::Fixed(receivers_url.to_owned()));
            integration.variables.insert(
                "SigningSecret".to_owned(),
                VariableDef::Secret {
                    secret: SecretRef(format!("ssm:{signing_parameter}")),
                },
            );
            let settings = json!({
                "preset": "all-variables",
                "url": url,
                "signingSecret": "{{SigningSecret}}",
            });
            if let serde_json::Value::Object(settings) = settings {
                integration.settings = settings;
            }
        }
        IntegrationKind::Webhook => {
            integration
                .variables
                .insert("BaseUrl".to_owned(), VariableDef::Fixed(receivers_url.to_owned()));
            integration.messages = vec![MessageDefinition {
                types: alert_model::AlertType::ALL.to_vec(),
                steps: vec![HttpStep {
                    name: Some("notify".to_owned()),
                    method: "POST".to_owned(),
                    url,
                    headers: BTreeMap::from([("Content-Type".to_owned(), "application/json".to_owned())]),
                    body: Some(
                        r#"{"alert": "{{@alert.alertGuid}}", "type": "{{@alert.type}}", "monitor": "{{@monitor.name}}", "description": "{{@alert.description}}"}"#
                            .to_owned(),
                    ),
                    auth: None,
                }],
            }];
        }
    }
    integration
}

/// The function of `kind`, as Lambda runs it: the kind's own constructor (as its `main.rs` calls
/// it through `notify_core::run`) and `build_pipeline`; metric lines go to `metrics`.
pub fn function(
    kind: IntegrationKind,
    init: &Init,
    metrics: MetricsSink,
) -> Result<Arc<dyn Function>, String> {
    let config: &Config = &init.config;
    let namespace = config.metrics_namespace.clone();
    let constructed = |error: notify_core::ConfigError| format!("{kind} notifier: {error}");
    Ok(match kind {
        IntegrationKind::Email => Arc::new(
            build_pipeline(EmailNotifier::new(init).map_err(constructed)?, config, &init.sdk)
                .with_metrics(metrics, namespace),
        ),
        IntegrationKind::Webhook => Arc::new(
            build_pipeline(
                WebhookNotifier::new(init).map_err(constructed)?,
                config,
                &init.sdk,
            )
            .with_metrics(metrics, namespace),
        ),
    })
}

/// Runs the Lambda function of `kind` exactly as `functions/notify-<kind>/src/main.rs` does.
pub async fn serve(kind: IntegrationKind) -> Result<(), lambda_runtime::Error> {
    match kind {
        IntegrationKind::Email => notify_core::run(EmailNotifier::new).await,
        IntegrationKind::Webhook => notify_core::run(WebhookNotifier::new).await,
    }
}

/// The deliveries of `kind` at its targets, by `(alert, integration)`: one entry per distinct
/// delivery (a `webhook-id`, an e-mail SES accepted) with the times the target acted on it.
pub fn deliveries(
    kind: IntegrationKind,
    receivers: &Receivers,
    proxy: &Proxy,
) -> BTreeMap<(String, String), Vec<u64>> {
    let prefix = format!("{}-", kind.as_str());
    match kind {
        IntegrationKind::Email => proxy
            .sent()
            .into_iter()
            .filter(|((_, integration), _)| integration.starts_with(&prefix))
            .map(|(route, sends)| (route, sends.iter().map(|_| 1).collect()))
            .collect(),
        IntegrationKind::Webhook => super::receiver::by_route(&receivers.processed())
            .into_iter()
            .filter(|((_, integration), _)| integration.starts_with(&prefix))
            .collect(),
    }
}

/// Holds the next send of `kind` at its target (never answered); the channel says when it arrived.
pub fn hold_next(kind: IntegrationKind, receivers: &Receivers, proxy: &Proxy) -> oneshot::Receiver<String> {
    match kind {
        IntegrationKind::Email => proxy.hold_next_send(),
        IntegrationKind::Webhook => receivers.hold_next(),
    }
}
