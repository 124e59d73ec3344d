//! Every kind as a user meets it: a sample integration whose templated fields hold chosen
//! templates ([`Kind::set_templates`]), built by the kind's real notifier (`Notifier::build`, no
//! network), and the rendered fields of the messages it builds, each with the context its values
//! were escaped for ([`Kind::fields`]).
//!
//! Kinds come from the registry (`kinds::visit`): a new kind is covered here without a change.

use alert_model::{Alert, IntegrationKind, template::Engine};
use definition_store::{Attachment, EscalationLevel, Integration};
use notify_core::{Kind, Notifier, RouteContext, SampleEnv, Variables};

pub use notify_core::{Context, Field, Templates};

use crate::bench;

/// The base URL of every HTTP sample of [`render_every_field`].
pub const BASE_URL: &str = "https://hooks.example.com";

/// One templated field of a built message, with the step it belongs to.
#[derive(Debug, Clone)]
pub struct RenderedField {
    /// The step of the message (`step-1`, `batch-1`, …).
    pub step: String,
    /// The field's path in the integration, as errors name it.
    pub field: String,
    /// Where its values landed.
    pub context: Context,
    /// The rendered text (for [`Context::Url`], the path and query).
    pub text: String,
}

/// The contexts the messages of `kind` have (found by building a message of plain templates).
pub fn contexts(kind: IntegrationKind) -> Result<Vec<Context>, String> {
    let fields = render_every_field(
        kind,
        "contexts",
        &Templates::plain(),
        &Alert::default(),
        &UserVariables::default(),
    )?;
    let mut contexts: Vec<Context> = Vec::new();
    for field in fields {
        if !contexts.contains(&field.context) {
            contexts.push(field.context);
        }
    }
    Ok(contexts)
}

/// User variables a test adds to an integration's own: plain values and secrets.
#[derive(Debug, Clone, Default)]
pub struct UserVariables {
    /// Name → plain value.
    pub plain: Vec<(String, String)>,
    /// Name → secret value.
    pub secret: Vec<(String, String)>,
}

/// Builds the messages of the sample integration of `kind` (id `id`) whose templated fields hold
/// `templates`, for `alert`, with the integration's fixed variables plus `variables`, through the
/// kind's real notifier; returns every templated field as rendered, or the build error.
pub fn render_every_field(
    kind: IntegrationKind,
    id: &str,
    templates: &Templates,
    alert: &Alert,
    variables: &UserVariables,
) -> Result<Vec<RenderedField>, String> {
    kinds::visit(
        kind,
        RenderEvery {
            id,
            templates,
            alert,
            variables,
        },
    )
}

struct RenderEvery<'a> {
    id: &'a str,
    templates: &'a Templates,
    alert: &'a Alert,
    variables: &'a UserVariables,
}

impl kinds::Visitor for RenderEvery<'_> {
    type Output = Result<Vec<RenderedField>, String>;

    fn visit<K: Kind>(self) -> Self::Output {
        let env = SampleEnv {
            base_url: BASE_URL,
            ..SampleEnv::default()
        };
        let mut integration = K::sample(self.id, &env);
        K::set_templates(&mut integration, self.templates);
        let attachment = sample_attachment(self.id);
        let level = sample_level(&attachment);
        let mut resolved = bench::fixed_variables(&integration, &attachment);
        for (name, value) in &self.variables.plain {
            resolved.insert(name.clone(), value.clone());
        }
        for (name, value) in &self.variables.secret {
            resolved.insert_secret(name.clone(), value.clone());
        }
        let notifier = bench::offline_notifier::<K>()?;
        let engine = Engine::new();
        let now = "2026-11-28T16:00:05Z"
            .parse()
            .map_err(|error| format!("time: {error}"))?;
        let built = build(
            &notifier,
            &integration,
            &attachment,
            &level,
            self.alert,
            &resolved,
            &engine,
            now,
        )?;
        Ok(built
            .into_iter()
            .flat_map(|(step, message)| {
                K::fields(&step, &message)
                    .into_iter()
                    .map(move |field| RenderedField {
                        step: step.clone(),
                        field: field.field,
                        context: field.context,
                        text: field.text,
                    })
                    .collect::<Vec<_>>()
            })
            .collect())
    }
}

/// The attachment of the samples: every alert type, one extra e-mail address.
pub fn sample_attachment(integration: &str) -> Attachment {
    Attachment {
        integration: integration.to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: Default::default(),
        extra_emails: vec!["ops@example.com".to_owned()],
        extra_phones: Vec::new(),
        service_links: Vec::new(),
    }
}

/// Level 1 with `attachment` and one on-duty operator with an address of every kind.
pub fn sample_level(attachment: &Attachment) -> EscalationLevel {
    EscalationLevel {
        id: 1,
        active: true,
        message: "level one".to_owned(),
        operators: Vec::new(),
        integrations: vec![attachment.clone()],
    }
}

/// Parses the integration's settings and builds its messages, as the runner does, for one
/// on-duty operator with an e-mail address and a phone number.
#[allow(clippy::too_many_arguments)]
fn build<N: Notifier>(
    notifier: &N,
    integration: &Integration,
    attachment: &Attachment,
    level: &EscalationLevel,
    alert: &Alert,
    variables: &Variables,
    engine: &Engine,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(String, N::Message)>, String> {
    let target = notifier.target(integration).map_err(|error| error.to_string())?;
    let operator = bench::operator("alice");
    let route = RouteContext {
        alert,
        integration,
        attachment,
        level,
        recipients: vec![&operator],
        variables,
        now,
        engine,
        incident: None,
    };
    let messages = notifier
        .build(&route, &target)
        .map_err(|error| error.to_string())?;
    Ok(messages
        .into_iter()
        .map(|outgoing| (outgoing.step, outgoing.message))
        .collect())
}
