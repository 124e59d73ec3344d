use std::collections::BTreeMap;

use chrono::{TimeZone, Utc};

use super::*;
use crate::{Alert, AlertType};

const SOURCE: TemplateSource<'static> = TemplateSource {
    integration: "webhook-1",
    field: "messages[0].steps[0].body",
};

/// The sample alert (monitor `GalacticResorts.com - DNS`, custom field `Team: ops`).
fn sample(alert_type: AlertType) -> Alert {
    let mut alert = Alert::default();
    alert.account.account_id = "299840".to_owned();
    alert.alert.alert_guid = "cbfc7769-edb2-46a7-89d0-1e1b1fb0815b".to_owned();
    alert.alert.alert_type = alert_type;
    alert.alert.description =
        "DNS lookup failed: no A record\nStep 1: resolve galacticresorts.com".to_owned();
    alert.alert.error_type_id = "5407".to_owned();
    alert.alert.checkpoint_name = "Ghent, Belgium".to_owned();
    alert.alert.number_of_consecutive_errors = "2".to_owned();
    alert.alert.timestamp_utc = "2026-11-28T16:26:58".to_owned();
    alert.alert.timestamp = "2026-11-28T17:26:58".to_owned();
    alert.alert.first_error_utc = "2026-11-28T16:21:58".to_owned();
    alert.alert.first_error = "2026-11-28T17:21:58".to_owned();
    alert.alert.first_error_check_id = "30099055746".to_owned();
    alert.alert.first_error_check_url =
        "https://app.uptrends.com/Report/ProbeLog/Check/30099055746".to_owned();
    if alert_type == AlertType::Ok {
        alert.alert.downtime_duration = "0:05:00".to_owned();
    }
    alert.alert_definition.guid = "2c97e464-6112-435b-8c8d-6def1e18273a".to_owned();
    alert.alert_definition.name = "Default Alert".to_owned();
    alert.escalation_level.id = 1;
    alert.escalation_level.message = "Please use checklist THX-1138 & call the on-call engineer.".to_owned();
    alert.incident.key = "ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746".to_owned();
    alert.monitor.monitor_guid = "849b2046-213d-43ad-9efc-5af1faaeb222".to_owned();
    alert.monitor.name = "GalacticResorts.com - DNS".to_owned();
    alert.monitor.monitor_type = "DNS".to_owned();
    alert.monitor.url = "galacticresorts.com".to_owned();
    alert.monitor.notes = "Please check Amazon Route53 DNS entries".to_owned();
    alert.monitor.dashboard_url =
        "https://app.uptrends.com/Probe/Dashboard?probeGuids=849b2046-213d-43ad-9efc-5af1faaeb222".to_owned();
    alert.monitor.edit_url =
        "https://app.uptrends.com/Report/Probe?probeGuid=849b2046-213d-43ad-9efc-5af1faaeb222".to_owned();
    alert
        .monitor
        .custom_fields
        .insert("Team".to_owned(), "ops".to_owned());
    alert
}

/// The sample alert with `notes` replaced.
fn with_notes(notes: &str) -> Alert {
    let mut alert = sample(AlertType::Alert);
    alert.monitor.notes = notes.to_owned();
    alert
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 7, 9, 5, 3)
        .single()
        .expect("valid date")
        + chrono::TimeDelta::milliseconds(45)
}

fn variables() -> BTreeMap<String, String> {
    BTreeMap::from([
        ("ApiKey".to_owned(), "k-123".to_owned()),
        ("User".to_owned(), "alice".to_owned()),
        ("Password".to_owned(), "p@ss:w\"rd".to_owned()),
        ("Offset".to_owned(), "-60".to_owned()),
        ("ApiUrl".to_owned(), "https://api.example.com/v2".to_owned()),
    ])
}

/// Renders `template` for `alert` with the sample variables and the fixed `now`.
fn check(template: &str, escape: Escape, alert: &Alert) -> Result<String, TemplateError> {
    let variables = variables();
    let context = RenderContext {
        alert,
        variables: &variables,
        now: now(),
    };
    Engine::new().render(SOURCE, template, escape, &context)
}

fn ok(template: &str, escape: Escape) -> String {
    match check(template, escape, &sample(AlertType::Alert)) {
        Ok(text) => text,
        Err(err) => panic!("template {template:?} failed: {err}"),
    }
}

fn fails(template: &str, escape: Escape, alert: &Alert) -> TemplateError {
    match check(template, escape, alert) {
        Ok(text) => panic!("template {template:?} rendered {text:?}, expected an error"),
        Err(err) => err,
    }
}

#[test]
fn product_syntax_and_jinja_render_in_one_template() {
    let cases: &[(&str, &str)] = &[
        ("{{@monitor.name}}", "GalacticResorts.com - DNS"),
        ("{{@alert.type}}", "Alert"),
        ("{{@ALERT.TYPE}}", "Alert"),
        ("{{@account.accountId}}", "299840"),
        ("{{@escalationLevel.id}}", "1"),
        (
            "{{@incident.key}}",
            "ba8ffcb7-5de0-489e-b649-f00f0b447e80-0-30099055746",
        ),
        ("{{@alertDefinition.name}}", "Default Alert"),
        ("{{@CustomField(Team)}}", "ops"),
        ("{{@CustomField( Team )}}", "ops"),
        ("{{@monitor.customFields.Team}}", "ops"),
        ("{{ApiKey}}", "k-123"),
        ("{{ ApiKey }}", "k-123"),
        ("{{ monitor.customFields.Team }}", "ops"),
        ("{{ CustomField('Team') }}", "ops"),
        ("{% if alert.type == \"Ok\" %}up{% else %}down{% endif %}", "down"),
        (
            "{% for k, v in monitor.customFields|items %}{{k}}={{v}};{% endfor %}",
            "Team=ops;",
        ),
        ("{{ monitor.name | upper }}", "GALACTICRESORTS.COM - DNS"),
        (
            "{{ alert.description | firstline }}",
            "DNS lookup failed: no A record",
        ),
        (
            "{{@monitor.name}} is {% if alert.type == 'Alert' %}down{% endif %} ({{ApiKey}})",
            "GalacticResorts.com - DNS is down (k-123)",
        ),
        (
            "{{@JsonEncode({{@monitor.notes}})}}",
            "Please check Amazon Route53 DNS entries",
        ),
        ("{{@Base64Encode({{User}}:{{Password}})}}", "YWxpY2U6cEBzczp3InJk"),
        (
            "{{@Base64Encode(Basic {{User}}, {{ApiKey}})}}",
            "QmFzaWMgYWxpY2UsIGstMTIz",
        ),
        (
            "{{@UrlEncode({{ monitor.name | lower }})}}",
            "galacticresorts.com%20-%20dns",
        ),
        (
            "{{@Base64Decode({{@Base64Encode({{@monitor.name}})}})}}",
            "GalacticResorts.com - DNS",
        ),
        (
            "{{ JsonEncode(monitor.notes) }}",
            "Please check Amazon Route53 DNS entries",
        ),
        (
            "{{ monitor.name | Base64Encode }}",
            "R2FsYWN0aWNSZXNvcnRzLmNvbSAtIEROUw==",
        ),
        ("{% raw %}{{@monitor.name}}{% endraw %}", "{{@monitor.name}}"),
        ("{# {{@nothing.here}} #}x", "x"),
        ("{{ \"{{@monitor.name}}\" }}", "{{@monitor.name}}"),
        ("{{range(3)|join(',')}}", "0,1,2"),
    ];
    for (template, expected) in cases {
        assert_eq!(ok(template, Escape::Text), *expected, "template {template:?}");
    }
}

#[test]
fn every_product_variable_renders() {
    let alert = sample(AlertType::Alert);
    let json = serde_json::to_value(&alert).expect("alert serialises");
    let names = variable_names();
    assert_eq!(
        names.len(),
        38,
        "38 variables plus @CustomField(name) make the product's 39: {names:?}"
    );
    for name in names {
        let (group, field) = name.split_once('.').expect("group.field");
        let expected = match &json[group][field] {
            serde_json::Value::String(text) => text.clone(),
            other => other.to_string(),
        };
        let rendered = ok(&format!("{{{{@{name}}}}}"), Escape::Text);
        assert_eq!(rendered, expected, "@{name}");
    }
}

#[test]
fn helpers_render_as_documented() {
    let cases: &[(&str, &str)] = &[
        (
            "{{@JsonEncode(a \"quoted\" \\ back\nslash)}}",
            "a \\\"quoted\\\" \\\\ back\\nslash",
        ),
        ("{{@JsonDecode(a \\\"q\\\" \\n \\u00e9)}}", "a \"q\" \n é"),
        (
            "{{@XmlEncode(<a href=\"x\">Tom & 'Jerry'</a>)}}",
            "&lt;a href=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/a&gt;",
        ),
        (
            "{{@XmlDecode(&lt;b&gt; &amp;amp; &#65;&#x42; &unknown; &)}}",
            "<b> &amp; AB &unknown; &",
        ),
        ("{{@UrlEncode(a b&c=d/é~-._)}}", "a%20b%26c%3Dd%2F%C3%A9~-._"),
        ("{{@Base64Encode(hello)}}", "aGVsbG8="),
        ("{{@Base64Decode(aGVsbG8=)}}", "hello"),
        ("{{@Base64Decode(aGVsbG8)}}", "hello"),
        ("{{@HexToBase64(48656c6c6f)}}", "SGVsbG8="),
        ("{{@HexToBase64(DEADbeef)}}", "3q2+7w=="),
        ("{{@JsonEncode(a, b)}}", "a, b"),
        ("{{@CustomField(team)}}", "ops"),
    ];
    for (template, expected) in cases {
        assert_eq!(ok(template, Escape::Text), *expected, "template {template:?}");
    }
}

#[test]
fn datetime_formats_use_the_fixed_now() {
    // now() is Saturday 2026-03-07 09:05:03.045 UTC.
    let cases: &[(&str, &str)] = &[
        ("{{@DateTime(Iso)}}", "2026-03-07T09:05:03Z"),
        ("{{@DateTime(iso)}}", "2026-03-07T09:05:03Z"),
        ("{{@DateTime(Unix)}}", "1772874303"),
        ("{{@DateTime(yyyy-MM-ddTHH:mm:ss)}}", "2026-03-07T09:05:03"),
        ("{{@DateTime(yyyy-MM-dd HH:mm, -3600)}}", "2026-03-07 08:05"),
        ("{{@DateTime(yyyy-MM-dd HH:mm, +86400)}}", "2026-03-08 09:05"),
        ("{{@DateTime(dd/MM/yyyy HH:mm)}}", "07/03/2026 09:05"),
        ("{{@DateTime(d/M/yy h:m:s)}}", "7/3/26 9:5:3"),
        ("{{@DateTime(MMM)}}", "Mar"),
        ("{{@DateTime(MMMM)}}", "March"),
        ("{{@DateTime(ddd)}}", "Sat"),
        ("{{@DateTime(dddd)}}", "Saturday"),
        ("{{@DateTime(ddd, dd MMM yyyy)}}", "Sat, 07 Mar 2026"),
        ("{{@DateTime(HH:mm:ss.fff)}}", "09:05:03.045"),
        ("{{@DateTime(ss.FFFFFF)}}", "03.045"),
        ("{{@DateTime(hh:mm tt)}}", "09:05 AM"),
        ("{{@DateTime(HH:mm zzz)}}", "09:05 +00:00"),
        ("{{@DateTime('Day' d 'of' MMMM)}}", "Day 7 of March"),
        ("{{@DateTime(\\d\\a\\y d)}}", "day 7"),
        ("{{@DateTime(o)}}", "2026-03-07T09:05:03.0450000Z"),
        ("{{@DateTime(R)}}", "Sat, 07 Mar 2026 09:05:03 GMT"),
        ("{{@DateTime(u)}}", "2026-03-07 09:05:03Z"),
        ("{{@DateTime(yyyy-MM-dd, FirstDayOfMonth)}}", "2026-03-01"),
        ("{{@DateTime(yyyy-MM-dd, LastDayOfMonth)}}", "2026-03-31"),
        ("{{@DateTime(yyyy-MM-dd, FirstDayOfPreviousMonth)}}", "2026-02-01"),
        (
            "{{@DateTime(yyyy-MM-dd HH:mm, LastDayOfPreviousMonth)}}",
            "2026-02-28 09:05",
        ),
        ("{{@DateTime(yyyy-MM-dd, firstdayofnextmonth)}}", "2026-04-01"),
        ("{{@DateTime(yyyy-MM-dd, LastDayOfNextMonth)}}", "2026-04-30"),
        ("{{@DateTime(HH:mm, {{Offset}})}}", "09:04"),
        ("{{ DateTime('yyyy', -31536000) }}", "2025"),
    ];
    for (template, expected) in cases {
        assert_eq!(ok(template, Escape::Text), *expected, "template {template:?}");
    }
    let err = fails(
        "{{@DateTime(yyyy, {{ 'Tomorrow' }})}}",
        Escape::Text,
        &sample(AlertType::Alert),
    );
    assert!(err.reason.contains("unknown offset `Tomorrow`"), "{err}");
}

#[test]
fn guids_are_random_or_stable_per_alert_and_integration() {
    let text = ok("{{@RandomGuid}} {{@RandomGuid}}", Escape::Text);
    let (a, b) = text.split_once(' ').expect("two guids");
    assert_ne!(a, b);
    for guid in [a, b] {
        assert_eq!(uuid::Uuid::parse_str(guid).expect("a uuid").get_version_num(), 4);
    }

    let engine = Engine::new();
    let variables = variables();
    let alert = sample(AlertType::Alert);
    let render = |integration: &str, alert: &Alert| {
        let context = RenderContext {
            alert,
            variables: &variables,
            now: now(),
        };
        let source = TemplateSource {
            integration,
            field: "body",
        };
        engine
            .render(
                source,
                "{{@UniqueGuid}}|{{ UniqueGuid() }}",
                Escape::Text,
                &context,
            )
            .expect("renders")
    };
    let first = render("webhook-1", &alert);
    let (x, y) = first.split_once('|').expect("two guids");
    assert_eq!(x, y, "stable within one render");
    assert_eq!(uuid::Uuid::parse_str(x).expect("a uuid").get_version_num(), 5);
    assert_eq!(
        render("webhook-1", &alert),
        first,
        "a retry renders the same value"
    );
    assert_ne!(
        render("webhook-2", &alert),
        first,
        "another integration gets another value"
    );
    let mut other = alert.clone();
    other.alert.alert_guid = "00000000-0000-4000-8000-000000000001".to_owned();
    assert_ne!(
        render("webhook-1", &other),
        first,
        "another alert gets another value"
    );
}

const HOSTILE: &[&str] = &[
    "quote \" and 'single'",
    "back\\slash \\n not a newline",
    "line1\nline2\r\nline3",
    "tab\there",
    "control \u{0} \u{1} \u{1f} \u{7f}",
    "unicode é ü 漢字 emoji 🚨👩‍🚒",
    "</script><script>alert(1)</script>",
    "{\"json\": [1, 2]}",
    "a & b < c > d",
    "?x=1&y=2#frag /path %20",
];

#[test]
fn json_escaping_keeps_any_value_a_valid_json_string() {
    for hostile in HOSTILE {
        let alert = with_notes(hostile);
        for template in [
            "{\"notes\": \"{{@monitor.notes}}\"}",
            "{\"notes\": \"{{@JsonEncode({{@monitor.notes}})}}\"}",
            "{\"notes\": \"{{ monitor.notes }}\"}",
            "{\"notes\": \"{{ monitor.notes | JsonEncode }}\"}",
            "{\"notes\": \"{{ monitor.notes | e }}\"}",
        ] {
            let rendered =
                check(template, Escape::Json, &alert).unwrap_or_else(|err| panic!("{template}: {err}"));
            let parsed: serde_json::Value = serde_json::from_str(&rendered).expect("valid JSON");
            assert_eq!(
                parsed["notes"],
                serde_json::Value::from(*hostile),
                "{template} with {hostile:?}"
            );
        }
        // XmlEncode output is marked safe, but its raw control characters are still escaped.
        let rendered = check(
            "{\"x\": \"{{@XmlEncode({{@monitor.notes}})}}\"}",
            Escape::Json,
            &alert,
        )
        .expect("renders");
        serde_json::from_str::<serde_json::Value>(&rendered).expect("valid JSON");
    }
    // Numbers stay numbers, and user variables are escaped like alert values.
    let rendered = ok(
        "{\"level\": {{@escalationLevel.id}}, \"auth\": \"{{Password}}\"}",
        Escape::Json,
    );
    assert_eq!(rendered, "{\"level\": 1, \"auth\": \"p@ss:w\\\"rd\"}");
    // `tojson` output is safe JSON and passes through.
    let rendered = ok("{\"fields\": {{ monitor.customFields | tojson }}}", Escape::Json);
    assert_eq!(rendered, "{\"fields\": {\"Team\":\"ops\"}}");
}

#[test]
fn json_that_does_not_parse_fails_with_its_line() {
    let alert = sample(AlertType::Alert);
    let err = fails(
        "{\n  \"name\": \"{{@monitor.name}}\",\n  \"bare\": {{@monitor.name}}\n}",
        Escape::Json,
        &alert,
    );
    assert_eq!(err.line, Some(3), "{err}");
    assert!(err.reason.contains("the rendered JSON does not parse"), "{err}");
    assert!(err.reason.contains("line 3, column"), "{err}");
    assert_eq!(err.integration, "webhook-1");
    assert_eq!(err.field, "messages[0].steps[0].body");
    assert!(
        err.to_string()
            .starts_with("integration `webhook-1`, field `messages[0].steps[0].body`, line 3: "),
        "{err}"
    );
    // With block tags the output line is still named in the reason, but not claimed as a template line.
    let err = fails("{% if true %}\n{\"a\": nope}{% endif %}", Escape::Json, &alert);
    assert_eq!(err.line, None, "{err}");
    assert!(err.reason.contains("at line 2, column"), "{err}");
    // The reason never quotes the rendered output (it may hold secrets).
    let err = fails("{\"key\": {{ApiKey}}}", Escape::Json, &alert);
    assert!(!err.to_string().contains("k-123"), "{err}");
}

#[test]
fn url_escaping_encodes_values_not_the_template() {
    for hostile in HOSTILE {
        let alert = with_notes(hostile);
        let rendered = check(
            "https://x.example/a?b=1&notes={{@monitor.notes}}",
            Escape::Url,
            &alert,
        )
        .expect("renders");
        let encoded = rendered
            .strip_prefix("https://x.example/a?b=1&notes=")
            .expect("literal text untouched");
        assert!(
            encoded
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"%-._~".contains(&b)),
            "{encoded}"
        );
        let decoded = percent_encoding::percent_decode_str(encoded)
            .decode_utf8()
            .expect("utf-8");
        assert_eq!(decoded, *hostile);
    }
    // UrlEncode output is not encoded twice.
    assert_eq!(
        ok("https://x/{{@UrlEncode({{@monitor.name}})}}", Escape::Url),
        "https://x/GalacticResorts.com%20-%20DNS"
    );
    assert_eq!(
        ok("https://x/{{@monitor.name}}", Escape::Url),
        "https://x/GalacticResorts.com%20-%20DNS"
    );
}

#[test]
fn html_escaping_and_text_passthrough() {
    let alert = with_notes("</script><b class=\"x\">Tom & 'Jerry'</b>");
    assert_eq!(
        check("<p>{{@monitor.notes}}</p>", Escape::Html, &alert).expect("renders"),
        "<p>&lt;/script&gt;&lt;b class=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;</p>"
    );
    assert_eq!(
        check("<p>{{@XmlEncode({{@monitor.notes}})}}</p>", Escape::Html, &alert).expect("renders"),
        "<p>&lt;/script&gt;&lt;b class=&quot;x&quot;&gt;Tom &amp; &#39;Jerry&#39;&lt;/b&gt;</p>"
    );
    assert_eq!(
        check("{{@monitor.notes}}", Escape::Text, &alert).expect("renders"),
        "</script><b class=\"x\">Tom & 'Jerry'</b>"
    );
}

#[test]
fn header_values_refuse_line_breaks() {
    let alert = with_notes("evil\r\nX-Injected: 1");
    let err = fails("Bearer {{@monitor.notes}}", Escape::Header, &alert);
    assert_eq!(err.line, Some(1));
    assert!(err.reason.contains("line break"), "{err}");
    let err = fails("a\nb", Escape::Header, &alert);
    assert!(err.reason.contains("line break"), "{err}");
    assert_eq!(err.line, Some(1), "{err}");
    let err = fails("{{@JsonDecode(a\\nb)}}", Escape::Header, &alert);
    assert!(err.reason.contains("line break"), "{err}");
    assert_eq!(ok("Bearer {{ApiKey}}", Escape::Header), "Bearer k-123");
    assert_eq!(
        ok("Basic {{@Base64Encode({{User}}:{{Password}})}}", Escape::Header),
        "Basic YWxpY2U6cEBzczp3InJk"
    );
}

#[test]
fn values_are_data_never_template_code() {
    for notes in [
        "{{@account.accountId}}",
        "{{ 7*7 }}",
        "{% raw %}",
        "{{ApiKey}}",
        "{% for i in range(9) %}x{% endfor %}",
        "{{@JsonEncode({{x}})}}",
    ] {
        let alert = with_notes(notes);
        for template in [
            "{{@monitor.notes}}",
            "{{ monitor.notes }}",
            "{{@JsonDecode({{@JsonEncode({{@monitor.notes}})}})}}",
            "{{@CustomField(Team)}}{{@monitor.notes}}",
        ] {
            let rendered =
                check(template, Escape::Text, &alert).unwrap_or_else(|err| panic!("{template}: {err}"));
            assert!(
                rendered.ends_with(notes),
                "{template} with {notes:?} gave {rendered:?}"
            );
        }
    }
    let mut alert = sample(AlertType::Alert);
    alert
        .monitor
        .custom_fields
        .insert("Evil".to_owned(), "{{ApiKey}}".to_owned());
    assert_eq!(
        check("{{@CustomField(Evil)}}", Escape::Text, &alert).expect("renders"),
        "{{ApiKey}}"
    );
}

#[test]
fn strict_undefined_names_the_variable() {
    let alert = sample(AlertType::Alert);
    let err = fails("line one\nKey: {{ApiKye}}", Escape::Text, &alert);
    assert_eq!(err.line, Some(2));
    assert!(err.reason.contains("`ApiKye`"), "{err}");
    let err = fails("{{ monitor.nmae }}", Escape::Text, &alert);
    assert!(err.reason.contains("`monitor.nmae`"), "{err}");
    let err = fails("{{@JsonEncode({{Secrt}})}}", Escape::Text, &alert);
    assert!(err.reason.contains("`Secrt`"), "{err}");
    let err = fails("{{@Base64Encode({{User}}:{{Pasword}})}}", Escape::Text, &alert);
    assert!(err.reason.contains("`Pasword`"), "{err}");
    let err = fails("{% if Missing == 'x' %}y{% endif %}", Escape::Text, &alert);
    assert!(err.reason.contains("`Missing`"), "{err}");
    // Product variables are checked before rendering.
    let err = fails("ok\n\n{{@monitor.nmae}}", Escape::Text, &alert);
    assert_eq!(err.line, Some(3));
    assert!(err.reason.contains("unknown variable `@monitor.nmae`"), "{err}");
}

#[test]
fn unknown_custom_field_is_an_error_naming_it() {
    let alert = sample(AlertType::Alert);
    let err = fails("{\"c\": \"{{@CustomField(ComponentId)}}\"}", Escape::Json, &alert);
    assert_eq!(err.line, Some(1));
    assert!(err.reason.contains("unknown custom field `ComponentId`"), "{err}");
    assert!(err.reason.contains("`Team`"), "lists the known fields: {err}");
    let err = fails("{{@monitor.customFields.Nope}}", Escape::Text, &alert);
    assert!(err.reason.contains("unknown custom field `Nope`"), "{err}");
    let err = fails("{{ CustomField('Nope') }}", Escape::Text, &Alert::default());
    assert!(
        err.reason
            .contains("unknown custom field `Nope` (the monitor has no custom fields)"),
        "{err}"
    );
}

#[test]
fn syntax_errors_name_the_line() {
    let alert = sample(AlertType::Alert);
    let cases: &[(&str, usize, &str)] = &[
        ("a\nb\n{% if x %}\nno end", 3, "syntax error"),
        ("a\n{{ monitor.name ", 2, "syntax error"),
        ("a\n{{@Nope(x)}}", 2, "unknown function `@Nope`"),
        ("{{@VaultItem.abc.Password}}", 1, "vault items are not supported"),
        ("\n\n{{@JsonEncode(x}}", 3, "missing `)}}`"),
        ("{{@RandomGuid(3)}}", 1, "takes no arguments"),
        ("{{@JsonEncode}}", 1, "takes 1 argument, got 0"),
        ("{{@DateTime()}}", 1, "takes 1 to 2 arguments, got 0"),
        ("{{@}}", 1, "must be followed by a variable or function name"),
        ("{{@monitor.name x}}", 1, "must be closed by `}}`"),
        ("{{@JsonEncode({{}})}}", 1, "empty nested"),
        (
            "{{@JsonEncode(\n{{@monitor.name}}\n)}}\n{% endif %}",
            4,
            "syntax error",
        ),
    ];
    let engine = Engine::new();
    for (template, line, reason) in cases {
        let err = fails(template, Escape::Text, &alert);
        assert_eq!(err.line, Some(*line), "{template:?}: {err}");
        assert!(err.reason.contains(reason), "{template:?}: {err}");
        // check() reports the same syntax errors without rendering (render-time ones excepted).
        {
            let err = engine.check(SOURCE, template).expect_err("check fails");
            assert_eq!(err.line, Some(*line), "check {template:?}: {err}");
        }
    }
    assert_eq!(
        engine.check(
            SOURCE,
            "{{@JsonEncode({{@monitor.notes}})}} {% if x %}{{ y }}{% endif %}"
        ),
        Ok(())
    );
}

#[test]
fn line_numbers_survive_multi_line_product_tags() {
    let alert = sample(AlertType::Alert);
    let template = "{{@Base64Encode(\n{{User}}\n:{{Password}}\n)}}\n{{ Nope }}";
    let err = fails(template, Escape::Text, &alert);
    assert_eq!(err.line, Some(5), "{err}");
    assert_eq!(ok("{{@JsonEncode(a\nb)}}\nnext", Escape::Text), "a\\nb\nnext");
}

#[test]
fn work_and_output_are_bounded() {
    let alert = sample(AlertType::Alert);
    let err = fails(
        "{% for i in range(100000000) %}x{% endfor %}",
        Escape::Text,
        &alert,
    );
    assert!(
        err.reason.contains("range has too many elements") || err.reason.contains("too much work"),
        "{err}"
    );
    let err = fails(
        "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
        Escape::Text,
        &alert,
    );
    assert!(err.reason.contains("too much work"), "{err}");
    let err = fails(
        "{% for i in range(20000) %}{{ 'x' * 100 }}{% endfor %}",
        Escape::Text,
        &alert,
    );
    assert!(err.reason.contains("larger than 1048576 bytes"), "{err}");
    assert_eq!(
        ok("{% for i in range(1000) %}x{% endfor %}", Escape::Text).len(),
        1000
    );
}

#[test]
fn engine_caches_and_is_shared_across_threads() {
    let engine = std::sync::Arc::new(Engine::new());
    let alert = sample(AlertType::Alert);
    let variables = variables();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let engine = engine.clone();
            let alert = alert.clone();
            let variables = variables.clone();
            std::thread::spawn(move || {
                let context = RenderContext {
                    alert: &alert,
                    variables: &variables,
                    now: now(),
                };
                (0..50)
                    .map(|_| {
                        engine.render(
                            SOURCE,
                            &format!("{i}:{{{{@monitor.name}}}}"),
                            Escape::Text,
                            &context,
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()
            })
        })
        .collect();
    for (i, handle) in handles.into_iter().enumerate() {
        let rendered = handle.join().expect("thread").expect("renders");
        assert!(
            rendered
                .iter()
                .all(|text| *text == format!("{i}:GalacticResorts.com - DNS"))
        );
    }
    assert!(
        format!("{engine:?}").contains("cached_templates: 4"),
        "{engine:?}"
    );
}

#[test]
fn user_variables_do_not_shadow_alert_groups_or_helpers() {
    let alert = sample(AlertType::Alert);
    let variables = BTreeMap::from([
        ("monitor".to_owned(), "shadow".to_owned()),
        ("__tocsin".to_owned(), "shadow".to_owned()),
    ]);
    let context = RenderContext {
        alert: &alert,
        variables: &variables,
        now: now(),
    };
    let rendered = Engine::new()
        .render(
            SOURCE,
            "{{@monitor.name}} {{@JsonEncode(a\"b)}}",
            Escape::Text,
            &context,
        )
        .expect("renders");
    assert_eq!(rendered, "GalacticResorts.com - DNS a\\\"b");
}

#[test]
fn encoder_outputs_are_escaped_only_where_their_encoding_does_not_fit() {
    let alert = with_notes("<b>\"x\" & y</b>");
    let cases: &[(&str, Escape, &str)] = &[
        // JSON string content is not HTML: escaped in HTML, kept in JSON and text.
        (
            "{{@JsonEncode({{@monitor.notes}})}}",
            Escape::Html,
            "&lt;b&gt;\\&quot;x\\&quot; &amp; y&lt;/b&gt;",
        ),
        (
            "{{@JsonEncode({{@monitor.notes}})}}",
            Escape::Text,
            "<b>\\\"x\\\" & y</b>",
        ),
        (
            "\"{{@JsonEncode({{@monitor.notes}})}}\"",
            Escape::Json,
            "\"<b>\\\"x\\\" & y</b>\"",
        ),
        // XML text is HTML-safe.
        (
            "{{@XmlEncode({{@monitor.notes}})}}",
            Escape::Html,
            "&lt;b&gt;&quot;x&quot; &amp; y&lt;/b&gt;",
        ),
        // Base64 holds `+`, `/` and `=`: percent-encoded in a URL, kept elsewhere.
        (
            "https://x/?s={{@HexToBase64(fbff)}}",
            Escape::Url,
            "https://x/?s=%2B%2F8%3D",
        ),
        ("{{@HexToBase64(fbff)}}", Escape::Html, "+/8="),
        // UrlEncode output fits everywhere and is never encoded twice.
        (
            "https://x/?s={{@UrlEncode({{@HexToBase64(fbff)}})}}",
            Escape::Url,
            "https://x/?s=%2B%2F8%3D",
        ),
        // A hand-marked safe value is the template author's choice.
        ("{{ '<i>' | safe }}{{ '<i>' }}", Escape::Html, "<i>&lt;i&gt;"),
    ];
    for (template, escape, expected) in cases {
        assert_eq!(
            check(template, *escape, &alert).expect("renders"),
            *expected,
            "{template} ({escape:?})"
        );
    }
}

#[test]
fn a_url_template_may_start_with_a_base_url_value() {
    let alert = sample(AlertType::Alert);
    let cases: &[(&str, &str)] = &[
        (
            "{{ApiUrl}}/incidents?monitor={{@monitor.name}}",
            "https://api.example.com/v2/incidents?monitor=GalacticResorts.com%20-%20DNS",
        ),
        ("{{ ApiUrl -}}\n/x", "https://api.example.com/v2/x"),
        // Only at the very start, and only an absolute http(s) URL.
        (
            "https://x/?next={{ApiUrl}}",
            "https://x/?next=https%3A%2F%2Fapi.example.com%2Fv2",
        ),
        ("{{@monitor.name}}/x", "GalacticResorts.com%20-%20DNS/x"),
    ];
    for (template, expected) in cases {
        assert_eq!(ok(template, Escape::Url), *expected, "{template}");
    }
    let mut hostile = sample(AlertType::Alert);
    hostile.monitor.url = "https://evil.example/a b?x=<y>".to_owned();
    assert_eq!(
        check("{{@monitor.url}}", Escape::Url, &hostile).expect("renders"),
        "https%3A%2F%2Fevil.example%2Fa%20b%3Fx%3D%3Cy%3E"
    );
    // An alert value never becomes the base, even at the start: whoever publishes the alert must
    // not choose where the request (and its credentials) goes.
    hostile.monitor.url = "https://evil.example".to_owned();
    for template in [
        "{{@monitor.url}}/x",
        "{{ monitor.url }}/x",
        "{{@monitor.url}}",
        "{{ monitor.url ~ '' }}/x",
        "{{ ApiUrl ~ monitor.url }}/x",
    ] {
        let rendered = check(template, Escape::Url, &hostile).expect("renders");
        assert!(rendered.starts_with("https%3A%2F%2F"), "{template}: {rendered}");
    }
    assert_eq!(ok("{{ApiUrl}}", Escape::Text), "https://api.example.com/v2");
    let err = fails("{{ApiUrI}}/x", Escape::Url, &alert);
    assert!(err.reason.contains("`ApiUrI`"), "{err}");
}

/// Found by the fuzz target `template` (fuzz/regressions/template/): the first `}}` after `{{` was
/// taken as the end of a Jinja tag even inside a map literal, so the URL-base wrapper cut `{{{}}})}`
/// into invalid Jinja (a URL that `tocsin validate` accepted failed at send time), and a nested tag
/// holding a nested map ended early.
#[test]
fn a_jinja_tag_ends_where_minijinja_ends_it() {
    let alert = sample(AlertType::Alert);
    let cases: &[(&str, Escape, &str)] = &[
        // `}}` closes the inner map, not the tag.
        (
            "{{ {'a': {'u': ApiUrl}}.a.u }}/incidents",
            Escape::Text,
            "https://api.example.com/v2/incidents",
        ),
        (
            "{{@UrlEncode({{ {'a': {'b': 'x y'}}.a.b }})}}",
            Escape::Text,
            "x%20y",
        ),
        // Not a bare user variable: no URL base, the value is encoded (but the template compiles).
        (
            "{{ {'a': {'u': ApiUrl}}.a.u }}/x",
            Escape::Url,
            "https%3A%2F%2Fapi.example.com%2Fv2/x",
        ),
    ];
    for (template, escape, expected) in cases {
        assert_eq!(ok(template, *escape), *expected, "{template} ({escape:?})");
    }
    let engine = Engine::new();
    for template in ["{{{}}})}", "{{ {'a': '}}'} }}", "{{{'a': 1}.a}}{{@monitor.name}}"] {
        assert_eq!(engine.check(SOURCE, template), Ok(()), "{template}");
        for escape in [
            Escape::Text,
            Escape::Html,
            Escape::Json,
            Escape::Url,
            Escape::Header,
        ] {
            if let Err(err) = check(template, escape, &alert) {
                assert!(
                    !err.reason.starts_with("syntax error"),
                    "{template} ({escape:?}) accepted by check but: {err}"
                );
            }
        }
    }
    assert_eq!(
        ok("{{{'a': 1}.a}}{{@monitor.name}}", Escape::Text),
        "1GalacticResorts.com - DNS"
    );
}

#[test]
fn error_reasons_are_plain_and_specific() {
    let alert = sample(AlertType::Alert);
    let cases: &[(&str, &str)] = &[
        (
            "{{@Base64Decode(@@)}}",
            "Base64Decode: the argument is not valid base64",
        ),
        (
            "{{@HexToBase64(abc)}}",
            "HexToBase64: the argument is not an even-length hexadecimal string",
        ),
        (
            "{{@JsonDecode(a\"b)}}",
            "JsonDecode: the argument is not JSON-escaped text (trailing characters)",
        ),
        (
            "{{@CustomField(Nope)}}",
            "unknown custom field `Nope` (the monitor has `Team`)",
        ),
        ("{{ Foo(1) }}", "unknown function: Foo is unknown"),
        ("{{myFn({{ApiKey}})}}", "unknown function: myFn is unknown"),
        (
            "{{ monitor.name | nofilter }}",
            "unknown filter: filter nofilter is unknown",
        ),
        (
            "{% for x in [1] %}{{ x.y }}{% endfor %}",
            "undefined value: a variable, attribute or item used on this line does not exist",
        ),
    ];
    for (template, reason) in cases {
        let err = fails(template, Escape::Text, &alert);
        assert_eq!(err.reason, *reason, "{template}");
        assert_eq!(err.line, Some(1), "{template}");
    }
    let err = fails(
        "x\n{% if @alert.type == 'Ok' %}x{% endif %}",
        Escape::Text,
        &alert,
    );
    assert_eq!(err.line, Some(2));
    assert!(
        err.reason.contains("`@` names work only in `{{@…}}` tags"),
        "{err}"
    );
}

#[test]
fn every_prefix_of_a_complex_template_renders_or_fails_cleanly() {
    let template = "é{{@Base64Encode({{User}}:{{ Password | upper }}, ü)}} {% raw %}{{@x}}{% endraw %}\n\
                    {{@DateTime('yyyy' MMM, {{Offset}})}}{# c #}{{ \"}}\" }}{{myFn({{@monitor.name}})}}漢{% if a %}{% endif %}";
    let alert = sample(AlertType::Alert);
    let engine = Engine::new();
    for (end, _) in template.char_indices() {
        let prefix = &template[..end];
        let results = [Escape::Text, Escape::Json, Escape::Url]
            .map(|escape| check(prefix, escape, &alert).map(|_| ()))
            .into_iter()
            .chain([engine.check(SOURCE, prefix)]);
        for result in results {
            // Rendering may succeed or fail, but a failure is a clean error on a real line.
            if let Err(err) = result {
                assert!(!err.reason.is_empty(), "{prefix:?}: {err:?}");
                assert!(
                    err.line.is_none_or(|line| (1..=2).contains(&line)),
                    "{prefix:?}: {err:?}"
                );
            }
        }
    }
}

#[test]
fn hostile_template_shapes_are_refused_quickly() {
    let alert = sample(AlertType::Alert);
    let deep = format!("{}x{}", "{{@JsonEncode(".repeat(100), ")}}".repeat(100));
    let err = fails(&deep, Escape::Text, &alert);
    assert!(err.reason.contains("nested more than 32 deep"), "{err}");
    let shallow = format!("{}x{}", "{{@JsonEncode(".repeat(3), ")}}".repeat(3));
    assert_eq!(ok(&shallow, Escape::Text), "x");
    let huge = "x".repeat(prepass::MAX_TEMPLATE_BYTES + 1);
    let err = fails(&huge, Escape::Text, &alert);
    assert!(
        err.reason.contains("the template is larger than 524288 bytes"),
        "{err}"
    );
    // Many unterminated user-function starts are checked (their time is measured by the `render`
    // benchmark, not asserted here).
    let many = "{{a({{b}} x}} ".repeat(20_000);
    assert!(Engine::new().check(SOURCE, &many).is_err());
}

/// Values that look like template code, break out of JSON, HTML or URLs, or are just awkward.
const INJECTIONS: &[&str] = &[
    "{{ 7*7 }}",
    "{% for x in range(10) %}x{% endfor %}",
    "{{@JsonEncode({{@monitor.notes}})}}",
    "{{ApiKey}}",
    "{{@account.accountId}}",
    "{% raw %}{{ x }}",
    "{# comment #}",
    "\"}, \"evil\": true, \"x\": \"",
    "back\\slash \\\" \\u0041",
    "</script><img src=x onerror=alert(1)>",
    "https://evil.example/?a=1&b=<2>#frag",
    "unicode é 漢字 🚨 \u{202e}rtl",
];

/// The sample alert with every string variable set to `value` (fields whose type is not free text,
/// like `alert.type`, keep theirs) and a custom field `Evil` holding it; and how many were set.
fn alert_with_every_value(value: &str) -> (Alert, usize) {
    let mut alert = sample(AlertType::Alert);
    let mut set = 0;
    for name in variable_names() {
        let (group, field) = name.split_once('.').expect("group.field");
        let mut json = serde_json::to_value(&alert).expect("alert serialises");
        if !json[group][field].is_string() {
            continue;
        }
        json[group][field] = serde_json::Value::from(value);
        if let Ok(changed) = serde_json::from_value::<Alert>(json) {
            alert = changed;
            set += 1;
        }
    }
    alert
        .monitor
        .custom_fields
        .insert("Evil".to_owned(), value.to_owned());
    (alert, set)
}

#[test]
fn values_are_rendered_literally_in_every_context_for_every_variable() {
    for injection in INJECTIONS {
        let (alert, set) = alert_with_every_value(injection);
        assert!(set >= 35, "only {set} variables took the value");
        let mut references: Vec<String> = variable_names()
            .iter()
            .filter(|name| {
                let (group, field) = name.split_once('.').expect("group.field");
                serde_json::to_value(&alert).expect("serialises")[group][field] == *injection
            })
            .flat_map(|name| [format!("{{{{@{name}}}}}"), format!("{{{{ {name} }}}}")])
            .collect();
        references.push("{{@CustomField(Evil)}}".to_owned());
        references.push("{{ monitor.customFields.Evil }}".to_owned());
        for reference in &references {
            let render = |template: &str, escape| {
                check(template, escape, &alert)
                    .unwrap_or_else(|err| panic!("{template} with {injection:?}: {err}"))
            };
            assert_eq!(render(reference, Escape::Text), *injection, "{reference}");
            assert_eq!(
                render(reference, Escape::Html),
                html_escape(injection),
                "{reference}"
            );
            let json = render(&format!("{{\"v\": \"{reference}\"}}"), Escape::Json);
            let parsed: serde_json::Value = serde_json::from_str(&json).expect("the body parses");
            assert_eq!(parsed, serde_json::json!({ "v": injection }), "{reference}");
            let url = render(&format!("https://x.example/?v={reference}"), Escape::Url);
            let encoded = url.strip_prefix("https://x.example/?v=").expect("prefix kept");
            assert!(
                encoded
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"%-._~".contains(&b)),
                "{reference}: {encoded}"
            );
            let decoded = percent_encoding::percent_decode_str(encoded)
                .decode_utf8()
                .expect("utf-8");
            assert_eq!(decoded, *injection, "{reference}");
            assert_eq!(render(reference, Escape::Header), *injection, "{reference}");
        }
    }
}

#[test]
fn header_values_refuse_every_control_character_and_line_separator() {
    let breaking = [
        "\r", "\n", "\r\n", "\u{0}", "\u{b}", "\u{c}", "\u{1b}", "\u{7f}", "\u{85}", "\u{2028}", "\u{2029}",
    ];
    for found in breaking {
        let value = format!("sekrit{found}X-Injected: 1");
        let code = format!("U+{:04X}", u32::from(found.chars().next().expect("a char")));
        let alert = with_notes(&value);
        for template in [
            "X\n{{@monitor.notes}}",
            "{% if true %}\n{{ monitor.notes }}{% endif %}",
        ] {
            let err = fails(template, Escape::Header, &alert);
            assert_eq!(err.line, Some(2), "{found:?} in {template}: {err}");
            assert!(err.reason.contains(&code), "{found:?}: {err}");
            assert!(
                !err.to_string().contains("sekrit"),
                "the value is repeated: {err}"
            );
        }
        // A user variable (a secret, say) is refused the same way.
        let variables = BTreeMap::from([("ApiKey".to_owned(), value.clone())]);
        let context = RenderContext {
            alert: &alert,
            variables: &variables,
            now: now(),
        };
        let err = Engine::new()
            .render(SOURCE, "Bearer {{ApiKey}}", Escape::Header, &context)
            .expect_err("refused");
        assert!(err.reason.contains(&code), "{found:?}: {err}");
        assert!(!err.to_string().contains("sekrit"), "{err}");
        // So is the template's own text.
        let err = fails(&format!("a{found}b"), Escape::Header, &sample(AlertType::Alert));
        assert!(err.reason.contains("control character"), "{found:?}: {err}");
    }
    // Tabs and text beyond ASCII are header text.
    let alert = with_notes("a\tb Ünïcødé ✓ 🚨");
    assert_eq!(
        check("{{@monitor.notes}}", Escape::Header, &alert).expect("renders"),
        "a\tb Ünïcødé ✓ 🚨"
    );
}

/// Renders on a thread with tokio's default worker stack (2 MiB), where the functions render.
fn check_on_a_worker_stack(template: &str, alert: &Alert) -> Result<String, TemplateError> {
    let template = template.to_owned();
    let alert = alert.clone();
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(move || check(&template, Escape::Text, &alert))
        .expect("thread")
        .join()
        .expect("no stack overflow")
}

#[test]
fn every_bound_ends_in_a_clear_error_naming_integration_field_and_line() {
    let mut alert = sample(AlertType::Alert);
    // SNS carries at most 256 KiB: the largest value an alert can bring.
    alert.monitor.notes = "n".repeat(256 * 1024);
    let deep_list = format!("x\n{{{{ {}1{} }}}}", "[".repeat(200), "]".repeat(200));
    let deep_parens = format!("x\n{{{{ {}1{} }}}}", "(".repeat(200), ")".repeat(200));
    // (template, line, reason)
    let cases: &[(&str, usize, &str)] = &[
        // Loops: minijinja caps `range`, the engine's fuel caps the work.
        (
            "x\n{% for i in range(10**9) %}x{% endfor %}",
            2,
            "range has too many elements",
        ),
        (
            "x\n{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            2,
            "the template does too much work (more than 1000000 steps)",
        ),
        (
            "x\n{% for i in range(100000) %}{% for j in range(100000) %}{{ j }}{% endfor %}{% endfor %}",
            2,
            "too much work",
        ),
        // Recursion: minijinja's limit, well within a 2 MiB stack.
        (
            "x\n{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            2,
            "recursion limit exceeded",
        ),
        (
            "x\n{% macro f(n) %}{% call f(n) %}{% endcall %}{{ caller() }}{% endmacro %}{{ f(0) }}",
            2,
            "recursion limit exceeded",
        ),
        (
            "x\n{% for i in [1] recursive %}{{ loop([i]) }}{% endfor %}",
            2,
            "recursion limit exceeded",
        ),
        // Numbers and strings: minijinja refuses overflowing powers, the engine huge repetitions
        // and any value larger than the output.
        (
            "x\n{{ 'x' * 10**9 }}",
            2,
            "the `*` operator would build a string of more than 4194304 bytes",
        ),
        ("x\n{{ 10**100 }}", 2, "unable to calculate 10 ** 100"),
        (
            "x\n{{ 'x' * 2000000 }}",
            2,
            "a value of 2000000 bytes is larger than the output limit of 1048576 bytes",
        ),
        // Deeply nested data in the template: minijinja's parser limit.
        (&deep_list, 2, "template exceeds maximum recursion limits"),
        (&deep_parens, 2, "template exceeds maximum recursion limits"),
        // Huge alert values: the output limit, on the line that crossed it (four values of 256 KiB
        // and three line breaks are 3 bytes too many).
        (
            "{{ monitor.notes }}\n{{ monitor.notes }}\n{{ monitor.notes }}\n{{ monitor.notes }}\n{{ monitor.notes }}",
            4,
            "the rendered output is larger than 1048576 bytes",
        ),
        (
            "x\n{% for i in range(100) %}{{@monitor.notes}}{% endfor %}",
            2,
            "the rendered output is larger than 1048576 bytes",
        ),
        // Text built without being written (captures, macro calls): the formatted-bytes budget.
        (
            "x\n{% set a %}{% for i in range(100) %}{{ monitor.notes }}{% endfor %}{% endset %}{{ a|length }}",
            2,
            "the template formats more than 4194304 bytes of values",
        ),
        (
            "x\n{% macro m() %}{{ monitor.notes }}{% endmacro %}{% for i in range(100) %}{% set _ = m() %}{% endfor %}",
            2,
            "the template formats more than 4194304 bytes of values",
        ),
        (
            "x\n{% filter upper %}{% for i in range(100) %}{{ monitor.notes }}{% endfor %}{% endfilter %}",
            2,
            "the template formats more than 4194304 bytes of values",
        ),
        // One filter call that would build a huge value.
        (
            "x\n{{ range(100000)|join('x' * 1000) }}",
            2,
            "`join` would build more than 4194304 bytes",
        ),
        (
            "x\n{{ ('a' * 100)|replace('a', monitor.notes)|length }}",
            2,
            "`replace` would build more than 4194304 bytes",
        ),
        (
            "x\n{{ ([monitor.notes] * 100)|string|length }}",
            2,
            "`string` would build more than 4194304 bytes",
        ),
        (
            "x\n{{ ([1] * 10**8)|list|length }}",
            2,
            "the `*` operator would build a sequence of more than 524288 items",
        ),
        (
            "x\n{{ ([monitor.notes] * 100)|tojson|length }}",
            2,
            "`tojson` would build more than 4194304 bytes",
        ),
        (
            "x\n{{ '%9000s'|format('x')|replace(' ', '%9000s')|format(*range(10000)) }}",
            2,
            "would build more than 4194304 bytes",
        ),
        (
            "x\n{{ 'x'|indent(100000000) }}",
            2,
            "`indent`: the argument 100000000 is larger than 10000",
        ),
        (
            "x\n{{ 'x'|indent(width=100000000) }}",
            2,
            "`indent`: the argument 100000000 is larger than 10000",
        ),
        (
            "x\n{{ [1]|batch(10**9, 'fill')|list }}",
            2,
            "`batch`: the argument 1000000000 is larger than 10000",
        ),
        (
            "x\n{{ [1]|tojson(indent=10**6) }}",
            2,
            "`tojson`: the argument 1000000 is larger than 10000",
        ),
    ];
    for (template, line, reason) in cases {
        let err = check_on_a_worker_stack(template, &alert)
            .err()
            .unwrap_or_else(|| panic!("{template:?} rendered"));
        assert_eq!(err.integration, "webhook-1", "{template:?}");
        assert_eq!(err.field, "messages[0].steps[0].body", "{template:?}");
        assert_eq!(err.line, Some(*line), "{template:?}: {err}");
        assert!(err.reason.contains(reason), "{template:?}: {err}");
    }
    // Raw text alone crosses the output limit without a value to carry the line.
    let err = fails(
        "{% for i in range(100000) %}0123456789abcdef{% endfor %}",
        Escape::Text,
        &alert,
    );
    assert!(err.reason.contains("larger than 1048576 bytes"), "{err}");
}

#[test]
fn wrapped_filters_keep_their_meaning() {
    let cases: &[(&str, &str)] = &[
        ("{{ [3, 1, 2]|sort|join(',') }}", "1,2,3"),
        (
            "{{ [{'n': 1}, {'n': 2}]|sort(attribute='n', reverse=true)|map(attribute='n')|join('-') }}",
            "2-1",
        ),
        ("{{ {'b': 1, 'a': 2}|dictsort|list }}", "[[\"a\", 2], [\"b\", 1]]"),
        ("{{ {'b': 1}|items|list }}", "[[\"b\", 1]]"),
        ("{{ [1, 2, 3, 4, 5]|batch(2)|list }}", "[[1, 2], [3, 4], [5]]"),
        ("{{ [1, 2, 3]|slice(2)|list }}", "[[1, 2], [3]]"),
        ("{{ 'a b'|split|list }}", "[\"a\", \"b\"]"),
        ("{{ 'x\ny'|lines|join('+') }}", "x+y"),
        ("{{ 'x\ny'|indent(2, true) }}", "  x\n  y"),
        ("{{ 'x\ny'|indent(width=3) }}", "x\n   y"),
        ("{{ '%s-%d'|format('a', 3) }}", "a-3"),
        ("{{ [1, 1, 2]|unique|list }}", "[1, 2]"),
        ("{{ [1, 2]|reverse|list }}", "[2, 1]"),
        ("{{ 'abcb'|replace('b', 'X') }}", "aXcX"),
        ("{{ [1, 2, 3]|select('odd')|list }}", "[1, 3]"),
        ("{{ [1, 2, 3]|reject('odd')|list }}", "[2]"),
        ("{{ [{'a': 1}, {'a': 0}]|selectattr('a')|list|length }}", "1"),
        ("{{ [{'a': 1}, {'a': 0}]|rejectattr('a')|list|length }}", "1"),
        (
            "{{ [1, 2, 3]|sum }} {{ [1, 2]|min }} {{ [1, 2]|max }} {{ [1, 2]|last }}",
            "6 1 2 2",
        ),
        ("{{ {'a': [1]}|tojson }}", "{\"a\":[1]}"),
        ("{{ {'a': 1}|tojson(indent=2) }}", "{\n  \"a\": 1\n}"),
        ("{{ [1]|string }}", "[1]"),
        (
            "{% for g in [{'k': 'a'}, {'k': 'b'}, {'k': 'a'}]|groupby('k') %}{{ g.grouper }}{{ g.list|length }}{% endfor %}",
            "a2b1",
        ),
        ("{{ monitor.customFields|items|map('first')|join }}", "Team"),
    ];
    for (template, expected) in cases {
        assert_eq!(ok(template, Escape::Text), *expected, "{template}");
    }
}

/// The adversarial template of issue 10 (item 2), 1.2 KB: `"x"*100000000 ~ "y"` built 100 MB
/// strings while minijinja compiled it (constant folding: 6 s and 1.8 GB for a validation) and
/// again while it rendered.
fn hostile_constant() -> String {
    format!(
        "{{\"alert\": \"{{{{@monitor.name}}}}\", \"padding\": \"{}\",\n\"x\": \"{{{{ \"x\"*100000000 ~ \"y\" }}}}\"}}",
        "_".repeat(1150)
    )
}

#[test]
fn validation_refuses_operators_over_constants_that_build_too_much() {
    let hostile = hostile_constant();
    assert!((1150..1300).contains(&hostile.len()), "{hostile}");
    // (template, line, bound named)
    let cases: &[(&str, usize, &str)] = &[
        (
            &hostile,
            2,
            "the `*` operator would build a string of more than 4194304 bytes",
        ),
        (
            "x\n{{ [1] * 100000000 }}",
            2,
            "the `*` operator would build a sequence of more than 524288 items",
        ),
        (
            "x\n{% set s = 'ab' + 'cd' * 3000000 %}",
            2,
            "the `*` operator would build a string of more than 4194304 bytes",
        ),
        (
            "x\n{% macro m(s='x' * 3000000 ~ 'y' * 3000000) %}{{ s }}{% endmacro %}",
            2,
            "the `~` operator would build a string of more than 4194304 bytes",
        ),
        (
            "x\n{{ ('x' * 3000000) + ('y' * 3000000) }}",
            2,
            "the `+` operator would build a string of more than 4194304 bytes",
        ),
        (
            "x\n{% if monitor.name in ('x' * 10**9) %}{% endif %}",
            2,
            "the `*` operator would build a string of more than 4194304 bytes",
        ),
    ];
    let engine = Engine::new();
    for (template, line, reason) in cases {
        let err = engine
            .check(SOURCE, template)
            .expect_err("the validation refuses it");
        assert_eq!(err.integration, "webhook-1", "{template:?}");
        assert_eq!(err.field, "messages[0].steps[0].body", "{template:?}");
        assert_eq!(err.line, Some(*line), "{template:?}: {err}");
        assert!(err.reason.contains(reason), "{template:?}: {err}");
        // A render refuses it the same way, before building anything.
        let err =
            check_on_a_worker_stack(template, &sample(AlertType::Alert)).expect_err("the render refuses it");
        assert_eq!(err.line, Some(*line), "{template:?}: {err}");
        assert!(err.reason.contains(reason), "{template:?}: {err}");
    }
    // Operators over small constants, and over values known only when rendering, pass.
    for template in [
        "{{ ' ' * (22 - monitor.name|length) }}{{ 'x' * 1000 ~ 'y' }}{{ [1, 2] * 3 }}",
        "{% set ns = namespace(s='x') %}{% for i in range(31) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "{{ 10**2 + 1 }}{{ 'a' + 'b' }}{{ 'ab' * 3 }}",
    ] {
        assert_eq!(engine.check(SOURCE, template), Ok(()), "{template}");
    }
}

#[test]
fn strings_and_sequences_built_by_operators_are_bounded_when_rendering() {
    let mut alert = sample(AlertType::Alert);
    // SNS carries at most 256 KiB: the largest value an alert can bring.
    alert.monitor.notes = "n".repeat(256 * 1024);
    let tilde = "the `~` operator would build a string of more than 4194304 bytes";
    let plus_text = "the `+` operator would build a string of more than 4194304 bytes";
    let plus_items = "the `+` operator would build a sequence of more than 524288 items";
    let times_text = "the `*` operator would build a string of more than 4194304 bytes";
    // (template, line, bound named)
    let cases: &[(&str, usize, &str)] = &[
        // A string doubled in a loop of assignments (2 GiB after 31 rounds). A namespace carries
        // the value from one round to the next (a plain `set` in a loop is local to its round).
        (
            "x\n{% set ns = namespace(s='x') %}{% for i in range(31) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
            2,
            tilde,
        ),
        (
            "x\n{% set ns = namespace(s='x') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}",
            2,
            plus_text,
        ),
        // A sequence doubled (minijinja keeps `+` lazy, then flattens a deep chain into memory).
        (
            "x\n{% set ns = namespace(l=[1]) %}{% for i in range(40) %}{% set ns.l = ns.l + ns.l %}{% endfor %}{{ ns.l|length }}",
            2,
            plus_items,
        ),
        // Alert values doubled.
        (
            "x\n{% set ns = namespace(s=monitor.notes) %}{% for i in range(10) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            2,
            tilde,
        ),
        // A macro whose argument doubles at each call.
        (
            "x\n{% macro d(s, n) %}{% if n %}{{ d(s ~ s, n - 1) }}{% else %}{{ s|length }}{% endif %}{% endmacro %}{{ d('x', 40) }}",
            2,
            tilde,
        ),
        // Repetition counts known only when rendering.
        (
            "x\n{% set n = 100000000 %}{{ ('x' * n ~ 'y')|length }}",
            2,
            times_text,
        ),
        (
            "x\n{% set n = 10**8 %}{{ ([1] * n)|length }}",
            2,
            "the `*` operator would build a sequence of more than 524288 items",
        ),
        (
            "x\n{% set n = 50000000 %}{{ ('ab' + 'cd' * n)|length }}",
            2,
            times_text,
        ),
        (
            "x\n{% set big = monitor.notes * 16 %}{{ ('ab' + big)|length }}",
            2,
            plus_text,
        ),
        (
            "x\n{% set big = monitor.notes * 10 %}{{ (big + big)|length }}",
            2,
            plus_text,
        ),
        // Nested assignments in a set block.
        (
            "x\n{% set a = monitor.notes * 9 %}{% set b %}{% set c = a ~ a %}{{ c|length }}{% endset %}",
            2,
            tilde,
        ),
        // A sequence of shared large strings is cheap to hold but never written out whole.
        (
            "x\n{{ [monitor.notes * 15] * 100000 }}",
            2,
            "a value written out as text is larger than the output limit of 1048576 bytes",
        ),
        ("x\n{{ ([monitor.notes * 15] * 100000) ~ '' }}", 2, tilde),
        (
            "x\n{{ ([monitor.notes * 15] * 100000) in 'x' }}",
            2,
            "the `in` operator would write more than 4194304 bytes of its left operand as text",
        ),
        (
            "x\n{{ ([monitor.notes * 15] * 100000) is in 'x' }}",
            2,
            "`in` would build more than 4194304 bytes",
        ),
        (
            "x\n{{ ([monitor.notes * 15] * 100000)|upper }}",
            2,
            "`upper` would build more than 4194304 bytes",
        ),
        (
            "x\n{{ JsonEncode([monitor.notes * 15] * 100000) }}",
            2,
            "a helper's argument is larger than 4194304 bytes",
        ),
        // Lists nested in themselves: exponential text, linear memory.
        (
            "x\n{% set ns = namespace(l=['x']) %}{% for i in range(40) %}{% set ns.l = [ns.l, ns.l] %}{% endfor %}{{ ns.l }}",
            2,
            "a value written out as text is larger than the output limit of 1048576 bytes",
        ),
        // The pieces of a product-syntax argument.
        (
            "x\n{% set s = monitor.notes * 15 %}{{@Base64Encode({{s}}{{s}})}}",
            2,
            "a helper's argument would be larger than 4194304 bytes",
        ),
        // Encoder results are remembered for the render: their bytes are bounded too.
        (
            "x\n{% for i in range(2000) %}{% set _ = JsonEncode(monitor.notes ~ i) %}{% endfor %}",
            2,
            "the template's encoder results (JsonEncode, XmlEncode, …) hold more than 4194304 bytes",
        ),
    ];
    for (template, line, reason) in cases {
        let err = check_on_a_worker_stack(template, &alert)
            .err()
            .unwrap_or_else(|| panic!("{template:?} rendered"));
        assert_eq!(err.integration, "webhook-1", "{template:?}");
        assert_eq!(err.field, "messages[0].steps[0].body", "{template:?}");
        assert_eq!(err.line, Some(*line), "{template:?}: {err}");
        assert!(err.reason.contains(reason), "{template:?}: {err}");
    }
}

#[test]
fn operators_keep_their_meaning() {
    let cases: &[(&str, &str)] = &[
        (
            "{{ 1 + 2 }} {{ 2 * 3.5 }} {{ 7 // 2 * 2 }} {{ 10**2 + 1 }}",
            "3 7.0 6 101",
        ),
        ("{{ 'a' ~ 1 ~ none ~ true }}", "a1NoneTrue"),
        // Jinja scoping: a `set` in a loop is local to its round, so this never doubles.
        (
            "{% set s = 'x' %}{% for i in range(31) %}{% set s = s ~ s %}{% endfor %}{{ s|length }}",
            "1",
        ),
        ("{{ 'a' + 'b' }} {{ 'ab' * 3 }} {{ 2 * 'cd' }}", "ab ababab cdcd"),
        (
            "{{ [1] + [2] }} {{ ([1, 2] * 2)|list }} {{ 2 * [3] }}",
            "[1, 2] [1, 2, 1, 2] [3, 3]",
        ),
        ("{{ (range(2) + [5])|list }}", "[0, 1, 5]"),
        (
            "{{ 1 in [1] }} {{ 'b' in 'abc' }} {{ 1 not in [2] }} {{ 1 < 2 in [true] }} {{ 1 < 2 in [2] }}",
            "True True True False True",
        ),
        ("{{ (1 ~ 2) in '123' }} {{ [1] in [[1]] }}", "True True"),
        ("{{ monitor.name ~ '!' }}", "GalacticResorts.com - DNS!"),
        ("{{ ({'a': 1}|items|list) + [[2]] }}", "[[\"a\", 1], [2]]"),
        (
            "{{ 170141183460469231731687303715884105726 + 1 }}",
            "170141183460469231731687303715884105727",
        ),
        ("{{ -'x' * 0 if false else 'ok' }}", "ok"),
        (
            "{% macro f(a, b=1 + 1) %}{{ a * b }}{% endmacro %}{{ f('x') }}{{ f(2, b=2 * 2) }}",
            "xx8",
        ),
        (
            "{% set ns = namespace(s='') %}{% for i in range(3) %}{% set ns.s = ns.s ~ i %}{% endfor %}{{ ns.s }}",
            "012",
        ),
        // minijinja counts the items of a loop with a condition with its own `+`.
        (
            "{% for x in [1, 2, 3] if x * 2 > 2 %}{{ (x + loop.index) ~ ',' }}{{ loop.length }}{% endfor %}",
            "3,25,2",
        ),
    ];
    for (template, expected) in cases {
        assert_eq!(ok(template, Escape::Text), *expected, "{template}");
    }
    // minijinja's own errors, on the template's line.
    let alert = sample(AlertType::Alert);
    let cases: &[(&str, &str)] = &[
        (
            "x\n{{ 'a' + 1 }}",
            "tried to use + operator on unsupported types string and number",
        ),
        (
            "x\n{{ 'a' * 'b' }}",
            "strings can only be multiplied with integers",
        ),
        (
            "x\n{{ 170141183460469231731687303715884105727 + 1 }}",
            "unable to calculate 170141183460469231731687303715884105727 + 1",
        ),
        ("x\n{{ Nope ~ 'x' }}", "undefined variable `Nope`"),
        ("x\n{{ 'x' ~ Nope }}", "undefined variable `Nope`"),
    ];
    for (template, reason) in cases {
        let err = fails(template, Escape::Text, &alert);
        assert_eq!(err.line, Some(2), "{template:?}: {err}");
        assert!(err.reason.contains(reason), "{template:?}: {err}");
    }
}
