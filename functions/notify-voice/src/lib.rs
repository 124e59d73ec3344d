//! notify-voice: alerts as voice calls through AWS End User Messaging SMS and Voice v2
//! `SendVoiceMessage` (Amazon Polly reads an SSML script), one call per recipient: the escalation
//! level's active, on-duty operators with a phone number and the attachment's extra numbers.
//!
//! [`VoiceNotifier`] builds one call per recipient (step `call-<number>`, so that a retry after a
//! partial failure never calls the same person twice) from the integration's `settings.ssml` or the
//! built-in `voice.ssml.<language>`: the monitor's name (its speech-friendly custom field when it
//! has one), the error in words, the minutes since the first error and what to do, values
//! XML-escaped, inside `<speak>`, well-formed and at most 6,000 characters (the text is cut, never
//! the tags). Never for an Ok alert (as in the product: a call says something is wrong); reminders
//! call. Numbers not in E.164 are skipped with a logged reason. Retries, idempotency and the
//! delivery log belong to the runner.

mod config;
mod payload;

use alert_model::{Alert, AlertType, IntegrationKind};
use aws_sdk_pinpointsmsvoicev2::{
    config::http::HttpResponse,
    error::SdkError,
    operation::send_voice_message::SendVoiceMessageError,
    types::{VoiceId, VoiceMessageBodyTextType},
};
use definition_store::{Integration, IntegrationCheck, Recipients};
use notify_core::{
    ConfigError, Context, Field, Init, Kind, Notifier, NotifyError, Outgoing, RouteContext, SampleEnv, Sent,
    Templates, Transport,
    sms_voice::{self, SsmlPart},
};
use serde_json::{Value, json};

pub use config::{DEFAULT_SPOKEN_NAME_FIELD, DEFAULT_TIME_TO_LIVE, Language, VoiceSettings, VoiceTarget};
pub use payload::{MAX_SCRIPT_CHARS, VoiceMessage};

/// The voice notifier: a `pinpoint-sms-voice-v2` client that makes one attempt per send.
#[derive(Debug)]
pub struct VoiceNotifier {
    client: aws_sdk_pinpointsmsvoicev2::Client,
}

impl VoiceNotifier {
    /// The notifier for the Lambda function: `notify_core::run(VoiceNotifier::new)`. Its client
    /// makes one attempt per send, bounded by the HTTP timeouts, at the endpoint configured for the
    /// service when there is one (`AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2`: the emulator lacks this
    /// API), else the SDK's.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        let sdk = init.target_sdk();
        let mut config = aws_sdk_pinpointsmsvoicev2::config::Builder::from(&sdk);
        if let Some(url) = sms_voice::configured_endpoint(&sdk) {
            config = config.endpoint_url(url);
        }
        Ok(VoiceNotifier::with_client(
            aws_sdk_pinpointsmsvoicev2::Client::from_conf(config.build()),
        ))
    }

    /// A notifier sending through `client`.
    pub fn with_client(client: aws_sdk_pinpointsmsvoicev2::Client) -> Self {
        VoiceNotifier { client }
    }
}

/// The built-in scripts, one per language: `voice.ssml.<language>`.
const DEFAULT_TEMPLATES: &[(&str, &str)] = &[
    ("voice.ssml.en", include_str!("../templates/voice.ssml.en.jinja")),
    ("voice.ssml.de", include_str!("../templates/voice.ssml.de.jinja")),
    ("voice.ssml.fr", include_str!("../templates/voice.ssml.fr.jinja")),
    ("voice.ssml.nl", include_str!("../templates/voice.ssml.nl.jinja")),
    ("voice.ssml.es", include_str!("../templates/voice.ssml.es.jinja")),
];

/// The built-in template named `name`.
pub fn default_template(name: &str) -> Option<&'static str> {
    DEFAULT_TEMPLATES
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, text)| *text)
}

impl Notifier for VoiceNotifier {
    const KIND: IntegrationKind = IntegrationKind::Voice;
    // One call per recipient: one refused number does not keep the others from theirs.
    const INDEPENDENT_STEPS: bool = true;
    type Target = VoiceTarget;
    type Message = VoiceMessage;

    fn target(&self, integration: &Integration) -> Result<VoiceTarget, NotifyError> {
        VoiceTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &VoiceTarget,
    ) -> Result<Vec<Outgoing<VoiceMessage>>, NotifyError> {
        payload::build_messages(route, target)
    }

    async fn send(&self, message: &VoiceMessage) -> Result<Sent, NotifyError> {
        let ttl = i32::try_from(message.time_to_live)
            .map_err(|_| NotifyError::permanent("sms-voice send voice message: time to live out of range"))?;
        let output = self
            .client
            .send_voice_message()
            .destination_phone_number(&message.to)
            .origination_identity(&message.origination_identity)
            .message_body(&message.ssml)
            .message_body_text_type(VoiceMessageBodyTextType::Ssml)
            .voice_id(VoiceId::from(message.voice_id.as_str()))
            .time_to_live(ttl)
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

    fn describe(&self, message: &VoiceMessage) -> Value {
        json!({ "voice": message })
    }
}

impl Kind for VoiceNotifier {
    type Settings = VoiceSettings;
    const RECIPIENTS: Recipients = Recipients::Phone;
    const TRANSPORT: Transport = Transport::PinpointVoice;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        VoiceNotifier::new(init)
    }

    fn check(settings: &VoiceSettings, check: &mut IntegrationCheck<'_>) {
        for (path, problem) in config::problems(settings) {
            check.issue(path, problem);
        }
        if let Some(template) = &settings.ssml {
            check.template("settings.ssml", template);
            if let Some(problem) = trial_problem(check.integration(), template) {
                check.issue("settings.ssml", problem);
            }
        }
    }

    fn sample(id: &str, _env: &SampleEnv<'_>) -> Integration {
        let settings = json!({
            "originationIdentity": "+18005550100",
            "ssml": format!(
                "<p>{{{{@alert.alertGuid}}}} via {id}: the monitor {{{{SpokenName}}}} is down.</p>\
                 <p>{{{{SpokenError}}}}</p>"
            ),
        });
        Integration {
            id: id.to_owned(),
            name: format!("Sample voice calls {id}"),
            kind: IntegrationKind::Voice,
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

    fn nothing_to_send(_integration: &Integration, alert: &Alert) -> String {
        if alert.alert.alert_type == AlertType::Ok {
            return "a voice call is never made for an Ok alert (as in the product: a call says something is \
                    wrong); try --type alert or --type reminder"
                .to_owned();
        }
        "no recipient: the level has no active, on-duty operator with a phone number and no extra phone (add --to +15551234567)"
            .to_owned()
    }

    fn summary(description: &Value) -> String {
        let voice = &description["voice"];
        let spoken = spoken_text(voice["ssml"].as_str().unwrap_or_default());
        let shown: String = spoken.chars().take(60).collect();
        let more = if shown.len() < spoken.len() { "…" } else { "" };
        format!(
            "voice call to {} ({}): \"{shown}{more}\"",
            voice["to"].as_str().unwrap_or_default(),
            voice["voiceId"].as_str().unwrap_or_default(),
        )
    }

    fn set_templates(integration: &mut Integration, templates: &Templates) {
        integration
            .settings
            .insert("ssml".to_owned(), Value::String(templates.html.clone()));
    }

    fn fields(_step: &str, message: &VoiceMessage) -> Vec<Field> {
        let inner = message
            .ssml
            .strip_prefix("<speak>")
            .and_then(|rest| rest.strip_suffix("</speak>"))
            .unwrap_or(&message.ssml);
        vec![Field::new(
            "settings.ssml",
            Context::Ssml(MAX_SCRIPT_CHARS),
            inner,
        )]
    }
}

/// The text of an SSML script, tags left out, white space collapsed (for one-line summaries).
fn spoken_text(ssml: &str) -> String {
    let text: String = match sms_voice::ssml_parts(ssml) {
        Ok(parts) => parts
            .iter()
            .map(|part| match part {
                SsmlPart::Text(text) => *text,
                SsmlPart::Markup(_) => " ",
            })
            .collect(),
        Err(_) => ssml.to_owned(),
    };
    let text = text
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&apos;", "'")
        .replace("&amp;", "&");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Why `template` cannot make a well-formed script, found by rendering it for a sample alert and
/// reminder (with a placeholder for every variable of the integration): `None` when it can, or
/// when it does not render without the real values (the render itself is checked when sending).
fn trial_problem(integration: &Integration, template: &str) -> Option<String> {
    let engine = alert_model::template::Engine::new();
    let mut user = std::collections::BTreeMap::new();
    for name in integration.variables.keys() {
        user.insert(name.clone(), "x".to_owned());
    }
    let target = VoiceTarget {
        origination_identity: String::new(),
        language: Language::default(),
        voice_id: String::new(),
        ssml: Some(template.to_owned()),
        spoken_name_field: DEFAULT_SPOKEN_NAME_FIELD.to_owned(),
        time_to_live: DEFAULT_TIME_TO_LIVE,
    };
    // Validation does not depend on the clock.
    let now = chrono::DateTime::<chrono::Utc>::default();
    for alert_type in [AlertType::Alert, AlertType::Reminder] {
        let mut alert = Alert::default();
        alert.alert.alert_type = alert_type;
        alert.monitor.name = "Sample monitor".to_owned();
        alert.alert.description = "Sample error".to_owned();
        let variables = payload::speech_variables(&user, &alert, now, &target);
        let context = alert_model::template::RenderContext {
            alert: &alert,
            variables: &variables,
            now,
        };
        let source = alert_model::template::TemplateSource {
            integration: &integration.id,
            field: "settings.ssml",
        };
        let Ok(inner) = engine.render(source, template, alert_model::template::Escape::Html, &context) else {
            return None;
        };
        if let Err(problem) = payload::fit(inner.trim()) {
            return Some(format!("for a sample {alert_type}, {problem}"));
        }
    }
    None
}

/// Sorts a `SendVoiceMessage` failure into retryable (throttling, internal errors, 5xx, timeouts,
/// connection errors) and permanent (an invalid request, an identity the role may not use or that
/// does not exist, an exceeded quota, a conflicting state, a refused signature).
pub fn classify(error: &SdkError<SendVoiceMessageError, HttpResponse>) -> NotifyError {
    notify_core::classify_sdk_error("sms-voice send voice message", error, |service| match service {
        SendVoiceMessageError::ThrottlingException(_) | SendVoiceMessageError::InternalServerException(_) => {
            Some(true)
        }
        SendVoiceMessageError::ValidationException(_)
        | SendVoiceMessageError::AccessDeniedException(_)
        | SendVoiceMessageError::ResourceNotFoundException(_)
        | SendVoiceMessageError::ServiceQuotaExceededException(_)
        | SendVoiceMessageError::ConflictException(_) => Some(false),
        _ => None,
    })
}

#[cfg(test)]
mod tests;
