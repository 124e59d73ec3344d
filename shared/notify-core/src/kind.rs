//! What Tocsin knows about one integration kind, kept on the kind.
//!
//! A kind is a [`Notifier`] (build and send) plus the [`Kind`] knowledge every other part of the
//! system asks for: its settings type (which `tocsin validate` and the JSON Schema use), whom it
//! addresses, how it reaches its target, how its function builds it, a sample integration, and
//! what its messages look like to people and to the tests. The registry (`shared/kinds`) maps an
//! [`IntegrationKind`](alert_model::IntegrationKind) to its `Kind` in one exhaustive `match`;
//! nothing else names a kind.

use std::{future::Future, pin::Pin, time::Instant};

use alert_model::{Alert, IntegrationKind};
use definition_store::{DefinitionSource, Integration, IntegrationCheck, Recipients};
use serde_json::Value;

use crate::{ConfigError, DeliveryLog, EventReport, HandlerError, Init, Notifier, Pipeline, Secrets};

/// One integration kind: its notifier and everything else known about it.
pub trait Kind: Notifier + Sized {
    /// The kind's `settings`: a serde type with `deny_unknown_fields` and a JSON Schema. It is the
    /// only definition of the settings: validation, the schema and the notifier all read it.
    type Settings: serde::de::DeserializeOwned + schemars::JsonSchema;

    /// Whom the kind's messages address (the level's operators by e-mail or phone, or nobody).
    const RECIPIENTS: Recipients;

    /// How the kind reaches its target (what tests watch to count deliveries).
    const TRANSPORT: Transport;

    /// The kind's built-in templates, `(name, text)` (`email.subject`, …): its readable default
    /// messages, which an integration overrides with its own templates. Kept in the kind's
    /// `templates/` folder.
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)];

    /// Builds the notifier as the kind's Lambda function does (`notify_core::run(K::new)`).
    fn new(init: &Init) -> Result<Self, ConfigError>;

    /// Checks what the settings' types cannot say (templates compile, addresses are valid, …),
    /// reporting through `check` with paths inside the integration (`settings.from`).
    fn check(settings: &Self::Settings, check: &mut IntegrationCheck<'_>);

    /// A working integration of this kind with id `id`, sending to `env`'s targets: the examples,
    /// the demo's local targets and the test suites start from it. It passes `tocsin validate`.
    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration;

    /// Why a route of this kind built no message for `alert` (`tocsin test` says it).
    fn nothing_to_send(integration: &Integration, alert: &Alert) -> String;

    /// One line on a message, from its [`Notifier::describe`] (already redacted).
    fn summary(description: &Value) -> String;

    /// Writes `templates` into every templated field of `integration` (a [`Kind::sample`]), one
    /// template per escaping [`Context`] the kind's messages have: the security and redaction
    /// matrices render hostile values through them.
    fn set_templates(integration: &mut Integration, templates: &Templates);

    /// Every templated field of a message built from [`Kind::set_templates`], with the context its
    /// values were escaped for.
    fn fields(step: &str, message: &Self::Message) -> Vec<Field>;

    /// How the kind's target answers a successful request to the kind's [`Kind::sample`] paths,
    /// when the kind needs more than a `200` (a Slack message's `ts`, a ServiceNow `sys_id`): the
    /// local targets of the demo, the fault suite and the kit answer with it. `None` for requests
    /// that are not the kind's.
    fn sample_answer(_request: &SampleRequest<'_>) -> Option<SampleAnswer> {
        None
    }

    /// Why `service`, the `service` of an attachment's `serviceLinks` entry (status-page kinds),
    /// names no service of an integration with `settings` (`tocsin validate` reports it at the
    /// link); `None` when it does, and for kinds without services.
    fn service_problem(_settings: &Self::Settings, _service: &str) -> Option<String> {
        None
    }
    /// The kind's presets: ready-made integrations an integration names (`settings.preset`), which
    /// `tocsin presets` lists. None by default.
    fn presets() -> Vec<PresetInfo> {
        Vec::new()
    }
}

/// A preset of a kind, as `tocsin presets` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PresetInfo {
    /// Its name (`settings.preset`).
    pub name: String,
    /// One line on what it sends.
    pub title: String,
    /// The variables an integration must define (`Name (secret)` for secrets).
    pub required: Vec<String>,
    /// The variables it reads when they are defined.
    pub optional: Vec<String>,
}

/// A request at a local target, for [`Kind::sample_answer`].
#[derive(Debug, Clone, Copy)]
pub struct SampleRequest<'a> {
    /// `POST`, `GET`, …
    pub method: &'a str,
    /// The path, without the query.
    pub path: &'a str,
    /// The body.
    pub body: &'a str,
}

/// A successful answer of a kind's target: status and JSON body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SampleAnswer {
    /// The HTTP status.
    pub status: u16,
    /// The body (JSON).
    pub body: String,
}

/// How a kind reaches its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// HTTP through the shared [`HttpClient`](crate::HttpClient) (SSRF guard, timeouts).
    Http,
    /// Amazon SES v2 `SendEmail`.
    Ses,
    /// Amazon SNS `Publish` to a phone number (SMS).
    SnsSms,
    /// AWS End User Messaging SMS and Voice v2 `SendVoiceMessage` to a phone number (a voice
    /// call). The emulator lacks this API: tests, the demo and the fault suite answer it with the
    /// local voice endpoint of [`crate::sms_voice`].
    PinpointVoice,
}

/// Where a [`Kind::sample`] integration sends to.
#[derive(Debug, Clone, Copy)]
pub struct SampleEnv<'a> {
    /// The base URL of HTTP targets (`https://hooks.example.com`, or a local receiver).
    pub base_url: &'a str,
    /// The From address of e-mail.
    pub sender: &'a str,
    /// An SSM reference (`ssm:/…`) holding a secret the sample may use (a signing secret, a
    /// token), or none.
    pub secret: Option<&'a str>,
    /// Kinds that have several shapes (a webhook preset or custom steps) pick one by it.
    pub variant: usize,
}

impl Default for SampleEnv<'_> {
    fn default() -> Self {
        SampleEnv {
            base_url: "https://hooks.example.com",
            sender: "alerts@example.com",
            secret: None,
            variant: 0,
        }
    }
}

/// Where a rendered field's values land, which says how they were escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    /// A JSON document: values are JSON strings, the document parses.
    Json,
    /// A URL's path and query: values are percent-encoded.
    Url,
    /// A header value: values are kept, a line break is refused.
    Header,
    /// A one-line subject: line breaks become spaces, cut to the subject limit.
    Subject,
    /// HTML: values are HTML-escaped.
    Html,
    /// Plain text: values are kept as they are.
    Text,
    /// Plain text cut to at most this many bytes at a character boundary (a text message): values
    /// are kept as they are up to the cut.
    CutText(usize),
    /// Slack mrkdwn cut to at most this many characters: values have Slack's control characters
    /// escaped (`&`, `<`, `>` as `&amp;`, `&lt;`, `&gt;`), and the cut never splits one.
    Mrkdwn(usize),
    /// SSML (a spoken script): values XML-escaped; when the field would hold more than this many
    /// characters, its text is cut (each too long text between tags to the same length, ending in
    /// `…`), never its markup, so that it stays well-formed.
    Ssml(usize),
}

/// One template per [`Context`] (a kind uses those its messages have).
#[derive(Debug, Clone, Default)]
pub struct Templates {
    /// A JSON body.
    pub json: String,
    /// A URL path and query.
    pub url: String,
    /// A header value.
    pub header: String,
    /// A subject.
    pub subject: String,
    /// An HTML body (also SSML, which is escaped the same way).
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
        *self.get_mut(context) = template.to_owned();
        self
    }

    /// The template of `context`.
    pub fn get(&self, context: Context) -> &str {
        match context {
            Context::Json => &self.json,
            Context::Url => &self.url,
            Context::Header => &self.header,
            Context::Subject => &self.subject,
            Context::Html | Context::Ssml(_) => &self.html,
            Context::Text | Context::CutText(_) | Context::Mrkdwn(_) => &self.text,
        }
    }

    fn get_mut(&mut self, context: Context) -> &mut String {
        match context {
            Context::Json => &mut self.json,
            Context::Url => &mut self.url,
            Context::Header => &mut self.header,
            Context::Subject => &mut self.subject,
            Context::Html | Context::Ssml(_) => &mut self.html,
            Context::Text | Context::CutText(_) | Context::Mrkdwn(_) => &mut self.text,
        }
    }
}

/// One templated field of a built message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    /// The field's path in the integration, as errors name it (`settings.subject`).
    pub field: String,
    /// Where its values landed.
    pub context: Context,
    /// The rendered text (for [`Context::Url`], the path and query only).
    pub text: String,
}

impl Field {
    /// A field.
    pub fn new(field: impl Into<String>, context: Context, text: impl Into<String>) -> Self {
        Field {
            field: field.into(),
            context,
            text: text.into(),
        }
    }
}

/// A notifier function as Lambda runs it, whatever its kind: what the CLI's demo, the end-to-end
/// stack and the fault suite hold for every kind.
pub trait EventHandler: Send + Sync {
    /// The kind it serves.
    fn kind(&self) -> IntegrationKind;

    /// One invocation with `event`, ending by `deadline` ([`Pipeline::handle_event`]).
    fn handle<'a>(
        &'a self,
        event: &'a Value,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<EventReport, HandlerError>> + Send + 'a>>;
}

impl<N, D, S, L> EventHandler for Pipeline<N, D, S, L>
where
    N: Notifier,
    D: DefinitionSource + Send + Sync,
    S: Secrets + Send + Sync,
    L: DeliveryLog,
{
    fn kind(&self) -> IntegrationKind {
        N::KIND
    }

    fn handle<'a>(
        &'a self,
        event: &'a Value,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<EventReport, HandlerError>> + Send + 'a>> {
        Box::pin(self.handle_event(event, deadline))
    }
}

/// An integration's settings as kind `K` reads them; the error is permanent and names the
/// integration and the path (`integration `x`: `settings.from`: …`).
pub fn settings_of<K: Kind>(integration: &Integration) -> Result<K::Settings, crate::NotifyError> {
    definition_store::parse_settings(integration)
        .map_err(|error| crate::NotifyError::permanent(format!("integration `{}`: {error}", integration.id)))
}
