use crate::{
    LoadError, MAX_DEFINITIONS_BYTES, MAX_DEPTH, VariableDef, from_yaml, load_file, model::SecretRef,
};

/// How serde lists the known kinds after "unknown variant": follows the kinds declared, so adding a
/// kind changes no test.
fn expected_kinds() -> String {
    let names: Vec<String> = alert_model::IntegrationKind::ALL
        .iter()
        .map(|kind| format!("`{kind}`"))
        .collect();
    match names.as_slice() {
        [one] => format!("expected {one}"),
        [a, b] => format!("expected {a} or {b}"),
        all => format!("expected one of {}", all.join(", ")),
    }
}

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
        parse_error("integrations:\n  - id: a\n    kind: email\n  - id: b\n    kind: carrier-pigeon\n");
    assert_eq!(path, "integrations[1].kind");
    assert_eq!(
        reason,
        format!(
            "unknown variant `carrier-pigeon`, {} (line 5, column 11)",
            expected_kinds()
        )
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

// Limits: depth and size, checked before the YAML parser runs (libyaml takes time quadratic in the
// depth of brackets). The refusals are structural: the error is the limit's own, with its position.

fn too_deep(yaml: &str) -> (usize, usize) {
    match from_yaml(yaml) {
        Err(LoadError::TooDeep { line, column, limit }) => {
            assert_eq!(limit, MAX_DEPTH);
            (line, column)
        }
        Err(other) => panic!("expected the depth limit, got {other}"),
        Ok(definitions) => panic!("expected the depth limit, got {definitions:?}"),
    }
}

/// Parses, or fails with any error but the depth limit.
fn not_too_deep(yaml: &str) {
    if let Err(error @ LoadError::TooDeep { .. }) = from_yaml(yaml) {
        panic!("refused as too deep: {error}\n{yaml}");
    }
}

#[test]
fn nested_brackets_are_refused_at_the_depth_limit_naming_it_and_the_line() {
    // 200 KB of `[`: the parser took about a minute to refuse it.
    let yaml = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    assert_eq!(too_deep(&yaml), (1, MAX_DEPTH + 1));
    let error = from_yaml(&yaml).unwrap_err().to_string();
    assert_eq!(
        error,
        "$: nesting deeper than the limit of 32 levels (line 1, column 33)"
    );
    // Under a key, on the third line: the document's mapping is the first level.
    let yaml = format!(
        "# deep\nintegrations:\n  {}{}\n",
        "[".repeat(5_000),
        "]".repeat(5_000)
    );
    assert_eq!(too_deep(&yaml), (3, 2 + MAX_DEPTH));
}

#[test]
fn nested_flow_maps_and_json_objects_are_refused_at_the_depth_limit() {
    // 500 KB of `{a: {a: …}}`: the parser took over 100 s.
    let levels = 100_000;
    let yaml = format!("{}1{}", "{a: ".repeat(levels), "}".repeat(levels));
    assert_eq!(too_deep(&yaml), (1, 4 * MAX_DEPTH + 1));
    let json = format!("{}1{}", "{\"a\":".repeat(levels), "}".repeat(levels));
    assert_eq!(too_deep(&json), (1, 5 * MAX_DEPTH + 1));
    // Over several lines, with the brackets in a sequence of maps.
    let yaml = format!("{}\n", "[\n{a:\n".repeat(levels));
    assert_eq!(too_deep(&yaml), (MAX_DEPTH + 1, 1));
}

#[test]
fn nested_block_collections_are_refused_at_the_depth_limit() {
    let mut yaml = String::new();
    for depth in 0..1_000 {
        yaml.push_str(&" ".repeat(depth));
        yaml.push_str("a:\n");
    }
    assert_eq!(too_deep(&yaml), (MAX_DEPTH + 1, MAX_DEPTH + 1));
    // Sequences of sequences, written compactly (`- - - a`) and one per line.
    assert_eq!(too_deep(&"- ".repeat(1_000)), (1, 2 * MAX_DEPTH + 1));
    let mut yaml = String::new();
    for depth in 0..100 {
        yaml.push_str(&format!("{}-\n", " ".repeat(depth * 2)));
    }
    assert_eq!(too_deep(&yaml), (MAX_DEPTH + 1, 2 * MAX_DEPTH + 1));
}

/// Every line break the parser knows separates lines for the depth limit too: a file written with
/// CR, NEL, LS or PS line breaks cannot hide deep brackets after a first line.
#[test]
fn deep_brackets_after_other_line_breaks_are_refused_too() {
    let brackets = "[".repeat(1_000);
    for line_break in ["\n", "\r\n", "\r", "\u{85}", "\u{2028}", "\u{2029}"] {
        let yaml = format!("a: b{line_break}c:{line_break}  {brackets}");
        assert_eq!(too_deep(&yaml), (3, 2 + MAX_DEPTH), "{line_break:?}");
    }
    // And such files are read as the parser reads them.
    let definitions = from_yaml("integrations:\r  - id: a\r    kind: email\roperators: []\r").unwrap();
    assert_eq!(definitions.integrations[0].id, "a");
}

/// Deep brackets in the value of a key of any form, or in a document after a scalar one, are
/// counted: what the parser would read as structure is never skipped as text.
#[test]
fn deep_brackets_behind_keys_of_every_form_and_after_a_document_are_refused() {
    let brackets = "[".repeat(1_000);
    // The expected position: the first bracket whose level, counting the levels of the prefix (the
    // document's mapping, the `- ` entries), is beyond the limit.
    for (prefix, position) in [
        ("\"quoted key\": ", (1, 14 + 32)),
        ("'quoted key': ", (1, 14 + 32)),
        ("[flow, key]: ", (1, 13 + 32)),
        ("{flow: key}: ", (1, 13 + 32)),
        ("&anchor key: ", (1, 13 + 32)),
        ("a: &x 1\n*x : ", (2, 5 + 32)),
        ("? explicit\n: ", (2, 2 + 32)),
        ("- - - ", (1, 6 + 30)),
        ("just a scalar\n---\n", (3, 33)),
        ("--- |\n  a block scalar\n---\n", (4, 33)),
        ("--- plain\n  continued\n---\n", (4, 33)),
    ] {
        assert_eq!(too_deep(&format!("{prefix}{brackets}")), position, "{prefix:?}");
    }
}

/// The limit is exact: nesting at the limit goes to the parser, one level more is refused.
#[test]
fn nesting_is_refused_one_level_past_the_limit_not_at_it() {
    let block = |depth: usize| -> String {
        (0..depth)
            .map(|level| format!("{}a:\n", " ".repeat(level)))
            .collect()
    };
    type Form = fn(usize) -> String;
    let forms: [(&str, Form); 3] = [
        ("brackets", |depth| {
            format!("{}{}", "[".repeat(depth), "]".repeat(depth))
        }),
        ("flow maps", |depth| {
            format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth))
        }),
        ("sequence entries", |depth| "- ".repeat(depth)),
    ];
    for (name, form) in forms {
        not_too_deep(&form(MAX_DEPTH));
        assert_eq!(too_deep(&form(MAX_DEPTH + 1)).0, 1, "{name}");
    }
    not_too_deep(&block(MAX_DEPTH));
    assert_eq!(too_deep(&block(MAX_DEPTH + 1)), (MAX_DEPTH + 1, MAX_DEPTH + 1));
    // The settings of an integration may nest (they are checked by validation, not by the parser):
    // 4 levels of the file, 28 of the setting.
    let settings = |depth: usize| format!("{}1{}", "{a: ".repeat(depth), "}".repeat(depth));
    let yaml = |depth| {
        format!(
            "integrations:\n  - id: a\n    kind: email\n    settings:\n      x: {}\n",
            settings(depth)
        )
    };
    let definitions = from_yaml(&yaml(MAX_DEPTH - 4)).unwrap();
    assert!(definitions.integrations[0].settings.contains_key("x"));
    assert_eq!(too_deep(&yaml(MAX_DEPTH - 3)), (5, 10 + 4 * (MAX_DEPTH - 4)));
}

/// Brackets, braces, dashes and colons that are not structure do not count: in quoted scalars (over
/// several lines too), comments, block scalars, plain scalars and their continuation lines.
#[test]
fn text_that_only_looks_nested_is_not_counted() {
    let deep = "[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{{";
    let yaml = format!(
        r#"# {deep}
integrations:
  - id: hook # {deep}
    name: a[{deep} and {deep}
    kind: webhook
    variables:
      Single: '{deep} don''t {deep}'
      Double: "{deep} \" {deep}"
      Multi: "{deep}
        - {deep}
        a: {deep}"
    messages:
      - types: [Alert]
        steps:
          - url: "https://x.example/{{{{@monitor.name}}}}"
            body: |
              {deep}
                  - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
              a: [{deep}

              # {deep}
            headers: {{X-A: "{deep}", X-B: '{deep}'}}
  - id: mail
    name: plain {deep}
      continued {deep}
      - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - - -
    kind: email
    settings:
      subject: >-
        {deep}
        {deep}
      text: "{{% for x in [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]] %}}{{{{ x }}}}{{% endfor %}}"
operators:
  - {{id: op, name: "{deep}", email: op@example.com}}
"#
    );
    let definitions = from_yaml(&yaml).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(definitions.integrations.len(), 2);
    assert!(
        definitions.integrations[0].messages[0].steps[0]
            .body
            .as_deref()
            .unwrap()
            .contains(deep)
    );
    assert_eq!(
        definitions.integrations[1].name,
        format!("plain {deep} continued {deep} {}", "- ".repeat(39).trim_end())
    );
    assert_eq!(definitions.operators[0].name, deep);
    // The same in JSON: brackets inside strings, escaped quotes.
    let json = format!(
        r#"{{"integrations": [{{"id": "a\"{deep}", "kind": "email", "name": "{deep}\\"}}], "operators": [{{"id":"o","email":"o@example.com","name":'{deep}'}}]}}"#
    );
    let definitions = from_yaml(&json).unwrap_or_else(|error| panic!("{error}"));
    assert_eq!(definitions.integrations[0].name, format!("{deep}\\"));
    // None of it counted: real nesting after it is refused exactly where it passes the limit (the
    // document's mapping is one level, so the 32nd bracket is the one too many).
    let lines = yaml.lines().count();
    let tail = format!("monitorGroups:\n  {}\n", "[".repeat(40));
    assert_eq!(too_deep(&format!("{yaml}{tail}")), (lines + 2, 2 + MAX_DEPTH));
    let tail = format!(", \"monitorGroups\": {}", "[".repeat(40));
    let json = json.strip_suffix('}').unwrap();
    assert_eq!(
        too_deep(&format!("{json}{tail}")),
        (1, json.chars().count() + 19 + 32)
    );
}

#[test]
fn a_text_larger_than_the_limit_is_refused_unread() {
    let text = format!("# {}\n", "x".repeat(MAX_DEFINITIONS_BYTES));
    let error = from_yaml(&text).unwrap_err();
    assert!(
        matches!(error, LoadError::TooLarge { ref path, limit } if path == "$" && limit == MAX_DEFINITIONS_BYTES),
        "{error}"
    );
    assert_eq!(
        error.to_string(),
        "$: larger than the limit of 1048576 bytes for definitions (1 MiB)"
    );
    // A file: named, and refused at the limit without reading it whole.
    let dir = std::env::temp_dir().join(test_support::moto::unique("tocsin-large"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("defs.yaml");
    std::fs::write(&path, &text).unwrap();
    let error = load_file(&path).unwrap_err();
    assert!(matches!(error, LoadError::TooLarge { .. }), "{error}");
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: larger than the limit", path.display()))
    );
    // Exactly at the limit is fine.
    let text = format!("#{}", " ".repeat(MAX_DEFINITIONS_BYTES - 1));
    std::fs::write(&path, &text).unwrap();
    assert_eq!(load_file(&path).unwrap(), crate::Definitions::default());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Text from the file in a load error (a value, a key, an unknown kind) has its control characters
/// escaped: a crafted file cannot forge a line of `tocsin validate`'s output.
#[test]
fn control_characters_from_the_file_are_escaped_in_load_errors() {
    let cases = [
        // An unknown kind holding a line break and an ANSI escape.
        (
            "integrations:\n  - id: a\n    kind: \"pager\\nerror: forged\\e[0m\"\n",
            format!("integrations[0].kind: unknown variant `pager\\nerror: forged\\u{{1b}}[0m`, {} (line 3, column 11)", expected_kinds()),
        ),
        // An unknown key holding CR LF: in the path and in the message.
        (
            "integrations:\n  - id: a\n    kind: email\n    \"x\\r\\ny\": 1\n",
            "integrations[0].x\\r\\ny: unknown field `x\\r\\ny`, expected one of `id`, `name`, `kind`, `active`, `variables`, `messages`, `settings`, `fallback` (line 4, column 5)".to_owned(),
        ),
        // An unknown key of a variable (the model's own message), with NUL.
        (
            "integrations:\n  - id: a\n    kind: email\n    variables:\n      V: {\"se\\0cret\": x}\n",
            "integrations[0].variables.V: unknown key `se\\u{0}cret` in variable (expected a string (fixed value), {secret: \"ssm:/…\" | \"secretsmanager:…\"} or {perLevel: true, default?: \"…\"}) (line 5, column 10)".to_owned(),
        ),
    ];
    for (yaml, expected) in cases {
        let error = from_yaml(yaml).unwrap_err();
        let text = error.to_string();
        assert_eq!(text, expected);
        assert!(!text.contains(['\n', '\r', '\0', '\u{1b}']), "{text:?}");
    }
}
