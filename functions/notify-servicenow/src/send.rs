//! One attempt of one message: the requests it takes (a token when none is cached, a lookup, the
//! create or update), each answer read as the Table API, Event Management and the token endpoint
//! document it. A failing request makes the attempt retryable or permanent as its answer says.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use notify_core::{HttpAnswer, HttpClient, HttpRequest, NotifyError, Sent, Variables, http::truncate_utf8};
use serde_json::{Value, json};

use crate::payload::{Credentials, Operation, ServiceNowMessage, TokenRequest, json_headers};

/// A token is used until this long before it expires (ServiceNow's tokens live 30 minutes).
const TOKEN_MARGIN: Duration = Duration::from_secs(60);
/// Tokens kept at most (one per integration and credentials in practice).
const MAX_CACHED_TOKENS: usize = 256;

/// OAuth tokens by their request's cache key, until they expire.
#[derive(Debug, Default)]
pub(crate) struct TokenCache {
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl TokenCache {
    fn get(&self, key: &str, now: Instant) -> Option<String> {
        let tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens
            .get(key)
            .filter(|(_, until)| *until > now)
            .map(|(token, _)| token.clone())
    }

    fn put(&self, key: &str, token: String, until: Instant, now: Instant) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        tokens.retain(|_, (_, kept_until)| *kept_until > now);
        if tokens.len() >= MAX_CACHED_TOKENS {
            tokens.clear();
        }
        tokens.insert(key.to_owned(), (token, until));
    }

    fn forget(&self, key: &str) {
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }
}

/// The credentials of one attempt: the header, and the fetched token to keep out of every error
/// and response (it is no variable, so the runner's redaction does not know it).
struct Auth {
    header: String,
    hidden: Variables,
    /// The token's cache key, and whether it came from the cache.
    token: Option<(String, bool)>,
}

impl Auth {
    fn hide(&self, error: NotifyError) -> NotifyError {
        match error {
            NotifyError::Retryable {
                reason,
                status,
                retry_after,
            } => NotifyError::Retryable {
                reason: self.hidden.redact(&reason),
                status,
                retry_after,
            },
            NotifyError::Permanent { reason, status } => NotifyError::Permanent {
                reason: self.hidden.redact(&reason),
                status,
            },
        }
    }
}

/// One incident a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    sys_id: String,
    number: Option<String>,
}

/// Sends `message` once.
pub(crate) async fn send(
    http: &HttpClient,
    tokens: &TokenCache,
    message: &ServiceNowMessage,
) -> Result<Sent, NotifyError> {
    let auth = authorize(http, tokens, &message.credentials).await?;
    let client = Client {
        http,
        tokens,
        auth: &auth,
    };
    let result = match message.operation {
        Operation::Open => client.open(message).await,
        Operation::Note => client.note(message).await,
        Operation::Resolve => client.resolve(message).await,
        Operation::Event => client.event(message).await,
    };
    result
        .map(|mut sent| {
            sent.response = auth.hidden.redact(&sent.response);
            sent
        })
        .map_err(|error| auth.hide(error))
}

/// The `Authorization` of this attempt: Basic, or a bearer token (cached, else fetched).
async fn authorize(
    http: &HttpClient,
    tokens: &TokenCache,
    credentials: &Credentials,
) -> Result<Auth, NotifyError> {
    match credentials {
        Credentials::Basic { authorization } => Ok(Auth {
            header: authorization.clone(),
            hidden: Variables::default(),
            token: None,
        }),
        Credentials::OAuth(request) => {
            let now = Instant::now();
            let (token, cached) = match tokens.get(&request.cache_key, now) {
                Some(token) => (token, true),
                None => (fetch_token(http, tokens, request, now).await?, false),
            };
            let mut hidden = Variables::default();
            hidden.insert_secret("token", token.clone());
            Ok(Auth {
                header: format!("Bearer {token}"),
                hidden,
                token: Some((request.cache_key.clone(), cached)),
            })
        }
    }
}

/// Fetches a token from `/oauth_token.do` and caches it until shortly before it expires. The
/// answer's body is never quoted: a success holds the token; a refusal is named by its `error`
/// code only.
async fn fetch_token(
    http: &HttpClient,
    tokens: &TokenCache,
    request: &TokenRequest,
    now: Instant,
) -> Result<String, NotifyError> {
    let answer = http
        .exchange(&HttpRequest {
            method: "POST".to_owned(),
            url: request.url.clone(),
            headers: [
                ("Accept".to_owned(), "application/json".to_owned()),
                (
                    "Content-Type".to_owned(),
                    "application/x-www-form-urlencoded".to_owned(),
                ),
            ]
            .into(),
            body: request.form.clone(),
        })
        .await?;
    let label = format!("{} (token)", answer.label);
    if !(200..300).contains(&answer.status) {
        let code = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| body.get("error").and_then(Value::as_str).map(str::to_owned))
            .filter(|code| code.len() <= 64 && code.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
            .map(|code| format!(": {code}"))
            .unwrap_or_default();
        let reason = format!("{label}: status {}{code}", answer.status);
        return Err(if matches!(answer.status, 408 | 429) || answer.status >= 500 {
            NotifyError::Retryable {
                reason,
                status: Some(answer.status),
                retry_after: answer.retry_after,
            }
        } else {
            NotifyError::Permanent {
                reason: format!("{reason} (the instance refused the OAuth credentials)"),
                status: Some(answer.status),
            }
        });
    }
    let body: Value = serde_json::from_str(&answer.body).map_err(|_| {
        NotifyError::permanent(format!(
            "{label}: status {} without a JSON token (a hibernating instance's page?)",
            answer.status
        ))
    })?;
    let token = body
        .get("access_token")
        .and_then(Value::as_str)
        .filter(|token| !token.is_empty() && token.chars().all(|c| c.is_ascii_graphic()))
        .ok_or_else(|| NotifyError::permanent(format!("{label}: the answer has no usable access_token")))?
        .to_owned();
    let lifetime = body
        .get("expires_in")
        .and_then(|value| {
            value
                .as_u64()
                .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
        })
        .map_or(Duration::from_secs(300), Duration::from_secs);
    // A token that lives less than the margin serves this attempt only.
    let until = now + lifetime.saturating_sub(TOKEN_MARGIN);
    if until > now {
        tokens.put(&request.cache_key, token.clone(), until, now);
    }
    Ok(token)
}

/// The requests of one attempt.
struct Client<'a> {
    http: &'a HttpClient,
    tokens: &'a TokenCache,
    auth: &'a Auth,
}

impl Client<'_> {
    /// One request; a 401 is the credentials' fault: permanent, except for a cached token, which
    /// is forgotten so that the next attempt fetches a new one.
    async fn call(&self, method: &str, url: String, body: Option<&str>) -> Result<HttpAnswer, NotifyError> {
        let mut headers = json_headers(&self.auth.header);
        if body.is_none() {
            headers.remove("Content-Type");
        }
        let answer = self
            .http
            .exchange(&HttpRequest {
                method: method.to_owned(),
                url,
                headers,
                body: body.unwrap_or_default().to_owned(),
            })
            .await?;
        if answer.status == 401 {
            return Err(match &self.auth.token {
                Some((key, true)) => {
                    self.tokens.forget(key);
                    NotifyError::Retryable {
                        reason: format!(
                            "{}: status 401: the cached OAuth token was refused; the next attempt fetches a new one",
                            answer.label
                        ),
                        status: Some(401),
                        retry_after: None,
                    }
                }
                Some((_, false)) => NotifyError::Permanent {
                    reason: format!(
                        "{}: status 401: the instance refused the token it issued",
                        answer.label
                    ),
                    status: Some(401),
                },
                None => NotifyError::Permanent {
                    reason: format!(
                        "{}: status 401: the instance refused the user name or password",
                        answer.label
                    ),
                    status: Some(401),
                },
            });
        }
        Ok(answer)
    }

    /// The open incidents with the message's `correlation_id` (a `404` with "No Record found" is
    /// none, as the v1 Table API answers).
    async fn lookup(&self, message: &ServiceNowMessage) -> Result<Vec<Found>, NotifyError> {
        let answer = self.call("GET", message.lookup_url(), None).await?;
        if answer.status == 404 && answer.body.contains("No Record found") {
            return Ok(Vec::new());
        }
        answer.classified()?;
        let body: Value = serde_json::from_str(&answer.body).map_err(|_| {
            NotifyError::permanent(format!(
                "{}: the incident lookup answered {} without JSON (a hibernating instance's page?)",
                answer.label, answer.status
            ))
        })?;
        let Some(records) = body.get("result").and_then(Value::as_array) else {
            return Err(NotifyError::permanent(format!(
                "{}: the incident lookup's answer has no `result` list",
                answer.label
            )));
        };
        Ok(records.iter().filter_map(found).collect())
    }

    async fn open(&self, message: &ServiceNowMessage) -> Result<Sent, NotifyError> {
        if let Some(open) = self.lookup(message).await?.into_iter().next() {
            // An open incident with this key: the Alert's earlier attempt created it (its answer was
            // lost), or the state was lost. It is the incident, not a second one.
            let name = open.number.clone().unwrap_or_else(|| open.sys_id.clone());
            return Ok(Sent {
                status: Some(200),
                external_id: Some(name.clone()),
                response: format!(
                    "incident {name} is already open for this correlation id: kept, not opened again"
                ),
                incident: Some(merged(&message.keep, &open)),
                extracted: Default::default(),
            });
        }
        let answer = self.call("POST", message.post_url(), Some(&message.body)).await?;
        if answer.status != 201 {
            answer.classified()?;
            // 2xx but not 201: nothing was created (a hibernating developer instance answers 200
            // with its wake-up page).
            return Err(NotifyError::Permanent {
                reason: format!(
                    "{}: status {} instead of 201 Created: no incident was created (a hibernating instance answers 200 with its wake-up page)",
                    answer.label, answer.status
                ),
                status: Some(answer.status),
            });
        }
        let created = serde_json::from_str::<Value>(&answer.body)
            .ok()
            .and_then(|body| body.get("result").and_then(found));
        let preview = truncate_utf8(&answer.body, notify_core::http::RESPONSE_PREVIEW_BYTES);
        Ok(match created {
            Some(created) => Sent {
                status: Some(201),
                external_id: Some(created.number.clone().unwrap_or_else(|| created.sys_id.clone())),
                response: preview,
                incident: Some(merged(&message.keep, &created)),
                extracted: Default::default(),
            },
            None => {
                tracing::warn!(
                    "servicenow: the create answered 201 without a sys_id; the Ok will look the incident up by correlation_id"
                );
                Sent {
                    status: Some(201),
                    external_id: None,
                    response: preview,
                    incident: Some(message.keep.clone()),
                    extracted: Default::default(),
                }
            }
        })
    }

    /// The incidents a note or a resolve acts on: the kept one, else those a lookup finds.
    async fn targets(&self, message: &ServiceNowMessage) -> Result<Vec<Found>, NotifyError> {
        match &message.sys_id {
            Some(sys_id) if sys_id_ok(sys_id) => Ok(vec![Found {
                sys_id: sys_id.clone(),
                number: None,
            }]),
            _ => self.lookup(message).await,
        }
    }

    async fn note(&self, message: &ServiceNowMessage) -> Result<Sent, NotifyError> {
        let Some(target) = self.targets(message).await?.into_iter().next() else {
            return Ok(nothing(format!(
                "no open incident with correlation id {}: no work note added",
                message.correlation_id
            )));
        };
        let answer = self
            .call("PATCH", message.incident_url(&target.sys_id), Some(&message.body))
            .await?;
        if answer.status == 404 {
            // Deleted at the instance: the next Alert opens a new incident.
            return Ok(Sent {
                incident: Some(json!({"open": false, "sysId": null, "number": null})),
                ..nothing(format!(
                    "incident {} no longer exists: no work note added",
                    target.sys_id
                ))
            });
        }
        let mut sent = answer.classified()?;
        sent.external_id = updated_number(&answer).or(target.number);
        Ok(sent)
    }

    async fn resolve(&self, message: &ServiceNowMessage) -> Result<Sent, NotifyError> {
        let targets = self.targets(message).await?;
        if targets.is_empty() {
            // An Ok without an open incident (no Alert, or it came first): nothing to resolve; the
            // time it closed is kept, so that its late Alert opens nothing.
            return Ok(Sent {
                incident: Some(message.keep.clone()),
                ..nothing(format!(
                    "no open incident with correlation id {}: nothing to resolve",
                    message.correlation_id
                ))
            });
        }
        let mut resolved = Vec::new();
        let mut last = None;
        for target in targets {
            let answer = self
                .call("PATCH", message.incident_url(&target.sys_id), Some(&message.body))
                .await?;
            if answer.status == 404 {
                continue;
            }
            last = Some(answer.classified()?);
            resolved.push(updated_number(&answer).or(target.number).unwrap_or(target.sys_id));
        }
        let mut sent = last
            .unwrap_or_else(|| nothing("the open incident no longer exists: nothing to resolve".to_owned()));
        sent.external_id = (!resolved.is_empty()).then(|| resolved.join(", "));
        sent.incident = Some(message.keep.clone());
        Ok(sent)
    }

    async fn event(&self, message: &ServiceNowMessage) -> Result<Sent, NotifyError> {
        let answer = self.call("POST", message.post_url(), Some(&message.body)).await?;
        let mut sent = answer.classified()?;
        let start = answer
            .body
            .trim_start()
            .get(..15)
            .unwrap_or_default()
            .to_ascii_lowercase();
        if start.starts_with("<!doctype html") || start.starts_with("<html") {
            return Err(NotifyError::Permanent {
                reason: format!(
                    "{}: status {} with an HTML page instead of the event's answer (a hibernating instance?)",
                    answer.label, answer.status
                ),
                status: Some(answer.status),
            });
        }
        sent.incident =
            Some(message.keep.clone()).filter(|keep| keep.as_object().is_some_and(|map| !map.is_empty()));
        Ok(sent)
    }
}

/// A success that sent nothing (or nothing more), with what happened.
fn nothing(response: String) -> Sent {
    Sent {
        status: None,
        external_id: None,
        response,
        incident: None,
        extracted: Default::default(),
    }
}

/// An incident record of an answer: its `sys_id` (checked, it goes into URLs) and number.
fn found(record: &Value) -> Option<Found> {
    let sys_id = record
        .get("sys_id")
        .and_then(Value::as_str)
        .filter(|id| sys_id_ok(id))?;
    let number = record
        .get("number")
        .and_then(Value::as_str)
        .filter(|number| number.len() <= 40 && number.chars().all(|c| c.is_ascii_alphanumeric()))
        .map(str::to_owned);
    Some(Found {
        sys_id: sys_id.to_owned(),
        number,
    })
}

/// A `sys_id` is 32 hexadecimal characters; anything else never reaches a URL.
fn sys_id_ok(sys_id: &str) -> bool {
    sys_id.len() == 32 && sys_id.chars().all(|c| c.is_ascii_hexdigit())
}

fn updated_number(answer: &HttpAnswer) -> Option<String> {
    serde_json::from_str::<Value>(&answer.body)
        .ok()
        .and_then(|body| body.get("result").and_then(found))
        .and_then(|found| found.number)
}

/// What the message keeps, with the incident's id and number.
fn merged(keep: &Value, found: &Found) -> Value {
    let mut keep = keep.clone();
    if let Value::Object(map) = &mut keep {
        map.insert("sysId".to_owned(), Value::String(found.sys_id.clone()));
        map.insert(
            "number".to_owned(),
            found.number.clone().map_or(Value::Null, Value::String),
        );
    }
    keep
}
