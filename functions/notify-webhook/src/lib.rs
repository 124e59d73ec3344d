//! notify-webhook: custom integrations, i.e. any HTTP API, with requests written as templates.
//!
//! [`WebhookNotifier`] sends either the integration's own steps for the alert's type (URL values
//! percent-encoded, header values refused on CR/LF, JSON bodies JSON-escaped and checked), or the
//! preset `all-variables`: the native envelope v1 as a JSON body, so one Tocsin can feed another.
//! Every request carries the Standard Webhooks headers `webhook-id` (stable across retries, so
//! receivers can drop duplicates) and `webhook-timestamp`, and `webhook-signature` when the
//! integration has `settings.signingSecret`.
//! Every request goes through the shared [`HttpClient`] (timeouts, SSRF guard, classification).

mod config;
mod payload;

use alert_model::IntegrationKind;
use definition_store::Integration;
use notify_core::{
    ConfigError, HttpClient, HttpRequest, Init, Notifier, NotifyError, Outgoing, RouteContext, Sent,
};

pub use config::{METHODS, PRESETS, WebhookRequests, WebhookTarget, is_valid_header_name, normalize_method};
pub use payload::{WEBHOOK_ID, WEBHOOK_SIGNATURE, WEBHOOK_TIMESTAMP, sign};

/// The webhook notifier: the shared HTTP client.
#[derive(Debug)]
pub struct WebhookNotifier {
    http: HttpClient,
}

impl WebhookNotifier {
    /// The notifier for the Lambda function: `notify_core::run(WebhookNotifier::new)`.
    pub fn new(init: &Init) -> Result<Self, ConfigError> {
        Ok(WebhookNotifier::with_client(init.http.clone()))
    }

    /// A notifier sending through `http`.
    pub fn with_client(http: HttpClient) -> Self {
        WebhookNotifier { http }
    }
}

impl Notifier for WebhookNotifier {
    const KIND: IntegrationKind = IntegrationKind::Webhook;
    type Target = WebhookTarget;
    type Message = HttpRequest;

    fn target(&self, integration: &Integration) -> Result<WebhookTarget, NotifyError> {
        WebhookTarget::parse(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &WebhookTarget,
    ) -> Result<Vec<Outgoing<HttpRequest>>, NotifyError> {
        payload::build_requests(route, target)
    }

    async fn send(&self, message: &HttpRequest) -> Result<Sent, NotifyError> {
        self.http.send(message).await
    }

    fn describe(&self, message: &HttpRequest) -> serde_json::Value {
        serde_json::json!({ "request": message })
    }
}

#[cfg(test)]
mod tests;
