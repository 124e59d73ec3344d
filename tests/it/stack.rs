//! The whole stack of one end-to-end test, on the local emulator: fresh `Definitions` and
//! `Deliveries` tables holding the sample definitions, the SES sender identity, the webhook secret
//! in SSM under a name only this test uses, a scripted webhook receiver, and both real pipelines
//! (notify-email, notify-webhook) built by `build_pipeline` as Lambda builds them.
//!
//! It lives in the test binary, not in `tests/src/lib.rs`, because it needs `test-support`, which
//! the tidy test keeps in `[dev-dependencies]`.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, Instant},
};

use alert_model::IntegrationKind;
use aws_sdk_dynamodb::types::AttributeValue;
use definition_store::{Definitions, DynamoDbStore, SecretRef, VariableDef, load_file};
use notify_core::{
    Config, DeliveryLog, DeliveryRecord, DeliveryState, DynamoDeliveryLog, EventHandler, EventReport,
    HandlerError, HttpClient, Init, LogTimes, metrics::MetricsSink,
};
use serde_json::Value;
use test_support::{
    moto::{endpoint, sdk_config, unique, workspace_root},
    receiver::{Receiver, Script},
};

/// The secret reference of the sample definitions, replaced per test by a unique parameter.
pub const SAMPLE_SECRET: &str = "ssm:/tocsin/demo/webhook-token";
/// The sender of the sample e-mail integration.
pub const SAMPLE_SENDER: &str = "alerts@example.com";
/// The webhook paths of the sample definitions.
pub const OPS_PATH: &str = "/hooks/ops";
/// See [`OPS_PATH`].
pub const RELAY_PATH: &str = "/hooks/relay";

/// One test's stack. Dropping it stops the receiver; the tables stay (unique names).
pub struct Stack {
    pub dynamo: aws_sdk_dynamodb::Client,
    pub deliveries_table: String,
    /// The value stored in SSM and referenced by the `Token` variable of `ops-webhook`.
    pub secret: String,
    /// In every e-mail address of the definitions (`alice+<tag>@example.com`): tells this test's
    /// e-mails apart from other tests' in the emulator.
    pub tag: String,
    pub receiver: Receiver,
    /// Every kind's function, from the registry, built as Lambda builds it.
    pub functions: Vec<Box<dyn EventHandler>>,
    /// The delivery log all functions share.
    pub deliveries: DynamoDeliveryLog,
}

impl Stack {
    /// The stack with the receiver answering `script` and the default settings.
    pub async fn start(script: Script) -> Stack {
        Stack::with(script, &[], |_| {}).await
    }

    /// The stack with extra settings (e.g. `TOCSIN_MAX_ATTEMPTS`) and the sample definitions
    /// changed by `edit` before they are applied.
    pub async fn with(
        script: Script,
        settings: &[(&str, &str)],
        edit: impl FnOnce(&mut Definitions),
    ) -> Stack {
        Stack::build(|_| script, settings, edit).await
    }

    /// The stack with the receiver answering the script `script(secret)` makes from the webhook
    /// secret (a target that echoes it).
    pub async fn build(
        script: impl FnOnce(&str) -> Script,
        settings: &[(&str, &str)],
        edit: impl FnOnce(&mut Definitions),
    ) -> Stack {
        Stack::build_with_secret(unique("e2e-s3cret-TOKEN"), script, settings, edit).await
    }

    /// [`Stack::build`] with a given webhook secret (e.g. one holding quotes or spaces).
    pub async fn build_with_secret(
        secret: String,
        script: impl FnOnce(&str) -> Script,
        settings: &[(&str, &str)],
        edit: impl FnOnce(&mut Definitions),
    ) -> Stack {
        let sdk = sdk_config().await;
        let parameter = format!("/{}", unique("tocsin-e2e/webhook-token"));
        let receiver = Receiver::start(script(&secret)).await;
        let tag = unique("e2e");
        let mut definitions = sample_definitions(&receiver.url(""), &format!("ssm:{parameter}"), &tag);
        edit(&mut definitions);

        // GIVEN the tables of the SAM template, with the sample definitions applied.
        let dynamo = aws_sdk_dynamodb::Client::new(&sdk);
        let definitions_table = unique("e2e-definitions");
        let deliveries_table = unique("e2e-deliveries");
        DynamoDbStore::create_table(&dynamo, &definitions_table)
            .await
            .expect("create the Definitions table");
        notify_core::deliveries::create_table(&dynamo, &deliveries_table)
            .await
            .expect("create the Deliveries table");
        DynamoDbStore::new(dynamo.clone(), definitions_table.clone())
            .apply(&definitions)
            .await
            .expect("apply the sample definitions");

        // … the SES sender verified, and the webhook token in SSM.
        verify_sender(&sdk).await;
        aws_sdk_ssm::Client::new(&sdk)
            .put_parameter()
            .name(&parameter)
            .value(&secret)
            .r#type(aws_sdk_ssm::types::ParameterType::SecureString)
            .overwrite(true)
            .send()
            .await
            .expect("put the webhook token into SSM");

        // … and every function configured as Lambda would configure it.
        let mut env: HashMap<String, String> = [
            ("DEFINITIONS_TABLE", definitions_table.as_str()),
            ("DELIVERIES_TABLE", deliveries_table.as_str()),
            ("TOCSIN_ALLOW_HOSTS", "127.0.0.1"),
            ("TOCSIN_ALLOW_HTTP", "true"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        for (name, value) in settings {
            env.insert((*name).to_owned(), (*value).to_owned());
        }
        let config = Config::from_lookup(|name| env.get(name).cloned()).expect("valid settings");
        let http = HttpClient::new(&config).expect("http client");
        // The functions' own constructors, as `notify_core::run` calls them.
        let init = Init {
            config: config.clone(),
            sdk: sdk.clone(),
            http,
        };
        let functions = IntegrationKind::ALL
            .iter()
            .map(|kind| {
                kinds::handler(*kind, &init, MetricsSink::Off)
                    .unwrap_or_else(|error| panic!("{kind}: {error}"))
            })
            .collect();
        let deliveries =
            DynamoDeliveryLog::new(dynamo.clone(), deliveries_table.clone(), LogTimes::default());
        Stack {
            dynamo,
            deliveries_table,
            secret,
            tag,
            receiver,
            functions,
            deliveries,
        }
    }

    /// The function of `kind`.
    pub fn function(&self, kind: IntegrationKind) -> &dyn EventHandler {
        self.functions
            .iter()
            .find(|function| function.kind() == kind)
            .map(AsRef::as_ref)
            .unwrap_or_else(|| panic!("no {kind} function"))
    }

    /// Handles `event` in every function at once, as SNS invokes them all; a 60 s deadline.
    pub async fn handle(&self, event: &Value) -> Handled {
        let deadline = Instant::now() + Duration::from_secs(60);
        let results = futures_util::future::join_all(
            self.functions
                .iter()
                .map(|function| async move { (function.kind(), function.handle(event, deadline).await) }),
        )
        .await;
        Handled {
            results: results.into_iter().collect(),
        }
    }

    /// The state of every message claimed for `alert_id` (every function shares the table).
    pub async fn states(&self, alert_id: &str) -> Vec<DeliveryState> {
        self.deliveries
            .states(alert_id)
            .await
            .expect("read the delivery states")
    }

    /// Every attempt recorded for `alert_id`.
    pub async fn history(&self, alert_id: &str) -> Vec<DeliveryRecord> {
        self.deliveries
            .history(alert_id)
            .await
            .expect("read the delivery history")
    }

    /// `(integration, step) → state` for `alert_id`.
    pub async fn states_by_route(&self, alert_id: &str) -> BTreeMap<(String, String), DeliveryState> {
        self.states(alert_id)
            .await
            .into_iter()
            .map(|state| ((state.key.integration_id.clone(), state.key.step.clone()), state))
            .collect()
    }

    /// The SES message ids (external ids) of the delivered e-mail steps of `alert_id`.
    pub async fn ses_ids(&self, alert_id: &str) -> Vec<String> {
        self.states(alert_id)
            .await
            .into_iter()
            .filter(|state| state.key.integration_id == "ops-email")
            .map(|state| {
                state
                    .external_id
                    .unwrap_or_else(|| panic!("e-mail step {:?} has no SES message id", state.key))
            })
            .collect()
    }

    /// The e-mails SES recorded for this stack's recipients.
    pub async fn ses_messages(&self) -> Vec<Value> {
        let marker = format!("+{}@", self.tag);
        ses_messages()
            .await
            .into_iter()
            .filter(|message| to_addresses(message).iter().any(|to| to.contains(&marker)))
            .collect()
    }

    /// `name@example.com` as this stack's definitions spell it.
    pub fn address(&self, name: &str) -> String {
        format!("{name}+{}@example.com", self.tag)
    }

    /// Every item of the Deliveries table, raw.
    pub async fn scan_deliveries(&self) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamo
                .scan()
                .table_name(&self.deliveries_table)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan the Deliveries table");
            items.extend(page.items.unwrap_or_default());
            start = page.last_evaluated_key;
            if start.is_none() {
                return items;
            }
        }
    }
}

/// The outcome of one event in every function.
#[derive(Debug)]
pub struct Handled {
    pub results: std::collections::BTreeMap<IntegrationKind, Result<EventReport, HandlerError>>,
}

impl Handled {
    /// The outcome in the function of `kind`.
    pub fn of(&self, kind: IntegrationKind) -> &Result<EventReport, HandlerError> {
        self.results
            .get(&kind)
            .unwrap_or_else(|| panic!("no outcome of the {kind} function"))
    }

    /// The report of the function of `kind`; panics with the error when it asks for a retry.
    pub fn report(&self, kind: IntegrationKind) -> EventReport {
        match self.of(kind) {
            Ok(report) => *report,
            Err(error) => panic!("{} asked for a retry: {error}", kind.function_name()),
        }
    }

    /// The reports of the e-mail and the webhook function, whose routes these tests follow; panics
    /// with the error when any function asks for a retry.
    pub fn reports(&self) -> (EventReport, EventReport) {
        for kind in self.results.keys() {
            self.report(*kind);
        }
        (
            self.report(IntegrationKind::Email),
            self.report(IntegrationKind::Webhook),
        )
    }
}

/// The integrations of the sample these tests follow: the pipeline through e-mail (SES) and
/// webhooks (the receiver). Each other kind has its own tests against its target (its crate, the
/// conformance kit, the demo), so a kind added to the sample changes nothing here.
const FOLLOWED: [&str; 3] = ["ops-email", "ops-webhook", "tocsin-relay"];

/// Drops every integration but [`FOLLOWED`] from `definitions`, with its attachments and fallbacks.
fn keep_followed_integrations(definitions: &mut Definitions) {
    let followed = |id: &str| FOLLOWED.contains(&id);
    for id in FOLLOWED {
        assert!(
            definitions
                .integrations
                .iter()
                .any(|integration| integration.id == id),
            "the sample should have the integration `{id}`"
        );
    }
    definitions
        .integrations
        .retain(|integration| followed(&integration.id));
    for integration in &mut definitions.integrations {
        if integration.fallback.as_deref().is_some_and(|id| !followed(id)) {
            integration.fallback = None;
        }
    }
    for level in definitions
        .alert_definitions
        .iter_mut()
        .flat_map(|definition| definition.levels.iter_mut())
    {
        level
            .integrations
            .retain(|attachment| followed(&attachment.integration));
    }
}

/// `examples/definitions.yaml` reduced to the [`FOLLOWED`] integrations, with every `BaseUrl` pointing at `base_url`, the sample secret
/// reference replaced by `secret`, and `+<tag>` added to every e-mail address. Panics if the sample
/// no longer has what this rewrites.
pub fn sample_definitions(base_url: &str, secret: &str, tag: &str) -> Definitions {
    let path = workspace_root().join("examples/definitions.yaml");
    let mut definitions = load_file(&path).expect("the sample definitions load");
    keep_followed_integrations(&mut definitions);
    let tagged = |address: &mut String| {
        let (local, domain) = address.split_once('@').expect("an e-mail address");
        *address = format!("{local}+{tag}@{domain}");
    };
    for operator in &mut definitions.operators {
        if let Some(email) = &mut operator.email {
            tagged(email);
        }
    }
    for definition in &mut definitions.alert_definitions {
        for level in &mut definition.levels {
            level
                .integrations
                .iter_mut()
                .flat_map(|a| a.extra_emails.iter_mut())
                .for_each(tagged);
        }
    }
    let (mut base_urls, mut secrets) = (0, 0);
    for integration in &mut definitions.integrations {
        for (name, variable) in &mut integration.variables {
            if name == "BaseUrl" {
                *variable = VariableDef::Fixed(base_url.to_owned());
                base_urls += 1;
            }
            if let VariableDef::Secret { secret: reference } = variable
                && reference.0 == SAMPLE_SECRET
            {
                *reference = SecretRef(secret.to_owned());
                secrets += 1;
            }
        }
    }
    assert_eq!(
        base_urls, 2,
        "the sample's webhook integrations should both have `BaseUrl`"
    );
    assert_eq!(secrets, 1, "the sample should reference `{SAMPLE_SECRET}` once");
    definitions
}

/// SES sends only from verified identities. Creating an existing identity fails in the emulator,
/// so an error is accepted when the identity is there afterwards.
async fn verify_sender(sdk: &aws_config::SdkConfig) {
    let ses = aws_sdk_sesv2::Client::new(sdk);
    if ses
        .create_email_identity()
        .email_identity(SAMPLE_SENDER)
        .send()
        .await
        .is_err()
    {
        ses.get_email_identity()
            .email_identity(SAMPLE_SENDER)
            .send()
            .await
            .expect("the SES sender identity exists");
    }
}

/// Every e-mail SES recorded in the emulator (`ses.Message[]` of moto's data dump). The dump
/// sometimes fails while other tests write to the emulator: it is read again, a few times.
pub async fn ses_messages() -> Vec<Value> {
    let url = format!("{}/moto-api/data.json", endpoint().trim_end_matches('/'));
    let mut last = String::new();
    for _ in 0..10 {
        let response = reqwest::get(&url)
            .await
            .unwrap_or_else(|error| panic!("GET {url}: {error}"));
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        match serde_json::from_str::<Value>(&body) {
            Ok(data) if status.is_success() => {
                return data
                    .pointer("/ses/Message")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default();
            }
            _ => last = format!("status {status}: {}", body.chars().take(300).collect::<String>()),
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("GET {url}: no JSON after 10 tries; last answer {last}")
}

/// The recorded e-mails with these SES message ids, in the order of `ids`; panics if one is missing.
pub async fn ses_messages_with_ids(ids: &[String]) -> Vec<Value> {
    let all = ses_messages().await;
    ids.iter()
        .map(|id| {
            all.iter()
                .find(|message| message["id"].as_str() == Some(id.as_str()))
                .cloned()
                .unwrap_or_else(|| panic!("SES recorded no message with id {id}"))
        })
        .collect()
}

/// The `ToAddresses` of a recorded e-mail, sorted.
pub fn to_addresses(message: &Value) -> Vec<String> {
    let mut addresses: Vec<String> = message
        .pointer("/destinations/ToAddresses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|address| address.as_str().map(str::to_owned))
        .collect();
    addresses.sort();
    addresses
}

/// The `Sns.Message` of the first record of an event file under `events/`.
pub fn event_file(name: &str) -> Value {
    let path = workspace_root().join("events").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// A sample alert under `examples/alerts/`, as text.
pub fn sample_alert(name: &str) -> String {
    let path = workspace_root().join("examples/alerts").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

/// The `Sns.Message` of the first record of `event`.
pub fn message_of(event: &Value) -> String {
    event
        .pointer("/Records/0/Sns/Message")
        .and_then(Value::as_str)
        .expect("the event's first record has a message")
        .to_owned()
}

/// `message` (a native envelope) with a new alert guid: a fresh alert of the same kind.
pub fn with_alert_guid(message: &str, guid: &str) -> String {
    let mut envelope: Value = serde_json::from_str(message).expect("a native envelope");
    envelope["alert"]["alertGuid"] = Value::String(guid.to_owned());
    envelope.to_string()
}

/// The alert guid of a native envelope.
pub fn alert_guid(message: &str) -> String {
    let envelope: Value = serde_json::from_str(message).expect("a native envelope");
    envelope["alert"]["alertGuid"]
        .as_str()
        .expect("the envelope has alert.alertGuid")
        .to_owned()
}
