use std::collections::BTreeMap;

use alert_model::template::{Engine, Escape, RenderContext, TemplateSource};
use alert_model::{Alert, AlertType};
use aws_sdk_sesv2::{
    config::http::HttpResponse,
    error::{ConnectorError, ErrorMetadata, SdkError},
    operation::send_email::SendEmailError,
    types::error as ses,
};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use definition_store::{Attachment, EscalationLevel, Integration, Operator};
use notify_core::{Notifier, NotifyError, Outgoing, RouteContext, Variables};
use serde_json::json;

use crate::{EmailMessage, EmailNotifier, EmailTarget, classify};

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
        id: "ops-mail".to_owned(),
        name: "Ops e-mail".to_owned(),
        kind: alert_model::IntegrationKind::Email,
        active: true,
        variables: BTreeMap::new(),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

fn operator(id: &str, email: Option<&str>) -> Operator {
    Operator {
        id: id.to_owned(),
        name: id.to_owned(),
        email: email.map(str::to_owned),
        phone: None,
        active: true,
        on_duty: true,
    }
}

fn attachment(extra_emails: &[&str]) -> Attachment {
    Attachment {
        integration: "ops-mail".to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::new(),
        extra_emails: extra_emails.iter().map(|email| (*email).to_owned()).collect(),
        extra_phones: Vec::new(),
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

/// A notifier whose SES client points nowhere: enough for everything but `send`.
fn notifier() -> EmailNotifier {
    let config = aws_sdk_sesv2::Config::builder()
        .behavior_version(aws_sdk_sesv2::config::BehaviorVersion::latest())
        .region(aws_sdk_sesv2::config::Region::new("us-east-1"))
        .build();
    EmailNotifier::with_client(
        aws_sdk_sesv2::Client::from_conf(config),
        Some("alerts@example.com".to_owned()),
    )
}

fn now() -> chrono::DateTime<chrono::Utc> {
    "2026-11-28T16:00:05Z".parse().expect("fixed time")
}

/// Builds the messages of one route.
fn build(
    alert: &Alert,
    integration: &Integration,
    operators: &[Operator],
    extra_emails: &[&str],
) -> Result<Vec<Outgoing<EmailMessage>>, NotifyError> {
    let notifier = notifier();
    let target = notifier.target(integration)?;
    let attachment = attachment(extra_emails);
    let level = level();
    let variables = Variables::default();
    let engine = Engine::new();
    let route = RouteContext {
        alert,
        integration,
        attachment: &attachment,
        level: &level,
        recipients: operators.iter().collect(),
        variables: &variables,
        now: now(),
        engine: &engine,
        incident: None,
    };
    notifier.build(&route, &target)
}

fn ops() -> Vec<Operator> {
    vec![
        operator("ann", Some("ann@example.com")),
        operator("bob", Some("bob@example.com")),
    ]
}

/// What a snapshot shows: every message as `tocsin render` prints it, with its step.
fn rendered(messages: &[Outgoing<EmailMessage>]) -> serde_json::Value {
    let notifier = notifier();
    messages
        .iter()
        .map(|outgoing| json!({ "step": outgoing.step, "message": notifier.describe(&outgoing.message) }))
        .collect()
}

fn check(name: &str, alert: &Alert, integration: &Integration) {
    let messages = build(alert, integration, &ops(), &["oncall@example.com"])
        .unwrap_or_else(|error| panic!("{name}: build failed: {error}"));
    insta::assert_json_snapshot!(name, rendered(&messages));
}

// ---------------------------------------------------------------------------------------------
// Settings: one test per rule

#[test]
fn settings_empty_uses_default_sender_and_templates() {
    let target = EmailTarget::parse(&integration(json!({})), Some("alerts@example.com")).unwrap();
    assert_eq!(
        target,
        EmailTarget {
            from: "alerts@example.com".to_owned(),
            subject: None,
            html: None,
            text: None
        }
    );
}

#[test]
fn settings_from_overrides_default_sender() {
    let target = EmailTarget::parse(
        &integration(json!({"from": "Ops <ops@example.com>"})),
        Some("alerts@example.com"),
    )
    .unwrap();
    assert_eq!(target.from, "Ops <ops@example.com>");
}

#[test]
fn settings_without_any_sender_is_refused() {
    let error = EmailTarget::parse(&integration(json!({})), None).unwrap_err();
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "integration `ops-mail`: no sender: set `settings.from` or the function's `TOCSIN_EMAIL_FROM`"
    );
}

#[test]
fn settings_unknown_key_is_refused_by_name() {
    let error = EmailTarget::parse(
        &integration(json!({"form": "x@example.com"})),
        Some("a@example.com"),
    )
    .unwrap_err();
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "integration `ops-mail`: `settings.form`: unknown field `form`, expected one of `from`, `subject`, `html`, `text`"
    );
}

#[test]
fn settings_value_must_be_a_string() {
    let error = EmailTarget::parse(&integration(json!({"subject": 42})), Some("a@example.com")).unwrap_err();
    assert_eq!(
        error.to_string(),
        "integration `ops-mail`: `settings.subject`: invalid type: integer `42`, expected a string"
    );
}

#[test]
fn settings_invalid_sender_is_refused() {
    for from in [
        "not-an-address",
        "a@b",
        "two@@example.com",
        "x@example.com\r\nBcc: y@example.com",
        "Ünï <u@example.com>",
    ] {
        let error = EmailTarget::parse(&integration(json!({ "from": from })), None).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`settings.from` is not a valid sender address"),
            "{from}: {error}"
        );
    }
}

#[test]
fn settings_invalid_default_sender_is_refused_naming_the_variable() {
    let error = EmailTarget::parse(&integration(json!({})), Some("nobody")).unwrap_err();
    assert!(
        error
            .to_string()
            .contains("`TOCSIN_EMAIL_FROM` is not a valid sender address"),
        "{error}"
    );
}

#[test]
fn address_problems_are_named() {
    assert_eq!(
        definition_store::rules::email_problem("nobody"),
        Some("not an e-mail address (no `@`)")
    );
    assert_eq!(
        definition_store::rules::email_problem("a b@example.com"),
        Some("not an e-mail address")
    );
    assert_eq!(
        definition_store::rules::email_problem("ops@exämple.com"),
        Some("non-ASCII address (SES needs ASCII; write an international domain in punycode)")
    );
    assert_eq!(definition_store::rules::email_problem("ops@example.com"), None);
}

#[test]
fn address_validation() {
    for good in [
        "a@example.com",
        "first.last+tag@sub.example.co.uk",
        "ops@xn--exmple-cua.com",
    ] {
        assert!(definition_store::rules::email_problem(good).is_none(), "{good}");
    }
    for bad in [
        "",
        "a",
        "@example.com",
        "a@",
        "a@example",
        "a b@example.com",
        "<a@example.com>",
        "a@-x.com",
        "a@x..com",
        "ÜNÏ@example.com",
        "ops@exämple.com",
    ] {
        assert!(definition_store::rules::email_problem(bad).is_some(), "{bad}");
    }
}

// ---------------------------------------------------------------------------------------------
// Built messages

#[test]
fn alert_message() {
    check("alert", &alert(AlertType::Alert), &integration(json!({})));
}

#[test]
fn ok_message() {
    check("ok", &alert(AlertType::Ok), &integration(json!({})));
}

#[test]
fn reminder_message() {
    check("reminder", &alert(AlertType::Reminder), &integration(json!({})));
}

#[test]
fn hostile_values() {
    let mut alert = alert(AlertType::Alert);
    alert.monitor.name = "Evil \"DNS\"\r\nBcc: victim@example.com\n<b>bold</b> Ünïcødé ✓ 🚨".to_owned();
    alert.alert.description = "<script>alert('x')</script> & \"quotes\" 'single' \u{0}nul".to_owned();
    alert
        .monitor
        .custom_fields
        .insert("Team".to_owned(), "<img src=x onerror=alert(1)>".to_owned());
    let messages = build(&alert, &integration(json!({})), &ops(), &[]).unwrap();
    let message = &messages[0].message;
    assert!(
        !message.subject.contains(['\r', '\n']),
        "subject: {:?}",
        message.subject
    );
    assert!(!message.html.contains("<script>"), "html: {}", message.html);
    assert!(!message.html.contains("<img src=x"), "html: {}", message.html);
    insta::assert_json_snapshot!("hostile", rendered(&messages));
}

#[test]
fn values_never_break_the_subject_line_or_the_html() {
    for breaker in [
        "\r\n", "\n", "\r", "\u{0}", "\u{b}", "\u{1b}", "\u{7f}", "\u{85}", "\u{2028}", "\u{2029}",
    ] {
        let mut alert = alert(AlertType::Alert);
        alert.monitor.name = format!("DNS{breaker}Bcc: victim@example.com");
        let settings = json!({"subject": "[{{@alert.type}}] {{@monitor.name}} {{ monitor.name }}"});
        let messages = build(&alert, &integration(settings), &ops(), &[]).unwrap();
        let subject = &messages[0].message.subject;
        assert_eq!(
            subject, "[Alert] DNS Bcc: victim@example.com DNS Bcc: victim@example.com",
            "{breaker:?}"
        );
    }
    // Template code and markup in values are text in every part of the message.
    let mut alert = alert(AlertType::Alert);
    alert.monitor.name = "{{ 7*7 }} {{ApiKey}} <b>x</b>".to_owned();
    let settings = json!({
        "subject": "{{@monitor.name}}",
        "text": "{{@monitor.name}}",
        "html": "<p>{{@monitor.name}}</p>",
    });
    let message = &build(&alert, &integration(settings), &ops(), &[]).unwrap()[0].message;
    assert_eq!(message.subject, "{{ 7*7 }} {{ApiKey}} <b>x</b>");
    assert_eq!(message.text, "{{ 7*7 }} {{ApiKey}} <b>x</b>");
    assert_eq!(message.html, "<p>{{ 7*7 }} {{ApiKey}} &lt;b&gt;x&lt;/b&gt;</p>");
}

#[test]
fn huge_description() {
    let mut alert = alert(AlertType::Alert);
    alert.alert.description = "é".repeat(50 * 1024) + "END";
    let messages = build(
        &alert,
        &integration(json!({"subject": "{{@alert.description}}"})),
        &ops(),
        &[],
    )
    .unwrap();
    let message = &messages[0].message;
    assert_eq!(message.subject.chars().count(), crate::MAX_SUBJECT_CHARS);
    assert!(message.subject.ends_with('…'));
    assert!(
        message.text.contains("END"),
        "the body keeps the whole description"
    );
    assert!(
        message.html.contains("END"),
        "the body keeps the whole description"
    );
    insta::assert_json_snapshot!(
        "huge_description",
        json!({
            "to": message.to,
            "subject_chars": message.subject.chars().count(),
            "text_bytes_at_least": message.text.len() >= 100 * 1024,
            "html_bytes_at_least": message.html.len() >= 100 * 1024,
        })
    );
}

#[test]
fn subject_is_one_line_and_cut_at_a_character_boundary() {
    let subject = format!("first line\r\nsecond\rthird\n{}", "ü".repeat(300));
    let settings = json!({"subject": subject, "text": "t", "html": "<p>h</p>"});
    let messages = build(&alert(AlertType::Alert), &integration(settings), &ops(), &[]).unwrap();
    let subject = &messages[0].message.subject;
    assert!(subject.starts_with("first line second third üü"), "{subject}");
    assert_eq!(subject.chars().count(), 200);
    assert!(subject.ends_with("ü…"));
}

#[test]
fn template_override() {
    let settings = json!({
        "from": "Ops <ops@example.com>",
        "subject": "[{{@alert.type}}] {{@monitor.name}}",
        "text": "{{@alert.description}} (team {{@CustomField(Team)}})",
        "html": "<h1>{{@monitor.name}}</h1><p>{{@alert.description}}</p>",
    });
    check("override", &alert(AlertType::Alert), &integration(settings));
}

#[test]
fn template_error_names_the_integration_and_field() {
    let settings = json!({"subject": "{{ @monitor.name ", "text": "t", "html": "h"});
    let error = build(&alert(AlertType::Alert), &integration(settings), &ops(), &[]).unwrap_err();
    assert!(!error.is_retryable());
    let text = error.to_string();
    assert!(
        text.contains("ops-mail") && text.contains("settings.subject"),
        "{text}"
    );
}

#[test]
fn hundred_twenty_recipients_make_three_batches() {
    let operators: Vec<Operator> = (0..100)
        .map(|n| operator(&format!("op{n}"), Some(&format!("op{n}@example.com"))))
        .collect();
    let extra: Vec<String> = (0..20).map(|n| format!("extra{n}@example.com")).collect();
    let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
    let settings = json!({"subject": "s", "text": "t", "html": "h"});
    let messages = build(
        &alert(AlertType::Alert),
        &integration(settings),
        &operators,
        &extra,
    )
    .unwrap();
    let shape: Vec<(&str, usize)> = messages
        .iter()
        .map(|outgoing| (outgoing.step.as_str(), outgoing.message.to.len()))
        .collect();
    assert_eq!(shape, [("batch-1", 50), ("batch-2", 50), ("batch-3", 20)]);
    assert_eq!(messages[0].message.to[0], "op0@example.com");
    assert_eq!(messages[2].message.to[19], "extra19@example.com");
}

#[test]
fn recipients_are_deduplicated_ignoring_case_and_invalid_ones_skipped() {
    let operators = vec![
        operator("ann", Some("Ann@Example.com")),
        operator("ann-again", Some("ann@example.com")),
        operator("nobody", None),
        operator("broken", Some("not an address")),
        operator("bob", Some(" bob@example.com ")),
    ];
    let settings = json!({"subject": "s", "text": "t", "html": "h"});
    let messages = build(
        &alert(AlertType::Alert),
        &integration(settings),
        &operators,
        &["BOB@example.com", "carol@example.com", "@broken"],
    )
    .unwrap();
    assert_eq!(messages.len(), 1);
    assert_eq!(
        messages[0].message.to,
        ["Ann@Example.com", "bob@example.com", "carol@example.com"]
    );
}

#[test]
fn no_recipients_no_messages() {
    let messages = build(&alert(AlertType::Alert), &integration(json!({})), &[], &[]).unwrap();
    assert!(messages.is_empty());
    let only_invalid = [operator("nobody", None)];
    let messages = build(
        &alert(AlertType::Alert),
        &integration(json!({})),
        &only_invalid,
        &["x"],
    )
    .unwrap();
    assert!(messages.is_empty());
}

#[test]
fn describe_shape() {
    let message = EmailMessage {
        from: "alerts@example.com".to_owned(),
        to: vec!["ann@example.com".to_owned()],
        subject: "s".to_owned(),
        text: "t".to_owned(),
        html: "<p>h</p>".to_owned(),
    };
    assert_eq!(
        notifier().describe(&message),
        json!({"email": {"from": "alerts@example.com", "to": ["ann@example.com"], "subject": "s", "text": "t", "html": "<p>h</p>"}})
    );
}

// ---------------------------------------------------------------------------------------------
// Classification of SES failures

fn service_error(error: SendEmailError, status: u16) -> SdkError<SendEmailError, HttpResponse> {
    SdkError::service_error(
        error,
        HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty()),
    )
}

fn meta(code: &str, message: &str) -> ErrorMetadata {
    ErrorMetadata::builder().code(code).message(message).build()
}

#[test]
fn classification_table() {
    let table: Vec<(&str, SdkError<SendEmailError, HttpResponse>, bool)> = vec![
        (
            "message rejected",
            service_error(
                SendEmailError::MessageRejected(
                    ses::MessageRejected::builder()
                        .message("Email address not verified")
                        .meta(meta("MessageRejected", "Email address not verified"))
                        .build(),
                ),
                400,
            ),
            false,
        ),
        (
            "mail from not verified",
            service_error(
                SendEmailError::MailFromDomainNotVerifiedException(
                    ses::MailFromDomainNotVerifiedException::builder()
                        .meta(meta("MailFromDomainNotVerifiedException", "not verified"))
                        .build(),
                ),
                400,
            ),
            false,
        ),
        (
            "account suspended",
            service_error(
                SendEmailError::AccountSuspendedException(
                    ses::AccountSuspendedException::builder()
                        .meta(meta("AccountSuspendedException", "suspended"))
                        .build(),
                ),
                400,
            ),
            false,
        ),
        (
            "sending paused",
            service_error(
                SendEmailError::SendingPausedException(
                    ses::SendingPausedException::builder()
                        .meta(meta("SendingPausedException", "paused"))
                        .build(),
                ),
                400,
            ),
            false,
        ),
        (
            "bad request",
            service_error(
                SendEmailError::BadRequestException(
                    ses::BadRequestException::builder()
                        .meta(meta("BadRequestException", "bad"))
                        .build(),
                ),
                400,
            ),
            false,
        ),
        (
            "not found",
            service_error(
                SendEmailError::NotFoundException(
                    ses::NotFoundException::builder()
                        .meta(meta("NotFoundException", "no such set"))
                        .build(),
                ),
                404,
            ),
            false,
        ),
        (
            "too many requests",
            service_error(
                SendEmailError::TooManyRequestsException(
                    ses::TooManyRequestsException::builder()
                        .meta(meta("TooManyRequestsException", "slow down"))
                        .build(),
                ),
                429,
            ),
            true,
        ),
        (
            "limit exceeded",
            service_error(
                SendEmailError::LimitExceededException(
                    ses::LimitExceededException::builder()
                        .meta(meta("LimitExceededException", "Maximum sending rate exceeded"))
                        .build(),
                ),
                400,
            ),
            true,
        ),
        (
            "throttling (unmodelled)",
            service_error(
                SendEmailError::generic(meta("Throttling", "Maximum sending rate exceeded")),
                400,
            ),
            true,
        ),
        (
            "internal failure 500",
            service_error(SendEmailError::generic(meta("InternalFailure", "oops")), 500),
            true,
        ),
        (
            "service unavailable 503",
            service_error(SendEmailError::generic(meta("ServiceUnavailable", "down")), 503),
            true,
        ),
        (
            "validation error 400",
            service_error(
                SendEmailError::generic(meta("ValidationException", "bad field")),
                400,
            ),
            false,
        ),
        ("timeout", SdkError::timeout_error("deadline"), true),
        (
            "connect timeout",
            SdkError::dispatch_failure(ConnectorError::timeout("connect".into())),
            true,
        ),
        (
            "connection refused",
            SdkError::dispatch_failure(ConnectorError::io("refused".into())),
            true,
        ),
        (
            "client-side failure",
            SdkError::dispatch_failure(ConnectorError::user("bad uri".into())),
            false,
        ),
        (
            "construction failure",
            SdkError::construction_failure("missing field"),
            false,
        ),
    ];
    for (name, error, retryable) in table {
        let classified = classify(&error);
        assert_eq!(classified.is_retryable(), retryable, "{name}: {classified:?}");
        let reason = classified.to_string();
        assert!(reason.starts_with("ses send email: "), "{name}: {reason}");
    }
}

#[test]
fn classification_keeps_the_code_message_and_status() {
    let error = service_error(
        SendEmailError::MessageRejected(
            ses::MessageRejected::builder()
                .message("Email address not verified x@example.com")
                .meta(meta(
                    "MessageRejected",
                    "Email address not verified x@example.com",
                ))
                .build(),
        ),
        400,
    );
    assert_eq!(
        classify(&error),
        NotifyError::Permanent {
            reason: "ses send email: MessageRejected: Email address not verified x@example.com (http 400)"
                .to_owned(),
            status: Some(400),
        }
    );
}

// ---------------------------------------------------------------------------------------------
// Sending through the local SES emulator

async fn emulator_notifier(default_from: &str) -> EmailNotifier {
    let sdk = test_support::moto::sdk_config().await;
    EmailNotifier::with_client(aws_sdk_sesv2::Client::new(&sdk), Some(default_from.to_owned()))
}

async fn verify(sender: &str) {
    let sdk = test_support::moto::sdk_config().await;
    aws_sdk_sesv2::Client::new(&sdk)
        .create_email_identity()
        .email_identity(sender)
        .send()
        .await
        .unwrap_or_else(|error| panic!("create_email_identity {sender} in the emulator: {error:?}"));
}

/// Messages the emulator recorded (`ses.Message` of `/moto-api/data.json`).
async fn sent_messages() -> Vec<serde_json::Value> {
    let url = format!("{}/moto-api/data.json", test_support::moto::endpoint());
    let response = reqwest::get(&url)
        .await
        .unwrap_or_else(|error| panic!("GET {url}: {error}: is the emulator running?"));
    assert!(response.status().is_success(), "GET {url}: {}", response.status());
    let text = response.text().await.expect("read data.json");
    let data: serde_json::Value = serde_json::from_str(&text).expect("data.json is JSON");
    data["ses"]["Message"].as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn send_through_the_emulator() {
    // GIVEN a verified sender
    let sender = format!("{}@example.com", test_support::moto::unique("tocsin-sender"));
    let recipient = format!("{}@example.com", test_support::moto::unique("ops"));
    verify(&sender).await;
    let notifier = emulator_notifier(&sender).await;
    let message = EmailMessage {
        from: sender.clone(),
        to: vec![recipient.clone(), "second@example.com".to_owned()],
        subject: "[Alert] GalacticResorts.com - DNS ✓".to_owned(),
        text: "DNS lookup failed".to_owned(),
        html: "<p>DNS lookup failed ✓</p>".to_owned(),
    };

    // WHEN the message is sent
    let sent = notifier
        .send(&message)
        .await
        .unwrap_or_else(|error| panic!("send failed: {error:?}"));

    // THEN SES has it, under the returned id
    let id = sent.external_id.expect("SES returns a MessageId");
    let messages = sent_messages().await;
    let stored = messages
        .iter()
        .find(|stored| stored["id"] == json!(id))
        .unwrap_or_else(|| panic!("message {id} not in the emulator's ses.Message: {messages:?}"));
    assert_eq!(stored["source"], json!(sender));
    assert_eq!(
        stored["destinations"]["ToAddresses"],
        json!([recipient, "second@example.com"])
    );
    assert_eq!(stored["subject"], json!("[Alert] GalacticResorts.com - DNS ✓"));
    // moto keeps only the HTML part when both are given (targets.md §8).
    assert_eq!(stored["body"], json!("<p>DNS lookup failed ✓</p>"));
}

#[tokio::test]
async fn unverified_sender_is_a_permanent_error() {
    let sender = format!("{}@example.com", test_support::moto::unique("unverified"));
    let notifier = emulator_notifier(&sender).await;
    let message = EmailMessage {
        from: sender,
        to: vec!["ann@example.com".to_owned()],
        subject: "s".to_owned(),
        text: "t".to_owned(),
        html: "h".to_owned(),
    };
    let error = notifier.send(&message).await.unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert!(
        error.to_string().starts_with("ses send email: MessageRejected"),
        "{error}"
    );
}

#[tokio::test]
async fn message_without_recipients_is_refused_before_sending() {
    let notifier = notifier();
    let message = EmailMessage {
        from: "alerts@example.com".to_owned(),
        to: Vec::new(),
        subject: "s".to_owned(),
        text: "t".to_owned(),
        html: "h".to_owned(),
    };
    let error = notifier.send(&message).await.unwrap_err();
    assert_eq!(
        error,
        NotifyError::permanent("ses send email: message without recipients")
    );
}

// ---------------------------------------------------------------------------------------------
// Handler level: one SNS event through the runner's pipeline, SES in the emulator

async fn pipeline(
    sender: &str,
    recipient: &str,
) -> notify_core::Pipeline<
    EmailNotifier,
    definition_store::MemoryStore,
    notify_core::MemorySecrets,
    notify_core::MemoryDeliveryLog,
> {
    let yaml = format!(
        r#"
integrations:
  - id: ops-mail
    kind: email
    settings:
      subject: "[{{{{@alert.type}}}}] {{{{@monitor.name}}}}"
      text: "{{{{@alert.description}}}}"
      html: "<p>{{{{@alert.description}}}}</p>"
operators:
  - id: ann
    name: Ann
    email: "{recipient}"
alertDefinitions:
  - id: ops-dns
    name: Ops DNS
    monitors: ["*"]
    levels:
      - id: 1
        operators: [ann]
        integrations:
          - integration: ops-mail
            extraEmails: ["oncall@example.com", "ONCALL@example.com"]
"#
    );
    let definitions = definition_store::from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}"));
    notify_core::Pipeline::new(
        emulator_notifier(sender).await,
        definition_store::MemoryStore::new(definitions),
        notify_core::MemorySecrets::new(),
        notify_core::MemoryDeliveryLog::default(),
        notify_core::Settings {
            max_attempts: 1,
            ..notify_core::Settings::default()
        },
    )
}

#[tokio::test]
async fn handler_sends_one_email_to_the_operator_and_the_extra_addresses() {
    // GIVEN a verified default sender and a level with one operator and extra addresses
    let sender = format!("{}@example.com", test_support::moto::unique("tocsin-handler"));
    let recipient = format!("{}@example.com", test_support::moto::unique("ann"));
    verify(&sender).await;
    let pipeline = pipeline(&sender, &recipient).await;
    let alert_guid = test_support::moto::unique("alert-mail");
    let event = test_support::sns::event(&[("m-1", &test_support::sns::native_alert(&alert_guid))]);

    // WHEN the event is handled
    let report = pipeline
        .handle_event(
            &event,
            std::time::Instant::now() + std::time::Duration::from_secs(30),
        )
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    // THEN one e-mail reached SES, to the operator and the extra address once
    assert_eq!((report.routes, report.delivered), (1, 1), "{report:?}");
    let messages = sent_messages().await;
    let stored: Vec<_> = messages
        .iter()
        .filter(|message| message["source"] == json!(sender))
        .collect();
    assert_eq!(stored.len(), 1, "{stored:?}");
    assert_eq!(
        stored[0]["destinations"]["ToAddresses"],
        json!([recipient, "oncall@example.com"])
    );
    assert_eq!(stored[0]["subject"], json!("[Alert] GalacticResorts.com - DNS"));
}

#[test]
fn example_definitions_are_accepted() {
    let path = test_support::moto::workspace_root().join("examples/definitions.yaml");
    let definitions = definition_store::load_file(&path).unwrap_or_else(|error| panic!("{error}"));
    let integrations: Vec<_> = definitions
        .integrations
        .iter()
        .filter(|integration| integration.kind == alert_model::IntegrationKind::Email)
        .collect();
    assert!(
        !integrations.is_empty(),
        "examples/definitions.yaml has no email integration"
    );
    for integration in integrations {
        notifier()
            .target(integration)
            .unwrap_or_else(|error| panic!("{}: {error}", integration.id));
    }
}

#[tokio::test]
async fn every_batch_of_a_large_level_is_accepted_by_ses() {
    // The emulator, like SES, refuses more than 50 recipients per message.
    let sender = format!("{}@example.com", test_support::moto::unique("tocsin-batches"));
    verify(&sender).await;
    let operators: Vec<Operator> = (0..120)
        .map(|n| operator(&format!("op{n}"), Some(&format!("op{n}@example.com"))))
        .collect();
    let settings = json!({"from": sender, "subject": "s", "text": "t", "html": "h"});
    let messages = build(&alert(AlertType::Alert), &integration(settings), &operators, &[]).unwrap();
    assert_eq!(messages.len(), 3);
    let notifier = emulator_notifier(&sender).await;
    for outgoing in &messages {
        notifier
            .send(&outgoing.message)
            .await
            .unwrap_or_else(|error| panic!("{}: {error:?}", outgoing.step));
    }
    let stored = sent_messages().await;
    let recipients: usize = stored
        .iter()
        .filter(|message| message["source"] == json!(sender))
        .map(|message| {
            message["destinations"]["ToAddresses"]
                .as_array()
                .map_or(0, Vec::len)
        })
        .sum();
    assert_eq!(recipients, 120);
}

// ---------------------------------------------------------------------------------------------
// The conformance kit: SES as a target (one attempt per send, bounded by the HTTP timeout) through
// the pipeline: delivery, idempotent redelivery, throttling, 5xx, 400, timeouts, dropped
// connections, bad settings, redaction

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<EmailNotifier>().await;
}

// ---------------------------------------------------------------------------------------------
// The kind's default templates

/// The sample alert (monitor `GalacticResorts.com - DNS`, custom field `Team: ops`).
fn template_sample(alert_type: AlertType) -> Alert {
    let mut alert = Alert::default();
    alert.account.account_id = "299840".to_owned();
    alert.alert.alert_guid = "cbfc7769-edb2-46a7-89d0-1e1b1fb0815b".to_owned();
    alert.alert.alert_type = alert_type;
    alert.alert.description =
        "DNS lookup failed: no A record\nStep 1: resolve galacticresorts.com".to_owned();
    alert.alert.error_type_id = "5407".to_owned();
    alert.alert.checkpoint_name = "Ghent, Belgium".to_owned();
    alert.alert.number_of_consecutive_errors = "2".to_owned();
    alert.alert.timestamp_utc = "2026-11-28T16:26:58".to_owned();
    alert.alert.timestamp = "2026-11-28T17:26:58".to_owned();
    alert.alert.first_error_utc = "2026-11-28T16:21:58".to_owned();
    alert.alert.first_error = "2026-11-28T17:21:58".to_owned();
    alert.alert.first_error_check_id = "30099055746".to_owned();
    alert.alert.first_error_check_url =
        "https://app.uptrends.com/Report/ProbeLog/Check/30099055746".to_owned();
    if alert_type == AlertType::Ok {
        alert.alert.downtime_duration = "0:05:00".to_owned();
    }
    alert.alert_definition.guid = "2c97e464-6112-435b-8c8d-6def1e18273a".to_owned();
    alert.alert_definition.name = "Default Alert".to_owned();
    alert.escalation_level.id = 1;
    alert.escalation_level.message = "Please use checklist THX-1138 & call the on-call engineer.".to_owned();
    alert.incident.key = "ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746".to_owned();
    alert.monitor.monitor_guid = "849b2046-213d-43ad-9efc-5af1faaeb222".to_owned();
    alert.monitor.name = "GalacticResorts.com - DNS".to_owned();
    alert.monitor.monitor_type = "DNS".to_owned();
    alert.monitor.url = "galacticresorts.com".to_owned();
    alert.monitor.notes = "Please check Amazon Route53 DNS entries".to_owned();
    alert.monitor.dashboard_url =
        "https://app.uptrends.com/Probe/Dashboard?probeGuids=849b2046-213d-43ad-9efc-5af1faaeb222".to_owned();
    alert.monitor.edit_url =
        "https://app.uptrends.com/Report/Probe?probeGuid=849b2046-213d-43ad-9efc-5af1faaeb222".to_owned();
    alert
        .monitor
        .custom_fields
        .insert("Team".to_owned(), "ops".to_owned());
    alert
}

fn render_default(name: &str, escape: Escape, alert: &Alert) -> String {
    let template = crate::default_template(name).unwrap_or_else(|| panic!("default template {name}"));
    let variables = BTreeMap::new();
    let context = RenderContext {
        alert,
        variables: &variables,
        now: now(),
    };
    let source = TemplateSource {
        integration: "email-1",
        field: name,
    };
    Engine::new()
        .render(source, template, escape, &context)
        .unwrap_or_else(|err| panic!("{name}: {err}"))
}

#[test]
fn default_email_templates() {
    let names: Vec<&str> = <EmailNotifier as notify_core::Kind>::DEFAULT_TEMPLATES
        .iter()
        .map(|(name, _)| *name)
        .collect();
    assert_eq!(names, ["email.subject", "email.html", "email.text"]);
    assert_eq!(crate::default_template("nope"), None);
    for alert_type in AlertType::ALL {
        let alert = template_sample(*alert_type);
        let subject = render_default("email.subject", Escape::Header, &alert);
        let html = render_default("email.html", Escape::Html, &alert);
        let text = render_default("email.text", Escape::Text, &alert);
        let name = alert_type.as_lower();
        insta::assert_snapshot!(format!("default_email_subject_{name}"), subject);
        insta::assert_snapshot!(format!("default_email_html_{name}"), html);
        insta::assert_snapshot!(format!("default_email_text_{name}"), text);
    }
    let subject = render_default(
        "email.subject",
        Escape::Header,
        &template_sample(AlertType::Alert),
    );
    assert_eq!(
        subject,
        "[Alert] GalacticResorts.com - DNS: DNS lookup failed: no A record"
    );
    // Hostile values stay escaped in the HTML mail.
    let mut alert = template_sample(AlertType::Alert);
    alert.monitor.notes = "<script>alert('x')</script>".to_owned();
    alert
        .monitor
        .custom_fields
        .insert("<b>".to_owned(), "\"q\"".to_owned());
    let html = render_default("email.html", Escape::Html, &alert);
    assert!(!html.contains("<script>") && !html.contains("<b>"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"));
    // A minimal alert (every text empty) still renders every default.
    let empty = Alert::default();
    assert_eq!(
        render_default("email.subject", Escape::Header, &empty),
        "[Alert] (unnamed monitor)"
    );
    render_default("email.html", Escape::Html, &empty);
    render_default("email.text", Escape::Text, &empty);
}
