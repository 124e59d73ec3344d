//! Per kind, through the real notifiers: `Notifier::build` of one route with a `RouteContext`, and
//! the warm per-route work (parse + route + render + build) of one SNS record reaching one route,
//! and of the sample alert with the sample definitions (all the routes it reaches).

use alert_model::{IntegrationKind, template::Engine};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use definition_store::Catalog;
use e2e::bench::{
    alert_for_route, fixed_variables, load_definitions, offline_notifier, sample_alert_message,
    sample_definitions, warm_route_work,
};
use notify_core::{Kind, Notifier, RouteContext, pipeline::alert_from_record};

fn per_kind<N: Notifier>(c: &mut Criterion, kind: IntegrationKind, notifier: &N) {
    let engine = Engine::new();
    let now = chrono::Utc::now();
    let message = sample_alert_message("bench-alert").unwrap_or_else(|error| panic!("{error}"));
    let record = test_support::sns::Record::new("bench", &message).to_json();
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
        incident: None,
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

/// [`per_kind`] with the real notifier of one kind, from the registry.
struct PerKind<'a>(&'a mut Criterion);

impl kinds::Visitor for PerKind<'_> {
    type Output = ();

    fn visit<K: Kind>(self) {
        let notifier = offline_notifier::<K>().unwrap_or_else(|error| panic!("{error}"));
        per_kind(self.0, K::KIND, &notifier);
    }
}

fn build(c: &mut Criterion) {
    for &kind in IntegrationKind::ALL {
        kinds::visit(kind, PerKind(c));
    }
}

criterion_group!(benches, build);
criterion_main!(benches);
