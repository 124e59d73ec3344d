//! The fault-injection suite: many alerts through the real functions against targets that fail at
//! random and an emulator that is briefly unreachable, then Lambda's retries, the on-failure queue
//! and `tocsin replay`; at the end every route must have been delivered exactly once and say so in
//! the delivery log.
//!
//! The parts, all local and real: moto (DynamoDB, SES, SNS, SQS, SSM) behind a [`proxy::Proxy`]
//! that drops requests in outage windows and fails SES sends; webhook [`receiver::Receivers`] that
//! fail requests and check the Standard Webhooks headers; the functions' pipelines as
//! `build_pipeline` makes them, run by a local [`lambda::Lambda`] service that takes the topic's
//! deliveries, retries failed invocations twice and sends what still fails to the on-failure queue
//! in Lambda's format; [`tocsin::replay`] to drain that queue; and a run per kind in which the
//! function process is killed in the middle of a delivery ([`runtime`]).
//!
//! "Delivered exactly once" is counted at the targets: a webhook delivery is a distinct
//! `webhook-id` the receiver acted on (a receiver acting twice on one id, after answering too late
//! for the client, is the duplicate the id exists to absorb: counted apart); an e-mail is a
//! `SendEmail` SES accepted.

pub mod http;
pub mod kinds;
pub mod lambda;
pub mod proxy;
pub mod receiver;
pub mod runtime;

use std::{
    collections::{BTreeMap, BTreeSet},
    path::PathBuf,
    time::{Duration, Instant},
};

use alert_model::IntegrationKind;
use base64::Engine as _;
use definition_store::{AlertDefinition, Attachment, Definitions, DynamoDbStore, EscalationLevel, Operator};
use futures_util::StreamExt as _;
use notify_core::{Config, DeliveryLog, DynamoDeliveryLog, HttpClient, Init, LogTimes, metrics::MetricsSink};
use serde::Serialize;
use serde_json::{Value, json};

use self::{
    lambda::{InvocationCounts, Lambda, LambdaSettings},
    proxy::{Proxy, ProxyCounts},
    receiver::{InjectedFaults, Receivers},
    runtime::{FunctionProcess, KillRun, Outcome, RuntimeApi},
};

/// How a run goes.
#[derive(Debug, Clone)]
pub struct FaultOptions {
    /// The emulator (moto) URL.
    pub moto_url: String,
    /// Alerts published.
    pub alerts: usize,
    /// Integrations of every kind (each alert reaches one of each).
    pub integrations: usize,
    /// Share of the target requests that fail (receivers and SES), 0..=1.
    pub fault_rate: f64,
    /// Seeds the fault generators.
    pub seed: u64,
    /// Invocations of one function at once.
    pub concurrency: usize,
    /// Publishes to the topic at once.
    pub publish_concurrency: usize,
    /// `TOCSIN_HTTP_TIMEOUT_MS`: a slow answer comes after it.
    pub http_timeout: Duration,
    /// `TOCSIN_MAX_ATTEMPTS`.
    pub max_attempts: u32,
    /// The function timeout (each invocation's deadline).
    pub function_timeout: Duration,
    /// `TOCSIN_CLAIM_SECONDS` (longer than the function timeout, as in production).
    pub claim_ttl: Duration,
    /// Lambda's waits before the two retries (one and two minutes in AWS).
    pub retry_delays: [Duration; 2],
    /// The emulator is unreachable for `outage_length` every `outage_every`.
    pub outage_every: Duration,
    /// See `outage_every`.
    pub outage_length: Duration,
    /// `tocsin-faults` itself, for the kill runs (`--function <kind>`); none: no kill run.
    pub function_executable: Option<PathBuf>,
}

impl FaultOptions {
    /// The full suite: 10,000 alerts over 20 integrations of every kind, 30 % faults.
    pub fn full(moto_url: &str) -> FaultOptions {
        FaultOptions {
            moto_url: moto_url.to_owned(),
            alerts: 10_000,
            integrations: 20,
            fault_rate: 0.3,
            seed: 20_261_201,
            concurrency: 16,
            publish_concurrency: 16,
            http_timeout: Duration::from_millis(1500),
            max_attempts: 3,
            function_timeout: Duration::from_secs(12),
            claim_ttl: Duration::from_secs(15),
            retry_delays: [Duration::from_secs(2), Duration::from_secs(4)],
            // Longer than the SDK's own retries (three attempts over about three seconds): calls
            // that start in a window fail, and so do the invocations making them.
            outage_every: Duration::from_secs(20),
            outage_length: Duration::from_secs(4),
            function_executable: None,
        }
    }

    /// The version in the test command: the same faults, fewer alerts.
    pub fn small(moto_url: &str) -> FaultOptions {
        FaultOptions {
            alerts: 300,
            concurrency: 8,
            outage_every: Duration::from_secs(5),
            ..FaultOptions::full(moto_url)
        }
    }
}

/// The on-failure queue as the first replay found it.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct OnFailureQueue {
    /// Records in it.
    pub records: usize,
    /// Alerts they held.
    pub alerts: usize,
    /// Why they failed (the functions' errors, per route, ids and ports left out) → routes.
    pub reasons: BTreeMap<String, usize>,
}

/// One `tocsin replay` of the run.
#[derive(Debug, Default, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ReplayRound {
    /// Queue records read.
    pub records: usize,
    /// Alerts re-published.
    pub alerts_republished: usize,
    /// Records left in the queue.
    pub kept: usize,
}

/// Everything a run measured.
#[derive(Debug, Default, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultReport {
    /// Alerts published.
    pub alerts: usize,
    /// Alerts by inbound format.
    pub formats: BTreeMap<String, usize>,
    /// Integrations by kind.
    pub integrations: BTreeMap<String, usize>,
    /// Routes: (alert, integration) pairs that must be delivered.
    pub routes: usize,
    /// The share of target requests failed.
    pub fault_rate: f64,
    /// Requests the webhook receivers got.
    pub webhook_requests: u64,
    /// Faults the webhook receivers injected.
    pub receiver_faults: InjectedFaults,
    /// What the emulator proxy did (outages, SES faults).
    pub proxy: ProxyCounts,
    /// Invocations before the replay.
    pub first_pass: InvocationCounts,
    /// Seconds from the first publish to the end of Lambda's retries.
    pub first_pass_seconds: f64,
    /// The on-failure queue after Lambda's retries, with the reasons.
    pub on_failure_queue: OnFailureQueue,
    /// The replays, in order.
    pub replays: Vec<ReplayRound>,
    /// Invocations in all.
    pub invocations: InvocationCounts,
    /// Records still in the on-failure queue at the end.
    pub left_in_queue: usize,
    /// Routes delivered exactly once.
    pub delivered_once: usize,
    /// Routes never delivered.
    pub lost: usize,
    /// Routes delivered more than once (distinct deliveries).
    pub duplicates: usize,
    /// Examples of lost or duplicate routes.
    pub examples: Vec<String>,
    /// Deliveries outside the expected routes.
    pub unexpected: usize,
    /// Times a receiver acted again on a `webhook-id` it had acted on (after answering too late).
    pub absorbed_by_webhook_id: u64,
    /// Routes by their final status in the delivery log.
    pub delivery_log: BTreeMap<String, usize>,
    /// Requests that broke the Standard Webhooks contract.
    pub standard_webhooks_violations: Vec<String>,
    /// Delivery-failure metric lines (EMF) the functions emitted.
    pub failure_metric_lines: usize,
    /// The kill runs.
    pub kill_runs: Vec<KillRun>,
    /// Seconds for the whole run.
    pub wall_seconds: f64,
}

impl FaultReport {
    /// What is wrong; empty when the promise held.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.lost > 0 {
            problems.push(format!("{} route(s) lost", self.lost));
        }
        if self.duplicates > 0 {
            problems.push(format!("{} route(s) delivered twice", self.duplicates));
        }
        if self.unexpected > 0 {
            problems.push(format!("{} unexpected deliveries", self.unexpected));
        }
        if self.left_in_queue > 0 {
            problems.push(format!(
                "{} record(s) left in the on-failure queue",
                self.left_in_queue
            ));
        }
        if !self.standard_webhooks_violations.is_empty() {
            problems.push(format!(
                "{} Standard Webhooks violation(s): {}",
                self.standard_webhooks_violations.len(),
                self.standard_webhooks_violations[0]
            ));
        }
        let delivered = self.delivery_log.get("delivered").copied().unwrap_or(0);
        if delivered != self.routes {
            problems.push(format!(
                "the delivery log says {delivered} of {} routes delivered: {:?}",
                self.routes, self.delivery_log
            ));
        }
        for kill in &self.kill_runs {
            if kill.deliveries != 1 || kill.final_status != "delivered" {
                problems.push(format!(
                    "kill run of {}: {} deliveries, final status {}",
                    kill.kind, kill.deliveries, kill.final_status
                ));
            }
        }
        problems.extend(self.examples.iter().map(|example| format!("example: {example}")));
        problems
    }

    /// The report as a Markdown table and lists.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let faults = self.receiver_faults.total() + self.proxy.ses_faults();
        let rows: Vec<(String, String)> = vec![
            (
                "alerts published".to_owned(),
                format!("{} ({})", self.alerts, join(&self.formats)),
            ),
            ("integrations".to_owned(), join(&self.integrations)),
            ("routes (alert × integration)".to_owned(), self.routes.to_string()),
            (
                "faults injected at the targets".to_owned(),
                format!(
                    "{faults} ({:.0} % of target requests): webhooks 500 {}, 429 {}, slow {}, reset {}; SES 500 {}, 429 {}, slow {}, reset {}",
                    self.fault_rate * 100.0,
                    self.receiver_faults.server_error,
                    self.receiver_faults.throttled,
                    self.receiver_faults.slow,
                    self.receiver_faults.reset,
                    self.proxy.ses_server_error,
                    self.proxy.ses_throttled,
                    self.proxy.ses_slow,
                    self.proxy.ses_reset,
                ),
            ),
            (
                "emulator unreachable".to_owned(),
                format!(
                    "{} windows, {} requests dropped",
                    self.proxy.outage_windows, self.proxy.dropped_in_outage
                ),
            ),
            (
                "invocations".to_owned(),
                format!(
                    "{} ({} failed, {} Lambda retries, {} to the on-failure queue)",
                    self.invocations.invocations,
                    self.invocations.failed,
                    self.invocations.retries,
                    self.invocations.to_on_failure_queue
                ),
            ),
            (
                "in the on-failure queue after Lambda's retries".to_owned(),
                format!(
                    "{} records, {} alerts",
                    self.on_failure_queue.records, self.on_failure_queue.alerts
                ),
            ),
            (
                "tocsin replay".to_owned(),
                self.replays
                    .iter()
                    .map(|round| {
                        format!(
                            "{} records, {} alerts re-published, {} kept",
                            round.records, round.alerts_republished, round.kept
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; then "),
            ),
            (
                "left in the on-failure queue".to_owned(),
                self.left_in_queue.to_string(),
            ),
            (
                "delivered exactly once".to_owned(),
                self.delivered_once.to_string(),
            ),
            ("lost".to_owned(), self.lost.to_string()),
            ("duplicates".to_owned(), self.duplicates.to_string()),
            (
                "repeats absorbed by the webhook-id".to_owned(),
                self.absorbed_by_webhook_id.to_string(),
            ),
            ("delivery log, final status".to_owned(), join(&self.delivery_log)),
            (
                "Standard Webhooks violations".to_owned(),
                self.standard_webhooks_violations.len().to_string(),
            ),
            (
                "delivery-failure metric lines".to_owned(),
                self.failure_metric_lines.to_string(),
            ),
            (
                "wall time".to_owned(),
                format!(
                    "{:.1} s (first pass with Lambda's retries {:.1} s)",
                    self.wall_seconds, self.first_pass_seconds
                ),
            ),
        ];
        out.push_str("| figure | value |\n| --- | --- |\n");
        for (name, value) in rows {
            out.push_str(&format!("| {name} | {value} |\n"));
        }
        if !self.on_failure_queue.reasons.is_empty() {
            out.push_str("\nReasons of the routes in the on-failure queue (routes):\n\n");
            for (reason, count) in &self.on_failure_queue.reasons {
                out.push_str(&format!("- {count} × {reason}\n"));
            }
        }
        if !self.kill_runs.is_empty() {
            out.push_str("\nKill runs (function process killed with SIGKILL while its send was held):\n\n");
            for kill in &self.kill_runs {
                out.push_str(&format!(
                    "- {}: retry while the claim held: {}; retry after it expired: {}; deliveries {} (acted on {:?}); final status {}; attempts: {}\n",
                    kill.kind,
                    kill.retry_while_claimed,
                    kill.retry_after_expiry,
                    kill.deliveries,
                    kill.times_processed,
                    kill.final_status,
                    kill.history.join(", ")
                ));
            }
        }
        out
    }
}

fn join(map: &BTreeMap<String, usize>) -> String {
    map.iter()
        .map(|(name, count)| format!("{name} {count}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// An SDK config for the emulator at `endpoint` (dummy credentials).
pub async fn sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}

/// The suite's definitions: definition `def-<j>` covers monitor `svc-<j>` and sends, at level 1,
/// to integration `j` of every kind, with operator `op-<j>` as the recipient.
pub fn suite_definitions(integrations: usize, receivers_url: &str, signing_parameter: &str) -> Definitions {
    let mut definitions = Definitions::default();
    for j in 0..integrations {
        for &kind in IntegrationKind::ALL {
            definitions
                .integrations
                .push(kinds::integration(kind, j, receivers_url, signing_parameter));
        }
        definitions.operators.push(Operator {
            id: format!("op-{j}"),
            name: format!("Operator {j}"),
            email: Some(format!("op-{j}@example.com")),
            phone: Some(format!("+1555{j:07}")),
            active: true,
            on_duty: true,
        });
        definitions.alert_definitions.push(AlertDefinition {
            id: format!("def-{j}"),
            name: format!("Service {j}"),
            active: true,
            monitors: vec![format!("name:svc-{j}")],
            levels: vec![EscalationLevel {
                id: 1,
                active: true,
                message: format!("Service {j} is failing."),
                operators: vec![format!("op-{j}")],
                integrations: IntegrationKind::ALL
                    .iter()
                    .map(|&kind| Attachment {
                        integration: kinds::integration_id(kind, j),
                        active: true,
                        send_ok: true,
                        send_reminder: true,
                        variables: BTreeMap::new(),
                        extra_emails: Vec::new(),
                        extra_phones: Vec::new(),
                        service_links: Vec::new(),
                    })
                    .collect(),
            }],
        });
    }
    definitions
}

/// Alert `index` of run `run`: every fifth a CloudWatch alarm (its id derived from the SNS message
/// id, as for every sender without ids), the others native envelopes. Returns the message, the
/// subject, and the alert id when the message carries it.
fn alert_message(run: &str, index: usize, integrations: usize) -> (String, Option<String>, Option<String>) {
    let service = format!("svc-{}", index % integrations);
    if index % 5 == 4 {
        let alarm = json!({
            "AlarmName": service,
            "AlarmDescription": "Fault suite alarm.",
            "AWSAccountId": "123456789012",
            "AlarmConfigurationUpdatedTimestamp": "2026-11-30T09:00:00.000+0000",
            "NewStateValue": "ALARM",
            "NewStateReason": format!("Threshold Crossed: alert {index} of run {run}."),
            "StateChangeTime": chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string(),
            "Region": "US East (N. Virginia)",
            "AlarmArn": format!("arn:aws:cloudwatch:us-east-1:123456789012:alarm:{service}"),
            "OldStateValue": "OK",
            "OKActions": [],
            "AlarmActions": [],
            "InsufficientDataActions": [],
            "Trigger": {
                "MetricName": "Errors", "Namespace": "AWS/Lambda", "StatisticType": "Statistic",
                "Statistic": "SUM", "Unit": null, "Dimensions": [], "Period": 60,
                "EvaluationPeriods": 1, "ComparisonOperator": "GreaterThanThreshold", "Threshold": 0.0,
                "TreatMissingData": "missing", "EvaluateLowSampleCountPercentile": ""
            }
        });
        let subject = format!("ALARM: \"{service}\" in US East (N. Virginia)");
        return (alarm.to_string(), Some(subject), None);
    }
    let id = format!("{run}-{index}");
    let envelope = json!({
        "version": 1,
        "alert": {
            "alertGuid": id,
            "type": "Alert",
            "description": format!("Fault suite alert {index}: \"quoted\", a\nnew line and ünïcødé ✓."),
        },
        "monitor": {"name": service, "monitorGuid": format!("{run}-monitor-{}", index % integrations)},
    });
    (envelope.to_string(), None, Some(id))
}

/// Runs the suite.
pub async fn run(options: &FaultOptions) -> Result<FaultReport, String> {
    let started = Instant::now();
    let run = format!("f{}", &uuid::Uuid::new_v4().simple().to_string()[..10]);
    let direct = sdk_config(&options.moto_url).await;
    let slow_after = options.http_timeout + Duration::from_millis(500);
    let receivers = Receivers::start(options.fault_rate, options.seed, slow_after).await?;
    let proxy = Proxy::start(
        &options.moto_url,
        options.fault_rate,
        options.seed ^ 0x5e5,
        slow_after,
    )
    .await?;

    // The signing secret, in SSM like any secret of the definitions.
    let mut rng = fastrand::Rng::with_seed(options.seed);
    let key: Vec<u8> = (0..32).map(|_| rng.u8(..)).collect();
    let signing_parameter = format!("/tocsin/faults/{run}/signing");
    aws_sdk_ssm::Client::new(&direct)
        .put_parameter()
        .name(&signing_parameter)
        .value(format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(&key)
        ))
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .send()
        .await
        .map_err(|error| format!("ssm PutParameter: {}", aws(&error)))?;
    let definitions = suite_definitions(options.integrations, &receivers.base_url(), &signing_parameter);
    for integration in definitions
        .integrations
        .iter()
        .filter(|integration| kinds::signs(integration))
    {
        receivers.expect_signature(&integration.id, key.clone());
    }

    // Tables, sender, queue and topic, made directly in the emulator.
    let dynamo = aws_sdk_dynamodb::Client::new(&direct);
    let definitions_table = format!("{run}-Definitions");
    let deliveries_table = format!("{run}-Deliveries");
    DynamoDbStore::create_table(&dynamo, &definitions_table)
        .await
        .map_err(|error| error.to_string())?;
    DynamoDbStore::new(dynamo.clone(), definitions_table.clone())
        .apply(&definitions)
        .await
        .map_err(|error| error.to_string())?;
    notify_core::deliveries::create_table(&dynamo, &deliveries_table)
        .await
        .map_err(|error| error.to_string())?;
    aws_sdk_sesv2::Client::new(&direct)
        .create_email_identity()
        .email_identity(kinds::SENDER)
        .send()
        .await
        .map_err(|error| format!("ses CreateEmailIdentity: {}", aws(&error)))?;
    let sqs = aws_sdk_sqs::Client::new(&direct);
    let queue_url = sqs
        .create_queue()
        .queue_name(format!("{run}-failed-alerts"))
        .send()
        .await
        .map_err(|error| format!("sqs CreateQueue: {}", aws(&error)))?
        .queue_url
        .unwrap_or_default();
    let sns = aws_sdk_sns::Client::new(&direct);
    let topic_arn = sns
        .create_topic()
        .name(format!("{run}-alerts"))
        .send()
        .await
        .map_err(|error| format!("sns CreateTopic: {}", aws(&error)))?
        .topic_arn
        .unwrap_or_default();

    // The functions, configured as in the SAM template but for the shorter times, reaching AWS
    // through the proxy.
    let settings = function_settings(options, &definitions_table, &deliveries_table);
    let config = Config::from_lookup(|name| {
        settings
            .iter()
            .find(|(variable, _)| variable == name)
            .map(|(_, value)| value.clone())
    })
    .map_err(|error| error.to_string())?;
    let init = Init {
        http: HttpClient::new(&config).map_err(|error| error.to_string())?,
        sdk: sdk_config(&proxy.url()).await,
        config,
    };
    let (metrics, metric_lines) = MetricsSink::memory();
    let functions = IntegrationKind::ALL
        .iter()
        .map(|&kind| Ok((kind, kinds::function(kind, &init, metrics.clone())?)))
        .collect::<Result<Vec<_>, String>>()?;
    let lambda = Lambda::start(
        functions,
        LambdaSettings {
            concurrency: options.concurrency,
            timeout: options.function_timeout,
            retry_delays: options.retry_delays,
        },
        sqs.clone(),
        queue_url.clone(),
    )
    .await?;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("http")
        .endpoint(lambda.subscription_url())
        .send()
        .await
        .map_err(|error| format!("sns Subscribe: {}", aws(&error)))?;

    // First pass: publish, under faults, until Lambda has retried everything it will retry.
    proxy.start_outages(options.outage_every, options.outage_length);
    let first_started = Instant::now();
    let published = publish(&sns, &topic_arn, &run, options).await?;
    lambda.settle().await;
    let first_pass = lambda.counts();
    let first_pass_seconds = first_started.elapsed().as_secs_f64();

    // The targets recover; the on-failure queue is replayed until it is empty.
    proxy.stop_outages();
    proxy.set_ses_fault_rate(0.0);
    receivers.set_fault_rate(0.0);
    let mut replays = Vec::new();
    let mut on_failure_queue = OnFailureQueue::default();
    for round in 0..3 {
        let replayed = tocsin::replay(
            &direct,
            &tocsin::ReplayOptions {
                queue_url: queue_url.clone(),
                topic_arn: topic_arn.clone(),
                max_messages: None,
                dry_run: false,
            },
        )
        .await
        .map_err(|error| format!("tocsin replay: {error}"))?;
        if round == 0 {
            on_failure_queue = summarize_queue(&replayed);
        }
        replays.push(ReplayRound {
            records: replayed.messages.len(),
            alerts_republished: replayed.alerts_published,
            kept: replayed.kept,
        });
        lambda.settle().await;
        if replayed.messages.is_empty() {
            break;
        }
    }
    receivers.stop();

    let mut report = FaultReport {
        alerts: published.len(),
        integrations: IntegrationKind::ALL
            .iter()
            .map(|kind| (kind.as_str().to_owned(), options.integrations))
            .collect(),
        fault_rate: options.fault_rate,
        first_pass,
        first_pass_seconds,
        on_failure_queue,
        replays,
        ..FaultReport::default()
    };
    for alert in &published {
        *report.formats.entry(alert.format.to_owned()).or_default() += 1;
    }
    report.left_in_queue = queue_depth(&sqs, &queue_url).await?;
    check_deliveries(&mut report, &published, &receivers, &proxy);
    report.delivery_log = delivery_log(&dynamo, &deliveries_table, &published).await?;
    report.standard_webhooks_violations = receivers.violations();
    report.failure_metric_lines = metric_lines.lock().map(|lines| lines.len()).unwrap_or(0);

    if let Some(executable) = &options.function_executable {
        let settings = function_settings(options, &definitions_table, &deliveries_table);
        let setup = KillSetup {
            executable,
            settings: &settings,
            run: &run,
            receivers: &receivers,
            proxy: &proxy,
            dynamo: &dynamo,
            deliveries_table: &deliveries_table,
        };
        for &kind in IntegrationKind::ALL {
            report.kill_runs.push(kill_run(kind, &setup).await?);
        }
    }
    report.invocations = lambda.counts();
    report.webhook_requests = receivers.requests();
    report.receiver_faults = receivers.faults();
    report.proxy = proxy.counts();
    report.wall_seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The functions' environment: what the SAM template sets, with the suite's times.
fn function_settings(
    options: &FaultOptions,
    definitions_table: &str,
    deliveries_table: &str,
) -> Vec<(String, String)> {
    [
        ("DEFINITIONS_TABLE", definitions_table.to_owned()),
        ("DELIVERIES_TABLE", deliveries_table.to_owned()),
        ("TOCSIN_CACHE_SECONDS", "300".to_owned()),
        ("TOCSIN_HTTP_CONNECT_TIMEOUT_MS", "1000".to_owned()),
        (
            "TOCSIN_HTTP_TIMEOUT_MS",
            options.http_timeout.as_millis().to_string(),
        ),
        ("TOCSIN_MAX_ATTEMPTS", options.max_attempts.to_string()),
        (
            "TOCSIN_CLAIM_SECONDS",
            options.claim_ttl.as_secs().max(1).to_string(),
        ),
        ("TOCSIN_ALLOW_HOSTS", "127.0.0.1".to_owned()),
        ("TOCSIN_ALLOW_HTTP", "true".to_owned()),
        ("TOCSIN_EMAIL_FROM", kinds::SENDER.to_owned()),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value))
    .collect()
}

/// One published alert.
#[derive(Debug, Clone)]
struct Published {
    id: String,
    service: usize,
    format: &'static str,
}

async fn publish(
    sns: &aws_sdk_sns::Client,
    topic_arn: &str,
    run: &str,
    options: &FaultOptions,
) -> Result<Vec<Published>, String> {
    let results: Vec<Result<Published, String>> = futures_util::stream::iter(0..options.alerts)
        .map(|index| async move {
            let (message, subject, id) = alert_message(run, index, options.integrations);
            let output = sns
                .publish()
                .topic_arn(topic_arn)
                .message(&message)
                .set_subject(subject.clone())
                .send()
                .await
                .map_err(|error| format!("sns Publish: {}", aws(&error)))?;
            let format = if id.is_some() { "native" } else { "cloudwatch" };
            let id = match id {
                Some(id) => id,
                // The id the functions derive, by the function that derives it.
                None => {
                    let record =
                        test_support::sns::Record::new(output.message_id.unwrap_or_default(), &message)
                            .subject(subject.as_deref())
                            .to_json();
                    notify_core::pipeline::alert_from_record(&record)?
                        .alert
                        .alert_guid
                }
            };
            Ok(Published {
                id,
                service: index % options.integrations,
                format,
            })
        })
        .buffer_unordered(options.publish_concurrency.max(1))
        .collect()
        .await;
    results.into_iter().collect()
}

fn summarize_queue(replayed: &tocsin::ReplayReport) -> OnFailureQueue {
    let mut queue = OnFailureQueue {
        records: replayed.messages.len(),
        ..OnFailureQueue::default()
    };
    for message in &replayed.messages {
        queue.alerts += message.alerts.len();
        let error = message
            .error
            .clone()
            .unwrap_or_else(|| "no error message".to_owned());
        for reason in route_reasons(&error) {
            *queue.reasons.entry(reason).or_default() += 1;
        }
    }
    queue
}

/// The reason of every route of a function's error, without alert ids, ports and addresses.
fn route_reasons(error: &str) -> Vec<String> {
    let routes = match error.split_once("left retryable: ") {
        Some((_, routes)) => routes.split("; ").map(str::to_owned).collect(),
        None => vec![error.to_owned()],
    };
    routes
        .into_iter()
        .map(|route| {
            // `alert `a` integration `i` step `s`: reason` → `reason`.
            let reason = route
                .rsplit_once("`: ")
                .map_or(route.as_str(), |(_, reason)| reason)
                .to_owned();
            let mut clean = String::new();
            let mut rest = reason.as_str();
            while let Some(at) = rest.find("http://127.0.0.1:") {
                clean.push_str(&rest[..at]);
                clean.push_str("http://127.0.0.1:PORT");
                rest =
                    rest[at + "http://127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
            }
            clean.push_str(rest);
            clean
        })
        .collect()
}

async fn queue_depth(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Result<usize, String> {
    use aws_sdk_sqs::types::QueueAttributeName;
    let attributes = sqs
        .get_queue_attributes()
        .queue_url(queue_url)
        .attribute_names(QueueAttributeName::All)
        .send()
        .await
        .map_err(|error| format!("sqs GetQueueAttributes: {}", aws(&error)))?
        .attributes
        .unwrap_or_default();
    Ok([
        QueueAttributeName::ApproximateNumberOfMessages,
        QueueAttributeName::ApproximateNumberOfMessagesNotVisible,
    ]
    .iter()
    .filter_map(|name| attributes.get(name))
    .filter_map(|count| count.parse::<usize>().ok())
    .sum())
}

fn check_deliveries(report: &mut FaultReport, published: &[Published], receivers: &Receivers, proxy: &Proxy) {
    let mut expected: BTreeSet<(String, String)> = BTreeSet::new();
    for alert in published {
        for &kind in IntegrationKind::ALL {
            expected.insert((alert.id.clone(), kinds::integration_id(kind, alert.service)));
        }
    }
    report.routes = expected.len();
    let mut delivered: BTreeMap<(String, String), Vec<u64>> = BTreeMap::new();
    for &kind in IntegrationKind::ALL {
        delivered.extend(kinds::deliveries(kind, receivers, proxy));
    }
    for route in &expected {
        match delivered.get(route).map(Vec::as_slice) {
            None | Some([]) => {
                report.lost += 1;
                if report.examples.len() < 10 {
                    report
                        .examples
                        .push(format!("lost: alert {} to {}", route.0, route.1));
                }
            }
            Some([times]) => {
                report.delivered_once += 1;
                report.absorbed_by_webhook_id += times.saturating_sub(1);
            }
            Some(many) => {
                report.duplicates += 1;
                if report.examples.len() < 10 {
                    report.examples.push(format!(
                        "duplicate: alert {} to {}: {} distinct deliveries",
                        route.0,
                        route.1,
                        many.len()
                    ));
                }
            }
        }
    }
    report.unexpected = delivered
        .keys()
        .filter(|route| !expected.contains(*route) && !route.0.contains("-kill-"))
        .count();
}

/// The final status, in the delivery log, of every expected route.
async fn delivery_log(
    dynamo: &aws_sdk_dynamodb::Client,
    table: &str,
    published: &[Published],
) -> Result<BTreeMap<String, usize>, String> {
    use aws_sdk_dynamodb::types::AttributeValue;
    let mut states: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut start = None;
    loop {
        let page = dynamo
            .scan()
            .table_name(table)
            .filter_expression("kind = :state")
            .expression_attribute_values(":state", AttributeValue::S("state".to_owned()))
            .set_exclusive_start_key(start.take())
            .send()
            .await
            .map_err(|error| format!("dynamodb Scan: {}", aws(&error)))?;
        for item in page.items.unwrap_or_default() {
            let text = |name: &str| {
                item.get(name)
                    .and_then(|v| v.as_s().ok())
                    .cloned()
                    .unwrap_or_default()
            };
            states.insert((text("alertId"), text("integrationId")), text("status"));
        }
        match page.last_evaluated_key {
            Some(key) if !key.is_empty() => start = Some(key),
            _ => break,
        }
    }
    let mut by_status: BTreeMap<String, usize> = BTreeMap::new();
    for alert in published {
        for &kind in IntegrationKind::ALL {
            let route = (alert.id.clone(), kinds::integration_id(kind, alert.service));
            let status = states
                .get(&route)
                .cloned()
                .unwrap_or_else(|| "missing".to_owned());
            *by_status.entry(status).or_default() += 1;
        }
    }
    Ok(by_status)
}

/// What a kill run needs of the suite.
struct KillSetup<'a> {
    executable: &'a std::path::Path,
    settings: &'a [(String, String)],
    run: &'a str,
    receivers: &'a Receivers,
    proxy: &'a Proxy,
    dynamo: &'a aws_sdk_dynamodb::Client,
    deliveries_table: &'a str,
}

/// The claim lifetime of the kill runs: one attempt of 3 s and the 5 s margin.
const KILL_CLAIM: Duration = Duration::from_secs(8);

async fn kill_run(kind: IntegrationKind, setup: &KillSetup<'_>) -> Result<KillRun, String> {
    let KillSetup {
        executable,
        settings,
        run,
        receivers,
        proxy,
        dynamo,
        deliveries_table,
    } = *setup;
    let alert = format!("{run}-kill-{kind}");
    let integration = kinds::integration_id(kind, 0);
    let message = json!({
        "version": 1,
        "alert": {"alertGuid": alert, "type": "Alert", "description": "The function is killed mid-delivery."},
        "monitor": {"name": "svc-0"},
    });
    let event = lambda::lambda_event(&json!({
        "Type": "Notification",
        "MessageId": uuid::Uuid::new_v4().to_string(),
        "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts",
        "Message": message.to_string(),
        "Timestamp": chrono::Utc::now().to_rfc3339(),
    }));
    let mut settings = settings.to_vec();
    settings.extend(
        [
            ("AWS_ENDPOINT_URL", proxy.url()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
        ]
        .map(|(name, value)| (name.to_owned(), value)),
    );
    // Claims must outlive an attempt (the function refuses a shorter lifetime); here they expire
    // soon after the kill. The held send waits for the kill, which comes as soon as it arrives.
    for (name, value) in &mut settings {
        match name.as_str() {
            "TOCSIN_CLAIM_SECONDS" => *value = KILL_CLAIM.as_secs().to_string(),
            "TOCSIN_HTTP_TIMEOUT_MS" => *value = "2000".to_owned(),
            "TOCSIN_HTTP_CONNECT_TIMEOUT_MS" => *value = "1000".to_owned(),
            _ => {}
        }
    }
    let api = RuntimeApi::start(Duration::from_secs(120)).await?;
    let held = kinds::hold_next(kind, receivers, proxy);

    // WHEN the function is killed while its send waits at the target
    let mut first = FunctionProcess::start(executable, kind, &api, &settings)?;
    api.invoke(&event);
    tokio::time::timeout(Duration::from_secs(60), held)
        .await
        .map_err(|_| format!("kill run of {kind}: the send never reached the target"))?
        .map_err(|_| format!("kill run of {kind}: the hold was dropped"))?;
    let claimed_at = Instant::now();
    first.kill().await?;

    // AND Lambda retries the event in a new process, while the claim holds and after it expired
    let mut second = FunctionProcess::start(executable, kind, &api, &settings)?;
    let while_claimed = api.invoke(&event);
    let while_claimed = describe(api.outcome(&while_claimed).await?);
    let expiry = KILL_CLAIM + Duration::from_millis(500);
    tokio::time::sleep(expiry.saturating_sub(claimed_at.elapsed())).await;
    let after_expiry = api.invoke(&event);
    let after_expiry = describe(api.outcome(&after_expiry).await?);
    second.kill().await?;

    let deliveries = kinds::deliveries(kind, receivers, proxy);
    let times = deliveries
        .get(&(alert.clone(), integration.clone()))
        .cloned()
        .unwrap_or_default();
    let log = DynamoDeliveryLog::new(dynamo.clone(), deliveries_table, LogTimes::default());
    let states = log.states(&alert).await.map_err(|error| error.to_string())?;
    let history = log.history(&alert).await.map_err(|error| error.to_string())?;
    Ok(KillRun {
        kind,
        alert,
        retry_while_claimed: while_claimed,
        retry_after_expiry: after_expiry,
        deliveries: times.len(),
        times_processed: times,
        final_status: states
            .iter()
            .find(|state| state.key.integration_id == integration)
            .map(|state| format!("{:?}", state.status).to_lowercase())
            .unwrap_or_else(|| "missing".to_owned()),
        history: history
            .iter()
            .filter(|record| record.key.integration_id == integration)
            .map(|record| {
                format!(
                    "#{} {}{}",
                    record.attempt,
                    serde_json::to_value(record.outcome)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default(),
                    if record.error.as_deref() == Some(notify_core::pipeline::TAKEN_OVER) {
                        " (taken over)"
                    } else {
                        ""
                    }
                )
            })
            .collect(),
    })
}

fn describe(outcome: Outcome) -> String {
    match outcome {
        Outcome::Response(body) => {
            let report: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            format!("ok, delivered {}", report["delivered"])
        }
        Outcome::Error(body) => {
            let error: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            let message = error["errorMessage"].as_str().unwrap_or(&body).to_owned();
            let reason = route_reasons(&message).join("; ");
            format!("error: {reason}")
        }
    }
}

/// An SDK error with its source chain, on one line.
fn aws(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
