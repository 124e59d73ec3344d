//! Secret redaction across every kind, as a matrix.
//!
//! For every [`IntegrationKind`], the sample integration of [`secret_integration`] (which uses a
//! secret variable wherever the kind can carry one) is driven through every way a delivery goes
//! ([`Scenario`]): the target answers 500 or 400 echoing the secret, the connection is refused,
//! the target is too slow, a template fails on the secret, the target accepts and echoes the
//! secret, the echo is cut off where the stored error or response ends. The secret is resolved for
//! real (SSM in the emulator) and reaches the target; then it must appear in none of the handler's
//! error (`Display` and `Debug`), the log lines, the delivery log items (DynamoDB in the
//! emulator), `tocsin render` output and `tocsin test` stdout and stderr: neither raw,
//! JSON-escaped, percent- or form-encoded, HTML-escaped, in base64 (at any alignment, and inside
//! Basic credentials), nor its first 12 characters.
//!
//! Kinds come from the registry; what differs between them is how they reach their target
//! ([`Transport`](notify_core::Transport)): a kind added later is covered without a change here, and how each transport's
//! targets answer is the conformance kit's ([`kind_kit::target::case`], where a transport added
//! later is a compile error until it has its case).

use std::{
    collections::HashMap,
    path::PathBuf,
    process::Output,
    time::{Duration, Instant},
};

use alert_model::IntegrationKind;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine as _;
use definition_store::{MemoryStore, SecretRef};
use e2e::bench::{SECRET_USER, secret_definitions, set_templates};
use kind_kit::target::{Answer, Case};
use notify_core::{
    Config, DynamoDeliveryLog, EventReport, HandlerError, HttpClient, Init, Kind, LogTimes, Pipeline,
    SecretResolver, Settings, Templates,
};
use test_support::{
    moto::{endpoint, sdk_config, unique, workspace_root},
    receiver::{Receiver, Reply, Script},
    sns,
};

/// The HTTP timeout of the slow scenario, far below the target's delay.
const TIMEOUT_MS: u64 = 300;

/// How a delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scenario {
    /// 500 echoing the secret in every form: retried, then left retryable.
    ServerError,
    /// 400 echoing the secret in every form: failed permanently.
    ClientError,
    /// Nothing listens at the target.
    Refused,
    /// The target answers (500, echoing) only after the timeout.
    Slow,
    /// A template fails on the secret's value.
    TemplateError,
    /// 200 echoing the secret in every form (in the SES message id for e-mail).
    Accepted,
    /// 400 whose echo is cut off by the error's 200-byte body snippet.
    CutError,
    /// 200 whose echo is cut off by the 1 KiB response preview.
    CutResponse,
}

/// What the pipeline must have done, so that each scenario is known to have happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Delivered,
    Failed,
    Retryable,
}

/// The expectations of a scenario: the pipeline's outcome, requests the target got from one run
/// (two attempts where retried), the exit codes of `tocsin test` and `tocsin render`, and whether
/// an echo of the secret was stored (and so must show as `[redacted]`).
struct Expected {
    outcome: Outcome,
    requests: usize,
    test_exit: i32,
    render_exit: i32,
    echo_stored: bool,
}

impl Scenario {
    fn expected(self) -> Expected {
        let expected = |outcome, requests, test_exit, render_exit, echo_stored| Expected {
            outcome,
            requests,
            test_exit,
            render_exit,
            echo_stored,
        };
        match self {
            Scenario::ServerError => expected(Outcome::Retryable, 2, 1, 0, true),
            Scenario::ClientError => expected(Outcome::Failed, 1, 1, 0, true),
            Scenario::Refused => expected(Outcome::Retryable, 0, 1, 0, false),
            Scenario::Slow => expected(Outcome::Retryable, 2, 1, 0, false),
            Scenario::TemplateError => expected(Outcome::Failed, 0, 1, 2, false),
            Scenario::Accepted => expected(Outcome::Delivered, 1, 0, 0, true),
            Scenario::CutError => expected(Outcome::Failed, 1, 1, 0, true),
            Scenario::CutResponse => expected(Outcome::Delivered, 1, 0, 0, true),
        }
    }
}

#[tokio::test]
async fn a_500_echoing_the_secret_leaks_it_nowhere() {
    matrix(Scenario::ServerError).await;
}

#[tokio::test]
async fn a_400_echoing_the_secret_leaks_it_nowhere() {
    matrix(Scenario::ClientError).await;
}

#[tokio::test]
async fn a_refused_connection_leaks_the_secret_nowhere() {
    matrix(Scenario::Refused).await;
}

#[tokio::test]
async fn a_slow_target_leaks_the_secret_nowhere() {
    matrix(Scenario::Slow).await;
}

#[tokio::test]
async fn a_template_failing_on_the_secret_leaks_it_nowhere() {
    matrix(Scenario::TemplateError).await;
}

#[tokio::test]
async fn a_success_echoing_the_secret_leaks_it_nowhere() {
    matrix(Scenario::Accepted).await;
}

#[tokio::test]
async fn an_echo_cut_off_in_the_stored_error_leaks_no_part_of_the_secret() {
    matrix(Scenario::CutError).await;
}

#[tokio::test]
async fn an_echo_cut_off_in_the_stored_response_leaks_no_part_of_the_secret() {
    matrix(Scenario::CutResponse).await;
}

/// Runs `scenario` for every kind and fails with every problem found.
async fn matrix(scenario: Scenario) {
    let mut problems = Vec::new();
    for &kind in IntegrationKind::ALL {
        problems.extend(check_kind(kind, scenario).await);
    }
    assert!(problems.is_empty(), "{scenario:?}: {problems:#?}");
}

/// One cell of the matrix for `kind`: its case, and its real notifier built by its own constructor.
async fn check_kind(kind: IntegrationKind, scenario: Scenario) -> Vec<String> {
    struct Check {
        scenario: Scenario,
        case: Case,
    }

    impl kinds::Visitor for Check {
        type Output = std::pin::Pin<Box<dyn std::future::Future<Output = Vec<String>>>>;

        fn visit<K: Kind>(self) -> Self::Output {
            Box::pin(async move { check(K::KIND, self.scenario, &self.case, notifier_at::<K>).await })
        }
    }

    kinds::visit(
        kind,
        Check {
            scenario,
            case: kind_kit::target::case(kinds::transport(kind)),
        },
    )
    .await
}

/// The real notifier of `K`, built by its own constructor, sending to `target`: AWS clients make one
/// attempt (the runner retries) within the HTTP timeout, HTTP goes through the functions' client
/// opened for the loopback receiver.
fn notifier_at<K: Kind>(target: &str) -> K {
    let timeout = TIMEOUT_MS.to_string();
    let config = Config::from_lookup(|name| match name {
        "TOCSIN_DEFINITIONS_FILE" => Some("-".to_owned()),
        "TOCSIN_ALLOW_HOSTS" => Some("127.0.0.1".to_owned()),
        "TOCSIN_ALLOW_HTTP" => Some("true".to_owned()),
        "TOCSIN_HTTP_TIMEOUT_MS" => Some(timeout.clone()),
        _ => None,
    })
    .expect("valid settings");
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tocsin-redaction"),
        ))
        .endpoint_url(target)
        .build();
    let init = Init {
        http: HttpClient::new(&config).expect("the http client"),
        config,
        sdk,
    };
    K::new(&init).unwrap_or_else(|error| panic!("{} notifier: {error}", K::KIND))
}

/// One cell of the matrix: the pipeline in process, then `tocsin test` and `tocsin render`.
async fn check<K: Kind>(
    kind: IntegrationKind,
    scenario: Scenario,
    case: &Case,
    notifier: impl FnOnce(&str) -> K,
) -> Vec<String> {
    let cell = format!("{kind}, {scenario:?}");
    let expected = scenario.expected();
    // Every character an escaper changes (`' " < > & +`, a space, a backslash) and a non-ASCII letter.
    let secret = secret_with("\"quo\\te +sp ace/&<b>='é");

    // GIVEN the secret in SSM, a target answering as the scenario says, and the kind's sample
    // integration using the secret, its delivery log in DynamoDB
    let sdk = sdk_config().await;
    let parameter = format!("/{}", unique("tocsin-redaction/token"));
    aws_sdk_ssm::Client::new(&sdk)
        .put_parameter()
        .name(&parameter)
        .value(&secret)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .expect("put the secret into SSM");
    // Every path the kind's messages reach answers as the scenario says.
    let receiver = Receiver::start(Script::new().any([reply(scenario, case, &secret)])).await;
    let target = match scenario {
        Scenario::Refused => closed_port_url(),
        _ => receiver.url(""),
    };
    let mut definitions = secret_definitions(kind, &target, &SecretRef(format!("ssm:{parameter}")));
    if scenario == Scenario::TemplateError {
        // Every templated field fails on the secret's value (`int` of a text).
        set_templates(
            &mut definitions.integrations[0],
            &Templates::everywhere("{{Token}} {{ Token | int }}"),
        );
    }
    let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
    let table = unique("redaction-deliveries");
    notify_core::deliveries::create_table(&dynamo, &table)
        .await
        .expect("create the Deliveries table");
    let pipeline = Pipeline::new(
        notifier(&target),
        MemoryStore::new(definitions.clone()),
        SecretResolver::new(&sdk, Duration::from_secs(60)),
        DynamoDeliveryLog::new(dynamo.clone(), table.clone(), LogTimes::default()),
        Settings {
            max_attempts: 2,
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(50),
            ..Settings::default()
        },
    );

    // WHEN an alert is delivered
    let alert_id = unique("alert");
    let event = sns::event(&[(&unique("sns"), &sns::native_alert(&alert_id))]);
    // The functions' own log subscriber, at the most verbose level a user can set.
    let log_config = Config {
        log_json: true,
        log_filter: "trace".to_owned(),
        ..Config::default()
    };
    let (logs, guard) = test_support::logs::capture_with(|logs| {
        notify_core::log_subscriber(&log_config, move || logs.clone())
    });
    let handled = pipeline
        .handle_event(&event, Instant::now() + Duration::from_secs(30))
        .await;
    drop(guard);

    // THEN it went as the scenario says, and the secret reached the target
    let mut problems = Vec::new();
    let outcome = match &handled {
        Ok(report) => report_outcome(report),
        Err(HandlerError::Retryable { .. }) => Some(Outcome::Retryable),
        Err(HandlerError::Definitions { .. }) => None,
    };
    if outcome != Some(expected.outcome) {
        problems.push(format!(
            "{cell}: expected {:?}, the pipeline returned {handled:?}",
            expected.outcome
        ));
    }
    let requests = receiver.requests();
    if requests.len() != expected.requests {
        problems.push(format!(
            "{cell}: the target got {} request(s), expected {}",
            requests.len(),
            expected.requests
        ));
    }
    if let Some(request) = requests
        .iter()
        .find(|request| !format!("{request:?}").contains(&secret[..12]))
    {
        problems.push(format!(
            "{cell}: the secret did not reach the target: {request:?}"
        ));
    }
    if !logs.text().contains(&alert_id) {
        problems.push(format!(
            "{cell}: the logs did not capture the delivery: {}",
            logs.text()
        ));
    }
    let items = delivery_items(&dynamo, &table).await;
    if expected.echo_stored && !items.contains("[redacted]") {
        problems.push(format!("{cell}: no redacted echo in the delivery log: {items}"));
    }

    // … and `tocsin test` and `tocsin render` run on the same definitions
    let file = write_definitions(&definitions);
    let mut env = vec![
        ("AWS_ENDPOINT_URL".to_owned(), endpoint()),
        ("TOCSIN_ALLOW_HOSTS".to_owned(), "127.0.0.1".to_owned()),
        ("TOCSIN_ALLOW_HTTP".to_owned(), "true".to_owned()),
        ("TOCSIN_MAX_ATTEMPTS".to_owned(), "2".to_owned()),
        ("TOCSIN_HTTP_TIMEOUT_MS".to_owned(), TIMEOUT_MS.to_string()),
        // The runner retries; the SDK's own retries would only multiply the requests.
        ("AWS_MAX_ATTEMPTS".to_owned(), "1".to_owned()),
    ];
    env.extend(case.endpoint_env.map(|name| (name.to_owned(), target.clone())));
    let integration = definitions.integrations[0].id.clone();
    let tested = tocsin(&["test", "-f", &file, "--integration", &integration], &env).await;
    let alert = workspace_root().join("examples/alerts/alert.json");
    let rendered = tocsin(
        &["render", "-f", &file, "--alert", &alert.display().to_string()],
        &env,
    )
    .await;
    for (command, output, exit) in [
        ("test", &tested, expected.test_exit),
        ("render", &rendered, expected.render_exit),
    ] {
        if output.status.code() != Some(exit) {
            problems.push(format!(
                "{cell}: `tocsin {command}` exited with {:?}, expected {exit}: {}{}",
                output.status.code(),
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
    }
    let sent = receiver.requests().len();
    if sent != 2 * expected.requests {
        problems.push(format!(
            "{cell}: `tocsin test` sent {} request(s), expected {}",
            sent - requests.len(),
            expected.requests
        ));
    }

    // … and the secret is in none of what they printed, logged or stored
    let error = match &handled {
        Ok(_) => (String::new(), String::new()),
        Err(error) => (error.to_string(), format!("{error:?}")),
    };
    let sinks = [
        ("the handler's error (Display)", error.0),
        ("the handler's error (Debug)", error.1),
        ("the log lines", logs.text()),
        ("the delivery log", items),
        (
            "`tocsin test` stdout",
            String::from_utf8_lossy(&tested.stdout).into_owned(),
        ),
        (
            "`tocsin test` stderr",
            String::from_utf8_lossy(&tested.stderr).into_owned(),
        ),
        (
            "`tocsin render` stdout",
            String::from_utf8_lossy(&rendered.stdout).into_owned(),
        ),
        (
            "`tocsin render` stderr",
            String::from_utf8_lossy(&rendered.stderr).into_owned(),
        ),
    ];
    for (sink, text) in &sinks {
        for (form, at) in find_leaks(&secret, text) {
            problems.push(format!(
                "{cell}: the secret ({form}) is in {sink}: …{}…",
                excerpt(text, at)
            ));
        }
    }
    problems
}

/// The target's answer in `scenario`.
fn reply(scenario: Scenario, case: &Case, secret: &str) -> Reply {
    match scenario {
        Scenario::ServerError => case.reply(Answer::ServerError, &echo(secret)),
        Scenario::ClientError => case.reply(Answer::ClientError, &echo(secret)),
        // Nothing listens where the notifier sends; this route is never asked.
        Scenario::Refused | Scenario::Accepted | Scenario::TemplateError => {
            case.reply(Answer::Success, &echo(secret))
        }
        Scenario::Slow => case
            .reply(Answer::ServerError, &echo(secret))
            .delay(Duration::from_millis(4 * TIMEOUT_MS)),
        // The error keeps 200 bytes of the body, the response preview 1 KiB: both cut the
        // secret after 14 and 12 characters.
        Scenario::CutError => case.reply(Answer::ClientError, &format!("{}{secret}", "a".repeat(186))),
        Scenario::CutResponse => case.reply(Answer::Success, &format!("{}{secret}", "a".repeat(1012))),
    }
}

/// The secret as a target that echoes its request would show it: raw, JSON-escaped,
/// percent-encoded, base64, and inside the Basic credentials it was sent with.
fn echo(secret: &str) -> String {
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET_USER}:{secret}"));
    format!(
        "raw {secret} json {} url {} header Basic {basic} base64 {}",
        json_escaped(secret),
        percent_encoded(secret, false),
        base64::engine::general_purpose::STANDARD.encode(secret)
    )
}

fn report_outcome(report: &EventReport) -> Option<Outcome> {
    match (report.delivered, report.failed, report.retryable) {
        (1, 0, 0) => Some(Outcome::Delivered),
        (0, 1, 0) => Some(Outcome::Failed),
        _ => None,
    }
}

/// A loopback URL where nothing listens: a port just freed.
fn closed_port_url() -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    let address = listener.local_addr().expect("the port");
    drop(listener);
    format!("http://{address}")
}

/// Every item of the Deliveries table as `name=value` lines, string values as they are stored.
async fn delivery_items(dynamo: &aws_sdk_dynamodb::Client, table: &str) -> String {
    let items = dynamo
        .scan()
        .table_name(table)
        .send()
        .await
        .expect("scan the Deliveries table")
        .items
        .unwrap_or_default();
    items.iter().map(item_text).collect::<Vec<_>>().join("\n")
}

pub(crate) fn item_text(item: &HashMap<String, AttributeValue>) -> String {
    fn value_text(value: &AttributeValue) -> String {
        match value {
            AttributeValue::S(text) | AttributeValue::N(text) => text.clone(),
            AttributeValue::M(map) => item_text(map),
            AttributeValue::L(list) => list.iter().map(value_text).collect::<Vec<_>>().join(", "),
            AttributeValue::Ss(list) | AttributeValue::Ns(list) => list.join(", "),
            other => format!("{other:?}"),
        }
    }
    let mut fields: Vec<String> = item
        .iter()
        .map(|(name, value)| format!("{name}={}", value_text(value)))
        .collect();
    fields.sort();
    fields.join(" ")
}

/// The definitions as a file for the `tocsin` command.
fn write_definitions(definitions: &definition_store::Definitions) -> String {
    let dir = std::env::temp_dir().join(unique("tocsin-redaction"));
    std::fs::create_dir_all(&dir).expect("a temporary folder");
    let path: PathBuf = dir.join("definitions.json");
    let text = serde_json::to_string_pretty(definitions).expect("the definitions serialise");
    std::fs::write(&path, text).expect("write the definitions");
    path.display().to_string()
}

/// Runs the `tocsin` command with the emulator's dummy credentials and `env`, on a blocking
/// thread, so that the receiver keeps answering on this one.
async fn tocsin(args: &[&str], env: &[(String, String)]) -> Output {
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let env = env.to_vec();
    tokio::task::spawn_blocking(move || {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tocsin-cli"));
        command.args(&args).current_dir(workspace_root());
        for name in [
            "AWS_ENDPOINT_URL",
            "DEFINITIONS_TABLE",
            "DELIVERIES_TABLE",
            "TOCSIN_TOPIC_ARN",
        ] {
            command.env_remove(name);
        }
        command
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_REGION", "us-east-1");
        for (name, value) in env {
            command.env(name, value);
        }
        command.output().expect("the tocsin command runs")
    })
    .await
    .expect("the tocsin command's thread")
}

/// A secret whose first 12 characters are unique to this test, followed by `tail`.
pub(crate) fn secret_with(tail: &str) -> String {
    let unique = uuid::Uuid::new_v4().simple().to_string();
    format!("Q7x{}{tail}", &unique[..13])
}

/// Every form of `secret` that `text` holds, named: raw, JSON-escaped, percent- and form-encoded,
/// HTML-escaped, base64 (standard and URL-safe, at each of the three alignments a secret can have
/// inside a longer encoded text), inside Basic credentials, and its first 12 characters (the start
/// of a secret cut off; alphanumeric, so also found inside any escaping), with where each starts.
pub(crate) fn find_leaks(secret: &str, text: &str) -> Vec<(String, usize)> {
    let mut forms = vec![
        ("raw".to_owned(), secret.to_owned()),
        ("first 12 characters".to_owned(), secret[..12].to_owned()),
        ("json-escaped".to_owned(), json_escaped(secret)),
        ("percent-encoded".to_owned(), percent_encoded(secret, false)),
        ("form-encoded".to_owned(), percent_encoded(secret, true)),
        // As the engine's HTML context writes it (the one escaper).
        ("html-escaped".to_owned(), alert_model::escape::html(secret)),
    ];
    for (name, engine) in [
        ("base64", &base64::engine::general_purpose::STANDARD_NO_PAD),
        (
            "url-safe base64",
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        ),
    ] {
        for offset in 0..3 {
            // `offset` bytes before the secret shift its encoding; the characters that depend on
            // the secret only start after them. 16 characters are 12 bytes of the secret.
            let mut bytes = vec![b'x'; offset];
            bytes.extend_from_slice(secret.as_bytes());
            let encoded = engine.encode(&bytes);
            let start = [0, 2, 3][offset];
            forms.push((
                format!("{name} at offset {offset}"),
                encoded[start..start + 16].to_owned(),
            ));
        }
    }
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{SECRET_USER}:{secret}"));
    forms.push(("basic credentials".to_owned(), basic[..16].to_owned()));
    forms
        .into_iter()
        .filter_map(|(name, form)| text.find(form.as_str()).map(|at| (name, at)))
        .collect()
}

/// About 80 characters of `text` before and after byte `at`.
fn excerpt(text: &str, at: usize) -> String {
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(80)
        .map_or(0, |(index, _)| index);
    text[start..].chars().take(200).collect()
}

fn json_escaped(secret: &str) -> String {
    let quoted = serde_json::to_string(secret).unwrap_or_default();
    quoted[1..quoted.len() - 1].to_owned()
}

/// Every byte but ASCII letters and digits as `%XX`; with `form`, a space as `+`.
fn percent_encoded(secret: &str, form: bool) -> String {
    secret
        .bytes()
        .map(|byte| match byte {
            b' ' if form => "+".to_owned(),
            byte if byte.is_ascii_alphanumeric() => char::from(byte).to_string(),
            byte => format!("%{byte:02X}"),
        })
        .collect()
}
