//! A record's routes, delivered concurrently a window at a time.

use std::time::Instant;

use alert_model::Alert;
use definition_store::{DefinitionSource, Route};
use futures_util::StreamExt as _;
use tracing::{Instrument, Span, info_span};

use super::{Pipeline, failure::RouteOutcome};
use crate::{Notifier, deliveries::DeliveryLog, secret::Secrets};

impl<N, D, S, L> Pipeline<N, D, S, L>
where
    N: Notifier,
    D: DefinitionSource,
    S: Secrets,
    L: DeliveryLog,
{
    /// Delivers `routes` and returns their outcomes in the same order.
    ///
    /// Routes go to different targets: they are delivered concurrently, so that one slow or
    /// throttling target does not hold back the others; steps within a route stay in order. A
    /// fan-out to many routes works on `max_concurrent_sends` of them at a time, so that its memory
    /// stays bounded: a route in progress holds its resolved variables, built messages and request
    /// summary, its delivery-log calls and a connection (≈ 50 KB for an e-mail route; a window of
    /// 4 × 64 routes kept 1,000-route fan-outs over 30 MB, BENCHMARKS.md). A route waiting out a
    /// retry's backoff keeps its place in the window.
    pub(crate) async fn deliver_routes(
        &self,
        routes: &[Route<'_>],
        alert: &Alert,
        deadline: Instant,
        span: &Span,
    ) -> Vec<RouteOutcome> {
        let window = self.settings.max_concurrent_sends.max(1);
        // A route's future is created only when it enters the window: the futures of a 1,000-route
        // fan-out made up front took ~18 MB before the first was polled (BENCHMARKS.md, peak RSS).
        // A plain loop rather than `stream::iter(..).map(..).buffer_unordered(..)`: that closure kept
        // in the stream makes the event's future lose `Send` (a higher-ranked lifetime rustc cannot
        // prove).
        let mut waiting = routes.iter().enumerate();
        let mut running = futures_util::stream::FuturesUnordered::new();
        let mut outcomes: Vec<(usize, RouteOutcome)> = Vec::with_capacity(routes.len());
        loop {
            while running.len() < window {
                let Some((index, route)) = waiting.next() else {
                    break;
                };
                let route_span = info_span!(parent: span, "route", integration_id = %route.integration.id);
                let delivery = self.deliver_route(route, alert, deadline).instrument(route_span);
                // Boxed: the set's task node outlives the future while a waker clone is held
                // elsewhere (an idle pooled connection keeps the last one it was given), so the node
                // should hold a pointer, not the whole route's state machine.
                running.push(Box::pin(async move { (index, delivery.await) }));
            }
            match running.next().await {
                Some(outcome) => outcomes.push(outcome),
                None => break,
            }
        }
        outcomes.sort_by_key(|(index, _)| *index);
        outcomes.into_iter().map(|(_, outcome)| outcome).collect()
    }
}
