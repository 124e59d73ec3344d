//! Parse + normalise of every inbound format: one SNS record (the fixtures of alert-model and the
//! sample alerts of examples/) through `alert_from_record`, as the runner reads it.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use e2e::bench::inbound_samples;
use notify_core::pipeline::alert_from_record;
use test_support::sns;

fn inbound(c: &mut Criterion) {
    let samples = inbound_samples().unwrap_or_else(|error| panic!("inbound samples: {error}"));
    assert!(!samples.is_empty(), "no inbound samples found");
    let mut group = c.benchmark_group("inbound");
    for sample in &samples {
        let record = sns::Record::new("bench-message-id", sample.message.as_str())
            .subject(sample.subject.as_deref())
            .to_json();
        alert_from_record(&record).unwrap_or_else(|error| panic!("{}: {error}", sample.name));
        group.bench_with_input(BenchmarkId::from_parameter(&sample.name), &record, |b, record| {
            b.iter(|| alert_from_record(std::hint::black_box(record)));
        });
    }
    group.finish();
}

criterion_group!(benches, inbound);
criterion_main!(benches);
