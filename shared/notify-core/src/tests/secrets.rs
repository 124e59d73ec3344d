//! Secret references against the emulator's SSM and Secrets Manager, and the placeholder resolver.

use std::time::Duration;

use definition_store::SecretRef;
use test_support::moto::{sdk_config, unique};

use crate::{
    MemorySecrets, PlaceholderSecrets, Secret, SecretLocation, SecretResolver, Secrets, secret::locate,
};

fn reference(text: &str) -> SecretRef {
    SecretRef(text.to_owned())
}

async fn put_parameter(sdk: &aws_config::SdkConfig, name: &str, value: &str) {
    aws_sdk_ssm::Client::new(sdk)
        .put_parameter()
        .name(name)
        .value(value)
        .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
        .overwrite(true)
        .send()
        .await
        .unwrap();
}

#[test]
fn a_secret_never_prints() {
    let secret = Secret::new("sekrit".to_owned());
    assert_eq!(format!("{secret}"), "[redacted]");
    assert_eq!(format!("{secret:?}"), "[redacted]");
    assert_eq!(format!("{:?}", Some(&secret)), "Some([redacted])");
    assert_eq!(secret.expose(), "sekrit");
}

#[test]
fn references_parse_or_say_what_is_expected() {
    assert_eq!(
        locate(&reference("ssm:/tocsin/pagerduty")).unwrap(),
        SecretLocation::Ssm {
            name: "/tocsin/pagerduty".to_owned()
        }
    );
    assert_eq!(
        locate(&reference(
            "secretsmanager:arn:aws:secretsmanager:eu-west-1:1:secret:x-AbC#token"
        ))
        .unwrap(),
        SecretLocation::SecretsManager {
            id: "arn:aws:secretsmanager:eu-west-1:1:secret:x-AbC".to_owned(),
            key: Some("token".to_owned())
        }
    );
    assert_eq!(
        locate(&reference("secretsmanager:plain")).unwrap(),
        SecretLocation::SecretsManager {
            id: "plain".to_owned(),
            key: None
        }
    );
    assert_eq!(
        locate(&reference("vault:/x")).unwrap_err().to_string(),
        "secret `vault:/x`: a secret reference must start with \"ssm:/\" or \"secretsmanager:\" (value not shown)"
    );
    assert_eq!(
        locate(&reference("ssm:")).unwrap_err().to_string(),
        "secret `ssm:`: an ssm secret reference must be \"ssm:/<parameter name>\""
    );
    // One rule with `tocsin validate`: a name never holds `#`, so the first `#` starts the key.
    assert_eq!(
        locate(&reference("secretsmanager:a#b#c")).unwrap(),
        SecretLocation::SecretsManager {
            id: "a".to_owned(),
            key: Some("b#c".to_owned())
        }
    );
    assert_eq!(
        definition_store::validate(&definition_store::from_yaml(
            "integrations: [{id: x, kind: webhook, variables: {K: {secret: \"secretsmanager:a#b#c\"}}, settings: {preset: all-variables, url: \"https://e.com\"}}]"
        )
        .unwrap()),
        Vec::new()
    );
}

#[tokio::test]
async fn ssm_parameters_resolve_with_decryption_and_are_cached() {
    let sdk = sdk_config().await;
    let name = format!("/{}", unique("tocsin-test/param"));
    put_parameter(&sdk, &name, "first-value").await;
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(60));
    let secret_ref = reference(&format!("ssm:{name}"));
    assert_eq!(
        resolver.resolve(&secret_ref).await.unwrap().expose(),
        "first-value"
    );
    put_parameter(&sdk, &name, "second-value").await;
    assert_eq!(
        resolver.resolve(&secret_ref).await.unwrap().expose(),
        "first-value",
        "cached within the ttl"
    );
    let uncached = SecretResolver::new(&sdk, Duration::ZERO);
    assert_eq!(
        uncached.resolve(&secret_ref).await.unwrap().expose(),
        "second-value"
    );
}

#[tokio::test]
async fn secrets_manager_values_resolve_whole_or_by_json_key() {
    let sdk = sdk_config().await;
    let client = aws_sdk_secretsmanager::Client::new(&sdk);
    let plain = unique("tocsin-plain");
    client
        .create_secret()
        .name(&plain)
        .secret_string("plain-sekrit")
        .send()
        .await
        .unwrap();
    let json = unique("tocsin-json");
    client
        .create_secret()
        .name(&json)
        .secret_string(r#"{"token":"json-sekrit","port":5432,"empty":null}"#)
        .send()
        .await
        .unwrap();
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(60));
    let resolve = |text: String| {
        let resolver = &resolver;
        async move { resolver.resolve(&reference(&text)).await }
    };
    assert_eq!(
        resolve(format!("secretsmanager:{plain}")).await.unwrap().expose(),
        "plain-sekrit"
    );
    assert_eq!(
        resolve(format!("secretsmanager:{json}#token"))
            .await
            .unwrap()
            .expose(),
        "json-sekrit"
    );
    assert_eq!(
        resolve(format!("secretsmanager:{json}#port"))
            .await
            .unwrap()
            .expose(),
        "5432"
    );
    let missing_key = resolve(format!("secretsmanager:{json}#nope")).await.unwrap_err();
    assert!(!missing_key.is_retryable());
    assert_eq!(
        missing_key.to_string(),
        format!("secret `secretsmanager:{json}#nope`: no key `nope` in the json value")
    );
    let not_json = resolve(format!("secretsmanager:{plain}#token"))
        .await
        .unwrap_err();
    assert_eq!(
        not_json.to_string(),
        format!("secret `secretsmanager:{plain}#token`: the value is not a json object")
    );
    assert!(!format!("{not_json:?}").contains("plain-sekrit"));
}

#[tokio::test]
async fn a_missing_secret_is_permanent_and_names_the_reference() {
    let sdk = sdk_config().await;
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(60));
    let ssm = format!("ssm:/{}", unique("missing"));
    let error = resolver.resolve(&reference(&ssm)).await.unwrap_err();
    assert!(!error.is_retryable(), "{error}");
    assert_eq!(error.to_string(), format!("secret `{ssm}` not found"));
    let sm = format!("secretsmanager:{}", unique("missing"));
    let error = resolver.resolve(&reference(&sm)).await.unwrap_err();
    assert!(!error.is_retryable(), "{error}");
    assert_eq!(error.to_string(), format!("secret `{sm}` not found"));
}

#[tokio::test]
async fn an_unreachable_service_is_retryable() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(format!("http://127.0.0.1:{port}"))
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    let resolver = SecretResolver::new(&sdk, Duration::from_secs(60));
    let error = resolver.resolve(&reference("ssm:/tocsin/x")).await.unwrap_err();
    assert!(error.is_retryable(), "{error}");
    let error = resolver
        .resolve(&reference("secretsmanager:x#y"))
        .await
        .unwrap_err();
    assert!(error.is_retryable(), "{error}");
}

#[tokio::test]
async fn the_placeholder_resolver_calls_nothing_and_names_the_reference() {
    let value = PlaceholderSecrets
        .resolve(&reference("ssm:/tocsin/pd-key"))
        .await
        .unwrap();
    assert_eq!(value.expose(), "[secret ssm:/tocsin/pd-key]");
    assert!(!PlaceholderSecrets.are_secret());
    assert!(PlaceholderSecrets.resolve(&reference("nope")).await.is_err());
    let memory = MemorySecrets::new().with("ssm:/a", "b");
    assert_eq!(memory.resolve(&reference("ssm:/a")).await.unwrap().expose(), "b");
    assert_eq!(
        memory
            .resolve(&reference("ssm:/c"))
            .await
            .unwrap_err()
            .to_string(),
        "secret `ssm:/c` not found"
    );
}

/// An SDK config pointing at a local receiver that plays the AWS JSON protocol's error answers.
async fn scripted_aws(replies: Vec<test_support::Reply>) -> (test_support::Receiver, aws_config::SdkConfig) {
    let receiver = test_support::Receiver::start(test_support::Script::new().route("/", replies)).await;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(receiver.url(""))
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await;
    (receiver, sdk)
}

fn aws_error(status: u16, error_type: &str) -> test_support::Reply {
    test_support::Reply::status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-errortype", error_type)
        .body(format!(r#"{{"__type":"{error_type}","message":"scripted"}}"#))
}

#[tokio::test]
async fn throttling_and_server_errors_are_retryable_other_errors_permanent() {
    let cases: &[(u16, &str, bool)] = &[
        (500, "InternalServerError", true),
        (503, "ServiceUnavailable", true),
        (400, "ThrottlingException", true),
        (429, "TooManyRequestsException", true),
        (400, "ParameterNotFound", false),
        (400, "AccessDeniedException", false),
    ];
    for (status, error_type, retryable) in cases {
        let (receiver, sdk) = scripted_aws(vec![aws_error(*status, error_type)]).await;
        let resolver = SecretResolver::new(&sdk, Duration::from_secs(60));
        let error = resolver
            .resolve(&reference("ssm:/tocsin/scripted"))
            .await
            .unwrap_err();
        assert_eq!(error.is_retryable(), *retryable, "{status} {error_type}: {error}");
        assert!(
            error.to_string().starts_with("secret `ssm:/tocsin/scripted`"),
            "{error}"
        );
        let error = resolver
            .resolve(&reference("secretsmanager:scripted"))
            .await
            .unwrap_err();
        assert_eq!(error.is_retryable(), *retryable, "{status} {error_type}: {error}");
        assert_eq!(
            receiver.requests().len(),
            2,
            "one request per resolve, no hidden retries"
        );
    }
}

#[test]
fn a_secret_inside_base64_is_redacted_at_every_offset_as_in_basic_credentials() {
    use base64::{
        Engine as _,
        engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD},
    };

    let secret = "pa55-w0rd/+sek?rit";
    let mut variables = crate::Variables::default();
    variables.insert_secret("Token", secret);
    // `user:` before the secret shifts its encoding by 0, 1 and 2 bytes; the secret ends the
    // credentials or is followed by more text.
    for user in ["ab", "ops", "user", "admin"] {
        for engine in [&STANDARD, &URL_SAFE_NO_PAD] {
            for after in ["", "+more"] {
                let encoded = engine.encode(format!("{user}:{secret}{after}"));
                let redacted = variables.redact(&format!("echo: Basic {encoded} end"));
                assert!(redacted.contains("[redacted]"), "{user}, {after}: {redacted}");
                // What may survive: the characters holding `user:` (and one shared with the
                // secret) and those after the secret; no five characters encoding it alone.
                let first = (user.len() + 1) * 4 / 3 + 1;
                let last = encoded.len() - after.len() * 4 / 3 - 1;
                for start in first..last.saturating_sub(5) {
                    let window = &encoded[start..start + 5];
                    assert!(
                        !redacted.contains(window),
                        "{user}, {after}: `{window}` of {encoded} survived in {redacted}"
                    );
                }
            }
        }
    }
}

#[test]
fn redaction_finds_a_secret_a_target_changed() {
    use base64::Engine as _;
    let secret = "Sekrit-Ünïcode-ToKen-42";
    let mut variables = crate::Variables::default();
    variables.insert_secret("Token", secret);
    let hex: String = secret.bytes().map(|b| format!("{b:02x}")).collect();
    let latin1: String = secret.bytes().map(char::from).collect();
    let reversed: String = secret.chars().rev().collect();
    let wrapped = base64::engine::general_purpose::STANDARD
        .encode(format!("{}{secret}", "x".repeat(70)))
        .as_bytes()
        .chunks(76)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("\r\n");
    for echo in [
        secret.to_uppercase(),
        secret.to_lowercase(),
        reversed,
        hex.clone(),
        hex.to_uppercase(),
        latin1,
        format!("mime:\r\n{wrapped}\r\nend"),
    ] {
        let redacted = variables.redact(&format!("the target said: {echo}"));
        assert!(redacted.contains("[redacted]"), "{echo:?} → {redacted}");
        assert!(
            !redacted.contains("ToKen") && !redacted.contains("TOKEN"),
            "{redacted}"
        );
        assert!(!redacted.contains(&hex[..12]), "{redacted}");
    }
    // The wrapped base64 loses the lines that held the secret (characters 96.. encode it).
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{}{secret}", "x".repeat(70)));
    let redacted = variables.redact(&format!("mime:\r\n{wrapped}\r\nend"));
    assert!(!redacted.contains(&encoded[96..112]), "{redacted}");
    // Text that only looks like base64 is kept.
    let plain = "line one of a report\nAAAAAAAAAAAAAAAAAAAA\nBBBBBBBBBBBBBBBBBBBB\nend";
    assert_eq!(variables.redact(plain), plain);
}
