//! notify-sms: alerts as text messages through Amazon SNS `Publish` to a phone number, one per
//! recipient: the escalation level's active, on-duty operators with a phone number and the
//! attachment's extra numbers.
//!
//! [`SmsNotifier`] builds one message per recipient (step `sms-<number>`, so that a retry after a
//! partial failure never texts the same person twice) from the integration's `settings.text` or
//! the built-in `sms.text` (one or two GSM-7 segments for a typical alert), cut at 1,600 bytes
//! without splitting a character; `Transactional` by default, with an optional sender ID and
//! origination number. Numbers not in E.164 are skipped with a logged reason. Retries, idempotency
//! and the delivery log belong to the runner.

mod config;
mod payload;

use alert_model::{Alert, IntegrationKind};
use aws_sdk_sns::{
    config::http::HttpResponse, error::SdkError, operation::publish::PublishError,
    types::MessageAttributeValue,
};
use definition_store::{Integration, IntegrationCheck, Recipients};
use notify_core::{
    ConfigError, Context, Field, Init, Kind, Notifier, NotifyError, Outgoing, RouteContext, SampleEnv, Sent,
    Templates, Transport,
};
use serde_json::{Value, json};

pub use config::{SmsSettings, SmsTarget, SmsType};
pub use payload::{MAX_SMS_BYTES, SmsMessage};

/// The SMS notifier: an SNS client that makes one attempt per send.
#[derive(Debug)]
pub struct SmsNotifier {
    client: aws_sdk_sns::Client,
}

impl SmsNotifier {
    /// The notifier for the Lambda function: `notify_core::run(SmsNotifier::new)`. SNS is a target
    /// here: its client makes one attempt per send, bounded by the HTTP timeouts.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(SmsNotifier::with_client(aws_sdk_sns::Client::new(
            &init.target_sdk(),
        )))
    }

    /// A notifier sending through `client`.
    pub fn with_client(client: aws_sdk_sns::Client) -> Self {
        SmsNotifier { client }
    }
}

/// The built-in template: `sms.text`.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[("sms.text", include_str!("../templates/sms.text.jinja"))];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Notifier for SmsNotifier {
    const KIND: IntegrationKind = IntegrationKind::Sms;
    // One message per recipient: one refused number does not keep the others from theirs.
    const INDEPENDENT_STEPS: bool = true;
    type Target = SmsTarget;
    type Message = SmsMessage;

    fn target(&self, integration: &Integration) -> Result<SmsTarget, NotifyError> {
        SmsTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &SmsTarget,
    ) -> Result<Vec<Outgoing<SmsMessage>>, NotifyError> {
        payload::build_messages(route, target)
    }

    async fn send(&self, message: &SmsMessage) -> Result<Sent, NotifyError> {
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|error| NotifyError::permanent(format!("sns publish: {error}")))
        };
        let mut publish = self
            .client
            .publish()
            .phone_number(&message.to)
            .message(&message.text)
            .message_attributes("AWS.SNS.SMS.SMSType", attribute(message.sms_type)?);
        if let Some(sender) = &message.sender_id {
            publish = publish.message_attributes("AWS.SNS.SMS.SenderID", attribute(sender)?);
        }
        if let Some(number) = &message.origination_number {
            publish = publish.message_attributes("AWS.MM.SMS.OriginationNumber", attribute(number)?);
        }
        let output = publish.send().await.map_err(|error| classify(&error))?;
        Ok(Sent {
            status: None,
            external_id: output.message_id().map(str::to_owned),
            response: String::new(),
            incident: None,
            ..Sent::default()
        })
    }

    fn describe(&self, message: &SmsMessage) -> Value {
        json!({ "sms": message })
    }
}

impl Kind for SmsNotifier {
    type Settings = SmsSettings;
    const RECIPIENTS: Recipients = Recipients::Phone;
    const TRANSPORT: Transport = Transport::SnsSms;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        SmsNotifier::new(init)
    }

    fn check(settings: &SmsSettings, check: &mut IntegrationCheck<'_>) {
        for (path, problem) in config::problems(settings) {
            check.issue(path, problem);
        }
        if let Some(text) = &settings.text {
            check.template("settings.text", text);
        }
    }

    fn sample(id: &str, _env: &SampleEnv<'_>) -> Integration {
        let settings = json!({
            "text": format!("{{{{@alert.alertGuid}}}} via {id} - {{{{@monitor.name}}}} {{{{@alert.type}}}}"),
        });
        Integration {
            id: id.to_owned(),
            name: format!("Sample text messages {id}"),
            kind: IntegrationKind::Sms,
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

    fn nothing_to_send(_integration: &Integration, _alert: &Alert) -> String {
        "no recipient: the level has no active, on-duty operator with a phone number and no extra phone (add --to +15551234567)"
            .to_owned()
    }

    fn summary(description: &Value) -> String {
        let sms = &description["sms"];
        let text = sms["text"].as_str().unwrap_or_default();
        let shown: String = text.chars().take(60).collect();
        let more = if shown.len() < text.len() { "…" } else { "" };
        format!(
            "text message to {}: \"{shown}{more}\"",
            sms["to"].as_str().unwrap_or_default()
        )
    }

    fn set_templates(integration: &mut Integration, templates: &Templates) {
        integration
            .settings
            .insert("text".to_owned(), Value::String(templates.text.clone()));
    }

    fn fields(_step: &str, message: &SmsMessage) -> Vec<Field> {
        vec![Field::new(
            "settings.text",
            Context::CutText(MAX_SMS_BYTES),
            &message.text,
        )]
    }
}

/// Sorts an SNS `Publish` failure into retryable (throttling, internal errors, 5xx, timeouts,
/// connection errors) and permanent (an invalid number or parameter, an opted-out or unauthorised
/// destination, a disabled account).
pub fn classify(error: &SdkError<PublishError, HttpResponse>) -> NotifyError {
    notify_core::classify_sdk_error("sns publish", error, |service| {
        matches!(service, PublishError::InternalErrorException(_)).then_some(true)
    })
}

#[cfg(test)]
mod tests;
