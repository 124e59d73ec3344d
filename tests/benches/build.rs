//! Per kind, through the real notifiers: `Notifier::build` of one route with a `RouteContext`, and
//! the warm per-route work (parse + route + render + build) of one SNS record reaching one route,
//! and of the sample alert with the sample definitions (all the routes it reaches).

use alert_model::{IntegrationKind, template::Engine};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use definition_store::Catalog;
use e2e::bench::{
    alert_for_route, email_notifier, fixed_variables, load_definitions, sample_alert_message,
    sample_definitions, sns_record, warm_route_work, webhook_notifier,
};
use notify_core::{Notifier, RouteContext, pipeline::alert_from_record};

fn per_kind<N: Notifier>(c: &mut Criterion, kind: IntegrationKind, notifier: &N) {
    let engine = Engine::new();
    let now = chrono::Utc::now();
    let message = sample_alert_message("bench-alert").unwrap_or_else(|error| panic!("{error}"));
    let record = sns_record("bench", &message, None);
    let alert = alert_from_record(&record).unwrap_or_else(|error| panic!("{error}"));

    // One route of this kind: payload build alone, then the whole warm per-route work.
    let single = Catalog::new(load_definitions(kind, 1, "http://127.0.0.1:9"));
    let routes = single.routes(&alert, kind);
    let route = routes.first().unwrap_or_else(|| panic!("{kind}: no route"));
    let route_alert = alert_for_route(&alert, route);
    let variables = fixed_variables(route.integration, route.attachment);
    let target = notifier
        .target(route.integration)
        .unwrap_or_else(|error| panic!("{kind}: {error}"));
    let context = RouteContext {
        alert: &route_alert,
        integration: route.integration,
        attachment: route.attachment,
        level: route.level,
        recipients: route.recipients.clone(),
        variables: &variables,
        now,
        engine: &engine,
    };
    let built = notifier
        .build(&context, &target)
        .unwrap_or_else(|error| panic!("{kind}: {error}"));
    assert_eq!(built.len(), 1, "{kind}: one message per route");
    c.benchmark_group("build").bench_function(kind.as_str(), |b| {
        b.iter(|| notifier.build(std::hint::black_box(&context), &target))
    });

    let mut warm = c.benchmark_group("warm-route");
    warm.throughput(Throughput::Elements(1));
    warm.bench_function(kind.as_str(), |b| {
        b.iter(|| warm_route_work(notifier, &single, &engine, std::hint::black_box(&record), now));
    });
    warm.finish();

    // The sample alert with the sample definitions: every route of this kind it reaches.
    let sample = Catalog::new(sample_definitions().unwrap_or_else(|error| panic!("{error}")));
    let messages =
        warm_route_work(notifier, &sample, &engine, &record, now).unwrap_or_else(|error| panic!("{error}"));
    let route_count = sample.routes(&alert, kind).len();
    assert!(messages > 0, "{kind}: the sample alert builds nothing");
    let mut group = c.benchmark_group("warm-sample-definitions");
    group.throughput(Throughput::Elements(route_count as u64));
    group.bench_with_input(
        BenchmarkId::new(kind.as_str(), route_count),
        &record,
        |b, record| {
            b.iter(|| warm_route_work(notifier, &sample, &engine, std::hint::black_box(record), now));
        },
    );
    group.finish();
}

fn build(c: &mut Criterion) {
    // Exhaustive: a new kind does not compile until it is benchmarked here.
    for &kind in IntegrationKind::ALL {
        match kind {
            IntegrationKind::Email => per_kind(c, kind, &email_notifier("http://127.0.0.1:9")),
            IntegrationKind::Webhook => {
                let notifier = webhook_notifier().unwrap_or_else(|error| panic!("{error}"));
                per_kind(c, kind, &notifier);
            }
        }
    }
}

criterion_group!(benches, build);
criterion_main!(benches);
