use std::{collections::BTreeMap, time::Duration};

use alert_model::{Alert, AlertType, IntegrationKind, template::Engine};
use definition_store::{
    Attachment, Definitions, EscalationLevel, Integration, IntegrationCheck, KindRules, Recipients,
    ValidationIssue,
};
use notify_core::{
    Config, HttpAnswer, HttpClient, Kind, Notifier, NotifyError, Outgoing, RouteContext, SampleEnv, Variables,
};
use serde_json::{Value, json};

use crate::{
    ADAPTIVE_CARD, MAX_BODY_BYTES, TeamsMessage, TeamsNotifier, TeamsSettings, TeamsTarget, classify,
    payload::envelope_problem,
};

mod workflows;

use workflows::{Answer, Workflows, validate_message};

// ---------------------------------------------------------------------------------------------
// Fixtures

/// The Workflows URL's signature: a credential.
const SIG: &str = "s1g-Qz8xLr0aT7w4";

/// The sample alert with the links a monitoring system gives.
fn alert(alert_type: AlertType) -> Alert {
    let mut alert = test_support::fixtures::sample_alert(alert_type);
    alert.monitor.dashboard_url = "https://app.example.com/dashboard/849b2046".to_owned();
    alert.alert.first_error_check_url = "https://app.example.com/checks/30099055746".to_owned();
    alert.monitor.edit_url = "https://app.example.com/monitors/849b2046/edit".to_owned();
    alert
}

fn integration(settings: Value) -> Integration {
    let Value::Object(settings) = settings else {
        panic!("settings must be an object")
    };
    Integration {
        id: "ops-teams".to_owned(),
        name: "Ops channel".to_owned(),
        kind: IntegrationKind::Teams,
        active: true,
        variables: BTreeMap::new(),
        messages: Vec::new(),
        settings,
        fallback: None,
    }
}

/// The integration as users write it: the whole URL in a secret variable, the built-in card.
fn default_integration() -> Integration {
    integration(json!({"url": "{{WorkflowUrl}}"}))
}

fn variables(url: &str) -> Variables {
    let mut variables = Variables::default();
    variables.insert_secret("WorkflowUrl", url);
    variables
}

fn workflow_url() -> String {
    format!(
        "https://prod-01.westeurope.logic.azure.com:443/workflows/4f1c/triggers/manual/paths/invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={SIG}"
    )
}

fn attachment() -> Attachment {
    Attachment {
        integration: "ops-teams".to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::new(),
        extra_emails: Vec::new(),
        extra_phones: Vec::new(),
        service_links: Vec::new(),
    }
}

fn level() -> EscalationLevel {
    EscalationLevel {
        id: 1,
        active: true,
        message: "Call the DNS team".to_owned(),
        operators: Vec::new(),
        integrations: vec![attachment()],
    }
}

/// The real client, allowed to reach local receivers over plain http.
fn client() -> HttpClient {
    let config = Config {
        allow_hosts: "127.0.0.1".parse().expect("allow-list"),
        allow_http: true,
        ..Config::default()
    };
    HttpClient::new(&config).expect("http client")
}

fn notifier() -> TeamsNotifier {
    TeamsNotifier::with_client(client())
}

fn build_with(
    alert: &Alert,
    integration: &Integration,
    variables: &Variables,
) -> Result<Vec<Outgoing<TeamsMessage>>, NotifyError> {
    let notifier = notifier();
    let target = notifier.target(integration)?;
    let attachment = attachment();
    let level = level();
    let engine = Engine::new();
    let route = RouteContext {
        alert,
        integration,
        attachment: &attachment,
        level: &level,
        recipients: Vec::new(),
        variables,
        now: "2026-11-28T16:00:05Z".parse().expect("fixed time"),
        engine: &engine,
        incident: None,
    };
    notifier.build(&route, &target)
}

/// The one message of the default integration for `alert`.
fn build(alert: &Alert) -> TeamsMessage {
    only(build_with(
        alert,
        &default_integration(),
        &variables(&workflow_url()),
    ))
}

fn only(built: Result<Vec<Outgoing<TeamsMessage>>, NotifyError>) -> TeamsMessage {
    let built = built.unwrap_or_else(|error| panic!("build failed: {error}"));
    assert_eq!(built.len(), 1, "one message per route");
    assert_eq!(built[0].step, "card");
    built
        .into_iter()
        .next()
        .map(|outgoing| outgoing.message)
        .expect("one message")
}

fn body(message: &TeamsMessage) -> Value {
    serde_json::from_str(&message.request.body)
        .unwrap_or_else(|error| panic!("the body is not JSON ({error}): {}", message.request.body))
}

fn card(message: &TeamsMessage) -> Value {
    body(message)["attachments"][0]["content"].clone()
}

/// `(title, value)` of the card's facts.
fn facts(message: &TeamsMessage) -> Vec<(String, String)> {
    card(message)["body"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|element| element["type"] == "FactSet")
        .flat_map(|set| set["facts"].as_array().cloned().unwrap_or_default())
        .map(|fact| {
            (
                fact["title"].as_str().unwrap_or_default().to_owned(),
                fact["value"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The card's title run: `(text, color)`.
fn title(message: &TeamsMessage) -> (String, String) {
    let run = &card(message)["body"][0]["inlines"][0];
    (
        run["text"].as_str().unwrap_or_default().to_owned(),
        run["color"].as_str().unwrap_or_default().to_owned(),
    )
}

/// `(title, url)` of the card's actions.
fn actions(message: &TeamsMessage) -> Vec<(String, String)> {
    card(message)["actions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|action| {
            assert_eq!(action["type"], "Action.OpenUrl");
            (
                action["title"].as_str().unwrap_or_default().to_owned(),
                action["url"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// The message as the snapshots show it: the request, its body parsed.
fn shown(message: &TeamsMessage) -> Value {
    json!({
        "method": message.request.method,
        "url": message.request.url,
        "headers": message.request.headers,
        "body": body(message),
    })
}

fn permanent(result: Result<impl std::fmt::Debug, NotifyError>) -> String {
    match result {
        Err(error @ NotifyError::Permanent { .. }) => error.to_string(),
        other => panic!("expected a permanent error, got {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// The built-in card (pure)

#[test]
fn the_default_card_of_every_alert_type() {
    for alert_type in AlertType::ALL {
        let message = build(&alert(*alert_type));
        insta::assert_json_snapshot!(format!("default_{}", alert_type.as_lower()), shown(&message));
    }
}

#[test]
fn the_default_card_of_an_alert_with_nothing_but_its_type() {
    let message = build(&Alert::default());
    insta::assert_json_snapshot!("default_empty_alert", shown(&message));
    assert_eq!(title(&message).0, "Alert: (unnamed monitor)");
    assert_eq!(
        facts(&message),
        [
            ("Monitor".to_owned(), "(unnamed monitor)".to_owned()),
            ("Alert type".to_owned(), "Alert".to_owned()),
            ("Escalation level".to_owned(), "1".to_owned()),
        ],
        "empty values are left out"
    );
    assert!(actions(&message).is_empty(), "no link, no button");
}

#[test]
fn every_default_card_is_what_workflows_takes() {
    for alert_type in AlertType::ALL {
        for alert in [alert(*alert_type), Alert::default()] {
            let message = build(&alert);
            validate_message(&body(&message)).unwrap_or_else(|reason| panic!("{alert_type}: {reason}"));
            assert!(envelope_problem(&body(&message)).is_none());
            assert_eq!(message.shortened, 0, "a typical alert is not shortened");
            assert_eq!(message.request.method, "POST");
            assert_eq!(
                message.request.url,
                workflow_url(),
                "the URL of the secret, as it is"
            );
            assert_eq!(
                message.request.headers.get("Content-Type").map(String::as_str),
                Some("application/json")
            );
        }
    }
}

#[test]
fn the_title_is_coloured_by_the_alert_type() {
    let cases = [
        (AlertType::Alert, "Alert: GalacticResorts.com - DNS", "Attention"),
        (
            AlertType::Reminder,
            "Still failing: GalacticResorts.com - DNS",
            "Warning",
        ),
        (AlertType::Ok, "Resolved: GalacticResorts.com - DNS", "Good"),
    ];
    for (alert_type, text, color) in cases {
        assert_eq!(
            title(&build(&alert(alert_type))),
            (text.to_owned(), color.to_owned()),
            "{alert_type}"
        );
    }
}

#[test]
fn the_facts_name_monitor_type_error_first_error_checkpoint_and_level() {
    let fact = |title: &str, value: &str| (title.to_owned(), value.to_owned());
    // The runner fills the level in from the route.
    let mut failing = alert(AlertType::Alert);
    failing.escalation_level.id = 2;
    assert_eq!(
        facts(&build(&failing)),
        [
            fact("Monitor", "GalacticResorts.com - DNS"),
            fact("Alert type", "Alert"),
            fact("Monitor type", "DNS"),
            fact("Error", "DNS lookup failed: NXDOMAIN"),
            fact("First error (UTC)", "2026-11-28T15:55:00Z"),
            fact("Checkpoint", "Ghent, Belgium"),
            fact("Escalation level", "2"),
            fact("Alert definition", "Ops DNS"),
            fact("Team", "ops"),
        ]
    );

    // A resolved alert tells how long it was down, not the error.
    let mut resolved = alert(AlertType::Ok);
    resolved.escalation_level.id = 2;
    let got = facts(&build(&resolved));
    assert!(got.contains(&fact("Downtime", "5 minutes")), "{got:?}");
    assert!(got.iter().all(|(title, _)| title != "Error"), "{got:?}");
}

#[test]
fn the_buttons_open_the_dashboard_the_check_and_the_monitor_and_only_web_links() {
    let message = build(&alert(AlertType::Alert));
    assert_eq!(
        actions(&message),
        [
            (
                "Open dashboard".to_owned(),
                "https://app.example.com/dashboard/849b2046".to_owned()
            ),
            (
                "Open check".to_owned(),
                "https://app.example.com/checks/30099055746".to_owned()
            ),
            (
                "Edit monitor".to_owned(),
                "https://app.example.com/monitors/849b2046/edit".to_owned()
            ),
        ]
    );
    let mut odd = alert(AlertType::Alert);
    odd.monitor.dashboard_url = "javascript:alert(1)".to_owned();
    odd.monitor.edit_url = String::new();
    assert_eq!(
        actions(&build(&odd)),
        [(
            "Open check".to_owned(),
            "https://app.example.com/checks/30099055746".to_owned()
        )]
    );
}

#[test]
fn the_level_message_is_shown_under_the_title() {
    let message = build(&alert(AlertType::Alert));
    assert_eq!(
        card(&message)["body"][1]["inlines"][0]["text"],
        "Call the DNS team"
    );
}

/// Values that break out of JSON, look like template code or markdown, or are just awkward.
const HOSTILE: &[&str] = &[
    "\"}, \"evil\": true, \"x\": \"",
    "back\\slash \\\" \\u0041 \\n",
    "{{ 7*7 }} {% raw %}{{ WorkflowUrl }}",
    "**bold** _italic_ [link](https://evil.example) <at>everyone</at>",
    "line1\r\nline2\u{0}\u{1b}[31m\u{2028}end",
    "unicode é 漢字 🚨 \u{202e}rtl",
];

#[test]
fn alert_values_are_data_in_every_place_of_the_card() {
    for value in HOSTILE {
        let mut hostile = alert(AlertType::Alert);
        hostile.monitor.name = format!("name {value}");
        hostile.alert.description = format!("error {value}");
        hostile.escalation_level.message = format!("level {value}");
        hostile.alert.checkpoint_name = (*value).to_owned();
        hostile
            .monitor
            .custom_fields
            .insert((*value).to_owned(), (*value).to_owned());
        let message = build(&hostile);
        let parsed = body(&message);
        validate_message(&parsed).unwrap_or_else(|reason| panic!("{value:?}: {reason}"));
        assert_eq!(
            parsed.as_object().map(|members| members.len()),
            Some(2),
            "{value:?}"
        );
        let first_line = format!("name {value}");
        let first_line = first_line.lines().next().unwrap_or_default().trim();
        assert_eq!(title(&message).0, format!("Alert: {first_line}"), "{value:?}");
        assert_eq!(
            card(&message)["body"][1]["inlines"][0]["text"],
            json!(format!("level {value}"))
        );
        let got = facts(&message);
        for expected in [
            ("Monitor".to_owned(), format!("name {value}")),
            ("Error".to_owned(), format!("error {value}")),
            ("Checkpoint".to_owned(), (*value).to_owned()),
            ((*value).to_owned(), (*value).to_owned()),
        ] {
            assert!(got.contains(&expected), "{value:?}: {expected:?} not in {got:?}");
        }
        assert!(
            !message.request.body.contains(SIG),
            "a value never reads the secret"
        );
    }
}

#[test]
fn the_free_texts_are_text_runs_which_teams_shows_without_markdown() {
    let message = build(&alert(AlertType::Alert));
    for index in [0, 1] {
        let element = &card(&message)["body"][index];
        assert_eq!(element["type"], "RichTextBlock", "{element}");
        assert_eq!(element["inlines"][0]["type"], "TextRun", "{element}");
    }
}

// ---------------------------------------------------------------------------------------------
// The size limit

#[test]
fn a_huge_alert_is_shortened_under_the_limit_and_stays_a_valid_card() {
    // GIVEN an alert whose texts weigh megabytes, quotes and non-ASCII characters included
    let mut huge = alert(AlertType::Alert);
    huge.alert.description = format!("DNS lookup failed: {}", "\"é🚨\\\n".repeat(16_000));
    huge.monitor.name = format!("GalacticResorts.com - DNS {}", "n".repeat(5_000));
    for index in 0..40 {
        huge.monitor.custom_fields.insert(
            format!("Field {index:02}"),
            format!("{index} {}", "v".repeat(2_000)),
        );
    }

    // WHEN its card is built
    let message = build(&huge);

    // THEN it fits, is still the documented message, and says it was shortened
    let size = message.request.body.len();
    assert!(size <= MAX_BODY_BYTES, "{size} bytes");
    assert!(
        size > MAX_BODY_BYTES - 1_000,
        "not cut more than needed: {size} bytes"
    );
    let parsed = body(&message);
    validate_message(&parsed).unwrap_or_else(|reason| panic!("{reason}"));
    assert_eq!(
        message.shortened,
        1 + 1 + 1 + 40,
        "the title, the monitor fact, the error and 40 fields"
    );
    // … the links whole, the short facts untouched, the long texts cut at a character with `…`
    assert_eq!(actions(&message).len(), 3);
    assert_eq!(
        actions(&message)[0].1,
        "https://app.example.com/dashboard/849b2046"
    );
    let got = facts(&message);
    assert!(
        got.contains(&("Checkpoint".to_owned(), "Ghent, Belgium".to_owned())),
        "{got:?}"
    );
    let error = &got
        .iter()
        .find(|(title, _)| title == "Error")
        .expect("the error fact")
        .1;
    assert!(
        error.starts_with("DNS lookup failed: \"é🚨\\\n") && error.ends_with('…'),
        "{error}"
    );
    let (title, color) = title(&message);
    assert!(title.starts_with("Alert: GalacticResorts.com - DNS nnn") && title.ends_with('…'));
    assert_eq!(color, "Attention");
    assert_eq!(
        notifier().describe(&message)["shortened"],
        json!(message.shortened),
        "tocsin render and the delivery log say so"
    );
}

#[test]
fn a_card_that_cannot_be_shortened_enough_is_refused_with_its_size() {
    let mut crowded = alert(AlertType::Alert);
    for index in 0..3_000 {
        crowded
            .monitor
            .custom_fields
            .insert(format!("f{index}"), "v".to_owned());
    }
    let error = permanent(build_with(
        &crowded,
        &default_integration(),
        &variables(&workflow_url()),
    ));
    assert!(
        error.starts_with("integration `ops-teams`, field `teams.card`: the message is ")
            && error.contains("still over the 28000-byte limit of Teams"),
        "{error}"
    );
    assert!(!error.contains(SIG), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Settings and templates

#[test]
fn settings_are_read_and_checked() {
    let target = TeamsTarget::parse(&integration(json!({"url": "{{WorkflowUrl}}", "card": "{}"})))
        .expect("valid settings");
    assert_eq!(target.url, "{{WorkflowUrl}}");
    assert_eq!(target.card.as_deref(), Some("{}"));
    for (settings, expected) in [
        (
            json!({}),
            "integration `ops-teams`: `settings`: missing field `url`",
        ),
        (
            json!({"url": "{{WorkflowUrl}}", "colour": "red"}),
            "integration `ops-teams`: `settings.colour`: unknown field `colour`, expected `url` or `card`",
        ),
        (
            json!({"url": "{{WorkflowUrl}}", "card": 5}),
            "integration `ops-teams`: `settings.card`: invalid type: integer `5`, expected a string",
        ),
        (
            json!({"url": " "}),
            "integration `ops-teams`: `settings.url`: empty url: give the Workflows webhook URL, such as \"{{WorkflowUrl}}\" naming a secret variable",
        ),
        (
            json!({"url": "prod-01.westeurope.logic.azure.com/workflows/1"}),
            "integration `ops-teams`: `settings.url`: not an absolute http:// or https:// URL",
        ),
        (
            json!({"url": "{{WorkflowUrl}}", "card": "  "}),
            "integration `ops-teams`: `settings.card`: empty card template: leave `card` out for the built-in one",
        ),
    ] {
        let error = TeamsTarget::parse(&integration(settings.clone())).unwrap_err();
        assert!(!error.is_retryable());
        assert_eq!(error.to_string(), expected, "{settings}");
    }
}

#[test]
fn a_signature_written_into_the_url_is_refused_without_being_repeated() {
    let error = TeamsTarget::parse(&integration(json!({ "url": workflow_url() }))).unwrap_err();
    let text = error.to_string();
    assert!(
        text.starts_with(
            "integration `ops-teams`: `settings.url`: the `sig` parameter of a Workflows URL is a credential"
        ),
        "{text}"
    );
    assert!(!text.contains(SIG), "{text}");
    // A signature from a secret variable is what is asked for.
    TeamsTarget::parse(&integration(json!({
        "url": "https://prod-01.westeurope.logic.azure.com/workflows/4f1c/triggers/manual/paths/invoke?api-version=2016-06-01&sig={{Sig}}"
    })))
    .expect("a templated signature");
}

#[test]
fn messages_belong_to_webhooks_not_to_teams() {
    let mut with_messages = default_integration();
    with_messages.messages = vec![definition_store::MessageDefinition {
        types: vec![AlertType::Alert],
        steps: Vec::new(),
    }];
    let error = TeamsTarget::parse(&with_messages).unwrap_err().to_string();
    assert!(
        error.contains("`messages`: a teams integration has no `messages`"),
        "{error}"
    );
}

/// The registry's rules for the teams kind alone: what `tocsin validate` runs for it.
struct TeamsRules;

impl KindRules for TeamsRules {
    fn recipients(&self, _kind: IntegrationKind) -> Recipients {
        TeamsNotifier::RECIPIENTS
    }

    fn check(&self, _integration: &Integration, check: &mut IntegrationCheck<'_>) {
        if let Some(settings) = check.settings::<TeamsSettings>() {
            TeamsNotifier::check(&settings, check);
        }
    }
}

fn validate(yaml: &str) -> Vec<ValidationIssue> {
    let definitions: Definitions =
        definition_store::from_yaml(yaml).unwrap_or_else(|error| panic!("{error}"));
    definition_store::validate_with(&definitions, &TeamsRules)
}

#[test]
fn validate_names_the_path_of_every_bad_setting() {
    let issues = validate(
        r#"
integrations:
  - id: good
    kind: teams
    variables:
      WorkflowUrl: {secret: "ssm:/tocsin/teams/ops"}
    settings:
      url: "{{WorkflowUrl}}"
  - id: typo
    kind: teams
    settings:
      url: "{{WorkflowUrl}}"
      cards: "{}"
  - id: literal-sig
    kind: teams
    settings:
      url: "https://prod-01.westeurope.logic.azure.com/workflows/4f1c/triggers/manual/paths/invoke?sig=AbC123"
  - id: bad-template
    kind: teams
    variables:
      WorkflowUrl: {secret: "ssm:/tocsin/teams/ops"}
    settings:
      url: "{{WorkflowUrl}}"
      card: "{\"type\": \"message\", {% if %}"
  - id: no-url
    kind: teams
    settings:
      card: "{}"
"#,
    );
    let shown: Vec<String> = issues.iter().map(ToString::to_string).collect();
    let at = |path: &str| {
        issues
            .iter()
            .find(|issue| issue.path == path)
            .map(|issue| issue.message.clone())
            .unwrap_or_else(|| panic!("no issue at {path}: {shown:#?}"))
    };
    assert!(
        at("integrations[1].settings.cards").starts_with("unknown field `cards`, expected `url` or `card`")
    );
    assert!(
        at("integrations[2].settings.url").contains("the `sig` parameter of a Workflows URL is a credential")
    );
    assert!(!shown.join("\n").contains("AbC123"), "{shown:#?}");
    assert!(
        at("integrations[3].settings.card").contains("syntax error"),
        "{shown:#?}"
    );
    assert!(
        at("integrations[4].settings").contains("missing field `url`"),
        "{shown:#?}"
    );
    assert!(
        issues
            .iter()
            .all(|issue| !issue.path.starts_with("integrations[0]")),
        "the good integration has no issue: {shown:#?}"
    );
}

#[test]
fn a_card_template_of_its_own_is_checked_to_be_a_workflows_message() {
    let bad = [
        ("[]", "the message must be a JSON object"),
        ("{\"type\": \"card\"}", "`type` must be \"message\""),
        (
            "{\"type\": \"message\"}",
            "`attachments` must be a list of at least one card",
        ),
        (
            "{\"type\": \"message\", \"attachments\": []}",
            "`attachments` must be a list",
        ),
        (
            "{\"type\": \"message\", \"attachments\": [1]}",
            "`attachments[0]` must be an object",
        ),
        (
            "{\"type\": \"message\", \"attachments\": [{\"contentUrl\": null, \"content\": {}}]}",
            "`attachments[0].contentType` is missing",
        ),
        (
            // Grafana's mistake (grafana/grafana#99477): Workflows answers 400.
            "{\"type\": \"message\", \"attachments\": [{\"contentType\": \"application/vnd.microsoft.card.adaptive\", \"content\": {\"type\": \"AdaptiveCard\"}}]}",
            "`attachments[0].contentUrl` is missing: Workflows refuses an attachment without it (set it to null)",
        ),
        (
            "{\"type\": \"message\", \"attachments\": [{\"contentType\": \"application/vnd.microsoft.card.adaptive\", \"contentUrl\": \"https://x\", \"content\": {\"type\": \"AdaptiveCard\"}}]}",
            "`attachments[0].contentUrl` must be null",
        ),
        (
            "{\"type\": \"message\", \"attachments\": [{\"contentType\": \"application/vnd.microsoft.card.adaptive\", \"contentUrl\": null}]}",
            "`attachments[0].content` is missing",
        ),
        (
            "{\"type\": \"message\", \"attachments\": [{\"contentType\": \"application/vnd.microsoft.card.adaptive\", \"contentUrl\": null, \"content\": {\"text\": \"x\"}}]}",
            "`attachments[0].content` must be an Adaptive Card",
        ),
    ];
    for (card, expected) in bad {
        let error = permanent(build_with(
            &alert(AlertType::Alert),
            &integration(json!({"url": "{{WorkflowUrl}}", "card": card})),
            &variables(&workflow_url()),
        ));
        assert!(
            error.starts_with("integration `ops-teams`, field `settings.card`: not a Workflows message: ")
                && error.contains(expected),
            "{card}: {error}"
        );
    }
    // A template that does not render JSON is the engine's error, naming field and line.
    let error = permanent(build_with(
        &alert(AlertType::Alert),
        &integration(json!({"url": "{{WorkflowUrl}}", "card": "{\"type\": {{@monitor.name}}}"})),
        &variables(&workflow_url()),
    ));
    assert!(
        error.starts_with(
            "integration `ops-teams`, field `settings.card`, line 1: the rendered JSON does not parse"
        ),
        "{error}"
    );
}

#[test]
fn a_card_template_of_its_own_is_sent_as_it_renders() {
    let template = r#"{
  "type": "message",
  "summary": "{{@monitor.name}}",
  "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": null,
    "content": {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "{{@alert.type}} {{@monitor.name}}"}]}}]
}"#;
    let message = only(build_with(
        &alert(AlertType::Ok),
        &integration(json!({"url": "{{WorkflowUrl}}", "card": template})),
        &variables(&workflow_url()),
    ));
    assert!(
        message
            .request
            .body
            .starts_with("{\n  \"type\": \"message\",\n  \"summary\": \"GalacticResorts.com - DNS\"")
    );
    assert_eq!(card(&message)["body"][0]["text"], "Ok GalacticResorts.com - DNS");
}

#[test]
fn the_url_is_checked_and_never_quoted() {
    for (url, reason) in [
        (
            "ftp://host/{{Sig}}",
            "does not render to an absolute http:// or https:// URL",
        ),
        (
            "{{Sig}}",
            "does not render to an absolute http:// or https:// URL",
        ),
    ] {
        let mut variables = Variables::default();
        variables.insert_secret("Sig", SIG);
        let error = permanent(build_with(
            &alert(AlertType::Alert),
            &integration(json!({"url": url})),
            &variables,
        ));
        assert_eq!(
            error,
            format!("integration `ops-teams`, field `settings.url`: {reason}")
        );
    }
    // An alert value in the URL is percent-encoded: it cannot move the request elsewhere.
    let mut moved = alert(AlertType::Alert);
    moved.monitor.name = "x@evil.example/../?sig=".to_owned();
    let message = only(build_with(
        &moved,
        &integration(
            json!({"url": "https://prod-01.westeurope.logic.azure.com/workflows/{{@monitor.name}}/invoke?sig={{Sig}}"}),
        ),
        &{
            let mut variables = Variables::default();
            variables.insert_secret("Sig", SIG);
            variables
        },
    ));
    assert_eq!(
        message.request.url,
        format!(
            "https://prod-01.westeurope.logic.azure.com/workflows/x%40evil.example%2F..%2F%3Fsig%3D/invoke?sig={SIG}"
        )
    );
}

#[test]
fn every_request_carries_a_stable_webhook_id_and_the_build_time() {
    let first = build(&alert(AlertType::Alert));
    let again = build(&alert(AlertType::Alert));
    let id = first.request.headers.get("webhook-id").expect("a webhook-id");
    assert!(id.starts_with("msg_") && id.len() == 36, "{id}");
    assert_eq!(
        again.request.headers.get("webhook-id"),
        Some(id),
        "the same on every retry"
    );
    assert_eq!(
        first.request.headers.get("webhook-timestamp").map(String::as_str),
        Some("1795881605")
    );
    let mut other = alert(AlertType::Alert);
    other.alert.alert_guid = "another".to_owned();
    assert_ne!(build(&other).request.headers.get("webhook-id"), Some(id));
}

#[test]
fn the_sample_integration_and_the_example_are_accepted() {
    for secret in [None, Some("ssm:/tocsin/sample")] {
        let env = SampleEnv {
            secret,
            ..SampleEnv::default()
        };
        let sample = TeamsNotifier::sample("teams-sample", &env);
        let mut variables = Variables::default();
        variables.insert("BaseUrl", "https://hooks.example.com");
        variables.insert_secret("WorkflowSig", SIG);
        let message = only(build_with(&alert(AlertType::Alert), &sample, &variables));
        let parsed = body(&message);
        validate_message(&parsed).unwrap_or_else(|reason| panic!("{reason}"));
        assert_eq!(
            parsed["alert"], "5b9e4d7c-8a63-4f4e-9f0e-1c2d3e4f5a6b",
            "the alert named for the receivers"
        );
        assert!(
            message
                .request
                .url
                .starts_with("https://hooks.example.com/hooks/teams-sample?api-version=")
        );
        assert_eq!(
            message.request.url.ends_with(&format!("&sig={SIG}")),
            secret.is_some()
        );
    }
    let path = test_support::moto::workspace_root().join("examples/definitions.yaml");
    let definitions = definition_store::load_file(&path).unwrap_or_else(|error| panic!("{error}"));
    let examples: Vec<_> = definitions
        .integrations
        .iter()
        .filter(|integration| integration.kind == IntegrationKind::Teams)
        .collect();
    assert!(
        !examples.is_empty(),
        "examples/definitions.yaml has no teams integration"
    );
    for example in examples {
        notifier()
            .target(example)
            .unwrap_or_else(|error| panic!("{}: {error}", example.id));
    }
}

#[test]
fn the_fields_show_the_values_as_the_template_wrote_them_even_when_shortened() {
    let mut sample = TeamsNotifier::sample("fields", &SampleEnv::default());
    TeamsNotifier::set_templates(
        &mut sample,
        &notify_core::Templates::plain()
            .with(notify_core::Context::Json, "{\"notes\": \"{{@monitor.notes}}\"}")
            .with(notify_core::Context::Url, "x?n={{@monitor.name}}"),
    );
    let mut noted = alert(AlertType::Alert);
    noted.monitor.notes = "n".repeat(100_000);
    let mut variables = Variables::default();
    variables.insert("BaseUrl", "https://hooks.example.com");
    let message = only(build_with(&noted, &sample, &variables));
    assert!(message.shortened > 0 && message.request.body.len() <= MAX_BODY_BYTES);
    let fields = TeamsNotifier::fields("card", &message);
    assert_eq!(fields.len(), 2);
    assert_eq!(fields[0].field, "settings.url");
    assert_eq!(fields[0].text, "x?n=GalacticResorts.com%20-%20DNS");
    assert_eq!(fields[1].field, "settings.card");
    let json: Value = serde_json::from_str(&fields[1].text).expect("the JSON field parses");
    assert_eq!(json, json!({"notes": noted.monitor.notes}));
}

#[test]
fn summary_names_the_card_and_the_target() {
    let message = build(&alert(AlertType::Reminder));
    let summary = TeamsNotifier::summary(&notifier().describe(&message));
    assert_eq!(
        summary,
        format!(
            "teams card \"Still failing: GalacticResorts.com - DNS\" by POST {}",
            workflow_url()
        )
    );
}

// ---------------------------------------------------------------------------------------------
// What every kind must do (retries, idempotency, redaction, bad settings), against a plain HTTP target

#[tokio::test]
async fn conformance() {
    kind_kit::conformance::<TeamsNotifier>().await;
}

// ---------------------------------------------------------------------------------------------
// The local Workflows webhook validates what it gets

#[test]
fn the_local_workflows_webhook_refuses_what_workflows_refuses() {
    let good = body(&build(&alert(AlertType::Alert)));
    validate_message(&good).expect("the default card is valid");
    let broken = |edit: &dyn Fn(&mut Value)| {
        let mut message = good.clone();
        edit(&mut message);
        validate_message(&message).expect_err("refused")
    };
    for (what, reason) in [
        (
            broken(&|m| m["type"] = json!("Message")),
            "`type` must be \"message\"",
        ),
        (broken(&|m| m["attachments"] = Value::Null), "is of type 'Null'"),
        (
            broken(&|m| {
                if let Some(attachment) = m["attachments"][0].as_object_mut() {
                    attachment.remove("contentUrl");
                }
            }),
            "Required properties are missing from object: contentUrl",
        ),
        (
            broken(&|m| m["attachments"][0]["contentType"] = json!("application/json")),
            "not an Adaptive Card",
        ),
        (
            broken(&|m| in_card(m, |c| c["version"] = json!("2.0"))),
            "version",
        ),
        (
            broken(&|m| in_card(m, |c| c["body"][0]["inlines"][0]["color"] = json!("Red"))),
            "color",
        ),
        (
            broken(&|m| in_card(m, |c| c["body"][2]["facts"][0]["value"] = json!(3))),
            "`value` must be a string",
        ),
        (
            broken(&|m| in_card(m, |c| c["actions"][0]["url"] = json!("/relative"))),
            "not an absolute URL",
        ),
        (
            broken(&|m| in_card(m, |c| c["body"][0]["type"] = json!("Markdown"))),
            "unknown element type",
        ),
    ] {
        assert!(what.contains(reason), "{what} (expected {reason})");
    }
}

/// Applies `edit` to the first card of `message`.
fn in_card(message: &mut Value, edit: impl Fn(&mut Value)) {
    if let Some(card) = message.pointer_mut("/attachments/0/content") {
        edit(card);
    }
}

async fn send_to(workflows: &Workflows, message: &TeamsMessage) -> Result<notify_core::Sent, NotifyError> {
    let mut message = message.clone();
    message.request.url = workflows.url(SIG);
    notifier().send(&message).await
}

#[tokio::test]
async fn every_default_card_is_accepted_with_202() {
    // GIVEN the local Workflows webhook, which validates every request
    let workflows = Workflows::start([]).await;
    for alert_type in AlertType::ALL {
        // WHEN the card of each alert type is sent
        let sent = send_to(&workflows, &build(&alert(*alert_type)))
            .await
            .unwrap_or_else(|error| panic!("{alert_type}: {error:?}"));
        // THEN Workflows accepted it
        assert_eq!(sent.status, Some(202));
        assert_eq!(sent.response, "");
    }
    let received = workflows.received();
    assert_eq!(received.len(), 3, "the notifier itself never retries");
    for request in &received {
        assert_eq!(request.verdict, Ok(()), "{}", request.body);
        assert_eq!(request.path, "/workflows/4f1c/triggers/manual/paths/invoke");
        assert!(
            request
                .query
                .as_deref()
                .is_some_and(|query| query.ends_with(&format!("&sig={SIG}")))
        );
        assert!(
            request
                .header("webhook-id")
                .is_some_and(|id| id.starts_with("msg_"))
        );
        assert_eq!(request.header("webhook-timestamp"), Some("1795881605"));
    }
}

#[tokio::test]
async fn a_shortened_card_is_accepted_and_one_over_the_limit_is_not() {
    let workflows = Workflows::start([]).await;
    let mut huge = alert(AlertType::Alert);
    huge.alert.description = "x".repeat(1_000_000);
    let message = build(&huge);
    assert!(message.shortened > 0);
    send_to(&workflows, &message)
        .await
        .unwrap_or_else(|error| panic!("{error:?}"));

    // The same card whole is what Teams refuses: the shortening is what makes it through.
    let mut whole = message.clone();
    whole.request.body = message.rendered.clone().expect("the card as rendered");
    let error = send_to(&workflows, &whole).await.unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert_eq!(error.status(), Some(413));
    assert!(error.to_string().contains("RequestEntityTooLarge"), "{error}");
}

#[tokio::test]
async fn an_invalid_card_is_refused_permanently_with_the_reason() {
    let workflows = Workflows::start([]).await;
    let mut message = build(&alert(AlertType::Alert));
    message.request.body = message.request.body.replace("\"contentUrl\": null,", "");
    let error = send_to(&workflows, &message).await.unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert_eq!(error.status(), Some(400));
    let text = error.to_string();
    assert!(
        text.contains(": status 400: TriggerInputSchemaMismatch: Required properties are missing from object: contentUrl"),
        "{text}"
    );
    assert!(!text.contains(SIG), "{text}");
}

#[tokio::test]
async fn throttling_is_retryable_after_the_time_workflows_asks_for() {
    let workflows = Workflows::start([Answer::status(
        429,
        "{\"error\":{\"code\":\"TooManyRequests\",\"message\":\"Rate limit is exceeded. Try again in 7 seconds.\"}}",
    )
    .header("retry-after", "7")
    .header("content-type", "application/json")])
    .await;
    let error = send_to(&workflows, &build(&alert(AlertType::Alert)))
        .await
        .unwrap_err();
    let NotifyError::Retryable {
        reason,
        status,
        retry_after,
    } = error
    else {
        panic!("expected retryable, got {error:?}");
    };
    assert_eq!(status, Some(429));
    assert_eq!(retry_after, Some(Duration::from_secs(7)));
    assert!(
        reason.contains("TooManyRequests: Rate limit is exceeded"),
        "{reason}"
    );
}

#[tokio::test]
async fn server_errors_are_retryable_and_other_refusals_permanent() {
    for (status, retryable) in [
        (500, true),
        (502, true),
        (503, true),
        (504, true),
        (408, true),
        (401, false),
        (403, false),
        (404, false),
    ] {
        let workflows = Workflows::start([Answer::status(
            status,
            "{\"error\":{\"code\":\"X\",\"message\":\"y\"}}",
        )])
        .await;
        let error = send_to(&workflows, &build(&alert(AlertType::Alert)))
            .await
            .unwrap_err();
        assert_eq!(error.is_retryable(), retryable, "{status}: {error:?}");
        assert_eq!(error.status(), Some(status));
        assert!(
            error.to_string().ends_with(&format!(": status {status}: X: y")),
            "{error}"
        );
    }
}

#[tokio::test]
async fn a_legacy_connector_answering_200_with_an_error_text_is_a_failure_with_that_text() {
    let throttled = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 429 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=deKcP4kjWEO4Drs3sMU6Gg.0..";
    let too_large = "Webhook message delivery failed with error: Microsoft Teams endpoint returned HTTP error 413 with ContextId tcid=0,server=msgapi-production-eus-azsc2-4-170,cv=x.0..";
    let workflows = Workflows::start([
        Answer::status(200, throttled),
        Answer::status(200, too_large),
        Answer::status(200, "1"),
    ])
    .await;
    let message = build(&alert(AlertType::Alert));

    let error = send_to(&workflows, &message).await.unwrap_err();
    assert!(
        error.is_retryable(),
        "a throttled delivery is tried again: {error:?}"
    );
    assert_eq!(error.status(), Some(200));
    assert!(
        error.to_string().ends_with(&format!(
            "status 200 but the target reports a failure: {throttled}"
        )),
        "{error}"
    );

    let error = send_to(&workflows, &message).await.unwrap_err();
    assert!(!error.is_retryable(), "{error:?}");
    assert!(error.to_string().contains("HTTP error 413"), "{error}");

    // The connector's own success.
    let sent = send_to(&workflows, &message)
        .await
        .unwrap_or_else(|error| panic!("{error:?}"));
    assert_eq!((sent.status, sent.response.as_str()), (Some(200), "1"));
}

#[test]
fn what_a_successful_answer_may_say() {
    let answer = |status: u16, body: &str| HttpAnswer {
        label: "POST https://prod-01.westeurope.logic.azure.com".to_owned(),
        status,
        retry_after: None,
        headers: Vec::new(),
        body: body.to_owned(),
    };
    for (status, body, outcome) in [
        (202, "", "ok"),
        (200, "1", "ok"),
        (200, "{\"ok\":true}", "ok"),
        (200, "accepted", "ok"),
        (
            200,
            "{\"error\":{\"code\":\"FlowDisabled\",\"message\":\"the flow is off\"}}",
            "permanent",
        ),
        (
            200,
            "Microsoft Teams endpoint returned HTTP error 503",
            "retryable",
        ),
        (200, "Webhook message delivery failed: throttled", "retryable"),
        (
            200,
            "Bad payload received by generic incoming webhook: error",
            "permanent",
        ),
    ] {
        let got = match classify(&answer(status, body)) {
            Ok(_) => "ok",
            Err(error) if error.is_retryable() => "retryable",
            Err(_) => "permanent",
        };
        assert_eq!(got, outcome, "{status} {body}");
    }
}

// ---------------------------------------------------------------------------------------------
// Handler level: one SNS event through the runner's pipeline

const WORKFLOW_SECRET_REF: &str = "ssm:/tocsin/ops-teams/workflow-url";

fn pipeline(
    url: &str,
) -> notify_core::Pipeline<
    TeamsNotifier,
    definition_store::MemoryStore,
    notify_core::MemorySecrets,
    notify_core::MemoryDeliveryLog,
> {
    let yaml = format!(
        r#"
integrations:
  - id: ops-teams
    kind: teams
    variables:
      WorkflowUrl: {{secret: "{WORKFLOW_SECRET_REF}"}}
    settings:
      url: "{{{{WorkflowUrl}}}}"
alertDefinitions:
  - id: ops-dns
    name: Ops DNS
    monitors: ["*"]
    levels:
      - id: 1
        message: Call the DNS team
        integrations:
          - integration: ops-teams
"#
    );
    let definitions = definition_store::from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}"));
    notify_core::Pipeline::new(
        notifier(),
        definition_store::MemoryStore::new(definitions),
        notify_core::MemorySecrets::new().with(WORKFLOW_SECRET_REF, url),
        notify_core::MemoryDeliveryLog::default(),
        notify_core::Settings {
            max_attempts: 1,
            ..notify_core::Settings::default()
        },
    )
}

#[tokio::test]
async fn handler_delivers_a_valid_card_and_prints_no_secret() {
    // GIVEN the Workflows webhook and an integration whose URL is a secret
    let workflows = Workflows::start([]).await;
    let pipeline = pipeline(&workflows.url(SIG));
    let event = test_support::sns::event(&[("m-1", &test_support::sns::native_alert("alert-teams-1"))]);

    // WHEN the event is handled
    let captured = notify_core::testing::capture(&pipeline, &event).await;

    // THEN the card was delivered, valid, and nothing printed the signature
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!((report.routes, report.delivered), (1, 1), "{report:?}");
    let received = workflows.received();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].verdict, Ok(()));
    let body: Value = serde_json::from_str(&received[0].body).expect("JSON");
    assert_eq!(body["attachments"][0]["contentType"], ADAPTIVE_CARD);
    captured.assert_no_leak(SIG);
}

#[tokio::test]
async fn handler_failure_echoing_the_secret_prints_no_secret() {
    let workflows = Workflows::start([Answer::status(
        400,
        &format!("{{\"error\":{{\"code\":\"InvalidSignature\",\"message\":\"bad sig {SIG}\"}}}}"),
    )])
    .await;
    let pipeline = pipeline(&workflows.url(SIG));
    let event = test_support::sns::event(&[("m-2", &test_support::sns::native_alert("alert-teams-2"))]);
    let captured = notify_core::testing::capture(&pipeline, &event).await;
    let report = captured.result.as_ref().unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(report.failed, 1, "{report:?}");
    assert!(!captured.records.is_empty());
    captured.assert_no_leak(SIG);
}

#[test]
fn an_echoed_signature_is_scrubbed_raw_and_decoded() {
    let url = "https://x.logic.azure.com/workflows/1/invoke?api-version=2016-06-01&sig=Ab%2Bc%2Fd1234&sv=1.0";
    assert_eq!(crate::signatures(url), ["Ab%2Bc%2Fd1234", "Ab+c/d1234"]);
    assert!(
        crate::signatures("https://x/invoke?sig=abc").is_empty(),
        "too short to tell"
    );
    assert!(crate::signatures("{{WorkflowUrl}}").is_empty());
    let outcome = Err(NotifyError::Permanent {
        reason: "POST https://x.logic.azure.com: status 401: bad sig Ab+c/d1234 (Ab%2Bc%2Fd1234)".to_owned(),
        status: Some(401),
    });
    let scrubbed = crate::without_signature(outcome, url).unwrap_err().to_string();
    assert_eq!(
        scrubbed,
        "POST https://x.logic.azure.com: status 401: bad sig [redacted] ([redacted])"
    );
    let sent = notify_core::Sent {
        response: "ok Ab+c/d1234".to_owned(),
        ..notify_core::Sent::default()
    };
    assert_eq!(
        crate::without_signature(Ok(sent), url).unwrap().response,
        "ok [redacted]"
    );
}
