//! The definitions model (DESIGN.md §4). Field names are camelCase in YAML, JSON and DynamoDB.

use std::collections::BTreeMap;

use alert_model::{AlertType, IntegrationKind};
use serde::{Deserialize, Serialize};

/// Everything one `tocsin apply -f definitions.yaml` holds.
///
/// A definitions file is at most 1 MiB and nests collections at most 32 levels deep (the document's
/// mapping is level 1); larger or deeper files are refused before they are parsed.
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
    /// The integration told when a delivery through this one fails permanently or keeps failing:
    /// a "delivery failed" alert goes to it (at most once per route and notice interval), with the
    /// failed route's escalation level (its operators are the recipients). Another integration, and
    /// no chain of fallbacks may come back to this one (`a → b → a` is refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<String>,
}

/// How a user variable gets its value.
///
/// YAML: a plain string is a fixed value; `{secret: "ssm:/path"}` or
/// `{secret: "secretsmanager:name#key"}` is resolved at send time and never printed;
/// `{perLevel: true, default: "…"}` takes its value from each attachment's `variables`.
///
/// A YAML number or boolean is taken as a fixed value too (`Port: 8443` is `"8443"`).
#[derive(Debug, Clone, PartialEq, Serialize)]
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

/// The most steps one message definition may have (`tocsin validate` and the notifier refuse more).
pub const MAX_STEPS: usize = 10;

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
    /// Template; its values are escaped for the body type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// How the body is written: `json` (values JSON-escaped, the result must parse), `xml` (values
    /// XML-escaped), `form` (`application/x-www-form-urlencoded`, values percent-encoded) or `text`
    /// (values as they are). Without it, the `Content-Type` header decides, else a body that starts
    /// with `{` or `[` is JSON. It sets `Content-Type` when the step has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body_type: Option<BodyType>,
    /// Authentication, templated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth: Option<HttpAuth>,
    /// Values this step takes from its response, by variable name (`{{IssueKey}}` in later steps of
    /// the message): from a JSON path of the body, a header, the status code or the whole body,
    /// optionally through a regular expression.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub extract: BTreeMap<String, Extract>,
    /// When true, a failure of this step is logged and recorded and the message goes on with the
    /// next step (which cannot use what this one would have extracted).
    #[serde(default, skip_serializing_if = "is_false")]
    pub optional: bool,
    /// This step's request timeout in seconds (at most the function's `TOCSIN_HTTP_TIMEOUT_MS`,
    /// which also applies when none is given).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u32>,
}

impl HttpStep {
    /// A step with `method` and `url` and nothing else.
    pub fn new(method: &str, url: &str) -> HttpStep {
        HttpStep {
            name: None,
            method: method.to_owned(),
            url: url.to_owned(),
            headers: BTreeMap::new(),
            body: None,
            body_type: None,
            auth: None,
            extract: BTreeMap::new(),
            optional: false,
            timeout_seconds: None,
        }
    }
}

/// How a step's body is written and its values escaped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BodyType {
    /// `application/json`: values JSON-escaped; the rendered body must parse.
    Json,
    /// `application/xml`: values XML-escaped.
    Xml,
    /// `application/x-www-form-urlencoded`: values percent-encoded.
    Form,
    /// `text/plain`: values as they are.
    Text,
}

/// Where an extracted value comes from: exactly one of `jsonPath`, `header`, `status` and `body`;
/// then, optionally, a regular expression's capture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Extract {
    /// A JSON path (RFC 9535) into the JSON body: `$.issues[0].key`; its first match, a string as
    /// it is, any other value as JSON.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_path: Option<String>,
    /// A response header (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<String>,
    /// The HTTP status code.
    #[serde(default, skip_serializing_if = "is_false")]
    pub status: bool,
    /// The whole body (as read: at most 64 KiB).
    #[serde(default, skip_serializing_if = "is_false")]
    pub body: bool,
    /// A regular expression applied to the value: its capture `group` (default 1 when the pattern
    /// has a group, else the whole match) is the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub regex: Option<String>,
    /// The capture of `regex`: a number or a name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<alert_model::template::functions::CaptureGroup>,
    /// The value when the response does not have one; without it a missing value fails the step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// The value is a secret (a token): redacted wherever it could be printed and never kept in
    /// the delivery log, so a retry that needs it sends this step again (make it a read, such as a
    /// token request).
    #[serde(default, skip_serializing_if = "is_false")]
    pub secret: bool,
}

/// Request authentication: `{type: none}`, `{type: basic, username, password}`, `{type: bearer,
/// token}`, `{type: apiKey, header | query, value}` or `{type: oauth2, tokenUrl, clientId,
/// clientSecret, scope?, audience?}` (client credentials).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(
    tag = "type",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    deny_unknown_fields
)]
pub enum HttpAuth {
    /// No authentication (a preset's auth switched off).
    None,
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
    /// An API key in a header (`header: X-Api-Key`) or a query parameter (`query: api_key`).
    ApiKey {
        /// The header that carries the key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        header: Option<String>,
        /// The query parameter that carries the key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
        /// Template, usually a secret variable (`{{ApiKey}}`).
        value: String,
    },
    /// OAuth 2 client credentials (RFC 6749 §4.4): a token from `tokenUrl`, kept per integration
    /// until shortly before it expires and fetched again once when the target answers 401; sent
    /// as `Authorization: Bearer …`.
    #[serde(rename = "oauth2")]
    OAuth2 {
        /// Template: the token endpoint (https).
        token_url: String,
        /// Template: the client id, usually a secret variable.
        client_id: String,
        /// Template: the client secret, a secret variable (`{{ClientSecret}}`).
        client_secret: String,
        /// Template: the scopes, space-separated.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        scope: Option<String>,
        /// Template: the audience (Auth0, Okta and others ask for one).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        audience: Option<String>,
        /// How the client authenticates to the token endpoint: `basic` (HTTP Basic, the default,
        /// RFC 6749 §2.3.1) or `body` (`client_id` and `client_secret` in the form).
        #[serde(default)]
        client_auth: ClientAuth,
    },
}

/// How an OAuth 2 client authenticates to the token endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// HTTP Basic with the client id and secret.
    #[default]
    Basic,
    /// `client_id` and `client_secret` in the form body.
    Body,
}

impl HttpAuth {
    /// Every template of the authentication, with its field name (`password`, `tokenUrl`, …).
    pub fn templates(&self) -> Vec<(&'static str, &str)> {
        match self {
            HttpAuth::None => Vec::new(),
            HttpAuth::Basic { username, password } => vec![("username", username), ("password", password)],
            HttpAuth::Bearer { token } => vec![("token", token)],
            HttpAuth::ApiKey { value, .. } => vec![("value", value)],
            HttpAuth::OAuth2 {
                token_url,
                client_id,
                client_secret,
                scope,
                audience,
                ..
            } => {
                let mut templates = vec![
                    ("tokenUrl", token_url.as_str()),
                    ("clientId", client_id.as_str()),
                    ("clientSecret", client_secret.as_str()),
                ];
                templates.extend(scope.as_deref().map(|scope| ("scope", scope)));
                templates.extend(audience.as_deref().map(|audience| ("audience", audience)));
                templates
            }
        }
    }
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
    /// Values of the integration's per-level variables (a YAML number or boolean is taken as text).
    #[serde(default, deserialize_with = "scalar_map")]
    #[schemars(with = "BTreeMap<String, ScalarText>")]
    pub variables: BTreeMap<String, String>,
    /// Kinds that send e-mail: addresses that receive the message besides the level's operators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_emails: Vec<String>,
    /// Kinds that call or text phones: numbers (E.164) that receive the message besides the level's
    /// operators.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_phones: Vec<String>,
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

impl<'de> Deserialize<'de> for VariableDef {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(VariableDefVisitor)
    }
}

const VARIABLE_FORMS: &str = "expected a string (fixed value), {secret: \"ssm:/…\" | \"secretsmanager:…\"} or {perLevel: true, default?: \"…\"}";

struct VariableDefVisitor;

impl<'de> serde::de::Visitor<'de> for VariableDefVisitor {
    type Value = VariableDef;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(VARIABLE_FORMS)
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<VariableDef, E> {
        Ok(VariableDef::Fixed(value.to_owned()))
    }

    fn visit_string<E: serde::de::Error>(self, value: String) -> Result<VariableDef, E> {
        Ok(VariableDef::Fixed(value))
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<VariableDef, E> {
        Ok(VariableDef::Fixed(value.to_string()))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<VariableDef, E> {
        Ok(VariableDef::Fixed(value.to_string()))
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<VariableDef, E> {
        Ok(VariableDef::Fixed(value.to_string()))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<VariableDef, E> {
        Ok(VariableDef::Fixed(value.to_string()))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<VariableDef, E> {
        Err(E::custom(format!("variable has no value ({VARIABLE_FORMS})")))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<VariableDef, E> {
        self.visit_unit()
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _seq: A) -> Result<VariableDef, A::Error> {
        Err(serde::de::Error::custom(format!(
            "a variable cannot be a list ({VARIABLE_FORMS})"
        )))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<VariableDef, A::Error> {
        use serde::de::Error;
        let mut secret: Option<String> = None;
        let mut per_level: Option<bool> = None;
        let mut default: Option<String> = None;
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "secret" => {
                    if secret.is_some() {
                        return Err(A::Error::custom("duplicate key `secret` in variable"));
                    }
                    secret = Some(map.next_value::<SecretText>()?.0);
                }
                "perLevel" => {
                    if per_level.is_some() {
                        return Err(A::Error::custom("duplicate key `perLevel` in variable"));
                    }
                    per_level = Some(map.next_value()?);
                }
                "default" => {
                    if default.is_some() {
                        return Err(A::Error::custom("duplicate key `default` in variable"));
                    }
                    default = Some(map.next_value::<ScalarText>()?.0);
                }
                other => {
                    return Err(A::Error::custom(format!(
                        "unknown key `{other}` in variable ({VARIABLE_FORMS})"
                    )));
                }
            }
        }
        match (secret, per_level, default) {
            (Some(secret), None, None) => Ok(VariableDef::Secret {
                secret: SecretRef(secret),
            }),
            (Some(_), _, _) => Err(A::Error::custom(
                "a secret variable takes only `secret` (not `perLevel` or `default`)",
            )),
            (None, Some(true), default) => Ok(VariableDef::PerLevel {
                per_level: true,
                default,
            }),
            (None, Some(false), _) => Err(A::Error::custom(
                "`perLevel` must be true (write a plain string for a fixed value)",
            )),
            (None, None, Some(_)) => Err(A::Error::custom("`default` needs `perLevel: true`")),
            (None, None, None) => Err(A::Error::custom(format!("empty variable ({VARIABLE_FORMS})"))),
        }
    }
}

/// The text of a `secret:` reference. Anything but a string is refused without its value: a secret
/// value written there by mistake (`secret: 84731902`) must not appear in the error, which
/// `tocsin validate` prints and a function logs (serde's own message would quote it).
struct SecretText(String);

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(SecretTextVisitor).map(SecretText)
    }
}

struct SecretTextVisitor;

impl SecretTextVisitor {
    fn refuse<E: serde::de::Error>(found: &str) -> E {
        E::custom(format!(
            "a secret reference must be a string such as \"ssm:/…\" or \"secretsmanager:…\", found {found} (value not shown)"
        ))
    }
}

impl<'de> serde::de::Visitor<'de> for SecretTextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a secret reference string")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<String, E> {
        Ok(value.to_owned())
    }

    fn visit_string<E: serde::de::Error>(self, value: String) -> Result<String, E> {
        Ok(value)
    }

    fn visit_bool<E: serde::de::Error>(self, _: bool) -> Result<String, E> {
        Err(Self::refuse("a boolean"))
    }

    fn visit_i64<E: serde::de::Error>(self, _: i64) -> Result<String, E> {
        Err(Self::refuse("a number"))
    }

    fn visit_u64<E: serde::de::Error>(self, _: u64) -> Result<String, E> {
        Err(Self::refuse("a number"))
    }

    fn visit_i128<E: serde::de::Error>(self, _: i128) -> Result<String, E> {
        Err(Self::refuse("a number"))
    }

    fn visit_u128<E: serde::de::Error>(self, _: u128) -> Result<String, E> {
        Err(Self::refuse("a number"))
    }

    fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<String, E> {
        Err(Self::refuse("a number"))
    }

    fn visit_char<E: serde::de::Error>(self, value: char) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_bytes<E: serde::de::Error>(self, _: &[u8]) -> Result<String, E> {
        Err(Self::refuse("bytes"))
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<String, E> {
        Err(Self::refuse("null"))
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<String, E> {
        Err(Self::refuse("null"))
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(Self::refuse("a list"))
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<String, A::Error> {
        Err(Self::refuse("a map"))
    }
}

fn scalar_map<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<BTreeMap<String, String>, D::Error> {
    let map = BTreeMap::<String, ScalarText>::deserialize(deserializer)?;
    Ok(map.into_iter().map(|(name, value)| (name, value.0)).collect())
}

/// A string, or a number/boolean taken as its text (YAML `default: 3`).
struct ScalarText(String);

impl schemars::JsonSchema for ScalarText {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ScalarText".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A text value; a number or boolean is taken as its text.",
            "type": ["string", "number", "boolean"]
        })
    }
}

// Written by hand: the deserializer is custom (see `VariableDefVisitor`), and the schema should say
// exactly what it accepts.
impl schemars::JsonSchema for VariableDef {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "VariableDef".into()
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let text = generator.subschema_for::<ScalarText>();
        schemars::json_schema!({
            "description": "How a user variable gets its value: a plain value (fixed), {secret: …} (resolved at send time, never printed) or {perLevel: true, default?: …} (given by each escalation-level attachment).",
            "oneOf": [
                {
                    "description": "A fixed, non-secret value.",
                    "type": ["string", "number", "boolean"]
                },
                {
                    "description": "A reference to a secret.",
                    "type": "object",
                    "properties": {
                        "secret": {
                            "description": "`ssm:/parameter/name` or `secretsmanager:<name or arn>[#json-key]`.",
                            "type": "string",
                            "pattern": "^(ssm:/.+|secretsmanager:.+)$"
                        }
                    },
                    "required": ["secret"],
                    "additionalProperties": false
                },
                {
                    "description": "The value is given by each escalation-level attachment.",
                    "type": "object",
                    "properties": {
                        "perLevel": { "const": true },
                        "default": text
                    },
                    "required": ["perLevel"],
                    "additionalProperties": false
                }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for ScalarText {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarTextVisitor).map(ScalarText)
    }
}

struct ScalarTextVisitor;

impl serde::de::Visitor<'_> for ScalarTextVisitor {
    type Value = String;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a string")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<String, E> {
        Ok(value.to_owned())
    }

    fn visit_bool<E: serde::de::Error>(self, value: bool) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<String, E> {
        Ok(value.to_string())
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<String, E> {
        Ok(value.to_string())
    }
}

fn yes() -> bool {
    true
}

fn is_false(value: &bool) -> bool {
    !*value
}

fn default_method() -> String {
    "POST".to_owned()
}
