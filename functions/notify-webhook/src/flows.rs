//! Multi-step flows written purely as definitions, through the real pipeline against local
//! receivers: lookup then patch (ServiceNow style) with a retry that resumes after the lookup,
//! OAuth 2 then post (token cached, fetched again once on 401), a token step whose secret value is
//! not kept (sent again on resume), optional steps, body kinds, API keys, signing-key rotation and
//! the limits.

use std::{collections::BTreeMap, time::Duration};

use definition_store::{MemoryStore, from_yaml};
use notify_core::{
    Config, DeliveryLog, DeliveryStatus, HttpClient, MemoryDeliveryLog, MemorySecrets, Pipeline, Settings,
};
use serde_json::json;
use test_support::{Receiver, Reply, Script};

use crate::WebhookNotifier;

type Tested = Pipeline<WebhookNotifier, MemoryStore, MemorySecrets, MemoryDeliveryLog>;

const PASSWORD: &str = "sn-pa55word-4711";
const CLIENT_SECRET: &str = "oauth-client-s3cret-0815";

fn client() -> HttpClient {
    let config = Config {
        allow_hosts: "127.0.0.1".parse().expect("allow-list"),
        allow_http: true,
        ..Config::default()
    };
    HttpClient::new(&config).expect("http client")
}

/// A pipeline on `yaml` (an integration `flow` attached to every monitor) making one attempt per
/// message and invocation, so that a failure is left to the next invocation.
fn pipeline(integration_yaml: &str) -> Tested {
    let yaml = format!(
        "integrations:\n{integration_yaml}\nalertDefinitions:\n  - id: ops\n    name: Ops\n    monitors: [\"*\"]\n    levels:\n      - id: 1\n        integrations:\n          - integration: flow\n"
    );
    let definitions = from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}\n{yaml}"));
    let issues = validate(&definitions);
    assert!(issues.is_empty(), "{issues:?}");
    Pipeline::new(
        WebhookNotifier::with_client(client()),
        MemoryStore::new(definitions),
        MemorySecrets::new()
            .with("ssm:/tocsin/sn/password", PASSWORD)
            .with("ssm:/tocsin/oauth/secret", CLIENT_SECRET),
        MemoryDeliveryLog::default(),
        Settings {
            max_attempts: 1,
            ..Settings::default()
        },
    )
}

/// The definitions' own checks and the webhook kind's, as `tocsin validate` runs them.
pub(crate) fn validate(definitions: &definition_store::Definitions) -> Vec<String> {
    struct Rules;
    impl definition_store::KindRules for Rules {
        fn recipients(&self, _kind: alert_model::IntegrationKind) -> definition_store::Recipients {
            definition_store::Recipients::Nobody
        }
        fn check(
            &self,
            integration: &definition_store::Integration,
            check: &mut definition_store::IntegrationCheck<'_>,
        ) {
            use notify_core::Kind as _;
            if let Some(settings) = check.settings::<crate::WebhookSettings>() {
                let _ = integration;
                WebhookNotifier::check(&settings, check);
            }
        }
    }
    definition_store::validate_with(definitions, &Rules)
        .into_iter()
        .map(|issue| issue.to_string())
        .collect()
}

fn event(alert_id: &str) -> serde_json::Value {
    test_support::sns::event(&[("m-1", &test_support::sns::native_alert(alert_id))])
}

const SERVICENOW: &str = r#"
  - id: flow
    kind: webhook
    variables:
      Instance: "{base}"
      User: tocsin
      Password: {secret: "ssm:/tocsin/sn/password"}
    messages:
      - types: [Alert, Reminder, Ok]
        steps:
          - name: lookup
            method: GET
            url: "{{Instance}}/api/now/table/incident?sysparm_query=correlation_id={{@incident.key}}&sysparm_limit=1"
            auth: {type: basic, username: "{{User}}", password: "{{Password}}"}
            extract:
              SysId: {jsonPath: "$.result[0].sys_id"}
              Number: {jsonPath: "$.result[0].number"}
          - name: patch
            method: PATCH
            url: "{{Instance}}/api/now/table/incident/{{SysId}}"
            auth: {type: basic, username: "{{User}}", password: "{{Password}}"}
            body: '{"work_notes": "{{@alert.type}} on {{@monitor.name}} ({{Number}})", "state": "{% if alert.type == "Ok" %}6{% else %}2{% endif %}"}'
"#;

fn servicenow(base: &str) -> String {
    SERVICENOW.replace("{base}", base)
}

fn lookup_answer() -> Reply {
    Reply::json(
        200,
        &json!({"result": [{"sys_id": "9d385017c611228701d22104cc95c371", "number": "INC0010042"}]}),
    )
}

#[tokio::test]
async fn lookup_then_patch_resumes_after_the_lookup() {
    // GIVEN a ServiceNow-like target whose PATCH fails once with 503
    let receiver = Receiver::start(
        Script::new()
            .route("/api/now/table/incident", [lookup_answer()])
            .route(
                "/api/now/table/incident/9d385017c611228701d22104cc95c371",
                [Reply::status(503), Reply::json(200, &json!({"result": {}}))],
            ),
    )
    .await;
    let pipeline = pipeline(&servicenow(&receiver.url("")));

    // WHEN the alert is handled, then handled again (Lambda's retry)
    let first = notify_core::testing::capture(&pipeline, &event("sn-1")).await;
    let second = notify_core::testing::capture(&pipeline, &event("sn-1")).await;

    // THEN the first invocation looked up and left the patch for a retry
    assert!(first.result.is_err(), "{:?}", first.result);
    let report = second.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.delivered, 1, "{report:?}");
    // the lookup was sent once, the patch twice, with the looked-up id, body and credentials
    assert_eq!(receiver.requests_to("/api/now/table/incident").len(), 1);
    let lookup = &receiver.requests_to("/api/now/table/incident")[0];
    assert_eq!(lookup.method, "GET");
    assert!(
        lookup
            .query
            .as_deref()
            .unwrap_or_default()
            .contains("sysparm_limit=1")
    );
    let patches = receiver.requests_to("/api/now/table/incident/9d385017c611228701d22104cc95c371");
    assert_eq!(patches.len(), 2);
    for patch in &patches {
        assert_eq!(patch.method, "PATCH");
        let body: serde_json::Value = serde_json::from_str(&patch.body).expect("json");
        assert!(
            body["work_notes"]
                .as_str()
                .unwrap_or_default()
                .ends_with("(INC0010042)"),
            "{body}"
        );
        assert_eq!(body["state"], "2");
        use base64::Engine as _;
        let basic = base64::engine::general_purpose::STANDARD.encode(format!("tocsin:{PASSWORD}"));
        assert_eq!(
            patch.header("authorization"),
            Some(format!("Basic {basic}").as_str())
        );
    }
    // the delivery log keeps the looked-up values on the lookup's state, and names each step
    let states = pipeline.deliveries().states("sn-1").await.unwrap();
    let lookup_state = states
        .iter()
        .find(|state| state.key.step == "ops/lookup")
        .expect("lookup state");
    assert_eq!(lookup_state.status, DeliveryStatus::Delivered);
    assert_eq!(
        lookup_state.kept.extracted,
        BTreeMap::from([
            ("Number".to_owned(), "INC0010042".to_owned()),
            ("SysId".to_owned(), "9d385017c611228701d22104cc95c371".to_owned())
        ])
    );
    let patch_state = states
        .iter()
        .find(|state| state.key.step == "ops/patch")
        .expect("patch state");
    assert_eq!(
        (patch_state.status, patch_state.attempts),
        (DeliveryStatus::Delivered, 2)
    );
    // a record shows the patch as `tocsin render` does: the password as a placeholder
    let record = first
        .records
        .iter()
        .find(|record| record.key.step == "ops/patch")
        .expect("record");
    assert!(
        record.request.contains("9d385017c611228701d22104cc95c371"),
        "{}",
        record.request
    );
    first.assert_no_leak(PASSWORD);
    second.assert_no_leak(PASSWORD);
}

#[tokio::test]
async fn a_lookup_that_finds_nothing_stops_the_message_naming_the_step() {
    let receiver = Receiver::start(Script::new().route(
        "/api/now/table/incident",
        [Reply::json(200, &json!({"result": []}))],
    ))
    .await;
    let pipeline = pipeline(&servicenow(&receiver.url("")));
    let captured = notify_core::testing::capture(&pipeline, &event("sn-2")).await;
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.failed, 1, "{report:?}");
    let record = captured.records.last().expect("a record");
    assert_eq!(record.key.step, "ops/lookup");
    let error = record.error.as_deref().unwrap_or_default();
    assert_eq!(
        error,
        "integration `flow`, step `lookup`: the response has no value for `Number` (jsonPath `$.result[0].number`)"
    );
    assert_eq!(receiver.requests().len(), 1, "the patch is not sent");
}

const OAUTH: &str = r#"
  - id: flow
    kind: webhook
    variables:
      Base: "{base}"
      ClientId: tocsin-client
      ClientSecret: {secret: "ssm:/tocsin/oauth/secret"}
    messages:
      - types: [Alert, Reminder, Ok]
        steps:
          - name: post
            url: "{{Base}}/api/events"
            body: '{"title": "{{@monitor.name}}", "state": "{{@alert.type}}"}'
            auth:
              type: oauth2
              tokenUrl: "{{Base}}/oauth/token"
              clientId: "{{ClientId}}"
              clientSecret: "{{ClientSecret}}"
              scope: "events:write events:read"
              audience: https://api.example.com
"#;

#[tokio::test]
async fn oauth2_then_post_caches_the_token_and_fetches_it_again_once_on_401() {
    // GIVEN a token endpoint handing out two tokens, and an API that revokes the first one after
    // its first use
    let token = |n: u32| {
        Reply::json(
            200,
            &json!({"access_token": format!("tok-{n}-a1b2c3d4e5"), "token_type": "Bearer", "expires_in": 3600}),
        )
    };
    let receiver = Receiver::start(Script::new().route("/oauth/token", [token(1), token(2)]).route(
        "/api/events",
        [
            Reply::ok(),
            Reply::status(401).body("revoked tok-1-a1b2c3d4e5"),
            Reply::ok(),
        ],
    ))
    .await;
    let pipeline = pipeline(&OAUTH.replace("{base}", &receiver.url("")));

    // WHEN three alerts are handled
    let first = notify_core::testing::capture(&pipeline, &event("oauth-1")).await;
    let second = notify_core::testing::capture(&pipeline, &event("oauth-2")).await;
    let third = notify_core::testing::capture(&pipeline, &event("oauth-3")).await;

    // THEN all are delivered; the token was kept, fetched again once on the 401, then kept
    for captured in [&first, &second, &third] {
        let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
        assert_eq!(report.delivered, 1, "{report:?}");
    }
    let tokens = receiver.requests_to("/oauth/token");
    assert_eq!(tokens.len(), 2);
    use base64::Engine as _;
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("tocsin-client:{CLIENT_SECRET}"));
    for request in &tokens {
        assert_eq!(request.method, "POST");
        assert_eq!(
            request.header("content-type"),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(
            request.header("authorization"),
            Some(format!("Basic {basic}").as_str())
        );
        assert_eq!(
            request.body,
            "grant_type=client_credentials&scope=events%3Awrite+events%3Aread&audience=https%3A%2F%2Fapi.example.com"
        );
    }
    let posts: Vec<String> = receiver
        .requests_to("/api/events")
        .iter()
        .map(|request| request.header("authorization").unwrap_or_default().to_owned())
        .collect();
    assert_eq!(
        posts,
        [
            "Bearer tok-1-a1b2c3d4e5",
            "Bearer tok-1-a1b2c3d4e5",
            "Bearer tok-2-a1b2c3d4e5",
            "Bearer tok-2-a1b2c3d4e5"
        ]
    );
    // the second alert's one attempt holds both requests; its response echoed the token, redacted
    let attempts = |alert: &str| first_records(&third, alert);
    assert_eq!(attempts("oauth-2"), 1);
    // the log shows the request with a placeholder, never a token nor the client secret
    let record = &first.records[0];
    assert!(
        record.request.contains("Bearer [oauth2 token]"),
        "{}",
        record.request
    );
    for captured in [&first, &second, &third] {
        captured.assert_no_leak(CLIENT_SECRET);
        captured.assert_no_leak("tok-1-a1b2c3d4e5");
        captured.assert_no_leak("tok-2-a1b2c3d4e5");
    }
}

/// The attempts recorded for `alert` (the log keeps every alert's).
fn first_records(captured: &notify_core::testing::Captured, alert: &str) -> usize {
    captured
        .records
        .iter()
        .filter(|record| record.key.alert_id == alert)
        .count()
}

#[tokio::test]
async fn a_refused_token_request_fails_without_showing_the_client_secret() {
    let receiver = Receiver::start(Script::new().route(
        "/oauth/token",
        [Reply::status(401).body(format!("invalid_client {CLIENT_SECRET}"))],
    ))
    .await;
    let pipeline = pipeline(&OAUTH.replace("{base}", &receiver.url("")));
    let captured = notify_core::testing::capture(&pipeline, &event("oauth-9")).await;
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.failed, 1, "{report:?}");
    let error = captured.records[0].error.clone().unwrap_or_default();
    assert!(
        error.starts_with("oauth2 token endpoint: POST http://127.0.0.1:"),
        "{error}"
    );
    assert!(error.contains("status 401"), "{error}");
    captured.assert_no_leak(CLIENT_SECRET);
    assert!(receiver.requests_to("/api/events").is_empty());
}

const TOKEN_STEP: &str = r#"
  - id: flow
    kind: webhook
    variables:
      Base: "{base}"
      ClientSecret: {secret: "ssm:/tocsin/oauth/secret"}
    messages:
      - types: [Alert, Reminder, Ok]
        steps:
          - name: token
            url: "{{Base}}/auth"
            bodyType: form
            body: "client_secret={{ClientSecret}}&monitor={{@monitor.name}}"
            extract:
              Token: {jsonPath: "$.token", secret: true}
              Expires: {header: X-Expires, regex: "(\\d+)s"}
          - name: post
            url: "{{Base}}/api?ttl={{Expires}}"
            headers: {Authorization: "Token {{Token}}"}
            body: '{"m": "{{@monitor.name}}"}'
"#;

#[tokio::test]
async fn a_token_step_is_sent_again_on_resume_because_its_secret_is_not_kept() {
    let token = |n: u32| {
        Reply::json(200, &json!({"token": format!("step-token-{n}-zz9")})).header("X-Expires", "in 300s")
    };
    let receiver = Receiver::start(
        Script::new()
            .route("/auth", [token(1), token(2)])
            .route("/api", [Reply::status(502), Reply::ok()]),
    )
    .await;
    let pipeline = pipeline(&TOKEN_STEP.replace("{base}", &receiver.url("")));
    let first = notify_core::testing::capture(&pipeline, &event("tok-1")).await;
    let second = notify_core::testing::capture(&pipeline, &event("tok-1")).await;
    assert!(first.result.is_err());
    let report = second.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.delivered, 1, "{report:?}");
    // the form body is form-encoded; the token step ran again for the retry of `post`
    let auth = receiver.requests_to("/auth");
    assert_eq!(auth.len(), 2);
    assert_eq!(
        auth[0].header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert!(
        auth[0]
            .body
            .starts_with("client_secret=oauth-client-s3cret-0815&monitor="),
        "{}",
        auth[0].body
    );
    let posts = receiver.requests_to("/api");
    let tokens: Vec<&str> = posts
        .iter()
        .map(|request| request.header("authorization").unwrap_or_default())
        .collect();
    assert_eq!(tokens, ["Token step-token-1-zz9", "Token step-token-2-zz9"]);
    assert_eq!(posts[1].query.as_deref(), Some("ttl=300"));
    let states = pipeline.deliveries().states("tok-1").await.unwrap();
    let kept = &states
        .iter()
        .find(|state| state.key.step == "ops/token")
        .expect("token")
        .kept;
    assert_eq!(kept.withheld, ["Token"]);
    assert_eq!(
        kept.extracted,
        BTreeMap::from([("Expires".to_owned(), "300".to_owned())])
    );
    // the second sending of `token` is an attempt of its own
    let token_attempts: Vec<u32> = second
        .records
        .iter()
        .filter(|record| record.key.step == "ops/token")
        .map(|record| record.attempt)
        .collect();
    assert_eq!(token_attempts, [1, 2]);
    for captured in [&first, &second] {
        captured.assert_no_leak("step-token-1-zz9");
        captured.assert_no_leak("step-token-2-zz9");
        captured.assert_no_leak(CLIENT_SECRET);
    }
}

const OPTIONAL: &str = r#"
  - id: flow
    kind: webhook
    variables:
      Base: "{base}"
    messages:
      - types: [Alert, Reminder, Ok]
        steps:
          - name: find
            optional: true
            method: GET
            url: "{{Base}}/find"
            extract:
              Id: {jsonPath: "$.id"}
          - name: notify
            url: "{{Base}}/notify"
            body: '{"m": "{{@monitor.name}}"}'
          - name: update
            method: PUT
            url: "{{Base}}/items/{{Id}}"
            body: '{"m": "{{@monitor.name}}"}'
"#;

#[tokio::test]
async fn an_optional_step_that_fails_lets_the_message_go_on_but_not_the_steps_needing_its_values() {
    let receiver = Receiver::start(
        Script::new()
            .route("/find", [Reply::status(404)])
            .route("/notify", [Reply::ok()]),
    )
    .await;
    let pipeline = pipeline(&OPTIONAL.replace("{base}", &receiver.url("")));
    let captured = notify_core::testing::capture(&pipeline, &event("opt-1")).await;
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.failed, 1, "{report:?}");
    assert_eq!(receiver.requests_to("/notify").len(), 1);
    let states = pipeline.deliveries().states("opt-1").await.unwrap();
    let status = |step: &str| {
        states
            .iter()
            .find(|state| state.key.step == step)
            .map(|state| state.status)
    };
    assert_eq!(status("ops/find"), Some(DeliveryStatus::Failed));
    assert_eq!(status("ops/notify"), Some(DeliveryStatus::Delivered));
    assert_eq!(status("ops/update"), Some(DeliveryStatus::Failed));
    let update = captured
        .records
        .iter()
        .find(|record| record.key.step == "ops/update")
        .expect("update");
    assert_eq!(
        update.error.as_deref(),
        Some(
            "integration `flow`, step `update`: it uses `Id`, which an earlier step did not extract (it failed or is optional)"
        )
    );
    // a retry of the whole event sends nothing again: every step is settled
    let again = notify_core::testing::capture(&pipeline, &event("opt-1")).await;
    assert!(again.result.is_ok());
    assert_eq!(receiver.requests().len(), 2);
}

const XML_AND_API_KEYS: &str = r#"
  - id: flow
    kind: webhook
    variables:
      Base: "{base}"
      Key: {secret: "ssm:/tocsin/sn/password"}
    messages:
      - types: [Alert, Reminder, Ok]
        steps:
          - name: xml
            url: "{{Base}}/xml"
            bodyType: xml
            body: "<event><monitor>{{@monitor.name}}</monitor></event>"
            auth: {type: apiKey, header: X-Api-Key, value: "{{Key}}"}
          - name: query
            url: "{{Base}}/query?a=1"
            bodyType: text
            body: "{{@monitor.name}}"
            auth: {type: apiKey, query: api_key, value: "{{Key}}"}
"#;

#[tokio::test]
async fn xml_bodies_are_xml_escaped_and_api_keys_go_in_a_header_or_the_query() {
    let receiver = Receiver::start(Script::new().any([Reply::ok()])).await;
    let pipeline = pipeline(&XML_AND_API_KEYS.replace("{base}", &receiver.url("")));
    let mut alert: serde_json::Value =
        serde_json::from_str(&test_support::sns::native_alert("xml-1")).expect("json");
    alert["monitor"]["name"] = json!("<Shop & \"API\">");
    let event = test_support::sns::event(&[("m-1", &alert.to_string())]);
    let captured = notify_core::testing::capture(&pipeline, &event).await;
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.delivered, 1, "{report:?}");
    let xml = &receiver.requests_to("/xml")[0];
    assert_eq!(
        xml.body,
        "<event><monitor>&lt;Shop &amp; &quot;API&quot;&gt;</monitor></event>"
    );
    assert_eq!(xml.header("content-type"), Some("application/xml"));
    assert_eq!(xml.header("x-api-key"), Some(PASSWORD));
    let query = &receiver.requests_to("/query")[0];
    assert_eq!(query.query.as_deref(), Some("a=1&api_key=sn-pa55word-4711"));
    assert_eq!(query.body, "<Shop & \"API\">");
    assert_eq!(query.header("content-type"), Some("text/plain; charset=utf-8"));
    captured.assert_no_leak(PASSWORD);
}

#[tokio::test]
async fn a_step_times_out_after_its_own_timeout() {
    let receiver =
        Receiver::start(Script::new().route("/slow", [Reply::ok().delay(Duration::from_secs(3))])).await;
    let yaml = r#"
  - id: flow
    kind: webhook
    variables:
      Base: "{base}"
    messages:
      - types: [Alert, Reminder, Ok]
        steps:
          - url: "{{Base}}/slow"
            timeoutSeconds: 1
            body: "x"
"#
    .replace("{base}", &receiver.url(""));
    let pipeline = pipeline(&yaml);
    let captured = notify_core::testing::capture(&pipeline, &event("slow-1")).await;
    assert!(captured.result.is_err(), "a timeout is retryable");
    let error = captured.records[0].error.clone().unwrap_or_default();
    assert!(error.contains("timed out"), "{error}");
}

#[test]
fn more_steps_than_the_limit_are_refused_by_validation() {
    let steps: String = (0..=definition_store::MAX_STEPS)
        .map(|n| format!("          - {{name: s{n}, url: \"https://x.example.com/{n}\"}}\n"))
        .collect();
    let yaml = format!(
        "integrations:\n  - id: flow\n    kind: webhook\n    messages:\n      - types: [Alert]\n        steps:\n{steps}"
    );
    let definitions = from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}"));
    let issues = validate(&definitions);
    assert!(
        issues.contains(&"integrations[0].messages[0].steps: 11 steps; a message has at most 10".to_owned()),
        "{issues:?}"
    );
}

#[test]
fn extraction_and_auth_problems_are_reported_with_their_paths() {
    let yaml = r#"
integrations:
  - id: flow
    kind: webhook
    variables:
      Plain: not-a-secret
      Taken: x
    messages:
      - types: [Alert]
        steps:
          - url: "https://x.example.com/a"
            timeoutSeconds: 0
            extract:
              Bad: {jsonPath: "$.["}
              Both: {header: A, status: true}
              Regex: {body: true, regex: "("}
              Group: {body: true, regex: "(a)", group: 2}
              Taken: {status: true}
              9lives: {status: true}
          - url: "https://x.example.com/b"
            auth: {type: oauth2, tokenUrl: "https://x.example.com/t", clientId: a, clientSecret: "{{Plain}}"}
          - url: "https://x.example.com/c"
            auth: {type: apiKey, value: k}
            extract:
              Bad: {status: true}
"#;
    let definitions = from_yaml(yaml).unwrap_or_else(|error| panic!("{error}"));
    let issues = validate(&definitions);
    let paths: Vec<&str> = issues
        .iter()
        .map(|issue| issue.split(": ").next().unwrap_or_default())
        .collect();
    for expected in [
        "integrations[0].messages[0].steps[0].extract.9lives",
        "integrations[0].messages[0].steps[0].extract.Both",
        "integrations[0].messages[0].steps[2].extract.Bad",
        "integrations[0].messages[0].steps[0].timeoutSeconds",
        "integrations[0].messages[0].steps[2].auth",
        "integrations[0].messages[0].steps[0].extract.Bad.jsonPath",
        "integrations[0].messages[0].steps[0].extract.Regex.regex",
        "integrations[0].messages[0].steps[0].extract.Group.group",
        "integrations[0].messages[0].steps[1].auth.clientSecret",
        "integrations[0].messages[0].steps[0].extract.Taken",
    ] {
        assert!(paths.contains(&expected), "{expected} missing from {issues:#?}");
    }
}

#[test]
fn the_custom_integrations_example_is_valid() {
    let path = test_support::moto::workspace_root().join("examples/custom-integrations.yaml");
    let definitions = definition_store::load_file(&path).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(validate(&definitions), Vec::<String>::new());
    for integration in &definitions.integrations {
        crate::WebhookTarget::parse(integration).unwrap_or_else(|error| panic!("{error}"));
    }
}

#[tokio::test]
async fn token_requests_pass_the_ssrf_guard() {
    // GIVEN an OAuth 2 token URL on the cloud metadata address
    let receiver = Receiver::start(Script::new().route("/api/events", [Reply::ok()]).route(
        "/lookup",
        [Reply::json(
            200,
            &serde_json::json!({"next": "http://10.0.0.7/admin"}),
        )],
    ))
    .await;
    let oauth = OAUTH
        .replace("{base}", &receiver.url(""))
        .replace("{{Base}}/oauth/token", "http://169.254.169.254/latest/api/token");
    let captured = notify_core::testing::capture(&pipeline(&oauth), &event("ssrf-1")).await;

    // THEN the token is never requested, the step fails permanently naming the refused address,
    // and the API is not called without a token
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.failed, 1, "{report:?}");
    let error = captured.records[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("http://169.254.169.254") && error.contains("the cloud metadata address"),
        "{error}"
    );
    assert!(receiver.requests_to("/api/events").is_empty());
}

#[tokio::test]
async fn extraction_sees_the_response_body_up_to_its_cap() {
    // GIVEN a lookup answering 200 KiB, its marker past the 64 KiB the client reads
    let large = format!("EARLY-1 {}MARKER-4711", "x".repeat(200 * 1024));
    let receiver = Receiver::start(
        Script::new()
            .route("/lookup", [Reply::status(200).body(&large)])
            .route("/next", [Reply::ok()]),
    )
    .await;
    let flow = r#"
  - id: flow
    kind: webhook
    variables:
      Base: "{base}"
    messages:
      - types: [Alert, Reminder, Ok]
        steps:
          - name: lookup
            method: GET
            url: "{{Base}}/lookup"
            extract:
              Marker: {body: true, regex: "(MARKER-\\d+)", default: none}
              Early: {body: true, regex: "(EARLY-\\d+)"}
          - name: next
            url: "{{Base}}/next?m={{Marker}}&e={{Early}}"
            body: '{"n": 1}'
"#
    .replace("{base}", &receiver.url(""));
    let captured = notify_core::testing::capture(&pipeline(&flow), &event("cap-1")).await;
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.failed, 0, "{report:?} {:#?}", captured.records);

    // THEN the marker beyond the cap was not seen, the one inside it was
    assert!(large.find("MARKER").unwrap_or_default() > notify_core::http::MAX_RESPONSE_BYTES);
    let next = &receiver.requests_to("/next")[0];
    assert_eq!(next.query.as_deref(), Some("m=none&e=EARLY-1"));
}
