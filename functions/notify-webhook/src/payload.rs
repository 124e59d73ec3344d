//! Pure: one route → the HTTP requests of its steps.

use std::collections::BTreeMap;

use alert_model::{
    NativeEnvelope,
    template::{Engine, Escape, RenderContext, TemplateSource},
};
use base64::Engine as _;
use definition_store::{HttpAuth, HttpStep};
use notify_core::{HttpRequest, NotifyError, Outgoing, RouteContext};

use definition_store::rules::{header_name_problem, http_method, unknown_method};

use crate::config::{WebhookRequests, WebhookTarget};

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
) -> Result<Vec<Outgoing<HttpRequest>>, NotifyError> {
    let renderer = Renderer {
        engine: route.engine,
        integration: route.integration.id.as_str(),
        context: RenderContext {
            alert: route.alert,
            variables: route.variables.values(),
            now: route.now,
        },
    };
    let mut requests = unsigned_requests(route, &renderer, &target.requests)?;
    let key = match &target.signing_secret {
        None => None,
        Some(template) => Some(renderer.signing_key(template)?),
    };
    for outgoing in &mut requests {
        let id = webhook_id(route, &outgoing.step);
        let timestamp = route.now.timestamp().to_string();
        let headers = &mut outgoing.message.headers;
        // A header the integration sets itself wins: it may speak an older variant of the scheme.
        if header(headers, WEBHOOK_ID).is_none() {
            headers.insert(WEBHOOK_ID.to_owned(), id.clone());
        }
        if header(headers, WEBHOOK_TIMESTAMP).is_none() {
            headers.insert(WEBHOOK_TIMESTAMP.to_owned(), timestamp.clone());
        }
        if let Some(key) = &key {
            let id = header(headers, WEBHOOK_ID).unwrap_or(&id).to_owned();
            let timestamp = header(headers, WEBHOOK_TIMESTAMP)
                .unwrap_or(&timestamp)
                .to_owned();
            let signature = sign(key, &id, &timestamp, &outgoing.message.body);
            headers.insert(WEBHOOK_SIGNATURE.to_owned(), signature);
        }
    }
    Ok(requests)
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

fn unsigned_requests(
    route: &RouteContext<'_>,
    renderer: &Renderer<'_>,
    target: &WebhookRequests,
) -> Result<Vec<Outgoing<HttpRequest>>, NotifyError> {
    match target {
        WebhookRequests::Custom { messages } => {
            let alert_type = route.alert.alert.alert_type;
            let Some((index, message)) = messages
                .iter()
                .enumerate()
                .find(|(_, message)| message.types.contains(&alert_type))
            else {
                return Ok(Vec::new());
            };
            message
                .steps
                .iter()
                .enumerate()
                .map(|(step_index, step)| {
                    let name = step
                        .name
                        .clone()
                        .unwrap_or_else(|| format!("step-{}", step_index + 1));
                    let path = format!("messages[{index}].steps[{step_index}]");
                    let message = renderer.step(&name, &path, step)?;
                    Ok(Outgoing { step: name, message })
                })
                .collect()
        }
        WebhookRequests::AllVariables { url, method, headers } => {
            let name = "step-1";
            let method = http_method(method).ok_or_else(|| renderer.error(name, unknown_method(method)))?;
            let url = renderer.url(name, "settings.url", url)?;
            let mut headers = renderer.headers(name, "settings.headers", headers)?;
            let body = serde_json::to_string(&NativeEnvelope::new(route.alert.clone())).map_err(|error| {
                renderer.error(name, format!("native envelope not serialisable: {error}"))
            })?;
            if header(&headers, "content-type").is_none() {
                headers.insert("Content-Type".to_owned(), "application/json".to_owned());
            }
            Ok(vec![Outgoing {
                step: name.to_owned(),
                message: HttpRequest {
                    method: method.to_owned(),
                    url,
                    headers,
                    body,
                },
            }])
        }
    }
}

struct Renderer<'a> {
    engine: &'a Engine,
    integration: &'a str,
    context: RenderContext<'a>,
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
            .render(source, template, escape, &self.context)
            .map_err(|error| NotifyError::permanent(error.to_string()))
    }

    /// The key bytes of a Standard Webhooks secret (`whsec_<base64>`, or the base64 alone). The
    /// secret is never quoted in the error.
    fn signing_key(&self, template: &str) -> Result<Vec<u8>, NotifyError> {
        let field = "settings.signingSecret";
        let invalid = |reason: &str| {
            NotifyError::permanent(format!("integration `{}`, `{field}`: {reason}", self.integration))
        };
        let secret = self.render(field, template, Escape::Text)?;
        let secret = secret.trim();
        let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
        if encoded.is_empty() {
            return Err(invalid("renders to an empty secret"));
        }
        base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| invalid("is not a Standard Webhooks secret (`whsec_` followed by base64)"))
    }

    fn step(&self, name: &str, path: &str, step: &HttpStep) -> Result<HttpRequest, NotifyError> {
        let method =
            http_method(&step.method).ok_or_else(|| self.error(name, unknown_method(&step.method)))?;
        let url = self.url(name, &format!("{path}.url"), &step.url)?;
        let mut headers = self.headers(name, &format!("{path}.headers"), &step.headers)?;
        if let Some(auth) = &step.auth {
            if header(&headers, "authorization").is_some() {
                return Err(self.error(name, "both `auth` and an `Authorization` header are given"));
            }
            headers.insert("Authorization".to_owned(), self.authorization(name, path, auth)?);
        }
        let body = match &step.body {
            None => String::new(),
            Some(template) => {
                let (escape, add_json_type) = body_escape(header(&headers, "content-type"), template);
                if add_json_type {
                    headers.insert("Content-Type".to_owned(), "application/json".to_owned());
                }
                self.render(&format!("{path}.body"), template, escape)?
            }
        };
        Ok(HttpRequest {
            method: method.to_owned(),
            url,
            headers,
            body,
        })
    }

    /// Renders a URL with percent-encoded values and checks it is absolute http(s). The URL is not
    /// quoted in the error: it may carry a token.
    fn url(&self, step: &str, field: &str, template: &str) -> Result<String, NotifyError> {
        let url = self.render(field, template, Escape::Url)?;
        let url = url.trim().to_owned();
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            return Err(self.error(
                step,
                format!("`{field}` does not render to an absolute http:// or https:// URL"),
            ));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(self.error(
                step,
                format!("`{field}` renders to a URL containing white space or control characters"),
            ));
        }
        Ok(url)
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
                let value = self.render(&field, template, Escape::Header)?;
                // The engine refuses CR/LF in header values; checked again here because a header
                // injection is worth two lines.
                if value.contains(['\r', '\n', '\0']) {
                    return Err(self.error(step, format!("header `{name}` ({field}) contains a line break")));
                }
                Ok((name.clone(), value.trim().to_owned()))
            })
            .collect()
    }

    fn authorization(&self, step: &str, path: &str, auth: &HttpAuth) -> Result<String, NotifyError> {
        match auth {
            HttpAuth::Basic { username, password } => {
                let username = self.render(&format!("{path}.auth.username"), username, Escape::Text)?;
                let password = self.render(&format!("{path}.auth.password"), password, Escape::Text)?;
                // RFC 7617: the user-id cannot contain a colon.
                if username.contains(':') {
                    return Err(self.error(
                        step,
                        format!("`{path}.auth.username` contains `:`, which basic auth cannot carry"),
                    ));
                }
                let credentials =
                    base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
                Ok(format!("Basic {credentials}"))
            }
            HttpAuth::Bearer { token } => {
                let token = self.render(&format!("{path}.auth.token"), token, Escape::Header)?;
                if token.contains(['\r', '\n', '\0']) {
                    return Err(self.error(step, format!("`{path}.auth.token` contains a line break")));
                }
                Ok(format!("Bearer {}", token.trim()))
            }
        }
    }
}

/// How a body's values are escaped, and whether `Content-Type: application/json` must be added:
/// JSON when the content type says so, or when there is none and the body looks like JSON;
/// percent-encoding for forms; plain text otherwise.
fn body_escape(content_type: Option<&str>, template: &str) -> (Escape, bool) {
    match content_type.map(str::to_ascii_lowercase) {
        Some(content_type) if content_type.contains("json") => (Escape::Json, false),
        Some(content_type) if content_type.contains("application/x-www-form-urlencoded") => {
            (Escape::Url, false)
        }
        Some(_) => (Escape::Text, false),
        None if template.trim_start().starts_with(['{', '[']) => (Escape::Json, true),
        None => (Escape::Text, false),
    }
}

/// The value of header `name`, ignoring case.
fn header<'h>(headers: &'h BTreeMap<String, String>, name: &str) -> Option<&'h str> {
    headers
        .iter()
        .find(|(key, _)| key.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.as_str())
}
