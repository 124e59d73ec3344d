//! Rendering of every kind's default templates (`email.subject`, `email.html`, …, every name of
//! `default_template_names`) with the sample alert; the custom body of the sample webhook
//! (examples/definitions.yaml `ops-webhook`); and the "all variables" body (the native envelope,
//! serialised).

use std::collections::BTreeMap;

use alert_model::{
    IntegrationKind, NativeEnvelope,
    template::{Engine, Escape, RenderContext, TemplateSource},
};
use criterion::{Criterion, criterion_group, criterion_main};
use e2e::bench::{sample_alert_message, sample_definitions};
use notify_core::pipeline::alert_from_record;

fn render(c: &mut Criterion) {
    let message = sample_alert_message("bench-alert").unwrap_or_else(|error| panic!("{error}"));
    let mut alert = alert_from_record(&test_support::sns::Record::new("bench", &message).to_json())
        .unwrap_or_else(|error| panic!("{error}"));
    alert.alert_definition.guid = "dns-critical".to_owned();
    alert.alert_definition.name = "DNS critical".to_owned();
    alert.escalation_level.message = "DNS is failing; the ops team is on it.".to_owned();
    let definitions = sample_definitions().unwrap_or_else(|error| panic!("{error}"));
    let variables: BTreeMap<String, String> = [
        ("BaseUrl", "http://127.0.0.1:8787"),
        ("Token", "placeholder-token"),
        ("Severity", "warning"),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect();
    let context = RenderContext {
        alert: &alert,
        variables: &variables,
        now: chrono::Utc::now(),
    };
    let engine = Engine::new();
    let mut group = c.benchmark_group("render");
    let mut bench_template = |name: &str, integration: &str, template: &str, escape: Escape| {
        let source = TemplateSource {
            integration,
            field: name,
        };
        engine
            .render(source, template, escape, &context)
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        group.bench_function(name, |b| {
            b.iter(|| engine.render(source, std::hint::black_box(template), escape, &context));
        });
    };
    // Every built-in template of every kind, escaped as its name says (`*.html` as HTML).
    let defaults = IntegrationKind::ALL
        .iter()
        .flat_map(|kind| kinds::default_templates(*kind));
    for (name, template) in defaults {
        let escape = if name.ends_with(".html") {
            Escape::Html
        } else {
            Escape::Text
        };
        bench_template(name, "default", template, escape);
    }
    let body = definitions
        .integrations
        .iter()
        .find(|integration| integration.id == "ops-webhook")
        .and_then(|integration| integration.messages.first())
        .and_then(|message| message.steps.first())
        .and_then(|step| step.body.clone())
        .unwrap_or_else(|| panic!("examples/definitions.yaml: ops-webhook has no body"));
    bench_template("webhook.custom-body", "ops-webhook", &body, Escape::Json);
    group.bench_function("webhook.all-variables", |b| {
        b.iter(|| serde_json::to_string(&NativeEnvelope::new(std::hint::black_box(&alert).clone())));
    });
    group.finish();
}

criterion_group!(benches, render);
criterion_main!(benches);
