//! Sending to a local Slack that checks every request as Slack documents it and answers as Slack
//! does, errors included ([`FakeSlack`]), through the real HTTP client, and through the runner.

use std::time::{Duration, Instant};

use alert_model::AlertType;
use definition_store::MemoryStore;
use notify_core::{
    MemoryDeliveryLog, MemorySecrets, Notifier, NotifyError, Pipeline, Sent, Settings, testing::capture,
};
use serde_json::{Value, json};

use super::{
    alert, alert_of_incident, body, bot_integration, build, notifier, variables, webhook_integration,
};
use crate::{
    SlackMessage,
    tests::fake_slack::{ARCHIVED_CHANNEL, Answer, BOT_TOKEN, FakeSlack, OPS_CHANNEL, OTHER_CHANNEL},
};

/// The one message of `alert` to the fake's incoming webhook.
fn webhook_message(slack: &FakeSlack, alert_type: AlertType) -> SlackMessage {
    let variables = variables(&slack.webhook_url(), &slack.api_url());
    build(&alert(alert_type), &webhook_integration(), &variables, None)
        .expect("builds")
        .remove(0)
        .message
}

/// The message that opens an incident in `channel` through the fake's Web API.
fn bot_message(slack: &FakeSlack, channel: &str) -> SlackMessage {
    let mut bot = bot_integration();
    bot.settings.insert("channel".to_owned(), json!(channel));
    let variables = variables(&slack.webhook_url(), &slack.api_url());
    build(&alert(AlertType::Alert), &bot, &variables, None)
        .expect("builds")
        .remove(0)
        .message
}

async fn send(message: &SlackMessage) -> Result<Sent, NotifyError> {
    notifier().send(message).await
}

fn permanent(result: Result<Sent, NotifyError>) -> (String, Option<u16>) {
    match result {
        Err(NotifyError::Permanent { reason, status }) => (reason, status),
        other => panic!("expected a permanent failure, got {other:?}"),
    }
}

fn retryable(result: Result<Sent, NotifyError>) -> (String, Option<u16>, Option<Duration>) {
    match result {
        Err(NotifyError::Retryable {
            reason,
            status,
            retry_after,
        }) => (reason, status, retry_after),
        other => panic!("expected a retryable failure, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Incoming webhook

#[tokio::test]
async fn slack_accepts_the_incoming_webhook_message_of_every_alert_type() {
    let slack = FakeSlack::start().await;
    for alert_type in AlertType::ALL {
        let sent = send(&webhook_message(&slack, *alert_type))
            .await
            .expect("accepted");
        assert_eq!(sent.status, Some(200));
        assert_eq!(sent.response, "ok");
        assert_eq!(sent.incident, None);
    }
    let received = slack.received();
    assert!(
        received
            .iter()
            .all(|request| request.method == "POST" && request.answer.status == 200)
    );
    assert_eq!(
        received[0].header("content-type"),
        Some("application/json; charset=utf-8")
    );
    assert!(received[0].header("authorization").is_none());
    assert_eq!(slack.webhook_posts().len(), 3);
}

#[tokio::test]
async fn slack_refuses_a_message_that_breaks_block_kit_and_the_reason_names_it() {
    // GIVEN a message whose header is longer than Block Kit allows (built by hand: the builder cuts)
    let slack = FakeSlack::start().await;
    let mut message = webhook_message(&slack, AlertType::Alert);
    let mut payload = body(&message);
    payload["blocks"][0]["text"]["text"] = json!("x".repeat(151));
    message.request.body = Value::Object(payload).to_string();

    // WHEN it is sent, THEN Slack's `invalid_blocks` is permanent
    let (reason, status) = permanent(send(&message).await);
    assert_eq!(status, Some(400));
    assert!(
        reason.starts_with("slack incoming webhook (POST http://127.0.0.1:")
            && reason.ends_with("): invalid_blocks: slack refused the message's blocks (http 400)"),
        "{reason}"
    );
    assert_eq!(slack.received()[0].answer.body, "invalid_blocks");
}

#[tokio::test]
async fn incoming_webhook_errors_are_explained_and_classified_without_the_url() {
    let slack = FakeSlack::start().await;
    let message = webhook_message(&slack, AlertType::Alert);
    let permanent_cases = [
        (
            404,
            "no_service",
            "the webhook is disabled or was removed: create a new one",
        ),
        (404, "channel_not_found", "the webhook's channel no longer exists"),
        (410, "channel_is_archived", "the webhook's channel is archived"),
        (
            403,
            "invalid_token",
            "the webhook URL's token is not valid (revoked or mistyped)",
        ),
        (
            403,
            "action_prohibited",
            "a workspace administrator does not allow posting there",
        ),
        (400, "invalid_payload", "slack could not read the message"),
    ];
    for (status, code, meaning) in permanent_cases {
        slack.fail_next([Answer::text(status, code)]);
        let (reason, got) = permanent(send(&message).await);
        assert_eq!(got, Some(status), "{code}");
        assert!(
            reason.ends_with(&format!("): {code}: {meaning} (http {status})")),
            "{code}: {reason}"
        );
        assert!(
            !reason.contains("x9YlTokenPart") && !reason.contains("/services/"),
            "{reason}"
        );
    }

    // 429 waits for Retry-After; Slack's own failures are retryable
    slack.fail_next([Answer::text(429, "rate_limited").header("Retry-After", "7")]);
    let (_, status, retry_after) = retryable(send(&message).await);
    assert_eq!((status, retry_after), (Some(429), Some(Duration::from_secs(7))));
    slack.fail_next([Answer::text(500, "rollup_error")]);
    let (reason, status, _) = retryable(send(&message).await);
    assert_eq!(status, Some(500));
    assert!(
        reason.ends_with("rollup_error: slack failed to post the message (http 500)"),
        "{reason}"
    );
    slack.fail_next([Answer::text(503, "")]);
    assert_eq!(retryable(send(&message).await).1, Some(503));

    // … an unknown code keeps the status's classification and says what came back
    slack.fail_next([Answer::text(400, "something_new")]);
    let (reason, _) = permanent(send(&message).await);
    assert!(reason.contains("something_new"), "{reason}");

    // … and a webhook URL Slack does not know is `no_service`, from Slack itself
    let mut unknown = message.clone();
    unknown.request.url = format!("{}/services/T0/B0/revoked", slack.base_url());
    let (reason, status) = permanent(send(&unknown).await);
    assert_eq!(status, Some(404));
    assert!(
        reason.contains("no_service") && !reason.contains("revoked"),
        "{reason}"
    );

    // … and a mistyped field is `invalid_payload`, from Slack itself
    let mut mistyped = message.clone();
    let mut payload = body(&mistyped);
    payload["unfurl_links"] = json!("no");
    mistyped.request.body = Value::Object(payload).to_string();
    let (reason, status) = permanent(send(&mistyped).await);
    assert_eq!(status, Some(400));
    assert!(
        reason.contains("invalid_payload: slack could not read the message"),
        "{reason}"
    );
}

// ---------------------------------------------------------------------------------------------
// Web API

#[tokio::test]
async fn chat_post_message_answers_the_channel_id_and_ts_that_the_incident_keeps() {
    let slack = FakeSlack::start().await;
    let sent = send(&bot_message(&slack, "#ops")).await.expect("posted");
    let posted = slack.top_level();
    assert_eq!(posted.len(), 1);
    let ts = posted[0].ts.clone();
    assert_eq!(sent.external_id, Some(format!("{OPS_CHANNEL}/{ts}")));
    assert_eq!(
        sent.incident,
        Some(json!({
            "channel": OPS_CHANNEL,
            "ts": ts,
            "openedBy": "5b9e4d7c-8a63-4f4e-9f0e-1c2d3e4f5a6b",
            "resolvedBy": null,
        }))
    );
    let request = &slack.received()[0];
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {BOT_TOKEN}").as_str())
    );
    assert!(
        request.answer.body.contains("\"ok\":true") && !request.answer.body.contains("warning"),
        "no missing_charset warning: {}",
        request.answer.body
    );
}

#[tokio::test]
async fn web_api_errors_are_classified_by_their_error() {
    let slack = FakeSlack::start().await;
    // Answers of the fake itself, to what was asked.
    for (channel, code, meaning) in [
        (
            "#nowhere",
            "channel_not_found",
            "the channel does not exist, or the bot cannot see it",
        ),
        (
            OTHER_CHANNEL,
            "not_in_channel",
            "the bot is not a member of the channel: invite it",
        ),
        (ARCHIVED_CHANNEL, "is_archived", "the channel is archived"),
    ] {
        let (reason, status) = permanent(send(&bot_message(&slack, channel)).await);
        assert_eq!(status, Some(200), "{code}: HTTP 200 with `ok: false`");
        assert!(
            reason.starts_with("slack chat.postMessage (POST http://127.0.0.1:")
                && reason.ends_with(&format!("): {code}: {meaning} (http 200)")),
            "{reason}"
        );
    }
    let mut wrong_token = bot_message(&slack, "#ops");
    wrong_token
        .request
        .headers
        .insert("Authorization".to_owned(), "Bearer xoxb-wrong".to_owned());
    let (reason, _) = permanent(send(&wrong_token).await);
    assert!(
        reason.contains("invalid_auth: the bot token is not valid"),
        "{reason}"
    );
    assert!(!reason.contains("xoxb"), "{reason}");

    let mut too_long = bot_message(&slack, "#ops");
    let mut payload = body(&too_long);
    payload["blocks"][0]["text"]["text"] = json!("x".repeat(151));
    too_long.request.body = Value::Object(payload).to_string();
    let (reason, _) = permanent(send(&too_long).await);
    assert!(
        reason.contains(
            "invalid_blocks: slack refused the message's blocks (must be less than 151 characters [json-pointer:/blocks/0/text/text])"
        ),
        "Slack's reason is in the error: {reason}"
    );

    let mut mistyped = bot_message(&slack, "#ops");
    let mut payload = body(&mistyped);
    payload.insert("thread_ts".to_owned(), json!(1764345600.0001));
    mistyped.request.body = Value::Object(payload).to_string();
    let (reason, _) = permanent(send(&mistyped).await);
    assert!(reason.ends_with("): invalid_arguments (http 200)"), "{reason}");

    // Scripted answers: rate limits and Slack's failures are retryable, Retry-After honoured.
    let message = bot_message(&slack, "#ops");
    slack.fail_next([Answer::api_error(429, "ratelimited").header("Retry-After", "30")]);
    let (reason, status, retry_after) = retryable(send(&message).await);
    assert_eq!((status, retry_after), (Some(429), Some(Duration::from_secs(30))));
    assert!(
        reason.contains("ratelimited: rate limited (http 429)"),
        "{reason}"
    );
    for code in [
        "internal_error",
        "fatal_error",
        "service_unavailable",
        "request_timeout",
    ] {
        slack.fail_next([Answer::api_error(200, code)]);
        let (reason, status, _) = retryable(send(&message).await);
        assert_eq!(status, Some(200));
        assert!(reason.contains(code), "{reason}");
    }
    slack.fail_next([Answer::text(502, "<html>bad gateway</html>")]);
    assert_eq!(retryable(send(&message).await).1, Some(502));
    for code in ["missing_scope", "token_revoked", "msg_too_long", "something_new"] {
        slack.fail_next([Answer::api_error(200, code)]);
        let (reason, _) = permanent(send(&message).await);
        assert!(reason.contains(code), "{reason}");
    }
    // A 200 that is not the Web API's answer: the message may be posted, so it is not sent again.
    slack.fail_next([Answer::text(200, "<html>captive portal</html>")]);
    let (reason, _) = permanent(send(&message).await);
    assert!(
        reason.contains("the answer is not the web api's JSON"),
        "{reason}"
    );
    assert!(slack.top_level().is_empty(), "nothing was posted");
}

#[tokio::test]
async fn a_token_with_white_space_is_refused_before_anything_is_sent() {
    let slack = FakeSlack::start().await;
    let mut bot = bot_integration();
    bot.settings
        .insert("botToken".to_owned(), json!("{{BotToken}} {{BotToken}}"));
    let variables = variables(&slack.webhook_url(), &slack.api_url());
    let messages = build(&alert(AlertType::Alert), &bot, &variables, None).expect("builds");
    let (reason, status) = permanent(send(&messages[0].message).await);
    assert_eq!(
        reason,
        "slack chat.postMessage: `settings.botToken` renders to a token containing white space"
    );
    assert_eq!(status, None);
    assert!(slack.received().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_reply_or_update_of_a_message_slack_does_not_have_is_refused() {
    let slack = FakeSlack::start().await;
    let variables = variables(&slack.webhook_url(), &slack.api_url());
    let state = super::opened("1700000000.000100", "gone");
    let messages = build(
        &alert_of_incident(AlertType::Reminder, "r"),
        &bot_integration(),
        &variables,
        Some(&state),
    )
    .expect("builds");
    let (reason, _) = permanent(send(&messages[0].message).await);
    assert!(
        reason.contains("invalid_thread_ts: the incident's thread no longer exists"),
        "{reason}"
    );
    let (reason, _) = permanent(send(&messages[1].message).await);
    assert!(
        reason.contains("message_not_found: the incident's message no longer exists"),
        "{reason}"
    );
}

// ---------------------------------------------------------------------------------------------
// Through the runner: one message per incident

fn bot_pipeline(
    slack: &FakeSlack,
) -> Pipeline<crate::SlackNotifier, MemoryStore, MemorySecrets, MemoryDeliveryLog> {
    let yaml = format!(
        r##"
integrations:
  - id: ops-slack
    kind: slack
    variables:
      BaseUrl: {base}
      BotToken:
        secret: "ssm:/tocsin/slack/bot-token"
    settings:
      botToken: "{{{{BotToken}}}}"
      channel: "#ops"
      apiUrl: "{{{{BaseUrl}}}}/api"
alertDefinitions:
  - id: dns
    name: DNS
    monitors: ["*"]
    levels:
      - id: 1
        message: Call the DNS team
        integrations:
          - integration: ops-slack
"##,
        base = slack.base_url()
    );
    let definitions = definition_store::from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}"));
    Pipeline::new(
        notifier(),
        MemoryStore::new(definitions),
        MemorySecrets::new().with("ssm:/tocsin/slack/bot-token", BOT_TOKEN),
        MemoryDeliveryLog::default(),
        Settings {
            max_attempts: 2,
            backoff_base: Duration::from_millis(5),
            backoff_cap: Duration::from_millis(20),
            ..Settings::default()
        },
    )
}

fn event(guid: &str, alert_type: &str) -> Value {
    test_support::sns::event(&[(
        &format!("sns-{guid}"),
        &test_support::sns::native(guid, alert_type),
    )])
}

async fn handle(
    pipeline: &Pipeline<crate::SlackNotifier, MemoryStore, MemorySecrets, MemoryDeliveryLog>,
    event: &Value,
) -> notify_core::EventReport {
    pipeline
        .handle_event(event, Instant::now() + Duration::from_secs(30))
        .await
        .unwrap_or_else(|error| panic!("{error}"))
}

#[tokio::test]
async fn a_bot_posts_one_message_per_incident_with_its_reminder_and_ok_in_the_thread() {
    // GIVEN a bot integration and the local Slack
    let slack = FakeSlack::start().await;
    let pipeline = bot_pipeline(&slack);

    // WHEN an incident's Alert, Reminder and Ok arrive, and the Alert again (SNS delivers at least once)
    for (guid, alert_type) in [("a-1", "Alert"), ("r-1", "Reminder"), ("o-1", "Ok")] {
        let report = handle(&pipeline, &event(guid, alert_type)).await;
        assert_eq!(
            (report.delivered, report.failed, report.retryable),
            (1, 0, 0),
            "{guid}"
        );
    }
    let again = handle(&pipeline, &event("a-1", "Alert")).await;
    assert_eq!((again.delivered, again.skipped), (0, 1));

    // THEN Slack has one message for the incident, updated twice, now showing it resolved …
    let top = slack.top_level();
    assert_eq!(top.len(), 1, "{top:#?}");
    let opening = &top[0];
    assert_eq!(opening.channel, OPS_CHANNEL);
    assert_eq!(opening.edits, 2);
    assert_eq!(opening.content["attachments"][0]["color"], "#2EB67D");
    assert_eq!(
        opening.content["blocks"][0]["text"]["text"],
        ":large_green_circle: Resolved: GalacticResorts.com - DNS"
    );
    // … the Reminder and the Ok in its thread, in order
    let replies = slack.replies(&opening.ts);
    let titles: Vec<&Value> = replies
        .iter()
        .map(|reply| &reply.content["blocks"][0]["text"]["text"])
        .collect();
    assert_eq!(
        titles,
        [
            ":large_yellow_circle: Still failing: GalacticResorts.com - DNS",
            ":large_green_circle: Resolved: GalacticResorts.com - DNS",
        ]
    );
    // … and the requests were: post, reply + update, reply + update, each accepted once
    let calls: Vec<(String, bool)> = slack
        .received()
        .iter()
        .map(|request| (request.path.clone(), request.json().get("thread_ts").is_some()))
        .collect();
    let expected = [
        ("/api/chat.postMessage", false),
        ("/api/chat.postMessage", true),
        ("/api/chat.update", false),
        ("/api/chat.postMessage", true),
        ("/api/chat.update", false),
    ];
    assert_eq!(calls, expected.map(|(path, thread)| (path.to_owned(), thread)));

    // WHEN the monitor fails again (the same incident key, a new Alert)
    handle(&pipeline, &event("a-2", "Alert")).await;

    // THEN a new message opens the new incident
    assert_eq!(slack.top_level().len(), 2);
}

#[tokio::test]
async fn a_rate_limited_reply_is_retried_after_retry_after_and_sent_once() {
    // GIVEN an opened incident, and Slack rate-limiting the next request for a second
    let slack = FakeSlack::start().await;
    let pipeline = bot_pipeline(&slack);
    handle(&pipeline, &event("a-1", "Alert")).await;
    slack.fail_next([Answer::api_error(429, "ratelimited").header("Retry-After", "1")]);

    // WHEN the Reminder arrives
    let report = handle(&pipeline, &event("r-1", "Reminder")).await;

    // THEN the runner waited the second Slack asked for and the reply went out once
    assert_eq!(report.delivered, 1);
    let received = slack.received();
    let replies: Vec<&_> = received
        .iter()
        .filter(|request| request.json().get("thread_ts").is_some())
        .collect();
    assert_eq!(replies.len(), 2, "the refused reply and its retry");
    assert_eq!(replies[0].answer.status, 429);
    let waited = replies[1].received_after(replies[0]);
    assert!(waited >= Duration::from_secs(1), "waited {waited:?}");
    assert_eq!(slack.replies(&slack.top_level()[0].ts).len(), 1);
}

#[tokio::test]
async fn no_secret_reaches_an_error_a_log_line_or_the_delivery_log() {
    // GIVEN a webhook URL and a bot token in secret variables, and Slack refusing both
    let slack = FakeSlack::start().await;
    let hook = format!("{}/services/T0/B0/sekritHookPart123", slack.base_url());
    let yaml = format!(
        r##"
integrations:
  - id: hook
    kind: slack
    variables:
      WebhookUrl:
        secret: "ssm:/tocsin/slack/webhook"
    settings:
      webhookUrl: "{{{{WebhookUrl}}}}"
  - id: bot
    kind: slack
    variables:
      BotToken:
        secret: "ssm:/tocsin/slack/bot-token"
    settings:
      botToken: "{{{{BotToken}}}}"
      channel: "#ops"
      apiUrl: "{api}"
alertDefinitions:
  - id: dns
    monitors: ["*"]
    levels:
      - id: 1
        integrations:
          - integration: hook
          - integration: bot
"##,
        api = slack.api_url()
    );
    let definitions = definition_store::from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}"));
    let pipeline = Pipeline::new(
        notifier(),
        MemoryStore::new(definitions),
        MemorySecrets::new()
            .with("ssm:/tocsin/slack/webhook", hook.as_str())
            .with("ssm:/tocsin/slack/bot-token", "xoxb-sekrit-token-4711"),
        MemoryDeliveryLog::default(),
        Settings {
            max_attempts: 1,
            ..Settings::default()
        },
    );

    // WHEN an alert reaches both (the hook is unknown to Slack, the token refused)
    let captured = capture(&pipeline, &event("leak-1", "Alert")).await;

    // THEN both failed permanently with Slack's reasons, and neither secret is anywhere
    let report = captured.result.as_ref().expect("permanent failures only");
    assert_eq!(report.failed, 2);
    let outputs = captured.outputs().join("\n");
    assert!(
        outputs.contains("no_service") && outputs.contains("invalid_auth"),
        "{outputs}"
    );
    captured.assert_no_leak("sekritHookPart123");
    captured.assert_no_leak("xoxb-sekrit-token-4711");
    let received = slack.received();
    assert_eq!(received.len(), 2, "the secrets did reach Slack");
}

#[test]
fn slack_channel_names_and_ids_are_what_the_sample_answers_use() {
    // The fake's channels look like Slack's IDs, as the sample answer checks them.
    for channel in [OPS_CHANNEL, ARCHIVED_CHANNEL, OTHER_CHANNEL] {
        let answer =
            <crate::SlackNotifier as notify_core::Kind>::sample_answer(&notify_core::SampleRequest {
                method: "POST",
                path: "/api/chat.postMessage",
                body: &json!({"channel": channel}).to_string(),
            })
            .expect("answered");
        assert!(answer.body.contains(channel), "{}", answer.body);
    }
}
