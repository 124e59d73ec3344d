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
    assert!(
        stdout(&output).contains("valid (3 integrations"),
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
    let kinds: Vec<&str> = lines.iter().map(|line| line["kind"].as_str().unwrap()).collect();
    assert!(
        kinds.contains(&"email") && kinds.contains(&"webhook"),
        "{kinds:?}"
    );
    for line in &lines {
        assert_eq!(line["alertType"], "Alert");
        match line["kind"].as_str().unwrap() {
            "email" => {
                let email = &line["email"];
                assert!(
                    email["subject"]
                        .as_str()
                        .unwrap()
                        .contains("GalacticResorts.com - DNS"),
                    "{email}"
                );
                assert!(!email["to"].as_array().unwrap().is_empty());
            }
            _ => {
                let request = &line["request"];
                assert!(
                    request["url"]
                        .as_str()
                        .unwrap()
                        .starts_with("http://127.0.0.1:8787/hooks/")
                );
                // Bodies are JSON that parses, whatever the alert's notes hold.
                serde_json::from_str::<serde_json::Value>(request["body"].as_str().unwrap()).unwrap();
            }
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
