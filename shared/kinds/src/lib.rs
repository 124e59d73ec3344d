//! The kind registry: the one exhaustive `match` from an [`IntegrationKind`] to the type that serves
//! it ([`visit`]), and everything that needs every kind built on it: validation with each kind's
//! settings ([`validate`]), the JSON Schema with per-kind settings ([`json_schema`]), a kind's
//! Lambda handler ([`handler`], [`serve`]), its sample integration and its descriptions.
//!
//! The CLI, the end-to-end stack, the fault suite, the security and redaction matrices, the
//! benchmarks and the load tool iterate [`IntegrationKind::ALL`] through this crate; nothing else
//! names a kind. Adding a kind: ARCHITECTURE.md, "Adding an integration kind".
//!
//! This is the one shared crate above the function crates (it depends on every one of them);
//! only the CLI and the test crates depend on it.
#![warn(missing_docs)]
// `serve` holds the runner's future, which nests deeply (SDK clients inside the Lambda service).
#![recursion_limit = "256"]

mod schema;

use alert_model::{Alert, IntegrationKind};
use definition_store::{
    Definitions, Integration, IntegrationCheck, KindRules, Recipients, ValidationIssue, validate_with,
};
use notify_core::{
    ConfigError, EventHandler, Init, Kind, SampleAnswer, SampleEnv, SampleRequest, Transport, build_pipeline,
    metrics::MetricsSink,
};
use serde_json::Value;

pub use schema::json_schema;

/// Something done with the type of one kind: [`visit`] calls `visit::<K>()` with the kind's type.
pub trait Visitor {
    /// What the visit returns.
    type Output;

    /// Does it with kind `K`.
    fn visit<K: Kind>(self) -> Self::Output;
}

/// Calls `visitor` with the type that serves `kind`. The one exhaustive `match` on kinds.
pub fn visit<V: Visitor>(kind: IntegrationKind, visitor: V) -> V::Output {
    match kind {
        IntegrationKind::Email => visitor.visit::<notify_email::EmailNotifier>(),
        IntegrationKind::Webhook => visitor.visit::<notify_webhook::WebhookNotifier>(),
        IntegrationKind::Sms => visitor.visit::<notify_sms::SmsNotifier>(),
        IntegrationKind::Slack => visitor.visit::<notify_slack::SlackNotifier>(),
        IntegrationKind::Teams => visitor.visit::<notify_teams::TeamsNotifier>(),
        IntegrationKind::Servicenow => visitor.visit::<notify_servicenow::ServiceNowNotifier>(),
        IntegrationKind::Statushub => visitor.visit::<notify_statushub::StatusHubNotifier>(),
        IntegrationKind::PagerDuty => visitor.visit::<notify_pagerduty::PagerDutyNotifier>(),
        IntegrationKind::SplunkOnCall => visitor.visit::<notify_splunk_oncall::SplunkOnCallNotifier>(),
        IntegrationKind::Jsm => visitor.visit::<notify_jsm::JsmNotifier>(),
        IntegrationKind::Voice => visitor.visit::<notify_voice::VoiceNotifier>(),
    }
}

/// A visitor from a closure-free function of the kind's type: `with(kind, |k| …)` cannot be
/// generic, so the small questions below are answered by these unit visitors.
macro_rules! kind_constant {
    ($(#[$doc:meta])* $name:ident, $visitor:ident, $output:ty, |$k:ident| $body:expr) => {
        struct $visitor;

        impl Visitor for $visitor {
            type Output = $output;

            fn visit<$k: Kind>(self) -> $output {
                $body
            }
        }

        $(#[$doc])*
        pub fn $name(kind: IntegrationKind) -> $output {
            visit(kind, $visitor)
        }
    };
}

kind_constant!(
    /// Whom the messages of `kind` address.
    recipients, RecipientsOf, Recipients, |K| K::RECIPIENTS
);

kind_constant!(
    /// The presets of `kind` ([`Kind::presets`]).
    presets, PresetsOf, Vec<notify_core::PresetInfo>, |K| K::presets()
);

kind_constant!(
    /// How `kind` reaches its target.
    transport, TransportOf, Transport, |K| K::TRANSPORT
);

kind_constant!(
    /// The built-in templates of `kind`, `(name, text)`.
    default_templates, DefaultTemplates, &'static [(&'static str, &'static str)], |K| K::DEFAULT_TEMPLATES
);

/// The kinds' rules for [`definition_store::validate_with`]: whom each addresses, and its
/// settings read through its own type, then checked by [`Kind::check`].
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules;

impl KindRules for Rules {
    fn recipients(&self, kind: IntegrationKind) -> Recipients {
        recipients(kind)
    }

    fn check(&self, integration: &Integration, check: &mut IntegrationCheck<'_>) {
        struct Check<'a, 'b>(&'a mut IntegrationCheck<'b>);

        impl Visitor for Check<'_, '_> {
            type Output = ();

            fn visit<K: Kind>(self) {
                if let Some(settings) = self.0.settings::<K::Settings>() {
                    K::check(&settings, self.0);
                }
            }
        }

        visit(integration.kind, Check(check));
    }

    fn service_problem(&self, integration: &Integration, service: &str) -> Option<String> {
        struct Service<'a>(&'a Integration, &'a str);

        impl Visitor for Service<'_> {
            type Output = Option<String>;

            fn visit<K: Kind>(self) -> Option<String> {
                // Settings that do not parse are reported at the integration.
                let settings = definition_store::parse_settings::<K::Settings>(self.0).ok()?;
                K::service_problem(&settings, self.1)
            }
        }

        visit(integration.kind, Service(integration, service))
    }
}

/// Every problem in `definitions`, each kind's settings included; empty when they are valid.
pub fn validate(definitions: &Definitions) -> Vec<ValidationIssue> {
    validate_with(definitions, &Rules)
}

/// A working integration of `kind` with id `id`, sending to `env`'s targets ([`Kind::sample`]).
pub fn sample(kind: IntegrationKind, id: &str, env: &SampleEnv<'_>) -> Integration {
    struct Sample<'a>(&'a str, &'a SampleEnv<'a>);

    impl Visitor for Sample<'_> {
        type Output = Integration;

        fn visit<K: Kind>(self) -> Integration {
            K::sample(self.0, self.1)
        }
    }

    visit(kind, Sample(id, env))
}

/// Why a route of `integration` built no message for `alert` ([`Kind::nothing_to_send`]).
pub fn nothing_to_send(integration: &Integration, alert: &Alert) -> String {
    struct Nothing<'a>(&'a Integration, &'a Alert);

    impl Visitor for Nothing<'_> {
        type Output = String;

        fn visit<K: Kind>(self) -> String {
            K::nothing_to_send(self.0, self.1)
        }
    }

    visit(integration.kind, Nothing(integration, alert))
}

/// One line on a message of `kind` from its description ([`Kind::summary`]).
pub fn summary(kind: IntegrationKind, description: &Value) -> String {
    struct Summary<'a>(&'a Value);

    impl Visitor for Summary<'_> {
        type Output = String;

        fn visit<K: Kind>(self) -> String {
            K::summary(self.0)
        }
    }

    visit(kind, Summary(description))
}

/// How the target of the kind whose paths `request` is at answers it successfully
/// ([`Kind::sample_answer`]); `None` when a plain `200` does.
pub fn sample_answer(request: &SampleRequest<'_>) -> Option<SampleAnswer> {
    struct Answer<'a>(&'a SampleRequest<'a>);

    impl Visitor for Answer<'_> {
        type Output = Option<SampleAnswer>;

        fn visit<K: Kind>(self) -> Self::Output {
            K::sample_answer(self.0)
        }
    }

    IntegrationKind::ALL
        .iter()
        .find_map(|kind| visit(*kind, Answer(request)))
}

/// The Lambda function of `kind` as `notify_core::run` builds it from `init` (the kind's own
/// constructor, then [`build_pipeline`]), with its metric lines going to `metrics`.
pub fn handler(
    kind: IntegrationKind,
    init: &Init,
    metrics: MetricsSink,
) -> Result<Box<dyn EventHandler>, ConfigError> {
    struct Handler<'a>(&'a Init, MetricsSink);

    impl Visitor for Handler<'_> {
        type Output = Result<Box<dyn EventHandler>, ConfigError>;

        fn visit<K: Kind>(self) -> Self::Output {
            let Handler(init, metrics) = self;
            let namespace = init.config.metrics_namespace.clone();
            let pipeline =
                build_pipeline(K::new(init)?, &init.config, &init.sdk).with_metrics(metrics, namespace);
            Ok(Box::new(pipeline))
        }
    }

    visit(kind, Handler(init, metrics))
}

/// Runs the Lambda function of `kind` exactly as `functions/notify-<kind>/src/main.rs` does.
pub async fn serve(kind: IntegrationKind) -> Result<(), lambda_runtime::Error> {
    struct Serve;

    impl Visitor for Serve {
        type Output = std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), lambda_runtime::Error>>>>;

        fn visit<K: Kind>(self) -> Self::Output {
            Box::pin(notify_core::run(K::new))
        }
    }

    visit(kind, Serve).await
}

#[cfg(test)]
mod tests;
