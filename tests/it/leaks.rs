//! Secrets that a message holds in another form than the one the template wrote: JSON-escaped,
//! percent-encoded in a URL, base64 in Basic credentials, or cut off in an echoed answer. None of
//! them may reach the delivery log or a log line.

use alert_model::IntegrationKind;
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use definition_store::HttpAuth;
use serde_json::Value;
use test_support::{
    moto::unique,
    receiver::{Reply, Script},
    sns,
};

use crate::{
    redaction::{find_leaks, item_text, secret_with},
    stack::{OPS_PATH, RELAY_PATH, Stack, event_file, message_of, with_alert_guid},
};

fn fresh_event() -> Value {
    let message = with_alert_guid(&message_of(&event_file("alert.json")), &unique("alert"));
    sns::event(&[(&unique("sns"), &message)])
}

/// Every place the secret shows up in any of the forms [`find_leaks`] knows (its first 12
/// characters included).
fn leaks(secret: &str, items: &[HashMap<String, AttributeValue>], logs: &str) -> Vec<String> {
    let mut found: Vec<String> = items
        .iter()
        .map(item_text)
        .flat_map(|text| {
            find_leaks(secret, &text)
                .into_iter()
                .map(move |(form, _)| format!("{form}: {text}"))
        })
        .collect();
    for (form, _) in find_leaks(secret, logs) {
        found.push(format!("{form} in the logs: {logs}"));
    }
    found
}

#[tokio::test]
async fn a_secret_with_quotes_and_backslashes_is_redacted_in_its_json_form() {
    // GIVEN a token holding characters JSON escapes
    let secret = secret_with("\"quo\\te");
    let stack = Stack::build_with_secret(
        secret.clone(),
        |_| {
            Script::new()
                .route(OPS_PATH, [Reply::ok()])
                .route(RELAY_PATH, [Reply::ok()])
        },
        &[],
        |_| {},
    )
    .await;
    let (logs, _guard) = test_support::logs::capture();

    // WHEN an alert is delivered with it
    let handled = stack.handle(&fresh_event()).await;
    assert!(
        handled.of(IntegrationKind::Webhook).is_ok(),
        "{:?}",
        handled.of(IntegrationKind::Webhook)
    );

    // THEN the target got it, and the delivery log and the logs did not
    let sent = stack.receiver.requests_to(OPS_PATH);
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Bearer {secret}").as_str())
    );
    let found = leaks(&secret, &stack.scan_deliveries().await, &logs.text());
    assert!(found.is_empty(), "{found:#?}");
}

#[tokio::test]
async fn a_secret_in_basic_credentials_and_in_a_url_query_is_redacted() {
    use base64::Engine as _;

    // GIVEN a token used as a Basic password and as a query parameter, holding `+` and a space
    let secret = secret_with("+sp ace");
    let stack = Stack::build_with_secret(
        secret.clone(),
        |_| {
            Script::new()
                .route(OPS_PATH, [Reply::status(404)])
                .route(RELAY_PATH, [Reply::ok()])
        },
        &[],
        |definitions| {
            let ops = definitions
                .integrations
                .iter_mut()
                .find(|integration| integration.id == "ops-webhook");
            for message in &mut ops.expect("the sample has ops-webhook").messages {
                for step in &mut message.steps {
                    step.auth = Some(HttpAuth::Basic {
                        username: "ops".to_owned(),
                        password: "{{Token}}".to_owned(),
                    });
                    step.url = format!("{}?key={{{{Token}}}}", step.url);
                }
            }
        },
    )
    .await;
    let (logs, _guard) = test_support::logs::capture();

    // WHEN an alert is sent (and refused by the target)
    let handled = stack.handle(&fresh_event()).await;
    assert_eq!(
        handled
            .of(IntegrationKind::Webhook)
            .as_ref()
            .map(|report| report.failed)
            .ok(),
        Some(1),
        "{:?}",
        handled.of(IntegrationKind::Webhook)
    );

    // THEN the target got the credentials and the key …
    let sent = stack.receiver.requests_to(OPS_PATH);
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("ops:{secret}"));
    assert_eq!(
        sent[0].header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    assert!(
        sent[0].query.as_deref().unwrap_or_default().contains("key="),
        "{:?}",
        sent[0].query
    );
    // … and neither the credentials nor any encoding of the key is in the delivery log or the logs
    let items = stack.scan_deliveries().await;
    let found = leaks(&secret, &items, &logs.text());
    assert!(found.is_empty(), "{found:#?}");
    for item in &items {
        let printed = format!("{item:?}");
        assert!(!printed.contains(&basic), "basic credentials in {printed}");
        assert!(
            !printed.contains("sp%20ace") && !printed.contains("sp+ace"),
            "encoded key in {printed}"
        );
    }
}

#[tokio::test]
async fn a_secret_cut_off_in_an_echoed_answer_is_redacted_too() {
    // GIVEN a target that echoes the token where the stored error (200 bytes) and the stored
    // response preview (1 KiB) cut it off
    let secret = secret_with("-rest-of-the-token");
    let stack = Stack::build_with_secret(
        secret.clone(),
        |secret| {
            Script::new()
                .route(
                    OPS_PATH,
                    [Reply::status(400).body(format!("{}{secret}", "a".repeat(186)))],
                )
                .route(RELAY_PATH, [Reply::ok()])
        },
        &[],
        |_| {},
    )
    .await;
    let (logs, _guard) = test_support::logs::capture();
    let handled = stack.handle(&fresh_event()).await;
    assert_eq!(
        handled
            .of(IntegrationKind::Webhook)
            .as_ref()
            .map(|report| report.failed)
            .ok(),
        Some(1),
        "{:?}",
        handled.of(IntegrationKind::Webhook)
    );
    let found = leaks(&secret, &stack.scan_deliveries().await, &logs.text());
    assert!(found.is_empty(), "{found:#?}");

    let stack = Stack::build_with_secret(
        secret_with("-rest-of-the-token"),
        |secret| {
            Script::new()
                .route(
                    OPS_PATH,
                    [Reply::ok().body(format!("{}{secret}", "a".repeat(1012)))],
                )
                .route(RELAY_PATH, [Reply::ok()])
        },
        &[],
        |_| {},
    )
    .await;
    let handled = stack.handle(&fresh_event()).await;
    assert!(
        handled.of(IntegrationKind::Webhook).is_ok(),
        "{:?}",
        handled.of(IntegrationKind::Webhook)
    );
    let found = leaks(&stack.secret, &stack.scan_deliveries().await, "");
    assert!(found.is_empty(), "{found:#?}");
}
