//! `tocsin-load`: the whole path under load, in process.
//!
//! Starts a local keep-alive HTTP receiver (webhooks on `/hooks/…`, SES v2 `SendEmail` on
//! `/v2/email/outbound-emails`, Apprise on `/apprise/…`), optionally runs Apprise against it as a
//! child process (`--apprise PYTHON`: `scripts/apprise-load.py` with the same N × M notifications),
//! then drives the real runner (`notify_core::Pipeline` with the real notifiers) of every kind with
//! N SNS events (distinct alert guids), each reaching M routes, one event after another as one
//! Lambda container takes them; the M routes of an event are in flight together.
//!
//! `--receiver process` (default) runs the receiver as a child process (`tocsin-load --serve`), so
//! that the figures hold the runner's CPU and memory only; `--receiver inprocess` keeps it here.
//!
//! `--store memory`: definitions, secrets and the delivery log in memory (our own cost only).
//! `--store dynamo`: definitions and the delivery log in DynamoDB on the local emulator
//! (`TOCSIN_MOTO_URL`), as `build_pipeline` builds them for Lambda.
//!
//! Reports per kind: deliveries/s, per-route latency (event start → the route's send done) p50, p90,
//! p99, and the peak RSS of the process during the run (VmHWM, reset before each run); then the
//! ratio to Apprise measured in the same run. Every figure is also printed as a `RESULT {json}`
//! line for scripts/bench.sh.
//!
//! ```text
//! cargo run --release -p e2e --bin tocsin-load -- --events 200 --routes 10 --store memory --apprise .venv/bin/python
//! ```
#![allow(clippy::print_stdout)]

use std::{
    collections::HashMap,
    convert::Infallible,
    net::SocketAddr,
    process::ExitCode,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use alert_model::IntegrationKind;
use bytes::Bytes;
use definition_store::{Definitions, DynamoDbStore, MemoryStore};
use e2e::bench::{load_definitions, notifier_at, sample_alert_message};
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, body::Incoming, header, server::conn::http1, service::service_fn};
use hyper_util::rt::TokioIo;
use notify_core::{
    Config, DeliveryLog, EventReport, Kind, LogTimes, MemoryDeliveryLog, MemorySecrets, Notifier,
    NotifyError, Outgoing, Pipeline, RouteContext, Secrets, Sent, Settings, Transport, build_pipeline,
};
use serde_json::{Value, json};

const USAGE: &str = "usage: tocsin-load [--events N] [--routes M] [--store memory|dynamo] \
[--kind all|email|webhook] [--apprise PYTHON] [--receiver process|inprocess] [--sends N]";

/// The receiver answers its request counts here (not counted itself).
const COUNTS_PATH: &str = "/__counts";

/// The SES v2 `SendEmail` path.
const SES_PATH: &str = "/v2/email/outbound-emails";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Store {
    Memory,
    Dynamo,
}

impl Store {
    fn as_str(self) -> &'static str {
        match self {
            Store::Memory => "memory",
            Store::Dynamo => "dynamo",
        }
    }
}

#[derive(Debug)]
struct Args {
    events: usize,
    routes: usize,
    store: Store,
    kinds: Vec<IntegrationKind>,
    apprise: Option<String>,
    /// Run the receiver in a child process (its CPU and memory apart from ours), or in this one.
    receiver_process: bool,
    /// Be the receiver: print `PORT <port>`, serve until standard input closes.
    serve: bool,
    /// `TOCSIN_MAX_CONCURRENT_SENDS` of the runner (its default when absent).
    sends: Option<usize>,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        events: 200,
        routes: 10,
        store: Store::Memory,
        kinds: IntegrationKind::ALL.to_vec(),
        apprise: None,
        receiver_process: true,
        serve: false,
        sends: None,
    };
    let mut given = std::env::args().skip(1);
    while let Some(flag) = given.next() {
        let mut value = || {
            given
                .next()
                .ok_or_else(|| format!("`{flag}` needs a value; {USAGE}"))
        };
        let number = |text: String| -> Result<usize, String> {
            match text.parse::<usize>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!("`{flag}`: `{text}` is not a positive whole number")),
            }
        };
        match flag.as_str() {
            "--events" => args.events = number(value()?)?,
            "--routes" => args.routes = number(value()?)?,
            "--sends" => args.sends = Some(number(value()?)?),
            "--store" => {
                args.store = match value()?.as_str() {
                    "memory" => Store::Memory,
                    "dynamo" => Store::Dynamo,
                    other => return Err(format!("`--store {other}`: expected memory or dynamo")),
                }
            }
            "--kind" => {
                let text = value()?;
                args.kinds = if text == "all" {
                    IntegrationKind::ALL.to_vec()
                } else {
                    vec![text.parse().map_err(|error| format!("`--kind`: {error}"))?]
                };
            }
            "--apprise" => args.apprise = Some(value()?),
            "--receiver" => {
                args.receiver_process = match value()?.as_str() {
                    "process" => true,
                    "inprocess" => false,
                    other => return Err(format!("`--receiver {other}`: expected process or inprocess")),
                }
            }
            "--serve" => args.serve = true,
            "-h" | "--help" => return Err(USAGE.to_owned()),
            other => return Err(format!("unknown argument `{other}`; {USAGE}")),
        }
    }
    Ok(args)
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

// ---------------------------------------------------------------------------------------------
// The receiver: HTTP/1.1 keep-alive, counts requests by path prefix, keeps nothing else.

#[derive(Debug, Default)]
struct Counters {
    webhook: AtomicU64,
    ses: AtomicU64,
    sns: AtomicU64,
    apprise: AtomicU64,
    other: AtomicU64,
}

impl Counters {
    fn snapshot(&self) -> Value {
        json!({
            "webhook": self.webhook.load(Ordering::Relaxed),
            "ses": self.ses.load(Ordering::Relaxed),
            "sns": self.sns.load(Ordering::Relaxed),
            "apprise": self.apprise.load(Ordering::Relaxed),
            "other": self.other.load(Ordering::Relaxed),
        })
    }
}

/// The receiver's counts at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    webhook: u64,
    ses: u64,
    sns: u64,
    apprise: u64,
    other: u64,
}

impl Counts {
    fn from_json(value: &Value) -> Counts {
        let get = |key: &str| value.get(key).and_then(Value::as_u64).unwrap_or(0);
        Counts {
            webhook: get("webhook"),
            ses: get("ses"),
            sns: get("sns"),
            apprise: get("apprise"),
            other: get("other"),
        }
    }

    /// The requests that reached `kind`'s target, by the way it reaches it.
    fn of(&self, kind: IntegrationKind) -> u64 {
        match kinds::transport(kind) {
            Transport::Ses => self.ses,
            Transport::SnsSms => self.sns,
            Transport::Http => self.webhook,
        }
    }
}

/// The receiver, in this process or in a child process (`tocsin-load --serve`).
enum Receiver {
    Local(Arc<Counters>),
    Child(Mutex<std::process::Child>),
}

impl Receiver {
    async fn start(in_child: bool) -> Result<(SocketAddr, Receiver), String> {
        if !in_child {
            let (address, counters) = start_receiver().await?;
            return Ok((address, Receiver::Local(counters)));
        }
        tokio::task::spawn_blocking(|| {
            use std::io::BufRead;
            let exe =
                std::env::current_exe().map_err(|error| format!("receiver: no executable path: {error}"))?;
            let mut child = std::process::Command::new(exe)
                .arg("--serve")
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .map_err(|error| format!("receiver: cannot start the child process: {error}"))?;
            let stdout = child
                .stdout
                .take()
                .ok_or("receiver: no stdout of the child process")?;
            let mut line = String::new();
            std::io::BufReader::new(stdout)
                .read_line(&mut line)
                .map_err(|error| format!("receiver: cannot read its port: {error}"))?;
            let address: SocketAddr = line
                .trim()
                .strip_prefix("PORT ")
                .and_then(|port| port.parse::<u16>().ok())
                .map(|port| SocketAddr::from(([127, 0, 0, 1], port)))
                .ok_or_else(|| format!("receiver: unexpected first line `{}`", line.trim()))?;
            Ok((address, Receiver::Child(Mutex::new(child))))
        })
        .await
        .map_err(|error| format!("receiver: {error}"))?
    }

    async fn counts(&self, address: SocketAddr) -> Result<Counts, String> {
        match self {
            Receiver::Local(counters) => Ok(Counts::from_json(&counters.snapshot())),
            Receiver::Child(_) => tokio::task::spawn_blocking(move || {
                use std::io::{Read, Write};
                let mut stream = std::net::TcpStream::connect(address)
                    .map_err(|error| format!("receiver counts: {error}"))?;
                write!(
                    stream,
                    "GET {COUNTS_PATH} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
                )
                .map_err(|error| format!("receiver counts: {error}"))?;
                let mut response = String::new();
                stream
                    .read_to_string(&mut response)
                    .map_err(|error| format!("receiver counts: {error}"))?;
                let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
                let value: Value = serde_json::from_str(body)
                    .map_err(|error| format!("receiver counts: {error}: {body}"))?;
                Ok(Counts::from_json(&value))
            })
            .await
            .map_err(|error| format!("receiver counts: {error}"))?,
        }
    }

    /// Stops a child receiver (closing its standard input) and waits for it.
    fn stop(&self) {
        if let Receiver::Child(child) = self {
            let mut child = lock(child);
            drop(child.stdin.take());
            let _ = child.wait();
        }
    }
}

/// `--serve`: the receiver alone, until standard input closes.
async fn serve() -> Result<(), String> {
    use std::io::Write;
    let (address, _counters) = start_receiver().await?;
    let mut stdout = std::io::stdout();
    writeln!(stdout, "PORT {}", address.port()).map_err(|error| format!("serve: {error}"))?;
    stdout.flush().map_err(|error| format!("serve: {error}"))?;
    tokio::task::spawn_blocking(|| {
        use std::io::Read;
        let mut sink = Vec::new();
        let _ = std::io::stdin().read_to_end(&mut sink);
    })
    .await
    .map_err(|error| format!("serve: {error}"))
}

async fn start_receiver() -> Result<(SocketAddr, Arc<Counters>), String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|error| format!("receiver: cannot bind 127.0.0.1:0: {error}"))?;
    let address = listener
        .local_addr()
        .map_err(|error| format!("receiver: no local address: {error}"))?;
    let counters = Arc::new(Counters::default());
    let shared = Arc::clone(&counters);
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            let counters = Arc::clone(&shared);
            tokio::spawn(async move {
                let service = service_fn(move |request| answer(Arc::clone(&counters), request));
                let _ = http1::Builder::new()
                    .keep_alive(true)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((address, counters))
}

async fn answer(
    counters: Arc<Counters>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = request.uri().path().to_owned();
    // Read the whole body, as a real target does.
    let _ = request.into_body().collect().await;
    let (counter, body, json) = if path == COUNTS_PATH {
        (None, counters.snapshot().to_string(), true)
    } else if path == SES_PATH {
        let n = counters.ses.fetch_add(1, Ordering::Relaxed);
        (None, format!("{{\"MessageId\":\"load-{n}\"}}"), true)
    } else if path == "/" {
        // Amazon SNS (awsQuery): every POST to the root is a `Publish` to a phone number here.
        let n = counters.sns.fetch_add(1, Ordering::Relaxed);
        let body = format!(
            "<PublishResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><PublishResult><MessageId>load-{n}</MessageId></PublishResult><ResponseMetadata><RequestId>load</RequestId></ResponseMetadata></PublishResponse>"
        );
        let mut response = Response::new(Full::new(Bytes::from(body)));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, header::HeaderValue::from_static("text/xml"));
        return Ok(response);
    } else if path.starts_with("/hooks/") {
        (Some(&counters.webhook), "ok".to_owned(), false)
    } else if path.starts_with("/apprise") {
        (Some(&counters.apprise), "ok".to_owned(), false)
    } else {
        (Some(&counters.other), "ok".to_owned(), false)
    };
    if let Some(counter) = counter {
        counter.fetch_add(1, Ordering::Relaxed);
    }
    let mut response = Response::new(Full::new(Bytes::from(body)));
    if json {
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            header::HeaderValue::from_static("application/json"),
        );
    }
    Ok(response)
}

// ---------------------------------------------------------------------------------------------
// The real notifier, timed: when each send of the current event ends.

struct Timed<N> {
    inner: N,
    event_started: Mutex<Instant>,
    done: Mutex<Vec<Duration>>,
}

impl<N> Timed<N> {
    fn new(inner: N) -> Self {
        Timed {
            inner,
            event_started: Mutex::new(Instant::now()),
            done: Mutex::new(Vec::new()),
        }
    }
}

impl<N: Notifier> Notifier for Timed<N> {
    const KIND: IntegrationKind = N::KIND;
    type Target = N::Target;
    type Message = N::Message;

    fn target(&self, integration: &definition_store::Integration) -> Result<Self::Target, NotifyError> {
        self.inner.target(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &Self::Target,
    ) -> Result<Vec<Outgoing<Self::Message>>, NotifyError> {
        self.inner.build(route, target)
    }

    async fn send(&self, message: &Self::Message) -> Result<Sent, NotifyError> {
        let result = self.inner.send(message).await;
        let latency = lock(&self.event_started).elapsed();
        lock(&self.done).push(latency);
        result
    }

    fn describe(&self, message: &Self::Message) -> Value {
        self.inner.describe(message)
    }
}

// ---------------------------------------------------------------------------------------------
// Runs.

/// VmHWM of this process in MiB.
fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

/// A `/proc/self/status` figure in MiB.
fn status_mb(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|line| line.starts_with(field))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

/// Resets VmHWM to the current RSS (Linux `clear_refs` 5), so that each run reports its own peak.
fn reset_peak_rss() {
    let _ = std::fs::write("/proc/self/clear_refs", "5");
}

fn percentile(sorted: &[Duration], fraction: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let index = ((sorted.len() - 1) as f64 * fraction).round() as usize;
    sorted[index.min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

struct Run<'a> {
    args: &'a Args,
    run_id: String,
    receiver: &'a Receiver,
    address: SocketAddr,
}

impl Run<'_> {
    fn events(&self, kind: IntegrationKind, count: usize, tag: &str) -> Result<Vec<Value>, String> {
        (0..count)
            .map(|i| {
                let guid = format!("{}-{kind}-{tag}-{i}", self.run_id);
                let message = sample_alert_message(&guid)?;
                Ok(test_support::sns::event(&[(&format!("sns-{guid}"), &message)]))
            })
            .collect()
    }

    async fn measure<N, D, S, L>(
        &self,
        kind: IntegrationKind,
        pipeline: &Pipeline<Timed<N>, D, S, L>,
    ) -> Result<Value, String>
    where
        N: Notifier,
        D: definition_store::DefinitionSource,
        S: Secrets,
        L: DeliveryLog,
    {
        let args = self.args;
        let expected = (args.events * args.routes) as u64;
        // Warm-up: one event (loads the catalog, compiles the templates, opens connections).
        for event in self.events(kind, 1, "warm-up")? {
            handle(pipeline, &event).await?;
        }
        let events = self.events(kind, args.events, "run")?;
        lock(&pipeline.notifier().done).clear();
        let before = self.receiver.counts(self.address).await?.of(kind);
        reset_peak_rss();
        // What the process holds before the measured events (code pages, the catalog, compiled
        // templates, pooled connections, and everything the warm-up event left to the allocator).
        let before_rss = status_mb("VmRSS:");
        let started = Instant::now();
        let mut total = EventReport::default();
        for event in &events {
            *lock(&pipeline.notifier().event_started) = Instant::now();
            let report = handle(pipeline, event).await?;
            total.routes += report.routes;
            total.delivered += report.delivered;
            total.failed += report.failed;
            total.retryable += report.retryable;
        }
        let seconds = started.elapsed().as_secs_f64();
        let peak = peak_rss_mb();
        let received = self.receiver.counts(self.address).await?.of(kind) - before;
        if total.delivered as u64 != expected || received != expected {
            return Err(format!(
                "{kind}: expected {expected} deliveries, the runner reported {} delivered ({} failed, {} \
                 retryable) and the receiver got {received}",
                total.delivered, total.failed, total.retryable
            ));
        }
        let mut latencies = std::mem::take(&mut *lock(&pipeline.notifier().done));
        latencies.sort_unstable();
        Ok(json!({
            "tool": "tocsin",
            "kind": kind.as_str(),
            "store": args.store.as_str(),
            "events": args.events,
            "routes": args.routes,
            "deliveries": total.delivered,
            "seconds": seconds,
            "per_second": total.delivered as f64 / seconds,
            "p50_ms": percentile(&latencies, 0.50),
            "p90_ms": percentile(&latencies, 0.90),
            "p99_ms": percentile(&latencies, 0.99),
            "peak_rss_mb": peak,
            "rss_before_mb": before_rss,
        }))
    }
}

async fn handle<N, D, S, L>(pipeline: &Pipeline<N, D, S, L>, event: &Value) -> Result<EventReport, String>
where
    N: Notifier,
    D: definition_store::DefinitionSource,
    S: Secrets,
    L: DeliveryLog,
{
    pipeline
        .handle_event(event, Instant::now() + Duration::from_secs(600))
        .await
        .map_err(|error| format!("the event failed: {error}"))
}

fn settings(env: &[(&str, &str)]) -> Result<Config, String> {
    let env: HashMap<&str, &str> = env.iter().copied().collect();
    Config::from_lookup(|name| env.get(name).map(|value| (*value).to_owned()))
        .map_err(|error| format!("settings: {error}"))
}

async fn moto_sdk() -> Result<aws_config::SdkConfig, String> {
    let url = std::env::var("TOCSIN_MOTO_URL").map_err(|_| {
        "--store dynamo needs the local AWS emulator: export TOCSIN_MOTO_URL=$(scripts/local-stack.sh url)"
            .to_owned()
    })?;
    Ok(aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(url)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await)
}

/// Runs `notifier` over the store the arguments name.
/// [`run_kind`] with the real notifier of one kind, its AWS clients and HTTP targets at the receiver.
struct RunKind<'a> {
    run: &'a Run<'a>,
    base_url: &'a str,
    definitions: Definitions,
}

impl<'a> kinds::Visitor for RunKind<'a> {
    type Output = std::pin::Pin<Box<dyn std::future::Future<Output = Result<Value, String>> + 'a>>;

    fn visit<K: Kind>(self) -> Self::Output {
        Box::pin(async move {
            let notifier = notifier_at::<K>(self.base_url)?;
            run_kind(self.run, K::KIND, notifier, self.definitions).await
        })
    }
}

async fn run_kind<N: Notifier>(
    run: &Run<'_>,
    kind: IntegrationKind,
    notifier: N,
    definitions: Definitions,
) -> Result<Value, String> {
    match run.args.store {
        Store::Memory => {
            let pipeline = Pipeline::new(
                Timed::new(notifier),
                MemoryStore::new(definitions),
                MemorySecrets::new(),
                MemoryDeliveryLog::new(LogTimes::default()),
                Settings {
                    max_concurrent_sends: run.args.sends.unwrap_or(Settings::default().max_concurrent_sends),
                    ..Settings::default()
                },
            );
            run.measure(kind, &pipeline).await
        }
        Store::Dynamo => {
            let sdk = moto_sdk().await?;
            let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
            let definitions_table = format!("load-definitions-{}-{kind}", run.run_id);
            let deliveries_table = format!("load-deliveries-{}-{kind}", run.run_id);
            DynamoDbStore::create_table(&dynamo, &definitions_table)
                .await
                .map_err(|error| format!("create {definitions_table}: {error}"))?;
            notify_core::deliveries::create_table(&dynamo, &deliveries_table)
                .await
                .map_err(|error| format!("create {deliveries_table}: {error}"))?;
            DynamoDbStore::new(dynamo, definitions_table.clone())
                .apply(&definitions)
                .await
                .map_err(|error| format!("apply the definitions: {error}"))?;
            let sends = run.args.sends.map(|sends| sends.to_string());
            let mut env = vec![
                ("DEFINITIONS_TABLE", definitions_table.as_str()),
                ("DELIVERIES_TABLE", deliveries_table.as_str()),
                ("TOCSIN_ALLOW_HOSTS", "127.0.0.1"),
                ("TOCSIN_ALLOW_HTTP", "true"),
            ];
            if let Some(sends) = &sends {
                env.push(("TOCSIN_MAX_CONCURRENT_SENDS", sends));
            }
            let config = settings(&env)?;
            let pipeline = build_pipeline(Timed::new(notifier), &config, &sdk);
            run.measure(kind, &pipeline).await
        }
    }
}

async fn apprise(
    python: &str,
    address: SocketAddr,
    args: &Args,
    receiver: &Receiver,
) -> Result<Value, String> {
    let script = e2e::bench::workspace_root().join("scripts/apprise-load.py");
    let command = [
        python.to_owned(),
        script.display().to_string(),
        "--url".to_owned(),
        format!("json://{address}/apprise"),
        "--events".to_owned(),
        args.events.to_string(),
        "--routes".to_owned(),
        args.routes.to_string(),
    ];
    let before = receiver.counts(address).await?.apprise;
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(&command[0])
            .args(&command[1..])
            .output()
    })
    .await
    .map_err(|error| format!("apprise: {error}"))?
    .map_err(|error| format!("apprise: cannot run {python}: {error}"))?;
    if !output.status.success() {
        return Err(format!(
            "apprise failed ({}): {}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        ));
    }
    let stdout = String::from_utf8_lossy(&output.stdout);
    let line = stdout.lines().last().unwrap_or_default();
    let result: Value = serde_json::from_str(line)
        .map_err(|error| format!("apprise printed no result ({error}): {stdout}"))?;
    let received = receiver.counts(address).await?.apprise - before;
    // The warm-up notification reaches every route too.
    let expected = ((args.events + 1) * args.routes) as u64;
    if received != expected {
        return Err(format!(
            "apprise: the receiver got {received} requests, expected {expected}"
        ));
    }
    Ok(result)
}

fn print_result(result: &Value) {
    let text = |key: &str| result.get(key).map(ToString::to_string).unwrap_or_default();
    let number = |key: &str| result.get(key).and_then(Value::as_f64).unwrap_or(0.0);
    let name = match result.get("kind").and_then(Value::as_str) {
        Some(kind) => format!(
            "tocsin {kind} ({})",
            result.get("store").and_then(Value::as_str).unwrap_or("")
        ),
        None => format!(
            "apprise {}",
            result.get("version").and_then(Value::as_str).unwrap_or("")
        ),
    };
    println!(
        "{name:<26} {:>7} deliveries {:>9.1}/s  p50 {:>8.2} ms  p90 {:>8.2} ms  p99 {:>8.2} ms  peak RSS {:>6.1} MiB",
        text("deliveries"),
        number("per_second"),
        number("p50_ms"),
        number("p90_ms"),
        number("p99_ms"),
        number("peak_rss_mb"),
    );
    println!("RESULT {result}");
}

async fn main_async(args: Args) -> Result<(), String> {
    let (address, receiver) = Receiver::start(args.receiver_process).await?;
    let result = drive(&args, address, &receiver).await;
    receiver.stop();
    result
}

async fn drive(args: &Args, address: SocketAddr, receiver: &Receiver) -> Result<(), String> {
    let base_url = format!("http://{address}");
    let run_id = format!(
        "{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0)
    );
    println!(
        "tocsin-load: {} events × {} routes, store {}, receiver {base_url} ({}); per-route latency = event start → send done",
        args.events,
        args.routes,
        args.store.as_str(),
        if args.receiver_process {
            "own process"
        } else {
            "in this process"
        }
    );
    let peer = match &args.apprise {
        Some(python) => {
            let result = apprise(python, address, args, receiver).await?;
            print_result(&result);
            Some(result)
        }
        None => None,
    };
    let run = Run {
        args,
        run_id,
        receiver,
        address,
    };
    for &kind in &args.kinds {
        let definitions = load_definitions(kind, args.routes, &base_url);
        // Every kind through the registry, its notifier built by its own constructor.
        let result = kinds::visit(
            kind,
            RunKind {
                run: &run,
                base_url: &base_url,
                definitions,
            },
        )
        .await?;
        print_result(&result);
        if let Some(peer) = &peer {
            let ours = result.get("per_second").and_then(Value::as_f64).unwrap_or(0.0);
            let theirs = peer.get("per_second").and_then(Value::as_f64).unwrap_or(0.0);
            if theirs > 0.0 {
                let ratio = ours / theirs;
                println!("  {kind}: {ratio:.1}× Apprise's deliveries/s (same receiver, same run)");
                println!(
                    "RATIO {}",
                    json!({"kind": kind.as_str(), "store": args.store.as_str(), "ratio": ratio})
                );
            }
        }
    }
    let other = receiver.counts(address).await?.other;
    if other > 0 {
        return Err(format!("the receiver got {other} requests to unexpected paths"));
    }
    Ok(())
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("tocsin-load: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let work = async {
        if args.serve {
            serve().await
        } else {
            main_async(args).await
        }
    };
    match runtime.block_on(work) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("tocsin-load: {message}");
            ExitCode::FAILURE
        }
    }
}
