//! `tocsin test -f DEFS --integration ID [--alert FILE] [--type alert|ok|reminder] [--to EMAIL …]`
//!
//! Sends a test alert to exactly one integration, for real: through the kind's real notifier and
//! the real pipeline, so secrets are resolved through SSM / Secrets Manager with the standard AWS
//! chain, the SSRF guard, timeouts and HTTP client are the production ones, and the runner's
//! retries apply. The delivery log is kept in memory and every test alert gets a fresh alert id and
//! incident key, so a test never collides with real deliveries or real incidents.
//!
//! Routing reaches only the chosen integration because the pipeline runs on a filtered copy of the
//! definitions: that integration, and per test alert one synthetic alert definition (named by the
//! alert, covering its monitor) with one level whose only attachment is the integration. The level
//! takes its operators, per-level values and extra e-mails from the attachment the alert would
//! take in the real definitions, else from the first level in the file that attaches the
//! integration; `--to` adds e-mail recipients (ARCHITECTURE.md, "Decisions").
//!
//! Output is redacted: it comes from the pipeline's delivery log, its preview of the messages and
//! its errors, which redact every secret value in every form before anything leaves the pipeline.

use std::{
    future::Future,
    path::Path,
    pin::Pin,
    time::{Duration, Instant},
};

use alert_model::{Alert, AlertType, NativeEnvelope, template::Engine};
use definition_store::{
    AlertDefinition, Attachment, Catalog, Definitions, EscalationLevel, Integration, MemoryStore, Recipients,
};
use notify_core::{
    DeliveryLog, DeliveryRecord, DeliveryState, DeliveryStatus, Init, Kind, LogTimes, MemoryDeliveryLog,
    Notifier, Pipeline, PlannedMessage, SecretResolver, Settings, plan,
};
use serde_json::{Value, json};

use crate::{
    CliError, aws,
    commands::{local, read, render::alerts_in, validate},
};

/// The alert sent when no `--alert` is given.
const SAMPLE_ALERT: &str = include_str!("../../../examples/alerts/alert.json");

/// What a test alert's text starts with, so that nobody takes it for a real one.
const TEST_MARK: &str = "[TEST]";

/// The time a test send has: the functions' timeout in `infra/template.yaml`.
const INVOCATION_TIME: Duration = Duration::from_secs(60);

/// The command line of `tocsin test`.
pub(crate) struct TestSend<'a> {
    /// The definitions file.
    pub(crate) file: &'a Path,
    /// The integration id.
    pub(crate) integration: &'a str,
    /// An inbound message or SNS event; the sample alert when absent.
    pub(crate) alert: Option<&'a Path>,
    /// Replaces the alert type of every test alert.
    pub(crate) alert_type: Option<AlertType>,
    /// Extra e-mail recipients.
    pub(crate) to: &'a [String],
}

/// One test alert and where its level comes from.
struct TestAlert {
    alert: Alert,
    /// `alert definition `x`, level n (…)`, for the output.
    origin: String,
}

pub(crate) async fn run(request: &TestSend<'_>) -> Result<(), CliError> {
    let catalog = Catalog::new(validate::load_valid(request.file)?);
    let integration = find_integration(catalog.definitions(), request)?;
    check_recipients(integration, request.to)?;
    let alerts = read_alerts(request.alert)?;

    let mut test_alerts = Vec::new();
    let mut filtered = Definitions {
        integrations: vec![Integration {
            // An inactive integration is tested anyway: the user asked for it by name.
            active: true,
            ..integration.clone()
        }],
        operators: catalog.definitions().operators.clone(),
        operator_groups: catalog.definitions().operator_groups.clone(),
        ..Definitions::default()
    };
    for (index, mut alert) in alerts.into_iter().enumerate() {
        if let Some(alert_type) = request.alert_type {
            alert.alert.alert_type = alert_type;
        }
        let (definition, origin) = test_definition(&catalog, integration, &alert, index + 1, request.to)?;
        mark_as_test(&mut alert, &definition.id);
        filtered.alert_definitions.push(definition);
        test_alerts.push(TestAlert { alert, origin });
    }
    if !integration.active {
        println!(
            "note: integration `{}` is inactive in {}; it is tested anyway",
            integration.id,
            request.file.display()
        );
    }

    // The functions' own settings and AWS configuration, as Lambda would give them; the filtered
    // definitions are handed to the pipeline directly, no table is read.
    let config = local::file_config()?;
    let sdk = aws::sdk_config().await;
    let init = local::init(&config, &sdk)?;
    // One resolver for the preview and the pipeline: its cache fetches each secret once.
    let secrets = SecretResolver::new(&sdk, config.cache_ttl);
    let context = SendContext {
        integration,
        definitions: filtered,
        alerts: &test_alerts,
        secrets,
        settings: Settings::from_config(&config),
        times: LogTimes::from_config(&config),
    };
    let tally = kinds::visit(integration.kind, Send { init: &init, context }).await?;
    println!("{} of {} message(s) delivered", tally.delivered, tally.expected);
    if tally.delivered == tally.expected {
        Ok(())
    } else {
        Err(CliError::Undelivered(format!(
            "{} of {} message(s) not delivered to integration `{}`",
            tally.expected - tally.delivered,
            tally.expected,
            integration.id
        )))
    }
}

fn find_integration<'a>(
    definitions: &'a Definitions,
    request: &TestSend<'_>,
) -> Result<&'a Integration, CliError> {
    definitions
        .integrations
        .iter()
        .find(|integration| integration.id == request.integration)
        .ok_or_else(|| {
            let known: Vec<String> = definitions
                .integrations
                .iter()
                .map(|integration| format!("`{}`", integration.id))
                .collect();
            CliError::Input(format!(
                "{}: unknown integration `{}` (known: {})",
                request.file.display(),
                request.integration,
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ))
        })
}

/// `--to` is for kinds that address people: an e-mail address each for kinds that send e-mail, a
/// phone number (E.164) each for kinds that call or text.
fn check_recipients(integration: &Integration, to: &[String]) -> Result<(), CliError> {
    let problem: fn(&str) -> Option<&'static str> = match kinds::recipients(integration.kind) {
        Recipients::Email => definition_store::rules::email_problem,
        Recipients::Phone => definition_store::rules::phone_problem,
        Recipients::Nobody if to.is_empty() => return Ok(()),
        Recipients::Nobody => {
            return Err(CliError::Input(format!(
                "--to: integration `{}` is a {} integration, which addresses no person",
                integration.id, integration.kind
            )));
        }
    };
    for recipient in to {
        if let Some(problem) = problem(recipient) {
            return Err(CliError::Input(format!("--to `{recipient}`: {problem}")));
        }
    }
    Ok(())
}

/// The alerts of `--alert` (every record of an SNS event), or the sample alert.
fn read_alerts(path: Option<&Path>) -> Result<Vec<Alert>, CliError> {
    let Some(path) = path else {
        return alerts_in(SAMPLE_ALERT);
    };
    let named = |reason: String| CliError::Input(format!("{}: {reason}", path.display()));
    let alerts = alerts_in(&read(path)?).map_err(|err| match err {
        CliError::Input(reason) => named(reason),
        other => other,
    })?;
    if alerts.is_empty() {
        return Err(named("the sns event has no record".to_owned()));
    }
    Ok(alerts)
}

/// The synthetic alert definition of test alert number `number`: it covers the alert's monitor and
/// has one level, the alert's, whose only attachment is the integration. Operators, level message,
/// per-level values and extra e-mails come from the attachment the alert would take in the real
/// definitions, else from the first level attaching the integration; `to` is added.
fn test_definition(
    catalog: &Catalog,
    integration: &Integration,
    alert: &Alert,
    number: usize,
    to: &[String],
) -> Result<(AlertDefinition, String), CliError> {
    let routed = catalog
        .routes(alert, integration.kind)
        .into_iter()
        .find(|route| route.integration.id == integration.id)
        .map(|route| {
            (
                route.definition,
                route.level,
                route.attachment,
                "the route this alert takes",
            )
        });
    let attached = || {
        catalog
            .definitions()
            .alert_definitions
            .iter()
            .find_map(|definition| {
                definition.levels.iter().find_map(|level| {
                    level
                        .integrations
                        .iter()
                        .find(|attachment| attachment.integration == integration.id)
                        .map(|attachment| (definition, level, attachment, "the first level attaching it"))
                })
            })
    };
    let (name, message, operators, attachment, mut origin) = match routed.or_else(attached) {
        Some((definition, level, attachment, why)) => (
            definition.name.clone(),
            level.message.clone(),
            level.operators.clone(),
            attachment.clone(),
            format!(
                "recipients and per-level values of alert definition `{}`, level {} ({why})",
                definition.id, level.id
            ),
        ),
        None => {
            // Parsed from the definitions' own format so that every attachment default applies.
            let attachment: Attachment = serde_json::from_value(json!({ "integration": integration.id }))
                .map_err(|err| CliError::Input(format!("integration `{}`: {err}", integration.id)))?;
            (
                String::new(),
                String::new(),
                Vec::new(),
                attachment,
                "no level attaches it: no operators, per-level defaults".to_owned(),
            )
        }
    };
    if !to.is_empty() {
        origin.push_str(&format!("; --to {}", to.join(", ")));
    }
    let mut attachment = Attachment {
        active: true,
        send_ok: true,
        send_reminder: true,
        ..attachment
    };
    match kinds::recipients(integration.kind) {
        Recipients::Phone => attachment.extra_phones.extend(to.iter().cloned()),
        Recipients::Email | Recipients::Nobody => attachment.extra_emails.extend(to.iter().cloned()),
    }
    let monitor = alert.monitor.monitor_guid.trim();
    let definition = AlertDefinition {
        id: format!("tocsin-test-{number}"),
        name: if name.is_empty() {
            format!("{TEST_MARK} tocsin test")
        } else {
            format!("{TEST_MARK} {name}")
        },
        active: true,
        monitors: vec![if monitor.is_empty() {
            "*".to_owned()
        } else {
            format!("id:{monitor}")
        }],
        levels: vec![EscalationLevel {
            id: alert.escalation_level.id,
            active: true,
            message,
            operators,
            integrations: vec![attachment],
        }],
    };
    Ok((definition, origin))
}

/// Makes `alert` a test alert: a fresh id and incident key (no collision with real deliveries, no
/// real incident opened or resolved by it), `[TEST]` before the monitor name and the description,
/// a `tocsinTest` custom field, and routed through `definition` only.
fn mark_as_test(alert: &mut Alert, definition: &str) {
    let id = uuid::Uuid::new_v4().to_string();
    alert.alert.alert_guid = id.clone();
    alert.incident.key = format!("tocsin-test-{id}");
    alert.alert_definition.guid = definition.to_owned();
    alert.monitor.name = marked(&alert.monitor.name, "unnamed monitor");
    alert.alert.description = marked(&alert.alert.description, "a test alert sent by `tocsin test`");
    alert
        .monitor
        .custom_fields
        .insert("tocsinTest".to_owned(), "true".to_owned());
}

fn marked(text: &str, fallback: &str) -> String {
    if text.trim().is_empty() {
        format!("{TEST_MARK} {fallback}")
    } else {
        format!("{TEST_MARK} {text}")
    }
}

/// Everything a send needs besides the notifier.
struct SendContext<'a> {
    integration: &'a Integration,
    definitions: Definitions,
    alerts: &'a [TestAlert],
    secrets: SecretResolver,
    settings: Settings,
    times: LogTimes,
}

/// Messages expected and delivered.
#[derive(Debug, Default)]
struct Tally {
    expected: usize,
    delivered: usize,
}

/// [`send`] with the notifier of the integration's kind, built by the kind's own constructor.
struct Send<'a> {
    init: &'a Init,
    context: SendContext<'a>,
}

impl<'a> kinds::Visitor for Send<'a> {
    type Output = Pin<Box<dyn Future<Output = Result<Tally, CliError>> + 'a>>;

    fn visit<K: Kind>(self) -> Self::Output {
        Box::pin(async move {
            let notifier = K::new(self.init).map_err(|err| local::constructed(&err))?;
            send(notifier, self.context).await
        })
    }
}

/// Previews the messages of every test alert with the real secrets (which also reports a template,
/// setting or secret failure with its reason, redacted), then sends them through the pipeline and
/// prints each message's outcome and every attempt from the delivery log.
async fn send<N: Notifier>(notifier: N, context: SendContext<'_>) -> Result<Tally, CliError> {
    let catalog = Catalog::new(context.definitions.clone());
    let engine = Engine::new();
    let mut planned: Vec<Vec<PlannedMessage>> = Vec::new();
    let mut tally = Tally::default();
    for test in context.alerts {
        let mut messages = Vec::new();
        let mut problems = Vec::new();
        let preview = plan(
            &notifier,
            &catalog,
            &test.alert,
            None,
            &context.secrets,
            &engine,
            chrono::Utc::now(),
        )
        .await;
        for entry in preview {
            match entry {
                Ok(message) => messages.push(message),
                Err(problem) => problems.push(problem.reason),
            }
        }
        if messages.is_empty() && problems.is_empty() {
            return Err(CliError::Input(nothing_to_send(context.integration, &test.alert)));
        }
        println!(
            "test alert {} ({}) → integration `{}` ({})",
            test.alert.alert.alert_guid,
            test.alert.alert.alert_type,
            context.integration.id,
            N::KIND
        );
        println!("  {}", test.origin);
        // A message that cannot be built counts as one message not delivered.
        tally.expected += messages.len().max(1);
        for problem in &problems {
            println!("  not sent: {problem}");
        }
        if !problems.is_empty() {
            messages.clear();
        }
        planned.push(messages);
    }

    let records: Vec<Value> = context
        .alerts
        .iter()
        .zip(&planned)
        .filter(|(_, messages)| !messages.is_empty())
        .map(|(test, _)| sns_record(&test.alert))
        .collect::<Result<_, _>>()?;
    if records.is_empty() {
        return Ok(tally);
    }
    let pipeline = Pipeline::new(
        notifier,
        MemoryStore::new(context.definitions),
        context.secrets,
        MemoryDeliveryLog::new(context.times),
        context.settings,
    );
    let outcome = pipeline
        .handle_event(&json!({ "Records": records }), Instant::now() + INVOCATION_TIME)
        .await;
    for (test, messages) in context.alerts.iter().zip(&planned) {
        if messages.is_empty() {
            continue;
        }
        let log = pipeline.deliveries();
        let alert_id = test.alert.alert.alert_guid.as_str();
        let states = log
            .states(alert_id)
            .await
            .map_err(|err| CliError::Aws(err.to_string()))?;
        let history = log
            .history(alert_id)
            .await
            .map_err(|err| CliError::Aws(err.to_string()))?;
        println!("alert {alert_id}:");
        for message in messages {
            let state = states
                .iter()
                .find(|state| step_of(&state.key.step) == message.step);
            print_message(message, state, &history);
            if state.is_some_and(|state| state.status == DeliveryStatus::Delivered) {
                tally.delivered += 1;
            }
        }
    }
    if let Err(err) = outcome {
        println!("a function would leave this to a Lambda retry: {err}");
    }
    Ok(tally)
}

/// Why a test alert produced no message, for the user to fix the command line.
fn nothing_to_send(integration: &Integration, alert: &Alert) -> String {
    format!(
        "integration `{}`: nothing to send for the test alert: {}",
        integration.id,
        kinds::nothing_to_send(integration, alert)
    )
}

/// The step of a delivery key, without its `<alert definition>/` scope.
fn step_of(scoped: &str) -> &str {
    scoped.split_once('/').map_or(scoped, |(_, step)| step)
}

/// One record of the event the pipeline handles: the test alert as the topic carries it (native
/// envelope v1), under a fresh SNS message id.
fn sns_record(alert: &Alert) -> Result<Value, CliError> {
    let message = serde_json::to_string(&NativeEnvelope::new(alert.clone()))
        .map_err(|err| CliError::Input(format!("the test alert cannot be serialised: {err}")))?;
    Ok(json!({
        "EventSource": "aws:sns",
        "EventVersion": "1.0",
        "EventSubscriptionArn": "tocsin-test",
        "Sns": {
            "Type": "Notification",
            "MessageId": uuid::Uuid::new_v4().to_string(),
            "TopicArn": "tocsin-test",
            "Subject": null,
            "Message": message,
            "Timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }
    }))
}

/// `step X: what it is`, every attempt with its request (as `tocsin render` shows it, built again
/// with the values earlier steps extracted) and the target's response, and the final state.
fn print_message(message: &PlannedMessage, state: Option<&DeliveryState>, history: &[DeliveryRecord]) {
    println!("  step {}: {}", message.step, summary(message));
    let attempts = history
        .iter()
        .filter(|record| step_of(&record.key.step) == message.step);
    let mut shown_request: Option<&str> = None;
    for record in attempts {
        if shown_request != Some(record.request.as_str()) {
            println!("    request: {}", record.request);
            shown_request = Some(record.request.as_str());
        }
        let outcome = serde_json::to_value(record.outcome)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default();
        let http = record
            .http_status
            .map(|status| format!(", http {status}"))
            .unwrap_or_default();
        let error = record
            .error
            .as_deref()
            .map(|error| format!(": {error}"))
            .unwrap_or_default();
        println!(
            "    attempt {}: {outcome}{http}, {} ms{error}",
            record.attempt, record.latency_ms
        );
        if !record.response.is_empty() {
            println!(
                "      response: {}",
                definition_store::escape_controls(&record.response)
            );
        }
    }
    let result = match state {
        None => "not sent (an earlier step failed)".to_owned(),
        Some(state) => match state.status {
            DeliveryStatus::Delivered => {
                let mut text = match &state.external_id {
                    Some(id) => format!("delivered (external id {id})"),
                    None => "delivered".to_owned(),
                };
                if !state.kept.is_empty() {
                    let mut values: Vec<String> = state
                        .kept
                        .extracted
                        .iter()
                        .map(|(name, value)| format!("{name}={value}"))
                        .collect();
                    values.extend(state.kept.withheld.iter().map(|name| format!("{name}=[secret]")));
                    text.push_str(&format!("; extracted {}", values.join(", ")));
                }
                text
            }
            DeliveryStatus::Failed => "failed permanently".to_owned(),
            DeliveryStatus::Released => "not delivered, retryable (a function would retry later)".to_owned(),
            DeliveryStatus::Claimed => "not delivered (the attempt did not finish)".to_owned(),
        },
    };
    println!("    → {result}");
}

/// What a planned message is, in one line ([`Kind::summary`]).
fn summary(message: &PlannedMessage) -> String {
    kinds::summary(message.kind, &message.description)
}
