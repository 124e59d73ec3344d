//! notify-email: alerts as e-mail through Amazon SES v2, to the escalation level's operators and the
//! attachment's extra addresses.
//!
//! [`EmailNotifier`] builds one message per batch of at most 50 recipients (SES's limit) from the
//! integration's templates or the built-in `email.subject`, `email.html` and `email.text`, and sends
//! each with SES v2 `SendEmail`. Retries, idempotency and the delivery log belong to the runner.

mod config;
mod payload;

use alert_model::{Alert, IntegrationKind};
use aws_sdk_sesv2::{
    config::http::HttpResponse,
    error::SdkError,
    operation::send_email::SendEmailError,
    types::{Body, Content, Destination, EmailContent, Message},
};
use definition_store::{Integration, IntegrationCheck, Recipients, rules};
use notify_core::{
    ConfigError, Context, Field, Init, Kind, Notifier, NotifyError, Outgoing, RouteContext, SampleEnv, Sent,
    Templates, Transport,
};
use serde_json::{Value, json};

pub use config::{EmailSettings, EmailTarget};
pub use payload::{EmailMessage, MAX_RECIPIENTS_PER_MESSAGE, MAX_SUBJECT_CHARS};

/// The e-mail notifier: SES v2 client and default sender.
#[derive(Debug)]
pub struct EmailNotifier {
    client: aws_sdk_sesv2::Client,
    default_from: Option<String>,
}

impl EmailNotifier {
    /// The notifier for the Lambda function: `notify_core::run(EmailNotifier::new)`. Integrations
    /// without `settings.from` send as `TOCSIN_EMAIL_FROM`. SES is a target: its client makes one
    /// attempt per send, bounded by the HTTP timeouts ([`Init::target_sdk`]).
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(EmailNotifier::with_client(
            aws_sdk_sesv2::Client::new(&init.target_sdk()),
            init.config.email_from.clone(),
        ))
    }

    /// A notifier sending through `client`.
    pub fn with_client(client: aws_sdk_sesv2::Client, default_from: Option<String>) -> Self {
        EmailNotifier { client, default_from }
    }
}

impl Notifier for EmailNotifier {
    const KIND: IntegrationKind = IntegrationKind::Email;
    type Target = EmailTarget;
    type Message = EmailMessage;
    // Each batch of recipients is its own e-mail: one refused does not keep the others from theirs.
    const INDEPENDENT_STEPS: bool = true;

    fn target(&self, integration: &Integration) -> Result<EmailTarget, NotifyError> {
        EmailTarget::parse(integration, self.default_from.as_deref())
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &EmailTarget,
    ) -> Result<Vec<Outgoing<EmailMessage>>, NotifyError> {
        payload::build_messages(route, target)
    }

    async fn send(&self, message: &EmailMessage) -> Result<Sent, NotifyError> {
        if message.to.is_empty() {
            return Err(NotifyError::permanent(
                "ses send email: message without recipients",
            ));
        }
        let utf8 = |data: &str| {
            Content::builder()
                .data(data)
                .charset("UTF-8")
                .build()
                .map_err(|error| NotifyError::permanent(format!("ses send email: {error}")))
        };
        let body = Body::builder()
            .text(utf8(&message.text)?)
            .html(utf8(&message.html)?)
            .build();
        let simple = Message::builder()
            .subject(utf8(&message.subject)?)
            .body(body)
            .build();
        let output = self
            .client
            .send_email()
            .from_email_address(&message.from)
            .destination(
                Destination::builder()
                    .set_to_addresses(Some(message.to.clone()))
                    .build(),
            )
            .content(EmailContent::builder().simple(simple).build())
            .send()
            .await
            .map_err(|error| classify(&error))?;
        Ok(Sent {
            status: None,
            external_id: output.message_id().map(str::to_owned),
            response: String::new(),
            incident: None,
            ..Sent::default()
        })
    }

    fn describe(&self, message: &EmailMessage) -> serde_json::Value {
        serde_json::json!({ "email": message })
    }
}

/// The built-in templates: `email.subject`, `email.html`, `email.text`.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    ("email.subject", include_str!("../templates/email.subject.jinja")),
    ("email.html", include_str!("../templates/email.html.jinja")),
    ("email.text", include_str!("../templates/email.text.jinja")),
];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Kind for EmailNotifier {
    type Settings = EmailSettings;
    const RECIPIENTS: Recipients = Recipients::Email;
    const TRANSPORT: Transport = Transport::Ses;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        EmailNotifier::new(init)
    }

    fn check(settings: &EmailSettings, check: &mut IntegrationCheck<'_>) {
        if let Some(from) = &settings.from
            && let Some(problem) = rules::sender_problem(from)
        {
            check.issue("settings.from", format!("\"{from}\": {problem}"));
        }
        for (field, template) in [
            ("settings.subject", &settings.subject),
            ("settings.html", &settings.html),
            ("settings.text", &settings.text),
        ] {
            if let Some(template) = template {
                check.template(field, template);
            }
        }
    }

    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        sample_integration(id, env)
    }

    fn nothing_to_send(_integration: &Integration, _alert: &Alert) -> String {
        "no recipient: the level has no active, on-duty operator with an e-mail address and no extra e-mail (add --to EMAIL)"
            .to_owned()
    }

    fn summary(description: &Value) -> String {
        let email = &description["email"];
        let text = |value: &Value| value.as_str().unwrap_or_default().to_owned();
        let to: Vec<String> = email["to"]
            .as_array()
            .map(|list| list.iter().map(text).collect())
            .unwrap_or_default();
        format!(
            "e-mail from {} to {}, subject \"{}\"",
            text(&email["from"]),
            to.join(", "),
            text(&email["subject"])
        )
    }

    fn set_templates(integration: &mut Integration, templates: &Templates) {
        for (key, context) in [
            ("subject", Context::Subject),
            ("html", Context::Html),
            ("text", Context::Text),
        ] {
            integration
                .settings
                .insert(key.to_owned(), Value::String(templates.get(context).to_owned()));
        }
    }

    fn fields(_step: &str, message: &EmailMessage) -> Vec<Field> {
        vec![
            Field::new("settings.subject", Context::Subject, &message.subject),
            Field::new("settings.html", Context::Html, &message.html),
            Field::new("settings.text", Context::Text, &message.text),
        ]
    }
}

/// An e-mail integration from `env.sender` whose subject names the alert and the integration.
fn sample_integration(id: &str, env: &SampleEnv<'_>) -> Integration {
    let settings = json!({
        "from": env.sender,
        "subject": format!("{{{{@alert.alertGuid}}}} via {id}"),
        "text": "{{@alert.description}}",
        "html": "<p>{{@alert.description}}</p>",
    });
    Integration {
        id: id.to_owned(),
        name: format!("Sample e-mail {id}"),
        kind: IntegrationKind::Email,
        active: true,
        variables: Default::default(),
        messages: Vec::new(),
        settings: match settings {
            Value::Object(map) => map,
            _ => Default::default(),
        },
        fallback: None,
    }
}

/// Sorts an SES `SendEmail` failure into retryable (throttling, quotas that refill, 5xx, timeouts,
/// connection errors) and permanent (rejected message, unverified or suspended sender, bad request).
pub fn classify(error: &SdkError<SendEmailError, HttpResponse>) -> NotifyError {
    notify_core::classify_sdk_error("ses send email", error, |service| match service {
        // Sending-rate limits refill within seconds, so LimitExceeded waits like throttling; a
        // paused or suspended account, an unverified identity or a missing configuration set needs
        // a human.
        SendEmailError::TooManyRequestsException(_) | SendEmailError::LimitExceededException(_) => Some(true),
        SendEmailError::AccountSuspendedException(_)
        | SendEmailError::BadRequestException(_)
        | SendEmailError::MailFromDomainNotVerifiedException(_)
        | SendEmailError::MessageRejected(_)
        | SendEmailError::NotFoundException(_)
        | SendEmailError::SendingPausedException(_) => Some(false),
        _ => None,
    })
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod tests_twin;
