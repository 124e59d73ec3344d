//! User functions: each kind, through the engine in both syntaxes, and their checks.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use super::{
    Engine, Escape, RenderContext, TemplateSource,
    functions::{FunctionDef, Functions, check},
};
use crate::{Alert, AlertType};

const SOURCE: TemplateSource<'static> = TemplateSource {
    integration: "hook",
    field: "messages[0].steps[0].body",
};

fn defs(yaml: serde_json::Value) -> BTreeMap<String, FunctionDef> {
    serde_json::from_value(yaml).unwrap_or_else(|error| panic!("{error}"))
}

fn compiled(yaml: serde_json::Value) -> Functions {
    Functions::compile(&defs(yaml), |_, template| {
        Ok(template.replace("{{HmacKey}}", "Jefe"))
    })
    .unwrap_or_else(|(path, problem)| panic!("{path}: {problem}"))
}

fn now() -> DateTime<Utc> {
    "2026-07-01T12:00:00Z".parse().expect("time")
}

fn alert() -> Alert {
    let mut alert = Alert::default();
    alert.alert.alert_type = AlertType::Ok;
    alert.alert.timestamp_utc = "2026-11-28T16:26:58".to_owned();
    alert.monitor.name = "Shop & \"API\"".to_owned();
    alert
}

fn render(functions: &Functions, template: &str, escape: Escape) -> Result<String, String> {
    let variables = BTreeMap::from([("Text".to_owned(), "a b/c".to_owned())]);
    let alert = alert();
    let context = RenderContext {
        alert: &alert,
        variables: &variables,
        now: now(),
    };
    Engine::new()
        .render_with(SOURCE, template, escape, &context, functions)
        .map_err(|error| error.to_string())
}

#[test]
fn a_mapping_table_maps_and_falls_back_to_its_default() {
    let functions = compiled(serde_json::json!({
        "status": {"type": "map", "values": {"Ok": "resolved", "Alert": "triggered"}, "default": "unknown"},
        "strict": {"type": "map", "values": {"Alert": "triggered"}},
    }));
    assert_eq!(
        render(
            &functions,
            r#"{"s": "{{status({{@alert.type}})}}"}"#,
            Escape::Json
        )
        .unwrap(),
        r#"{"s": "resolved"}"#
    );
    assert_eq!(
        render(&functions, "{{ status('Reminder') }}", Escape::Text).unwrap(),
        "unknown"
    );
    let error = render(&functions, "x\n{{strict({{@alert.type}})}}", Escape::Text).unwrap_err();
    assert_eq!(
        error,
        "integration `hook`, field `messages[0].steps[0].body`, line 2: strict: no entry for `Ok` and no default"
    );
}

#[test]
fn a_regex_extracts_a_capture_or_replaces_every_match() {
    let functions = compiled(serde_json::json!({
        "first": {"type": "regex", "pattern": "^(\\w+)"},
        "named": {"type": "regex", "pattern": "\"(?P<word>[A-Z]+)\"", "group": "word"},
        "dashes": {"type": "regex", "pattern": "[^a-z]+", "replace": "-"},
        "nothing": {"type": "regex", "pattern": "zzz(\\d)", "default": "n/a"},
    }));
    assert_eq!(
        render(&functions, "{{first({{@monitor.name}})}}", Escape::Text).unwrap(),
        "Shop"
    );
    assert_eq!(
        render(&functions, "{{ named(monitor.name) }}", Escape::Text).unwrap(),
        "API"
    );
    assert_eq!(
        render(&functions, "{{ dashes('ab CD ef') }}", Escape::Text).unwrap(),
        "ab-ef"
    );
    assert_eq!(
        render(&functions, "{{ nothing('abc') }}", Escape::Text).unwrap(),
        "n/a"
    );
}

#[test]
fn hashes_give_the_standard_test_vectors() {
    let functions = compiled(serde_json::json!({
        "md5": {"type": "hash", "algorithm": "md5"},
        "sha1": {"type": "hash", "algorithm": "sha1"},
        "sha256": {"type": "hash", "algorithm": "sha256", "encoding": "base64"},
        "sha512": {"type": "hash", "algorithm": "sha512"},
    }));
    let call = |name: &str| functions.call(name, "abc", now()).unwrap();
    assert_eq!(call("md5"), "900150983cd24fb0d6963f7d28e17f72");
    assert_eq!(call("sha1"), "a9993e364706816aba3e25717850c26c9cd0d89d");
    assert_eq!(call("sha256"), "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    assert!(
        call("sha512").starts_with("ddaf35a193617aba"),
        "{}",
        call("sha512")
    );
}

#[test]
fn hmacs_use_the_rendered_key_rfc_4231_and_2202() {
    let functions = compiled(serde_json::json!({
        "h1": {"type": "hmac", "algorithm": "sha1", "key": "{{HmacKey}}"},
        "h256": {"type": "hmac", "algorithm": "sha256", "key": "{{HmacKey}}"},
        "h512": {"type": "hmac", "algorithm": "sha512", "key": "{{HmacKey}}"},
        "k64": {"type": "hmac", "algorithm": "sha256", "key": "SmVmZQ==", "keyEncoding": "base64"},
    }));
    let data = "what do ya want for nothing?";
    assert_eq!(
        functions.call("h1", data, now()).unwrap(),
        "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79"
    );
    assert_eq!(
        functions.call("h256", data, now()).unwrap(),
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
    assert!(
        functions
            .call("h512", data, now())
            .unwrap()
            .starts_with("164b7a7bfcf819e2")
    );
    assert_eq!(
        functions.call("k64", data, now()).unwrap(),
        functions.call("h256", data, now()).unwrap()
    );
}

#[test]
fn an_hmac_key_that_does_not_render_names_the_field_without_the_value() {
    let error = Functions::compile(
        &defs(serde_json::json!({"sig": {"type": "hmac", "algorithm": "sha256", "key": "{{K}}", "keyEncoding": "hex"}})),
        |_, _| Ok("not-hex-s3cret".to_owned()),
    )
    .unwrap_err();
    assert_eq!(error.0, "sig.key");
    assert!(!error.1.contains("s3cret"), "{}", error.1);
}

#[test]
fn encodings_round_trip_and_url_encoding_is_not_encoded_twice_in_a_url() {
    let functions = compiled(serde_json::json!({
        "b64": {"type": "encode", "encoding": "base64"},
        "b64url": {"type": "encode", "encoding": "base64url"},
        "url": {"type": "encode", "encoding": "url"},
        "hex": {"type": "encode", "encoding": "hex"},
        "unb64": {"type": "decode", "encoding": "base64"},
        "unhex": {"type": "decode", "encoding": "hex"},
    }));
    assert_eq!(functions.call("b64", "a b/c", now()).unwrap(), "YSBiL2M=");
    assert_eq!(functions.call("b64url", "??>", now()).unwrap(), "Pz8-");
    assert_eq!(functions.call("hex", "ab", now()).unwrap(), "6162");
    assert_eq!(functions.call("unb64", "YSBiL2M=", now()).unwrap(), "a b/c");
    assert_eq!(functions.call("unhex", "6162", now()).unwrap(), "ab");
    assert_eq!(
        render(
            &functions,
            "https://x.example.com/q?v={{url({{Text}})}}",
            Escape::Url
        )
        .unwrap(),
        "https://x.example.com/q?v=a%20b%2Fc"
    );
}

#[test]
fn dates_are_formatted_in_a_time_zone() {
    let functions = compiled(serde_json::json!({
        "ams": {"type": "date", "format": "yyyy-MM-dd HH:mm zzz", "timeZone": "Europe/Amsterdam"},
        "iso": {"type": "date", "format": "Iso", "timeZone": "America/New_York"},
        "utc": {"type": "date", "format": "Unix"},
    }));
    assert_eq!(
        render(&functions, "{{ams({{@alert.timestampUtc}})}}", Escape::Text).unwrap(),
        "2026-11-28 17:26 +01:00"
    );
    assert_eq!(
        functions.call("ams", "", now()).unwrap(),
        "2026-07-01 14:00 +02:00"
    );
    assert_eq!(
        functions.call("iso", "2026-07-01T12:00:00Z", now()).unwrap(),
        "2026-07-01T08:00:00-04:00"
    );
    assert_eq!(
        functions.call("utc", "2026-07-01T12:00:00Z", now()).unwrap(),
        "1782907200"
    );
    let error = functions.call("ams", "yesterday", now()).unwrap_err();
    assert!(error.contains("is not a date"), "{error}");
}

#[test]
fn check_reports_every_problem_with_its_path() {
    let problems = check(&defs(serde_json::json!({
        "bad-name": {"type": "hash", "algorithm": "md5"},
        "JsonEncode": {"type": "hash", "algorithm": "md5"},
        "pattern": {"type": "regex", "pattern": "(unclosed"},
        "group": {"type": "regex", "pattern": "(a)", "group": 3},
        "named": {"type": "regex", "pattern": "(a)", "group": "x"},
        "mixed": {"type": "regex", "pattern": "a", "replace": "b", "default": "c"},
        "zone": {"type": "date", "format": "Iso", "timeZone": "Mars/Olympus"},
        "format": {"type": "date", "format": "'unterminated"},
        "huge": {"type": "regex", "pattern": "\\w{1000}\\w{1000}\\w{1000}"},
    })));
    let paths: Vec<&str> = problems.iter().map(|(path, _)| path.as_str()).collect();
    assert_eq!(
        paths,
        [
            "JsonEncode",
            "bad-name",
            "format.format",
            "group.group",
            "huge.pattern",
            "mixed.replace",
            "named.group",
            "pattern.pattern",
            "zone.timeZone",
        ],
        "{problems:?}"
    );
    let zone = &problems[8].1;
    assert!(zone.contains("unknown time zone `Mars/Olympus`"), "{zone}");
}

#[test]
fn unknown_function_types_and_fields_are_refused_by_serde() {
    let error = serde_json::from_value::<FunctionDef>(serde_json::json!({"type": "crc32"})).unwrap_err();
    assert!(error.to_string().contains("unknown variant `crc32`"), "{error}");
    let error = serde_json::from_value::<FunctionDef>(
        serde_json::json!({"type": "hash", "algorithm": "md5", "salt": "x"}),
    )
    .unwrap_err();
    assert!(error.to_string().contains("unknown field `salt`"), "{error}");
}

#[test]
fn truncate_cuts_at_a_character_count_with_an_ellipsis() {
    let functions = Functions::default();
    assert_eq!(
        render(&functions, "{{ 'héllo wörld' | truncate(5) }}", Escape::Text).unwrap(),
        "héll…"
    );
    assert_eq!(
        render(&functions, "{{ 'short' | truncate(5) }}", Escape::Text).unwrap(),
        "short"
    );
    assert_eq!(
        render(
            &functions,
            r#"{"t": "{{ monitor.name | truncate(4) }}"}"#,
            Escape::Json
        )
        .unwrap(),
        r#"{"t": "Sho…"}"#
    );
}
