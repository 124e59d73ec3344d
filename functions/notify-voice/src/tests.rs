use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, template::Engine};
use aws_sdk_pinpointsmsvoicev2::{
    config::http::HttpResponse,
    error::{ErrorMetadata, SdkError},
    operation::send_voice_message::SendVoiceMessageError,
};
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;
use definition_store::{Attachment, EscalationLevel, Integration, Operator};
use kind_kit::target::voice_endpoint;
use notify_core::{
    Kind, Notifier, NotifyError, Outgoing, RouteContext, Variables,
    sms_voice::{self, MAX_SSML_CHARS, VoiceAnswer, VoiceError},
};
use serde_json::json;
use test_support::receiver::{Receiver, Recorded, Reply, Script};

use crate::{Language, MAX_SCRIPT_CHARS, VoiceMessage, VoiceNotifier, VoiceTarget, classify};

// ---------------------------------------------------------------------------------------------
// Fixtures

fn alert(alert_type: AlertType) -> Alert {
    test_support::fixtures::sample_alert(alert_type)
}

fn integration(settings: serde_json::Value) -> Integration {
    let serde_json::Value::Object(mut settings) = settings else {
        panic!("settings must be an object")
    };
    settings
        .entry("originationIdentity")
        .or_insert_with(|| json!("+18005550100"));
    Integration {
        id: "ops-voice".to_owned(),
        name: "Ops phone calls".to_owned(),
        kind: alert_model::IntegrationKind::Voice,
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
        integration: "ops-voice".to_owned(),
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

/// A client at `endpoint` with dummy credentials, one attempt per send (as `Init::target_sdk`).
fn client(endpoint: &str) -> aws_sdk_pinpointsmsvoicev2::Client {
    let config = aws_sdk_pinpointsmsvoicev2::Config::builder()
        .behavior_version(aws_sdk_pinpointsmsvoicev2::config::BehaviorVersion::latest())
        .region(aws_sdk_pinpointsmsvoicev2::config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_pinpointsmsvoicev2::config::Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "tocsin-voice-tests",
        ))
        .retry_config(aws_sdk_pinpointsmsvoicev2::config::retry::RetryConfig::disabled())
        .endpoint_url(endpoint)
        .build();
    aws_sdk_pinpointsmsvoicev2::Client::from_conf(config)
}

/// A notifier whose client points nowhere: enough for everything but `send`.
fn notifier() -> VoiceNotifier {
    VoiceNotifier::with_client(client("http://127.0.0.1:9"))
}

/// Builds the calls of one route, through the notifier as the runner calls it, at a fixed time
/// (16:00:05, five minutes after the sample's first error).
fn build(
    alert: &Alert,
    integration: &Integration,
    operators: &[Operator],
    extra_phones: &[&str],
) -> Result<Vec<Outgoing<VoiceMessage>>, NotifyError> {
    build_at(
        alert,
        integration,
        operators,
        extra_phones,
        "2026-11-28T16:00:05Z",
    )
}

fn build_at(
    alert: &Alert,
    integration: &Integration,
    operators: &[Operator],
    extra_phones: &[&str],
    now: &str,
) -> Result<Vec<Outgoing<VoiceMessage>>, NotifyError> {
    let notifier = notifier();
    let target = notifier.target(integration)?;
    let engine = Engine::new();
    let variables = Variables::default();
    let attachment = attachment(extra_phones);
    let level = level();
    let mut alert = alert.clone();
    // As the runner fills it in from the route.
    alert.escalation_level.message = level.message.clone();
    let route = RouteContext {
        alert: &alert,
        integration,
        attachment: &attachment,
        level: &level,
        recipients: operators.iter().collect(),
        variables: &variables,
        now: now.parse().expect("a fixed time"),
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

/// The one script of a route of one recipient.
fn script(alert: &Alert, settings: serde_json::Value) -> String {
    let messages = build(alert, &integration(settings), &ops()[1..], &[]).expect("builds");
    assert_eq!(messages.len(), 1);
    messages[0].message.ssml.clone()
}

fn shown(messages: &[Outgoing<VoiceMessage>]) -> Vec<serde_json::Value> {
    messages
        .iter()
        .map(|outgoing| json!({ "step": outgoing.step, "message": outgoing.message }))
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Calls (pure)

#[test]
fn one_call_per_recipient_with_the_default_script_of_every_alert_type_and_none_for_ok() {
    for alert_type in AlertType::ALL {
        let messages = build(
            &alert(*alert_type),
            &integration(json!({})),
            &ops(),
            &["+442071234567"],
        )
        .expect("builds");
        if *alert_type == AlertType::Ok {
            assert!(messages.is_empty(), "a call is never made for Ok: {messages:?}");
        } else {
            let to: Vec<&str> = messages.iter().map(|m| m.message.to.as_str()).collect();
            assert_eq!(to, ["+31612345678", "+15555550102", "+442071234567"]);
        }
        for outgoing in &messages {
            assert_eq!(sms_voice::ssml_problem(&outgoing.message.ssml), None);
        }
        insta::assert_json_snapshot!(format!("default_{}", alert_type.as_lower()), shown(&messages));
    }
}

#[test]
fn the_default_script_of_every_language() {
    for language in Language::ALL {
        for alert_type in [AlertType::Alert, AlertType::Reminder] {
            let messages = build(
                &alert(alert_type),
                &integration(json!({"language": language.code()})),
                &ops()[..1],
                &[],
            )
            .expect("builds");
            let message = &messages[0].message;
            assert_eq!(message.language, language.code());
            assert_eq!(message.voice_id, language.default_voice());
            assert_eq!(sms_voice::ssml_problem(&message.ssml), None, "{}", message.ssml);
            assert!(
                message.ssml.contains("GalacticResorts.com - DNS"),
                "{}",
                message.ssml
            );
            assert!(message.ssml.contains("Call the DNS team"), "{}", message.ssml);
            // Dialects share their language's script: snapshot one per script.
            if ["en-US", "de-DE", "fr-FR", "nl-NL", "es-ES"].contains(&language.code()) {
                insta::assert_snapshot!(
                    format!("script_{}_{}", language.code(), alert_type.as_lower()),
                    message.ssml
                );
            }
        }
    }
}

#[test]
fn the_script_names_the_monitor_the_error_the_minutes_and_what_to_do() {
    let ssml = script(&alert(AlertType::Alert), json!({}));
    for words in [
        "Hello, this is Tocsin with an alert.",
        "The monitor GalacticResorts.com - DNS is down.",
        "The error: DNS lookup failed: NXDOMAIN.",
        "It started 5 minutes ago.",
        "Call the DNS team",
        "Once more: the monitor GalacticResorts.com - DNS is down. Goodbye.",
    ] {
        assert!(ssml.contains(words), "{words:?} not in {ssml}");
    }
    let reminder = script(&alert(AlertType::Reminder), json!({}));
    assert!(
        reminder.contains("with a reminder") && reminder.contains("is still down"),
        "{reminder}"
    );

    // The minutes: none, one, and unknown.
    let integration = integration(json!({}));
    let one_route = |alert: &Alert, now: &str| {
        build_at(alert, &integration, &ops()[..1], &[], now).expect("builds")[0]
            .message
            .ssml
            .clone()
    };
    let sample = alert(AlertType::Alert);
    assert!(one_route(&sample, "2026-11-28T15:55:30Z").contains("It started less than a minute ago."));
    assert!(one_route(&sample, "2026-11-28T15:56:05Z").contains("It started one minute ago."));
    let mut timeless = sample.clone();
    timeless.alert.first_error_utc = "yesterday".to_owned();
    timeless.alert.timestamp_utc = String::new();
    assert!(!one_route(&timeless, "2026-11-28T16:00:05Z").contains("It started"));
    let mut local = sample.clone();
    local.alert.first_error_utc = "2026-11-28 14:00:05".to_owned();
    assert!(one_route(&local, "2026-11-28T16:00:05Z").contains("It started 120 minutes ago."));
}

#[test]
fn the_spoken_name_and_error_read_well_aloud() {
    let mut speech = alert(AlertType::Alert);
    speech.monitor.custom_fields.insert(
        "NameForPhoneAlerts".to_owned(),
        "Galactic Resorts D N S".to_owned(),
    );
    speech.alert.description = "  \n HTTP 503 from https://api.galacticresorts.com:8443/v1/health?x=1 | \
                                 error_code=SERVICE_UNAVAILABLE **retry**.\nsecond line"
        .to_owned();
    let ssml = script(&speech, json!({}));
    assert!(
        ssml.contains("The monitor Galactic Resorts D N S is down."),
        "{ssml}"
    );
    assert!(
        ssml.contains(
            "The error: HTTP 503 from api.galacticresorts.com error code=SERVICE UNAVAILABLE retry."
        ),
        "{ssml}"
    );
    assert!(!ssml.contains("second line"), "{ssml}");

    // Another field, an empty field (the name then), and a name that is too long.
    let other = script(&speech, json!({"spokenNameField": "Team"}));
    assert!(other.contains("The monitor ops is down."), "{other}");
    speech
        .monitor
        .custom_fields
        .insert("NameForPhoneAlerts".to_owned(), "  ".to_owned());
    assert!(script(&speech, json!({})).contains("The monitor GalacticResorts.com - DNS is down."));
    speech.monitor.custom_fields.clear();
    speech.monitor.name = "word ".repeat(60);
    let long = script(&speech, json!({}));
    assert!(long.contains("word word…"), "{long}");
    assert!(!long.contains(&"word ".repeat(25)), "the name is cut: {long}");

    // No description: the failure message.
    let mut failure = alert(AlertType::Alert);
    failure.alert.description = String::new();
    failure.alert.failure_message = "Connection timed out".to_owned();
    assert!(script(&failure, json!({})).contains("The error: Connection timed out."));
}

#[test]
fn alert_values_are_xml_escaped_and_characters_xml_forbids_become_spaces() {
    let mut hostile = alert(AlertType::Alert);
    hostile.monitor.name = "</p></speak><speak>\"'&".to_owned();
    hostile.alert.description = "bell\u{7}nul\u{0}<break time=\"9s\"/>".to_owned();
    let ssml = script(
        &hostile,
        json!({"ssml": "<p>{{@monitor.name}}</p><p>{{@alert.description}}</p><p>{{SpokenError}}</p>"}),
    );
    insta::assert_snapshot!("hostile", ssml);
    assert_eq!(sms_voice::ssml_problem(&ssml), None, "{ssml}");
    assert!(!ssml.contains("<break time=\"9s\"/>"), "{ssml}");
}

#[test]
fn a_long_script_is_cut_in_its_text_never_in_its_tags() {
    let mut huge = alert(AlertType::Alert);
    huge.alert.description = "é&<🚨 ".repeat(5000);
    let template =
        "<p>{{@monitor.name}}</p><s>{{@alert.description}}</s><break time=\"1s\"/><p>Call the team.</p>";
    let ssml = script(&huge, json!({ "ssml": template }));
    let length = ssml.chars().count();
    assert!(length <= MAX_SSML_CHARS, "{length} characters");
    assert!(
        length > MAX_SSML_CHARS - 8,
        "cut only as much as needed: {length} characters"
    );
    assert_eq!(sms_voice::ssml_problem(&ssml), None);
    assert!(
        ssml.starts_with("<speak><p>GalacticResorts.com - DNS</p><s>é&amp;&lt;🚨 é&amp;"),
        "{ssml}"
    );
    assert!(
        ssml.ends_with("…</s><break time=\"1s\"/><p>Call the team.</p></speak>"),
        "the short texts and every tag are kept: {}",
        &ssml[ssml.len() - 80..]
    );
    let escaped = alert_model::escape::html(&huge.alert.description);
    let kept = ssml
        .split("<s>")
        .nth(1)
        .and_then(|rest| rest.split('…').next())
        .expect("the cut description");
    assert!(
        escaped.starts_with(kept),
        "a cut at a reference: …{}",
        &kept[kept.len() - 20..]
    );

    // Equal texts are cut alike.
    let twice = script(
        &huge,
        json!({"ssml": "<p>{{@alert.description}}</p><p>{{@alert.description}}</p>"}),
    );
    let texts: Vec<&str> = twice
        .split("<p>")
        .skip(1)
        .map(|text| text.split("</p>").next().unwrap_or_default())
        .collect();
    assert_eq!(texts.len(), 2);
    assert_eq!(texts[0], texts[1], "{twice}");
}

#[test]
fn a_script_that_cannot_be_spoken_is_a_permanent_error_naming_the_field() {
    for (template, expected) in [
        (
            "<p>{{@monitor.name}}",
            "integration `ops-voice`, field `settings.ssml`: the rendered script is not well-formed SSML: `<p>` is not closed",
        ),
        (
            "<p>a & b</p>",
            "integration `ops-voice`, field `settings.ssml`: the rendered script is not well-formed SSML: the text at character 4: `&` starts no reference (write `&amp;`)",
        ),
        (
            "{{@monitor.nme}}",
            "integration `ops-voice`, field `settings.ssml`",
        ),
    ] {
        let error = build(
            &alert(AlertType::Alert),
            &integration(json!({ "ssml": template })),
            &ops(),
            &[],
        )
        .expect_err("refused");
        assert!(!error.is_retryable(), "{error}");
        assert!(error.to_string().starts_with(expected), "{template}: {error}");
    }
    let markup = format!("{}x", "<break/>".repeat(800));
    let error = build(
        &alert(AlertType::Alert),
        &integration(json!({ "ssml": markup })),
        &ops(),
        &[],
    )
    .expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("the script's tags alone have 6415 characters; a call takes 6000"),
        "{error}"
    );
}

#[test]
fn numbers_not_in_e164_are_skipped_and_the_others_still_get_their_call() {
    let operators = vec![
        operator("ann", Some("0612345678")),
        operator("bob", Some("+15555550102")),
        operator("cy", None),
        operator("dee", Some("+15555550102")),
    ];
    let (logs, _guard) = test_support::logs::capture();
    let messages = build(
        &alert(AlertType::Reminder),
        &integration(json!({})),
        &operators,
        &["+1 555 0101", "+442071234567"],
    )
    .expect("builds");
    let steps: Vec<&str> = messages.iter().map(|m| m.step.as_str()).collect();
    assert_eq!(steps, ["call-+15555550102", "call-+442071234567"]);
    let text = logs.text();
    assert!(text.contains("voice call recipient skipped"), "{text}");
    assert!(
        text.contains("operator `ann`") && text.contains("extraPhones[0]"),
        "{text}"
    );
    assert!(
        !text.contains("0612345678"),
        "the number itself is not logged: {text}"
    );
    let none = build(
        &alert(AlertType::Alert),
        &integration(json!({})),
        &[operator("ann", None)],
        &[],
    );
    assert!(none.expect("builds").is_empty());
}

#[test]
fn nothing_to_send_says_why() {
    let integration = integration(json!({}));
    assert!(
        VoiceNotifier::nothing_to_send(&integration, &alert(AlertType::Ok)).contains("never made for an Ok")
    );
    assert!(
        VoiceNotifier::nothing_to_send(&integration, &alert(AlertType::Alert)).starts_with("no recipient")
    );
}

#[test]
fn the_summary_reads_the_script_without_its_tags() {
    let messages = build(
        &alert(AlertType::Alert),
        &integration(json!({})),
        &ops()[..1],
        &[],
    )
    .expect("builds");
    let description = notifier().describe(&messages[0].message);
    assert_eq!(
        VoiceNotifier::summary(&description),
        "voice call to +31612345678 (JOANNA): \"Hello, this is Tocsin with an alert. The monitor GalacticRes…\""
    );
}

// ---------------------------------------------------------------------------------------------
// Settings

#[test]
fn settings_are_read_and_checked() {
    let target = VoiceTarget::parse(&integration(json!({
        "originationIdentity": "arn:aws:sms-voice:us-east-1:123456789012:pool/pool-b20333ce1e4e49309ba1db3bf94a3f57",
        "language": "de-DE",
        "voiceId": "hans",
        "spokenNameField": "Spoken",
        "timeToLive": 600,
    })))
    .expect("valid settings");
    assert_eq!(target.voice_id, "HANS");
    assert_eq!(target.language, Language::DeDe);
    assert_eq!(
        (target.spoken_name_field.as_str(), target.time_to_live),
        ("Spoken", 600)
    );
    let defaults = VoiceTarget::parse(&integration(json!({}))).expect("only the identity");
    assert_eq!(
        (
            defaults.language,
            defaults.voice_id.as_str(),
            defaults.time_to_live
        ),
        (Language::EnUs, "JOANNA", 3600)
    );
    assert_eq!(defaults.spoken_name_field, "NameForPhoneAlerts");
    for identity in [
        "phone-1234567890abcdef1234567890abcdef",
        "pool-abc123",
        " +18005550100 ",
        "arn:aws-us-gov:sms-voice:us-gov-west-1:123456789012:phone-number/phone-0a1b",
    ] {
        VoiceTarget::parse(&integration(json!({ "originationIdentity": identity })))
            .unwrap_or_else(|error| panic!("{identity}: {error}"));
    }
    // English voices of every region speak the English script.
    VoiceTarget::parse(&integration(json!({"voiceId": "Brian"}))).expect("an English voice");

    for (settings, expected) in [
        (
            json!({"originationIdentity": "555-0100"}),
            "integration `ops-voice`: `settings.originationIdentity`: `555-0100`: an origination identity is a voice-capable phone number in E.164",
        ),
        (
            json!({"originationIdentity": "+0800555"}),
            "integration `ops-voice`: `settings.originationIdentity`: not in E.164 form",
        ),
        (
            json!({"originationIdentity": "arn:aws:sms-voice:us-east-1:123456789012:sender-id/TOCSIN/US"}),
            "integration `ops-voice`: `settings.originationIdentity`: not the ARN of a phone number or pool",
        ),
        (
            json!({"originationIdentity": "pool-"}),
            "integration `ops-voice`: `settings.originationIdentity`: `pool-` is not an id",
        ),
        (
            json!({"voiceId": "Jonna"}),
            "integration `ops-voice`: `settings.voiceId`: `Jonna` is not an Amazon Polly voice of the service (known: AMY, ASTRID,",
        ),
        (
            json!({"voiceId": "Hans"}),
            "integration `ops-voice`: `settings.voiceId`: the voice `Hans` speaks de-DE, the call is in en-US (`settings.language`)",
        ),
        (
            json!({"language": "fr-FR", "voiceId": "Joanna"}),
            "the voice `Joanna` speaks en-US, the call is in fr-FR",
        ),
        (
            json!({"language": "pt-BR"}),
            "integration `ops-voice`: `settings.language`: unknown variant `pt-BR`, expected one of `en-US`,",
        ),
        (
            json!({"timeToLive": 4}),
            "integration `ops-voice`: `settings.timeToLive`: 4 seconds; the service takes 5 to 259200 (72 hours)",
        ),
        (
            json!({"spokenNameField": " "}),
            "integration `ops-voice`: `settings.spokenNameField`: the name of a custom field, not empty",
        ),
        (
            json!({"to": "+15555550100"}),
            "integration `ops-voice`: `settings.to`: unknown field `to`, expected one of `originationIdentity`, `language`, `voiceId`, `ssml`, `spokenNameField`, `timeToLive`",
        ),
    ] {
        let error = VoiceTarget::parse(&integration(settings.clone())).unwrap_err();
        assert!(!error.is_retryable());
        assert!(error.to_string().contains(expected), "{settings}: {error}");
    }
    let mut without = integration(json!({}));
    without.settings.remove("originationIdentity");
    assert_eq!(
        VoiceTarget::parse(&without).unwrap_err().to_string(),
        "integration `ops-voice`: `settings`: missing field `originationIdentity`"
    );
}

#[test]
fn every_voice_of_the_sdk_is_known_with_its_language() {
    let sdk: Vec<&str> = aws_sdk_pinpointsmsvoicev2::types::VoiceId::values().to_vec();
    let ours: Vec<&str> = sms_voice::VOICES.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        ours, sdk,
        "notify_core::sms_voice::VOICES is out of step with the SDK's VoiceId"
    );
    for language in Language::ALL {
        let voice = language.default_voice();
        assert_eq!(sms_voice::voice_language(voice), Some(language.code()), "{voice}");
        assert!(
            crate::default_template(&format!("voice.ssml.{}", language.base())).is_some(),
            "{}",
            language.code()
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Classification of the service's answers

fn service_error(code: &str, status: u16) -> SdkError<SendVoiceMessageError, HttpResponse> {
    let meta = ErrorMetadata::builder()
        .code(code)
        .message("said the service")
        .build();
    let error = SendVoiceMessageError::generic(meta);
    let response = HttpResponse::new(StatusCode::try_from(status).expect("a status"), SdkBody::from(""));
    SdkError::service_error(error, response)
}

#[test]
fn throttling_and_server_errors_are_retryable_the_rest_permanent() {
    for (code, status, retryable) in [
        ("ThrottlingException", 400, true),
        ("InternalServerException", 500, true),
        ("ServiceUnavailable", 503, true),
        ("TooManyRequestsException", 429, true),
        ("ValidationException", 400, false),
        ("AccessDeniedException", 400, false),
        ("ResourceNotFoundException", 400, false),
        ("ServiceQuotaExceededException", 400, false),
        ("ConflictException", 400, false),
        ("MissingAuthenticationTokenException", 403, false),
    ] {
        let classified = classify(&service_error(code, status));
        assert_eq!(classified.is_retryable(), retryable, "{code}: {classified:?}");
        assert_eq!(classified.status(), Some(status));
        assert!(classified.to_string().contains(code), "{classified}");
        assert!(
            classified
                .to_string()
                .starts_with("sms-voice send voice message: "),
            "{classified}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// What every kind must do (retries, idempotency, redaction, bad settings), against the service's
// answers

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<VoiceNotifier>().await;
}

// ---------------------------------------------------------------------------------------------
// Sending to the local voice endpoint (the emulator lacks the API)

fn checked(request: &Recorded) -> VoiceAnswer {
    kind_kit::target::voice_answer(request)
}

fn reply(answer: &VoiceAnswer) -> Reply {
    kind_kit::target::voice_reply(answer.clone())
}

fn message(to: &str) -> VoiceMessage {
    let messages = build(
        &alert(AlertType::Alert),
        &integration(json!({})),
        &[operator("ann", Some(to))],
        &[],
    )
    .expect("builds");
    messages[0].message.clone()
}

#[tokio::test]
async fn a_call_reaches_the_voice_endpoint_which_checks_and_accepts_it() {
    // GIVEN the voice notifier at the local voice endpoint
    let endpoint = voice_endpoint().await;
    let notifier = VoiceNotifier::with_client(client(&endpoint.url("")));
    let call = message("+15555550123");

    // WHEN a call is sent
    let sent = notifier
        .send(&call)
        .await
        .unwrap_or_else(|error| panic!("{error:?}"));

    // THEN the endpoint got one signed SendVoiceMessage of the script, and answered its id
    let requests = endpoint.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/"));
    assert_eq!(
        request.header("x-amz-target"),
        Some(sms_voice::SEND_VOICE_MESSAGE_TARGET)
    );
    assert!(
        request
            .header("authorization")
            .is_some_and(|auth| auth.starts_with("AWS4-HMAC-SHA256 ")
                && auth.contains("/us-east-1/sms-voice/aws4_request")),
        "{request:?}"
    );
    let body: serde_json::Value = serde_json::from_str(&request.body).expect("JSON");
    assert_eq!(
        body,
        json!({
            "DestinationPhoneNumber": "+15555550123",
            "OriginationIdentity": "+18005550100",
            "MessageBody": call.ssml,
            "MessageBodyTextType": "SSML",
            "VoiceId": "JOANNA",
            "TimeToLive": 3600,
        })
    );
    let answered: serde_json::Value =
        serde_json::from_str(&checked(request).body).expect("the endpoint answers JSON");
    assert!(answered["MessageId"].is_string(), "{answered}");
    let id = sent.external_id.expect("the message id");
    assert!(!id.is_empty());
}

#[tokio::test]
async fn the_endpoints_refusals_reach_the_runner_classified() {
    let endpoint = voice_endpoint().await;
    let notifier = VoiceNotifier::with_client(client(&endpoint.url("")));

    // A destination the service refuses (not E.164 when it reaches it): a permanent ValidationException.
    let mut bad = message("+15555550123");
    bad.to = "5550123".to_owned();
    let error = notifier.send(&bad).await.expect_err("refused");
    assert!(!error.is_retryable(), "{error}");
    assert_eq!(error.status(), Some(400));
    assert!(
        error.to_string().starts_with("sms-voice send voice message: ValidationException: 1 validation error detected: DestinationPhoneNumber"),
        "{error}"
    );
    // A script over the service's limit.
    let mut long = message("+15555550123");
    long.ssml = format!("<speak>{}</speak>", "x".repeat(MAX_SSML_CHARS));
    let error = notifier.send(&long).await.expect_err("refused");
    assert!(
        error
            .to_string()
            .contains("6015 characters; a SSML body has 1 to 6000"),
        "{error}"
    );
    assert_eq!(endpoint.requests().len(), 2);
}

#[tokio::test]
async fn throttling_and_internal_errors_of_the_service_are_retryable() {
    for (error, status, retryable) in [
        (VoiceError::Throttling, 400, true),
        (VoiceError::InternalServer, 500, true),
        (VoiceError::Validation, 400, false),
        (VoiceError::AccessDenied, 400, false),
        (VoiceError::ServiceQuotaExceeded, 400, false),
    ] {
        let answer = VoiceAnswer::error(error, "said the service");
        let target = Receiver::start(Script::new().any([reply(&answer)])).await;
        let notifier = VoiceNotifier::with_client(client(&target.url("")));
        let failed = notifier
            .send(&message("+15555550123"))
            .await
            .expect_err("an error");
        assert_eq!(failed.is_retryable(), retryable, "{error:?}: {failed}");
        assert_eq!(failed.status(), Some(status));
        assert_eq!(
            failed.to_string(),
            format!(
                "sms-voice send voice message: {}: said the service (http {status})",
                error.code()
            )
        );
        assert_eq!(
            target.requests().len(),
            1,
            "one attempt: retries belong to the runner"
        );
    }
}

#[tokio::test]
async fn the_endpoint_configured_for_the_service_wins_over_the_sdks() {
    // GIVEN an SDK config whose endpoint goes nowhere, with the voice endpoint set for the service
    let endpoint = voice_endpoint().await;
    let config = notify_core::Config::from_lookup(|name| match name {
        "TOCSIN_DEFINITIONS_FILE" => Some("-".to_owned()),
        _ => None,
    })
    .expect("settings");
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url("http://127.0.0.1:9")
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await;
    let init = notify_core::Init {
        http: notify_core::HttpClient::new(&config).expect("http client"),
        sdk: sms_voice::with_endpoint(&sdk, &endpoint.url("")),
        config,
    };

    // WHEN the notifier is built as Lambda builds it and sends
    let notifier = VoiceNotifier::new(&init).expect("the notifier");
    notifier
        .send(&message("+15555550123"))
        .await
        .unwrap_or_else(|error| panic!("{error}"));

    // THEN the call went to the voice endpoint
    assert_eq!(endpoint.requests().len(), 1);
}

#[test]
fn every_field_of_a_call_is_the_script_in_the_ssml_context() {
    let call = message("+15555550123");
    let fields = VoiceNotifier::fields("call-+15555550123", &call);
    assert_eq!(fields.len(), 1);
    assert_eq!(fields[0].field, "settings.ssml");
    assert_eq!(fields[0].context, notify_core::Context::Ssml(MAX_SCRIPT_CHARS));
    assert_eq!(format!("<speak>{}</speak>", fields[0].text), call.ssml);
    let mut sample = VoiceNotifier::sample("voice-1", &notify_core::SampleEnv::default());
    VoiceNotifier::set_templates(&mut sample, &notify_core::Templates::everywhere("<p>x</p>"));
    assert_eq!(sample.settings["ssml"], "<p>x</p>");
}
