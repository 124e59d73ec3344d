//! The pipeline as `run` builds it from a configuration: definitions from a YAML file, secrets from
//! the emulator's SSM, the delivery log on an emulator table. Needs the real `from_yaml`,
//! `normalize` and `Catalog::routes` of the other branches.

use std::time::{Duration, Instant};

use test_support::{
    Receiver, Reply, Script,
    moto::{sdk_config, unique},
    sns,
};

use super::support::{TestNotifier, local_config};
use crate::{
    Config, DeliveryLog, EventReport, HandlerError, HttpClient, build_pipeline, deliveries::create_table,
};

#[tokio::test]
async fn the_configured_pipeline_delivers_with_file_definitions_ssm_secrets_and_the_dynamo_log() {
    let sdk = sdk_config().await;
    let receiver = Receiver::start(Script::new().route("/hook", [Reply::ok()])).await;
    let parameter = format!("/{}", unique("tocsin/runner-token"));
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&parameter)
        .value("runner-sekrit")
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .unwrap();
    let table = unique("Deliveries");
    create_table(&aws_sdk_dynamodb::Client::new(&sdk), &table)
        .await
        .unwrap();
    let file = std::env::temp_dir().join(format!("{}.yaml", unique("definitions")));
    let yaml = format!(
        "integrations:\n\
         - id: hook\n  kind: webhook\n  settings: {{url: \"{url}\"}}\n  variables:\n    Token: {{secret: \"ssm:{parameter}\"}}\n\
         alertDefinitions:\n\
         - id: def-1\n  name: Everything\n  monitors: [\"*\"]\n  levels:\n  - id: 1\n    integrations: [{{integration: hook}}]\n",
        url = receiver.url("/hook")
    );
    std::fs::write(&file, yaml).unwrap();
    let config = Config {
        definitions_file: Some(file.clone()),
        deliveries_table: table,
        ..local_config()
    };
    let notifier = TestNotifier {
        http: HttpClient::new(&config).unwrap(),
    };
    let pipeline = build_pipeline(notifier, &config, &sdk);
    let alert_id = unique("alert");
    let event = sns::event(&[("m-1", &sns::native_alert(&alert_id))]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let report = pipeline.handle_event(&event, deadline).await.unwrap();
    assert_eq!(
        report,
        EventReport {
            records: 1,
            routes: 1,
            delivered: 1,
            ..EventReport::default()
        }
    );
    let requests = receiver.requests_to("/hook");
    assert_eq!(requests[0].header("authorization"), Some("Bearer runner-sekrit"));
    let history = pipeline.deliveries().history(&alert_id).await.unwrap();
    assert_eq!(history.len(), 1);
    assert!(!history[0].request.contains("runner-sekrit"));
    // Redelivery: skipped by the DynamoDB record.
    let again = pipeline.handle_event(&event, deadline).await.unwrap();
    assert_eq!(again.skipped, 1);
    assert_eq!(receiver.requests().len(), 1);
    std::fs::remove_file(file).unwrap();
}

#[tokio::test]
async fn unreadable_definitions_fail_the_invocation_for_a_retry() {
    let sdk = sdk_config().await;
    let config = Config {
        definitions_file: Some(std::env::temp_dir().join(unique("missing-definitions"))),
        ..local_config()
    };
    let pipeline = build_pipeline(
        TestNotifier {
            http: HttpClient::new(&config).unwrap(),
        },
        &config,
        &sdk,
    );
    let event = sns::event(&[("m-1", &sns::native_alert("a-1"))]);
    let error = pipeline
        .handle_event(&event, Instant::now() + Duration::from_secs(30))
        .await
        .unwrap_err();
    assert!(matches!(error, HandlerError::Definitions { .. }), "{error:?}");
    assert!(
        error.to_string().starts_with("cannot load definitions: "),
        "{error}"
    );
    let diagnostic = lambda_runtime::Diagnostic::from(error);
    assert_eq!(diagnostic.error_type, "Retryable");
}

#[test]
fn lambda_deadlines_are_epoch_milliseconds_and_cargo_lambda_sends_a_duration() {
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

    let now_ms = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let remaining = |deadline: Instant| deadline.saturating_duration_since(Instant::now());

    // Lambda: an epoch deadline 30 s from now.
    let lambda = remaining(crate::runner::instant_of(now_ms + 30_000));
    assert!(
        lambda > Duration::from_secs(25) && lambda <= Duration::from_secs(30),
        "{lambda:?}"
    );
    // cargo-lambda's emulator: the remaining time itself.
    let emulator = remaining(crate::runner::instant_of(600_000));
    assert!(
        emulator > Duration::from_secs(590) && emulator <= Duration::from_secs(600),
        "{emulator:?}"
    );
    // A deadline already past leaves no time; an absurd one is capped at an hour.
    assert_eq!(
        remaining(crate::runner::instant_of(now_ms - 5_000)),
        Duration::ZERO
    );
    assert!(remaining(crate::runner::instant_of(u64::MAX)) <= Duration::from_secs(3600));
}

/// `load_sdk_config` defers TLS set-up to the first request: its clients still reach the service.
#[tokio::test]
async fn the_lazy_sdk_config_sends_requests() {
    let lazy = crate::load_sdk_config().await;
    // The emulator's endpoint and credentials from `sdk_config`, the lazy HTTP client kept.
    let moto = sdk_config().await;
    let mut builder = lazy
        .to_builder()
        .endpoint_url(test_support::moto::endpoint())
        .region(moto.region().cloned());
    builder.set_credentials_provider(moto.credentials_provider());
    let sdk = builder.build();
    let table = unique("LazyTls");
    let dynamodb = aws_sdk_dynamodb::Client::new(&sdk);
    create_table(&dynamodb, &table).await.unwrap();
    let described = dynamodb.describe_table().table_name(&table).send().await.unwrap();
    assert_eq!(
        described.table().and_then(|t| t.table_name()),
        Some(table.as_str()),
        "the table created through the lazy client is described through it"
    );
}

#[test]
fn the_log_subscriber_keeps_the_sdks_trace_events_out_at_any_level() {
    // GIVEN the functions' subscriber at the most verbose level
    let config = Config {
        log_json: true,
        log_filter: "trace".to_owned(),
        ..Config::default()
    };
    let (logs, _guard) =
        test_support::logs::capture_with(|logs| crate::log_subscriber(&config, move || logs.clone()));

    // WHEN the SDK logs a response at trace level, and other events are logged
    tracing::trace!(
        target: "aws_smithy_runtime::client::orchestrator",
        response = "an answer echoing sekrit-trace",
        "received response from service"
    );
    tracing::debug!(target: "aws_smithy_runtime::client::orchestrator", "beginning attempt #1");
    tracing::trace!(target: "notify_core::pipeline", "our own trace event");

    // THEN only the SDK's trace event is left out
    let text = logs.text();
    assert!(!text.contains("sekrit-trace"), "{text}");
    assert!(text.contains("beginning attempt #1"), "{text}");
    assert!(text.contains("our own trace event"), "{text}");
}
