use crate::{LoadError, VariableDef, from_yaml, load_file, model::SecretRef};

fn parse_error(yaml: &str) -> (String, String) {
    match from_yaml(yaml) {
        Err(LoadError::Parse { path, reason }) => (path, reason),
        Err(other) => panic!("expected a parse error, got {other}"),
        Ok(definitions) => panic!("expected a parse error, got {definitions:?}"),
    }
}

#[test]
fn unknown_kind_names_the_path_and_line() {
    let (path, reason) =
        parse_error("integrations:\n  - id: a\n    kind: email\n  - id: b\n    kind: pagerduty\n");
    assert_eq!(path, "integrations[1].kind");
    assert_eq!(
        reason,
        "unknown variant `pagerduty`, expected `email` or `webhook` (line 5, column 11)"
    );
}

#[test]
fn unknown_field_is_refused_with_its_path() {
    let (path, reason) = parse_error(
        "alertDefinitions:\n  - id: d\n    monitors: ['*']\n    levels:\n      - id: 1\n        integratons: []\n",
    );
    assert_eq!(path, "alertDefinitions[0].levels[0].integratons");
    assert_eq!(
        reason,
        "unknown field `integratons`, expected one of `id`, `active`, `message`, `operators`, `integrations` (line 6, column 9)"
    );
}

#[test]
fn missing_required_field_names_the_object() {
    let (path, reason) = parse_error("integrations:\n  - id: a\n");
    assert_eq!(path, "integrations[0]");
    assert!(reason.starts_with("missing field `kind`"), "{reason}");
}

#[test]
fn wrong_type_names_the_path() {
    let (path, reason) =
        parse_error("alertDefinitions:\n  - id: d\n    monitors: ['*']\n    levels:\n      - id: one\n");
    assert_eq!(path, "alertDefinitions[0].levels[0].id");
    assert!(reason.contains("invalid type"), "{reason}");
}

#[test]
fn broken_yaml_is_reported_where_it_breaks() {
    let (path, reason) = parse_error("integrations: [\n");
    assert_eq!(path, "integrations");
    assert!(reason.contains("line"), "{reason}");
}

#[test]
fn top_level_unknown_key_is_refused() {
    let (path, reason) = parse_error("integration: []\n");
    assert_eq!(path, "integration");
    assert!(reason.starts_with("unknown field `integration`"), "{reason}");
}

#[test]
fn variables_parse_in_their_three_forms() {
    let definitions = from_yaml(
        r#"
integrations:
  - id: a
    kind: webhook
    variables:
      Plain: hello
      Number: 8443
      Key: {secret: "ssm:/a/b"}
      Sev: {perLevel: true, default: low}
      Team: {perLevel: true}
"#,
    )
    .unwrap();
    let variables = &definitions.integrations[0].variables;
    assert_eq!(variables["Plain"], VariableDef::Fixed("hello".to_owned()));
    assert_eq!(variables["Number"], VariableDef::Fixed("8443".to_owned()));
    assert_eq!(
        variables["Key"],
        VariableDef::Secret {
            secret: SecretRef("ssm:/a/b".to_owned())
        }
    );
    assert_eq!(
        variables["Sev"],
        VariableDef::PerLevel {
            per_level: true,
            default: Some("low".to_owned())
        }
    );
    assert_eq!(
        variables["Team"],
        VariableDef::PerLevel {
            per_level: true,
            default: None
        }
    );
}

fn variable_error(variable: &str) -> (String, String) {
    parse_error(&format!(
        "integrations:\n  - id: a\n    kind: webhook\n    variables:\n      V: {variable}\n"
    ))
}

#[test]
fn variable_with_unknown_key_is_a_clear_error() {
    let (path, reason) = variable_error("{secrets: \"ssm:/x\"}");
    assert_eq!(path, "integrations[0].variables.V");
    assert!(
        reason.starts_with("unknown key `secrets` in variable (expected a string"),
        "{reason}"
    );
    assert!(!reason.contains("did not match any variant"), "{reason}");
}

/// A secret value written under `secret:` by mistake, as a number or another non-string, is refused
/// without being printed (serde's own message quotes it: "invalid type: integer `84731902`").
#[test]
fn a_secret_that_is_not_a_string_is_refused_without_its_value() {
    let cases = [
        ("84731902", "found a number"),
        ("-84731902", "found a number"),
        ("84731902.5", "found a number"),
        // Too large for the parser's generic value: refused by the loader, still without the value.
        ("184467440737095516150", "invalid secret reference"),
        ("true", "found a boolean"),
        ("null", "found null"),
        ("[84731902]", "found a list"),
        ("{pin: 84731902}", "found a map"),
    ];
    for (value, found) in cases {
        let (path, reason) = variable_error(&format!("{{secret: {value}}}"));
        assert!(path.starts_with("integrations[0].variables.V"), "{value}: {path}");
        assert!(
            reason.contains(found) && reason.contains("(value not shown)"),
            "{value}: {reason}"
        );
        assert!(
            !reason.contains("8473190") && !reason.contains("true"),
            "{value}: {reason}"
        );
    }
    // The JSON values that DynamoDB items become take the same path.
    let item = serde_json::json!({"id": "a", "kind": "webhook", "variables": {"V": {"secret": 84731902}}});
    let error = serde_json::from_value::<crate::Integration>(item).expect_err("a number is not a reference");
    assert!(!error.to_string().contains("84731902"), "{error}");
    // A string is still taken as the reference it is.
    let (_, reason) = variable_error("{secret: \"ssm:/x\", perLevel: true}");
    assert!(
        reason.starts_with("a secret variable takes only `secret`"),
        "{reason}"
    );
}

#[test]
fn variable_per_level_false_is_refused() {
    let (path, reason) = variable_error("{perLevel: false}");
    assert_eq!(path, "integrations[0].variables.V");
    assert!(reason.starts_with("`perLevel` must be true"), "{reason}");
}

#[test]
fn variable_secret_with_per_level_is_refused() {
    let (_, reason) = variable_error("{secret: \"ssm:/x\", perLevel: true}");
    assert!(
        reason.starts_with("a secret variable takes only `secret`"),
        "{reason}"
    );
}

#[test]
fn variable_default_without_per_level_is_refused() {
    let (_, reason) = variable_error("{default: x}");
    assert!(reason.starts_with("`default` needs `perLevel: true`"), "{reason}");
}

#[test]
fn variable_list_and_null_are_refused() {
    let (_, reason) = variable_error("[a, b]");
    assert!(reason.starts_with("a variable cannot be a list"), "{reason}");
    let (_, reason) = variable_error("null");
    assert!(reason.starts_with("variable has no value"), "{reason}");
    let (_, reason) = variable_error("{}");
    assert!(reason.starts_with("empty variable"), "{reason}");
}

#[test]
fn variables_serialise_back_to_their_yaml_forms() {
    let yaml = "integrations:\n  - id: a\n    kind: webhook\n    variables:\n      A: x\n      B: {secret: \"secretsmanager:s#k\"}\n      C: {perLevel: true, default: d}\n      D: {perLevel: true}\n";
    let definitions = from_yaml(yaml).unwrap();
    let json = serde_json::to_value(&definitions.integrations[0].variables).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"A": "x", "B": {"secret": "secretsmanager:s#k"}, "C": {"perLevel": true, "default": "d"}, "D": {"perLevel": true}})
    );
    let back: std::collections::BTreeMap<String, VariableDef> = serde_json::from_value(json).unwrap();
    assert_eq!(back, definitions.integrations[0].variables);
}

#[test]
fn json_is_accepted() {
    let definitions = from_yaml(r#"{"integrations": [{"id": "a", "kind": "email"}]}"#).unwrap();
    assert_eq!(definitions.integrations[0].id, "a");
    assert!(definitions.integrations[0].active, "active defaults to true");
}

#[test]
fn empty_document_is_empty_definitions() {
    assert_eq!(from_yaml("{}").unwrap(), crate::Definitions::default());
}

#[test]
fn load_file_names_a_missing_file() {
    let error = load_file(std::path::Path::new("/nonexistent/tocsin.yaml")).unwrap_err();
    assert!(matches!(error, LoadError::Read { .. }));
    assert!(
        error
            .to_string()
            .starts_with("cannot read `/nonexistent/tocsin.yaml`"),
        "{error}"
    );
}

#[test]
fn duplicate_keys_are_refused_not_overwritten() {
    let (path, reason) =
        parse_error("integrations:\n  - id: a\n    kind: webhook\n    variables: {A: x, A: y}\n");
    assert_eq!(path, "integrations[0].variables");
    assert_eq!(reason, "duplicate entry with key \"A\" (line 4, column 16)");
    let (path, reason) = parse_error("integrations: []\nintegrations: []\n");
    assert_eq!(path, "$");
    assert!(
        reason.starts_with("duplicate entry with key \"integrations\""),
        "{reason}"
    );
}

#[test]
fn several_documents_are_refused() {
    let (_, reason) = parse_error("integrations: []\n---\noperators: []\n");
    assert!(reason.contains("more than one document"), "{reason}");
}

#[test]
fn empty_or_comment_only_file_is_empty_definitions() {
    assert_eq!(from_yaml("").unwrap(), crate::Definitions::default());
    assert_eq!(
        from_yaml("# nothing yet\n").unwrap(),
        crate::Definitions::default()
    );
}

#[test]
fn attachment_variables_take_scalars_as_text() {
    let definitions = from_yaml(
        "alertDefinitions:\n  - id: d\n    monitors: ['*']\n    levels:\n      - id: 1\n        integrations:\n          - integration: x\n            variables: {Priority: 2, Page: true, Team: ops}\n",
    )
    .unwrap();
    let variables = &definitions.alert_definitions[0].levels[0].integrations[0].variables;
    assert_eq!(variables["Priority"], "2");
    assert_eq!(variables["Page"], "true");
    assert_eq!(variables["Team"], "ops");
    let (path, reason) = parse_error(
        "alertDefinitions:\n  - id: d\n    monitors: ['*']\n    levels:\n      - id: 1\n        integrations:\n          - integration: x\n            variables: {Team: [a]}\n",
    );
    assert_eq!(
        path,
        "alertDefinitions[0].levels[0].integrations[0].variables.Team"
    );
    assert!(
        reason.starts_with("invalid type: sequence, expected a string"),
        "{reason}"
    );
}
