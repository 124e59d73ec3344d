//! Pure: one route → the HTTP requests of its steps.

use std::{collections::BTreeMap, time::Duration};

use alert_model::{
    NativeEnvelope,
    template::{Engine, Escape, Functions, RenderContext, TemplateSource},
};
use base64::Engine as _;
use definition_store::{BodyType, ClientAuth, Extract, HttpAuth, HttpStep, MessageDefinition};
use notify_core::{HttpRequest, NotifyError, Outgoing, RouteContext};

use definition_store::rules::{header_name_problem, http_method, unknown_method};

use crate::{
    config::{WebhookRequests, WebhookTarget},
    message::{ExtractRule, OAuthClient, Source, WebhookMessage},
};

/// The Standard Webhooks headers (<https://www.standardwebhooks.com/>): the message id (the same on
/// every retry of a message, so a receiver can drop duplicates), the send time in epoch seconds, and
/// the signature of `{id}.{timestamp}.{body}`.
pub const WEBHOOK_ID: &str = "webhook-id";
/// See [`WEBHOOK_ID`].
pub const WEBHOOK_TIMESTAMP: &str = "webhook-timestamp";
/// See [`WEBHOOK_ID`].
pub const WEBHOOK_SIGNATURE: &str = "webhook-signature";

/// Namespace of the `webhook-id` UUIDs (v5 of the delivery key).
const WEBHOOK_ID_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6f1c_2d4e_7a3b_4c59_9e0d_5b8a_1f27_c364);

/// Builds the requests of one route, each with the Standard Webhooks headers. A custom integration
/// without a definition for the alert's type sends nothing for it (the product's unticked "OK alert"
/// box): no requests, not an error.
pub(crate) fn build_requests(
    route: &RouteContext<'_>,
    target: &WebhookTarget,
) -> Result<Vec<Outgoing<WebhookMessage>>, NotifyError> {
    let message = match &target.requests {
        WebhookRequests::Custom { messages } => messages
            .iter()
            .enumerate()
            .find(|(_, message)| message.types.contains(&route.alert.alert.alert_type)),
        WebhookRequests::AllVariables { .. } => None,
    };
    // Values later steps extract and that are not known yet read as placeholders, so that every
    // step builds (`tocsin render` shows them); a step that uses one is not sent before it is known.
    let mut variables = with_placeholders(route, message.map(|(_, message)| message));
    for (name, value) in &target.defaults {
        variables.entry(name.clone()).or_insert_with(|| value.clone());
    }
    let mut renderer = Renderer {
        engine: route.engine,
        integration: route.integration.id.as_str(),
        context: RenderContext {
            alert: route.alert,
            variables: &variables,
            now: route.now,
        },
        functions: Functions::default(),
    };
    renderer.functions = renderer.functions(target)?;
    let mut requests = match (&target.requests, message) {
        (WebhookRequests::Custom { .. }, Some((index, message))) => renderer.message(
            index,
            message,
            &route.variables.values().keys().cloned().collect(),
        )?,
        (WebhookRequests::Custom { .. }, None) => Vec::new(),
        (WebhookRequests::AllVariables { url, method, headers }, _) => {
            vec![renderer.all_variables(route, url, method, headers)?]
        }
    };
    let keys = match &target.signing_secret {
        None => Vec::new(),
        Some(template) => renderer.signing_keys(template)?,
    };
    for outgoing in &mut requests {
        standard_headers(route, &outgoing.step, &keys, &mut outgoing.message.request);
    }
    Ok(requests)
}

/// The route's variables, and for each value a step of `message` extracts that is not known yet,
/// a placeholder naming it and its step.
fn with_placeholders(
    route: &RouteContext<'_>,
    message: Option<&MessageDefinition>,
) -> BTreeMap<String, String> {
    let mut variables = route.variables.values().clone();
    for (index, step) in message
        .iter()
        .flat_map(|message| message.steps.iter().enumerate())
    {
        for name in step.extract.keys() {
            if !variables.contains_key(name) {
                let step_name = step_name(step, index);
                variables.insert(name.clone(), format!("[{name} from step {step_name}]"));
            }
        }
    }
    variables
}

fn step_name(step: &HttpStep, index: usize) -> String {
    step.name.clone().unwrap_or_else(|| format!("step-{}", index + 1))
}

/// Adds `webhook-id`, `webhook-timestamp` and, with `keys`, `webhook-signature` (one `v1,`
/// signature per key, space-separated). A header the integration sets itself wins: it may speak an
/// older variant of the scheme.
fn standard_headers(route: &RouteContext<'_>, step: &str, keys: &[Vec<u8>], request: &mut HttpRequest) {
    let id = webhook_id(route, step);
    let timestamp = route.now.timestamp().to_string();
    let headers = &mut request.headers;
    if header(headers, WEBHOOK_ID).is_none() {
        headers.insert(WEBHOOK_ID.to_owned(), id.clone());
    }
    if header(headers, WEBHOOK_TIMESTAMP).is_none() {
        headers.insert(WEBHOOK_TIMESTAMP.to_owned(), timestamp.clone());
    }
    if keys.is_empty() {
        return;
    }
    let id = header(headers, WEBHOOK_ID).unwrap_or(&id).to_owned();
    let timestamp = header(headers, WEBHOOK_TIMESTAMP)
        .unwrap_or(&timestamp)
        .to_owned();
    let signatures: Vec<String> = keys
        .iter()
        .map(|key| sign(key, &id, &timestamp, &request.body))
        .collect();
    headers.insert(WEBHOOK_SIGNATURE.to_owned(), signatures.join(" "));
}

/// `msg_` and a UUID v5 of the delivery key `(alert, integration, alert definition, step)`: stable
/// across retries and invocations, distinct for every message.
fn webhook_id(route: &RouteContext<'_>, step: &str) -> String {
    let key = format!(
        "{}\u{0}{}\u{0}{}\u{0}{step}",
        route.alert.alert.alert_guid, route.integration.id, route.alert.alert_definition.guid
    );
    format!(
        "msg_{}",
        uuid::Uuid::new_v5(&WEBHOOK_ID_NAMESPACE, key.as_bytes()).simple()
    )
}

/// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
pub fn sign(key: &[u8], id: &str, timestamp: &str, body: &str) -> String {
    use hmac::{KeyInit, Mac};
    // HMAC accepts keys of any length: `new_from_slice` cannot fail for it.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(key) else {
        return String::new();
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    format!("v1,{signature}")
}

struct Renderer<'a> {
    engine: &'a Engine,
    integration: &'a str,
    context: RenderContext<'a>,
    functions: Functions,
}

/// Where a step's templates are: its path in the integration and its name.
struct At<'s> {
    name: &'s str,
    path: &'s str,
}

impl Renderer<'_> {
    /// A permanent error naming the integration and the step.
    fn error(&self, step: &str, reason: impl std::fmt::Display) -> NotifyError {
        NotifyError::permanent(format!(
            "integration `{}`, step `{step}`: {reason}",
            self.integration
        ))
    }

    fn render(&self, field: &str, template: &str, escape: Escape) -> Result<String, NotifyError> {
        let source = TemplateSource {
            integration: self.integration,
            field,
        };
        self.engine
            .render_with(source, template, escape, &self.context, &self.functions)
            .map_err(|error| NotifyError::permanent(error.to_string()))
    }

    /// The target's user functions, an HMAC key rendered as text with the route's variables (its
    /// value is never quoted in an error).
    fn functions(&self, target: &WebhookTarget) -> Result<Functions, NotifyError> {
        Functions::compile(&target.functions, |name, template| {
            let field = format!("settings.functions.{name}.key");
            self.render(&field, template, Escape::Text)
                .map_err(|error| error.to_string())
        })
        .map_err(|(path, problem)| {
            NotifyError::permanent(format!(
                "integration `{}`, `settings.functions.{path}`: {problem}",
                self.integration
            ))
        })
    }

    /// The key bytes of each Standard Webhooks secret the template renders to (space-separated,
    /// `whsec_<base64>` or the base64 alone). A secret is never quoted in the error.
    fn signing_keys(&self, template: &str) -> Result<Vec<Vec<u8>>, NotifyError> {
        let field = "settings.signingSecret";
        let invalid = |reason: &str| {
            NotifyError::permanent(format!("integration `{}`, `{field}`: {reason}", self.integration))
        };
        let secrets = self.render(field, template, Escape::Text)?;
        let keys: Vec<Vec<u8>> = secrets
            .split_whitespace()
            .map(|secret| {
                let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
                base64::engine::general_purpose::STANDARD
                    .decode(encoded)
                    .ok()
                    .filter(|key| !key.is_empty())
                    .ok_or_else(|| invalid("is not a Standard Webhooks secret (`whsec_` followed by base64)"))
            })
            .collect::<Result<_, _>>()?;
        if keys.is_empty() {
            return Err(invalid("renders to an empty secret"));
        }
        Ok(keys)
    }

    /// The steps of message definition `index`; `known` are the names whose values are known.
    fn message(
        &self,
        index: usize,
        message: &MessageDefinition,
        known: &std::collections::BTreeSet<String>,
    ) -> Result<Vec<Outgoing<WebhookMessage>>, NotifyError> {
        if message.steps.len() > definition_store::MAX_STEPS {
            return Err(NotifyError::permanent(format!(
                "integration `{}`, `messages[{index}].steps`: {} steps; a message has at most {}",
                self.integration,
                message.steps.len(),
                definition_store::MAX_STEPS
            )));
        }
        let mut earlier: Vec<&str> = Vec::new();
        let mut built = Vec::with_capacity(message.steps.len());
        for (step_index, step) in message.steps.iter().enumerate() {
            let name = step_name(step, step_index);
            let path = format!("messages[{index}].steps[{step_index}]");
            let mut outgoing = self.step(
                &At {
                    name: &name,
                    path: &path,
                },
                step,
            )?;
            outgoing.pending = earlier
                .iter()
                .filter(|extracted| !known.contains(**extracted) && mentions(step, extracted))
                .map(|extracted| (*extracted).to_owned())
                .collect();
            earlier.extend(step.extract.keys().map(String::as_str));
            built.push(Outgoing {
                step: name,
                message: outgoing,
            });
        }
        Ok(built)
    }

    /// The preset `all-variables`: the native envelope as a JSON body.
    fn all_variables(
        &self,
        route: &RouteContext<'_>,
        url: &str,
        method: &str,
        headers: &BTreeMap<String, String>,
    ) -> Result<Outgoing<WebhookMessage>, NotifyError> {
        let name = "step-1";
        let method = http_method(method).ok_or_else(|| self.error(name, unknown_method(method)))?;
        let url = self.url(name, "settings.url", url)?;
        let mut headers = self.headers(name, "settings.headers", headers)?;
        let body = serde_json::to_string(&NativeEnvelope::new(route.alert.clone()))
            .map_err(|error| self.error(name, format!("native envelope not serialisable: {error}")))?;
        if header(&headers, "content-type").is_none() {
            headers.insert("Content-Type".to_owned(), "application/json".to_owned());
        }
        let request = HttpRequest {
            method: method.to_owned(),
            url,
            headers,
            body,
        };
        Ok(Outgoing {
            step: name.to_owned(),
            message: self.message_of(name, request),
        })
    }

    fn message_of(&self, step: &str, request: HttpRequest) -> WebhookMessage {
        WebhookMessage {
            request,
            step: step.to_owned(),
            integration: self.integration.to_owned(),
            extract: Vec::new(),
            optional: false,
            timeout: None,
            oauth: None,
            pending: Vec::new(),
        }
    }

    fn step(&self, at: &At<'_>, step: &HttpStep) -> Result<WebhookMessage, NotifyError> {
        let (name, path) = (at.name, at.path);
        let method =
            http_method(&step.method).ok_or_else(|| self.error(name, unknown_method(&step.method)))?;
        let mut url = self.url(name, &format!("{path}.url"), &step.url)?;
        let mut headers = self.headers(name, &format!("{path}.headers"), &step.headers)?;
        let mut oauth = None;
        if let Some(auth) = &step.auth {
            match self.authorization(at, auth)? {
                Credentials::None => {}
                Credentials::Header(header_name, value) => {
                    if header(&headers, &header_name).is_some() {
                        return Err(self.error(
                            name,
                            format!(
                                "both `auth` and {} `{header_name}` header are given",
                                article(&header_name)
                            ),
                        ));
                    }
                    headers.insert(header_name, value);
                }
                Credentials::Query(parameter, value) => url = with_query(&url, &parameter, &value),
                Credentials::OAuth(client) => {
                    if header(&headers, "authorization").is_some() {
                        return Err(self.error(name, "both `auth` and an `Authorization` header are given"));
                    }
                    oauth = Some(client);
                }
            }
        }
        let body = self.body(at, step, &mut headers)?;
        let mut message = self.message_of(
            name,
            HttpRequest {
                method: method.to_owned(),
                url,
                headers,
                body,
            },
        );
        message.extract = self.extract_rules(at, &step.extract)?;
        message.optional = step.optional;
        message.timeout = step
            .timeout_seconds
            .map(|seconds| Duration::from_secs(u64::from(seconds)));
        message.oauth = oauth;
        Ok(message)
    }

    /// The body, escaped for its type; sets the `Content-Type` the type implies when there is none.
    fn body(
        &self,
        at: &At<'_>,
        step: &HttpStep,
        headers: &mut BTreeMap<String, String>,
    ) -> Result<String, NotifyError> {
        let Some(template) = &step.body else {
            return Ok(String::new());
        };
        let body_type = body_type(step.body_type, header(headers, "content-type"), template);
        if header(headers, "content-type").is_none() {
            headers.insert("Content-Type".to_owned(), content_type(body_type).to_owned());
        }
        let escape = match body_type {
            BodyType::Json => Escape::Json,
            BodyType::Xml => Escape::Html,
            BodyType::Form => Escape::Url,
            BodyType::Text => Escape::Text,
        };
        self.render(&format!("{}.body", at.path), template, escape)
    }

    /// The step's `extract` rules, compiled.
    fn extract_rules(
        &self,
        at: &At<'_>,
        rules: &BTreeMap<String, Extract>,
    ) -> Result<Vec<ExtractRule>, NotifyError> {
        rules
            .iter()
            .map(|(name, rule)| {
                compile_rule(name, rule).map_err(|(field, problem)| {
                    self.error(at.name, format!("`{}.extract.{name}{field}`: {problem}", at.path))
                })
            })
            .collect()
    }

    /// Renders a URL with percent-encoded values and checks it is absolute http(s). The URL is not
    /// quoted in the error: it may carry a token.
    fn url(&self, step: &str, field: &str, template: &str) -> Result<String, NotifyError> {
        let url = self.render(field, template, Escape::Url)?;
        let url = url.trim().to_owned();
        let (checked, shown) = without_placeholders(&url);
        let lower = checked.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(self.error(
                step,
                format!("`{field}` does not render to an absolute http:// or https:// URL"),
            ));
        }
        if checked.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.error(
                step,
                format!("`{field}` renders to a URL containing white space or control characters"),
            ));
        }
        Ok(shown)
    }

    fn headers(
        &self,
        step: &str,
        field: &str,
        templates: &BTreeMap<String, String>,
    ) -> Result<BTreeMap<String, String>, NotifyError> {
        templates
            .iter()
            .map(|(name, template)| {
                if let Some(problem) = header_name_problem(name) {
                    return Err(self.error(step, format!("header `{}`: {problem}", name.escape_debug())));
                }
                let field = format!("{field}.{name}");
                let value = self.header_value(step, &field, template)?;
                Ok((name.clone(), value))
            })
            .collect()
    }

    /// A header value: the engine refuses CR/LF in header values; checked again here because a
    /// header injection is worth two lines.
    fn header_value(&self, step: &str, field: &str, template: &str) -> Result<String, NotifyError> {
        let value = self.render(field, template, Escape::Header)?;
        if value.contains(['\r', '\n', '\0']) {
            return Err(self.error(step, format!("`{field}` contains a line break")));
        }
        Ok(value.trim().to_owned())
    }

    fn authorization(&self, at: &At<'_>, auth: &HttpAuth) -> Result<Credentials, NotifyError> {
        let (step, path) = (at.name, at.path);
        let field = |name: &str| format!("{path}.auth.{name}");
        Ok(match auth {
            HttpAuth::None => Credentials::None,
            HttpAuth::Basic { username, password } => {
                let username = self.render(&field("username"), username, Escape::Text)?;
                let password = self.render(&field("password"), password, Escape::Text)?;
                // RFC 7617: the user-id cannot contain a colon.
                if username.contains(':') {
                    return Err(self.error(
                        step,
                        format!("`{path}.auth.username` contains `:`, which basic auth cannot carry"),
                    ));
                }
                let credentials =
                    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                Credentials::Header("Authorization".to_owned(), format!("Basic {credentials}"))
            }
            HttpAuth::Bearer { token } => {
                let token = self.header_value(step, &field("token"), token)?;
                Credentials::Header("Authorization".to_owned(), format!("Bearer {token}"))
            }
            HttpAuth::ApiKey { header, query, value } => match (header, query) {
                (Some(header), None) => {
                    Credentials::Header(header.clone(), self.header_value(step, &field("value"), value)?)
                }
                (None, Some(query)) => {
                    Credentials::Query(query.clone(), self.render(&field("value"), value, Escape::Text)?)
                }
                _ => {
                    return Err(self.error(
                        step,
                        format!("`{path}.auth`: an API key goes in exactly one of `header` and `query`"),
                    ));
                }
            },
            HttpAuth::OAuth2 {
                token_url,
                client_id,
                client_secret,
                scope,
                audience,
                client_auth,
            } => {
                let text = |name: &str, template: &str| self.render(&field(name), template, Escape::Text);
                let optional = |name: &str, template: &Option<String>| {
                    template
                        .as_deref()
                        .map(|template| text(name, template))
                        .transpose()
                };
                Credentials::OAuth(OAuthClient {
                    token_url: self.url(step, &field("tokenUrl"), token_url)?,
                    client_id: text("clientId", client_id)?,
                    client_secret: text("clientSecret", client_secret)?,
                    scope: optional("scope", scope)?,
                    audience: optional("audience", audience)?,
                    basic: *client_auth == ClientAuth::Basic,
                })
            }
        })
    }
}

/// `an` before a vowel, else `a`.
fn article(word: &str) -> &'static str {
    if word.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

/// Where authentication puts its credentials.
enum Credentials {
    None,
    Header(String, String),
    Query(String, String),
    OAuth(OAuthClient),
}

/// `url` with `name=value` added to its query, both percent-encoded.
fn with_query(url: &str, name: &str, value: &str) -> String {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    const COMPONENT: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    let (base, fragment) = url
        .split_once('#')
        .map_or((url, None), |(base, fragment)| (base, Some(fragment)));
    let separator = if !base.contains('?') {
        "?"
    } else if base.ends_with(['?', '&']) {
        ""
    } else {
        "&"
    };
    let mut out = format!(
        "{base}{separator}{}={}",
        utf8_percent_encode(name, COMPONENT),
        utf8_percent_encode(value, COMPONENT)
    );
    if let Some(fragment) = fragment {
        out.push('#');
        out.push_str(fragment);
    }
    out
}

/// One `extract` rule compiled; the error is the field (`.regex`, `` for the rule) and the problem.
pub(crate) fn compile_rule(name: &str, rule: &Extract) -> Result<ExtractRule, (String, String)> {
    let source = match (&rule.json_path, &rule.header, rule.status, rule.body) {
        (Some(path), None, false, false) => {
            let parsed = serde_json_path::JsonPath::parse(path)
                .map_err(|error| (".jsonPath".to_owned(), format!("invalid JSON path: {error}")))?;
            Source::JsonPath(path.clone(), parsed)
        }
        (None, Some(header), false, false) => Source::Header(header.clone()),
        (None, None, true, false) => Source::Status,
        (None, None, false, true) => Source::Body,
        _ => {
            return Err((
                String::new(),
                "give exactly one of `jsonPath`, `header`, `status: true` and `body: true`".to_owned(),
            ));
        }
    };
    let regex = match &rule.regex {
        None => None,
        Some(pattern) => {
            let regex = alert_model::template::functions::bounded_regex(pattern)
                .map_err(|problem| (".regex".to_owned(), problem))?;
            let group = rule
                .group
                .clone()
                .unwrap_or(alert_model::template::functions::CaptureGroup::Number(
                    usize::from(regex.captures_len() > 1),
                ));
            alert_model::template::functions::group_problem(&regex, &group)
                .map_err(|problem| (".group".to_owned(), problem))?;
            Some((regex, group))
        }
    };
    Ok(ExtractRule {
        name: name.to_owned(),
        source,
        regex,
        default: rule.default.clone(),
        secret: rule.secret,
    })
}

/// Whether a template of `step` names `variable` (as a whole word).
fn mentions(step: &HttpStep, variable: &str) -> bool {
    let names = |text: &str| {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|word| word == variable)
    };
    names(&step.url)
        || step.headers.values().any(|value| names(value))
        || step.body.as_deref().is_some_and(names)
        || step
            .auth
            .iter()
            .flat_map(HttpAuth::templates)
            .any(|(_, template)| names(template))
}

/// The body's type: as given, else from the content type, else JSON when the body looks like it.
fn body_type(given: Option<BodyType>, content_type: Option<&str>, template: &str) -> BodyType {
    if let Some(given) = given {
        return given;
    }
    match content_type.map(str::to_ascii_lowercase) {
        Some(content_type) if content_type.contains("json") => BodyType::Json,
        Some(content_type) if content_type.contains("application/x-www-form-urlencoded") => BodyType::Form,
        Some(content_type) if content_type.contains("xml") => BodyType::Xml,
        Some(_) => BodyType::Text,
        None if template.trim_start().starts_with(['{', '[']) => BodyType::Json,
        None => BodyType::Text,
    }
}

/// The `Content-Type` of a body type.
fn content_type(body_type: BodyType) -> &'static str {
    match body_type {
        BodyType::Json => "application/json",
        BodyType::Xml => "application/xml",
        BodyType::Form => "application/x-www-form-urlencoded",
        BodyType::Text => "text/plain; charset=utf-8",
    }
}

/// The value of header `name`, ignoring case.
fn header<'h>(headers: &'h BTreeMap<String, String>, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}

/// `url` checked and shown when it holds secret placeholders (`[secret …]`, shown by `tocsin
/// render` and `tocsin test` instead of a secret; percent-encoded when it is a URL's value): for the
/// checks, each placeholder is a plain word (a URL kept in a secret, such as a Discord webhook, is
/// shown as its placeholder); for showing, a leading one is as the user wrote its reference and the
/// others stay as they are sent. Such a request
/// is never sent; a real value that looked like one would be refused by the client (no http(s) URL).
fn without_placeholders(url: &str) -> (String, String) {
    let raw = notify_core::secret::PLACEHOLDER_PREFIX;
    let encoded = raw.replace('[', "%5B").replace(' ', "%20");
    let mut checked = String::with_capacity(url.len());
    let mut shown = String::with_capacity(url.len());
    let mut rest = url;
    loop {
        let found = [(raw, "]"), (encoded.as_str(), "%5D")]
            .into_iter()
            .filter_map(|(prefix, end)| {
                let start = rest.find(prefix)?;
                let length = rest[start..].find(end)?;
                Some((start, start + length + end.len()))
            })
            .min();
        let Some((start, end)) = found else { break };
        checked.push_str(&rest[..start]);
        shown.push_str(&rest[..start]);
        if checked.is_empty() {
            // The whole URL, or its base, is a secret: shown as written.
            checked.push_str("https://secret");
            shown.push_str(&percent_encoding::percent_decode_str(&rest[start..end]).decode_utf8_lossy());
        } else {
            // A value inside the URL: shown as it is sent (percent-encoded).
            checked.push_str("secret");
            shown.push_str(&rest[start..end]);
        }
        rest = &rest[end..];
    }
    checked.push_str(rest);
    shown.push_str(rest);
    (checked, shown)
}
