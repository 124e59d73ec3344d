//! `tocsin demo`: the whole path on the local emulator, end to end.
//!
//! Creates the tables, the topic, the SES identity and the demo secrets in the emulator, applies the
//! definitions, subscribes a local bridge to the topic (standing in for Lambda's SNS trigger: it wraps
//! each SNS HTTP notification in the Lambda SNS event and hands it to the real function code), starts
//! a webhook receiver and a local voice endpoint (the emulator lacks the voice API), publishes every
//! sample alert, and prints what was delivered: the e-mails and text messages as the emulator
//! recorded them, the requests the receiver got, the voice calls the voice endpoint got, and the
//! delivery log.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use alert_model::IntegrationKind;
use definition_store::{Definitions, DynamoDbStore, VariableDef};
use notify_core::{
    Config, DynamoDeliveryLog, EventHandler, EventReport, LogTimes, Transport,
    metrics::MetricsSink,
    sms_voice::{self, VoiceRequest},
};
use tokio::sync::mpsc;

use crate::{
    CliError, aws,
    commands::{
        local, log, read,
        serve::{Received, serve},
        validate,
    },
};

const DEFINITIONS_TABLE: &str = "tocsin-demo-definitions";
const DELIVERIES_TABLE: &str = "tocsin-demo-deliveries";
const TOPIC: &str = "tocsin-demo-alerts";
/// A request the receiver got, with the kind's own answer to it (`<status> <body>`) when it has one.
type Answered = (Received, Option<String>);

/// The receiver's address; `examples/definitions.yaml` sends webhooks to it (`BaseUrl`).
const RECEIVER: &str = "127.0.0.1:8787";

pub(crate) async fn run(file: &Path, alerts: &Path) -> Result<(), CliError> {
    let endpoint = local_endpoint()?;
    println!("== Tocsin demo against the local emulator at {endpoint}");
    let definitions = validate::load_valid(file)?;
    let sdk = aws::sdk_config().await;

    let topic_arn = setup(&sdk, &definitions, DEFINITIONS_TABLE, DELIVERIES_TABLE, TOPIC).await?;
    println!(
        "applied {} ({} integrations, {} alert definitions) to table {DEFINITIONS_TABLE}",
        file.display(),
        definitions.integrations.len(),
        definitions.alert_definitions.len()
    );
    let sns = aws_sdk_sns::Client::new(&sdk);

    // The webhook receiver and the bridge from the topic to the functions.
    // Each request with the kind's own answer to it, when it has one (a Slack `ts`).
    let received: Arc<Mutex<Vec<Answered>>> = Arc::default();
    let log_received = Arc::clone(&received);
    let receiver_addr: SocketAddr = RECEIVER
        .parse()
        .map_err(|_| CliError::Input("bad receiver address".to_owned()))?;
    let (_, receiver_task) = serve(receiver_addr, move |request| {
        let received = Arc::clone(&log_received);
        async move {
            // Each kind's target answers as it does (a Slack `ts`, a ServiceNow `sys_id`, …).
            let path = request.path.split('?').next().unwrap_or_default().to_owned();
            let answer = kinds::sample_answer(&notify_core::SampleRequest {
                method: &request.method,
                path: &path,
                body: &request.body,
            });
            let shown = answer
                .as_ref()
                .map(|answer| format!("{} {}", answer.status, answer.body));
            if let Ok(mut list) = received.lock() {
                list.push((request, shown));
            }
            match answer {
                Some(answer) => (answer.status, answer.body),
                None => (200, "{\"ok\":true}".to_owned()),
            }
        }
    })
    .await?;
    // The local voice endpoint: `SendVoiceMessage` checked and answered as the service does.
    let calls: Arc<Mutex<Vec<VoiceReceived>>> = Arc::default();
    let voice_calls = Arc::clone(&calls);
    let (voice_addr, voice_task) = serve(
        "127.0.0.1:0"
            .parse()
            .map_err(|_| CliError::Input("bad address".to_owned()))?,
        move |request| {
            let calls = Arc::clone(&voice_calls);
            async move {
                let headers: Vec<(String, String)> = request.headers.clone().into_iter().collect();
                let checked = sms_voice::check(&VoiceRequest {
                    method: &request.method,
                    path: &request.path,
                    headers: &headers,
                    body: request.body.as_bytes(),
                });
                let answer = match &checked {
                    Ok(call) => sms_voice::VoiceAnswer::accepted(&call.message_id),
                    Err(answer) => answer.clone(),
                };
                if let Ok(mut list) = calls.lock() {
                    list.push(VoiceReceived {
                        request,
                        status: answer.status,
                        answer: answer.body.clone(),
                    });
                }
                (answer.status, answer.body)
            }
        },
    )
    .await?;
    let voice_endpoint = format!("http://{voice_addr}");
    let (events_tx, mut events_rx) = mpsc::unbounded_channel::<serde_json::Value>();
    let bridge_topic = topic_arn.clone();
    let (bridge_addr, bridge_task) = serve(
        "127.0.0.1:0"
            .parse()
            .map_err(|_| CliError::Input("bad address".to_owned()))?,
        move |request| {
            let events_tx = events_tx.clone();
            let topic = bridge_topic.clone();
            async move {
                match lambda_event(&request.body, &topic) {
                    Ok(event) => {
                        let _ = events_tx.send(event);
                        (200, String::new())
                    }
                    Err(reason) => (400, reason),
                }
            }
        },
    )
    .await?;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("http")
        .endpoint(format!("http://{bridge_addr}/sns"))
        .send()
        .await
        .map_err(|err| CliError::Aws(format!("sns Subscribe: {}", chain(&err))))?;
    let names: Vec<String> = IntegrationKind::ALL
        .iter()
        .map(|kind| kind.function_name())
        .collect();
    println!(
        "topic {topic_arn} → bridge http://{bridge_addr}/sns → {}",
        names.join(", ")
    );

    // The functions, as Lambda would build them: every kind's; voice calls go to the local voice
    // endpoint, as `AWS_ENDPOINT_URL_PINPOINT_SMS_VOICE_V2` would send them.
    let config = demo_config()?;
    let init = local::init(&config, &sms_voice::with_endpoint(&sdk, &voice_endpoint))?;
    let functions = IntegrationKind::ALL
        .iter()
        .map(|kind| kinds::handler(*kind, &init, MetricsSink::Off).map_err(|err| local::constructed(&err)))
        .collect::<Result<Vec<_>, _>>()?;

    let mut alert_ids = Vec::new();
    let mut failures = 0usize;
    let mut first_event = None;
    for path in sample_files(alerts)? {
        let message = read(&path)?;
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let subject = subject_for(&name);
        let published = sns
            .publish()
            .topic_arn(&topic_arn)
            .message(message)
            .set_subject(subject)
            .send()
            .await
            .map_err(|err| CliError::Aws(format!("sns Publish: {}", chain(&err))))?;
        let event = tokio::time::timeout(Duration::from_secs(10), events_rx.recv())
            .await
            .ok()
            .flatten()
            .ok_or_else(|| CliError::Aws("the topic did not deliver the message to the bridge".to_owned()))?;
        let record = event
            .get("Records")
            .and_then(|records| records.get(0))
            .cloned()
            .unwrap_or_default();
        let alert = notify_core::pipeline::alert_from_record(&record).map_err(CliError::Input)?;
        println!(
            "\n-- published {} (SNS message {}) → alert {} ({}, monitor \"{}\")",
            path.display(),
            published.message_id.unwrap_or_default(),
            alert.alert.alert_guid,
            alert.alert.alert_type,
            alert.monitor.name
        );
        failures += deliver(&functions, &event).await;
        alert_ids.push(alert.alert.alert_guid.clone());
        first_event.get_or_insert(event);
    }

    if let Some(event) = first_event {
        println!("\n-- the first event again (SNS and Lambda deliver at least once):");
        failures += deliver(&functions, &event).await;
    }

    // What reached each transport the kinds use, each shown once.
    let mut transports: Vec<Transport> = IntegrationKind::ALL
        .iter()
        .map(|kind| kinds::transport(*kind))
        .collect();
    // Each once, though kinds of one transport need not be next to each other.
    let mut shown = Vec::new();
    transports.retain(|transport| {
        let first = !shown.contains(transport);
        shown.push(*transport);
        first
    });
    for transport in transports {
        match transport {
            Transport::Ses => print_emails(&endpoint).await?,
            Transport::SnsSms => print_sms(&endpoint).await?,
            Transport::Http => print_requests(&received),
            Transport::PinpointVoice => print_voice_calls(&calls, &voice_endpoint),
        }
    }
    println!("\n== Delivery log (table {DELIVERIES_TABLE})");
    let deliveries = DynamoDeliveryLog::new(
        aws_sdk_dynamodb::Client::new(&sdk),
        DELIVERIES_TABLE,
        LogTimes::default(),
    );
    for alert_id in &alert_ids {
        log::print(&deliveries, alert_id, false).await?;
    }
    receiver_task.abort();
    bridge_task.abort();
    voice_task.abort();
    if failures == 0 {
        println!("\n== Demo finished: every route delivered once.");
        Ok(())
    } else {
        Err(CliError::Aws(format!("{failures} route(s) were not delivered")))
    }
}

/// Runs the event through every function at once, as SNS invokes them all, and prints their
/// reports; returns the routes not delivered.
async fn deliver(functions: &[Box<dyn EventHandler>], event: &serde_json::Value) -> usize {
    let deadline = Instant::now() + Duration::from_secs(60);
    let results = futures_util::future::join_all(
        functions
            .iter()
            .map(|function| async move { (function.kind(), function.handle(event, deadline).await) }),
    )
    .await;
    let mut failures = 0;
    for (kind, result) in results {
        let report = match &result {
            Ok(report) => *report,
            Err(err) => {
                println!("   {}: {err}", kind.function_name());
                *err.report()
            }
        };
        failures += report.failed + report.retryable + report.rejected;
        println!("   {}: {}", kind.function_name(), describe(&report));
    }
    failures
}

fn describe(report: &EventReport) -> String {
    format!(
        "{} route(s): {} delivered, {} skipped (already delivered or nothing to send), {} failed, {} retryable",
        report.routes, report.delivered, report.skipped, report.failed, report.retryable
    )
}

/// Creates in the emulator what `infra/template.yaml` creates in AWS (both tables, the topic), plus
/// what an operator would set up by hand (the SES sender identities, made-up values for the `ssm:`
/// secrets), and applies `definitions`. Returns the topic ARN.
pub(crate) async fn setup(
    sdk: &aws_config::SdkConfig,
    definitions: &Definitions,
    definitions_table: &str,
    deliveries_table: &str,
    topic: &str,
) -> Result<String, CliError> {
    let dynamo = aws_sdk_dynamodb::Client::new(sdk);
    DynamoDbStore::create_table(&dynamo, definitions_table)
        .await
        .map_err(aws_err)?;
    notify_core::deliveries::create_table(&dynamo, deliveries_table)
        .await
        .map_err(aws_err)?;
    let topic_arn = aws_sdk_sns::Client::new(sdk)
        .create_topic()
        .name(topic)
        .send()
        .await
        .map_err(|err| CliError::Aws(format!("sns CreateTopic: {}", chain(&err))))?
        .topic_arn
        .unwrap_or_default();
    verify_senders(sdk, definitions).await?;
    store_demo_secrets(sdk, definitions).await?;
    DynamoDbStore::new(dynamo, definitions_table)
        .apply(definitions)
        .await
        .map_err(aws_err)?;
    Ok(topic_arn)
}

/// `tocsin local-setup`: [`setup`] with the table names of the environment, for `cargo lambda watch`.
pub(crate) async fn local_setup(file: &Path) -> Result<(), CliError> {
    let endpoint = local_endpoint()?;
    let definitions = validate::load_valid(file)?;
    let definitions_table = aws::setting(None, "DEFINITIONS_TABLE", "Definitions");
    let deliveries_table = aws::setting(None, "DELIVERIES_TABLE", "Deliveries");
    let topic = aws::setting(None, "TOCSIN_TOPIC_NAME", "alerts");
    let topic_arn = setup(
        &aws::sdk_config().await,
        &definitions,
        &definitions_table,
        &deliveries_table,
        &topic,
    )
    .await?;
    println!("emulator {endpoint}: tables {definitions_table} and {deliveries_table}, topic {topic_arn}");
    println!(
        "applied {} and stored made-up values for its ssm: secrets",
        file.display()
    );
    Ok(())
}

/// The demo refuses to touch real AWS.
fn local_endpoint() -> Result<String, CliError> {
    let endpoint = std::env::var("AWS_ENDPOINT_URL").unwrap_or_default();
    let local = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"];
    if local.iter().any(|prefix| endpoint.starts_with(prefix)) {
        Ok(endpoint)
    } else {
        Err(CliError::Input(
            "the demo runs only against the local emulator: set AWS_ENDPOINT_URL to it (make demo does)"
                .to_owned(),
        ))
    }
}

/// The functions' settings for the demo: the demo tables, and the SSRF guard opened for the
/// loopback receiver only.
fn demo_config() -> Result<Config, CliError> {
    Config::from_lookup(|name| match name {
        "DEFINITIONS_TABLE" => Some(DEFINITIONS_TABLE.to_owned()),
        "DELIVERIES_TABLE" => Some(DELIVERIES_TABLE.to_owned()),
        "TOCSIN_DEFINITIONS_FILE" => None,
        "TOCSIN_ALLOW_HOSTS" => Some("127.0.0.1,localhost".to_owned()),
        "TOCSIN_ALLOW_HTTP" => Some("true".to_owned()),
        "TOCSIN_HTTP_TIMEOUT_MS" => Some("5000".to_owned()),
        _ => std::env::var(name).ok(),
    })
    .map_err(|err| CliError::Input(err.to_string()))
}

/// SES sends only from verified identities: verify the sender (`settings.from`) of every integration
/// whose kind sends through SES, and the functions' default sender.
async fn verify_senders(sdk: &aws_config::SdkConfig, definitions: &Definitions) -> Result<(), CliError> {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    let default_from = std::env::var("TOCSIN_EMAIL_FROM").ok();
    let senders = definitions
        .integrations
        .iter()
        .filter(|integration| kinds::transport(integration.kind) == Transport::Ses)
        .filter_map(|integration| integration.settings.get("from").and_then(|from| from.as_str()))
        .chain(default_from.as_deref().filter(|from| !from.is_empty()));
    for sender in senders {
        let address = sender
            .rsplit('<')
            .next()
            .unwrap_or(sender)
            .trim_end_matches('>')
            .trim();
        ses.create_email_identity()
            .email_identity(address)
            .send()
            .await
            .map_err(|err| CliError::Aws(format!("ses CreateEmailIdentity `{address}`: {}", chain(&err))))?;
    }
    Ok(())
}

/// Stores a made-up value for every `ssm:` secret the definitions reference.
async fn store_demo_secrets(sdk: &aws_config::SdkConfig, definitions: &Definitions) -> Result<(), CliError> {
    let ssm = aws_sdk_ssm::Client::new(sdk);
    let references = definitions
        .integrations
        .iter()
        .flat_map(|integration| integration.variables.values())
        .filter_map(|variable| match variable {
            VariableDef::Secret { secret } => secret.0.strip_prefix("ssm:"),
            _ => None,
        });
    for (index, name) in references.enumerate() {
        ssm.put_parameter()
            .name(name)
            .value(format!("{DEMO_SECRET}{index}-{}", std::process::id()))
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .map_err(|err| CliError::Aws(format!("ssm PutParameter `{name}`: {}", chain(&err))))?;
    }
    Ok(())
}

/// How every made-up secret value of the demo starts (`demo-secret-<n>-<pid>`).
const DEMO_SECRET: &str = "demo-secret-";

/// `text` with every demo secret value as `[secret]`: a webhook URL's path or a body may hold one,
/// which a printout never shows.
fn masked(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find(DEMO_SECRET) {
        out.push_str(&rest[..start]);
        out.push_str("[secret]");
        let after = &rest[start + DEMO_SECRET.len()..];
        let end = after
            .find(|c: char| !(c.is_ascii_digit() || c == '-'))
            .unwrap_or(after.len());
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// Wraps an SNS HTTP notification in the event Lambda's SNS trigger would pass.
fn lambda_event(body: &str, topic_arn: &str) -> Result<serde_json::Value, String> {
    let notification: serde_json::Value =
        serde_json::from_str(body).map_err(|err| format!("not an SNS notification: {err}"))?;
    Ok(serde_json::json!({
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": format!("{topic_arn}:demo"),
            "Sns": notification,
        }]
    }))
}

/// The samples in a readable order: the native incident first (Alert, Reminder, Ok), then the rest.
fn sample_files(folder: &Path) -> Result<Vec<PathBuf>, CliError> {
    let entries = std::fs::read_dir(folder).map_err(|source| CliError::Read {
        path: folder.display().to_string(),
        source,
    })?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_file())
        .collect();
    let rank = |path: &PathBuf| {
        let name = path
            .file_stem()
            .map(|stem| stem.to_string_lossy().into_owned())
            .unwrap_or_default();
        let position = ["alert", "reminder", "ok"]
            .iter()
            .position(|first| *first == name);
        (position.unwrap_or(usize::MAX), name)
    };
    files.sort_by_key(rank);
    Ok(files)
}

/// The SNS subject a real sender would set.
fn subject_for(sample: &str) -> Option<String> {
    match sample {
        "cloudwatch-alarm" => Some("ALARM: \"HighCPU\" in EU (Milan)".to_owned()),
        "alertmanager" => Some("[FIRING:1] HighLatency".to_owned()),
        _ => None,
    }
}

/// The e-mails as SES recorded them in the emulator.
async fn print_emails(endpoint: &str) -> Result<(), CliError> {
    let data = moto_data(endpoint).await?;
    let messages = data
        .pointer("/ses/Message")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    println!("\n== E-mails recorded by SES in the emulator: {}", messages.len());
    for message in &messages {
        let to: Vec<String> = ["ToAddresses", "CcAddresses", "BccAddresses"]
            .iter()
            .filter_map(|field| {
                message
                    .pointer(&format!("/destinations/{field}"))
                    .and_then(|v| v.as_array())
            })
            .flatten()
            .filter_map(|address| address.as_str().map(str::to_owned))
            .collect();
        println!("\nfrom:    {}", text(message, "/source"));
        println!("to:      {}", to.join(", "));
        println!("subject: {}", text(message, "/subject"));
        let body = text(message, "/body");
        let shown: Vec<&str> = body
            .lines()
            .filter(|line| !line.trim().is_empty())
            .take(12)
            .collect();
        println!("body ({} bytes, first lines):", body.len());
        for line in shown {
            println!("  | {}", line.trim().chars().take(110).collect::<String>());
        }
    }
    Ok(())
}

/// The text messages as SNS recorded them in the emulator.
async fn print_sms(endpoint: &str) -> Result<(), CliError> {
    let data = moto_data(endpoint).await?;
    let messages = data
        .pointer("/sns/SMS")
        .and_then(serde_json::Value::as_array)
        .cloned()
        .unwrap_or_default();
    println!(
        "\n== Text messages recorded by SNS in the emulator: {}",
        messages.len()
    );
    for message in &messages {
        println!("\nto:      {}", text(message, "/phone_number"));
        for line in text(message, "/message").lines() {
            println!("  | {}", masked(line));
        }
    }
    Ok(())
}

/// The emulator's record of what it did (`/moto-api/data.json`).
async fn moto_data(endpoint: &str) -> Result<serde_json::Value, CliError> {
    let url = format!("{}/moto-api/data.json", endpoint.trim_end_matches('/'));
    reqwest::get(&url)
        .await
        .map_err(|err| CliError::Aws(format!("cannot read {url}: {err}")))?
        .text()
        .await
        .ok()
        .and_then(|body| serde_json::from_str(&body).ok())
        .ok_or_else(|| CliError::Aws(format!("cannot read {url}: not JSON")))
}

fn text(value: &serde_json::Value, pointer: &str) -> String {
    value
        .pointer(pointer)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

/// The requests the webhook receiver got, with the kind's own answer when it has one (a Slack
/// message's `ts`, which a thread reply's `thread_ts` and an update's `ts` then name); credentials
/// (`Authorization`, the demo's secret values) are masked.
fn print_requests(received: &Mutex<Vec<Answered>>) {
    let requests = received.lock().map(|list| list.clone()).unwrap_or_default();
    println!(
        "\n== Webhook requests received at http://{RECEIVER}: {}",
        requests.len()
    );
    for (request, answer) in &requests {
        println!("\n{} {}", request.method, masked(&request.path));
        let headers: BTreeMap<&String, String> = request
            .headers
            .iter()
            .map(|(name, value)| {
                let shown = if name.eq_ignore_ascii_case("authorization") {
                    format!("{} [redacted]", value.split(' ').next().unwrap_or_default())
                } else {
                    masked(value)
                };
                (name, shown)
            })
            .collect();
        for (name, value) in headers {
            if name != "host" && name != "accept" {
                println!("  {name}: {value}");
            }
        }
        let lines = body_lines(&request.body);
        for line in lines.iter().take(30) {
            println!("  | {}", masked(line));
        }
        if lines.len() > 30 {
            println!("  | … {} more lines", lines.len() - 30);
        }
        if let Some(answer) = answer {
            println!("  → answered {}", masked(answer));
        }
    }
}

/// A request body as lines: a JSON object with its plain values first (where a message goes, the
/// thread it replies to, the message it updates), then the nested ones pretty-printed; other JSON
/// pretty-printed; anything else as it is.
fn body_lines(body: &str) -> Vec<String> {
    let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else {
        return body.lines().map(str::to_owned).collect();
    };
    let pretty = |value: &serde_json::Value| serde_json::to_string_pretty(value).unwrap_or_default();
    let Some(object) = json.as_object() else {
        return pretty(&json).lines().map(str::to_owned).collect();
    };
    let (plain, nested): (Vec<_>, Vec<_>) = object
        .iter()
        .partition(|(_, value)| !(value.is_object() || value.is_array()));
    let mut lines = Vec::new();
    for (key, value) in plain.into_iter().chain(nested) {
        let text = pretty(value);
        let mut text_lines = text.lines();
        lines.push(format!("{key}: {}", text_lines.next().unwrap_or_default()));
        lines.extend(text_lines.map(str::to_owned));
    }
    lines
}

/// A request at the local voice endpoint and the status and body it was answered with.
#[derive(Debug, Clone)]
struct VoiceReceived {
    request: Received,
    status: u16,
    answer: String,
}

/// The voice calls the local voice endpoint got: the `SendVoiceMessage` requests (credentials
/// masked) with their answers, and the spoken script of each.
fn print_voice_calls(calls: &Mutex<Vec<VoiceReceived>>, endpoint: &str) {
    let calls = calls.lock().map(|list| list.clone()).unwrap_or_default();
    println!(
        "\n== Voice calls received at the local voice endpoint {endpoint} (the emulator lacks SendVoiceMessage): {}",
        calls.len()
    );
    for call in &calls {
        let request = &call.request;
        println!(
            "\n{} {} → {} {}",
            request.method, request.path, call.status, call.answer
        );
        for (name, value) in &request.headers {
            let shown = match name.as_str() {
                "authorization" => format!("{} [redacted]", value.split(' ').next().unwrap_or_default()),
                "x-amz-target" | "content-type" | "x-amz-date" => value.clone(),
                _ => continue,
            };
            println!("  {name}: {shown}");
        }
        let body: serde_json::Value = serde_json::from_str(&request.body).unwrap_or_default();
        for field in [
            "DestinationPhoneNumber",
            "OriginationIdentity",
            "VoiceId",
            "MessageBodyTextType",
            "TimeToLive",
        ] {
            if let Some(value) = body.get(field) {
                let text = value.as_str().map_or_else(|| value.to_string(), str::to_owned);
                println!("  {field}: {}", definition_store::escape_controls(&text));
            }
        }
        let script = body["MessageBody"].as_str().unwrap_or_default();
        println!("  MessageBody ({} characters):", script.chars().count());
        // Alert values reach the script: control characters are shown escaped.
        for line in script.lines() {
            println!("  | {}", definition_store::escape_controls(line));
        }
    }
}

fn aws_err(err: impl std::fmt::Display) -> CliError {
    CliError::Aws(err.to_string())
}

fn chain(err: &dyn std::error::Error) -> String {
    crate::commands::publish::aws_error(err)
}
