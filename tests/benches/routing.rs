//! Route resolution in a cached `Catalog` of 10, 1,000 and 100,000 alert definitions, of which one
//! (or three) cover the alert's monitor: the time must not grow with the definitions that do not
//! cover it (they are indexed, not scanned).

use alert_model::IntegrationKind;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use definition_store::Catalog;
use e2e::bench::{routing_definitions, sample_alert_message};
use notify_core::pipeline::alert_from_record;

fn routing(c: &mut Criterion) {
    let message = sample_alert_message("bench-alert").unwrap_or_else(|error| panic!("{error}"));
    let alert = alert_from_record(&test_support::sns::Record::new("bench", &message).to_json())
        .unwrap_or_else(|error| panic!("{error}"));
    let mut group = c.benchmark_group("routing");
    for (total, covering) in [(10, 1), (1_000, 1), (100_000, 1), (100_000, 3)] {
        let catalog = Catalog::new(routing_definitions(total, covering));
        let expected = covering * IntegrationKind::ALL.len();
        let found: usize = IntegrationKind::ALL
            .iter()
            .map(|&kind| catalog.routes(&alert, kind).len())
            .sum();
        assert_eq!(found, expected, "{total} definitions, {covering} covering");
        let id = BenchmarkId::new(format!("covering-{covering}"), total);
        group.bench_with_input(id, &catalog, |b, catalog| {
            b.iter(|| catalog.routes(std::hint::black_box(&alert), IntegrationKind::Webhook));
        });
    }
    group.finish();
}

criterion_group!(benches, routing);
criterion_main!(benches);
