//! The Lambda runner: the only code that knows Lambda and SNS.

use std::{
    path::PathBuf,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use definition_store::{DefinitionSource, Definitions, DynamoDbStore, StoreError};
use lambda_runtime::{LambdaEvent, service_fn};
use tracing_subscriber::{
    EnvFilter,
    filter::{LevelFilter, Targets},
    fmt::MakeWriter,
    layer::SubscriberExt,
};

use crate::{
    Config, ConfigError, HttpClient, Notifier,
    deliveries::{AnyDeliveryLog, DynamoDeliveryLog, LogTimes, MemoryDeliveryLog},
    load_sdk_config,
    metrics::MetricsSink,
    notice::NoticePublisher,
    pipeline::{Pipeline, Settings},
    secret::SecretResolver,
};

/// What a notifier may need to build itself: settings, the AWS config, the shared HTTP client.
#[derive(Debug, Clone)]
pub struct Init {
    /// The function's settings.
    pub config: Config,
    /// The AWS SDK config from the standard chain (so `AWS_ENDPOINT_URL` works), as
    /// [`load_sdk_config`] makes it.
    pub sdk: aws_config::SdkConfig,
    /// The shared HTTP client.
    pub http: HttpClient,
}

impl Init {
    /// The SDK config for clients that talk to a *target* (SES, SNS SMS, …), as opposed to the
    /// function's own tables and secrets: no SDK-level retries, because the runner owns retries
    /// (it sees throttling, honours the invocation deadline and records every attempt; SDK retries
    /// inside an attempt would multiply the load on a target that is already failing), and the
    /// connect and request timeouts of `TOCSIN_HTTP_CONNECT_TIMEOUT_MS` / `TOCSIN_HTTP_TIMEOUT_MS`, so
    /// that a target that does not answer costs one timeout, not the rest of the invocation.
    pub fn target_sdk(&self) -> aws_config::SdkConfig {
        target_sdk_config(&self.sdk, &self.config)
    }
}

/// See [`Init::target_sdk`].
pub fn target_sdk_config(sdk: &aws_config::SdkConfig, config: &Config) -> aws_config::SdkConfig {
    let timeouts = aws_smithy_types::timeout::TimeoutConfig::builder()
        .connect_timeout(config.http_connect_timeout)
        .operation_attempt_timeout(config.http_timeout)
        .build();
    sdk.to_builder()
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .timeout_config(timeouts)
        .build()
}

/// Runs the Lambda function serving `N`: `notify_core::run(EmailNotifier::new).await`.
///
/// Reads [`Config::from_env`], starts tracing, loads the AWS config with [`load_sdk_config`]
/// (credentials are fetched and TLS is set up lazily: no network call and no certificate loading
/// happen before the first event), builds the definition source
/// (`TOCSIN_DEFINITIONS_FILE` or the `Definitions` table), the secret resolver and the delivery log
/// (the `Deliveries` table, or memory when none is configured), then serves events through
/// [`Pipeline::handle_event`] with the invocation's deadline.
pub async fn run<N, F>(make: F) -> Result<(), lambda_runtime::Error>
where
    N: Notifier,
    F: FnOnce(&Init) -> Result<N, ConfigError>,
{
    let config = Config::from_env()?;
    init_tracing(&config);
    let sdk = load_sdk_config().await;
    let http = HttpClient::new(&config)?;
    let init = Init { config, sdk, http };
    let notifier = make(&init)?;
    let pipeline = build_pipeline(notifier, &init.config, &init.sdk);
    let pipeline = &pipeline;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<serde_json::Value>| async move {
            let deadline = instant_of(event.context.deadline);
            tracing::debug!(
                deadline_ms = event.context.deadline,
                remaining_ms = deadline.saturating_duration_since(Instant::now()).as_millis() as u64,
                "invocation"
            );
            pipeline.handle_event(&event.payload, deadline).await
        },
    ))
    .await
}

/// The pipeline `run` serves, as built from the configuration.
pub type ConfiguredPipeline<N> = Pipeline<N, ConfiguredDefinitions, SecretResolver, AnyDeliveryLog>;

/// Builds the pipeline of a function from its settings (what [`run`] does before serving events;
/// the CLI's local runs use it too): definitions from `TOCSIN_DEFINITIONS_FILE` or the
/// `Definitions` table, secrets from SSM / Secrets Manager, the delivery log on the `Deliveries`
/// table (in memory when none is configured), delivery-failure metrics on standard output (EMF)
/// and notices to fallback integrations on `TOCSIN_TOPIC_ARN` (none without it). Makes no network
/// call.
pub fn build_pipeline<N: Notifier>(
    notifier: N,
    config: &Config,
    sdk: &aws_config::SdkConfig,
) -> ConfiguredPipeline<N> {
    let definitions = match &config.definitions_file {
        Some(path) => ConfiguredDefinitions::File(path.clone()),
        None => ConfiguredDefinitions::Dynamo(DynamoDbStore::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.definitions_table.clone(),
        )),
    };
    let times = LogTimes::from_config(config);
    let deliveries = if config.deliveries_table.is_empty() {
        tracing::warn!("no DELIVERIES_TABLE: the delivery log is in memory (local use only)");
        AnyDeliveryLog::Memory(MemoryDeliveryLog::new(times))
    } else {
        AnyDeliveryLog::Dynamo(DynamoDeliveryLog::new(
            aws_sdk_dynamodb::Client::new(sdk),
            config.deliveries_table.clone(),
            times,
        ))
    };
    let secrets = SecretResolver::new(sdk, config.cache_ttl);
    let notices = config.topic_arn.as_ref().map(|topic_arn| NoticePublisher::Sns {
        client: aws_sdk_sns::Client::new(sdk),
        topic_arn: topic_arn.clone(),
    });
    Pipeline::new(
        notifier,
        definitions,
        secrets,
        deliveries,
        Settings::from_config(config),
    )
    .with_metrics(MetricsSink::Stdout, config.metrics_namespace.clone())
    .with_notices(notices)
}

/// Starts tracing once: [`log_subscriber`] writing to stdout (Lambda collects it). A second call
/// does nothing.
pub fn init_tracing(config: &Config) {
    // Fails harmlessly when a subscriber is already set.
    let _ = tracing::subscriber::set_global_default(log_subscriber(config, std::io::stdout));
}

/// The functions' log subscriber, writing to `writer`: JSON lines when
/// `AWS_LAMBDA_LOG_FORMAT=JSON`, compact text otherwise, at the level of `AWS_LAMBDA_LOG_LEVEL` or
/// `RUST_LOG`, but never the AWS SDK's trace events (tests capture the logs with it too).
///
/// The SDK (`aws_smithy_runtime`) logs every HTTP response and every operation's output or error
/// at trace level, bodies included unless the output is marked sensitive: an SES error or id
/// quoting what it was sent would put a secret into the logs, where no redaction reaches.
pub fn log_subscriber<W>(config: &Config, writer: W) -> Box<dyn tracing::Subscriber + Send + Sync>
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(&config.log_filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let no_sdk_trace = Targets::new()
        .with_default(LevelFilter::TRACE)
        .with_target("aws_smithy_runtime", LevelFilter::DEBUG);
    let registry = tracing_subscriber::registry().with(filter).with(no_sdk_trace);
    // Lambda adds its own timestamps.
    if config.log_json {
        Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(true)
                    .with_target(false)
                    .with_writer(writer),
            ),
        )
    } else {
        Box::new(
            registry.with(
                tracing_subscriber::fmt::layer()
                    .compact()
                    .without_time()
                    .with_target(false)
                    .with_writer(writer),
            ),
        )
    }
}

/// Converts the context's deadline (epoch milliseconds) to an [`Instant`].
pub(crate) fn instant_of(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let now = Instant::now();
    // Lambda sends epoch milliseconds; cargo-lambda's local emulator sends the remaining time
    // instead (600000). No real epoch deadline is that small (anything before 2001), so such a value
    // is read as a duration.
    const EPOCH_2001_MS: u64 = 978_307_200_000;
    let remaining_ms = if deadline_ms < EPOCH_2001_MS {
        deadline_ms
    } else {
        deadline_ms.saturating_sub(now_ms)
    };
    // A nonsensical deadline far in the future must not overflow; an hour is beyond any Lambda's.
    let remaining = Duration::from_millis(remaining_ms).min(Duration::from_secs(3600));
    now.checked_add(remaining).unwrap_or(now)
}

/// The definitions of a function: a YAML file (local runs) or the DynamoDB table.
#[derive(Debug, Clone)]
pub enum ConfiguredDefinitions {
    /// `TOCSIN_DEFINITIONS_FILE`, re-read at each cache expiry.
    File(PathBuf),
    /// The `Definitions` table.
    Dynamo(DynamoDbStore),
}

impl DefinitionSource for ConfiguredDefinitions {
    async fn load(&self) -> Result<Definitions, StoreError> {
        match self {
            ConfiguredDefinitions::File(path) => {
                definition_store::load_file(path).map_err(|error| StoreError::Item {
                    key: "-".to_owned(),
                    table: path.display().to_string(),
                    reason: error.to_string(),
                })
            }
            ConfiguredDefinitions::Dynamo(store) => store.load().await,
        }
    }
}
