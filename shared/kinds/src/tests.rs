//! The registry's own tests: every kind through the public functions built on [`visit`].

use alert_model::IntegrationKind;
use definition_store::{Definitions, Recipients};
use notify_core::SampleEnv;
use serde_json::json;

use crate::{json_schema, recipients, sample, validate};

fn definitions_with(integration: definition_store::Integration) -> Definitions {
    Definitions {
        integrations: vec![integration],
        ..Definitions::default()
    }
}

#[test]
fn every_sample_integration_is_valid() {
    for kind in IntegrationKind::ALL {
        for variant in 0..2 {
            let env = SampleEnv {
                secret: Some("ssm:/tocsin/sample"),
                variant,
                ..SampleEnv::default()
            };
            let integration = sample(*kind, &format!("{kind}-sample"), &env);
            assert_eq!(integration.kind, *kind);
            let issues = validate(&definitions_with(integration));
            assert!(issues.is_empty(), "{kind} sample (variant {variant}): {issues:?}");
        }
    }
}

#[test]
fn a_bad_setting_of_every_kind_is_reported_with_its_path_by_the_kinds_own_type() {
    for kind in IntegrationKind::ALL {
        let mut integration = sample(*kind, "x", &SampleEnv::default());
        integration
            .settings
            .insert("noSuchSetting".to_owned(), json!("1"));
        let issues = validate(&definitions_with(integration));
        assert!(
            issues
                .iter()
                .any(|issue| issue.path == "integrations[0].settings.noSuchSetting"
                    || (issue.path == "integrations[0].settings" && issue.message.contains("noSuchSetting"))),
            "{kind}: {issues:?}"
        );
        assert!(
            issues.iter().all(|issue| issue.message.contains("unknown field")),
            "{kind}: the kind's serde type reports it: {issues:?}"
        );
    }
}

#[test]
fn a_setting_of_the_wrong_type_names_its_path() {
    for kind in IntegrationKind::ALL {
        let mut integration = sample(*kind, "x", &SampleEnv::default());
        // Every kind's settings are an object: a list where a map is expected fails on the first key.
        integration.settings = serde_json::Map::from_iter([("noSuchSetting".to_owned(), json!([1]))]);
        let issues = validate(&definitions_with(integration));
        assert!(!issues.is_empty(), "{kind}");
        assert!(
            issues
                .iter()
                .all(|issue| issue.path.starts_with("integrations[0]")),
            "{kind}: {issues:?}"
        );
    }
}

#[test]
fn the_email_rules_are_the_ones_the_function_applies() {
    // One definition of an e-mail address: what validate accepts, the function can send to.
    for address in ["ann@exämple.com", "a@b..com", "a b@example.com", "nobody"] {
        let definitions =
            definition_store::from_yaml(&format!("operators: [{{id: ann, email: \"{address}\"}}]"))
                .expect("parses");
        let issues = validate(&definitions);
        assert_eq!(issues.len(), 1, "{address}: {issues:?}");
        assert_eq!(issues[0].path, "operators[0].email");
        assert!(definition_store::rules::email_problem(address).is_some());
    }
}

#[test]
fn recipients_are_the_kinds_own() {
    assert_eq!(recipients(IntegrationKind::Email), Recipients::Email);
    assert_eq!(recipients(IntegrationKind::Webhook), Recipients::Nobody);
}

#[test]
fn the_schema_describes_each_kinds_settings() {
    let schema = json_schema();
    let conditions = schema["$defs"]["Integration"]["allOf"]
        .as_array()
        .expect("the integration's per-kind conditions");
    assert_eq!(conditions.len(), IntegrationKind::ALL.len());
    for (kind, condition) in IntegrationKind::ALL.iter().zip(conditions) {
        assert_eq!(condition["if"]["properties"]["kind"]["const"], kind.as_str());
        let reference = condition["then"]["properties"]["settings"]["$ref"]
            .as_str()
            .expect("a reference to the kind's settings");
        let name = reference.trim_start_matches("#/$defs/");
        let settings = &schema["$defs"][name];
        assert_eq!(settings["additionalProperties"], false, "{kind}: {settings}");
        assert!(settings["properties"].is_object(), "{kind}: {settings}");
    }
    assert_eq!(schema["title"], "Definitions");
    let all = schema.to_string();
    for word in ["\"perLevel\"", "\"secret\"", "\"alertDefinitions\""] {
        assert!(all.contains(word), "{word} missing");
    }
    // Every reference resolves in the document.
    let text = schema.to_string();
    for reference in text.split("\"$ref\":\"#/$defs/").skip(1) {
        let name = reference.split('"').next().unwrap_or_default();
        assert!(schema["$defs"].get(name).is_some(), "dangling reference {name}");
    }
}

#[test]
fn schema_file_is_up_to_date() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/definitions.schema.json");
    let generated = format!("{}\n", serde_json::to_string_pretty(&json_schema()).unwrap());
    if std::env::var_os("TOCSIN_BLESS").is_some() {
        std::fs::write(&path, &generated).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{} is out of date with the model and the kinds' settings types: refresh it with \
         `TOCSIN_BLESS=1 cargo test -p kinds schema` and commit it",
        path.display()
    );
}

/// Issues of a YAML document through the registry's validation, as `tocsin validate` prints them.
fn issues(yaml: &str) -> Vec<String> {
    let definitions = definition_store::from_yaml(yaml).unwrap_or_else(|error| panic!("{error}"));
    validate(&definitions).iter().map(ToString::to_string).collect()
}

#[test]
fn the_example_definitions_validate_clean() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/definitions.yaml");
    let definitions = definition_store::load_file(&path).unwrap_or_else(|error| panic!("{error}"));
    let issues: Vec<String> = validate(&definitions).iter().map(ToString::to_string).collect();
    assert!(issues.is_empty(), "{issues:#?}");
}

#[test]
fn email_settings_are_read_by_the_email_kinds_type() {
    assert_eq!(
        issues(
            r#"
integrations:
  - {id: a, kind: email, settings: {from: "not-an-address", subject: "{{@monitor.name"}}
  - {id: b, kind: email, settings: {subjct: x}}
  - {id: c, kind: email, settings: {html: 3}}
  - {id: d, kind: email, settings: {from: "Alerts <alerts@example.com>"}}
"#
        ),
        [
            "integrations[0].settings.from: \"not-an-address\": not an e-mail address (no `@`)",
            "integrations[0].settings.subject: invalid template: `{{@monitor.name` must be closed by `}}` (line 1)",
            "integrations[1].settings.subjct: unknown field `subjct`, expected one of `from`, `subject`, `html`, `text`",
            "integrations[2].settings.html: invalid type: integer `3`, expected a string",
        ]
    );
}

#[test]
fn webhook_settings_are_read_by_the_webhook_kinds_type() {
    assert_eq!(
        issues(
            r#"
integrations:
  - {id: a, kind: webhook}
  - {id: b, kind: webhook, settings: {preset: everything}}
  - {id: c, kind: webhook, settings: {preset: all-variables}}
  - {id: d, kind: webhook, settings: {preset: all-variables, url: "http://x", method: SEND, headers: {"bad name": x}}}
  - {id: e, kind: webhook, settings: {preset: all-variables, url: "http://x", headers: [x]}}
  - id: f
    kind: webhook
    settings: {url: "https://y.example.com", signingSecret: ""}
    messages: [{types: [Alert], steps: [{url: "https://x.example.com"}]}]
  - {id: g, kind: webhook, settings: {preset: all-variables, url: "https://x", signingSecret: 5}}
  - id: h
    kind: webhook
    settings: {signingSecret: "{{SigningSecret}}"}
    messages: [{types: [Alert], steps: [{url: "https://x.example.com"}]}]
"#
        ),
        [
            "integrations[0]: webhook integration \"a\" needs \"messages\" or settings.preset (`tocsin presets` lists them)",
            "integrations[1].settings.preset: unknown preset \"everything\" (known: all-variables, alertops, discord, google-chat, incident-io, jira, mattermost, ntfy, pushover, rocket-chat, statuspage, telegram, webex, zapier)",
            "integrations[2].settings.url: preset \"all-variables\" needs a url",
            "integrations[3].settings.method: unknown method \"SEND\" (expected GET, POST, PUT, PATCH, DELETE)",
            "integrations[3].settings.headers.bad name: not a valid header name (letters, digits and !#$%&'*+-.^_`|~ only)",
            "integrations[4].settings.headers: invalid type: sequence, expected a map",
            "integrations[5].settings.signingSecret: empty signing secret: give a template such as \"{{SigningSecret}}\" naming a secret variable",
            "integrations[5].settings.url: only signingSecret and functions go with \"messages\" (the other settings are a preset's; set `preset`)",
            "integrations[6].settings.signingSecret: invalid type: integer `5`, expected a string",
        ]
    );
}

#[test]
fn voice_settings_are_read_by_the_voice_kinds_type() {
    assert_eq!(
        issues(
            r#"
integrations:
  - {id: a, kind: voice}
  - {id: b, kind: voice, settings: {originationIdentity: "555-0100"}}
  - {id: c, kind: voice, settings: {originationIdentity: "+18005550100", voiceId: Hans}}
  - {id: d, kind: voice, settings: {originationIdentity: "+18005550100", language: de-DE, voiceId: Hans, timeToLive: 0}}
  - {id: e, kind: voice, settings: {originationIdentity: "+18005550100", language: klingon}}
  - {id: f, kind: voice, settings: {originationIdentity: "+18005550100", ssml: "<p>{{@monitor.name}}"}}
  - {id: g, kind: voice, settings: {originationIdentity: "+18005550100", ssml: "<p>{{@monitor.name}</p>"}}
  - {id: h, kind: voice, settings: {originationIdentity: "pool-0a1b2c", voiceId: Joanna, ssml: "<p>{{@monitor.name}}</p>"}}
"#
        ),
        [
            "integrations[0].settings: missing field `originationIdentity`",
            "integrations[1].settings.originationIdentity: `555-0100`: an origination identity is a voice-capable phone number in E.164 (+18005550100), its id (phone-…) or ARN, or a pool's id (pool-…) or ARN",
            "integrations[2].settings.voiceId: the voice `Hans` speaks de-DE, the call is in en-US (`settings.language`): choose a voice of that language or set the language",
            "integrations[3].settings.timeToLive: 0 seconds; the service takes 5 to 259200 (72 hours)",
            "integrations[4].settings.language: unknown variant `klingon`, expected one of `en-US`, `en-GB`, `en-AU`, `en-IN`, `de-DE`, `fr-FR`, `fr-CA`, `nl-NL`, `es-ES`, `es-US`, `es-MX`",
            "integrations[5].settings.ssml: for a sample Alert, the rendered script is not well-formed SSML: `<p>` is not closed",
            "integrations[6].settings.ssml: invalid template: `{{@monitor.name` must be closed by `}}` (line 1)",
        ]
    );
    assert_eq!(recipients(IntegrationKind::Voice), Recipients::Phone);
}

#[test]
fn every_rule_is_one_definition_shared_by_validation_and_the_functions() {
    // Methods: any case, everywhere.
    assert!(issues(
        "integrations: [{id: h, kind: webhook, messages: [{types: [Alert], steps: [{method: post, url: \"https://x\"}]}]}]"
    )
    .is_empty());
    // Secret references: the first `#` starts the key, for validation and the resolver alike.
    let reference = definition_store::SecretRef("secretsmanager:a#b#c".to_owned());
    assert_eq!(
        reference.location(),
        Ok(definition_store::SecretLocation::SecretsManager {
            id: "a".to_owned(),
            key: Some("b#c".to_owned())
        })
    );
}

#[test]
fn a_settings_key_with_a_line_break_is_escaped_in_the_issue() {
    let found = issues(
        "integrations:\n  - {id: w, kind: webhook, settings: {preset: all-variables, url: \"https://x.example\", \"h\\nX\": 1}}\n",
    );
    assert_eq!(found.len(), 1, "{found:?}");
    assert!(
        found[0].starts_with("integrations[0].settings.h\\nX: unknown field"),
        "{found:?}"
    );
    assert!(!found[0].contains('\n'), "{found:?}");
}
