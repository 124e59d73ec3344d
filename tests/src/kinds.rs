//! Every kind as a user meets it: an integration whose templated fields hold chosen templates,
//! built by the kind's real notifier (`Notifier::build`, no network), and the rendered fields of
//! the messages it builds, each with the context its values were escaped for.
//!
//! [`render_every_field`] holds the one exhaustive `match` on [`IntegrationKind`] the tests use
//! (it starts from [`bench::integration`], the benchmarks' sample integration of each kind):
//! adding a kind does not compile until it says which fields its messages have.

use alert_model::{Alert, IntegrationKind, template::Engine};
use definition_store::{Attachment, EscalationLevel, HttpStep, Integration, MessageDefinition};
use notify_core::{Notifier, RouteContext, Variables};
use serde_json::Value;

use crate::bench;

/// The base every webhook URL of [`render_every_field`] starts with; the URL template follows it.
pub const URL_BASE: &str = "https://hooks.example.com/in/";

/// Where a rendered field's values land, which says how they were escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A JSON document: values are JSON strings, the document parses.
    Json,
    /// The part of a URL after [`URL_BASE`]: values are percent-encoded.
    Url,
    /// A header value: values are kept, a line break is refused.
    Header,
    /// An e-mail subject: one line, line breaks become spaces, cut to the subject limit.
    Subject,
    /// HTML: values are HTML-escaped.
    Html,
    /// Plain text: values are kept as they are.
    Text,
}

/// The templates to write into an integration, one per [`Context`] (a kind uses those its
/// messages have).
#[derive(Debug, Clone, Default)]
pub struct Templates {
    /// A JSON body.
    pub json: String,
    /// A URL path and query, after [`URL_BASE`].
    pub url: String,
    /// A header value.
    pub header: String,
    /// An e-mail subject.
    pub subject: String,
    /// An HTML body.
    pub html: String,
    /// A plain-text body.
    pub text: String,
}

impl Templates {
    /// The same template in every context.
    pub fn everywhere(template: &str) -> Self {
        Templates {
            json: template.to_owned(),
            url: template.to_owned(),
            header: template.to_owned(),
            subject: template.to_owned(),
            html: template.to_owned(),
            text: template.to_owned(),
        }
    }

    /// A plain `x` in every context (a JSON string in JSON).
    pub fn plain() -> Self {
        Templates {
            json: "\"x\"".to_owned(),
            ..Templates::everywhere("x")
        }
    }

    /// These templates with `template` in `context` only.
    pub fn with(mut self, context: Context, template: &str) -> Self {
        let slot = match context {
            Context::Json => &mut self.json,
            Context::Url => &mut self.url,
            Context::Header => &mut self.header,
            Context::Subject => &mut self.subject,
            Context::Html => &mut self.html,
            Context::Text => &mut self.text,
        };
        *slot = template.to_owned();
        self
    }
}

/// One templated field of a built message.
#[derive(Debug, Clone)]
pub struct RenderedField {
    /// The step of the message (`step-1`, `batch-1`, …).
    pub step: String,
    /// The field's path in the integration, as errors name it.
    pub field: String,
    /// Where its values landed.
    pub context: Context,
    /// The rendered text (for [`Context::Url`], the part after [`URL_BASE`]).
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

/// Builds the messages of an integration of `kind` (id `id`) whose templated fields hold
/// `templates`, for `alert`, with the integration's fixed variables plus `variables`, through
/// the kind's real notifier; returns every templated field as rendered, or the build error.
pub fn render_every_field(
    kind: IntegrationKind,
    id: &str,
    templates: &Templates,
    alert: &Alert,
    variables: &UserVariables,
) -> Result<Vec<RenderedField>, String> {
    let mut integration = bench::integration(kind, id, URL_BASE.trim_end_matches("/in/"));
    let attachment = Attachment {
        integration: id.to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: Default::default(),
        extra_emails: vec!["ops@example.com".to_owned()],
        service_links: Vec::new(),
    };
    let level = EscalationLevel {
        id: 1,
        active: true,
        message: "level one".to_owned(),
        operators: Vec::new(),
        integrations: vec![attachment.clone()],
    };
    let mut resolved = bench::fixed_variables(&integration, &attachment);
    for (name, value) in &variables.plain {
        resolved.insert(name.clone(), value.clone());
    }
    for (name, value) in &variables.secret {
        resolved.insert_secret(name.clone(), value.clone());
    }
    let engine = Engine::new();
    let now = "2026-11-28T16:00:05Z"
        .parse()
        .map_err(|error| format!("time: {error}"))?;
    match kind {
        IntegrationKind::Email => {
            for (key, template) in [
                ("subject", &templates.subject),
                ("html", &templates.html),
                ("text", &templates.text),
            ] {
                integration
                    .settings
                    .insert(key.to_owned(), Value::String(template.clone()));
            }
            let notifier = bench::email_notifier("http://127.0.0.1:9");
            let messages = build(
                &notifier,
                &integration,
                &attachment,
                &level,
                alert,
                &resolved,
                &engine,
                now,
            )?;
            Ok(messages
                .into_iter()
                .flat_map(|(step, message)| {
                    [
                        ("settings.subject", Context::Subject, message.subject),
                        ("settings.html", Context::Html, message.html),
                        ("settings.text", Context::Text, message.text),
                    ]
                    .map(|(field, context, text)| RenderedField {
                        step: step.clone(),
                        field: field.to_owned(),
                        context,
                        text,
                    })
                })
                .collect())
        }
        IntegrationKind::Webhook => {
            let step = |name: &str, url: String, content_type: &str, body: &str| HttpStep {
                name: Some(name.to_owned()),
                method: "POST".to_owned(),
                url,
                headers: [
                    ("Content-Type".to_owned(), content_type.to_owned()),
                    ("X-Value".to_owned(), templates.header.clone()),
                ]
                .into(),
                body: Some(body.to_owned()),
                auth: None,
            };
            integration.messages = vec![MessageDefinition {
                types: alert_model::AlertType::ALL.to_vec(),
                steps: vec![
                    step(
                        "json",
                        format!("{{{{BaseUrl}}}}/in/{}", templates.url),
                        "application/json",
                        &templates.json,
                    ),
                    step(
                        "text",
                        "{{BaseUrl}}/in/text".to_owned(),
                        "text/plain",
                        &templates.text,
                    ),
                ],
            }];
            let notifier = bench::webhook_notifier()?;
            let messages = build(
                &notifier,
                &integration,
                &attachment,
                &level,
                alert,
                &resolved,
                &engine,
                now,
            )?;
            let mut fields = Vec::new();
            for (index, (step, request)) in messages.into_iter().enumerate() {
                let path = format!("messages[0].steps[{index}]");
                let url = request
                    .url
                    .strip_prefix(URL_BASE)
                    .ok_or_else(|| format!("{path}.url does not start with {URL_BASE}"))?
                    .to_owned();
                let header = request.headers.get("X-Value").cloned().unwrap_or_default();
                let (body_context, url_context) = if index == 0 {
                    (Context::Json, Some(Context::Url))
                } else {
                    (Context::Text, None)
                };
                if let Some(context) = url_context {
                    fields.push(RenderedField {
                        step: step.clone(),
                        field: format!("{path}.url"),
                        context,
                        text: url,
                    });
                }
                fields.push(RenderedField {
                    step: step.clone(),
                    field: format!("{path}.headers.X-Value"),
                    context: Context::Header,
                    text: header,
                });
                fields.push(RenderedField {
                    step,
                    field: format!("{path}.body"),
                    context: body_context,
                    text: request.body,
                });
            }
            Ok(fields)
        }
    }
}

/// Parses the integration's settings and builds its messages, as the runner does.
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
    let route = RouteContext {
        alert,
        integration,
        attachment,
        level,
        recipients: Vec::new(),
        variables,
        now,
        engine,
    };
    let messages = notifier
        .build(&route, &target)
        .map_err(|error| error.to_string())?;
    Ok(messages
        .into_iter()
        .map(|outgoing| (outgoing.step, outgoing.message))
        .collect())
}
