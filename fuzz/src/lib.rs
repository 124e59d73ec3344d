//! The bodies of the fuzz targets: each takes arbitrary bytes, feeds them to the code under test and
//! panics when the code panics or breaks an invariant that must hold for any input.
//!
//! The same file is the `bodies` module of the replay test `tests/it/fuzz_corpus.rs`, which runs every
//! committed corpus file through these functions without the fuzzer, so it may use only crates that
//! the `e2e` test crate has too (alert-model, definition-store, serde_json, chrono).
//!
//! Inputs are split on NUL bytes into fields (see each target), so that a seed is readable text: a
//! seed with no NUL is just the message, the template or the definitions file.
#![forbid(unsafe_code)]

use std::{
    collections::{BTreeMap, BTreeSet, HashSet},
    ptr,
};

use alert_model::{
    Alert, AlertType, IntegrationKind, Monitor, NativeEnvelope,
    inbound::{InboundError, InboundFormat, InboundMessage, MAX_MESSAGE_BYTES, normalize},
    template::{Engine, Escape, MAX_OUTPUT_BYTES, RenderContext, TemplateSource},
};
use definition_store::{
    AlertDefinition, Catalog, Definitions, EscalationLevel, LoadError, Operator, Route, VariableDef,
    from_yaml, selector::Selector, validate,
};

/// A fuzz target body.
pub type Body = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/<name>.rs` and `corpus/<name>/`.
pub const TARGETS: &[(&str, Body)] = &[
    ("inbound", inbound),
    ("template", template),
    ("definitions_yaml", definitions_yaml),
    ("definitions_json", definitions_json),
];

/// The SNS message id used when the input gives none.
const MESSAGE_ID: &str = "0c9a3b7e-5d1f-5a2b-8e4c-6f7a8b9c0d1e";
/// The SNS timestamp used when the input gives none.
const SNS_TIME: &str = "2026-11-28T10:00:30.000Z";

/// The NUL-separated fields of `data`, as text (invalid UTF-8 replaced: SNS delivers text only).
fn fields(data: &[u8]) -> Vec<String> {
    data.split(|byte| *byte == 0)
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

/// `name=value` lines (a line without `=` is a name with an empty value).
fn pairs(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter(|line| !line.is_empty())
        .map(|line| match line.split_once('=') {
            Some((name, value)) => (name.to_owned(), value.to_owned()),
            None => (line.to_owned(), String::new()),
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// inbound

/// `inbound`: fields `message \0 subject \0 message id \0 timestamp \0 attributes`.
///
/// A missing subject is `None`; a missing message id or timestamp takes a realistic default, an empty
/// timestamp is `None`; attributes are `name=value` lines. Invariants:
/// - normalising is deterministic (a redelivered message gives the same alert);
/// - errors are only `Empty` for blank messages, `TooLarge` above the limit, and `Invalid` for
///   JSON; text that does not start like JSON is never refused (plain text is never dropped);
/// - a normalised alert has a non-blank `alert.alertGuid` and `incident.key`;
/// - the alert re-published as a native envelope normalises to the same alert, as native;
/// - a message that deserialises as a `NativeEnvelope` survives a serialise/deserialise round trip.
pub fn inbound(data: &[u8]) {
    let parts = fields(data);
    let message = parts.first().map_or("", String::as_str);
    let subject = parts.get(1).map(String::as_str);
    let message_id = parts.get(2).map_or(MESSAGE_ID, String::as_str);
    let timestamp = match parts.get(3) {
        None => Some(SNS_TIME),
        Some(text) if text.is_empty() => None,
        Some(text) => Some(text.as_str()),
    };
    let attributes = parts.get(4).map(|text| pairs(text)).unwrap_or_default();
    let input = InboundMessage {
        message,
        subject,
        message_id,
        timestamp,
        attributes: &attributes,
    };

    let result = normalize(&input);
    let again = normalize(&input);
    assert_eq!(result, again, "normalising the same message twice differs");
    match &result {
        Ok(normalized) => {
            check_alert(&normalized.alert);
            republish_as_native(&normalized.alert, &input);
        }
        Err(error) => check_inbound_error(error, message),
    }
    native_envelope_round_trip(message);
}

fn check_inbound_error(error: &InboundError, message: &str) {
    assert!(!error.to_string().is_empty(), "an inbound error has no message");
    let blank = message.trim().is_empty();
    match error {
        InboundError::Empty => assert!(blank, "a message with text was refused as empty"),
        InboundError::TooLarge { size, max } => {
            assert_eq!(*size, message.len(), "the size in TooLarge is not the message's");
            assert!(size > max, "a message within the limit was refused as too large");
        }
        InboundError::Invalid { path, reason, .. } => {
            assert!(!blank, "a blank message was refused as invalid, not empty");
            assert!(path.starts_with('$'), "invalid path `{path}` is not a JSON path");
            assert!(!reason.is_empty(), "an invalid message error has no reason");
            let text = message.trim_start_matches('\u{feff}').trim_start();
            assert!(
                text.starts_with('{') || text.starts_with('['),
                "text that does not start like JSON was refused: {error}"
            );
        }
    }
}

fn check_alert(alert: &Alert) {
    assert!(
        !alert.alert.alert_guid.trim().is_empty(),
        "a normalised alert has a blank alert.alertGuid"
    );
    assert!(
        !alert.incident.key.trim().is_empty(),
        "a normalised alert has a blank incident.key"
    );
}

/// A normalised alert published again as a native envelope (one Tocsin feeding another, the "all
/// variables" preset) must come back unchanged.
fn republish_as_native(alert: &Alert, input: &InboundMessage<'_>) {
    let envelope = match serde_json::to_string(&NativeEnvelope::new(alert.clone())) {
        Ok(text) => text,
        Err(error) => panic!("a normalised alert does not serialise: {error}"),
    };
    let republished = InboundMessage {
        message: &envelope,
        ..*input
    };
    match normalize(&republished) {
        Ok(again) => {
            assert_eq!(
                again.format,
                InboundFormat::Native,
                "a native envelope was not recognised"
            );
            assert_eq!(
                &again.alert, alert,
                "a normalised alert republished as a native envelope normalises differently"
            );
        }
        Err(InboundError::TooLarge { .. }) if envelope.len() > MAX_MESSAGE_BYTES => {}
        Err(error) => panic!("a normalised alert republished as a native envelope is refused: {error}"),
    }
}

fn native_envelope_round_trip(message: &str) {
    let Ok(envelope) = serde_json::from_str::<NativeEnvelope>(message) else {
        return;
    };
    let text = match serde_json::to_string(&envelope) {
        Ok(text) => text,
        Err(error) => panic!("a native envelope does not serialise: {error}"),
    };
    match serde_json::from_str::<NativeEnvelope>(&text) {
        Ok(back) => assert_eq!(back, envelope, "a native envelope changes in a round trip"),
        Err(error) => panic!("a serialised native envelope does not deserialise: {error}"),
    }
}

// ---------------------------------------------------------------------------------------------
// template

/// Every escape context a template is rendered in.
const ESCAPES: &[Escape] = &[
    Escape::Text,
    Escape::Html,
    Escape::Json,
    Escape::Url,
    Escape::Header,
];

/// `template`: fields `template \0 description \0 monitor name \0 custom fields \0 variables \0
/// alert type`; custom fields and variables are `name=value` lines. A seed with only a template
/// renders against hostile default values.
///
/// The template is rendered in every [`Escape`] context, twice with the same engine (the second
/// from its cache). Invariants: no panic; both renders agree (but for `RandomGuid` values); the output is at most
/// [`MAX_OUTPUT_BYTES`]; a Json render parses as JSON; a Header render has no CR or LF; a template
/// that `Engine::check` accepts (what `tocsin validate` runs) renders without a syntax error, and
/// one that it refuses does not render as text.
pub fn template(data: &[u8]) {
    let parts = fields(data);
    let template = parts.first().map_or("", String::as_str);
    let mut alert = hostile_alert();
    let mut variables = hostile_variables();
    if let Some(description) = parts.get(1) {
        alert.alert.description.clone_from(description);
    }
    if let Some(name) = parts.get(2) {
        alert.monitor.name.clone_from(name);
    }
    if let Some(custom) = parts.get(3) {
        alert.monitor.custom_fields = pairs(custom);
    }
    if let Some(user) = parts.get(4) {
        variables = pairs(user);
    }
    if let Some(alert_type) = parts.get(5).and_then(|text| AlertType::parse(text)) {
        alert.alert.alert_type = alert_type;
    }
    let context = RenderContext {
        alert: &alert,
        variables: &variables,
        now: chrono::DateTime::from_timestamp(1_796_000_000, 0).unwrap_or_default(),
    };
    let engine = Engine::new();
    let source = TemplateSource {
        integration: "fuzz",
        field: "template",
    };
    let checked = engine.check(source, template);
    // `RandomGuid` gives a new value at each render, by design.
    let random = template.to_ascii_lowercase().contains("randomguid");
    for escape in ESCAPES {
        let first = engine.render(source, template, *escape, &context);
        let cached = engine.render(source, template, *escape, &context);
        if random {
            assert_eq!(
                first.is_ok(),
                cached.is_ok(),
                "a cached render differs ({escape:?})"
            );
        } else {
            assert_eq!(first, cached, "a cached render differs ({escape:?})");
        }
        match &first {
            Ok(output) => {
                assert!(
                    output.len() <= MAX_OUTPUT_BYTES,
                    "a {escape:?} render of {} bytes exceeds the output limit",
                    output.len()
                );
                match escape {
                    Escape::Json => {
                        if let Err(error) = serde_json::from_str::<serde_json::Value>(output) {
                            panic!("a successful Json render does not parse: {error}: {output:?}");
                        }
                    }
                    Escape::Header => assert!(
                        !output.contains(['\r', '\n']),
                        "a successful Header render contains CR or LF: {output:?}"
                    ),
                    Escape::Text | Escape::Html | Escape::Url => {}
                }
                assert!(
                    checked.is_ok() || *escape != Escape::Text,
                    "a template refused by check renders as text: {checked:?}"
                );
            }
            Err(error) => {
                assert!(!error.reason.is_empty(), "a template error has no reason");
                assert!(
                    !(checked.is_ok() && error.reason.starts_with("syntax error")),
                    "a template accepted by check has a syntax error when rendered ({escape:?}): {error}"
                );
            }
        }
    }
}

/// An alert whose values are hostile in every context: markup, quotes, backslashes, line breaks,
/// template syntax, non-ASCII.
fn hostile_alert() -> Alert {
    let mut alert = Alert::default();
    alert.alert.alert_guid = "cbfc7769-edb2-46a7-89d0-1e1b1fb0815b".to_owned();
    alert.alert.description =
        "Disk <b>full</b> & \"quoted\" 'single' \\ back\r\nslash {{@monitor.name}} {% raw %} é 😀".to_owned();
    alert.alert.timestamp_utc = "2026-11-28T10:00:30".to_owned();
    alert.alert.timestamp = "2026-11-28T10:00:30".to_owned();
    alert.alert.first_error_utc = "2026-11-28T09:58:00".to_owned();
    alert.alert.response_body = "{\"error\": \"</script><script>alert(1)</script>\"}".to_owned();
    alert.incident.key = "incident-1".to_owned();
    alert.monitor.monitor_guid = "7d8f2c4e-1a3b-4c5d-9e8f-0a1b2c3d4e5f".to_owned();
    alert.monitor.name = "web-01 \"prod\" <eu>".to_owned();
    alert.monitor.url = "https://example.com/check?a=1&b=<2>".to_owned();
    alert.monitor.notes = "line one\nline two\ttabbed \u{0} nul".to_owned();
    alert.monitor.custom_fields = BTreeMap::from([
        ("Team".to_owned(), "ops & <sre>".to_owned()),
        ("Region".to_owned(), "eu-west-1".to_owned()),
        ("Quote".to_owned(), "\"}, \"injected\": true, {\"".to_owned()),
    ]);
    alert
}

fn hostile_variables() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("ApiKey".to_owned(), "k3y\"\\<>&".to_owned()),
        ("ApiUrl".to_owned(), "https://api.example.com/v1".to_owned()),
        ("User".to_owned(), "user".to_owned()),
        ("Password".to_owned(), "p:ss word".to_owned()),
        ("Multi".to_owned(), "a\r\nInjected: yes".to_owned()),
    ])
}

// ---------------------------------------------------------------------------------------------
// definitions

/// `definitions_yaml`: the text is a definitions file, loaded as `tocsin validate` and a function
/// with `TOCSIN_DEFINITIONS_FILE` load it ([`from_yaml`]), then checked by [`check_definitions`].
pub fn definitions_yaml(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match from_yaml(&text) {
        Ok(definitions) => check_definitions(&definitions),
        Err(error) => check_load_error(&error, &yaml_secret_numbers(&text)),
    }
}

/// `definitions_json`: the text is a JSON definitions file, loaded both by [`from_yaml`] (JSON is
/// YAML too: `tocsin validate -f defs.json`) and by serde_json (the path DynamoDB items take, as
/// JSON values, into the model). When both accept it they must agree; each result is checked by
/// [`check_definitions`].
pub fn definitions_json(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let from_json = serde_json::from_str::<Definitions>(&text);
    let loaded = from_yaml(&text);
    if let (Ok(json), Ok(yaml)) = (&from_json, &loaded) {
        assert_eq!(
            json, yaml,
            "the YAML loader and serde_json read the same JSON differently"
        );
    }
    // The values of the `secret` keys, when the text is JSON (serde_json's type errors, the only
    // ones that quote values, need it to be).
    let mut secrets = Vec::new();
    if let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) {
        json_secret_values(&value, &mut secrets);
    }
    // A reference (`ssm:…`, `secretsmanager:…`) is no secret, and its prefix is in fixed messages.
    secrets.retain(|secret| {
        !secret.starts_with("ssm:")
            && !secret.starts_with("secretsmanager:")
            && secret.chars().count() >= 8
            && text.matches(secret.as_str()).count() <= 1
    });
    match &from_json {
        Ok(definitions) => check_definitions(definitions),
        Err(error) => {
            let message = error.to_string();
            for secret in &secrets {
                assert!(
                    !message.contains(secret.as_str()),
                    "a JSON load error echoes the value of a `secret` key: {message}"
                );
            }
        }
    }
    match &loaded {
        Ok(definitions) => check_definitions(definitions),
        Err(error) => check_load_error(error, &secrets),
    }
}

/// A load error has a path and a reason, and its reason does not quote `secrets` (the values of
/// `secret` keys: a secret written there by mistake).
fn check_load_error(error: &LoadError, secrets: &[String]) {
    assert!(!error.to_string().is_empty(), "a load error has no message");
    let LoadError::Parse { path, reason } = error else {
        return;
    };
    assert!(!path.is_empty(), "a load error has no path");
    assert!(!reason.is_empty(), "a load error has no reason");
    // A document that is not a mapping (a scalar, a list) has no `secret` key: the parser may
    // quote the document itself.
    if path == "$" && reason.starts_with("invalid type") {
        return;
    }
    for secret in secrets {
        assert!(
            !reason.contains(secret.as_str()),
            "a load error echoes the value of a `secret` key: {error}"
        );
    }
}

/// The values of the `secret` keys of a YAML text that are numbers (`secret: 84731902`), found
/// without a parser (the text may not parse, and its error is what is checked): the parser's type
/// errors quote numbers, while a string is taken as a reference and never quoted. A value counts
/// when `secret` is at a key position (after `{`, `,`, `- ` or at the start of a line), followed by
/// `: ` and a plain number of at least 8 characters found once in the text.
fn yaml_secret_numbers(text: &str) -> Vec<String> {
    let mut values = Vec::new();
    for (at, _) in text.match_indices("secret") {
        let before = &text[..at];
        let boundary = before.trim_end_matches([' ', '\t']);
        let spaced = boundary.len() < before.len();
        let at_key = boundary.is_empty()
            || boundary.ends_with(['{', ',', '\n'])
            || (spaced && boundary.ends_with('-'));
        let rest = &text[at + "secret".len()..];
        let Some(after) = rest.trim_start_matches([' ', '\t']).strip_prefix(':') else {
            continue;
        };
        if !at_key || !after.starts_with([' ', '\t']) {
            continue;
        }
        let value = after
            .trim_start_matches([' ', '\t'])
            .split(['\n', '\r', ',', '}', ']', '#', ' '])
            .next()
            .unwrap_or_default();
        let numeric = value
            .chars()
            .all(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'));
        if numeric && value.chars().count() >= 8 && text.matches(value).count() == 1 {
            values.push(value.to_owned());
        }
    }
    values
}

/// The scalar values of the `secret` keys of a JSON value, as text.
fn json_secret_values(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::Array(items) => items.iter().for_each(|item| json_secret_values(item, out)),
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                match item {
                    serde_json::Value::String(text) if key == "secret" => out.push(text.clone()),
                    serde_json::Value::Number(number) if key == "secret" => out.push(number.to_string()),
                    _ => json_secret_values(item, out),
                }
            }
        }
        _ => {}
    }
}

/// At most this many sample alerts (each in every alert type) are routed per input.
const MAX_ALERTS: usize = 64;

/// Checks loaded definitions:
/// - [`validate`] does not panic, every issue has a path and a message, and no message echoes a
///   secret reference;
/// - the definitions survive the JSON round trip that `tocsin apply` and the DynamoDB store make;
/// - [`Catalog::new`] indexes them, and [`Catalog::routes`] gives, for sample alerts built from the
///   definitions' own selectors, levels and ids, of every type and for every kind, exactly the routes
///   that a plain scan of the definitions following the documented rules gives.
pub fn check_definitions(definitions: &Definitions) {
    let issues = validate(definitions);
    let secrets = secret_refs(definitions);
    for issue in &issues {
        assert!(!issue.path.is_empty(), "a validation issue has no path: {issue}");
        assert!(
            !issue.message.is_empty(),
            "a validation issue has no message: {issue}"
        );
        for secret in &secrets {
            assert!(
                !issue.message.contains(secret.as_str()),
                "a validation message echoes a secret reference: {issue}"
            );
        }
    }

    match serde_json::to_value(definitions).map(serde_json::from_value::<Definitions>) {
        Ok(Ok(back)) => assert_eq!(&back, definitions, "definitions change in a JSON round trip"),
        Ok(Err(error)) => panic!("serialised definitions do not load back: {error}"),
        Err(error) => panic!("definitions do not serialise: {error}"),
    }

    let catalog = Catalog::new(definitions.clone());
    let stats = catalog.stats();
    assert_eq!(stats.definitions, definitions.alert_definitions.len());
    assert_eq!(stats.integrations, definitions.integrations.len());
    assert_eq!(stats.operators, definitions.operators.len());
    let loaded = catalog.definitions();
    for integration in &loaded.integrations {
        let first = loaded.integrations.iter().find(|i| i.id == integration.id);
        assert!(
            opt_ptr_eq(catalog.integration(&integration.id), first),
            "Catalog::integration is not the first integration with the id"
        );
    }
    for definition in &loaded.alert_definitions {
        let first = loaded.alert_definitions.iter().find(|d| d.id == definition.id);
        assert!(
            opt_ptr_eq(catalog.alert_definition(&definition.id), first),
            "Catalog::alert_definition is not the first definition with the id"
        );
    }
    for alert in sample_alerts(loaded) {
        for kind in IntegrationKind::ALL {
            let routes = catalog.routes(&alert, *kind);
            let expected = naive_routes(loaded, &alert, *kind);
            assert_eq!(
                route_keys(&routes),
                expected,
                "Catalog::routes differs from a plain scan for monitor {:?}, level {}, type {}, \
                 definition guid {:?}, kind {kind}",
                alert.monitor,
                alert.escalation_level.id,
                alert.alert.alert_type,
                alert.alert_definition.guid
            );
        }
    }
}

fn opt_ptr_eq<T>(a: Option<&T>, b: Option<&T>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => ptr::eq(a, b),
        (None, None) => true,
        _ => false,
    }
}

/// Secret references that look like a misplaced secret value (not `ssm:` or `secretsmanager:`),
/// long enough that a message cannot contain them by chance, that appear nowhere else in the
/// definitions (an id or template equal to one may be printed) and in no message that validation
/// gives when they are replaced by another value (a fixed phrase of a message).
fn secret_refs(definitions: &Definitions) -> Vec<String> {
    let is_candidate = |secret: &str| {
        !secret.starts_with("ssm:") && !secret.starts_with("secretsmanager:") && secret.chars().count() >= 12
    };
    let refs: Vec<&str> = definitions
        .integrations
        .iter()
        .flat_map(|integration| integration.variables.values())
        .filter_map(|variable| match variable {
            VariableDef::Secret { secret } if is_candidate(&secret.0) => Some(secret.0.as_str()),
            VariableDef::Secret { .. } | VariableDef::Fixed(_) | VariableDef::PerLevel { .. } => None,
        })
        .collect();
    if refs.is_empty() {
        return Vec::new();
    }
    let mut others = String::new();
    if let Ok(value) = serde_json::to_value(definitions) {
        public_text(&value, false, &mut others);
    }
    let mut replaced = definitions.clone();
    for integration in &mut replaced.integrations {
        for variable in integration.variables.values_mut() {
            if let VariableDef::Secret { secret } = variable
                && is_candidate(&secret.0)
            {
                secret.0 = "x".to_owned();
            }
        }
    }
    for issue in validate(&replaced) {
        others.push_str(&issue.message);
        others.push('\n');
    }
    refs.into_iter()
        .filter(|secret| !others.contains(secret))
        .map(str::to_owned)
        .collect()
}

/// Every key and string of `value` except the values of `secret` keys, newline-separated.
fn public_text(value: &serde_json::Value, secret: bool, out: &mut String) {
    match value {
        serde_json::Value::String(text) if !secret => {
            out.push_str(text);
            out.push('\n');
        }
        serde_json::Value::Array(items) => {
            for item in items {
                public_text(item, false, out);
            }
        }
        serde_json::Value::Object(map) => {
            for (key, item) in map {
                out.push_str(key);
                out.push('\n');
                public_text(item, key == "secret", out);
            }
        }
        _ => {}
    }
}

/// Alerts that reach into the definitions: monitors named by every selector (guids in other cases
/// and untrimmed too), an unknown monitor and none, every level id in use, definitions named by guid
/// (and an unknown one); each in every alert type.
fn sample_alerts(definitions: &Definitions) -> Vec<Alert> {
    let mut monitors = vec![
        Monitor::default(),
        Monitor {
            monitor_guid: "no-such-monitor".to_owned(),
            name: "no such monitor".to_owned(),
            ..Monitor::default()
        },
    ];
    let selectors = definitions
        .alert_definitions
        .iter()
        .flat_map(|definition| &definition.monitors)
        .chain(
            definitions
                .monitor_groups
                .iter()
                .flat_map(|group| &group.monitors),
        );
    for text in selectors.take(16) {
        monitors.push(Monitor {
            monitor_guid: text.clone(),
            name: text.clone(),
            ..Monitor::default()
        });
        match Selector::parse(text) {
            Ok(Selector::Guid(guid)) => {
                for guid in [
                    guid.to_owned(),
                    guid.to_ascii_uppercase(),
                    guid.to_ascii_lowercase(),
                ] {
                    monitors.push(Monitor {
                        monitor_guid: guid,
                        ..Monitor::default()
                    });
                }
            }
            Ok(Selector::Name(name)) => monitors.push(Monitor {
                name: name.to_owned(),
                ..Monitor::default()
            }),
            Ok(Selector::Tag(field, value)) => monitors.push(Monitor {
                custom_fields: BTreeMap::from([(field.to_owned(), value.to_owned())]),
                ..Monitor::default()
            }),
            Ok(Selector::All | Selector::Group(_)) | Err(_) => {}
        }
    }
    let mut levels: BTreeSet<u32> = BTreeSet::from([1, 0]);
    levels.extend(
        definitions
            .alert_definitions
            .iter()
            .flat_map(|definition| definition.levels.iter().map(|level| level.id))
            .take(4),
    );
    let mut named: Vec<String> = definitions
        .alert_definitions
        .iter()
        .map(|definition| definition.id.clone())
        .take(4)
        .collect();
    named.push("no-such-definition".to_owned());

    let mut plans: Vec<(&Monitor, u32, &str)> = monitors
        .iter()
        .flat_map(|monitor| levels.iter().map(move |level| (monitor, *level, "")))
        .take(MAX_ALERTS.saturating_sub(named.len()))
        .collect();
    plans.extend(named.iter().map(|guid| (&monitors[0], 1, guid.as_str())));
    let mut alerts = Vec::new();
    for (monitor, level, guid) in plans {
        for alert_type in AlertType::ALL {
            let mut alert = Alert {
                monitor: monitor.clone(),
                ..Alert::default()
            };
            alert.escalation_level.id = level;
            alert.alert.alert_type = *alert_type;
            alert.alert_definition.guid = guid.to_owned();
            alerts.push(alert);
        }
    }
    alerts
}

/// A route by the addresses of what it refers to, so that two routes compare as the same objects.
type RouteKey = (
    *const AlertDefinition,
    *const EscalationLevel,
    *const definition_store::Attachment,
    *const definition_store::Integration,
    Vec<*const Operator>,
);

fn route_keys(routes: &[Route<'_>]) -> Vec<RouteKey> {
    routes
        .iter()
        .map(|route| {
            (
                ptr::from_ref(route.definition),
                ptr::from_ref(route.level),
                ptr::from_ref(route.attachment),
                ptr::from_ref(route.integration),
                route.recipients.iter().map(|o| ptr::from_ref(*o)).collect(),
            )
        })
        .collect()
}

/// The routes of `kind` for `alert` by a plain scan, following the rules documented on
/// [`Catalog::routes`] and in the `catalog` module.
fn naive_routes(definitions: &Definitions, alert: &Alert, kind: IntegrationKind) -> Vec<RouteKey> {
    let guid = alert.alert_definition.guid.as_str();
    let named = (!guid.is_empty())
        .then(|| definitions.alert_definitions.iter().find(|d| d.id == guid))
        .flatten();
    let candidates: Vec<&AlertDefinition> = match named {
        Some(definition) => vec![definition],
        None => definitions
            .alert_definitions
            .iter()
            .filter(|definition| covers(definitions, definition, &alert.monitor))
            .collect(),
    };
    let mut routes = Vec::new();
    for definition in candidates {
        if !definition.active {
            continue;
        }
        let Some(level) = definition
            .levels
            .iter()
            .find(|level| level.id == alert.escalation_level.id)
        else {
            continue;
        };
        if !level.active {
            continue;
        }
        for attachment in &level.integrations {
            let wanted = match alert.alert.alert_type {
                AlertType::Alert => true,
                AlertType::Ok => attachment.send_ok,
                AlertType::Reminder => attachment.send_reminder,
            };
            let Some(integration) = definitions
                .integrations
                .iter()
                .find(|integration| integration.id == attachment.integration)
            else {
                continue;
            };
            if attachment.active && wanted && integration.active && integration.kind == kind {
                routes.push((
                    ptr::from_ref(definition),
                    ptr::from_ref(level),
                    ptr::from_ref(attachment),
                    ptr::from_ref(integration),
                    naive_recipients(definitions, level),
                ));
            }
        }
    }
    routes
}

fn covers(definitions: &Definitions, definition: &AlertDefinition, monitor: &Monitor) -> bool {
    definition
        .monitors
        .iter()
        .any(|text| match Selector::parse(text) {
            Ok(Selector::Group(id)) => definitions
                .monitor_groups
                .iter()
                .find(|group| group.id == id)
                .is_some_and(|group| {
                    group.monitors.iter().any(|text| match Selector::parse(text) {
                        Ok(Selector::Group(_)) | Err(_) => false,
                        Ok(selector) => selects(selector, monitor),
                    })
                }),
            Ok(selector) => selects(selector, monitor),
            Err(_) => false,
        })
}

fn selects(selector: Selector<'_>, monitor: &Monitor) -> bool {
    match selector {
        Selector::All => true,
        Selector::Guid(guid) => {
            !monitor.monitor_guid.is_empty() && guid.eq_ignore_ascii_case(&monitor.monitor_guid)
        }
        Selector::Name(name) => !monitor.name.is_empty() && name == monitor.name,
        Selector::Tag(field, value) => monitor.custom_fields.get(field).map(String::as_str) == Some(value),
        Selector::Group(_) => false,
    }
}

/// Active, on-duty operators of the level: an id is the first operator with it, else the members of
/// the first operator group with it; each once, in order.
fn naive_recipients(definitions: &Definitions, level: &EscalationLevel) -> Vec<*const Operator> {
    let first_operator = |id: &str| definitions.operators.iter().find(|operator| operator.id == id);
    let mut seen = HashSet::new();
    let mut recipients = Vec::new();
    for id in &level.operators {
        let members: Vec<&Operator> = match first_operator(id) {
            Some(operator) => vec![operator],
            None => definitions
                .operator_groups
                .iter()
                .find(|group| group.id == *id)
                .map(|group| {
                    group
                        .members
                        .iter()
                        .filter_map(|member| first_operator(member))
                        .collect()
                })
                .unwrap_or_default(),
        };
        for operator in members {
            let address = ptr::from_ref(operator);
            if operator.active && operator.on_duty && seen.insert(address) {
                recipients.push(address);
            }
        }
    }
    recipients
}
