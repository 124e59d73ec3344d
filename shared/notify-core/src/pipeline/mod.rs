//! The delivery pipeline, independent of the Lambda runtime so that it can be tested and reused:
//! SNS event → records → alerts → routes → messages → claimed, retried, recorded sends.
//!
//! It reads as its steps:
//! - [`sns`]: one SNS record, read tolerantly, normalised into an alert;
//! - this module: the event, record by record, and the routes of each alert ([`Pipeline`]);
//! - `fanout`: a record's routes, a window of them at a time;
//! - `route`: one route's variables, messages and how they are shown;
//! - `step`: one message claimed, sent, retried and recorded; [`retry`](self) decides, purely;
//! - `failure`: what an invocation did ([`EventReport`]) and the one failure type of a route
//!   ([`RouteFailure`]), reported by `report` as a metric line and a fallback's notice;
//! - `plan`: what would be sent, without sending (`tocsin render`).

mod failure;
mod fanout;
mod plan;
mod redact;
mod report;
mod retry;
mod route;
mod settings;
mod sns;
mod step;

use std::{fmt, sync::Arc, time::Instant};

use alert_model::{Alert, IntegrationKind, template::Engine};
use definition_store::{Catalog, DefinitionSource};
use tracing::{Instrument, error, info, info_span, warn};

pub use failure::{EventReport, HandlerError, RouteFailure};
pub use plan::{PlanError, PlannedMessage, plan};
pub use settings::Settings;
pub use sns::alert_from_record;
pub use step::TAKEN_OVER;

use crate::{
    Notifier,
    deliveries::DeliveryLog,
    metrics::{MetricsSink, unrouted_line},
    notice::NoticePublisher,
    secret::Secrets,
};

/// The testable heart of a notifier function: everything `run` does per event, without Lambda.
pub struct Pipeline<N, D, S, L> {
    notifier: N,
    definitions: D,
    secrets: S,
    deliveries: L,
    engine: Engine,
    settings: Settings,
    catalog: tokio::sync::Mutex<Option<(Instant, Arc<Catalog>)>>,
    metrics: MetricsSink,
    metrics_namespace: String,
    notices: Option<NoticePublisher>,
    /// Permits for messages on the wire ([`Settings::max_concurrent_sends`]).
    sends: tokio::sync::Semaphore,
}

impl<N, D, S, L> fmt::Debug for Pipeline<N, D, S, L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pipeline")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What one invocation has done so far.
#[derive(Default)]
struct Run {
    report: EventReport,
    retryable: Vec<RouteFailure>,
}

impl<N, D, S, L> Pipeline<N, D, S, L>
where
    N: Notifier,
    D: DefinitionSource,
    S: Secrets,
    L: DeliveryLog,
{
    /// A pipeline serving `notifier`'s kind. Creates the template engine once.
    pub fn new(notifier: N, definitions: D, secrets: S, deliveries: L, settings: Settings) -> Self {
        Pipeline {
            notifier,
            definitions,
            secrets,
            deliveries,
            engine: Engine::new(),
            settings,
            catalog: tokio::sync::Mutex::new(None),
            metrics: MetricsSink::default(),
            metrics_namespace: "Tocsin".to_owned(),
            notices: None,
            sends: tokio::sync::Semaphore::new(settings.max_concurrent_sends.max(1)),
        }
    }

    /// Where the delivery-failure metric lines go (nowhere by default; [`build_pipeline`](crate::build_pipeline)
    /// sends them to standard output), in which CloudWatch namespace.
    pub fn with_metrics(mut self, sink: MetricsSink, namespace: impl Into<String>) -> Self {
        self.metrics = sink;
        self.metrics_namespace = namespace.into();
        self
    }

    /// Where delivery-failure notices for fallback integrations are published (none by default:
    /// failures are then only counted and logged).
    pub fn with_notices(mut self, publisher: Option<NoticePublisher>) -> Self {
        self.notices = publisher;
        self
    }

    /// The delivery log (for `tocsin log` and tests).
    pub fn deliveries(&self) -> &L {
        &self.deliveries
    }

    /// The notifier.
    pub fn notifier(&self) -> &N {
        &self.notifier
    }

    /// The catalog, loaded at most once per cache TTL.
    pub async fn catalog(&self) -> Result<Arc<Catalog>, definition_store::StoreError> {
        let mut cached = self.catalog.lock().await;
        if let Some((loaded, catalog)) = cached.as_ref()
            && loaded.elapsed() < self.settings.cache_ttl
        {
            return Ok(Arc::clone(catalog));
        }
        let catalog = Arc::new(Catalog::new(self.definitions.load().await?));
        *cached = Some((Instant::now(), Arc::clone(&catalog)));
        Ok(catalog)
    }

    /// Handles one SNS event: every record independently, every route of this kind.
    ///
    /// Returns `Err` only while a retryable failure remains (Lambda then retries the invocation;
    /// delivered routes are skipped by their record); bad records are logged and counted.
    /// `deadline` is the invocation's deadline; no retry wait goes past it minus the safety margin.
    pub async fn handle_event(
        &self,
        event: &serde_json::Value,
        deadline: Instant,
    ) -> Result<EventReport, HandlerError> {
        let deadline = deadline
            .checked_sub(self.settings.safety_margin)
            .unwrap_or(deadline);
        let mut run = Run::default();
        let Some(records) = event
            .get("Records")
            .or_else(|| event.get("records"))
            .and_then(serde_json::Value::as_array)
        else {
            error!(reason = "the event has no `Records` list", "rejected event");
            run.report.rejected = 1;
            return Ok(run.report);
        };
        run.report.records = records.len();
        for (index, record) in records.iter().enumerate() {
            self.handle_record(index, record, deadline, &mut run).await?;
        }
        if run.retryable.is_empty() {
            info!(report = ?run.report, "event handled");
            Ok(run.report)
        } else {
            warn!(report = ?run.report, "event left retryable routes");
            Err(HandlerError::Retryable {
                routes: run.retryable,
                report: run.report,
            })
        }
    }

    /// One record: rejected with its reason when it is no alert; else every route of this kind,
    /// each failure reported.
    async fn handle_record(
        &self,
        index: usize,
        record: &serde_json::Value,
        deadline: Instant,
        run: &mut Run,
    ) -> Result<(), HandlerError> {
        let message_id = record
            .pointer("/Sns/MessageId")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("");
        let span =
            info_span!("record", index, sns_message_id = %message_id, alert_id = tracing::field::Empty);
        let alert = match alert_from_record(record) {
            Ok(alert) => alert,
            Err(reason) => {
                let _entered = span.enter();
                error!(index, sns_message_id = %message_id, %reason, "rejected record");
                run.report.rejected += 1;
                return Ok(());
            }
        };
        span.record("alert_id", alert.alert.alert_guid.as_str());
        let catalog = match self.catalog().instrument(span.clone()).await {
            Ok(catalog) => catalog,
            Err(store_error) => {
                let _entered = span.enter();
                error!(error = %store_error, "cannot load definitions");
                return Err(HandlerError::Definitions {
                    reason: store_error.to_string(),
                    report: run.report,
                });
            }
        };
        let routes = catalog.routes(&alert, N::KIND);
        if routes.is_empty() {
            let _entered = span.enter();
            self.no_route(&catalog, &alert, run);
        }
        run.report.routes += routes.len();
        let outcomes = self.deliver_routes(&routes, &alert, deadline, &span).await;
        for (route, outcome) in routes.iter().zip(outcomes) {
            if let Some(failure) = outcome.count(&mut run.report, &mut run.retryable) {
                let route_span = info_span!(parent: &span, "route", integration_id = %route.integration.id);
                if self
                    .report_failure(&catalog, route, &alert, &failure)
                    .instrument(route_span)
                    .await
                {
                    run.report.notices += 1;
                }
            }
        }
        Ok(())
    }

    /// An alert without a route of this kind. When it reaches no route of any kind, alerting has
    /// stopped for its monitor: the function of the first kind says so at WARN and counts it in
    /// the `Unrouted` metric (one function, so that the metric counts alerts, not functions); the
    /// others note it at INFO.
    fn no_route(&self, catalog: &Catalog, alert: &Alert, run: &mut Run) {
        let routed_elsewhere = IntegrationKind::ALL
            .iter()
            .any(|kind| !catalog.routes(alert, *kind).is_empty());
        if routed_elsewhere {
            info!("no route of this kind");
            return;
        }
        run.report.unrouted += 1;
        if IntegrationKind::ALL.first() != Some(&N::KIND) {
            info!(monitor = %alert.monitor.name, "the alert reaches no route of any kind");
            return;
        }
        warn!(
            monitor = %alert.monitor.name,
            monitor_guid = %alert.monitor.monitor_guid,
            alert_type = %alert.alert.alert_type,
            "the alert reaches no route of any kind: nobody is told (check the alert definitions)"
        );
        self.metrics.emit(unrouted_line(
            &self.metrics_namespace,
            alert,
            chrono::Utc::now().timestamp_millis(),
        ));
    }
}
