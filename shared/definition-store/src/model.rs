//! The definitions model (DESIGN.md §4). Field names are camelCase in YAML, JSON and DynamoDB.

use std::collections::BTreeMap;

use alert_model::{AlertType, IntegrationKind};
use serde::{Deserialize, Serialize};

/// Everything one `tocsin apply -f definitions.yaml` holds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Definitions {
    /// Where messages go and how they are written.
    #[serde(default)]
    pub integrations: Vec<Integration>,
    /// Which monitors alert whom, level by level.
    #[serde(default)]
    pub alert_definitions: Vec<AlertDefinition>,
    /// People who receive person-addressed messages (e-mail, SMS, voice).
    #[serde(default)]
    pub operators: Vec<Operator>,
    /// Named sets of operators.
    #[serde(default)]
    pub operator_groups: Vec<OperatorGroup>,
    /// Named sets of monitors, referenced as `group:<id>` in a monitor selector.
    #[serde(default)]
    pub monitor_groups: Vec<MonitorGroup>,
}

/// An integration: one configured target of one kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Integration {
    /// Stable id, referenced by attachments.
    pub id: String,
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// Which function serves it.
    pub kind: IntegrationKind,
    /// An inactive integration sends nothing.
    #[serde(default = "yes")]
    pub active: bool,
    /// User variables (`{{ApiKey}}`): fixed, secret reference, or a value per escalation level.
    #[serde(default)]
    pub variables: BTreeMap<String, VariableDef>,
    /// Custom request steps per alert type (custom integrations; optional overrides elsewhere).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<MessageDefinition>,
    /// Kind-specific settings, parsed and validated by the kind's notifier (`EmailTarget`, …).
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    #[schemars(with = "BTreeMap<String, serde_json::Value>")]
    pub settings: serde_json::Map<String, serde_json::Value>,
}

/// How a user variable gets its value.
///
/// YAML: a plain string is a fixed value; `{secret: "ssm:/path"}` or
/// `{secret: "secretsmanager:name#key"}` is resolved at send time and never printed;
/// `{perLevel: true, default: "…"}` takes its value from each attachment's `variables`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum VariableDef {
    /// A fixed, non-secret value.
    Fixed(String),
    /// A reference to a secret.
    Secret {
        /// `ssm:/parameter/name` or `secretsmanager:<name or arn>[#json-key]`.
        secret: SecretRef,
    },
    /// The value is given by each escalation-level attachment.
    #[serde(rename_all = "camelCase")]
    PerLevel {
        /// Must be true.
        per_level: bool,
        /// Used when an attachment gives no value; without it a missing value is an error.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        default: Option<String>,
    },
}

/// A secret reference: `ssm:/path` or `secretsmanager:<name or arn>[#json-key]`.
#[derive(
    Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(transparent)]
pub struct SecretRef(pub String);

/// A set of request steps used for some alert types (the product's "step definition").
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MessageDefinition {
    /// The alert types this definition serves; each type in at most one definition.
    pub types: Vec<AlertType>,
    /// The HTTP requests, sent in order.
    pub steps: Vec<HttpStep>,
}

/// One templated HTTP request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpStep {
    /// Names the step in the delivery log; defaults to `step-<n>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// GET, POST, PUT, PATCH or DELETE.
    #[serde(default = "default_method")]
    pub method: String,
    /// Template; values are percent-encoded.
    pub url: String,
    /// Templates; a value containing CR or LF is refused.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Template; JSON-escaped when the content type is JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Authentication, templated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
}

/// Request authentication.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub enum HttpAuth {
    /// `Authorization: Basic …`
    Basic {
        /// Template.
        username: String,
        /// Template.
        password: String,
    },
    /// `Authorization: Bearer …`
    Bearer {
        /// Template.
        token: String,
    },
}

/// An alert definition: which monitors it covers, and its escalation levels.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AlertDefinition {
    /// Stable id (`@alertDefinition.guid`).
    pub id: String,
    /// `@alertDefinition.name`.
    #[serde(default)]
    pub name: String,
    /// An inactive definition sends nothing.
    #[serde(default = "yes")]
    pub active: bool,
    /// Selectors: `*`, `<monitor guid>`, `id:<guid>`, `name:<monitor name>`, `group:<monitor group id>`,
    /// `tag:<custom field>=<value>`.
    pub monitors: Vec<String>,
    /// Escalation levels; an alert is routed to the level whose id it carries (default 1).
    pub levels: Vec<EscalationLevel>,
}

/// One escalation level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EscalationLevel {
    /// 1, 2, 3, …
    pub id: u32,
    /// An inactive level sends nothing.
    #[serde(default = "yes")]
    pub active: bool,
    /// `@escalationLevel.message`.
    #[serde(default)]
    pub message: String,
    /// Operator ids and operator-group ids: the recipients of person-addressed kinds.
    #[serde(default)]
    pub operators: Vec<String>,
    /// The integrations attached to this level.
    #[serde(default)]
    pub integrations: Vec<Attachment>,
}

/// An integration attached to an escalation level.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Attachment {
    /// The integration's id.
    pub integration: String,
    /// An inactive attachment sends nothing.
    #[serde(default = "yes")]
    pub active: bool,
    /// Send Ok (resolved) messages; default true, as Alertmanager's `send_resolved`.
    #[serde(default = "yes")]
    pub send_ok: bool,
    /// Send Reminder messages; default true.
    #[serde(default = "yes")]
    pub send_reminder: bool,
    /// Values of the integration's per-level variables.
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    /// E-mail only: addresses that receive the message besides the level's operators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_emails: Vec<String>,
    /// Status-page kinds only: monitor → service links.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_links: Vec<ServiceLink>,
}

/// A monitor → external service link (status-page kinds).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceLink {
    /// Monitor guid.
    pub monitor: String,
    /// The target's service id.
    pub service: String,
}

/// A person who receives messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Operator {
    /// Stable id.
    pub id: String,
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Phone number in E.164.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// An inactive operator receives nothing.
    #[serde(default = "yes")]
    pub active: bool,
    /// An operator who is off duty receives nothing.
    #[serde(default = "yes")]
    pub on_duty: bool,
}

/// A named set of operators.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorGroup {
    /// Stable id, usable wherever an operator id is.
    pub id: String,
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// Operator ids.
    pub members: Vec<String>,
}

/// A named set of monitors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MonitorGroup {
    /// Stable id, referenced as `group:<id>`.
    pub id: String,
    /// Human name.
    #[serde(default)]
    pub name: String,
    /// Monitor selectors (any form except `group:`).
    pub monitors: Vec<String>,
}

fn yes() -> bool {
    true
}

fn default_method() -> String {
    "POST".to_owned()
}
