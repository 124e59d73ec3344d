use serde_json::{Value, json};

use super::*;

// ---------------------------------------------------------------------------------------------
// SSML

#[test]
fn well_formed_ssml_reads_back_as_markup_and_text() {
    let ssml = "<speak><p>Alert &amp; &#39;DNS&#x27;: <say-as interpret-as=\"characters\">NX</say-as>.</p>\n<!-- a note --><break time='1s'/></speak>";
    let parts = ssml_parts(ssml).expect("well-formed");
    let joined: String = parts.iter().map(SsmlPart::as_str).collect();
    assert_eq!(joined, ssml);
    assert_eq!(
        parts,
        [
            SsmlPart::Markup("<speak>"),
            SsmlPart::Markup("<p>"),
            SsmlPart::Text("Alert &amp; &#39;DNS&#x27;: "),
            SsmlPart::Markup("<say-as interpret-as=\"characters\">"),
            SsmlPart::Text("NX"),
            SsmlPart::Markup("</say-as>"),
            SsmlPart::Text("."),
            SsmlPart::Markup("</p>"),
            SsmlPart::Text("\n"),
            SsmlPart::Markup("<!-- a note -->"),
            SsmlPart::Markup("<break time='1s'/>"),
            SsmlPart::Markup("</speak>"),
        ]
    );
    assert_eq!(ssml_problem(" <speak/>\n"), None, "white space around the root");
}

#[test]
fn ssml_that_is_not_well_formed_is_refused_with_the_reason() {
    for (ssml, expected) in [
        ("", "no <speak> element"),
        ("hello", "the text at character 1 is outside the <speak> element"),
        (
            "<p>hi</p>",
            "the document element is `<p>`; SSML is one <speak> element",
        ),
        (
            "<speak>hi</speak><speak/>",
            "`<speak>` at character 18 is outside the <speak> element",
        ),
        (
            "<speak>hi</speak> bye",
            "the text at character 18 is outside the <speak> element",
        ),
        ("<speak><p>hi</speak>", "`</speak>` at character 13 closes `<p>`"),
        ("<speak>hi</p></speak>", "`</p>` at character 10 closes `<speak>`"),
        ("<speak><p>hi", "`<p>` is not closed"),
        ("<speak>a < b</speak>", "the tag at character 10 is not closed"),
        (
            "<speak>a & b</speak>",
            "the text at character 8: `&` starts no reference (write `&amp;`)",
        ),
        ("<speak>&nbsp;</speak>", "`&` starts no reference"),
        ("<speak>&#0;</speak>", "`&` starts no reference"),
        (
            "<speak>bell \u{7}</speak>",
            "character U+0007 at character 13 is not allowed in SSML",
        ),
        (
            "<speak><break time=1s/></speak>",
            "the value of `time` is not quoted",
        ),
        ("<speak><break time=\"1s/></speak>", "is not closed"),
        (
            "<speak><p a='1' a='2'>x</p></speak>",
            "attribute `a` is given twice",
        ),
        (
            "<speak><p a='1'b='2'>x</p></speak>",
            "attributes are separated by white space",
        ),
        ("<speak><p a>x</p></speak>", "attribute `a` has no value"),
        ("<speak><p a='<'>x</p></speak>", "the value of `a` holds `<`"),
        ("<speak><1p>x</1p></speak>", "`1p` is not a name"),
        ("<speak></></speak>", "a tag or attribute has no name"),
        ("<speak><!-- a -- b --></speak>", "holds `--`"),
        (
            "<speak><!-- open</speak>",
            "the comment at character 8 is not closed",
        ),
        (
            "<?xml version=\"1.0\"?><speak/>",
            "processing instructions, CDATA sections and document types",
        ),
        (
            "<speak><![CDATA[x]]></speak>",
            "processing instructions, CDATA sections and document types",
        ),
    ] {
        let problem = ssml_problem(ssml).unwrap_or_else(|| panic!("accepted: {ssml:?}"));
        assert!(problem.contains(expected), "{ssml:?}: {problem}");
    }
}

#[test]
fn the_content_of_speak_reads_with_positions_of_its_own() {
    let parts = ssml_content_parts("Hi <p>there</p> &amp; bye").expect("content");
    assert_eq!(
        parts,
        [
            SsmlPart::Text("Hi "),
            SsmlPart::Markup("<p>"),
            SsmlPart::Text("there"),
            SsmlPart::Markup("</p>"),
            SsmlPart::Text(" &amp; bye"),
        ]
    );
    assert_eq!(ssml_content_parts("").map(|parts| parts.len()), Ok(0));
    for (content, expected) in [
        ("<p>a & b</p>", "the text at character 4: `&` starts no reference"),
        ("<p>open", "`<p>` is not closed"),
        ("a</p>", "`</p>` at character 2 closes no element"),
        (
            "<speak>x</speak>",
            "`<speak>` at character 1 is inside the script",
        ),
    ] {
        let problem = ssml_content_parts(content).expect_err(content);
        assert!(problem.contains(expected), "{content:?}: {problem}");
    }
}

#[test]
fn every_escape_of_the_template_engine_reads_as_text() {
    let value = "a<b>&\"c\" 'd' é 漢字 🚨";
    let ssml = format!("<speak>{}</speak>", alert_model::escape::html(value));
    assert_eq!(ssml_problem(&ssml), None, "{ssml}");
}

// ---------------------------------------------------------------------------------------------
// Voices

#[test]
fn every_voice_is_listed_once_with_a_language() {
    let mut names: Vec<&str> = VOICES.iter().map(|(name, _)| *name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), VOICES.len(), "a voice is listed twice");
    assert_eq!(voice_language("JOANNA"), Some("en-US"));
    assert_eq!(voice_language("joanna"), None, "the API's spelling only");
}

// ---------------------------------------------------------------------------------------------
// The endpoint of the voice client

#[test]
fn an_endpoint_set_for_the_service_is_found_and_others_are_kept() {
    let base = SdkConfig::builder().endpoint_url("http://127.0.0.1:1").build();
    assert_eq!(configured_endpoint(&base), None);
    let voice = with_endpoint(&base, "http://127.0.0.1:2");
    assert_eq!(configured_endpoint(&voice).as_deref(), Some("http://127.0.0.1:2"));
    assert_eq!(
        voice.endpoint_url(),
        Some("http://127.0.0.1:1"),
        "the global endpoint stays"
    );
    let key = ServiceConfigKey::builder()
        .service_id("SNS")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .expect("a key");
    let other = voice.service_config().and_then(|config| config.load_config(key));
    assert_eq!(
        other, None,
        "another service's endpoint is not the voice endpoint"
    );
    assert_eq!(
        ENDPOINT_URL_VARIABLE,
        format!("AWS_ENDPOINT_URL_{}", SERVICE_ID.to_uppercase().replace(' ', "_"))
    );
}

// ---------------------------------------------------------------------------------------------
// The local voice endpoint

fn signed_headers() -> Vec<(String, String)> {
    [
        ("Content-Type", CONTENT_TYPE),
        ("X-Amz-Target", SEND_VOICE_MESSAGE_TARGET),
        ("X-Amz-Date", "20261128T160005Z"),
        (
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=testing/20261128/us-east-1/sms-voice/aws4_request, \
             SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=abc123",
        ),
    ]
    .into_iter()
    .map(|(name, value)| (name.to_owned(), value.to_owned()))
    .collect()
}

fn valid_body() -> Value {
    json!({
        "DestinationPhoneNumber": "+15555550101",
        "OriginationIdentity": "+18005550100",
        "MessageBody": "<speak>DNS is down.</speak>",
        "MessageBodyTextType": "SSML",
        "VoiceId": "JOANNA",
    })
}

fn send(headers: &[(String, String)], body: &Value) -> VoiceAnswer {
    let body = body.to_string();
    answer(&VoiceRequest {
        method: "POST",
        path: "/",
        headers,
        body: body.as_bytes(),
    })
}

/// The error code and status of an answer, and its message.
fn error_of(answer: &VoiceAnswer) -> (String, u16, String) {
    let body: Value = serde_json::from_str(&answer.body).expect("a JSON answer");
    (
        body["__type"].as_str().unwrap_or_default().to_owned(),
        answer.status,
        body["message"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn a_valid_call_is_accepted_with_a_message_id_as_the_service_answers() {
    let headers = signed_headers();
    let body = valid_body().to_string();
    let request = VoiceRequest {
        method: "POST",
        path: "/",
        headers: &headers,
        body: body.as_bytes(),
    };
    assert!(request.is_send_voice_message());
    let call = check(&request).expect("accepted");
    assert_eq!(call.destination_phone_number, "+15555550101");
    assert_eq!(call.origination_identity, "+18005550100");
    assert_eq!(call.message_body_text_type, "SSML");
    assert_eq!(call.voice_id.as_deref(), Some("JOANNA"));
    let answer = send(&headers, &valid_body());
    assert_eq!(answer.status, 200);
    let parsed: Value = serde_json::from_str(&answer.body).expect("JSON");
    assert!(
        parsed["MessageId"].as_str().is_some_and(|id| !id.is_empty()),
        "{parsed}"
    );
    assert!(
        answer
            .headers
            .contains(&("content-type".to_owned(), CONTENT_TYPE.to_owned()))
    );
}

#[test]
fn each_field_is_checked_as_the_service_checks_it() {
    let headers = signed_headers();
    let with = |field: &str, value: Value| {
        let mut body = valid_body();
        body[field] = value;
        body
    };
    let without = |field: &str| {
        let mut body = valid_body();
        body.as_object_mut().map(|object| object.remove(field));
        body
    };
    let long_ssml = format!("<speak>{}</speak>", "x".repeat(MAX_SSML_CHARS - 14));
    let fits_ssml = format!("<speak>{}</speak>", "x".repeat(MAX_SSML_CHARS - 15));
    for (body, field, fragment) in [
        (
            without("DestinationPhoneNumber"),
            "DestinationPhoneNumber",
            "required",
        ),
        (
            with("DestinationPhoneNumber", json!("0612345678")),
            "DestinationPhoneNumber",
            "E.164",
        ),
        (without("OriginationIdentity"), "OriginationIdentity", "required"),
        (
            with("OriginationIdentity", json!("pool 1")),
            "OriginationIdentity",
            "1 to 256",
        ),
        (without("MessageBody"), "MessageBody", "required"),
        (with("MessageBody", json!("")), "MessageBody", "0 characters"),
        (
            with("MessageBody", json!(long_ssml)),
            "MessageBody",
            "6001 characters; a SSML body has 1 to 6000",
        ),
        (
            with("MessageBody", json!("<speak>a & b</speak>")),
            "MessageBody",
            "not well-formed SSML",
        ),
        (
            with("MessageBodyTextType", json!("HTML")),
            "MessageBodyTextType",
            "TEXT or SSML",
        ),
        (with("VoiceId", json!("Joanna")), "VoiceId", "not a voice"),
        (with("TimeToLive", json!(1)), "TimeToLive", "5 to 259200"),
    ] {
        let answer = send(&headers, &body);
        let (code, status, message) = error_of(&answer);
        assert_eq!(
            (code.as_str(), status),
            ("ValidationException", 400),
            "{field}: {message}"
        );
        assert!(
            message.contains(field) && message.contains(fragment),
            "{field}: {message}"
        );
        let parsed: Value = serde_json::from_str(&answer.body).expect("JSON");
        assert_eq!(parsed["Fields"][0]["Name"], field);
    }
    assert_eq!(send(&headers, &with("MessageBody", json!(fits_ssml))).status, 200);
    // A text body has half the room, and is not SSML.
    let text = with("MessageBodyTextType", json!("TEXT"));
    let mut long_text = text.clone();
    long_text["MessageBody"] = json!("y".repeat(MAX_TEXT_CHARS + 1));
    assert_eq!(error_of(&send(&headers, &long_text)).0, "ValidationException");
    let mut plain = text.clone();
    plain["MessageBody"] = json!("a & b");
    assert_eq!(
        send(&headers, &plain).status,
        200,
        "a TEXT body is not read as SSML"
    );
    let mut default_type = without("MessageBodyTextType");
    default_type["MessageBody"] = json!("y".repeat(MAX_TEXT_CHARS + 1));
    assert_eq!(
        send(&headers, &default_type).status,
        400,
        "TEXT is the default type"
    );
}

#[test]
fn the_protocol_and_the_signature_are_checked() {
    let body = valid_body();
    let replace = |name: &str, value: Option<&str>| {
        let mut headers: Vec<(String, String)> = signed_headers()
            .into_iter()
            .filter(|(known, _)| !known.eq_ignore_ascii_case(name))
            .collect();
        if let Some(value) = value {
            headers.push((name.to_owned(), value.to_owned()));
        }
        headers
    };
    for (headers, expected) in [
        (
            replace("authorization", None),
            ("MissingAuthenticationTokenException", 403),
        ),
        (
            replace("Authorization", Some("Bearer x")),
            ("IncompleteSignatureException", 403),
        ),
        (replace("X-Amz-Date", None), ("IncompleteSignatureException", 403)),
        (
            replace("X-Amz-Target", Some("PinpointSMSVoiceV2.SendTextMessage")),
            ("UnknownOperationException", 400),
        ),
        (replace("X-Amz-Target", None), ("UnknownOperationException", 400)),
        (
            replace("Content-Type", Some("application/json")),
            ("SerializationException", 400),
        ),
    ] {
        let (code, status, message) = error_of(&send(&headers, &body));
        assert_eq!((code.as_str(), status), expected, "{headers:?}: {message}");
    }
    let headers = signed_headers();
    let not_json = answer(&VoiceRequest {
        method: "POST",
        path: "/",
        headers: &headers,
        body: b"DestinationPhoneNumber=+15555550101",
    });
    assert_eq!(error_of(&not_json).0, "SerializationException");
    let wrong_type = send(&headers, &json!({"DestinationPhoneNumber": 15555550101_u64}));
    assert_eq!(error_of(&wrong_type).0, "SerializationException");
    let elsewhere = answer(&VoiceRequest {
        method: "POST",
        path: "/v1/sms-voice/voice/message",
        headers: &headers,
        body: body.to_string().as_bytes(),
    });
    assert_eq!(
        (error_of(&elsewhere).0.as_str(), elsewhere.status),
        ("UnknownOperationException", 404)
    );
    let get = answer(&VoiceRequest {
        method: "GET",
        path: "/",
        headers: &headers,
        body: b"",
    });
    assert_eq!(error_of(&get).0, "UnknownOperationException");
}

#[test]
fn the_documented_errors_carry_their_code_and_status() {
    for (error, code, status) in [
        (VoiceError::Throttling, "ThrottlingException", 400),
        (VoiceError::Validation, "ValidationException", 400),
        (VoiceError::InternalServer, "InternalServerException", 500),
        (VoiceError::AccessDenied, "AccessDeniedException", 400),
        (VoiceError::ResourceNotFound, "ResourceNotFoundException", 400),
        (
            VoiceError::ServiceQuotaExceeded,
            "ServiceQuotaExceededException",
            400,
        ),
        (VoiceError::Conflict, "ConflictException", 400),
    ] {
        let answer = VoiceAnswer::error(error, "said the service");
        assert_eq!(
            error_of(&answer),
            (code.to_owned(), status, "said the service".to_owned())
        );
        assert!(
            answer
                .headers
                .contains(&("x-amzn-errortype".to_owned(), code.to_owned()))
        );
    }
}
