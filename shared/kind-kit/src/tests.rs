//! The kit's own tests: both kinds pass it through a transparent wrapper, every check fails on a
//! kind with the flaw it looks for (the same wrapper with one flaw turned on), and the answers of
//! the AWS targets read as their SDK clients read them.

use alert_model::{Alert, IntegrationKind};
use aws_sdk_sns::error::ProvideErrorMetadata as _;
use definition_store::{Integration, IntegrationCheck, Recipients};
use notify_core::{
    ConfigError, Field, Init, Kind, Notifier, NotifyError, Outgoing, RouteContext, SampleEnv, Sent,
    Templates, Transport,
};
use notify_email::EmailNotifier;
use notify_webhook::WebhookNotifier;
use serde_json::Value;
use test_support::{Receiver, Script};

use crate::{
    Check, conformance, problems,
    target::{Answer, case},
};

// ---------------------------------------------------------------------------------------------
// A kind with one deliberate flaw

/// No flaw: the wrapped kind as it is.
const NONE: u8 = 0;
/// Reports every message sent without sending it.
const NOT_SENT: u8 = 1;
/// Names its steps differently on every build, so a redelivered event is not recognised.
const UNSTABLE_STEPS: u8 = 2;
/// Drops the target's `Retry-After`.
const IGNORES_RETRY_AFTER: u8 = 3;
/// Takes every failure with a status (429, 5xx) as permanent.
const GIVES_UP: u8 = 4;
/// Sends a failed message once more itself.
const RETRIES_ITSELF: u8 = 5;
/// Takes a 400 as retryable.
const CLIENT_ERROR_RETRYABLE: u8 = 6;
/// Takes a timeout as permanent.
const TIMEOUT_PERMANENT: u8 = 7;
/// Takes a connection failure (no answer, no timeout) as permanent.
const DROP_PERMANENT: u8 = 8;
/// Ignores unknown settings.
const ACCEPTS_UNKNOWN_SETTINGS: u8 = 9;
/// Logs the message it sends, secrets and all.
const LOGS_MESSAGES: u8 = 10;

/// Kind `K` with flaw `FLAW` (one of the constants above).
struct Flawed<K, const FLAW: u8>(K);

impl<K: Kind, const FLAW: u8> Notifier for Flawed<K, FLAW> {
    const KIND: IntegrationKind = K::KIND;
    type Target = K::Target;
    type Message = K::Message;

    fn target(&self, integration: &Integration) -> Result<K::Target, NotifyError> {
        if FLAW == ACCEPTS_UNKNOWN_SETTINGS {
            let mut lenient = integration.clone();
            lenient.settings.remove("noSuchSetting");
            return self.0.target(&lenient);
        }
        self.0.target(integration)
    }

    fn build(
        &self,
        route: &RouteContext<'_>,
        target: &K::Target,
    ) -> Result<Vec<Outgoing<K::Message>>, NotifyError> {
        let mut messages = self.0.build(route, target)?;
        if FLAW == UNSTABLE_STEPS {
            for outgoing in &mut messages {
                outgoing.step = format!("{}-{}", outgoing.step, uuid::Uuid::new_v4());
            }
        }
        Ok(messages)
    }

    async fn send(&self, message: &K::Message) -> Result<Sent, NotifyError> {
        if FLAW == NOT_SENT {
            return Ok(Sent::default());
        }
        if FLAW == LOGS_MESSAGES {
            tracing::info!(message = %self.0.describe(message), "sending");
        }
        let mut result = self.0.send(message).await;
        if FLAW == RETRIES_ITSELF && result.is_err() {
            result = self.0.send(message).await;
        }
        let Err(error) = result else { return result };
        let reason = error.to_string();
        Err(match (FLAW, error) {
            (IGNORES_RETRY_AFTER, NotifyError::Retryable { reason, status, .. }) => NotifyError::Retryable {
                reason,
                status,
                retry_after: None,
            },
            (
                GIVES_UP,
                NotifyError::Retryable {
                    status: Some(status), ..
                },
            ) => NotifyError::Permanent {
                reason,
                status: Some(status),
            },
            (
                CLIENT_ERROR_RETRYABLE,
                NotifyError::Permanent {
                    status: Some(400), ..
                },
            ) => NotifyError::Retryable {
                reason,
                status: Some(400),
                retry_after: None,
            },
            (TIMEOUT_PERMANENT, NotifyError::Retryable { status: None, .. }) if reason.contains("time") => {
                NotifyError::permanent(reason)
            }
            (DROP_PERMANENT, NotifyError::Retryable { status: None, .. }) if !reason.contains("time") => {
                NotifyError::permanent(reason)
            }
            (_, error) => error,
        })
    }

    fn describe(&self, message: &K::Message) -> Value {
        self.0.describe(message)
    }
}

impl<K: Kind, const FLAW: u8> Kind for Flawed<K, FLAW> {
    type Settings = K::Settings;
    const RECIPIENTS: Recipients = K::RECIPIENTS;
    const TRANSPORT: Transport = K::TRANSPORT;
    const DEFAULT_TEMPLATES: &'static [(&'static str, &'static str)] = K::DEFAULT_TEMPLATES;

    fn new(init: &Init) -> Result<Self, ConfigError> {
        K::new(init).map(Flawed)
    }

    fn check(settings: &K::Settings, check: &mut IntegrationCheck<'_>) {
        K::check(settings, check);
    }

    fn sample(id: &str, env: &SampleEnv<'_>) -> Integration {
        K::sample(id, env)
    }

    fn nothing_to_send(integration: &Integration, alert: &Alert) -> String {
        K::nothing_to_send(integration, alert)
    }

    fn summary(description: &Value) -> String {
        K::summary(description)
    }

    fn set_templates(integration: &mut Integration, templates: &Templates) {
        K::set_templates(integration, templates);
    }

    fn fields(step: &str, message: &K::Message) -> Vec<Field> {
        K::fields(step, message)
    }
}

/// Asserts that `check` finds a problem in `K` containing `expected`, and names itself in each.
async fn fails<K: Kind>(check: Check, expected: &str) {
    let problems = problems::<K>(check).await;
    assert!(
        problems.iter().any(|problem| problem.contains(expected)),
        "{}: expected a problem containing {expected:?}, found {problems:#?}",
        check.name()
    );
    let prefix = format!("{}: ", check.name());
    assert!(
        problems.iter().all(|problem| problem.starts_with(&prefix)),
        "{problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Both kinds pass through the wrapper, so that what fails below is the flaw

#[tokio::test]
async fn the_webhook_kind_passes_through_the_wrapper() {
    conformance::<Flawed<WebhookNotifier, NONE>>().await;
}

#[tokio::test]
async fn the_email_kind_passes_through_the_wrapper() {
    conformance::<Flawed<EmailNotifier, NONE>>().await;
}

// ---------------------------------------------------------------------------------------------
// Every check fails on the flaw it looks for

#[tokio::test]
async fn delivered_finds_a_message_reported_sent_but_never_sent() {
    fails::<Flawed<WebhookNotifier, NOT_SENT>>(Check::Delivered, "the target got 0 request(s)").await;
    fails::<Flawed<EmailNotifier, NOT_SENT>>(Check::Delivered, "the target got 0 request(s)").await;
}

#[tokio::test]
async fn redelivery_finds_unstable_step_names() {
    fails::<Flawed<WebhookNotifier, UNSTABLE_STEPS>>(
        Check::Redelivery,
        "the same event handled twice: the target got 2 request(s) for 1 message(s)",
    )
    .await;
}

#[tokio::test]
async fn retry_after_finds_a_retry_sooner_than_allowed_and_a_kind_that_gives_up() {
    fails::<Flawed<WebhookNotifier, IGNORES_RETRY_AFTER>>(Check::RetryAfter, "sooner than it allows").await;
    fails::<Flawed<EmailNotifier, GIVES_UP>>(Check::RetryAfter, "the message was not retried").await;
}

#[tokio::test]
async fn server_errors_find_a_kind_that_gives_up_or_retries_itself() {
    fails::<Flawed<WebhookNotifier, GIVES_UP>>(Check::ServerErrorThenSuccess, "a 500 was not retried").await;
    fails::<Flawed<EmailNotifier, GIVES_UP>>(Check::ServerErrorForever, "expected the route left retryable")
        .await;
    fails::<Flawed<WebhookNotifier, RETRIES_ITSELF>>(
        Check::ServerErrorForever,
        "each attempt must be one request",
    )
    .await;
}

#[tokio::test]
async fn client_error_finds_a_400_taken_as_retryable() {
    fails::<Flawed<WebhookNotifier, CLIENT_ERROR_RETRYABLE>>(
        Check::ClientError,
        "expected the route failed permanently",
    )
    .await;
}

#[tokio::test]
async fn timeout_finds_a_timeout_taken_as_permanent() {
    fails::<Flawed<WebhookNotifier, TIMEOUT_PERMANENT>>(Check::Timeout, "expected the route left retryable")
        .await;
    fails::<Flawed<EmailNotifier, TIMEOUT_PERMANENT>>(Check::Timeout, "expected the route left retryable")
        .await;
}

#[tokio::test]
async fn dropped_connection_finds_a_connection_failure_taken_as_permanent() {
    fails::<Flawed<WebhookNotifier, DROP_PERMANENT>>(
        Check::DroppedConnection,
        "expected the route left retryable",
    )
    .await;
    fails::<Flawed<EmailNotifier, DROP_PERMANENT>>(
        Check::DroppedConnection,
        "expected the route left retryable",
    )
    .await;
}

#[tokio::test]
async fn bad_settings_finds_unknown_settings_ignored() {
    fails::<Flawed<WebhookNotifier, ACCEPTS_UNKNOWN_SETTINGS>>(
        Check::BadSettings,
        "from an integration with bad settings",
    )
    .await;
}

#[tokio::test]
async fn redaction_finds_a_secret_in_the_logs() {
    fails::<Flawed<WebhookNotifier, LOGS_MESSAGES>>(Check::Redaction, "the secret (its first 12 characters")
        .await;
    fails::<Flawed<EmailNotifier, LOGS_MESSAGES>>(Check::Redaction, "the secret (its first 12 characters")
        .await;
}

#[tokio::test]
async fn conformance_fails_once_with_every_problem_named_by_its_check() {
    let local = tokio::task::LocalSet::new();
    let outcome = local
        .run_until(async {
            tokio::task::spawn_local(conformance::<Flawed<WebhookNotifier, NOT_SENT>>()).await
        })
        .await;
    let panic = outcome.expect_err("a kind that sends nothing fails").into_panic();
    let message = panic
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_else(|| "not a formatted panic".to_owned());
    assert!(
        message.starts_with("kind `webhook` fails the conformance kit"),
        "{message}"
    );
    for check in [
        Check::Delivered,
        Check::Redelivery,
        Check::RetryAfter,
        Check::ServerErrorThenSuccess,
        Check::ServerErrorForever,
        Check::ClientError,
        Check::Redaction,
    ] {
        assert!(
            message.contains(&format!("\n  - {}: ", check.name())),
            "{message}"
        );
    }
    // Bad settings are refused before anything is sent, flaw or not.
    assert!(!message.contains("bad settings:"), "{message}");
}

// ---------------------------------------------------------------------------------------------
// The AWS targets answer as their SDK clients read them

async fn sdk_at(receiver: &Receiver) -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(receiver.url(""))
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .retry_config(aws_config::retry::RetryConfig::disabled())
        .load()
        .await
}

#[tokio::test]
async fn sns_answers_read_as_the_sns_client_reads_them() {
    use aws_sdk_sns::operation::publish::PublishError;

    let case = case(Transport::SnsSms);
    assert!(!case.honours_retry_after);
    let receiver = Receiver::start(Script::new().route(
        "/",
        [
            case.reply(Answer::Throttled, "Rate <exceeded> & more"),
            case.reply(Answer::ServerError, "oops"),
            case.reply(Answer::ClientError, "bad number"),
            case.reply(Answer::Success, "message-<1>"),
        ],
    ))
    .await;
    let sns = aws_sdk_sns::Client::new(&sdk_at(&receiver).await);
    let publish = || {
        sns.publish()
            .phone_number("+15555550100")
            .message("DNS down")
            .send()
    };

    let throttled = publish().await.expect_err("throttled");
    assert_eq!(throttled.code(), Some("Throttling"), "{throttled:?}");
    assert_eq!(throttled.message(), Some("Rate <exceeded> & more"));
    assert_eq!(throttled.raw_response().map(|r| r.status().as_u16()), Some(400));
    let server = publish().await.expect_err("server error");
    assert!(
        matches!(
            server.as_service_error(),
            Some(PublishError::InternalErrorException(_))
        ),
        "{server:?}"
    );
    assert_eq!(server.raw_response().map(|r| r.status().as_u16()), Some(500));
    let client = publish().await.expect_err("client error");
    assert!(
        matches!(
            client.as_service_error(),
            Some(PublishError::InvalidParameterException(_))
        ),
        "{client:?}"
    );
    assert_eq!(client.message(), Some("bad number"));
    let sent = publish().await.expect("success");
    assert_eq!(sent.message_id(), Some("message-<1>"));
    assert_eq!(receiver.requests_to("/").len(), 4);
}

#[tokio::test]
async fn ses_answers_read_as_the_ses_client_reads_them() {
    use aws_sdk_sesv2::{
        operation::send_email::SendEmailError,
        types::{Body, Content, Destination, EmailContent, Message},
    };

    let case = case(Transport::Ses);
    assert!(!case.honours_retry_after);
    let path = "/v2/email/outbound-emails";
    let receiver = Receiver::start(Script::new().route(
        path,
        [
            case.reply(Answer::Throttled, "Maximum sending rate exceeded."),
            case.reply(Answer::ServerError, "oops"),
            case.reply(Answer::ClientError, "bad address"),
            case.reply(Answer::Success, "message-1"),
        ],
    ))
    .await;
    let ses = aws_sdk_sesv2::Client::new(&sdk_at(&receiver).await);
    let text = |data: &str| Content::builder().data(data).build().expect("content");
    let send = || {
        ses.send_email()
            .from_email_address("alerts@example.com")
            .destination(Destination::builder().to_addresses("ops@example.com").build())
            .content(
                EmailContent::builder()
                    .simple(
                        Message::builder()
                            .subject(text("s"))
                            .body(Body::builder().text(text("t")).build())
                            .build(),
                    )
                    .build(),
            )
            .send()
    };

    let throttled = send().await.expect_err("throttled");
    assert!(
        matches!(
            throttled.as_service_error(),
            Some(SendEmailError::TooManyRequestsException(_))
        ),
        "{throttled:?}"
    );
    assert_eq!(throttled.raw_response().map(|r| r.status().as_u16()), Some(429));
    let server = send().await.expect_err("server error");
    assert_eq!(server.code(), Some("InternalFailure"), "{server:?}");
    assert_eq!(server.raw_response().map(|r| r.status().as_u16()), Some(500));
    let client = send().await.expect_err("client error");
    assert!(
        matches!(
            client.as_service_error(),
            Some(SendEmailError::BadRequestException(_))
        ),
        "{client:?}"
    );
    assert_eq!(client.message(), Some("bad address"));
    let sent = send().await.expect("success");
    assert_eq!(sent.message_id(), Some("message-1"));
    assert_eq!(receiver.requests_to(path).len(), 4);
}

#[tokio::test]
async fn http_answers_carry_their_status_and_retry_after() {
    let case = case(Transport::Http);
    assert!(case.honours_retry_after);
    let throttled = case.reply(Answer::Throttled, "slow down");
    assert_eq!(throttled.status, 429);
    assert_eq!(throttled.headers, [("Retry-After".to_owned(), "1".to_owned())]);
    assert_eq!(throttled.body, "slow down");
    let statuses: Vec<u16> = [Answer::Success, Answer::ServerError, Answer::ClientError]
        .into_iter()
        .map(|answer| case.reply(answer, "x").status)
        .collect();
    assert_eq!(statuses, [200, 500, 400]);
}
