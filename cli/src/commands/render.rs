//! `tocsin render -f DEFS --alert FILE [--integration ID] [--type alert|ok|reminder]`
//!
//! Prints one JSON object per line for every message that would be sent, without sending anything
//! and without reading a secret: secret variables show as `[secret ssm:/…]` placeholders.

use std::{collections::BTreeMap, path::Path};

use std::{future::Future, pin::Pin};

use alert_model::{Alert, AlertType, IntegrationKind, inbound::InboundMessage, template::Engine};
use definition_store::Catalog;
use notify_core::{Init, Kind, PlaceholderSecrets, PlanError, PlannedMessage, plan};

use crate::{
    CliError,
    args::AlertTypeArg,
    commands::{local, read, validate},
};

pub(crate) async fn run(
    file: &Path,
    alert_file: &Path,
    integration: Option<&str>,
    alert_type: Option<AlertTypeArg>,
) -> Result<(), CliError> {
    let catalog = Catalog::new(validate::load_valid(file)?);
    let alerts = alerts_in(&read(alert_file)?)?;
    let init = local::offline().await?;
    let alert_type = alert_type.map(|arg| match arg {
        AlertTypeArg::Alert => AlertType::Alert,
        AlertTypeArg::Ok => AlertType::Ok,
        AlertTypeArg::Reminder => AlertType::Reminder,
    });
    let engine = Engine::new();
    let now = chrono::Utc::now();
    let mut problems = 0;
    for alert in &alerts {
        let mut planned = Vec::new();
        for kind in IntegrationKind::ALL {
            let render = Render {
                init: &init,
                catalog: &catalog,
                alert,
                alert_type,
                engine: &engine,
                now,
            };
            planned.extend(kinds::visit(*kind, render).await?);
        }
        for entry in planned {
            match entry {
                Ok(message) if integration.is_none_or(|id| id == message.integration) => {
                    println!("{}", line(&message));
                }
                Ok(_) => {}
                Err(PlanError {
                    integration: id,
                    reason,
                }) => {
                    if integration.is_none_or(|wanted| wanted == id) {
                        problems += 1;
                        eprintln!("integration `{id}`: {reason}");
                    }
                }
            }
        }
    }
    if problems == 0 {
        Ok(())
    } else {
        Err(CliError::Input(format!(
            "{problems} route(s) could not be rendered"
        )))
    }
}

/// The messages one kind would send for an alert, secrets as placeholders.
struct Render<'a> {
    init: &'a Init,
    catalog: &'a Catalog,
    alert: &'a Alert,
    alert_type: Option<AlertType>,
    engine: &'a Engine,
    now: chrono::DateTime<chrono::Utc>,
}

type Planned = Vec<Result<PlannedMessage, PlanError>>;

impl<'a> kinds::Visitor for Render<'a> {
    type Output = Pin<Box<dyn Future<Output = Result<Planned, CliError>> + 'a>>;

    fn visit<K: Kind>(self) -> Self::Output {
        Box::pin(async move {
            let notifier = K::new(self.init).map_err(|err| local::constructed(&err))?;
            Ok(plan(
                &notifier,
                self.catalog,
                self.alert,
                self.alert_type,
                &PlaceholderSecrets,
                self.engine,
                self.now,
            )
            .await)
        })
    }
}

/// `{"integration","kind","alertType","step","request"|"email"|…}`.
fn line(message: &PlannedMessage) -> String {
    let mut object = serde_json::Map::new();
    object.insert("integration".to_owned(), message.integration.clone().into());
    object.insert("kind".to_owned(), message.kind.as_str().into());
    object.insert("alertType".to_owned(), message.alert_type.as_str().into());
    object.insert("step".to_owned(), message.step.clone().into());
    if let serde_json::Value::Object(description) = &message.description {
        for (key, value) in description {
            object.insert(key.clone(), value.clone());
        }
    }
    serde_json::Value::Object(object).to_string()
}

/// The alerts in a file: an SNS event (every record), or one raw message in any inbound format.
pub(crate) fn alerts_in(text: &str) -> Result<Vec<Alert>, CliError> {
    if let Ok(serde_json::Value::Object(event)) = serde_json::from_str::<serde_json::Value>(text)
        && let Some(records) = event.get("Records").and_then(serde_json::Value::as_array)
    {
        return records
            .iter()
            .enumerate()
            .map(|(index, record)| {
                notify_core::pipeline::alert_from_record(record)
                    .map_err(|reason| CliError::Input(format!("Records[{index}]: {reason}")))
            })
            .collect();
    }
    let attributes = BTreeMap::new();
    let input = InboundMessage {
        message: text,
        subject: None,
        message_id: "tocsin-render",
        timestamp: None,
        attributes: &attributes,
    };
    let normalized = alert_model::inbound::normalize(&input)
        .map_err(|err| CliError::Input(format!("cannot read the alert: {err}")))?;
    Ok(vec![normalized.alert])
}
