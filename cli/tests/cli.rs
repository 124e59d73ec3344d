//! The `tocsin` command, run as a user runs it: the built binary, real files, the local emulator.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::{
    path::PathBuf,
    process::{Command, Output},
};

use test_support::moto;

fn root() -> PathBuf {
    moto::workspace_root()
}

fn tocsin(args: &[&str]) -> Output {
    tocsin_with(args, &[])
}

fn tocsin_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tocsin"));
    command.args(args).current_dir(root());
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
    command.output().expect("the tocsin binary runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

fn write_temp(name: &str, text: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(moto::unique("tocsin-cli"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn lines(output: &Output) -> Vec<serde_json::Value> {
    stdout(output)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|err| panic!("not JSON: {line}: {err}")))
        .collect()
}

#[test]
fn validate_accepts_the_example_definitions() {
    let output = tocsin(&["validate", "-f", "examples/definitions.yaml"]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let examples = definition_store::load_file(&root().join("examples/definitions.yaml")).unwrap();
    assert!(
        stdout(&output).contains(&format!("valid ({} integrations", examples.integrations.len())),
        "{}",
        stdout(&output)
    );
}

#[test]
fn validate_reports_every_problem_with_its_path_and_exits_2() {
    let file = write_temp(
        "bad.yaml",
        "integrations:\n  - id: hook\n    kind: webhook\n    messages:\n      - types: [Alert]\n        steps: [{url: \"{{@monitor.nme}}\"}]\nalertDefinitions:\n  - id: all\n    monitors: [\"*\"]\n    levels: [{id: 1, integrations: [{integration: pagerduty-main}]}]\n",
    );
    let output = tocsin(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let errors = stderr(&output);
    assert!(
        errors.contains("integrations[0].messages[0].steps[0].url"),
        "{errors}"
    );
    assert!(errors.contains("`@monitor.nme`"), "{errors}");
    assert!(
        errors.contains("alertDefinitions[0].levels[0].integrations[0].integration: unknown integration \"pagerduty-main\""),
        "{errors}"
    );
    assert!(errors.contains("2 problem(s)"), "{errors}");
}

#[test]
fn validate_names_the_path_of_a_parse_error() {
    let file = write_temp("kind.yaml", "integrations:\n  - id: x\n    kind: pager\n");
    let output = tocsin(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("integrations[0].kind"),
        "{}",
        stderr(&output)
    );
}

/// 200 KB of brackets: refused by the depth limit, naming it and the line, before the YAML parser
/// (which took seconds to minutes on such files) sees it.
#[test]
fn validate_refuses_deep_nesting_naming_the_limit_and_the_line() {
    let file = write_temp(
        "deep.yaml",
        &format!("integrations:\n  {}\n", "[".repeat(200_000)),
    );
    let output = tocsin(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        "error: $: nesting deeper than the limit of 32 levels (line 2, column 34)\n"
    );
}

/// Fallback cycles are refused with the chain; text from the file is printed with its control
/// characters escaped, so that a crafted file cannot forge lines of the output.
#[test]
fn validate_prints_fallback_cycles_and_escapes_control_characters() {
    let file = write_temp(
        "cycle.yaml",
        "integrations:\n  - {id: a, kind: email, fallback: b}\n  - {id: b, kind: email, fallback: a}\n  - {id: \"c\\nerror: forged\\r\", kind: email, fallback: \"d\\n::error::forged\"}\n",
    );
    let output = tocsin(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let path = file.display();
    assert_eq!(
        stderr(&output),
        format!(
            "{path}: integrations[2].fallback: unknown integration \"d\\n::error::forged\"\n{path}: integrations[0].fallback: fallback cycle a → b → a\nerror: 2 problem(s) in the definitions\n"
        )
    );
    // A parse error: an unknown kind holding a line break.
    let file = write_temp(
        "kind.yaml",
        "integrations:\n  - id: a\n    kind: \"email\\nvalid\"\n",
    );
    let output = tocsin(&["validate", "-f", file.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let known: Vec<String> = alert_model::IntegrationKind::ALL
        .iter()
        .map(|kind| format!("`{kind}`"))
        .collect();
    let text = stderr(&output);
    assert!(
        text.starts_with("error: integrations[0].kind: unknown variant `email\\nvalid`, expected ")
            && text.ends_with(" (line 3, column 11)\n")
            && known.iter().all(|kind| text.contains(kind.as_str())),
        "{text}"
    );
}

#[test]
fn render_prints_every_message_of_the_sample_alert_without_secrets() {
    let output = tocsin(&[
        "render",
        "-f",
        "examples/definitions.yaml",
        "--alert",
        "examples/alerts/alert.json",
    ]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let lines = lines(&output);
    // The sample alert reaches every kind of the sample (the examples have one of each).
    let kinds: Vec<&str> = lines.iter().map(|line| line["kind"].as_str().unwrap()).collect();
    for kind in alert_model::IntegrationKind::ALL {
        assert!(kinds.contains(&kind.as_str()), "no {kind} message: {kinds:?}");
    }
    for line in &lines {
        assert_eq!(line["alertType"], "Alert");
        if let Some(email) = line.get("email") {
            assert!(
                email["subject"]
                    .as_str()
                    .unwrap()
                    .contains("GalacticResorts.com - DNS"),
                "{email}"
            );
            assert!(!email["to"].as_array().unwrap().is_empty());
        } else if let Some(sms) = line.get("sms") {
            assert!(sms["to"].as_str().unwrap().starts_with('+'), "{sms}");
            assert!(
                sms["text"]
                    .as_str()
                    .unwrap()
                    .contains("GalacticResorts.com - DNS"),
                "{sms}"
            );
        } else if let Some(voice) = line.get("voice") {
            assert!(voice["to"].as_str().unwrap().starts_with('+'), "{voice}");
            let ssml = voice["ssml"].as_str().unwrap();
            assert!(
                ssml.starts_with("<speak>") && ssml.ends_with("</speak>"),
                "{voice}"
            );
            assert_eq!(notify_core::sms_voice::ssml_problem(ssml), None, "{voice}");
            assert!(ssml.contains("GalacticResorts.com"), "{voice}");
        } else {
            let request = &line["request"];
            assert!(
                request["url"]
                    .as_str()
                    .unwrap_or_else(|| panic!("no email, sms or request: {line}"))
                    .starts_with("http://127.0.0.1:8787/"),
                "{request}"
            );
            // Bodies are JSON that parses, whatever the alert's notes hold.
            serde_json::from_str::<serde_json::Value>(request["body"].as_str().unwrap()).unwrap();
        }
    }
    // The bearer token is a secret reference: render shows a placeholder and never reads it.
    let text = stdout(&output);
    assert!(text.contains("[secret ssm:/tocsin/demo/webhook-token]"), "{text}");
}

#[test]
fn render_filters_by_integration_and_overrides_the_alert_type() {
    let output = tocsin(&[
        "render",
        "-f",
        "examples/definitions.yaml",
        "--alert",
        "examples/alerts/alert.json",
        "--integration",
        "ops-webhook",
        "--type",
        "ok",
    ]);
    assert!(output.status.success(), "stderr: {}", stderr(&output));
    let lines = lines(&output);
    assert!(!lines.is_empty());
    for line in &lines {
        assert_eq!(line["integration"], "ops-webhook");
        assert_eq!(line["alertType"], "Ok");
    }
}

#[test]
fn render_reads_an_sns_event_and_other_inbound_formats() {
    for file in [
        "events/alert.json",
        "examples/alerts/cloudwatch-alarm.json",
        "examples/alerts/alertmanager.json",
    ] {
        let output = tocsin(&["render", "-f", "examples/definitions.yaml", "--alert", file]);
        assert!(output.status.success(), "{file}: {}", stderr(&output));
        assert!(!lines(&output).is_empty(), "{file}: nothing rendered");
    }
}

#[test]
fn render_of_an_empty_alert_file_is_a_clear_error() {
    let file = write_temp("empty.json", "   ");
    let output = tocsin(&[
        "render",
        "-f",
        "examples/definitions.yaml",
        "--alert",
        file.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(stderr(&output).contains("empty message"), "{}", stderr(&output));
}

#[test]
fn apply_publish_and_log_work_against_the_emulator() {
    let endpoint = moto::endpoint();
    let table = moto::unique("cli-defs");
    let env = [("AWS_ENDPOINT_URL", endpoint.as_str())];

    let output = tocsin_with(
        &[
            "apply",
            "-f",
            "examples/definitions.yaml",
            "--table",
            &table,
            "--create-table",
        ],
        &env,
    );
    assert!(output.status.success(), "apply: {}", stderr(&output));
    assert!(stdout(&output).contains(&table));

    let topic = moto::unique("cli-topic");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let topic_arn = runtime.block_on(async {
        let sns = aws_sdk_sns::Client::new(&moto::sdk_config().await);
        sns.create_topic()
            .name(&topic)
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap()
    });
    let output = tocsin_with(
        &[
            "publish",
            "--alert",
            "examples/alerts/alert.json",
            "--topic-arn",
            &topic_arn,
        ],
        &env,
    );
    assert!(output.status.success(), "publish: {}", stderr(&output));
    assert!(
        !stdout(&output).trim().is_empty(),
        "publish prints the message id"
    );

    let deliveries = moto::unique("cli-deliveries");
    runtime.block_on(async {
        let dynamo = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
        notify_core::deliveries::create_table(&dynamo, &deliveries)
            .await
            .unwrap();
    });
    let output = tocsin_with(&["log", "--alert", "no-such-alert", "--table", &deliveries], &env);
    assert!(output.status.success(), "log: {}", stderr(&output));
    assert!(
        stdout(&output).contains("no deliveries recorded"),
        "{}",
        stdout(&output)
    );
}

/// The definitions of [`AppliedTable`]: 11 items, fixed (the examples grow with the kinds).
const APPLIED: &str = "cli/tests/fixtures/applied.yaml";

/// A table filled with [`APPLIED`] (11 items), and the environment to reach it.
struct AppliedTable {
    table: String,
    endpoint: String,
    runtime: tokio::runtime::Runtime,
}

impl AppliedTable {
    fn new() -> AppliedTable {
        let applied = AppliedTable {
            table: moto::unique("cli-apply"),
            endpoint: moto::endpoint(),
            runtime: tokio::runtime::Runtime::new().unwrap(),
        };
        let output = applied.apply(&["-f", APPLIED, "--create-table"]);
        assert!(output.status.success(), "apply: {}", stderr(&output));
        assert_eq!(applied.items(), 11);
        applied
    }

    /// `tocsin apply --table T ARGS`, standard input not a terminal.
    fn apply(&self, args: &[&str]) -> Output {
        let mut all = vec!["apply", "--table", self.table.as_str()];
        all.extend_from_slice(args);
        tocsin_with(&all, &[("AWS_ENDPOINT_URL", self.endpoint.as_str())])
    }

    /// The number of items in the table.
    fn items(&self) -> usize {
        self.runtime.block_on(async {
            let dynamo = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
            dynamo
                .scan()
                .table_name(&self.table)
                .send()
                .await
                .unwrap()
                .items()
                .len()
        })
    }
}

/// An empty file, `/dev/null` and a file of comments only hold no definitions: applying one used to
/// report "applied 0" and delete every item of the table.
#[test]
fn apply_refuses_a_file_without_integrations_and_alert_definitions() {
    let applied = AppliedTable::new();
    let empty = write_temp("empty.yaml", "");
    let comments = write_temp(
        "comments.yaml",
        "# everything moved to the new file\n\n# (todo)\n",
    );
    let operators_only = write_temp(
        "operators.yaml",
        "operators: [{id: zoe, email: zoe@example.com}]\n",
    );
    for file in [
        empty.to_str().unwrap(),
        "/dev/null",
        comments.to_str().unwrap(),
        operators_only.to_str().unwrap(),
    ] {
        let output = applied.apply(&["-f", file, "--yes"]);
        assert_eq!(output.status.code(), Some(2), "{file}: {}", stdout(&output));
        assert_eq!(
            stderr(&output),
            format!(
                "error: `{file}` holds no integrations and no alert definitions: applying it would remove every integration and alert definition from the table; pass --allow-empty if that is what you mean\n"
            )
        );
        assert_eq!(applied.items(), 11, "{file}: the table is untouched");
    }
}

#[test]
fn apply_allow_empty_empties_the_table_when_asked() {
    let applied = AppliedTable::new();
    // Removing 11 items still needs --yes.
    let output = applied.apply(&["-f", "/dev/null", "--allow-empty"]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert_eq!(applied.items(), 11);
    let output = applied.apply(&["-f", "/dev/null", "--allow-empty", "--yes"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("(0 added, 0 changed, 11 removed)"),
        "{}",
        stdout(&output)
    );
    assert_eq!(applied.items(), 0);
}

#[test]
fn apply_dry_run_prints_the_changes_and_changes_nothing() {
    let applied = AppliedTable::new();
    let smaller = write_temp(
        "smaller.yaml",
        "integrations: [{id: ops-email, kind: email, name: renamed}]\noperators: [{id: zoe, email: zoe@example.com}]\n",
    );
    let output = applied.apply(&["-f", smaller.to_str().unwrap(), "--dry-run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        format!(
            "table {}: 1 to add, 1 to change, 10 to remove, 0 unchanged
  + operator zoe
  ~ integration ops-email
  - integration ops-webhook
  - integration tocsin-relay
  - alertDefinition dns-critical
  - alertDefinition everything
  - operator alice
  - operator bob
  - operator carol
  - operator dave
  - operatorGroup ops-team
  - monitorGroup dns-monitors
dry run: nothing was changed
",
            applied.table
        )
    );
    assert_eq!(applied.items(), 11);
    let output = applied.apply(&["-f", APPLIED, "--dry-run"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).starts_with(&format!(
            "table {}: 0 to add, 0 to change, 0 to remove, 11 unchanged\n",
            applied.table
        )),
        "{}",
        stdout(&output)
    );
}

/// More than 3 removals need `--yes` when standard input is not a terminal (a script, CI); up to 3
/// go ahead.
#[test]
fn apply_refuses_more_than_3_removals_without_yes_off_a_terminal() {
    let applied = AppliedTable::new();
    let smaller = write_temp(
        "smaller.yaml",
        "integrations: [{id: ops-email, kind: email, name: renamed}]\noperators: [{id: zoe, email: zoe@example.com}]\n",
    );
    let output = applied.apply(&["-f", smaller.to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    assert_eq!(
        stderr(&output),
        format!(
            "error: apply would remove 10 items from table {} (more than 3 need a confirmation): pass --yes to remove them; nothing was changed\n",
            applied.table
        )
    );
    assert!(
        stdout(&output).contains("  - operator alice\n"),
        "the removals are shown"
    );
    assert_eq!(applied.items(), 11);

    let output = applied.apply(&["-f", smaller.to_str().unwrap(), "--yes"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(applied.items(), 2);

    // Up to 3 removals go ahead without it; a fourth needs it.
    let definitions = |operators: &[&str], definition: bool| {
        let mut yaml = String::from("integrations: [{id: mail, kind: email}]\noperators:\n");
        for id in operators {
            yaml.push_str(&format!("  - {{id: {id}, email: {id}@example.com}}\n"));
        }
        if definition {
            yaml.push_str("alertDefinitions: [{id: d, monitors: ['*'], levels: [{id: 1, operators: [o1], integrations: [{integration: mail}]}]}]\n");
        }
        write_temp("defs.yaml", &yaml)
    };
    let five = definitions(&["o1", "o2", "o3", "o4"], true);
    let output = applied.apply(&["-f", five.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(applied.items(), 6);
    let output = applied.apply(&["-f", definitions(&["o1"], true).to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains("(0 added, 0 changed, 3 removed)"));
    assert_eq!(applied.items(), 3);
    let output = applied.apply(&["-f", five.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let output = applied.apply(&["-f", definitions(&["o1"], false).to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("would remove 4 items"),
        "{}",
        stderr(&output)
    );
    assert_eq!(applied.items(), 6);
}

#[test]
fn the_demo_refuses_anything_but_a_local_endpoint() {
    let output = tocsin_with(
        &["demo"],
        &[("AWS_ENDPOINT_URL", "https://dynamodb.us-east-1.amazonaws.com")],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("only against the local emulator"),
        "{}",
        stderr(&output)
    );
}

#[test]
fn log_prints_the_state_and_every_attempt_as_a_table_and_as_json() {
    use notify_core::{
        ClaimOutcome, DeliveryKey, DeliveryLog, DeliveryRecord, DynamoDeliveryLog, Finish, LogTimes,
        deliveries::AttemptOutcome,
    };

    // GIVEN a delivery that failed once with a 503 and then went through
    let table = moto::unique("cli-log");
    let alert_id = moto::unique("alert");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let dynamo = aws_sdk_dynamodb::Client::new(&moto::sdk_config().await);
        notify_core::deliveries::create_table(&dynamo, &table)
            .await
            .unwrap();
        let log = DynamoDeliveryLog::new(dynamo, table.clone(), LogTimes::default());
        let key = DeliveryKey {
            alert_id: alert_id.clone(),
            integration_id: "ops-webhook".to_owned(),
            step: "dns-critical/open".to_owned(),
        };
        let ClaimOutcome::Claimed(claim) = log.claim(&key).await.unwrap() else {
            panic!("first claim")
        };
        for (attempt, outcome, status, error) in [
            (
                1,
                AttemptOutcome::Retryable,
                503,
                Some("POST http://127.0.0.1: status 503".to_owned()),
            ),
            (2, AttemptOutcome::Delivered, 200, None),
        ] {
            let record = DeliveryRecord {
                key: key.clone(),
                attempt,
                time: chrono::Utc::now(),
                outcome,
                http_status: Some(status),
                latency_ms: 7,
                error,
                request: "{\"request\":{}}".to_owned(),
                response: "ok".to_owned(),
            };
            log.record_attempt(&record).await.unwrap();
        }
        log.finish(
            &claim,
            &Finish::Delivered {
                external_id: Some("ext-42".to_owned()),
                kept: Default::default(),
            },
        )
        .await
        .unwrap();
    });
    let endpoint = moto::endpoint();
    let env = [("AWS_ENDPOINT_URL", endpoint.as_str())];

    // WHEN the log is printed as a table
    let output = tocsin_with(&["log", "--alert", &alert_id, "--table", &table], &env);

    // THEN it shows the route's state and both attempts
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("dns-critical/open") && text.contains("delivered") && text.contains("ext-42"),
        "{text}"
    );
    assert!(
        text.contains("#1 retryable") && text.contains("http 503"),
        "{text}"
    );
    assert!(
        text.contains("#2 delivered") && text.contains("http 200"),
        "{text}"
    );

    // … and as one JSON object per attempt
    let output = tocsin_with(&["log", "--alert", &alert_id, "--table", &table, "--json"], &env);
    assert!(output.status.success(), "{}", stderr(&output));
    let attempts = lines(&output);
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(attempts[0]["httpStatus"], 503);
    assert_eq!(attempts[1]["outcome"], "delivered");
}

/// A stack for `tocsin test`: a scripted receiver standing in for the webhook targets, the sample
/// definitions pointing at it with the webhook token in SSM under a name only this test uses, and
/// the SES sender verified. The runtime keeps serving the receiver while the binary runs.
struct TestSendStack {
    runtime: tokio::runtime::Runtime,
    receiver: test_support::Receiver,
    secret: String,
    definitions: PathBuf,
    env: Vec<(String, String)>,
}

impl TestSendStack {
    fn start(script: impl FnOnce(&str) -> test_support::Script) -> TestSendStack {
        TestSendStack::start_with(script, |yaml| yaml)
    }

    /// [`TestSendStack::start`] with the sample definitions changed by `edit` (their YAML text).
    fn start_with(
        script: impl FnOnce(&str) -> test_support::Script,
        edit: impl FnOnce(String) -> String,
    ) -> TestSendStack {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        let secret = moto::unique("cli-s3cret-T0KEN");
        let receiver = runtime.block_on(test_support::Receiver::start(script(&secret)));
        let parameter = format!("/{}", moto::unique("tocsin-cli/webhook-token"));
        runtime.block_on(async {
            let sdk = moto::sdk_config().await;
            aws_sdk_ssm::Client::new(&sdk)
                .put_parameter()
                .name(&parameter)
                .value(&secret)
                .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
                .overwrite(true)
                .send()
                .await
                .unwrap();
            // Creating an identity that exists fails in the emulator; it is there either way.
            let ses = aws_sdk_sesv2::Client::new(&sdk);
            if ses
                .create_email_identity()
                .email_identity("alerts@example.com")
                .send()
                .await
                .is_err()
            {
                ses.get_email_identity()
                    .email_identity("alerts@example.com")
                    .send()
                    .await
                    .unwrap();
            }
        });
        let sample = std::fs::read_to_string(root().join("examples/definitions.yaml")).unwrap();
        assert!(
            sample.contains("http://127.0.0.1:8787") && sample.contains("ssm:/tocsin/demo/webhook-token")
        );
        let yaml = edit(
            sample
                .replace("http://127.0.0.1:8787", &receiver.url(""))
                .replace("ssm:/tocsin/demo/webhook-token", &format!("ssm:{parameter}"))
                // The Teams Workflows signature: the same stored secret.
                .replace("ssm:/tocsin/demo/teams-sig", &format!("ssm:{parameter}")),
        );
        let definitions = write_temp("definitions.yaml", &yaml);
        let env = [
            ("AWS_ENDPOINT_URL", moto::endpoint()),
            ("TOCSIN_ALLOW_HOSTS", "127.0.0.1".to_owned()),
            ("TOCSIN_ALLOW_HTTP", "true".to_owned()),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value))
        .collect();
        TestSendStack {
            runtime,
            receiver,
            secret,
            definitions,
            env,
        }
    }

    /// `tocsin test -f <definitions> ARGS…` with the stack's environment and `extra_env`.
    fn test(&self, args: &[&str], extra_env: &[(&str, &str)]) -> Output {
        let mut all = vec!["test", "-f", self.definitions.to_str().unwrap()];
        all.extend_from_slice(args);
        let mut env: Vec<(&str, &str)> = self
            .env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        env.extend_from_slice(extra_env);
        tocsin_with(&all, &env)
    }

    /// Both outputs, checked for the secret (and its first 12 characters).
    fn assert_no_secret(&self, output: &Output) {
        for text in [stdout(output), stderr(output)] {
            assert!(!text.contains(&self.secret[..12]), "the secret leaked: {text}");
        }
    }
}

#[test]
fn test_sends_to_one_webhook_with_its_secret_and_retries_through_the_pipeline() {
    use test_support::{Reply, Script};

    // GIVEN a target that fails once with a 503, then accepts
    let stack = TestSendStack::start(|_| {
        Script::new()
            .route("/hooks/ops", [Reply::status(503).body("busy"), Reply::ok()])
            .route("/hooks/relay", [Reply::ok()])
    });

    // WHEN the incident webhook is tested
    let output = stack.test(&["--integration", "ops-webhook"], &[]);

    // THEN it was delivered on the second attempt, and both attempts are printed
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(text.contains("attempt 1: retryable, http 503"), "{text}");
    assert!(text.contains("attempt 2: delivered, http 200"), "{text}");
    assert!(text.contains("1 of 1 message(s) delivered"), "{text}");
    // … the target got the real token, a fresh incident key and the marked test alert …
    let sent = stack.receiver.requests_to("/hooks/ops");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(
        sent[1].header("authorization"),
        Some(format!("Bearer {}", stack.secret).as_str())
    );
    let body: serde_json::Value = serde_json::from_str(&sent[1].body).unwrap();
    assert!(
        body["incident"].as_str().unwrap().starts_with("tocsin-test-"),
        "{body}"
    );
    assert!(body["monitor"].as_str().unwrap().starts_with("[TEST] "), "{body}");
    assert_eq!(body["severity"], "major", "the level's own value: {body}");
    // … nothing reached the other integrations the sample alert routes to …
    assert!(stack.receiver.requests_to("/hooks/relay").is_empty());
    // … and the secret is in neither output
    stack.assert_no_secret(&output);

    // WHEN it is tested again, from an SNS event file, THEN it is a new alert: sent again, not
    // skipped as delivered
    let again = stack.test(
        &["--integration", "ops-webhook", "--alert", "events/alert.json"],
        &[],
    );
    assert_eq!(again.status.code(), Some(0), "{}", stdout(&again));
    assert_eq!(stack.receiver.requests_to("/hooks/ops").len(), 3);
    drop(stack.runtime);
}

#[test]
fn test_posts_a_teams_card_to_its_workflows_webhook_signed_with_the_secret() {
    use test_support::{Reply, Script};

    // GIVEN a Workflows webhook that throttles once, then accepts with 202 and no body
    let path = "/workflows/7d3e0c52/triggers/manual/paths/invoke";
    let stack = TestSendStack::start(|_| {
        Script::new().route(
            path,
            [
                Reply::status(429).header("Retry-After", "1").body(
                    "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"Rate limit is exceeded.\"}}",
                ),
                Reply::status(202),
            ],
        )
    });

    // WHEN the Teams integration of the examples is tested
    let output = stack.test(&["--integration", "ops-teams"], &[]);

    // THEN the card was delivered on the second attempt, the throttling printed with its reason
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(text.contains("attempt 1: retryable, http 429"), "{text}");
    assert!(
        text.contains("TooManyRequests: Rate limit is exceeded."),
        "{text}"
    );
    assert!(text.contains("attempt 2: delivered, http 202"), "{text}");
    // … Workflows got the signature from SSM in the URL and an Adaptive Card of the test alert …
    let sent = stack.receiver.requests_to(path);
    assert_eq!(sent.len(), 2, "{sent:?}");
    let query = sent[1].query.as_deref().unwrap_or_default();
    assert!(query.ends_with(&format!("&sig={}", stack.secret)), "{query}");
    let body: serde_json::Value = serde_json::from_str(&sent[1].body).unwrap();
    assert_eq!(body["type"], "message");
    let attachment = &body["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert!(attachment["contentUrl"].is_null(), "{attachment}");
    let title = &attachment["content"]["body"][0]["inlines"][0];
    assert!(
        title["text"].as_str().unwrap().starts_with("Alert: [TEST] "),
        "{title}"
    );
    assert_eq!(title["color"], "Attention");
    // … and the signature is in neither output
    stack.assert_no_secret(&output);
    drop(stack.runtime);
}

#[test]
fn test_shows_requests_as_render_does_and_redacts_echoes_changed_by_the_target() {
    use base64::Engine as _;
    use test_support::{Reply, Script};

    // GIVEN a URL that carries the secret lower-cased by a filter, and a target that refuses the
    // request echoing the secret upper-cased, reversed, hex-encoded and inside base64 wrapped at 76
    // columns
    let stack = TestSendStack::start_with(
        |secret| {
            let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
            let wrapped = base64::engine::general_purpose::STANDARD
                .encode(format!("{}{secret}", "x".repeat(60)))
                .as_bytes()
                .chunks(76)
                .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
                .collect::<Vec<_>>()
                .join("\r\n");
            let reversed: String = secret.chars().rev().collect();
            let echo = format!(
                "upper {} reversed {reversed} hex {hex} mime\r\n{wrapped}\r\nend",
                secret.to_uppercase()
            );
            Script::new().route("/hooks/ops", [Reply::status(400).body(echo)])
        },
        |yaml| {
            yaml.replacen(
                "url: \"{{BaseUrl}}/hooks/ops\"",
                "url: \"{{BaseUrl}}/hooks/ops?k={{ Token|lower }}\"",
                1,
            )
        },
    );

    // WHEN the webhook is tested
    let output = stack.test(&["--integration", "ops-webhook"], &[]);

    // THEN the target got the lower-cased secret, the output shows the request with the secret's
    // placeholder (as `tocsin render` does), and no form of the secret appears
    let sent = stack.receiver.requests_to("/hooks/ops");
    assert_eq!(sent.len(), 1, "{sent:?}");
    let query = sent[0].query.clone().unwrap_or_default();
    assert!(query.contains(&stack.secret.to_lowercase()), "{query}");
    let text = stdout(&output);
    assert!(
        text.contains("%5Bsecret%20ssm%3A"),
        "the placeholder, percent-encoded in the URL: {text}"
    );
    assert!(text.contains("[redacted]"), "{text}");
    let reversed: String = stack.secret.chars().rev().collect();
    let hex: String = stack.secret.bytes().map(|b| format!("{b:02x}")).collect();
    // Characters 84..100 of the wrapped base64 encode the secret's bytes (the 60 `x` take 80).
    let encoded =
        base64::engine::general_purpose::STANDARD.encode(format!("{}{}", "x".repeat(60), stack.secret));
    let inside = encoded[84..100].to_owned();
    for text in [stdout(&output), stderr(&output)] {
        assert!(!text.contains(&inside), "the wrapped base64 echo leaked: {text}");
        for form in [
            stack.secret.to_lowercase(),
            stack.secret.to_uppercase(),
            reversed.clone(),
            hex.clone(),
        ] {
            assert!(
                !text.contains(&form[..12]),
                "a form of the secret leaked ({form}): {text}"
            );
        }
    }
    stack.assert_no_secret(&output);
    drop(stack.runtime);
}

#[test]
fn test_exits_1_and_prints_every_attempt_when_the_target_refuses_or_keeps_failing() {
    use test_support::{Reply, Script};

    // GIVEN a target that first refuses with a 400, then keeps answering 500, echoing the token
    let stack = TestSendStack::start(|secret| {
        Script::new().route(
            "/hooks/ops",
            [
                Reply::status(400).body(format!("bad token {secret}")),
                Reply::status(500).body(format!("down, token {secret}")),
            ],
        )
    });

    // WHEN it is tested twice
    let refused = stack.test(&["--integration", "ops-webhook"], &[]);
    let failing = stack.test(
        &["--integration", "ops-webhook", "--type", "reminder"],
        &[("TOCSIN_MAX_ATTEMPTS", "2")],
    );

    // THEN the 400 is one permanent attempt, the 500 two retryable ones, both exit 1, redacted
    assert_eq!(refused.status.code(), Some(1), "{}", stdout(&refused));
    let text = stdout(&refused);
    assert!(text.contains("attempt 1: permanent, http 400"), "{text}");
    assert!(text.contains("bad token [redacted]"), "{text}");
    assert!(text.contains("failed permanently"), "{text}");
    assert!(!text.contains("attempt 2"), "{text}");
    assert!(
        stderr(&refused).contains("1 of 1 message(s) not delivered"),
        "{}",
        stderr(&refused)
    );
    stack.assert_no_secret(&refused);

    assert_eq!(failing.status.code(), Some(1), "{}", stdout(&failing));
    let text = stdout(&failing);
    assert!(text.contains("(Reminder)"), "{text}");
    assert!(text.contains("attempt 1: retryable, http 500"), "{text}");
    assert!(text.contains("attempt 2: retryable, http 500"), "{text}");
    assert!(text.contains("down, token [redacted]"), "{text}");
    assert!(!text.contains("attempt 3"), "{text}");
    assert!(text.contains("not delivered, retryable"), "{text}");
    stack.assert_no_secret(&failing);
    assert_eq!(stack.receiver.requests_to("/hooks/ops").len(), 3);
}

#[test]
fn test_sends_an_email_through_ses_to_the_levels_operators_and_to() {
    // GIVEN the sample e-mail integration, and an extra address only this test uses
    let stack = TestSendStack::start(|_| test_support::Script::new());
    let extra = format!("{}@example.org", moto::unique("cli-test"));

    // WHEN it is tested with an Ok
    let output = stack.test(
        &["--integration", "ops-email", "--to", &extra, "--type", "ok"],
        &[],
    );

    // THEN SES took one e-mail for the on-duty operators of level 1, its extra e-mail and --to
    assert_eq!(
        output.status.code(),
        Some(0),
        "{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    let text = stdout(&output);
    assert!(text.contains("attempt 1: delivered"), "{text}");
    assert!(text.contains("delivered (external id "), "{text}");
    let data: serde_json::Value = stack.runtime.block_on(async {
        let url = format!("{}/moto-api/data.json", moto::endpoint().trim_end_matches('/'));
        serde_json::from_str(&reqwest::get(&url).await.unwrap().text().await.unwrap()).unwrap()
    });
    let sent: Vec<&serde_json::Value> = data
        .pointer("/ses/Message")
        .and_then(serde_json::Value::as_array)
        .unwrap()
        .iter()
        .filter(|message| message.to_string().contains(&extra))
        .collect();
    assert_eq!(sent.len(), 1, "{sent:?}");
    let mut to: Vec<&str> = sent[0]
        .pointer("/destinations/ToAddresses")
        .and_then(serde_json::Value::as_array)
        .unwrap()
        .iter()
        .map(|address| address.as_str().unwrap())
        .collect();
    to.sort_unstable();
    let mut expected = vec![
        "alice@example.com",
        "bob@example.com",
        "noc@example.com",
        extra.as_str(),
    ];
    expected.sort_unstable();
    assert_eq!(to, expected);
    let subject = sent[0]["subject"].as_str().unwrap();
    assert!(subject.starts_with("[Resolved] [TEST] "), "{subject}");
    stack.assert_no_secret(&output);
}

#[test]
fn test_calls_through_the_voice_endpoint_and_never_for_an_ok() {
    // GIVEN the sample voice integration, and the local voice endpoint (the emulator lacks the API)
    let stack = TestSendStack::start(|_| test_support::Script::new());
    let endpoint = stack.runtime.block_on(kind_kit::target::voice_endpoint());
    let voice_env = [(notify_core::sms_voice::ENDPOINT_URL_VARIABLE, endpoint.url(""))];
    let env: Vec<(&str, &str)> = voice_env
        .iter()
        .map(|(name, url)| (*name, url.as_str()))
        .collect();

    // WHEN it is tested with an Alert and an extra number
    let output = stack.test(
        &[
            "--integration",
            "ops-voice",
            "--to",
            "+15555550199",
            "--type",
            "alert",
        ],
        &env,
    );

    // THEN the endpoint took one signed, valid call per on-duty operator with a phone and --to
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    assert!(text.contains("delivered (external id "), "{text}");
    let requests = endpoint.requests();
    let mut called: Vec<String> = requests
        .iter()
        .map(|request| {
            assert_eq!(
                kind_kit::target::voice_answer(request).status,
                200,
                "{}",
                request.body
            );
            let body: serde_json::Value = serde_json::from_str(&request.body).unwrap();
            assert_eq!(body["MessageBodyTextType"], "SSML");
            assert_eq!(body["OriginationIdentity"], "+18005550100");
            assert!(body["MessageBody"].as_str().unwrap().contains("TEST"), "{body}");
            body["DestinationPhoneNumber"].as_str().unwrap().to_owned()
        })
        .collect();
    called.sort_unstable();
    assert!(called.contains(&"+15555550199".to_owned()), "{called:?}");
    assert!(
        called.len() >= 2,
        "the level's operators with a phone too: {called:?}"
    );
    stack.assert_no_secret(&output);

    // WHEN it is tested with an Ok, THEN nothing is called and the output says why
    let ok = stack.test(&["--integration", "ops-voice", "--type", "ok"], &env);
    let text = format!("{}{}", stdout(&ok), stderr(&ok));
    assert!(text.contains("never made for an Ok alert"), "{text}");
    assert_eq!(endpoint.requests().len(), requests.len(), "no call for an Ok");
}

#[test]
fn test_exits_2_on_an_unknown_integration_a_bad_file_or_a_bad_recipient() {
    let stack = TestSendStack::start(|_| test_support::Script::new());
    let path = stack.definitions.display().to_string();

    let unknown = stack.test(&["--integration", "pagerduty-main"], &[]);
    assert_eq!(unknown.status.code(), Some(2));
    let text = stderr(&unknown);
    assert!(
        text.contains(&format!("{path}: unknown integration `pagerduty-main`"))
            && text.contains("`ops-webhook`"),
        "{text}"
    );

    let missing = stack.test(
        &["--integration", "ops-webhook", "--alert", "no/such/alert.json"],
        &[],
    );
    assert_eq!(missing.status.code(), Some(2));
    assert!(
        stderr(&missing).contains("cannot read `no/such/alert.json`"),
        "{}",
        stderr(&missing)
    );

    let empty = write_temp("empty.json", "  ");
    let unreadable = stack.test(
        &["--integration", "ops-webhook", "--alert", empty.to_str().unwrap()],
        &[],
    );
    assert_eq!(unreadable.status.code(), Some(2));
    assert!(
        stderr(&unreadable).contains(&format!(
            "{}: cannot read the alert: empty message",
            empty.display()
        )),
        "{}",
        stderr(&unreadable)
    );

    let invalid = write_temp("invalid.yaml", "integrations:\n  - id: x\n    kind: pager\n");
    let output = tocsin_with(
        &["test", "-f", invalid.to_str().unwrap(), "--integration", "x"],
        &[],
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("integrations[0].kind"),
        "{}",
        stderr(&output)
    );

    let to_webhook = stack.test(&["--integration", "ops-webhook", "--to", "a@example.com"], &[]);
    assert_eq!(to_webhook.status.code(), Some(2));
    assert!(
        stderr(&to_webhook).contains("which addresses no person"),
        "{}",
        stderr(&to_webhook)
    );
    let bad_address = stack.test(&["--integration", "ops-email", "--to", "not-an-address"], &[]);
    assert_eq!(bad_address.status.code(), Some(2));
    assert!(
        stderr(&bad_address).contains("--to `not-an-address`"),
        "{}",
        stderr(&bad_address)
    );
    let alerts_only = write_temp(
        "alerts-only.yaml",
        "integrations:\n  - id: alerts-only\n    kind: webhook\n    messages:\n      - types: [Alert]\n        steps: [{url: \"http://127.0.0.1:9/hook\"}]\n",
    );
    let output = tocsin_with(
        &[
            "test",
            "-f",
            alerts_only.to_str().unwrap(),
            "--integration",
            "alerts-only",
            "--type",
            "ok",
        ],
        &[],
    );
    assert_eq!(output.status.code(), Some(2), "{}", stdout(&output));
    assert!(
        stderr(&output).contains("nothing to send")
            && stderr(&output).contains("no message for alert type Ok"),
        "{}",
        stderr(&output)
    );

    // Nothing was sent by any of them.
    assert!(stack.receiver.requests().is_empty());
}

// ---------------------------------------------------------------------------------------------
// replay

/// Every message in the queue, bodies parsed (waits briefly for the last ones).
async fn drain(sqs: &aws_sdk_sqs::Client, url: &str) -> Vec<serde_json::Value> {
    let mut bodies = Vec::new();
    loop {
        let messages = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap()
            .messages
            .unwrap_or_default();
        if messages.is_empty() {
            return bodies;
        }
        for message in messages {
            bodies.push(serde_json::from_str(message.body().unwrap()).unwrap());
            sqs.delete_message()
                .queue_url(url)
                .receipt_handle(message.receipt_handle().unwrap())
                .send()
                .await
                .unwrap();
        }
    }
}

/// Lambda's on-failure record of an invocation of `event`.
fn on_failure_record(event: &serde_json::Value) -> String {
    serde_json::json!({
        "version": "1.0",
        "timestamp": "2026-11-28T10:05:00.000Z",
        "requestContext": {
            "requestId": "3f1c5a2e-7b1d-4c55-9a40-2d8a0f6b9e11",
            "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:NotifyWebhookFunction:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": 3
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Retryable", "errorMessage": "1 route(s) left retryable: alert `x` integration `ops-webhook`: status 503"}
    })
    .to_string()
}

fn event_file(name: &str) -> serde_json::Value {
    serde_json::from_str(&std::fs::read_to_string(root().join("events").join(name)).unwrap()).unwrap()
}

#[test]
fn replay_republishes_each_failed_alert_with_its_id_and_deletes_only_what_it_replayed() {
    let endpoint = moto::endpoint();
    let env = [("AWS_ENDPOINT_URL", endpoint.as_str())];
    let runtime = tokio::runtime::Runtime::new().unwrap();
    // GIVEN a topic whose deliveries land in a queue, and an on-failure queue holding a record of
    // an event with a CloudWatch alarm, a native alert and an unreadable record, plus a stray message
    let (topic_arn, sqs, seen_url, dead_url) = runtime.block_on(async {
        let sdk = moto::sdk_config().await;
        let sns = aws_sdk_sns::Client::new(&sdk);
        let sqs = aws_sdk_sqs::Client::new(&sdk);
        let topic_arn = sns
            .create_topic()
            .name(moto::unique("replay-topic"))
            .send()
            .await
            .unwrap()
            .topic_arn
            .unwrap();
        let (seen_url, seen_arn) = moto::queue(&sqs, "replay-seen").await;
        sns.subscribe()
            .topic_arn(&topic_arn)
            .protocol("sqs")
            .endpoint(&seen_arn)
            .send()
            .await
            .unwrap();
        let (dead_url, _) = moto::queue(&sqs, "replay-dead").await;
        (topic_arn, sqs, seen_url, dead_url)
    });
    let cloudwatch = event_file("cloudwatch-alarm.json")["Records"][0].clone();
    let native = event_file("alert.json")["Records"][0].clone();
    let unreadable = serde_json::json!({"EventSource": "aws:sns", "Sns": {"MessageId": "m-3"}});
    let event = serde_json::json!({"Records": [cloudwatch.clone(), native.clone(), unreadable]});
    runtime.block_on(async {
        for body in [on_failure_record(&event), "not json at all".to_owned()] {
            sqs.send_message()
                .queue_url(&dead_url)
                .message_body(body)
                .send()
                .await
                .unwrap();
        }
    });
    let expected_ids: Vec<String> = [&cloudwatch, &native]
        .iter()
        .map(|record| {
            notify_core::pipeline::alert_from_record(record)
                .unwrap()
                .alert
                .alert_guid
        })
        .collect();

    // WHEN a dry run looks, then the replay runs
    let dry = tocsin_with(
        &[
            "replay",
            "--queue-url",
            &dead_url,
            "--topic-arn",
            &topic_arn,
            "--dry-run",
        ],
        &env,
    );
    let output = tocsin_with(
        &[
            "replay",
            "--queue-url",
            &dead_url,
            "--topic-arn",
            &topic_arn,
            "--json",
        ],
        &env,
    );

    // THEN the dry run published nothing; the replay re-published both readable alerts under their
    // own ids, deleted their record, kept the stray message with its reason, and exits 1 for it
    assert!(dry.status.success(), "dry run: {}", stderr(&dry));
    assert!(stdout(&dry).contains("would replay"), "{}", stdout(&dry));
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("1 message(s) replayed (2 alert(s) re-published), 1 kept"),
        "{}",
        stderr(&output)
    );
    let reports = lines(&output);
    assert_eq!(reports.len(), 2, "{reports:#?}");
    let replayed = reports.iter().find(|r| r["outcome"] == "replayed").unwrap();
    assert_eq!(replayed["condition"], "RetriesExhausted");
    assert_eq!(replayed["invocations"], 3);
    assert_eq!(replayed["alerts"], serde_json::json!(expected_ids));
    assert_eq!(replayed["unreadable"].as_array().unwrap().len(), 1);
    let kept = reports.iter().find(|r| r["outcome"] == "kept").unwrap();
    assert!(kept["reason"].as_str().unwrap().contains("not JSON"), "{kept}");

    let (seen, left) = runtime.block_on(async {
        (drain(&sqs, &seen_url).await, {
            // The kept message stays invisible for the replay's visibility timeout: count both.
            let attributes = sqs
                .get_queue_attributes()
                .queue_url(&dead_url)
                .attribute_names(aws_sdk_sqs::types::QueueAttributeName::All)
                .send()
                .await
                .unwrap()
                .attributes
                .unwrap();
            [
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ]
            .iter()
            .map(|name| {
                attributes[&aws_sdk_sqs::types::QueueAttributeName::from(*name)]
                    .parse::<u64>()
                    .unwrap()
            })
            .sum::<u64>()
        })
    });
    let republished: Vec<serde_json::Value> = seen
        .iter()
        .map(|notification| serde_json::from_str(notification["Message"].as_str().unwrap()).unwrap())
        .collect();
    assert_eq!(republished.len(), 2, "{seen:#?}");
    let ids: Vec<&str> = republished
        .iter()
        .map(|envelope| envelope["alert"]["alertGuid"].as_str().unwrap())
        .collect();
    assert_eq!(ids, expected_ids);
    assert!(republished.iter().all(|envelope| envelope["version"] == 1));
    assert_eq!(seen[0]["Subject"], cloudwatch["Sns"]["Subject"]);
    assert_eq!(left, 1, "only the stray message is left in the on-failure queue");
}

#[test]
fn a_replayed_alert_reads_back_as_the_same_alert_in_every_inbound_format() {
    // The replay's promise: the envelope it publishes is the alert the functions read before.
    for name in [
        "alert.json",
        "alertmanager.json",
        "cloudwatch-alarm.json",
        "ok.json",
    ] {
        for record in event_file(name)["Records"].as_array().unwrap() {
            let original = notify_core::pipeline::alert_from_record(record).unwrap();
            let mut again = record.clone();
            again["Sns"]["Message"] = serde_json::Value::String(
                serde_json::to_string(&alert_model::NativeEnvelope::new(original.clone())).unwrap(),
            );
            again["Sns"]["MessageId"] = serde_json::json!("a-new-message-id");
            assert_eq!(
                notify_core::pipeline::alert_from_record(&again).unwrap(),
                original,
                "{name}"
            );
        }
    }
}

#[test]
fn presets_lists_every_preset_with_its_variables() {
    let output = tocsin(&["presets"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(text.contains("webhook all-variables: "), "{text}");
    assert!(
        text.contains("webhook discord: ") && text.contains("required variables: WebhookUrl (secret)"),
        "{text}"
    );
    assert!(
        text.contains("required variables: ApiToken (secret), DoneTransitionId, Email, JiraUrl, ProjectKey"),
        "{text}"
    );
}

#[test]
fn test_prints_every_steps_request_and_response_and_what_it_extracted() {
    use test_support::{Reply, Script};

    let stack = TestSendStack::start(|_| {
        Script::new()
            .route(
                "/lookup",
                [Reply::status(200)
                    .header("content-type", "application/json")
                    .body(r#"{"result": [{"sys_id": "abc123"}]}"#)],
            )
            .route("/items/abc123", [Reply::status(200).body("patched")])
    });
    let yaml = r#"integrations:
  - id: flow
    kind: webhook
    variables:
      Base: "BASE"
    messages:
      - types: [Alert, Reminder, Ok]
        steps:
          - name: lookup
            method: GET
            url: "{{Base}}/lookup"
            extract:
              SysId: {jsonPath: "$.result[0].sys_id"}
          - name: patch
            method: PATCH
            url: "{{Base}}/items/{{SysId}}"
            body: '{"m": "{{@monitor.name}}"}'
"#
    .replace("BASE", &stack.receiver.url(""));
    let file = write_temp("flow.yaml", &yaml);
    let env: Vec<(&str, &str)> = stack
        .env
        .iter()
        .map(|(name, value)| (name.as_str(), value.as_str()))
        .collect();
    let output = tocsin_with(
        &["test", "-f", file.to_str().unwrap(), "--integration", "flow"],
        &env,
    );
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}\n{}", stderr(&output));
    assert!(text.contains("  step lookup: GET "), "{text}");
    assert!(
        text.contains("response: {\"result\": [{\"sys_id\": \"abc123\"}]}"),
        "{text}"
    );
    assert!(text.contains("delivered; extracted SysId=abc123"), "{text}");
    let patch = text.split("step patch").nth(1).unwrap_or_default();
    assert!(
        patch.contains("request: {") && patch.contains("/items/abc123"),
        "{text}"
    );
    assert!(patch.contains("response: patched"), "{text}");
    assert!(text.contains("2 of 2 message(s) delivered"), "{text}");
    drop(stack.runtime);
}

/// Every preset `tocsin presets` lists, as one definitions file: each required variable given (the
/// secret ones as references), attached to one level.
fn every_preset_file() -> (PathBuf, Vec<String>) {
    let output = tocsin(&["presets"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let mut names = Vec::new();
    let mut integrations = String::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("webhook ") {
            let name = rest.split(':').next().unwrap().to_owned();
            current = Some(name);
            continue;
        }
        let (Some(name), Some(required)) = (current.take(), line.strip_prefix("  required variables: "))
        else {
            continue;
        };
        let mut variables = String::new();
        for variable in required.split(", ").filter(|variable| *variable != "none") {
            let (variable, secret) = match variable.strip_suffix(" (secret)") {
                Some(variable) => (variable, true),
                None => (variable, false),
            };
            let value = if secret {
                format!("{{secret: \"ssm:/tocsin/presets/{name}/{variable}\"}}")
            } else if variable.ends_with("Url") {
                format!("\"https://{name}.example.com/{variable}\"")
            } else {
                format!("\"sample-{variable}\"")
            };
            variables.push_str(&format!("      {variable}: {value}\n"));
        }
        let settings = if name == "all-variables" {
            format!("      preset: {name}\n      url: https://{name}.example.com/in\n")
        } else {
            format!("      preset: {name}\n")
        };
        let variables = if variables.is_empty() {
            String::new()
        } else {
            format!("    variables:\n{variables}")
        };
        integrations.push_str(&format!(
            "  - id: p-{name}\n    kind: webhook\n{variables}    settings:\n{settings}"
        ));
        names.push(name);
    }
    let attached: String = names
        .iter()
        .map(|name| format!("          - integration: p-{name}\n"))
        .collect();
    let yaml = format!(
        "integrations:\n{integrations}alertDefinitions:\n  - id: all\n    monitors: [\"*\"]\n    levels:\n      - id: 1\n        integrations:\n{attached}"
    );
    (write_temp("presets.yaml", &yaml), names)
}

#[test]
fn every_preset_validates_and_renders_for_every_alert_type() {
    let (file, names) = every_preset_file();
    assert!(names.len() >= 14, "{names:?}");
    let file = file.to_str().unwrap();
    let output = tocsin(&["validate", "-f", file]);
    assert!(output.status.success(), "{}{}", stdout(&output), stderr(&output));
    for alert_type in ["alert", "reminder", "ok"] {
        let output = tocsin(&[
            "render",
            "-f",
            file,
            "--alert",
            "examples/alerts/alert.json",
            "--type",
            alert_type,
        ]);
        assert!(output.status.success(), "{alert_type}: {}", stderr(&output));
        let lines = lines(&output);
        for name in &names {
            let integration = format!("p-{name}");
            let rendered: Vec<&serde_json::Value> = lines
                .iter()
                .filter(|line| line["integration"] == integration.as_str())
                .collect();
            // Every preset sends on an Alert and an Ok; the Statuspage one sends nothing on a
            // Reminder.
            assert!(
                !rendered.is_empty() || (alert_type == "reminder" && name == "statuspage"),
                "{name} {alert_type}: nothing rendered"
            );
            for line in rendered {
                let request = &line["request"];
                let url = request["url"].as_str().unwrap_or_default();
                // A URL kept in a secret is shown as its placeholder.
                let placeholder = format!("[secret ssm:/tocsin/presets/{name}/");
                assert!(
                    url.starts_with("https://") || url.starts_with(&placeholder),
                    "{name} {alert_type}: {line}"
                );
                assert!(request["method"].is_string(), "{name} {alert_type}: {line}");
            }
        }
        // Secrets are references: shown as placeholders, never read.
        let text = stdout(&output);
        assert!(
            text.contains("[secret ssm:/tocsin/presets/discord/WebhookUrl]"),
            "{text}"
        );
    }
}

#[test]
fn validate_checks_user_functions_and_names_their_paths() {
    let yaml = r#"integrations:
  - id: fns
    kind: webhook
    variables:
      HmacKey: {secret: "ssm:/tocsin/hmac"}
    settings:
      functions:
        badRegex: {type: regex, pattern: "(", replace: x}
        badZone: {type: date, format: "yyyy-MM-dd", timeZone: Mars/Olympus}
        badGroup: {type: regex, pattern: "(a)", group: 3}
        badKey: {type: hmac, algorithm: sha256, key: "written-in-the-file"}
        goodKey: {type: hmac, algorithm: sha256, key: "{{HmacKey}}"}
        state: {type: map, values: {Ok: resolved}, default: firing}
    messages:
      - types: [Alert]
        steps:
          - url: "https://x.example.com/{{state({{@alert.type}})}}"
"#;
    let file = write_temp("functions.yaml", yaml);
    let output = tocsin(&["validate", "-f", file.to_str().unwrap()]);
    let text = format!("{}{}", stdout(&output), stderr(&output));
    assert_eq!(output.status.code(), Some(2), "{text}");
    for expected in [
        "integrations[0].settings.functions.badRegex.pattern: invalid regular expression",
        "integrations[0].settings.functions.badZone.timeZone: unknown time zone `Mars/Olympus`",
        "integrations[0].settings.functions.badGroup.group",
        "integrations[0].settings.functions.badKey.key: the key must come from a secret variable",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    assert!(
        !text.contains("functions.state") && !text.contains("functions.goodKey"),
        "{text}"
    );
    assert!(!text.contains("written-in-the-file"), "{text}");
}
