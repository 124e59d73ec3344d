//! Inputs and the warm per-route work, for the benchmarks and the load command.

use std::{collections::BTreeMap, fs, path::Path};

use alert_model::{Alert, IntegrationKind, template::Engine};
use definition_store::{
    AlertDefinition, Attachment, Catalog, Definitions, EscalationLevel, Integration, Operator, SecretRef,
    VariableDef, load_file,
};
use notify_core::{
    Config, HttpClient, Init, Kind, Notifier, RouteContext, SampleEnv, Templates, Variables,
    pipeline::alert_from_record,
};
use serde_json::Value;

/// The sample monitor of the examples, and the workspace root: test-support's.
pub use test_support::{moto::workspace_root, sns::SAMPLE_MONITOR_GUID};

/// The body of the sample custom webhook (`ops-webhook` in examples/definitions.yaml), used for the
/// synthetic webhook integrations of the load command.
pub const WEBHOOK_BODY: &str = r#"{
  "event": "{{@alert.type}}",
  "severity": "{{Severity}}",
  "incident": "{{@incident.key}}",
  "monitor": "{{@monitor.name}}",
  "description": "{{@alert.description}}",
  "level": "{{@escalationLevel.id}}"
}
"#;

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|error| format!("cannot read {}: {error}", path.display()))
}

/// One inbound message as SNS carries it.
#[derive(Debug, Clone)]
pub struct InboundSample {
    /// `fixtures/<name>` or `examples/<name>`.
    pub name: String,
    /// `Sns.Message`.
    pub message: String,
    /// `Sns.Subject`, when the fixture has one.
    pub subject: Option<String>,
}

/// Every inbound fixture of alert-model (`fixtures/inbound/<name>.json|.txt` with an optional
/// `<name>.subject`) and every sample alert of `examples/alerts`, sorted by name.
pub fn inbound_samples() -> Result<Vec<InboundSample>, String> {
    let root = workspace_root();
    let mut samples = Vec::new();
    let fixtures = root.join("shared/alert-model/fixtures/inbound");
    for (folder, prefix) in [
        (fixtures.as_path(), "fixtures"),
        (&root.join("examples/alerts"), "examples"),
    ] {
        let entries =
            fs::read_dir(folder).map_err(|error| format!("cannot list {}: {error}", folder.display()))?;
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(extension) = path.extension().and_then(|e| e.to_str()) else {
                continue;
            };
            if extension != "json" && extension != "txt" {
                continue;
            }
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default()
                .to_owned();
            let subject_path = path.with_extension("subject");
            let subject = if subject_path.is_file() {
                Some(read(&subject_path)?.trim_end_matches('\n').to_owned())
            } else {
                None
            };
            samples.push(InboundSample {
                name: format!("{prefix}/{stem}"),
                message: read(&path)?,
                subject,
            });
        }
    }
    samples.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(samples)
}

/// The sample definitions (`examples/definitions.yaml`).
pub fn sample_definitions() -> Result<Definitions, String> {
    let path = workspace_root().join("examples/definitions.yaml");
    load_file(&path).map_err(|error| format!("{}: {error}", path.display()))
}

/// The sample native alert (`examples/alerts/alert.json`) with its `alert.alertGuid` replaced.
pub fn sample_alert_message(alert_guid: &str) -> Result<String, String> {
    let path = workspace_root().join("examples/alerts/alert.json");
    let mut message: Value = serde_json::from_str(&read(&path)?)
        .map_err(|error| format!("{}: not JSON: {error}", path.display()))?;
    if let Some(guid) = message.pointer_mut("/alert/alertGuid") {
        *guid = Value::String(alert_guid.to_owned());
    }
    Ok(message.to_string())
}

/// The sample integration of `kind` named `id` ([`Kind::sample`]), sending to `base_url`: the
/// load command, the routing benchmark and the test matrices start from it.
pub fn integration(kind: IntegrationKind, id: &str, base_url: &str) -> Integration {
    let env = SampleEnv {
        base_url,
        ..SampleEnv::default()
    };
    kinds::sample(kind, id, &env)
}

/// The user name of the Basic credentials of the webhook's templated fields ([`Kind::set_templates`]).
pub const SECRET_USER: &str = "ops";

/// Templates that write the secret variable `Token` into every context a kind's messages have:
/// a JSON body, a URL query, a header, a subject, an HTML link and its text, a text body.
pub fn secret_templates() -> Templates {
    Templates {
        json: "{\"token\": \"{{Token}}\", \"monitor\": \"{{@monitor.name}}\"}".to_owned(),
        url: "x?key={{Token}}".to_owned(),
        header: "{{Token}}".to_owned(),
        subject: "{{@monitor.name}} {{Token}}".to_owned(),
        html: "<a href=\"https://ops.example.com/ack?token={{Token}}\">{{Token}}</a>".to_owned(),
        text: "Acknowledge: https://ops.example.com/ack?token={{Token}}\n{{@alert.description}}".to_owned(),
    }
}

/// [`integration`] with a secret variable `Token` (`secret`) used wherever the kind can carry one
/// ([`secret_templates`] through [`Kind::set_templates`]), for the redaction tests.
pub fn secret_integration(
    kind: IntegrationKind,
    id: &str,
    base_url: &str,
    secret: &SecretRef,
) -> Integration {
    let mut integration = integration(kind, id, base_url);
    integration.variables.insert(
        "Token".to_owned(),
        VariableDef::Secret {
            secret: secret.clone(),
        },
    );
    set_templates(&mut integration, &secret_templates());
    integration
}

/// [`Kind::set_templates`] of the integration's kind.
pub fn set_templates(integration: &mut Integration, templates: &Templates) {
    struct Set<'a>(&'a mut Integration, &'a Templates);

    impl kinds::Visitor for Set<'_> {
        type Output = ();

        fn visit<K: Kind>(self) {
            K::set_templates(self.0, self.1);
        }
    }

    let kind = integration.kind;
    kinds::visit(kind, Set(integration, templates));
}

/// [`load_definitions`] with one integration of `kind`, `<kind>-0`, made by [`secret_integration`].
pub fn secret_definitions(kind: IntegrationKind, base_url: &str, secret: &SecretRef) -> Definitions {
    let mut definitions = load_definitions(kind, 1, base_url);
    definitions.integrations = vec![secret_integration(kind, &format!("{kind}-0"), base_url, secret)];
    definitions
}

fn attachment(integration: &str) -> Attachment {
    Attachment {
        integration: integration.to_owned(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: BTreeMap::new(),
        extra_emails: Vec::new(),
        extra_phones: Vec::new(),
        service_links: Vec::new(),
    }
}

/// An active, on-duty operator with an e-mail address and a phone number.
pub fn operator(id: &str) -> Operator {
    Operator {
        id: id.to_owned(),
        name: id.to_owned(),
        email: Some(format!("{id}@example.com")),
        phone: Some("+15555550101".to_owned()),
        active: true,
        on_duty: true,
    }
}

fn definition(id: String, monitor: String, attachments: Vec<Attachment>) -> AlertDefinition {
    AlertDefinition {
        id: id.clone(),
        name: id,
        active: true,
        monitors: vec![monitor],
        levels: vec![EscalationLevel {
            id: 1,
            active: true,
            message: "Synthetic level".to_owned(),
            operators: vec!["alice".to_owned()],
            integrations: attachments,
        }],
    }
}

/// Definitions for the load command: one alert definition covering the sample monitor whose level
/// 1 attaches `routes` integrations of `kind` (`<kind>-0`, `<kind>-1`, …), one operator.
pub fn load_definitions(kind: IntegrationKind, routes: usize, base_url: &str) -> Definitions {
    let integrations: Vec<Integration> = (0..routes)
        .map(|i| integration(kind, &format!("{kind}-{i}"), base_url))
        .collect();
    let attachments = integrations.iter().map(|i| attachment(&i.id)).collect();
    Definitions {
        integrations,
        alert_definitions: vec![definition(
            "load".to_owned(),
            SAMPLE_MONITOR_GUID.to_owned(),
            attachments,
        )],
        operators: vec![operator("alice")],
        operator_groups: Vec::new(),
        monitor_groups: Vec::new(),
    }
}

/// Definitions for the routing benchmark: `total` alert definitions, of which `covering` (spread
/// evenly) select the sample monitor by guid and the others each select a monitor of their own;
/// every definition attaches one integration of each kind.
pub fn routing_definitions(total: usize, covering: usize) -> Definitions {
    let integrations: Vec<Integration> = IntegrationKind::ALL
        .iter()
        .map(|&kind| integration(kind, kind.as_str(), "http://127.0.0.1:9"))
        .collect();
    let stride = (total / covering.max(1)).max(1);
    let alert_definitions = (0..total)
        .map(|d| {
            let covers = d % stride == 0 && d / stride < covering;
            let monitor = if covers {
                SAMPLE_MONITOR_GUID.to_owned()
            } else {
                uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_OID, format!("monitor-{d}").as_bytes()).to_string()
            };
            let attachments = integrations.iter().map(|i| attachment(&i.id)).collect();
            definition(format!("definition-{d}"), monitor, attachments)
        })
        .collect();
    Definitions {
        integrations,
        alert_definitions,
        operators: vec![operator("alice")],
        operator_groups: Vec::new(),
        monitor_groups: Vec::new(),
    }
}

/// A configuration for local runs: definitions "from a file" (nothing is read), webhooks allowed to
/// 127.0.0.1 over plain http.
pub fn local_config() -> Result<Config, String> {
    let env: BTreeMap<&str, &str> = [
        ("TOCSIN_DEFINITIONS_FILE", "examples/definitions.yaml"),
        ("TOCSIN_ALLOW_HOSTS", "127.0.0.1"),
        ("TOCSIN_ALLOW_HTTP", "true"),
        ("TOCSIN_EMAIL_FROM", "alerts@example.com"),
    ]
    .into_iter()
    .collect();
    Config::from_lookup(|name| env.get(name).map(|value| (*value).to_owned()))
        .map_err(|error| format!("local settings: {error}"))
}

/// What a kind's notifier is built from, for local runs: [`local_config`], and the AWS SDK pointed at
/// `endpoint` with dummy credentials (building messages never uses it; sending reaches `endpoint`).
pub fn local_init(endpoint: &str) -> Result<Init, String> {
    let config = local_config()?;
    let sdk = aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            aws_sdk_dynamodb::config::Credentials::new("testing", "testing", None, None, "tocsin-bench"),
        ))
        .endpoint_url(endpoint)
        .build();
    let http = HttpClient::new(&config).map_err(|error| format!("http client: {error}"))?;
    Ok(Init { config, sdk, http })
}

/// The real notifier of kind `K`, built by its own constructor from [`local_init`] with `endpoint`.
pub fn notifier_at<K: Kind>(endpoint: &str) -> Result<K, String> {
    K::new(&local_init(endpoint)?).map_err(|error| format!("{} notifier: {error}", K::KIND))
}

/// [`notifier_at`] a closed port: for building messages only.
pub fn offline_notifier<K: Kind>() -> Result<K, String> {
    notifier_at::<K>("http://127.0.0.1:9")
}

/// The variables of a route as the runner resolves them, for integrations without secrets.
pub fn fixed_variables(integration: &Integration, attachment: &Attachment) -> Variables {
    let mut variables = Variables::default();
    for (name, definition) in &integration.variables {
        match definition {
            VariableDef::Fixed(value) => variables.insert(name.clone(), value.clone()),
            VariableDef::PerLevel { default, .. } => {
                if let Some(value) = attachment.variables.get(name).or(default.as_ref()) {
                    variables.insert(name.clone(), value.clone());
                }
            }
            VariableDef::Secret { .. } => variables.insert(name.clone(), "placeholder-secret"),
        }
    }
    variables
}

/// The alert as a route of `definition` sees it (as the runner fills it in).
pub fn alert_for_route(alert: &Alert, route: &definition_store::Route<'_>) -> Alert {
    let mut alert = alert.clone();
    alert.alert_definition.guid = route.definition.id.clone();
    alert.alert_definition.name = route.definition.name.clone();
    alert.escalation_level.message = route.level.message.clone();
    alert
}

/// The warm per-route work of one SNS record for `notifier`'s kind, as the runner does it before
/// sending: parse and normalise the record, resolve its routes in the cached `catalog`, and per
/// route resolve the variables, parse the settings and build the messages (which renders the
/// templates). Returns the number of messages built.
pub fn warm_route_work<N: Notifier>(
    notifier: &N,
    catalog: &Catalog,
    engine: &Engine,
    record: &Value,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<usize, String> {
    let alert = alert_from_record(record)?;
    let mut built = 0;
    for route in catalog.routes(&alert, N::KIND) {
        let route_alert = alert_for_route(&alert, &route);
        let variables = fixed_variables(route.integration, route.attachment);
        let target = notifier
            .target(route.integration)
            .map_err(|error| error.to_string())?;
        let context = RouteContext {
            alert: &route_alert,
            integration: route.integration,
            attachment: route.attachment,
            level: route.level,
            recipients: route.recipients.clone(),
            variables: &variables,
            now,
            engine,
            incident: None,
        };
        built += notifier
            .build(&context, &target)
            .map_err(|error| error.to_string())?
            .len();
    }
    Ok(built)
}
