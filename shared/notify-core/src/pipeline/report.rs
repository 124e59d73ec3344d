//! A failed route, reported: one metric line, and a notice to the integration's fallback.

use alert_model::Alert;
use chrono::Utc;
use definition_store::{Catalog, DefinitionSource, Route};
use tracing::{info, warn};

use super::{Pipeline, failure::RouteFailure};
use crate::{
    Notifier,
    deliveries::{DeliveryLog, NoticeKey},
    metrics::{FailureOutcome, failure_line},
    notice::failure_notice,
    secret::Secrets,
};

impl<N, D, S, L> Pipeline<N, D, S, L>
where
    N: Notifier,
    D: DefinitionSource,
    S: Secrets,
    L: DeliveryLog,
{
    /// Reports a route that failed in this invocation: one metric line, and a notice to the
    /// integration's fallback when the failure is permanent or has lasted
    /// [`Settings::fallback_after_attempts`](super::Settings::fallback_after_attempts) attempts, at
    /// most once per route and notice interval. Never about a notice itself. True when a notice was
    /// published.
    pub(crate) async fn report_failure(
        &self,
        catalog: &Catalog,
        route: &Route<'_>,
        alert: &Alert,
        failure: &RouteFailure,
    ) -> bool {
        self.metrics.emit(failure_line(
            &self.metrics_namespace,
            failure,
            Utc::now().timestamp_millis(),
        ));
        if alert.deliver_to.is_some() {
            return false;
        }
        let Some(fallback) = catalog.fallback_of(&route.integration.id) else {
            return false;
        };
        let due = failure.outcome == FailureOutcome::Permanent
            || failure.attempts >= self.settings.fallback_after_attempts;
        if !due {
            return false;
        }
        let Some(publisher) = &self.notices else {
            warn!(fallback = %fallback.id, "no TOCSIN_TOPIC_ARN: the fallback integration cannot be told");
            return false;
        };
        let key = NoticeKey {
            integration_id: route.integration.id.clone(),
            definition_id: route.definition.id.clone(),
        };
        let claim = match self
            .deliveries
            .claim_notice(&key, self.settings.notice_interval)
            .await
        {
            Ok(Some(claim)) => claim,
            Ok(None) => {
                info!(fallback = %fallback.id, "a delivery-failure notice for this route was sent within the interval");
                return false;
            }
            Err(log_error) => {
                warn!(error = %log_error, "cannot claim the delivery-failure notice");
                return false;
            }
        };
        let notice = failure_notice(failure, alert, route, fallback, Utc::now());
        match publisher.publish(&notice).await {
            Ok(()) => {
                info!(fallback = %fallback.id, notice_id = %notice.alert.alert_guid, "delivery-failure notice published");
                true
            }
            Err(reason) => {
                warn!(fallback = %fallback.id, %reason, "cannot publish the delivery-failure notice");
                if let Err(log_error) = self.deliveries.release_notice(&claim).await {
                    warn!(error = %log_error, "cannot release the delivery-failure notice");
                }
                false
            }
        }
    }
}
