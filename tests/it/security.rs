//! Security across every kind and the infrastructure.
//!
//! - Alert values are data in every field of every kind, as a user meets them (the messages the
//!   kind's real notifier builds): template code is never evaluated, a secret variable is never
//!   read through a value, JSON bodies parse with the value intact, HTML is escaped, Slack mrkdwn
//!   has its control characters escaped, URLs are percent-encoded, headers refuse line breaks,
//!   e-mail subjects stay one line.
//! - Every bound of the template engine ends in an error naming the integration, the field and
//!   the line, in every field of every kind.
//! - `infra/template.yaml` grants each function only what it needs: its own logs and traces, the
//!   tables, its secrets, the on-failure queue and its own channel; no `*` action, and no `*`
//!   resource except where the action cannot be scoped.
//!
//! Kinds come from `IntegrationKind::ALL` through `e2e::kinds` (one exhaustive match), and the
//! functions from the template itself, so a new kind is covered without editing this file.

use std::collections::BTreeMap;

use alert_model::{Alert, AlertType, IntegrationKind, template::variable_names};
use e2e::kinds::{BASE_URL, Context, RenderedField, Templates, UserVariables, contexts, render_every_field};
use notify_core::Transport;
use serde_norway::Value as Yaml;

// ---------------------------------------------------------------------------------------------
// Alert values in every field of every kind

/// A secret user variable that no value may read.
const SECRET: &str = "sekrit-security-4711";

/// Values that look like template code, break out of JSON, HTML or URLs, or are just awkward.
const INJECTIONS: &[&str] = &[
    "{{ 7*7 }}",
    "{% for x in range(10) %}x{% endfor %}",
    "{{@JsonEncode({{@monitor.notes}})}}",
    "{{ApiKey}}",
    "{{@ApiKey}}",
    "{% raw %}{{ ApiKey }}",
    "\"}, \"evil\": true, \"x\": \"",
    "back\\slash \\\" \\u0041 \\n",
    "</p><script>alert(1)</script><img src=x onerror=alert(1)>",
    "https://evil.example/?a=1&b=<2>#frag",
    "unicode é 漢字 🚨 \u{202e}rtl",
];

fn user_variables() -> UserVariables {
    UserVariables {
        plain: Vec::new(),
        secret: vec![("ApiKey".to_owned(), SECRET.to_owned())],
    }
}

/// The sample alert with every free-text variable and a custom field `Evil` set to `value`,
/// and the template references to them in both syntaxes (`{{@monitor.name}}`, `{{ monitor.name }}`).
fn alert_with_every_value(value: &str) -> (Alert, Vec<String>) {
    let mut alert = test_support::fixtures::sample_alert(AlertType::Alert);
    let mut references = Vec::new();
    for name in variable_names() {
        let (group, field) = name.split_once('.').expect("group.field");
        let mut json = serde_json::to_value(&alert).expect("the alert serialises");
        if !json[group][field].is_string() {
            continue;
        }
        json[group][field] = serde_json::Value::from(value);
        // Fields that are not free text (`alert.type`) refuse the value and keep theirs.
        if let Ok(changed) = serde_json::from_value::<Alert>(json) {
            alert = changed;
            references.push(format!("{{{{@{name}}}}}"));
            references.push(format!("{{{{ {name} }}}}"));
        }
    }
    alert
        .monitor
        .custom_fields
        .insert("Evil".to_owned(), value.to_owned());
    references.push("{{@CustomField(Evil)}}".to_owned());
    references.push("{{ monitor.customFields.Evil }}".to_owned());
    assert!(
        references.len() >= 70,
        "only {} references took the value",
        references.len()
    );
    (alert, references)
}

/// Templates that write every reference into every context.
fn templates_for(references: &[String]) -> Templates {
    let numbered = |template: &dyn Fn(usize, &str) -> String, separator: &str| {
        references
            .iter()
            .enumerate()
            .map(|(index, reference)| template(index, reference))
            .collect::<Vec<_>>()
            .join(separator)
    };
    Templates {
        json: format!(
            "{{{}}}",
            numbered(&|index, reference| format!("\"r{index}\": \"{reference}\""), ", ")
        ),
        url: format!(
            "?{}",
            numbered(&|index, reference| format!("r{index}={reference}"), "&")
        ),
        header: references.join("|"),
        subject: format!("{} {}", references[0], references[references.len() - 1]),
        html: numbered(&|_, reference| format!("<p>{reference}</p>"), ""),
        text: references.join("\n"),
    }
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&#39;")
}

/// Slack's mrkdwn escaping: its control characters `&`, `<`, `>` as entities.
fn mrkdwn_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The e-mail subject a value becomes: lines joined by spaces, other breaks spaces too.
fn one_line(text: &str) -> String {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| {
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// Checks that `field` holds `count` copies of `value`, each escaped as its context requires.
fn assert_literal(kind: IntegrationKind, field: &RenderedField, value: &str, count: usize) {
    let what = format!("{kind} {} ({:?}) with {value:?}", field.field, field.context);
    match field.context {
        Context::Json => {
            let parsed: serde_json::Value = serde_json::from_str(&field.text)
                .unwrap_or_else(|error| panic!("{what}: the body does not parse: {error}"));
            let object = parsed.as_object().unwrap_or_else(|| panic!("{what}: {parsed}"));
            assert_eq!(object.len(), count, "{what}: {parsed}");
            for (key, got) in object {
                assert_eq!(got, value, "{what}: {key}");
            }
        }
        Context::Url => {
            let url = reqwest::Url::parse(&format!("{BASE_URL}/in/{}", field.text))
                .unwrap_or_else(|error| panic!("{what}: {error}"));
            assert_eq!(url.host_str(), Some("hooks.example.com"), "{what}");
            assert_eq!(url.path(), "/in/", "{what}");
            assert_eq!(url.fragment(), None, "{what}");
            let pairs: Vec<(String, String)> = url.query_pairs().into_owned().collect();
            assert_eq!(pairs.len(), count, "{what}: {}", field.text);
            for (key, got) in pairs {
                assert_eq!(got, value, "{what}: {key}");
            }
        }
        Context::Header => assert_eq!(field.text, vec![value; count].join("|"), "{what}"),
        Context::Subject => {
            let line = one_line(value);
            assert_eq!(field.text, format!("{line} {line}"), "{what}")
        }
        Context::Html => assert_eq!(
            field.text,
            format!("<p>{}</p>", html_escape(value)).repeat(count),
            "{what}"
        ),
        Context::Text => assert_eq!(field.text, vec![value; count].join("\n"), "{what}"),
        Context::Mrkdwn(max) => {
            let whole = vec![mrkdwn_escape(value); count].join("\n");
            let chars = field.text.chars().count();
            assert!(chars <= max, "{what}: {chars} characters");
            assert!(whole.starts_with(&field.text), "{what}: {:?}", field.text);
            // Cut only at its limit, and never inside an escaped character (`&amp;` is 5).
            assert!(
                field.text == whole || chars + 5 > max,
                "{what}: cut at {chars} characters, before its limit of {max}"
            );
        }
        Context::Ssml(max) => assert_ssml(&what, &field.text, value, count, max),
        Context::CutText(max) => {
            let whole = vec![value; count].join("\n");
            assert!(field.text.len() <= max, "{what}: {} bytes", field.text.len());
            assert!(whole.starts_with(&field.text), "{what}: {:?}", field.text);
            assert!(
                field.text.len() == whole.len() || field.text.len() + 4 > max,
                "{what}: cut at {} bytes, before its limit of {max}",
                field.text.len()
            );
        }
    }
    assert!(!field.text.contains(SECRET), "{what}: the secret was read");
}

/// An SSML field of `<p>{value}</p>` written `count` times: every tag kept, well-formed, at most
/// `max` characters; each value XML-escaped (characters XML forbids as spaces), whole, or when the
/// whole did not fit, its start and `…`, cut only as much as the limit needs.
fn assert_ssml(what: &str, text: &str, value: &str, count: usize, max: usize) {
    let xml: String = value
        .chars()
        .map(|c| {
            if notify_core::sms_voice::is_xml_char(c) {
                c
            } else {
                ' '
            }
        })
        .collect();
    let escaped = html_escape(&xml);
    let length = text.chars().count();
    assert!(length <= max, "{what}: {length} characters");
    let document = format!("<speak>{text}</speak>");
    assert_eq!(
        notify_core::sms_voice::ssml_problem(&document),
        None,
        "{what}: not well-formed"
    );
    let paragraphs: Vec<&str> = text
        .strip_prefix("<p>")
        .and_then(|text| text.strip_suffix("</p>"))
        .map(|inner| inner.split("</p><p>").collect())
        .unwrap_or_default();
    assert_eq!(paragraphs.len(), count, "{what}: the tags were not kept: {text}");
    let mut cut = 0;
    for paragraph in &paragraphs {
        if *paragraph == escaped {
            continue;
        }
        cut += 1;
        let start = paragraph
            .strip_suffix('…')
            .unwrap_or_else(|| panic!("{what}: changed, not cut: {paragraph:?}"));
        assert!(escaped.starts_with(start), "{what}: {paragraph:?}");
    }
    // A cut text loses at most the characters of one reference (`&quot;`) more than it must.
    assert!(
        cut == 0 || length + 6 * cut >= max,
        "{what}: cut to {length} characters, before its limit of {max}"
    );
}

#[test]
fn alert_values_render_literally_in_every_field_of_every_kind() {
    for &kind in IntegrationKind::ALL {
        let kind_contexts = contexts(kind).unwrap_or_else(|error| panic!("{kind}: {error}"));
        for injection in INJECTIONS {
            let (alert, references) = alert_with_every_value(injection);
            let fields = render_every_field(
                kind,
                &format!("sec-{kind}"),
                &templates_for(&references),
                &alert,
                &user_variables(),
            )
            .unwrap_or_else(|error| panic!("{kind} with {injection:?}: {error}"));
            for context in &kind_contexts {
                assert!(
                    fields.iter().any(|field| field.context == *context),
                    "{kind}: no {context:?} field"
                );
            }
            for field in &fields {
                assert_literal(kind, field, injection, references.len());
            }
        }
    }
}

#[test]
fn line_breaks_in_values_are_refused_in_headers_and_kept_as_data_elsewhere() {
    let value = "line1\r\nX-Injected: yes\u{2028}z\u{0}";
    for &kind in IntegrationKind::ALL {
        let (alert, references) = alert_with_every_value(value);
        let templates = templates_for(&references);
        let id = format!("sec-{kind}");
        let kind_contexts = contexts(kind).unwrap_or_else(|error| panic!("{kind}: {error}"));
        if kind_contexts.contains(&Context::Header) {
            let error = render_every_field(kind, &id, &templates, &alert, &user_variables())
                .expect_err("a header with a line break is refused");
            assert!(
                error.starts_with(&format!("integration `{id}`, field `")) && error.contains(".headers."),
                "{kind}: {error}"
            );
            assert!(
                !error.contains("X-Injected"),
                "{kind}: the error repeats the value: {error}"
            );
        }
        let fields = render_every_field(
            kind,
            &id,
            &templates.with(Context::Header, "fixed"),
            &alert,
            &user_variables(),
        )
        .unwrap_or_else(|error| panic!("{kind}: {error}"));
        for field in fields.iter().filter(|field| field.context != Context::Header) {
            assert_literal(kind, field, value, references.len());
        }
    }
}

#[test]
fn a_megabyte_value_renders_whole_and_a_larger_one_ends_in_the_output_limit() {
    let reference = "{{@monitor.notes}}";
    let templates = Templates {
        json: format!("{{\"r0\": \"{reference}\"}}"),
        url: format!("?r0={reference}"),
        html: format!("<p>{reference}</p>"),
        ..Templates::everywhere(reference)
    };
    for &kind in IntegrationKind::ALL {
        let id = format!("sec-{kind}");
        let mut alert = test_support::fixtures::sample_alert(AlertType::Alert);
        alert.monitor.notes = format!("{}<\"'&é", "x".repeat(1_000_000));
        let fields = render_every_field(kind, &id, &templates, &alert, &user_variables())
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
        for field in &fields {
            match field.context {
                // A subject is cut to its limit.
                Context::Subject => {
                    assert!(
                        field.text.starts_with("xxxx") && field.text.ends_with('…'),
                        "{kind}"
                    )
                }
                _ => assert_literal(kind, field, &alert.monitor.notes, 1),
            }
        }
        alert.monitor.notes = "x".repeat(2_000_000);
        let error = render_every_field(kind, &id, &templates, &alert, &user_variables())
            .expect_err("larger than the output limit");
        assert!(
            error.starts_with(&format!("integration `{id}`, field `")) && error.contains("`, line 1: "),
            "{kind}: {error}"
        );
        assert!(
            error.contains("larger than the output limit of 1048576 bytes"),
            "{kind}: {error}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Template bounds in every field of every kind

#[test]
fn every_template_bound_ends_in_an_error_naming_integration_field_and_line() {
    // (template, reason)
    let hostile: &[(&str, &str)] = &[
        (
            "{% for i in range(10**9) %}x{% endfor %}",
            "range has too many elements",
        ),
        (
            "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}",
            "the template does too much work",
        ),
        (
            "{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}",
            "recursion limit exceeded",
        ),
        (
            "{{ 'x' * 10**9 }}",
            "the `*` operator would build a string of more than 4194304 bytes",
        ),
        (
            "{% set ns = namespace(s='x') %}{% for i in range(31) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
            "the `~` operator would build a string of more than 4194304 bytes",
        ),
        ("{{ 'x' * 2000000 }}", "is larger than the output limit"),
        (
            "{% for i in range(100) %}{{@monitor.notes}}{% endfor %}",
            "the rendered output is larger than 1048576 bytes",
        ),
        (
            "{% set a %}{% for i in range(100) %}{{ monitor.notes }}{% endfor %}{% endset %}{{ a|length }}",
            "the template formats more than 4194304 bytes",
        ),
        (
            "{{ range(100000)|join('x' * 1000) }}",
            "`join` would build more than 4194304 bytes",
        ),
    ];
    let mut alert = test_support::fixtures::sample_alert(AlertType::Alert);
    // SNS carries at most 256 KiB: the largest value an alert can bring.
    alert.monitor.notes = "n".repeat(256 * 1024);
    for &kind in IntegrationKind::ALL {
        let id = format!("sec-{kind}");
        let benign = Templates::plain();
        let fields = render_every_field(kind, &id, &benign, &alert, &user_variables())
            .unwrap_or_else(|error| panic!("{kind}: {error}"));
        let kind_contexts = contexts(kind).unwrap_or_else(|error| panic!("{kind}: {error}"));
        for context in kind_contexts {
            let field = fields
                .iter()
                .find(|field| field.context == context)
                .map(|field| field.field.clone())
                .expect("the field of the context");
            for (template, reason) in hostile {
                let error = render_every_field(
                    kind,
                    &id,
                    &benign.clone().with(context, template),
                    &alert,
                    &user_variables(),
                )
                .expect_err("refused");
                assert!(
                    error.starts_with(&format!("integration `{id}`, field `{field}`, line 1: ")),
                    "{kind} {context:?} {template}: {error}"
                );
                assert!(error.contains(reason), "{kind} {context:?} {template}: {error}");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The SAM template: least privilege

/// A permission a function may hold: actions on one resource (in CloudFormation's short form),
/// with a condition key it must carry when the resource is a pattern.
struct Grant {
    actions: &'static [&'static str],
    resource: &'static str,
    condition: Option<&'static str>,
}

/// What every notifier function needs. `{LogGroup}` is the function's own log group.
const COMMON_GRANTS: &[Grant] = &[
    // Its own log group only (a role SAM generates would write to every log group).
    Grant {
        actions: &["logs:CreateLogStream", "logs:PutLogEvents"],
        resource: "!GetAtt {LogGroup}.Arn",
        condition: None,
    },
    // X-Ray has no resource-level permissions for these actions: the Service Authorization
    // Reference lists no resource type for them, so they can only be granted on "*"
    // (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsx-ray.html).
    Grant {
        actions: &["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        resource: "*",
        condition: None,
    },
    // The definitions are read-only to the functions.
    Grant {
        actions: &["dynamodb:Scan", "dynamodb:GetItem", "dynamodb:Query"],
        resource: "!GetAtt DefinitionsTable.Arn",
        condition: None,
    },
    Grant {
        actions: &[
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:GetItem",
            "dynamodb:Query",
        ],
        resource: "!GetAtt DeliveriesTable.Arn",
        condition: None,
    },
    // Secrets are named by the definitions, which the template cannot know: one prefix each.
    Grant {
        actions: &["ssm:GetParameter"],
        resource: "!Sub arn:${AWS::Partition}:ssm:${AWS::Region}:${AWS::AccountId}:parameter${SecretsPrefix}*",
        condition: None,
    },
    Grant {
        actions: &["secretsmanager:GetSecretValue"],
        resource: "!Sub arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}:secret:${SecretNamePrefix}*",
        condition: None,
    },
    // The key of a secret is its owner's choice; it may only be used through SSM and Secrets Manager.
    Grant {
        actions: &["kms:Decrypt"],
        resource: "!Sub arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*",
        condition: Some("kms:ViaService"),
    },
    Grant {
        actions: &["sqs:SendMessage"],
        resource: "!GetAtt FailedAlertsQueue.Arn",
        condition: None,
    },
    // Delivery-failure notices to fallback integrations, through the alerts topic only.
    Grant {
        actions: &["sns:Publish"],
        resource: "!Ref AlertsTopic",
        condition: None,
    },
];

/// The `NotResource` of the SMS grant: every resource that is not an SNS topic or application.
const SMS_NOT_RESOURCE: &str = "!Sub arn:${AWS::Partition}:sns:*:*:*";

/// What a kind's function may do beyond [`COMMON_GRANTS`]: its own channel, nothing else.
fn channel_grants(kind: IntegrationKind) -> &'static [Grant] {
    match kinds::transport(kind) {
        // CloudFormation cannot build identity ARNs from a list parameter (Fn::Join takes no
        // function as its delimiter): the account's identities, with the From address checked.
        Transport::Ses => &[Grant {
            actions: &["ses:SendEmail"],
            resource: "!Sub arn:${AWS::Partition}:ses:${AWS::Region}:${AWS::AccountId}:identity/*",
            condition: Some("ses:FromAddress"),
        }],
        // SMS to phone numbers, which have no ARN: everything that is not an SNS resource (no
        // topic, no platform application); the statement uses `NotResource`.
        Transport::SnsSms => &[Grant {
            actions: &["sns:Publish"],
            resource: "NOT !Sub arn:${AWS::Partition}:sns:*:*:*",
            condition: None,
        }],
        // Voice calls from the account's own phone numbers and pools in the function's region (the
        // origination identities; a resource of another account shared by ARN needs its own grant).
        Transport::PinpointVoice => &[
            Grant {
                actions: &["sms-voice:SendVoiceMessage"],
                resource: "!Sub arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:phone-number/*",
                condition: None,
            },
            Grant {
                actions: &["sms-voice:SendVoiceMessage"],
                resource: "!Sub arn:${AWS::Partition}:sms-voice:${AWS::Region}:${AWS::AccountId}:pool/*",
                condition: None,
            },
        ],
        // HTTP needs no AWS permission.
        Transport::Http => &[],
    }
}

fn read_template() -> Yaml {
    let path = test_support::moto::workspace_root().join("infra/template.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|error| panic!("security: cannot read {}: {error}", path.display()));
    parse_template(&text).unwrap_or_else(|error| panic!("security: {}: {error}", path.display()))
}

fn parse_template(text: &str) -> Result<Yaml, String> {
    let template: Yaml = serde_norway::from_str(text).map_err(|error| {
        format!("not YAML this test can read ({error}); CloudFormation tags (!Ref, !GetAtt, !Sub) are read as tagged values")
    })?;
    if !template["Resources"].is_mapping() {
        return Err("no `Resources` mapping".to_owned());
    }
    Ok(template)
}

/// A value in CloudFormation's short form, long forms folded in: `!GetAtt DefinitionsTable.Arn`,
/// `!Sub arn:…`, `*`, `[a, b]`.
fn cfn(value: &Yaml) -> String {
    match value {
        Yaml::Null => String::new(),
        Yaml::Bool(flag) => flag.to_string(),
        Yaml::Number(number) => number.to_string(),
        Yaml::String(text) => text.clone(),
        Yaml::Sequence(items) => format!("[{}]", items.iter().map(cfn).collect::<Vec<_>>().join(", ")),
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            match (&tag[..], &tagged.value) {
                ("!GetAtt", Yaml::Sequence(parts)) => {
                    format!("!GetAtt {}", parts.iter().map(cfn).collect::<Vec<_>>().join("."))
                }
                _ => format!("{tag} {}", cfn(&tagged.value)),
            }
        }
        Yaml::Mapping(map) if map.len() == 1 => {
            let Some((key, inner)) = map.iter().next() else {
                return String::new();
            };
            match key.as_str() {
                Some("Ref") => format!("!Ref {}", cfn(inner)),
                Some("Fn::GetAtt") => match inner {
                    Yaml::Sequence(parts) => {
                        format!("!GetAtt {}", parts.iter().map(cfn).collect::<Vec<_>>().join("."))
                    }
                    other => format!("!GetAtt {}", cfn(other)),
                },
                Some(function) if function.starts_with("Fn::") => {
                    format!("!{} {}", &function[4..], cfn(inner))
                }
                _ => mapping_text(map),
            }
        }
        Yaml::Mapping(map) => mapping_text(map),
    }
}

fn mapping_text(map: &serde_norway::Mapping) -> String {
    let entries: Vec<String> = map
        .iter()
        .map(|(key, value)| format!("{}: {}", cfn(key), cfn(value)))
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// A scalar or a list of them, as texts (`Action: a` and `Action: [a, b]` alike).
fn texts(value: &Yaml) -> Vec<String> {
    match value {
        Yaml::Sequence(items) => items.iter().map(cfn).collect(),
        Yaml::Null => Vec::new(),
        other => vec![cfn(other)],
    }
}

/// The logical id a `!Ref X`, `!GetAtt X.Arn` or `{Ref: X}` points at.
fn referenced_id(value: &Yaml) -> Option<String> {
    let text = cfn(value);
    let rest = text
        .strip_prefix("!Ref ")
        .or_else(|| text.strip_prefix("!GetAtt "))?;
    Some(rest.split('.').next().unwrap_or(rest).to_owned())
}

/// Every statement of every policy document under `value`, with the path it was found at.
fn statements<'a>(value: &'a Yaml, path: &str, out: &mut Vec<(String, &'a Yaml)>) {
    match value {
        Yaml::Mapping(map) => {
            for (key, inner) in map {
                let key = cfn(key);
                let here = format!("{path}.{key}");
                if key == "Statement" {
                    match inner {
                        Yaml::Sequence(items) => {
                            for (index, statement) in items.iter().enumerate() {
                                out.push((format!("{here}[{index}]"), statement));
                            }
                        }
                        single => out.push((here.clone(), single)),
                    }
                } else {
                    statements(inner, &here, out);
                }
            }
        }
        Yaml::Sequence(items) => {
            for (index, inner) in items.iter().enumerate() {
                statements(inner, &format!("{path}[{index}]"), out);
            }
        }
        Yaml::Tagged(tagged) => statements(&tagged.value, path, out),
        _ => {}
    }
}

/// Problems of an Allow statement anywhere: wildcard actions, `Not*` elements, a `*` principal.
fn statement_problems(path: &str, statement: &Yaml, problems: &mut Vec<String>) {
    if cfn(&statement["Effect"]) != "Allow" {
        return;
    }
    for element in ["NotAction", "NotResource", "NotPrincipal"] {
        // The one documented exception: SMS to phone numbers (which have no ARN) is `sns:Publish` on
        // everything that is not an SNS resource.
        let sms_only = element == "NotResource"
            && texts(&statement["Action"]) == ["sns:Publish"]
            && texts(&statement[element]) == [SMS_NOT_RESOURCE];
        if !statement[element].is_null() && !sms_only {
            problems.push(format!(
                "{path}: `{element}` in an Allow statement grants everything else"
            ));
        }
    }
    for action in texts(&statement["Action"]) {
        if action == "*" || action.ends_with(":*") || action.contains(['*', '?']) || !action.contains(':') {
            problems.push(format!(
                "{path}: action `{action}` is a wildcard; name each action"
            ));
        }
    }
    let principal = cfn(&statement["Principal"]);
    if principal == "*" || principal.contains("AWS: *") {
        problems.push(format!("{path}: an Allow statement for every principal (`*`)"));
    }
}

/// Everything wrong with the template's permissions, with what to do about it.
fn least_privilege_problems(template: &Yaml) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(resources) = template["Resources"].as_mapping() else {
        return vec!["the template has no `Resources` mapping".to_owned()];
    };
    let resource = |id: &str| resources.get(id).cloned().unwrap_or(Yaml::Null);
    let mut function_roles: BTreeMap<String, String> = BTreeMap::new();
    let mut managed_in_use: std::collections::BTreeSet<String> = Default::default();
    let mut functions = 0;
    for (id, definition) in resources {
        let id = cfn(id);
        if cfn(&definition["Type"]) != "AWS::Serverless::Function" {
            continue;
        }
        functions += 1;
        let properties = &definition["Properties"];
        let code = cfn(&properties["CodeUri"]);
        let Some(kind) = code
            .strip_prefix("../functions/notify-")
            .and_then(|kind| kind.parse::<IntegrationKind>().ok())
        else {
            problems.push(format!(
                "{id}: CodeUri `{code}` is not ../functions/notify-<kind> of a known kind"
            ));
            continue;
        };
        if !properties["Policies"].is_null() {
            problems.push(format!(
                "{id}: `Policies` makes SAM generate a role with AWSLambdaBasicExecutionRole (logs on every \
                 log group) and the policies' own grants; move every statement into the function's `Role` \
                 (see NotifyWebhookRole)"
            ));
        }
        let Some(role_id) = referenced_id(&properties["Role"]) else {
            problems.push(format!(
                "{id}: no `Role: !GetAtt <Role>.Arn`; SAM would generate one with AWSLambdaBasicExecutionRole \
                 (logs on every log group): give the function a role of its own (copy NotifyWebhookRole)"
            ));
            continue;
        };
        if let Some(other) = function_roles.insert(role_id.clone(), id.clone()) {
            problems.push(format!(
                "{id} and {other} share the role {role_id}: each function needs its own"
            ));
        }
        let role = resource(&role_id);
        if cfn(&role["Type"]) != "AWS::IAM::Role" {
            problems.push(format!(
                "{id}: its role {role_id} is not an AWS::IAM::Role of this template"
            ));
            continue;
        }
        let role_properties = &role["Properties"];
        // Managed policies count only when they are this template's own (their statements are read
        // with the role's); an AWS or account policy grants what this test cannot see.
        let mut policy_documents = vec![(format!("{role_id}.Policies"), role_properties["Policies"].clone())];
        for arn in texts(&role_properties["ManagedPolicyArns"]) {
            let local = arn
                .strip_prefix("!Ref ")
                .map(|id| (id.to_owned(), resource(id)))
                .filter(|(_, policy)| cfn(&policy["Type"]) == "AWS::IAM::ManagedPolicy");
            match local {
                Some((policy_id, policy)) => {
                    managed_in_use.insert(policy_id.clone());
                    policy_documents.push((policy_id, policy["Properties"]["PolicyDocument"].clone()));
                }
                None => problems.push(format!(
                    "{role_id}: managed policies grant what this test cannot see; write the statements out \
                     (in the role, or in an AWS::IAM::ManagedPolicy of this template such as NotifierPolicy)"
                )),
            }
        }
        let trust = texts(&role_properties["AssumeRolePolicyDocument"]["Statement"]);
        if trust.len() != 1
            || !trust[0].contains("Principal: {Service: lambda.amazonaws.com}")
            || !trust[0].contains("Action: sts:AssumeRole")
        {
            problems.push(format!(
                "{role_id}: the role must be assumable by lambda.amazonaws.com only, got {trust:?}"
            ));
        }
        let log_group = referenced_id(&properties["LoggingConfig"]["LogGroup"]);
        let Some(log_group) = log_group else {
            problems.push(format!("{id}: no `LoggingConfig.LogGroup: !Ref <its log group>`"));
            continue;
        };
        let allowed: Vec<(&Grant, String)> = COMMON_GRANTS
            .iter()
            .chain(channel_grants(kind))
            .map(|grant| (grant, grant.resource.replace("{LogGroup}", &log_group)))
            .collect();
        let mut granted: Vec<(String, String)> = Vec::new();
        let mut found = Vec::new();
        for (path, document) in &policy_documents {
            statements(document, path, &mut found);
        }
        for (path, statement) in found {
            statement_problems(&path, statement, &mut problems);
            if cfn(&statement["Effect"]) != "Allow" {
                continue;
            }
            let conditions = cfn(&statement["Condition"]);
            let not_resources: Vec<String> = texts(&statement["NotResource"])
                .into_iter()
                .map(|target| format!("NOT {target}"))
                .collect();
            let targets: Vec<String> = texts(&statement["Resource"])
                .into_iter()
                .chain(not_resources)
                .collect();
            for action in texts(&statement["Action"]) {
                let for_action: Vec<&(&Grant, String)> = allowed
                    .iter()
                    .filter(|(grant, _)| grant.actions.contains(&action.as_str()))
                    .collect();
                if for_action.is_empty() {
                    problems.push(format!(
                        "{path}: {id} (kind `{kind}`) may not `{action}`: a function touches its own logs and \
                         traces, the tables, its secrets, the on-failure queue and its own channel (a new \
                         kind's channel goes into channel_grants)"
                    ));
                    continue;
                }
                for target in targets.clone() {
                    let grant = for_action.iter().find(|(_, resource)| *resource == target);
                    match grant {
                        None if target == "*" => problems.push(format!(
                            "{path}: `{action}` on `*`; name the resource (only actions without resource-level \
                             permissions may use `*`, each documented in COMMON_GRANTS)"
                        )),
                        None => problems.push(format!(
                            "{path}: `{action}` on `{target}` is not allowed (allowed: {})",
                            for_action
                                .iter()
                                .map(|(_, resource)| format!("`{resource}`"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        )),
                        Some((grant, _)) => {
                            if let Some(key) = grant.condition
                                && !conditions.contains(key)
                            {
                                problems.push(format!(
                                    "{path}: `{action}` on `{target}` needs a `{key}` condition"
                                ));
                            }
                            granted.push((action.clone(), target.clone()));
                        }
                    }
                }
            }
        }
        for (grant, target) in &allowed {
            for action in grant.actions {
                if !granted.iter().any(|(a, t)| a == action && t == target) {
                    problems.push(format!(
                        "{role_id}: does not grant `{action}` on `{target}`, which the {kind} function needs"
                    ));
                }
            }
        }
    }
    if functions == 0 {
        problems.push("the template has no AWS::Serverless::Function".to_owned());
    }
    // Every other policy in the template: resource policies and any other IAM resource.
    for (id, definition) in resources {
        let id = cfn(id);
        let kind = cfn(&definition["Type"]);
        if kind == "AWS::Serverless::Function"
            || function_roles.contains_key(&id)
            || managed_in_use.contains(&id)
        {
            continue;
        }
        if kind.starts_with("AWS::IAM::") {
            problems.push(format!(
                "{id}: an {kind} that no function uses (as its role or its role's managed policy); check it here before adding it"
            ));
        }
        let mut found = Vec::new();
        statements(&definition["Properties"], &id, &mut found);
        for (path, statement) in found {
            statement_problems(&path, statement, &mut problems);
            if cfn(&statement["Effect"]) == "Allow" && texts(&statement["Resource"]).iter().any(|r| r == "*")
            {
                problems.push(format!("{path}: an Allow statement on `*`"));
            }
        }
    }
    problems
}

#[test]
fn every_function_of_the_sam_template_has_least_privilege() {
    let problems = least_privilege_problems(&read_template());
    assert!(
        problems.is_empty(),
        "security: infra/template.yaml grants too much:\n  - {}\n",
        problems.join("\n  - ")
    );
}

#[test]
fn the_least_privilege_check_finds_what_it_looks_for() {
    let template = parse_template(
        r#"
Resources:
  NotifyWebhookFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../functions/notify-webhook
      Role: !GetAtt WideRole.Arn
      LoggingConfig:
        LogGroup: !Ref NotifyWebhookLogGroup
  NotifyEmailFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: ../functions/notify-email
      Policies:
        - DynamoDBCrudPolicy: {TableName: !Ref DefinitionsTable}
  WideRole:
    Type: AWS::IAM::Role
    Properties:
      AssumeRolePolicyDocument:
        Statement:
          - {Effect: Allow, Principal: {Service: lambda.amazonaws.com}, Action: sts:AssumeRole}
      ManagedPolicyArns: [arn:aws:iam::aws:policy/AdministratorAccess]
      Policies:
        - PolicyName: wide
          PolicyDocument:
            Statement:
              - {Effect: Allow, Action: "*", Resource: "*"}
              - {Effect: Allow, Action: "dynamodb:*", Resource: {"Fn::GetAtt": [DefinitionsTable, Arn]}}
              - {Effect: Allow, Action: dynamodb:PutItem, Resource: !GetAtt DefinitionsTable.Arn}
              - {Effect: Allow, Action: ses:SendEmail, Resource: "*"}
              - {Effect: Allow, Action: kms:Decrypt, Resource: !Sub "arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*"}
              - {Effect: Allow, NotAction: iam:PassRole, Resource: !GetAtt DeliveriesTable.Arn}
  UnusedPolicy:
    Type: AWS::IAM::ManagedPolicy
    Properties:
      PolicyDocument:
        Statement:
          - {Effect: Allow, Action: dynamodb:DeleteItem, Resource: !GetAtt DeliveriesTable.Arn}
  OpenQueuePolicy:
    Type: AWS::SQS::QueuePolicy
    Properties:
      PolicyDocument:
        Statement:
          - {Effect: Allow, Principal: "*", Action: sqs:SendMessage, Resource: "*"}
          - {Effect: Deny, Principal: "*", Action: "sqs:*", Resource: !GetAtt FailedAlertsQueue.Arn}
"#,
    )
    .unwrap_or_else(|error| panic!("{error}"));
    let problems = least_privilege_problems(&template);
    let expected = [
        "NotifyEmailFunction: `Policies` makes SAM generate a role",
        "NotifyEmailFunction: no `Role: !GetAtt <Role>.Arn`",
        "WideRole: managed policies grant what this test cannot see",
        "UnusedPolicy: an AWS::IAM::ManagedPolicy that no function uses",
        "Statement[0]: action `*` is a wildcard",
        "NotifyWebhookFunction (kind `webhook`) may not `*`",
        "Statement[1]: action `dynamodb:*` is a wildcard",
        "`dynamodb:PutItem` on `!GetAtt DefinitionsTable.Arn` is not allowed (allowed: `!GetAtt DeliveriesTable.Arn`)",
        "NotifyWebhookFunction (kind `webhook`) may not `ses:SendEmail`",
        "`kms:Decrypt` on `!Sub arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/*` needs a `kms:ViaService` condition",
        "Statement[5]: `NotAction` in an Allow statement",
        "WideRole: does not grant `logs:PutLogEvents` on `!GetAtt NotifyWebhookLogGroup.Arn`",
        "OpenQueuePolicy.PolicyDocument.Statement[0]: an Allow statement for every principal",
        "OpenQueuePolicy.PolicyDocument.Statement[0]: an Allow statement on `*`",
    ];
    for fragment in expected {
        assert!(
            problems.iter().any(|problem| problem.contains(fragment)),
            "no problem says {fragment:?}:\n  - {}",
            problems.join("\n  - ")
        );
    }
    assert!(
        !problems
            .iter()
            .any(|problem| problem.contains("Statement[1]: an Allow")),
        "a Deny statement is not a grant: {problems:#?}"
    );
    assert!(
        parse_template("Resources: [unclosed").is_err() && parse_template("Other: {}").is_err(),
        "an unreadable template is an error"
    );
}
