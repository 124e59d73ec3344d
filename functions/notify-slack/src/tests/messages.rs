//! Messages (pure, snapshot-tested), the incident's thread, and the settings `tocsin validate`
//! checks.

use alert_model::{AlertType, IntegrationKind};
use definition_store::{
    AlertDefinition, Definitions, Integration, IntegrationCheck, KindRules, Recipients, VariableDef,
    validate_with,
};
use notify_core::{Context, Kind, SampleEnv, SampleRequest, Templates};
use serde_json::{Value, json};

use super::{
    alert, alert_of_incident, body, bot_integration, build, fake_slack, integration, opened, secret, shown,
    variables, webhook_integration,
};
use crate::{
    Api, IncidentState, Keep, MAX_BLOCKS, MAX_SECTION_CHARS, MAX_TEXT_CHARS, MAX_TITLE_CHARS, SlackNotifier,
    SlackTarget,
};

const WEBHOOK_URL: &str = "https://hooks.slack.com/services/T0TOCSIN/B0TOCSIN/x9YlTokenPart";
const API_URL: &str = "https://slack.example.com/api";
const OPENED_TS: &str = "1764345600.000100";

fn vars() -> notify_core::Variables {
    variables(WEBHOOK_URL, API_URL)
}

/// The sections' text of a message, joined.
fn sections_text(message: &crate::SlackMessage) -> String {
    let body = body(message);
    body["attachments"][0]["blocks"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|block| block["type"] == "section")
        .filter_map(|block| block["text"]["text"].as_str())
        .collect()
}

fn header_text(message: &crate::SlackMessage) -> String {
    body(message)["blocks"][0]["text"]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn assert_block_kit(message: &crate::SlackMessage) {
    let errors = fake_slack::block_kit_errors(&body(message));
    assert!(errors.is_empty(), "{errors:?}");
}

// ---------------------------------------------------------------------------------------------
// Incoming webhook

#[test]
fn an_incoming_webhook_gets_one_message_per_alert_of_every_type() {
    for alert_type in AlertType::ALL {
        let messages = build(&alert(*alert_type), &webhook_integration(), &vars(), None).expect("builds");
        assert_eq!(messages.len(), 1);
        assert_block_kit(&messages[0].message);
        insta::assert_json_snapshot!(format!("webhook_{}", alert_type.as_lower()), shown(&messages));
    }
}

#[test]
fn colour_and_emoji_follow_the_alert_type() {
    for (alert_type, color, emoji) in [
        (AlertType::Alert, "#E01E5A", ":red_circle:"),
        (AlertType::Reminder, "#ECB22E", ":large_yellow_circle:"),
        (AlertType::Ok, "#2EB67D", ":large_green_circle:"),
    ] {
        let messages = build(&alert(alert_type), &webhook_integration(), &vars(), None).expect("builds");
        let body = body(&messages[0].message);
        assert_eq!(body["attachments"][0]["color"], color, "{alert_type}");
        assert!(
            header_text(&messages[0].message).starts_with(emoji),
            "{alert_type}"
        );
        assert_eq!(body["text"], body["attachments"][0]["fallback"]);
    }
}

#[test]
fn the_body_has_the_level_message_and_links_to_the_dashboard_and_the_failed_check() {
    let messages = build(&alert(AlertType::Alert), &webhook_integration(), &vars(), None).expect("builds");
    let text = sections_text(&messages[0].message);
    assert!(text.contains(":speech_balloon: Call the DNS team"), "{text}");
    assert!(
        text.contains("<https://app.example.com/dashboard?probe=849b&amp;range=24h|Dashboard>"),
        "{text}"
    );
    assert!(
        text.contains("<https://app.example.com/checks/30099055746|Failed check>"),
        "{text}"
    );
    assert!(text.contains("> DNS lookup failed: NXDOMAIN"), "{text}");
}

// ---------------------------------------------------------------------------------------------
// Bot: one message per incident

#[test]
fn a_bot_opens_an_incident_with_a_new_message_that_keeps_its_place() {
    let messages = build(&alert(AlertType::Alert), &bot_integration(), &vars(), None).expect("builds");
    insta::assert_json_snapshot!("bot_alert_opens", shown(&messages));
    let message = &messages[0].message;
    assert_eq!(messages[0].step, "message");
    assert_eq!(message.api, Api::PostMessage);
    assert_eq!(
        message.request.headers.get("Authorization").map(String::as_str),
        Some(format!("Bearer {}", super::TOKEN).as_str())
    );
    assert_eq!(
        message.keep,
        Keep::Opening {
            alert: "5b9e4d7c-8a63-4f4e-9f0e-1c2d3e4f5a6b".to_owned(),
            resolved: false
        }
    );
    assert_block_kit(message);
}

#[test]
fn a_reminder_is_a_reply_in_the_thread_and_updates_the_opening_message() {
    let state = opened(OPENED_TS, "the-alert");
    let reminder = alert_of_incident(AlertType::Reminder, "the-reminder");
    let messages = build(&reminder, &bot_integration(), &vars(), Some(&state)).expect("builds");
    insta::assert_json_snapshot!("bot_reminder_in_thread", shown(&messages));
    let steps: Vec<(&str, Api)> = messages
        .iter()
        .map(|outgoing| (outgoing.step.as_str(), outgoing.message.api))
        .collect();
    assert_eq!(steps, [("message", Api::PostMessage), ("update", Api::Update)]);
    let (reply, update) = (body(&messages[0].message), body(&messages[1].message));
    assert_eq!(reply["thread_ts"], OPENED_TS);
    assert_eq!(
        reply["channel"],
        fake_slack::OPS_CHANNEL,
        "the channel the incident is in"
    );
    assert_eq!(update["ts"], OPENED_TS);
    assert_eq!(update["channel"], fake_slack::OPS_CHANNEL);
    assert!(update.get("thread_ts").is_none() && update.get("unfurl_links").is_none());
    assert_eq!(messages[0].message.keep, Keep::Nothing);
}

#[test]
fn the_ok_is_a_reply_and_the_opening_message_shows_the_incident_resolved_with_its_downtime() {
    let state = opened(OPENED_TS, "the-alert");
    let ok = alert_of_incident(AlertType::Ok, "the-ok");
    let messages = build(&ok, &bot_integration(), &vars(), Some(&state)).expect("builds");
    insta::assert_json_snapshot!("bot_ok_in_thread", shown(&messages));
    assert_eq!(
        messages[0].message.keep,
        Keep::Resolved {
            alert: "the-ok".to_owned()
        }
    );
    let update = &messages[1].message;
    assert!(header_text(update).contains("Resolved: GalacticResorts.com - DNS"));
    assert!(sections_text(update).contains("after *5 minutes* of downtime"));
    assert_eq!(body(update)["attachments"][0]["color"], "#2EB67D");
}

#[test]
fn an_ok_without_an_incident_message_posts_one_that_is_resolved_at_once() {
    let ok = alert_of_incident(AlertType::Ok, "the-ok");
    let messages = build(&ok, &bot_integration(), &vars(), None).expect("builds");
    assert_eq!(messages.len(), 1);
    assert_block_kit(&messages[0].message);
    insta::assert_json_snapshot!("bot_ok_opens_resolved", shown(&messages));
    assert_eq!(
        messages[0].message.keep,
        Keep::Opening {
            alert: "the-ok".to_owned(),
            resolved: true
        }
    );
}

#[test]
fn a_route_built_again_never_changes_the_step_that_tells_people() {
    let bot = bot_integration();
    // The alert that opened the incident, delivered again: the same single message.
    let again = build(
        &alert_of_incident(AlertType::Alert, "the-alert"),
        &bot,
        &vars(),
        Some(&opened(OPENED_TS, "the-alert")),
    )
    .expect("builds");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].message.api, Api::PostMessage);
    assert!(body(&again[0].message).get("thread_ts").is_none());

    // The Ok that resolved it, built again (its update was left for a retry): the same reply.
    let resolved = json!({"channel": fake_slack::OPS_CHANNEL, "ts": OPENED_TS, "openedBy": "the-alert", "resolvedBy": "the-ok"});
    let ok = build(
        &alert_of_incident(AlertType::Ok, "the-ok"),
        &bot,
        &vars(),
        Some(&resolved),
    )
    .expect("builds");
    let steps: Vec<&str> = ok.iter().map(|outgoing| outgoing.step.as_str()).collect();
    assert_eq!(steps, ["message", "update"]);
    assert_eq!(body(&ok[0].message)["thread_ts"], OPENED_TS);

    // Whatever the shape, the message that tells people is step `message`.
    let new = build(&alert(AlertType::Alert), &bot, &vars(), None).expect("builds");
    assert_eq!(new[0].step, ok[0].step);
}

#[test]
fn the_next_incident_on_a_resolved_key_opens_a_new_message() {
    let resolved = json!({"channel": fake_slack::OPS_CHANNEL, "ts": OPENED_TS, "openedBy": "the-alert", "resolvedBy": "the-ok"});
    let messages = build(
        &alert_of_incident(AlertType::Alert, "next-alert"),
        &bot_integration(),
        &vars(),
        Some(&resolved),
    )
    .expect("builds");
    assert_eq!(messages.len(), 1);
    assert!(body(&messages[0].message).get("thread_ts").is_none());
    assert_eq!(body(&messages[0].message)["channel"], "#ops");
}

#[test]
fn a_state_that_is_not_a_thread_opens_a_new_message() {
    for state in [
        json!("C123/1.2"),
        json!({}),
        json!({"channel": "C0OPS00001"}),
        json!({"channel": "", "ts": OPENED_TS}),
        json!({"channel": "C0OPS00001", "ts": 17}),
    ] {
        let messages = build(
            &alert_of_incident(AlertType::Reminder, "r"),
            &bot_integration(),
            &vars(),
            Some(&state),
        )
        .expect("builds");
        assert_eq!(messages.len(), 1, "{state}");
        assert!(body(&messages[0].message).get("thread_ts").is_none(), "{state}");
    }
}

#[test]
fn a_later_alert_of_the_incident_at_another_level_is_threaded_too() {
    let mut escalated = alert_of_incident(AlertType::Alert, "level-2-alert");
    escalated.escalation_level.id = 2;
    let messages = build(
        &escalated,
        &bot_integration(),
        &vars(),
        Some(&opened(OPENED_TS, "the-alert")),
    )
    .expect("builds");
    assert_eq!(messages.len(), 2);
    assert_eq!(body(&messages[0].message)["thread_ts"], OPENED_TS);
}

#[test]
fn what_a_send_keeps_for_the_incident() {
    let opening = Keep::Opening {
        alert: "a".to_owned(),
        resolved: false,
    };
    assert_eq!(
        IncidentState::after(&opening, Some("C1"), Some("1.2")),
        Some(json!({"channel": "C1", "ts": "1.2", "openedBy": "a", "resolvedBy": null}))
    );
    let resolved_at_once = Keep::Opening {
        alert: "ok".to_owned(),
        resolved: true,
    };
    assert_eq!(
        IncidentState::after(&resolved_at_once, Some("C1"), Some("1.2")),
        Some(json!({"channel": "C1", "ts": "1.2", "openedBy": "ok", "resolvedBy": "ok"}))
    );
    assert_eq!(IncidentState::after(&opening, None, Some("1.2")), None);
    assert_eq!(
        IncidentState::after(
            &Keep::Resolved {
                alert: "ok".to_owned()
            },
            None,
            None
        ),
        Some(json!({"resolvedBy": "ok"}))
    );
    assert_eq!(
        IncidentState::after(&Keep::Nothing, Some("C1"), Some("1.2")),
        None
    );
}

// ---------------------------------------------------------------------------------------------
// Escaping and limits

#[test]
fn alert_values_are_text_in_mrkdwn_and_in_the_notification_but_plain_in_the_header() {
    let mut hostile = alert(AlertType::Alert);
    hostile.monitor.name = "<!channel> R&D <https://evil.example|click> \"q\" 'a'".to_owned();
    hostile.alert.description = "<@U123> {{ 7*7 }} &amp; *not bold from the template*".to_owned();
    let messages = build(&hostile, &webhook_integration(), &vars(), None).expect("builds");
    let message = &messages[0].message;
    let text = sections_text(message);
    assert!(
        text.contains("*&lt;!channel&gt; R&amp;D &lt;https://evil.example|click&gt; \"q\" 'a'* is failing"),
        "{text}"
    );
    assert!(
        text.contains("> &lt;@U123&gt; {{ 7*7 }} &amp;amp; *not bold"),
        "{text}"
    );
    assert!(
        !text.contains("<!channel>") && !text.contains("<@U123>"),
        "{text}"
    );
    assert_eq!(
        header_text(message),
        ":red_circle: Alert: <!channel> R&D <https://evil.example|click> \"q\" 'a'"
    );
    assert_eq!(
        body(message)["text"],
        ":red_circle: Alert: &lt;!channel&gt; R&amp;D &lt;https://evil.example|click&gt; \"q\" 'a'"
    );
}

#[test]
fn a_variable_written_safe_keeps_its_mention() {
    let mut bot = integration(
        json!({"webhookUrl": "{{WebhookUrl}}", "text": "{{ Mention | safe }} {{ Mention }}: {{@monitor.name}}"}),
        &[
            ("WebhookUrl", secret("ssm:/tocsin/slack/webhook")),
            ("Mention", VariableDef::Fixed("<!subteam^S0DNS>".to_owned())),
        ],
    );
    bot.id = "mention".to_owned();
    let mut variables = vars();
    variables.insert("Mention", "<!subteam^S0DNS>");
    let messages = build(&alert(AlertType::Alert), &bot, &variables, None).expect("builds");
    assert_eq!(
        sections_text(&messages[0].message),
        "<!subteam^S0DNS> &lt;!subteam^S0DNS&gt;: GalacticResorts.com - DNS"
    );
}

#[test]
fn a_long_title_is_one_line_cut_at_150_characters() {
    let mut long = alert(AlertType::Alert);
    long.monitor.name = format!("{}\nsecond line", "é".repeat(300));
    let with_lines = integration(
        json!({"webhookUrl": "{{WebhookUrl}}", "title": "{{@monitor.name}}\n{{@monitor.name}}"}),
        &[("WebhookUrl", secret("ssm:/tocsin/slack/webhook"))],
    );
    let messages = build(&long, &with_lines, &vars(), None).expect("builds");
    let title = header_text(&messages[0].message);
    assert_eq!(title.chars().count(), MAX_TITLE_CHARS);
    assert!(title.ends_with('…') && !title.contains('\n'), "{title}");
    assert_block_kit(&messages[0].message);
}

#[test]
fn a_long_body_is_cut_into_sections_that_never_split_an_escaped_character() {
    let mut long = alert(AlertType::Alert);
    // One line of `&` (5 characters each once escaped), then lines of every length.
    long.alert.description = format!(
        "{}\n{}",
        "&".repeat(1000),
        (0..400)
            .map(|n| "x".repeat(n % 97))
            .collect::<Vec<_>>()
            .join("\n")
    );
    let raw = integration(
        json!({"webhookUrl": "{{WebhookUrl}}", "text": "{{@alert.description}}"}),
        &[("WebhookUrl", secret("ssm:/tocsin/slack/webhook"))],
    );
    let messages = build(&long, &raw, &vars(), None).expect("builds");
    let message = &messages[0].message;
    assert_block_kit(message);
    let body = body(message);
    let blocks = body["attachments"][0]["blocks"].as_array().expect("blocks");
    let sections: Vec<&str> = blocks
        .iter()
        .filter(|block| block["type"] == "section")
        .filter_map(|block| block["text"]["text"].as_str())
        .collect();
    assert!(sections.len() > 3, "{} sections", sections.len());
    for section in &sections {
        assert!(section.chars().count() <= MAX_SECTION_CHARS);
        // An escaped `&` is whole in its section.
        assert_eq!(
            section.matches('&').count(),
            section.matches("&amp;").count(),
            "{section}"
        );
    }
    let joined: String = sections.concat();
    let escaped = long.alert.description.replace('&', "&amp;");
    assert!(
        escaped.starts_with(&joined),
        "the sections are the text, in order"
    );
    assert!(joined.chars().count() <= MAX_TEXT_CHARS);
    assert!(joined.chars().count() > MAX_TEXT_CHARS - 5, "cut at the limit");
    assert_eq!(
        blocks.last().expect("a note")["type"],
        "context",
        "the cut is said"
    );
    assert!(blocks.len() < MAX_BLOCKS, "the header is a block too");
}

#[test]
fn a_short_body_is_one_section_and_an_empty_one_none() {
    let short = integration(
        json!({"webhookUrl": "{{WebhookUrl}}", "title": "", "text": "{% if false %}x{% endif %}"}),
        &[("WebhookUrl", secret("ssm:/tocsin/slack/webhook"))],
    );
    // An empty title is refused by the settings check: it is left out here.
    let mut short = short;
    short.settings.remove("title");
    let messages = build(&alert(AlertType::Ok), &short, &vars(), None).expect("builds");
    let body = body(&messages[0].message);
    assert!(body.get("attachments").is_none(), "{body:?}");
    assert_block_kit(&messages[0].message);

    let blank_title = integration(
        json!({"webhookUrl": "{{WebhookUrl}}", "title": "{{ '' }}", "text": "short"}),
        &[("WebhookUrl", secret("ssm:/tocsin/slack/webhook"))],
    );
    let messages = build(&alert(AlertType::Reminder), &blank_title, &vars(), None).expect("builds");
    assert_eq!(header_text(&messages[0].message), "Reminder");
    assert_eq!(sections_text(&messages[0].message), "short");
}

#[test]
fn template_errors_name_the_integration_the_field_and_the_line() {
    for (settings, field) in [
        (
            json!({"webhookUrl": "{{WebhookUrl}}", "text": "ok\n{{ nope }}"}),
            "settings.text",
        ),
        (
            json!({"webhookUrl": "{{WebhookUrl}}", "title": "{{ nope }}"}),
            "settings.title",
        ),
        (json!({"webhookUrl": "{{ Nope }}/x"}), "settings.webhookUrl"),
    ] {
        let with_error = integration(settings, &[("WebhookUrl", secret("ssm:/tocsin/slack/webhook"))]);
        let error = build(&alert(AlertType::Alert), &with_error, &vars(), None).expect_err("refused");
        assert!(!error.is_retryable());
        assert!(
            error
                .to_string()
                .starts_with(&format!("integration `ops-slack`, field `{field}`, line ")),
            "{error}"
        );
    }
}

#[test]
fn a_rendered_channel_token_or_url_must_be_usable_and_is_never_quoted() {
    let cases = [
        (
            json!({"botToken": "{{ '' }}{% if false %}{{BotToken}}{% endif %}", "channel": "#ops"}),
            "`settings.botToken` renders to an empty token",
        ),
        (
            json!({"botToken": "{{BotToken}}", "channel": "{{ '' }}"}),
            "`settings.channel` renders to an empty channel",
        ),
        (
            json!({"botToken": "{{BotToken}}", "channel": "{{ 'a b' }}"}),
            "`settings.channel` renders to a channel containing white space",
        ),
        (
            json!({"botToken": "{{BotToken}}", "channel": "#ops", "apiUrl": "{{ '' }}"}),
            "`settings.apiUrl` renders to an empty URL",
        ),
    ];
    for (settings, reason) in cases {
        let bot = integration(settings, &[("BotToken", secret("ssm:/tocsin/slack/bot-token"))]);
        let error = build(&alert(AlertType::Alert), &bot, &vars(), None).expect_err("refused");
        assert_eq!(error.to_string(), format!("integration `ops-slack`: {reason}"));
        assert!(!error.to_string().contains(super::TOKEN));
    }

    // A token's form is checked when it is sent: `tocsin render` builds with its placeholder
    // (`[secret ssm:/…]`, white space in it), and nothing is sent with a broken one.
    let bot = integration(
        json!({"botToken": "{{BotToken}} {{BotToken}}", "channel": "#ops"}),
        &[("BotToken", secret("ssm:/tocsin/slack/bot-token"))],
    );
    let messages = build(&alert(AlertType::Alert), &bot, &vars(), None).expect("builds");
    assert_eq!(
        crate::payload::token_problem(&messages[0].message),
        Some("`settings.botToken` renders to a token containing white space")
    );
    let mut placeholder = notify_core::Variables::default();
    placeholder.insert("BotToken", "[secret ssm:/tocsin/slack/bot-token]");
    let bot = integration(
        json!({"botToken": "{{BotToken}}", "channel": "#ops"}),
        &[("BotToken", secret("ssm:/tocsin/slack/bot-token"))],
    );
    build(&alert(AlertType::Alert), &bot, &placeholder, None).expect("a placeholder token builds");
    let messages = build(&alert(AlertType::Alert), &bot, &vars(), None).expect("builds");
    assert_eq!(crate::payload::token_problem(&messages[0].message), None);
}

// ---------------------------------------------------------------------------------------------
// Settings, as `tocsin validate` checks them

/// The registry's rules for this kind alone (the `kinds` crate depends on this one).
struct SlackRules;

impl KindRules for SlackRules {
    fn recipients(&self, _kind: IntegrationKind) -> Recipients {
        SlackNotifier::RECIPIENTS
    }

    fn check(&self, _integration: &Integration, check: &mut IntegrationCheck<'_>) {
        if let Some(settings) = check.settings::<crate::SlackSettings>() {
            SlackNotifier::check(&settings, check);
        }
    }
}

/// `tocsin validate`'s lines for `integration` attached to a level.
fn validate(integration: Integration) -> Vec<String> {
    let mut level = super::level();
    level.integrations[0].integration = integration.id.clone();
    let definitions = Definitions {
        integrations: vec![integration],
        alert_definitions: vec![AlertDefinition {
            id: "dns".to_owned(),
            name: "DNS".to_owned(),
            active: true,
            monitors: vec!["*".to_owned()],
            levels: vec![level],
        }],
        ..Definitions::default()
    };
    validate_with(&definitions, &SlackRules)
        .iter()
        .map(ToString::to_string)
        .collect()
}

/// Settings, their integration's variables, and the start of the problem `tocsin validate` reports.
type Case<'a> = (Value, &'a [(&'a str, VariableDef)], &'a str);

#[test]
fn settings_are_refused_with_their_path() {
    let token = [("BotToken", secret("ssm:/tocsin/slack/bot-token"))];
    let webhook = [("WebhookUrl", secret("ssm:/tocsin/slack/webhook"))];
    let cases: Vec<Case<'_>> = vec![
        (
            json!({}),
            &[],
            "integrations[0].settings: a slack integration needs `webhookUrl` (an incoming webhook) or `botToken` and `channel` (a bot)",
        ),
        (
            json!({"webhookUrl": "{{WebhookUrl}}", "botToken": "{{BotToken}}", "channel": "C1"}),
            &token,
            "integrations[0].settings.botToken: `webhookUrl` and `botToken` exclude each other: an incoming webhook or a bot, not both",
        ),
        (
            json!({"webhookUrl": "{{WebhookUrl}}", "channel": "#ops"}),
            &webhook,
            "integrations[0].settings.channel: only a bot (`botToken`) takes it: an incoming webhook posts to the channel it was created for",
        ),
        (
            json!({"botToken": "{{BotToken}}"}),
            &token,
            "integrations[0].settings.channel: a bot needs the channel to post to: its ID (C0123456789) or its name",
        ),
        (
            json!({"botToken": "xoxb-1234-written-here", "channel": "#ops"}),
            &[],
            "integrations[0].settings.botToken: the token must come from a secret variable, or it is stored and shown in plain text: write \"{{BotToken}}\" with `variables: {BotToken: {secret: \"ssm:/…\"}}`",
        ),
        (
            json!({"webhookUrl": "hooks.slack.com/services/T/B/X"}),
            &[],
            "integrations[0].settings.webhookUrl: not an absolute http:// or https:// URL",
        ),
        (
            json!({"botToken": "{{BotToken}}", "channel": "#ops", "apiUrl": "ftp://slack.com/api"}),
            &token,
            "integrations[0].settings.apiUrl: not an absolute http:// or https:// URL",
        ),
        (
            json!({"botToken": "{{BotToken}}", "channel": "ops room"}),
            &token,
            "integrations[0].settings.channel: a channel ID or name has no white space",
        ),
        (
            json!({"webhookUrl": "{{WebhookUrl}}", "title": " "}),
            &webhook,
            "integrations[0].settings.title: empty: leave it out or give a value",
        ),
        (
            json!({"webhookUrl": "{{WebhookUrl}}", "text": "{% if %}"}),
            &webhook,
            "integrations[0].settings.text: invalid template: ",
        ),
        (
            json!({"webhookUrl": "{{WebhookUrl}}", "txt": "x"}),
            &webhook,
            "integrations[0].settings.txt: unknown field `txt`, expected one of `webhookUrl`, `botToken`, `channel`, `apiUrl`, `title`, `text`",
        ),
        (
            json!({"webhookUrl": 42}),
            &[],
            "integrations[0].settings.webhookUrl: invalid type: integer `42`, expected a string",
        ),
    ];
    for (settings, variables, expected) in cases {
        let problems = validate(integration(settings.clone(), variables));
        assert!(
            problems.iter().any(|problem| problem.starts_with(expected)),
            "{settings}: expected `{expected}`, got {problems:#?}"
        );
    }
}

#[test]
fn valid_settings_pass_and_read_as_their_mode() {
    for valid in [webhook_integration(), bot_integration()] {
        assert_eq!(validate(valid.clone()), Vec::<String>::new(), "{valid:?}");
    }
    let bot = SlackTarget::parse(&integration(
        json!({"botToken": "{{ BotToken | trim }}", "channel": "C0OPS00001"}),
        &[("BotToken", secret("ssm:/x"))],
    ))
    .expect("a bot");
    assert_eq!(
        bot.mode,
        crate::Mode::Bot {
            token: "{{ BotToken | trim }}".to_owned(),
            channel: "C0OPS00001".to_owned(),
            api_url: "https://slack.com/api".to_owned(),
        }
    );
    let error = SlackTarget::parse(&integration(json!({"channel": "#ops"}), &[])).expect_err("no mode");
    assert!(!error.is_retryable());
    assert_eq!(
        error.to_string(),
        "integration `ops-slack`: `settings`: a slack integration needs `webhookUrl` (an incoming webhook) or `botToken` and `channel` (a bot)"
    );
}

// ---------------------------------------------------------------------------------------------
// What the rest of the system asks of the kind

#[test]
fn both_samples_validate_and_build() {
    for variant in 0..2 {
        let env = SampleEnv {
            base_url: "http://127.0.0.1:8787",
            secret: Some("ssm:/tocsin/demo/token"),
            variant,
            ..SampleEnv::default()
        };
        let sample = SlackNotifier::sample("slack-1", &env);
        assert_eq!(
            validate(sample.clone()),
            Vec::<String>::new(),
            "variant {variant}"
        );
        let mut variables = notify_core::Variables::default();
        variables.insert("BaseUrl", "http://127.0.0.1:8787");
        variables.insert_secret("BotToken", "xoxb-sample");
        let messages = build(&alert(AlertType::Alert), &sample, &variables, None).expect("builds");
        let title = header_text(&messages[0].message);
        assert!(
            title.starts_with("5b9e4d7c-8a63-4f4e-9f0e-1c2d3e4f5a6b via slack-1 - "),
            "the title names the route: {title}"
        );
        let url = &messages[0].message.request.url;
        let expected = if variant == 0 {
            "http://127.0.0.1:8787/hooks/slack-1"
        } else {
            "http://127.0.0.1:8787/hooks/slack-1/chat.postMessage"
        };
        assert_eq!(url, expected);
    }
}

#[test]
fn the_sample_answer_is_the_web_apis_with_a_new_ts_and_the_channels_id() {
    let request = |path: &'static str, body: &'static str| SampleRequest {
        method: "POST",
        path,
        body,
    };
    let posted = SlackNotifier::sample_answer(&request(
        "/api/chat.postMessage",
        r##"{"channel": "#ops", "text": "hi"}"##,
    ))
    .expect("answered");
    assert_eq!(posted.status, 200);
    let first: Value = serde_json::from_str(&posted.body).expect("JSON");
    assert_eq!(first["ok"], true);
    assert_eq!(first["channel"], "C1234567890");
    let ts = first["ts"].as_str().expect("a ts");
    let (seconds, serial) = ts.split_once('.').expect("seconds.serial");
    assert!(seconds.parse::<u64>().is_ok() && serial.len() == 6, "{ts}");
    let again = SlackNotifier::sample_answer(&request(
        "/hooks/slack-1/chat.postMessage",
        r#"{"channel": "C0OPS00001"}"#,
    ))
    .expect("answered");
    let second: Value = serde_json::from_str(&again.body).expect("JSON");
    assert_ne!(second["ts"], first["ts"], "every message has its own ts");
    assert_eq!(second["channel"], "C0OPS00001");

    let updated = SlackNotifier::sample_answer(&request(
        "/api/chat.update",
        r#"{"channel": "C0OPS00001", "ts": "1.000002", "text": "x"}"#,
    ))
    .expect("answered");
    let updated: Value = serde_json::from_str(&updated.body).expect("JSON");
    assert_eq!(
        updated,
        json!({"ok": true, "channel": "C0OPS00001", "ts": "1.000002", "text": "x"})
    );

    for (method, path) in [
        ("POST", "/hooks/ops"),
        ("GET", "/api/chat.postMessage"),
        ("POST", "/api/chat.delete"),
    ] {
        let other = SampleRequest {
            method,
            path,
            body: "{}",
        };
        assert_eq!(SlackNotifier::sample_answer(&other), None, "{method} {path}");
    }
}

#[test]
fn templated_fields_are_found_with_their_context() {
    let mut sample = SlackNotifier::sample("fields", &SampleEnv::default());
    let templates = Templates::plain()
        .with(Context::Url, "q?a={{@monitor.name}}")
        .with(Context::Subject, "{{@monitor.name}}")
        .with(Context::Text, "{{@monitor.name}} & co");
    SlackNotifier::set_templates(&mut sample, &templates);
    let mut variables = notify_core::Variables::default();
    variables.insert("BaseUrl", "https://hooks.example.com");
    let messages = build(&alert(AlertType::Alert), &sample, &variables, None).expect("builds");
    let fields = SlackNotifier::fields(&messages[0].step, &messages[0].message);
    let found: Vec<(&str, Context, &str)> = fields
        .iter()
        .map(|field| (field.field.as_str(), field.context, field.text.as_str()))
        .collect();
    assert_eq!(
        found,
        [
            (
                "settings.webhookUrl",
                Context::Url,
                "q?a=GalacticResorts.com%20-%20DNS"
            ),
            ("settings.title", Context::Subject, "GalacticResorts.com - DNS"),
            (
                "settings.text",
                Context::Mrkdwn(MAX_TEXT_CHARS),
                // The template's own `&` is the author's; values are escaped.
                "GalacticResorts.com - DNS & co"
            ),
        ]
    );
}

#[test]
fn the_summary_says_where_the_message_goes() {
    let notifier = super::notifier();
    let state = opened(OPENED_TS, "a");
    let messages = build(
        &alert_of_incident(AlertType::Ok, "ok"),
        &bot_integration(),
        &vars(),
        Some(&state),
    )
    .expect("builds");
    let summaries: Vec<String> = messages
        .iter()
        .map(|outgoing| {
            use notify_core::Notifier as _;
            SlackNotifier::summary(&notifier.describe(&outgoing.message))
        })
        .collect();
    assert_eq!(
        summaries,
        [
            format!(
                "slack chat.postMessage in thread {OPENED_TS}: \":large_green_circle: Resolved: GalacticResorts.com - DNS\""
            ),
            format!(
                "slack chat.update of message {OPENED_TS}: \":large_green_circle: Resolved: GalacticResorts.com - DNS\""
            ),
        ]
    );
}
