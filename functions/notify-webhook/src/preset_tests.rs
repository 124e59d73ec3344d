//! Every preset renders and sends through the real pipeline to a local receiver that answers as
//! the target does, and its requests are checked against the target's documented shape (paths,
//! methods, headers, fields, types and limits).

use std::collections::BTreeMap;

use definition_store::{MemoryStore, from_yaml};
use notify_core::{Config, HttpClient, MemoryDeliveryLog, MemorySecrets, Pipeline, Settings};
use serde_json::{Value, json};
use test_support::{Receiver, Recorded, Reply, Script};

use crate::{WebhookNotifier, presets};

/// A preset integration `flow` with `variables` (`Name: value`, or `Name: secret:value`), every
/// alert type sent, one attempt per message.
fn pipeline(
    preset: &str,
    variables: &[(&str, &str)],
    settings: &str,
) -> Pipeline<WebhookNotifier, MemoryStore, MemorySecrets, MemoryDeliveryLog> {
    let mut secrets = MemorySecrets::new();
    let mut lines = String::new();
    for (name, value) in variables {
        match value.strip_prefix("secret:") {
            Some(secret) => {
                let reference = format!("ssm:/tocsin/{preset}/{name}");
                lines.push_str(&format!("      {name}: {{secret: \"{reference}\"}}\n"));
                secrets = secrets.with(&reference, secret);
            }
            None => lines.push_str(&format!("      {name}: {}\n", json!(value))),
        }
    }
    let yaml = format!(
        "integrations:\n  - id: flow\n    kind: webhook\n    variables:\n{lines}    settings:\n      preset: {preset}\n{settings}alertDefinitions:\n  - id: ops\n    monitors: [\"*\"]\n    levels:\n      - id: 1\n        integrations:\n          - integration: flow\n"
    );
    let definitions = from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}\n{yaml}"));
    let issues = crate::flows::validate(&definitions);
    assert!(issues.is_empty(), "{issues:#?}");
    let config = Config {
        allow_hosts: "127.0.0.1".parse().expect("allow-list"),
        allow_http: true,
        ..Config::default()
    };
    Pipeline::new(
        WebhookNotifier::with_client(HttpClient::new(&config).expect("client")),
        MemoryStore::new(definitions),
        secrets,
        MemoryDeliveryLog::default(),
        Settings {
            max_attempts: 1,
            ..Settings::default()
        },
    )
}

/// The sample monitor with a name and description that need escaping everywhere.
fn alert(alert_id: &str, alert_type: &str) -> String {
    let mut alert: Value =
        serde_json::from_str(&test_support::sns::native(alert_id, alert_type)).expect("json");
    alert["monitor"]["name"] = json!("Shop <API> & \"checkout\"");
    alert["alert"]["description"] = json!(format!("HTTP 503 <b>\n{}", "x".repeat(5000)));
    alert["incident"]["key"] = json!("inc-4711-0-42");
    alert["monitor"]["dashboardUrl"] = json!("https://app.example.com/dashboard?monitor=849b&x=1");
    alert.to_string()
}

/// Handles an Alert, a Reminder and an Ok of one incident; every one must be delivered (or have
/// nothing to send).
async fn lifecycle(
    pipeline: &Pipeline<WebhookNotifier, MemoryStore, MemorySecrets, MemoryDeliveryLog>,
    secrets: &[&str],
) {
    for (index, alert_type) in ["Alert", "Reminder", "Ok"].into_iter().enumerate() {
        let message = alert(&format!("a-{index}"), alert_type);
        let event = test_support::sns::event(&[(&format!("m-{index}"), &message)]);
        let captured = notify_core::testing::capture(pipeline, &event).await;
        let report = captured
            .result
            .as_ref()
            .unwrap_or_else(|error| panic!("{alert_type}: {error}"));
        assert_eq!(
            report.failed,
            0,
            "{alert_type}: {report:?} {:#?} {}",
            captured.records,
            captured
                .logs
                .lines()
                .filter(|line| line.contains("reason"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        for secret in secrets {
            captured.assert_no_leak(secret);
        }
    }
}

fn body(request: &Recorded) -> Value {
    serde_json::from_str(&request.body).unwrap_or_else(|error| panic!("not JSON ({error}): {}", request.body))
}

fn chars(value: &Value) -> usize {
    value.as_str().map_or(0, |text| text.chars().count())
}

fn form(request: &Recorded) -> BTreeMap<String, String> {
    request
        .body
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(name, value)| {
            let decode = |text: &str| {
                percent_encoding::percent_decode_str(&text.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (decode(name), decode(value))
        })
        .collect()
}

#[test]
fn every_preset_file_parses_and_lists_its_variables() {
    let names = presets::names();
    assert_eq!(names[0], "all-variables");
    assert!(names.len() >= 14, "{names:?}");
    for name in &names[1..] {
        let preset = presets::load(name).unwrap_or_else(|problem| panic!("{problem}"));
        assert!(!preset.docs.is_empty(), "{name} names its documentation");
        assert_eq!(
            definition_store::rules::message_problems(&preset.messages),
            Vec::new(),
            "{name}"
        );
    }
    let discord = presets::summaries()
        .into_iter()
        .find(|summary| summary.name == "discord")
        .expect("discord");
    assert_eq!(discord.required, ["WebhookUrl (secret)"]);
    let statuspage = presets::summaries()
        .into_iter()
        .find(|summary| summary.name == "statuspage")
        .expect("statuspage");
    assert_eq!(statuspage.required, ["ApiKey (secret)", "ComponentId", "PageId"]);
    assert_eq!(
        statuspage.optional,
        [
            "OutageStatus (default major_outage)",
            "StatuspageApi (default https://api.statuspage.io)"
        ]
    );
}

#[test]
fn a_missing_required_variable_names_the_preset() {
    let definitions =
        from_yaml("integrations:\n  - id: flow\n    kind: webhook\n    settings: {preset: discord}\n")
            .expect("yaml");
    let issues = crate::flows::validate(&definitions);
    assert_eq!(
        issues,
        [
            "integrations[0].variables: preset \"discord\" needs variable \"WebhookUrl\" (the channel webhook URL, https://discord.com/api/webhooks/<id>/<token>)"
        ]
    );
}

#[tokio::test]
async fn discord_posts_an_embed_and_can_be_overridden_field_by_field() {
    let receiver = Receiver::start(Script::new().any([Reply::status(204)])).await;
    let url = receiver.url("/api/webhooks/1234/hook-token-xyz");
    let overrides = "      overrides:\n        post:\n          headers: {X-Audit: \"{{@incident.key}}\"}\n";
    let pipeline = pipeline("discord", &[("WebhookUrl", &format!("secret:{url}"))], overrides);
    lifecycle(&pipeline, &["hook-token-xyz"]).await;
    let requests = receiver.requests_to("/api/webhooks/1234/hook-token-xyz");
    assert_eq!(requests.len(), 3);
    for (request, color) in requests.iter().zip([15_158_332, 15_105_570, 3_066_993]) {
        assert_eq!(request.method, "POST");
        assert_eq!(request.header("content-type"), Some("application/json"));
        assert_eq!(request.header("x-audit"), Some("inc-4711-0-42"));
        let body = body(request);
        assert!(chars(&body["content"]) <= 2000);
        let embed = &body["embeds"][0];
        assert!(
            chars(&embed["title"]) <= 256 && chars(&embed["description"]) <= 4096,
            "{embed}"
        );
        assert!(
            embed["title"]
                .as_str()
                .unwrap_or_default()
                .contains("Shop <API> & \"checkout\"")
        );
        assert_eq!(embed["color"], json!(color));
        assert!(
            chrono::DateTime::parse_from_rfc3339(embed["timestamp"].as_str().unwrap_or_default()).is_ok()
        );
        for field in embed["fields"].as_array().expect("fields") {
            assert!(
                chars(&field["name"]) <= 256 && chars(&field["value"]) <= 1024 && chars(&field["value"]) > 0
            );
        }
        assert_eq!(body["allowed_mentions"], json!({"parse": []}));
    }
}

#[tokio::test]
async fn google_chat_threads_the_incident() {
    let receiver =
        Receiver::start(Script::new().any([Reply::json(200, &json!({"name": "spaces/AAA/messages/1"}))]))
            .await;
    let url = receiver.url("/v1/spaces/AAA/messages?key=chat-key&token=chat-t0ken-secret");
    let pipeline = pipeline("google-chat", &[("WebhookUrl", &format!("secret:{url}"))], "");
    lifecycle(&pipeline, &["chat-t0ken-secret"]).await;
    let requests = receiver.requests_to("/v1/spaces/AAA/messages");
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(
            request.query.as_deref(),
            Some(
                "key=chat-key&token=chat-t0ken-secret&messageReplyOption=REPLY_MESSAGE_FALLBACK_TO_NEW_THREAD"
            )
        );
        assert_eq!(
            request.header("content-type"),
            Some("application/json; charset=UTF-8")
        );
        let body = body(request);
        assert_eq!(body["thread"]["threadKey"], "inc-4711-0-42");
        assert!(body["text"].as_str().unwrap_or_default().contains("Shop <API>"));
        assert!(chars(&body["text"]) <= 4096);
    }
}

#[tokio::test]
async fn telegram_sends_escaped_html_through_the_bot_api() {
    let receiver = Receiver::start(Script::new().any([Reply::json(
        200,
        &json!({"ok": true, "result": {"message_id": 1}}),
    )]))
    .await;
    let pipeline = pipeline(
        "telegram",
        &[
            ("BotToken", "secret:123456789:AAbot-t0ken-secret"),
            ("ChatId", "-1001234567890"),
            ("TelegramApi", &receiver.url("")),
        ],
        "",
    );
    lifecycle(&pipeline, &["AAbot-t0ken-secret"]).await;
    let requests = receiver.requests_to("/bot123456789:AAbot-t0ken-secret/sendMessage");
    assert_eq!(requests.len(), 3);
    for request in &requests {
        let body = body(request);
        assert_eq!(body["chat_id"], "-1001234567890");
        assert_eq!(body["parse_mode"], "HTML");
        let text = body["text"].as_str().unwrap_or_default();
        assert!(text.chars().count() <= 4096, "{}", text.chars().count());
        assert!(
            text.contains("Shop &lt;API&gt; &amp; &quot;checkout&quot;"),
            "{text}"
        );
        assert!(text.contains("HTTP 503 &lt;b&gt;"), "{text}");
    }
}

#[tokio::test]
async fn mattermost_and_rocket_chat_post_attachments() {
    for (preset, path, answer, colors) in [
        (
            "mattermost",
            "/hooks/mm-key-secret",
            Reply::ok(),
            ["#d00000", "#f2a900", "#2eb886"],
        ),
        (
            "rocket-chat",
            "/hooks/rc-id/rc-token-secret",
            Reply::json(200, &json!({"success": true})),
            ["#d00000", "#f2a900", "#2eb886"],
        ),
    ] {
        let receiver = Receiver::start(Script::new().any([answer])).await;
        let url = receiver.url(path);
        let pipeline = pipeline(preset, &[("WebhookUrl", &format!("secret:{url}"))], "");
        lifecycle(&pipeline, &[path]).await;
        let requests = receiver.requests_to(path);
        assert_eq!(requests.len(), 3, "{preset}");
        for (request, color) in requests.iter().zip(colors) {
            let body = body(request);
            assert!(
                body["text"].as_str().unwrap_or_default().contains("Shop <API>"),
                "{preset}"
            );
            let attachment = &body["attachments"][0];
            assert_eq!(attachment["color"], color, "{preset}");
            assert!(
                attachment["title_link"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("https://"),
                "{preset}"
            );
        }
    }
}

#[tokio::test]
async fn webex_posts_markdown_as_the_bot() {
    let receiver = Receiver::start(Script::new().any([Reply::json(200, &json!({"id": "msg-1"}))])).await;
    let pipeline = pipeline(
        "webex",
        &[
            ("BotToken", "secret:webex-bot-t0ken"),
            ("RoomId", "Y2lzY29zcGFyazovL3Jvb20"),
            ("WebexApi", &receiver.url("")),
        ],
        "",
    );
    lifecycle(&pipeline, &["webex-bot-t0ken"]).await;
    let requests = receiver.requests_to("/v1/messages");
    assert_eq!(requests.len(), 3);
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer webex-bot-t0ken"));
        let body = body(request);
        assert_eq!(body["roomId"], "Y2lzY29zcGFyazovL3Jvb20");
        assert!(body["markdown"].as_str().unwrap_or_default().len() <= 7439);
        assert!(body["text"].as_str().is_some());
    }
}

#[tokio::test]
async fn ntfy_publishes_json_with_priority_and_tags() {
    let receiver =
        Receiver::start(Script::new().any([Reply::json(200, &json!({"id": "x", "event": "message"}))])).await;
    let pipeline = pipeline(
        "ntfy",
        &[("NtfyUrl", &receiver.url("")), ("Topic", "ops-alerts")],
        "",
    );
    lifecycle(&pipeline, &[]).await;
    let requests = receiver.requests_to("/");
    assert_eq!(requests.len(), 3);
    let priorities: Vec<Value> = requests
        .iter()
        .map(|request| body(request)["priority"].clone())
        .collect();
    assert_eq!(priorities, [json!(5), json!(4), json!(3)]);
    for request in &requests {
        let body = body(request);
        assert_eq!(body["topic"], "ops-alerts");
        assert!(
            body["tags"]
                .as_array()
                .is_some_and(|tags| tags.iter().all(Value::is_string))
        );
        assert!(body["click"].as_str().unwrap_or_default().starts_with("https://"));
        assert!(body["message"].as_str().is_some() && body["title"].as_str().is_some());
    }
}

#[tokio::test]
async fn pushover_sends_a_form_with_priority() {
    let receiver =
        Receiver::start(Script::new().any([Reply::json(200, &json!({"status": 1, "request": "r-1"}))])).await;
    let pipeline = pipeline(
        "pushover",
        &[
            ("AppToken", "secret:app-t0ken-4711"),
            ("UserKey", "secret:user-k3y-0815"),
            ("PushoverApi", &receiver.url("")),
        ],
        "",
    );
    lifecycle(&pipeline, &["app-t0ken-4711", "user-k3y-0815"]).await;
    let requests = receiver.requests_to("/1/messages.json");
    assert_eq!(requests.len(), 3);
    for (request, priority) in requests.iter().zip(["1", "0", "0"]) {
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        let fields = form(request);
        assert_eq!(fields["token"], "app-t0ken-4711");
        assert_eq!(fields["user"], "user-k3y-0815");
        assert_eq!(fields["priority"], priority);
        assert!(fields["message"].chars().count() <= 1024 && fields["title"].chars().count() <= 250);
        assert!(
            fields["title"].contains("Shop <API> & \"checkout\""),
            "{fields:?}"
        );
    }
}

#[tokio::test]
async fn zapier_and_alertops_receive_string_fields() {
    for (preset, variable, path) in [
        ("zapier", "ZapierUrl", "/hooks/catch/123/abc-secret/"),
        (
            "alertops",
            "AlertOpsUrl",
            "/POSTAlert/ops-api-key-secret/Uptrends",
        ),
    ] {
        let receiver =
            Receiver::start(Script::new().any([Reply::json(200, &json!({"status": "success"}))])).await;
        let url = receiver.url(path);
        let pipeline = pipeline(preset, &[(variable, &format!("secret:{url}"))], "");
        lifecycle(&pipeline, &[path]).await;
        let requests = receiver.requests_to(path);
        assert_eq!(requests.len(), 3, "{preset}");
        for request in &requests {
            let body = body(request);
            let strings = |value: &Value| -> bool {
                fn all(value: &Value) -> bool {
                    match value {
                        Value::Object(map) => map.values().all(all),
                        Value::String(_) => true,
                        _ => false,
                    }
                }
                all(value)
            };
            assert!(strings(&body), "{preset}: {body}");
        }
        let types: Vec<Value> = requests
            .iter()
            .map(|request| {
                let body = body(request);
                if preset == "zapier" {
                    body["alertType"].clone()
                } else {
                    body["alert"]["type"].clone()
                }
            })
            .collect();
        assert_eq!(
            types,
            [json!("Alert"), json!("Reminder"), json!("Ok")],
            "{preset}"
        );
    }
}

#[tokio::test]
async fn incident_io_fires_and_resolves_by_deduplication_key() {
    let receiver = Receiver::start(Script::new().any([Reply::json(
        202,
        &json!({"status": "success", "message": "Event accepted for processing", "deduplication_key": "inc-4711-0-42"}),
    )]))
    .await;
    let pipeline = pipeline(
        "incident-io",
        &[
            ("AlertSourceConfigId", "01GW2G3V0S59R238FAHPDS1R66"),
            ("Token", "secret:inc-io-t0ken"),
            ("IncidentIoApi", &receiver.url("")),
        ],
        "",
    );
    lifecycle(&pipeline, &["inc-io-t0ken"]).await;
    let requests = receiver.requests_to("/v2/alert_events/http/01GW2G3V0S59R238FAHPDS1R66");
    let statuses: Vec<Value> = requests
        .iter()
        .map(|request| body(request)["status"].clone())
        .collect();
    assert_eq!(statuses, [json!("firing"), json!("firing"), json!("resolved")]);
    for request in &requests {
        assert_eq!(request.header("authorization"), Some("Bearer inc-io-t0ken"));
        let body = body(request);
        assert_eq!(body["deduplication_key"], "inc-4711-0-42");
        assert!(body["title"].as_str().is_some_and(|title| !title.is_empty()));
        assert!(body["metadata"].is_object());
    }
}

#[tokio::test]
async fn statuspage_sets_the_component_and_opens_then_resolves_the_incident() {
    let receiver = Receiver::start(
        Script::new()
            .route(
                "/v1/pages/pg1/components/cmp1",
                [Reply::json(200, &json!({"id": "cmp1"}))],
            )
            .route(
                "/v1/pages/pg1/incidents",
                [
                    Reply::json(201, &json!({"id": "inc9", "name": "x"})),
                    Reply::json(200, &json!([{"id": "inc9", "status": "investigating"}])),
                ],
            )
            .route(
                "/v1/pages/pg1/incidents/inc9",
                [Reply::json(200, &json!({"id": "inc9"}))],
            ),
    )
    .await;
    let pipeline = pipeline(
        "statuspage",
        &[
            ("ApiKey", "secret:sp-api-k3y"),
            ("PageId", "pg1"),
            ("ComponentId", "cmp1"),
            ("StatuspageApi", &receiver.url("")),
        ],
        "",
    );
    lifecycle(&pipeline, &["sp-api-k3y"]).await;
    for request in receiver.requests() {
        assert_eq!(
            request.header("authorization"),
            Some("OAuth sp-api-k3y"),
            "{}",
            request.path
        );
    }
    let component: Vec<Value> = receiver
        .requests_to("/v1/pages/pg1/components/cmp1")
        .iter()
        .map(|request| {
            assert_eq!(request.method, "PATCH");
            body(request)["component"]["status"].clone()
        })
        .collect();
    assert_eq!(component, [json!("major_outage"), json!("operational")]);
    let incidents = receiver.requests_to("/v1/pages/pg1/incidents");
    assert_eq!(incidents[0].method, "POST");
    let created = body(&incidents[0]);
    assert_eq!(created["incident"]["status"], "investigating");
    assert_eq!(created["incident"]["component_ids"], json!(["cmp1"]));
    assert_eq!(created["incident"]["components"]["cmp1"], "major_outage");
    assert!(
        created["incident"]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("inc-4711-0-42")
    );
    assert_eq!(incidents[1].method, "GET");
    assert_eq!(incidents[1].query.as_deref(), Some("q=inc-4711-0-42&limit=1"));
    let resolved = receiver.requests_to("/v1/pages/pg1/incidents/inc9");
    assert_eq!(resolved.len(), 1);
    assert_eq!(resolved[0].method, "PATCH");
    assert_eq!(body(&resolved[0])["incident"]["status"], "resolved");
}

#[tokio::test]
async fn jira_creates_comments_and_transitions_the_issue() {
    let search = Reply::json(
        200,
        &json!({"issues": [{"id": "10001", "key": "OPS-7"}], "isLast": true}),
    );
    let receiver = Receiver::start(
        Script::new()
            .route(
                "/rest/api/3/issue",
                [Reply::json(
                    201,
                    &json!({"id": "10001", "key": "OPS-7", "self": "x"}),
                )],
            )
            .route("/rest/api/3/search/jql", [search])
            .route(
                "/rest/api/3/issue/OPS-7/comment",
                [Reply::json(201, &json!({"id": "c1"}))],
            )
            .route("/rest/api/3/issue/OPS-7/transitions", [Reply::status(204)]),
    )
    .await;
    let pipeline = pipeline(
        "jira",
        &[
            ("JiraUrl", &receiver.url("")),
            ("Email", "ops@example.com"),
            ("ApiToken", "secret:jira-api-t0ken"),
            ("ProjectKey", "OPS"),
            ("DoneTransitionId", "31"),
        ],
        "",
    );
    lifecycle(&pipeline, &["jira-api-t0ken"]).await;
    use base64::Engine as _;
    let basic = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("ops@example.com:jira-api-t0ken")
    );
    for request in receiver.requests() {
        assert_eq!(
            request.header("authorization"),
            Some(basic.as_str()),
            "{}",
            request.path
        );
    }
    let created = body(&receiver.requests_to("/rest/api/3/issue")[0]);
    let fields = &created["fields"];
    assert_eq!(fields["project"]["key"], "OPS");
    assert_eq!(fields["issuetype"]["name"], "Bug");
    assert!(chars(&fields["summary"]) <= 255);
    assert_eq!(fields["labels"], json!(["tocsin-inc-4711-0-42"]));
    assert_eq!(
        (
            fields["description"]["type"].clone(),
            fields["description"]["version"].clone()
        ),
        (json!("doc"), json!(1))
    );
    let searches = receiver.requests_to("/rest/api/3/search/jql");
    assert_eq!(searches.len(), 2, "Reminder and Ok");
    let query = searches[0].query.clone().unwrap_or_default();
    let jql = form_value(&query, "jql");
    assert_eq!(
        jql,
        "labels = \"tocsin-inc-4711-0-42\" AND statusCategory != Done"
    );
    let comments = receiver.requests_to("/rest/api/3/issue/OPS-7/comment");
    assert_eq!(comments.len(), 2);
    assert_eq!(body(&comments[1])["body"]["type"], "doc");
    let transitions = receiver.requests_to("/rest/api/3/issue/OPS-7/transitions");
    assert_eq!(transitions.len(), 1);
    assert_eq!(body(&transitions[0]), json!({"transition": {"id": "31"}}));
}

/// The decoded value of `name` in a query string.
fn form_value(query: &str, name: &str) -> String {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| {
            percent_encoding::percent_decode_str(value)
                .decode_utf8_lossy()
                .into_owned()
        })
        .unwrap_or_default()
}
