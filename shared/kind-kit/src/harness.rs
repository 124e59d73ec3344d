//! One kind's real notifier and the real pipeline around it, sending to a scripted receiver.

use std::time::{Duration, Instant};

use alert_model::template::Engine;
use definition_store::{
    AlertDefinition, Attachment, Catalog, Definitions, EscalationLevel, Integration, IntegrationCheck,
    KindRules, MemoryStore, Operator, Recipients, ValidationIssue,
};
use notify_core::{
    Config, DeliveryRecord, EventReport, HandlerError, HttpClient, Init, Kind, MemoryDeliveryLog,
    MemorySecrets, Pipeline, SampleEnv, Settings,
};
use serde_json::Value;
use test_support::{Receiver, Recorded, Reply, Script, logs::Logs, sns};

use crate::target::{Case, case};

/// The secret reference the sample may use ([`SampleEnv::secret`]).
pub(crate) const SECRET_REF: &str = "ssm:/kit/secret";

/// The secret reference of the redaction check's `Token` variable.
pub(crate) const TOKEN_REF: &str = "ssm:/kit/token";

/// Attempts per message and invocation.
pub(crate) const MAX_ATTEMPTS: u32 = 3;

/// The request timeout of every kind (`TOCSIN_HTTP_TIMEOUT_MS`): far above a local answer, far below
/// the slow target's delay.
pub(crate) const HTTP_TIMEOUT: Duration = Duration::from_millis(1500);

/// The id of the sample integration.
pub(crate) const INTEGRATION: &str = "kit-target";

const DEFINITION: &str = "kit-definition";
const OPERATOR: &str = "kit-operator";

/// A pipeline of kind `K` sending to its own receiver.
pub(crate) struct Harness<K: Kind> {
    /// The value of [`SECRET_REF`].
    pub(crate) sample_secret: String,
    pub(crate) receiver: Receiver,
    pub(crate) pipeline: Pipeline<K, MemoryStore, MemorySecrets, MemoryDeliveryLog>,
    pub(crate) definitions: Definitions,
}

impl<K: Kind> Harness<K> {
    /// The sample of `K`, changed by `adjust`, on a level with one on-duty operator, sending to a
    /// receiver that answers every path with `replies` (in order per path, the last one repeating).
    /// The secret store holds a fresh secret at [`SECRET_REF`], and `token` at [`TOKEN_REF`].
    pub(crate) async fn start(
        replies: Vec<Reply>,
        token: Option<&str>,
        adjust: impl FnOnce(&mut Integration),
    ) -> Result<Self, String> {
        let receiver = Receiver::start(Script::new().any(replies)).await;
        let base_url = receiver.url("");
        let init = init(&base_url).await?;
        let notifier = K::new(&init).map_err(|error| format!("`Kind::new` failed: {error}"))?;
        let env = SampleEnv {
            base_url: &base_url,
            secret: Some(SECRET_REF),
            ..SampleEnv::default()
        };
        let mut integration = K::sample(INTEGRATION, &env);
        integration.id = INTEGRATION.to_owned();
        adjust(&mut integration);
        let definitions = definitions(integration);
        let sample_secret = crate::leaks::sample_secret();
        let mut secrets = MemorySecrets::new().with(SECRET_REF, &sample_secret);
        if let Some(token) = token {
            secrets = secrets.with(TOKEN_REF, token);
        }
        let pipeline = Pipeline::new(
            notifier,
            MemoryStore::new(definitions.clone()),
            secrets,
            MemoryDeliveryLog::default(),
            Settings {
                max_attempts: MAX_ATTEMPTS,
                backoff_base: Duration::from_millis(10),
                backoff_cap: Duration::from_millis(50),
                ..Settings::default()
            },
        );
        Ok(Harness {
            sample_secret,
            receiver,
            pipeline,
            definitions,
        })
    }

    /// How `K`'s targets answer.
    pub(crate) fn case(&self) -> Case {
        case(K::TRANSPORT)
    }

    /// One invocation with `event`, 30 s before its deadline.
    pub(crate) async fn handle(&self, event: &Value) -> Result<EventReport, HandlerError> {
        self.pipeline
            .handle_event(event, Instant::now() + Duration::from_secs(30))
            .await
    }

    /// The steps `K` builds for `event` (as `tocsin render` plans them), in order.
    pub(crate) async fn planned_steps(&self, event: &Value) -> Result<Vec<String>, String> {
        let record = event.pointer("/Records/0").cloned().unwrap_or(Value::Null);
        let alert = notify_core::pipeline::alert_from_record(&record)?;
        let catalog = Catalog::new(self.definitions.clone());
        let secrets = MemorySecrets::new()
            .with(SECRET_REF, &self.sample_secret)
            .with(TOKEN_REF, "planned");
        let planned = notify_core::plan(
            self.pipeline.notifier(),
            &catalog,
            &alert,
            None,
            &secrets,
            &Engine::new(),
            chrono::Utc::now(),
        )
        .await;
        planned
            .into_iter()
            .map(|message| {
                message
                    .map(|message| message.step)
                    .map_err(|error| error.to_string())
            })
            .collect()
    }

    /// Every request the target got, in arrival order.
    pub(crate) fn requests(&self) -> Vec<Recorded> {
        self.receiver.requests()
    }

    /// Every attempt in the delivery log.
    pub(crate) fn records(&self) -> Vec<DeliveryRecord> {
        self.pipeline.deliveries().records()
    }

    /// What `tocsin validate` says about the definitions, with `K`'s settings and checks.
    pub(crate) fn validate(&self) -> Vec<ValidationIssue> {
        definition_store::validate_with(&self.definitions, &Rules::<K>(std::marker::PhantomData))
    }
}

/// A fresh alert (its id) and the SNS event carrying it.
pub(crate) fn event() -> (String, Value) {
    let alert_id = format!("kit-{}", uuid::Uuid::new_v4());
    let event = sns::event(&[(&format!("sns-{alert_id}"), &sns::native_alert(&alert_id))]);
    (alert_id, event)
}

/// The step of a delivery record, without its `<alert definition>/` scope.
pub(crate) fn step_of(record: &DeliveryRecord) -> &str {
    record
        .key
        .step
        .split_once('/')
        .map_or(record.key.step.as_str(), |(_, step)| step)
}

/// Captures the logs as the functions write them (their own subscriber, JSON, at trace level: the
/// most a user can turn on) until the guard drops. The subscriber keeps the AWS SDK's trace events
/// out, as in production, where they would print whole responses.
pub(crate) fn capture_logs() -> (Logs, tracing::subscriber::DefaultGuard) {
    let config = Config {
        log_json: true,
        log_filter: "trace".to_owned(),
        ..Config::default()
    };
    test_support::logs::capture_with(|logs| notify_core::log_subscriber(&config, move || logs.clone()))
}

/// The SDK config (the receiver as the endpoint, dummy credentials) and the functions' settings
/// opened to the loopback receiver, with a short request timeout.
async fn init(base_url: &str) -> Result<Init, String> {
    let timeout = HTTP_TIMEOUT.as_millis().to_string();
    let config = Config::from_lookup(|name| {
        let value = match name {
            "TOCSIN_DEFINITIONS_FILE" => "-",
            "TOCSIN_ALLOW_HOSTS" => "127.0.0.1",
            "TOCSIN_ALLOW_HTTP" => "true",
            "TOCSIN_HTTP_TIMEOUT_MS" => timeout.as_str(),
            _ => return None,
        };
        Some(value.to_owned())
    })
    .map_err(|error| format!("the kit's settings: {error}"))?;
    let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(base_url)
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await;
    let http = HttpClient::new(&config).map_err(|error| format!("the http client: {error}"))?;
    Ok(Init { config, sdk, http })
}

/// `integration` on level 1 of one alert definition covering every monitor, whose one operator is
/// on duty with an e-mail address and an E.164 phone number.
fn definitions(integration: Integration) -> Definitions {
    let attachment = Attachment {
        integration: integration.id.clone(),
        active: true,
        send_ok: true,
        send_reminder: true,
        variables: Default::default(),
        extra_emails: Vec::new(),
        extra_phones: Vec::new(),
        service_links: Vec::new(),
    };
    Definitions {
        integrations: vec![integration],
        alert_definitions: vec![AlertDefinition {
            id: DEFINITION.to_owned(),
            name: "Kit definition".to_owned(),
            active: true,
            monitors: vec!["*".to_owned()],
            levels: vec![EscalationLevel {
                id: 1,
                active: true,
                message: "Kit level".to_owned(),
                operators: vec![OPERATOR.to_owned()],
                integrations: vec![attachment],
            }],
        }],
        operators: vec![Operator {
            id: OPERATOR.to_owned(),
            name: "Kit Operator".to_owned(),
            email: Some("oncall@example.com".to_owned()),
            phone: Some("+15555550100".to_owned()),
            active: true,
            on_duty: true,
        }],
        ..Definitions::default()
    }
}

/// The validation rules of `K` alone (the registry's `kinds::Rules` for one kind).
struct Rules<K>(std::marker::PhantomData<K>);

impl<K: Kind> KindRules for Rules<K> {
    fn recipients(&self, kind: alert_model::IntegrationKind) -> Recipients {
        if kind == K::KIND {
            K::RECIPIENTS
        } else {
            Recipients::Nobody
        }
    }

    fn check(&self, integration: &Integration, check: &mut IntegrationCheck<'_>) {
        if integration.kind == K::KIND
            && let Some(settings) = check.settings::<K::Settings>()
        {
            K::check(&settings, check);
        }
    }
}
