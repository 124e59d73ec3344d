//! One route: its variables, its messages, and how they are shown.

use alert_model::{Alert, template::Engine};
use chrono::{DateTime, Utc};
use definition_store::{Route, VariableDef};

use super::redact::{mask_credentials, redact_json};
use crate::{
    Notifier, NotifyError, Outgoing, RouteContext, Variables,
    secret::{PlaceholderSecrets, Secrets},
};

/// A route ready to send: its variables, its messages, and each message as the delivery log and
/// `tocsin test` show it.
pub(crate) struct Prepared<M> {
    /// The route's variables and the values its steps extracted so far (builds and redaction).
    pub(crate) variables: Variables,
    /// The values the route's steps extracted so far.
    pub(crate) extracted: Variables,
    pub(crate) messages: Vec<Outgoing<M>>,
    /// One per message: its description as `tocsin render` shows it (secret variables as
    /// `[secret …]` placeholders, whatever filters a template applied to them), credentials headers
    /// masked when the real message is shown, every remaining secret form redacted.
    pub(crate) shown: Vec<serde_json::Value>,
}

/// What [`prepare`] needs besides the notifier and the route.
pub(crate) struct Preparation<'a, S> {
    pub(crate) alert: &'a Alert,
    pub(crate) secrets: &'a S,
    pub(crate) engine: &'a Engine,
    pub(crate) now: DateTime<Utc>,
    /// The state kept for the incident at the target, when the kind keeps one.
    pub(crate) incident: Option<&'a serde_json::Value>,
}

/// The alert as the route sees it, its variables, its built messages and how they are shown.
/// The error carries the variables resolved so far, to redact it.
pub(crate) async fn prepare<N: Notifier, S: Secrets>(
    notifier: &N,
    route: &Route<'_>,
    input: &Preparation<'_, S>,
) -> Result<Prepared<N::Message>, (Variables, NotifyError)> {
    let alert = route_alert(input.alert, route);
    let variables = resolve_variables(route, input.secrets).await?;
    let messages =
        build(notifier, route, &alert, &variables, input).map_err(|error| (variables.clone(), error))?;
    let extracted = Variables::default();
    let shown = show(notifier, route, &alert, &variables, &extracted, &messages, input).await;
    Ok(Prepared {
        variables,
        extracted,
        messages,
        shown,
    })
}

/// Builds the route's messages again with `extracted` added to what the steps extracted so far
/// (a step took values from its response for the later steps). The messages keep their steps.
pub(crate) async fn rebuild<N: Notifier, S: Secrets>(
    notifier: &N,
    route: &Route<'_>,
    input: &Preparation<'_, S>,
    prepared: &mut Prepared<N::Message>,
    extracted: &Variables,
) -> Result<(), NotifyError> {
    prepared.extracted.extend(extracted);
    prepared.variables.extend(extracted);
    let alert = route_alert(input.alert, route);
    let messages = build(notifier, route, &alert, &prepared.variables, input)?;
    let same_steps = messages.len() == prepared.messages.len()
        && messages
            .iter()
            .zip(&prepared.messages)
            .all(|(new, old)| new.step == old.step);
    if !same_steps {
        return Err(NotifyError::permanent(format!(
            "integration `{}`: the steps changed when built with the extracted values",
            route.integration.id
        )));
    }
    let shown = show(
        notifier,
        route,
        &alert,
        &prepared.variables,
        &prepared.extracted,
        &messages,
        input,
    )
    .await;
    prepared.messages = messages;
    prepared.shown = shown;
    Ok(())
}

/// The alert with the route's definition and level message filled in.
fn route_alert(alert: &Alert, route: &Route<'_>) -> Alert {
    let mut alert = alert.clone();
    alert.alert_definition.guid = route.definition.id.clone();
    alert.alert_definition.name = route.definition.name.clone();
    alert.escalation_level.message = route.level.message.clone();
    alert
}

/// Parses the settings and builds the messages of the route with `variables`.
fn build<N: Notifier, S>(
    notifier: &N,
    route: &Route<'_>,
    alert: &Alert,
    variables: &Variables,
    input: &Preparation<'_, S>,
) -> Result<Vec<Outgoing<N::Message>>, NotifyError> {
    let target = notifier.target(route.integration)?;
    let context = RouteContext {
        alert,
        integration: route.integration,
        attachment: route.attachment,
        level: route.level,
        recipients: route.recipients.clone(),
        variables,
        now: input.now,
        engine: input.engine,
        incident: input.incident,
    };
    notifier.build(&context, &target)
}

/// Each message as it is shown: built again with placeholders for the secret variables when there
/// are any (a template may have changed a secret beyond what redaction can find: lower-cased,
/// hashed, cut), else the message itself; redacted either way.
async fn show<N: Notifier, S: Secrets>(
    notifier: &N,
    route: &Route<'_>,
    alert: &Alert,
    variables: &Variables,
    extracted: &Variables,
    messages: &[Outgoing<N::Message>],
    input: &Preparation<'_, S>,
) -> Vec<serde_json::Value> {
    let has_secrets = input.secrets.are_secret()
        && (route
            .integration
            .variables
            .values()
            .any(|variable| matches!(variable, VariableDef::Secret { .. }))
            || extracted.has_secrets());
    let placeholders = if has_secrets {
        placeholder_messages(notifier, route, alert, extracted, input).await
    } else {
        None
    };
    messages
        .iter()
        .map(|outgoing| {
            let placeholder = placeholders
                .as_ref()
                .and_then(|built| built.iter().find(|other| other.step == outgoing.step));
            let shown = match placeholder {
                // As `tocsin render` shows it.
                Some(other) => notifier.describe(&other.message),
                // The real message: credentials headers are never kept (Basic credentials are base64
                // of `user:password`, which no search for the password finds).
                None if input.secrets.are_secret() => mask_credentials(notifier.describe(&outgoing.message)),
                None => notifier.describe(&outgoing.message),
            };
            redact_json(variables, shown)
        })
        .collect()
}

/// The route's messages built with `[secret …]` placeholders, when that works (a template that
/// needs the secret's real form, `{{ Token | int }}`, does not build with a placeholder).
async fn placeholder_messages<N: Notifier, S>(
    notifier: &N,
    route: &Route<'_>,
    alert: &Alert,
    extracted: &Variables,
    input: &Preparation<'_, S>,
) -> Option<Vec<Outgoing<N::Message>>> {
    let mut variables = resolve_variables(route, &PlaceholderSecrets).await.ok()?;
    variables.extend(&extracted.with_placeholders());
    let placeholder_input = Preparation {
        alert: input.alert,
        secrets: &PlaceholderSecrets,
        engine: input.engine,
        now: input.now,
        incident: input.incident,
    };
    build(notifier, route, alert, &variables, &placeholder_input).ok()
}

/// Fixed values, per-level values (attachment, else default) and secrets.
pub(crate) async fn resolve_variables<S: Secrets>(
    route: &Route<'_>,
    secrets: &S,
) -> Result<Variables, (Variables, NotifyError)> {
    let mut variables = Variables::default();
    for (name, definition) in &route.integration.variables {
        match definition {
            VariableDef::Fixed(value) => variables.insert(name.clone(), value.clone()),
            VariableDef::PerLevel { default, .. } => {
                match route.attachment.variables.get(name).or(default.as_ref()) {
                    Some(value) => variables.insert(name.clone(), value.clone()),
                    None => {
                        let reason = format!(
                            "variable `{name}` has no value on escalation level {} and no default",
                            route.level.id
                        );
                        return Err((variables, NotifyError::permanent(reason)));
                    }
                }
            }
            VariableDef::Secret { secret } => match secrets.resolve(secret).await {
                Ok(value) if secrets.are_secret() => {
                    variables.insert_secret(name.clone(), value.into_inner())
                }
                Ok(value) => variables.insert(name.clone(), value.into_inner()),
                Err(failure) => return Err((variables, failure)),
            },
        }
    }
    Ok(variables)
}
