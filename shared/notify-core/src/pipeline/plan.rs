//! What would be sent, without sending (`tocsin render`, `tocsin test`'s preview).

use alert_model::{Alert, AlertType, IntegrationKind, template::Engine};
use chrono::{DateTime, Utc};
use definition_store::Catalog;
use serde::Serialize;

use super::route::{Preparation, Prepared, prepare};
use crate::{Notifier, secret::Secrets};

/// One message `tocsin render` would send.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedMessage {
    /// Integration id.
    pub integration: String,
    /// Its kind.
    pub kind: IntegrationKind,
    /// The alert type rendered.
    pub alert_type: AlertType,
    /// The step name.
    pub step: String,
    /// [`Notifier::describe`] of the message (secrets shown as placeholders or redacted).
    pub description: serde_json::Value,
}

/// A route `tocsin render` could not plan.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("integration `{integration}`: {reason}")]
pub struct PlanError {
    /// Integration id.
    pub integration: String,
    /// Why, redacted.
    pub reason: String,
}

/// Plans what would be sent for `alert` (with its type replaced by `alert_type`, if given) without
/// sending: the routes of `N::KIND`, their variables (secrets from `secrets`, e.g.
/// [`PlaceholderSecrets`](crate::PlaceholderSecrets)) and their described messages, shown as
/// `tocsin render` shows them (secret variables as placeholders) whatever `secrets` resolves.
pub async fn plan<N: Notifier, S: Secrets>(
    notifier: &N,
    catalog: &Catalog,
    alert: &Alert,
    alert_type: Option<AlertType>,
    secrets: &S,
    engine: &Engine,
    now: DateTime<Utc>,
) -> Vec<Result<PlannedMessage, PlanError>> {
    let mut alert = alert.clone();
    if let Some(alert_type) = alert_type {
        alert.alert.alert_type = alert_type;
    }
    let mut planned = Vec::new();
    for route in catalog.routes(&alert, N::KIND) {
        let integration = route.integration.id.clone();
        let input = Preparation {
            alert: &alert,
            secrets,
            engine,
            now,
            // What a first message of the incident would be: no state is read.
            incident: None,
        };
        match prepare(notifier, &route, &input).await {
            Ok(Prepared { messages, shown, .. }) => {
                for (outgoing, description) in messages.into_iter().zip(shown) {
                    planned.push(Ok(PlannedMessage {
                        integration: integration.clone(),
                        kind: N::KIND,
                        alert_type: alert.alert.alert_type,
                        step: outgoing.step,
                        description,
                    }));
                }
            }
            Err((variables, error)) => {
                planned.push(Err(PlanError {
                    integration,
                    reason: variables.redact(&error.to_string()),
                }));
            }
        }
    }
    planned
}
