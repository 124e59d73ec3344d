//! Every kind in the fault suite, from the registry: its integrations ([`Kind::sample`]), its
//! function (`kinds::handler`), and, by the way it reaches its target ([`Transport`]), where its
//! deliveries are counted and how one of its sends is held while the function is killed. A new kind
//! is in the suite without a change here; a new transport is a compile error until it is.

use std::collections::BTreeMap;

use alert_model::IntegrationKind;
use definition_store::Integration;
use notify_core::{EventHandler, Init, SampleEnv, Transport, metrics::MetricsSink};
use tokio::sync::oneshot;

use super::{proxy::Proxy, receiver::Receivers};

/// The sender of every e-mail integration of the suite.
pub const SENDER: &str = "faults@example.com";

/// The id of integration `index` of `kind`: `webhook-3`, `email-3`.
pub fn integration_id(kind: IntegrationKind, index: usize) -> String {
    format!("{}-{index}", kind.as_str())
}

/// Integration `index` of `kind`, sending to the suite's targets (HTTP kinds to `receivers_url`,
/// `/hooks/<id>`), with the SSM secret `signing_parameter` for the kinds that use one (every other
/// webhook signs its requests). Its messages name the alert and the integration, so that the proxy
/// can count sends through AWS by route.
pub fn integration(
    kind: IntegrationKind,
    index: usize,
    receivers_url: &str,
    signing_parameter: &str,
) -> Integration {
    let secret = format!("ssm:{signing_parameter}");
    let env = SampleEnv {
        base_url: receivers_url,
        sender: SENDER,
        secret: Some(&secret),
        variant: index,
    };
    let mut integration = kinds::sample(kind, &integration_id(kind, index), &env);
    integration.name = format!("Fault suite {}", integration.id);
    integration
}

/// Whether `integration` signs its requests (Standard Webhooks): the receivers then check every
/// signature.
pub fn signs(integration: &Integration) -> bool {
    integration.settings.contains_key("signingSecret")
}

/// The function of `kind`, as Lambda runs it: the kind's own constructor and `build_pipeline`;
/// metric lines go to `metrics`.
pub fn function(
    kind: IntegrationKind,
    init: &Init,
    metrics: MetricsSink,
) -> Result<Box<dyn EventHandler>, String> {
    kinds::handler(kind, init, metrics).map_err(|error| format!("{kind} notifier: {error}"))
}

/// Runs the Lambda function of `kind` exactly as `functions/notify-<kind>/src/main.rs` does.
pub async fn serve(kind: IntegrationKind) -> Result<(), lambda_runtime::Error> {
    kinds::serve(kind).await
}

/// The deliveries of `kind` at its targets, by `(alert, integration)`: one entry per distinct
/// delivery (a `webhook-id`, a message an AWS service accepted) with the times the target acted on it.
pub fn deliveries(
    kind: IntegrationKind,
    receivers: &Receivers,
    proxy: &Proxy,
) -> BTreeMap<(String, String), Vec<u64>> {
    let prefix = format!("{}-", kind.as_str());
    let all = match kinds::transport(kind) {
        Transport::Ses | Transport::SnsSms | Transport::PinpointVoice => proxy
            .sent()
            .into_iter()
            .map(|(route, sends)| (route, sends.iter().map(|_| 1).collect()))
            .collect(),
        Transport::Http => super::receiver::by_route(&receivers.processed()),
    };
    all.into_iter()
        .filter(|((_, integration), _)| integration.starts_with(&prefix))
        .collect()
}

/// Holds the next send of `kind` at its target (never answered); the channel says when it arrived.
pub fn hold_next(kind: IntegrationKind, receivers: &Receivers, proxy: &Proxy) -> oneshot::Receiver<String> {
    match kinds::transport(kind) {
        Transport::Ses | Transport::SnsSms | Transport::PinpointVoice => proxy.hold_next_send(),
        Transport::Http => receivers.hold_next(),
    }
}
