use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, template::Engine};
use aws_sdk_sns::{
    config::http::HttpResponse,
    error::{ErrorMetadata, SdkError},
    operation::publish::PublishError,
};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use definition_store::{Attachment, EscalationLevel, Integration, Operator};
use notify_core::{Notifier, NotifyError, Outgoing, RouteContext, Variables};
use serde_json::json;

use crate::{MAX_SMS_BYTES, SmsMessage, SmsNotifier, SmsTarget, classify};

// ---------------------------------------------------------------------------------------------
// Fixtures

fn alert(alert_type: AlertType) -> Alert {
    test_support::fixtures::sample_alert(alert_type)
}

fn integration(settings: serde_json::Value) -> Integration {
    let serde_json::Value::Object(settings) = settings else {
        panic!("settings must be an object")
    };
    Integration {
        id: "ops-sms".to_owned(),
        name: "Ops text messages".to_owned(),
        kind: alert_model::IntegrationKind::Sms,
        active: true,
        variables: BTreeMap::new(),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

fn operator(id: &str, phone: Option<&str>) -> Operator {
    Operator {
        id: id.to_owned(),
        name: id.to_owned(),
        email: Some(format!("{id}@example.com")),
        phone: phone.map(str::to_owned),
        active: true,
        on_duty: true,
    }
}

fn attachment(extra_phones: &[&str]) -> Attachment {
    Attachment {
        integration: "ops-sms".to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::new(),
        extra_emails: Vec::new(),
        extra_phones: extra_phones.iter().map(|phone| (*phone).to_owned()).collect(),
        service_links: Vec::new(),
    }
}

fn level() -> EscalationLevel {
    EscalationLevel {
        id: 1,
        active: true,
        message: "Call the DNS team".to_owned(),
        operators: vec!["ann".to_owned(), "bob".to_owned()],
        integrations: vec![attachment(&[])],
    }
}

/// A notifier whose SNS client points nowhere: enough for everything but `send`.
fn notifier() -> SmsNotifier {
    let config = aws_sdk_sns::Config::builder()
        .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
        .region(aws_sdk_sns::config::Region::new("us-east-1"))
        .build();
    SmsNotifier::with_client(aws_sdk_sns::Client::from_conf(config))
}

/// Builds the messages of one route, through the notifier as the runner calls it.
fn build(
    alert: &Alert,
    integration: &Integration,
    operators: &[Operator],
    extra_phones: &[&str],
) -> Result<Vec<Outgoing<SmsMessage>>, NotifyError> {
    let notifier = notifier();
    let target = notifier.target(integration)?;
    let engine = Engine::new();
    let variables = Variables::default();
    let attachment = attachment(extra_phones);
    let level = level();
    let route = RouteContext {
        alert,
        integration,
        attachment: &attachment,
        level: &level,
        recipients: operators.iter().collect(),
        variables: &variables,
        now: "2026-11-28T16:00:05Z".parse().expect("fixed time"),
        engine: &engine,
        incident: None,
    };
    notifier.build(&route, &target)
}

fn ops() -> Vec<Operator> {
    vec![
        operator("ann", Some("+31612345678")),
        operator("bob", Some("+15555550102")),
    ]
}

/// The characters of the GSM 03.38 default alphabet (without the escape extension).
const GSM7: &str = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà";

// ---------------------------------------------------------------------------------------------
// Messages (pure)

#[test]
fn one_message_per_recipient_with_the_default_text_of_every_alert_type() {
    for alert_type in AlertType::ALL {
        let messages = build(
            &alert(*alert_type),
            &integration(json!({})),
            &ops(),
            &["+442071234567"],
        )
        .expect("builds");
        let shown: Vec<serde_json::Value> = messages
            .iter()
            .map(|outgoing| json!({ "step": outgoing.step, "message": outgoing.message }))
            .collect();
        insta::assert_json_snapshot!(format!("default_{}", alert_type.as_lower()), shown);
    }
}

#[test]
fn the_default_text_of_a_typical_alert_fits_two_gsm7_segments() {
    for alert_type in AlertType::ALL {
        let messages = build(&alert(*alert_type), &integration(json!({})), &ops(), &[]).expect("builds");
        let text = &messages[0].message.text;
        assert!(
            text.chars().all(|c| GSM7.contains(c)),
            "{alert_type}: not all GSM-7: {text:?}"
        );
        assert!(
            text.chars().count() <= 306,
            "{alert_type}: {} characters: {text}",
            text.chars().count()
        );
    }
}

#[test]
fn numbers_not_in_e164_are_skipped_and_the_others_still_get_theirs() {
    let operators = vec![
        operator("ann", Some("0612345678")),
        operator("bob", Some("+15555550102")),
        operator("cy", None),
        operator("dee", Some("+15555550102")),
    ];
    let (logs, _guard) = test_support::logs::capture();
    let messages = build(
        &alert(AlertType::Alert),
        &integration(json!({})),
        &operators,
        &["+1 555 0101", "+442071234567"],
    )
    .expect("builds");
    let to: Vec<&str> = messages.iter().map(|m| m.message.to.as_str()).collect();
    assert_eq!(to, ["+15555550102", "+442071234567"]);
    let steps: Vec<&str> = messages.iter().map(|m| m.step.as_str()).collect();
    assert_eq!(steps, ["sms-+15555550102", "sms-+442071234567"]);
    let text = logs.text();
    assert!(text.contains("text message recipient skipped"), "{text}");
    assert!(
        text.contains("operator `ann`") && text.contains("extraPhones[0]"),
        "{text}"
    );
    assert!(
        !text.contains("0612345678"),
        "the number itself is not logged: {text}"
    );
}

#[test]
fn no_recipient_no_message() {
    let messages = build(
        &alert(AlertType::Alert),
        &integration(json!({})),
        &[operator("ann", None)],
        &[],
    )
    .expect("builds");
    assert!(messages.is_empty());
}

#[test]
fn a_template_override_and_the_hard_cap_that_never_splits_a_character() {
    let mut huge = alert(AlertType::Alert);
    huge.alert.description = "é€🚨".repeat(1000);
    let messages = build(
        &huge,
        &integration(json!({"text": "{{@monitor.name}}: {{@alert.description}}"})),
        &ops(),
        &[],
    )
    .expect("builds");
    let text = &messages[0].message.text;
    assert!(text.len() <= MAX_SMS_BYTES, "{} bytes", text.len());
    assert!(
        text.len() > MAX_SMS_BYTES - 4,
        "cut only at the limit: {} bytes",
        text.len()
    );
    let whole = format!("{}: {}", huge.monitor.name, huge.alert.description);
    assert!(whole.starts_with(text.as_str()));
}

#[test]
fn settings_are_read_and_checked() {
    let target = SmsTarget::parse(&integration(json!({
        "smsType": "Promotional",
        "senderId": "Tocsin",
        "originationNumber": "+18005550100",
    })))
    .expect("valid settings");
    assert_eq!(target.sms_type.as_str(), "Promotional");
    let defaults = SmsTarget::parse(&integration(json!({}))).expect("no settings");
    assert_eq!(defaults.sms_type.as_str(), "Transactional");
    for (settings, expected) in [
        (
            json!({"senderId": "Far-too-long-1"}),
            "integration `ops-sms`: `settings.senderId`: a sender ID has 1 to 11 characters",
        ),
        (
            json!({"senderId": "12345"}),
            "integration `ops-sms`: `settings.senderId`: a sender ID has at least one letter",
        ),
        (
            json!({"originationNumber": "555-0100"}),
            "integration `ops-sms`: `settings.originationNumber`: not in E.164 form (it must start with +)",
        ),
        (
            json!({"smsType": "Urgent"}),
            "integration `ops-sms`: `settings.smsType`: unknown variant `Urgent`, expected `Transactional` or `Promotional`",
        ),
        (
            json!({"to": "+15555550100"}),
            "integration `ops-sms`: `settings.to`: unknown field `to`, expected one of `text`, `smsType`, `senderId`, `originationNumber`",
        ),
    ] {
        let error = SmsTarget::parse(&integration(settings)).unwrap_err();
        assert!(!error.is_retryable());
        assert_eq!(error.to_string(), expected);
    }
}

// ---------------------------------------------------------------------------------------------
// Classification of SNS answers

fn service_error(code: &str, status: u16) -> SdkError<PublishError, HttpResponse> {
    let meta = ErrorMetadata::builder()
        .code(code)
        .message("said the service")
        .build();
    let error = PublishError::generic(meta);
    let response = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::from(""));
    SdkError::service_error(error, response)
}

#[test]
fn throttling_and_server_errors_are_retryable_the_rest_permanent() {
    for (code, status, retryable) in [
        ("Throttling", 400, true),
        ("ThrottledException", 429, true),
        ("InternalError", 500, true),
        ("ServiceUnavailable", 503, true),
        ("InvalidParameter", 400, false),
        ("AuthorizationError", 403, false),
        ("OptedOut", 400, false),
    ] {
        let classified = classify(&service_error(code, status));
        assert_eq!(classified.is_retryable(), retryable, "{code}: {classified:?}");
        assert_eq!(classified.status(), Some(status));
        assert!(classified.to_string().contains(code), "{classified}");
    }
}

// ---------------------------------------------------------------------------------------------
// What every kind must do (retries, idempotency, redaction, bad settings), against SNS's answers

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<SmsNotifier>().await;
}

// ---------------------------------------------------------------------------------------------
// Sending through the local SNS emulator

#[tokio::test]
async fn send_through_the_emulator_which_records_each_text_message() {
    // GIVEN the SMS notifier on the emulator
    let sdk = test_support::moto::sdk_config().await;
    let notifier = SmsNotifier::with_client(aws_sdk_sns::Client::new(&sdk));
    let text = format!("ALERT: {} ✓", test_support::moto::unique("sms"));
    let message = SmsMessage {
        to: "+15555550123".to_owned(),
        text: text.clone(),
        sms_type: "Transactional",
        sender_id: Some("Tocsin".to_owned()),
        origination_number: None,
    };

    // WHEN it is sent
    let sent = notifier
        .send(&message)
        .await
        .unwrap_or_else(|error| panic!("{error:?}"));

    // THEN SNS recorded it under the returned id, to that number
    let id = sent.external_id.expect("SNS returns a MessageId");
    let url = format!("{}/moto-api/data.json", test_support::moto::endpoint());
    let data: serde_json::Value =
        serde_json::from_str(&reqwest::get(&url).await.unwrap().text().await.unwrap())
            .expect("data.json is JSON");
    let recorded = data["sns"]["SMS"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .find(|sms| sms["message_id"] == json!(id))
        .unwrap_or_else(|| panic!("message {id} not in the emulator's sns.SMS: {data}"));
    assert_eq!(recorded["phone_number"], "+15555550123");
    assert_eq!(recorded["message"], json!(text));
}
