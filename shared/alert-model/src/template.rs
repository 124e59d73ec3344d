//! The template engine: product syntax (`{{@monitor.name}}`, `{{@JsonEncode({{@monitor.notes}})}}`,
//! `{{ApiKey}}`, `{{@CustomField(Team)}}`) and Jinja syntax, on minijinja, with context-aware escaping.
//!
//! - Product syntax: `{{@group.name}}` for the alert variables ([`variable_names`], any case),
//!   `{{@Helper(arguments)}}` / `{{@Helper}}` for the helpers ([`helper_names`]), arguments mixing
//!   literal text and nested tags (`{{@Base64Encode({{User}}:{{Password}})}}`), user variables
//!   `{{ApiKey}}`, and user functions `{{fn({{x}})}}` (recognised when an argument holds a nested
//!   tag). A small pre-pass rewrites these in the template text only; values are never parsed, so
//!   a value that looks like template code renders literally.
//! - Jinja (minijinja): `{% if alert.type == "Ok" %}`, loops, filters, `{{ monitor.customFields.Team }}`.
//!   The helpers are also Jinja functions and filters (`{{ JsonEncode(x) }}`, `{{ x | Base64Encode }}`),
//!   plus `|firstline` and `|truncate(n)`. The context holds `account`, `alert`, `alertDefinition`, `escalationLevel`,
//!   `incident`, `monitor` and the user variables (an alert group wins over a variable of the same name).
//! - Escaping per [`Escape`]: every bare value is escaped where it lands. Encoder outputs
//!   (`JsonEncode`, `XmlEncode`, `UrlEncode`, `Base64Encode`, `HexToBase64`) are not escaped again
//!   where their encoding fits (JSON text in JSON, XML text in HTML, …) and are escaped where it
//!   does not (JSON text in HTML, base64 in a URL). In a URL template, a user variable that starts
//!   the template and holds an absolute http(s) URL is kept as it is (`{{ApiUrl}}/incidents`); an
//!   alert value is percent-encoded even there, so that an alert never chooses the host.
//! - Strict: an undefined variable, an unknown custom field, an unknown helper or variable, a JSON
//!   result that does not parse and a header with a line break or another control character are
//!   errors naming the template's integration, field and line.
//! - Bounded: a render executes at most [`FUEL`] instructions, writes at most [`MAX_OUTPUT_BYTES`],
//!   formats at most [`MAX_BUILT_BYTES`] of values (captures such as `{% set x %}…{% endset %}` and
//!   macro calls included), and no builtin filter call, helper call or operator builds a string of
//!   more than [`MAX_BUILT_BYTES`] or a sequence of more than [`MAX_ITEMS`] items (see
//!   [`MAX_INTEGER_ARGUMENT`]). minijinja has no hook for the `~`, `+` and `*` operators and folds
//!   them over constants while compiling, so each template is parsed with minijinja's own parser
//!   and its operators are rewritten into size-checked calls before minijinja compiles it; a
//!   compiled template still holding one is refused, and [`Engine::check`] sizes the operators
//!   over constants without building them. A value written out as text (into the output, by `~`,
//!   by `in`, by a filter or a helper) is written only up to its limit. minijinja itself caps
//!   recursion (500 levels at run time, 150 when parsing) and `range` (100,000 items). Not bounded
//!   by the engine: the nesting depth of data a template builds in a loop
//!   (`{% set ns.l = [ns.l] %}` 100,000 times overflows a 2 MiB stack). Templates are
//!   configuration written by the definitions' authors; alert values are data and can never
//!   trigger any of this.

use std::{
    borrow::Cow,
    collections::BTreeMap,
    io,
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
};

use minijinja::{AutoEscape, Environment, ErrorKind, Output, State, UndefinedBehavior, Value, value::Rest};

use crate::Alert;

mod bounds;
mod datetime;
pub mod functions;
#[cfg(test)]
mod functions_tests;
mod helpers;
mod operators;
mod prepass;
#[cfg(test)]
mod tests;

/// How bare values are escaped where they land.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Escape {
    /// Plain text: values as they are.
    Text,
    /// HTML: values HTML-escaped.
    Html,
    /// Inside a JSON document: values JSON-string-escaped (without quotes); the result must parse.
    Json,
    /// A URL: values percent-encoded.
    Url,
    /// A header value: a result containing a line break (CR, LF, U+2028, U+2029) or another
    /// control character (other than tab) is refused.
    Header,
}

/// Names the template in errors: which integration, which field.
#[derive(Debug, Clone, Copy)]
pub struct TemplateSource<'a> {
    /// Integration id.
    pub integration: &'a str,
    /// Field path, e.g. `messages[0].steps[1].body` or `email.subject`.
    pub field: &'a str,
}

/// What a template can see.
#[derive(Debug, Clone, Copy)]
pub struct RenderContext<'a> {
    /// The alert variables (`@alert.*`, `@monitor.*`, …).
    pub alert: &'a Alert,
    /// User variables (`{{ApiKey}}`).
    pub variables: &'a BTreeMap<String, String>,
    /// "Now", for `@DateTime`.
    pub now: chrono::DateTime<chrono::Utc>,
}

/// A render or syntax error, naming the integration, the field and the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("integration `{integration}`, field `{field}`{}: {reason}", line.map(|l| format!(", line {l}")).unwrap_or_default())]
pub struct TemplateError {
    /// Integration id.
    pub integration: String,
    /// Field path.
    pub field: String,
    /// 1-based line in the template, where known.
    pub line: Option<usize>,
    /// What went wrong.
    pub reason: String,
}

/// Fuel of one render: the number of minijinja instructions it may execute.
pub const FUEL: u64 = 1_000_000;

/// Largest rendered output in bytes; a larger result is an error.
pub const MAX_OUTPUT_BYTES: usize = 1024 * 1024;

/// Most bytes of values one render may format (into the output and into captures such as
/// `{% set x %}…{% endset %}` and macro calls, which the output limit does not see), and most
/// bytes one builtin filter call may build.
pub const MAX_BUILT_BYTES: usize = 4 * MAX_OUTPUT_BYTES;

pub use bounds::{MAX_INTEGER_ARGUMENT, MAX_ITEMS};
pub use functions::{FunctionDef, Functions};

/// Compiled templates kept at most; the cache is emptied when it would grow beyond.
const MAX_CACHED: usize = 512;

impl Escape {
    fn tag(self) -> &'static str {
        match self {
            Escape::Text => "text",
            Escape::Html => "html",
            Escape::Json => "json",
            Escape::Url => "url",
            Escape::Header => "header",
        }
    }
}

/// The template engine. Build it once and reuse it: it caches compiled templates.
///
/// Product syntax is translated into Jinja by a pre-pass over the template text only (values
/// never pass through it, so they stay data), then minijinja renders it with strict undefined values, a fuel limit
/// ([`FUEL`]), an output limit ([`MAX_OUTPUT_BYTES`]) and a formatter that escapes every bare
/// value for its [`Escape`] context.
pub struct Engine {
    env: RwLock<Environment<'static>>,
    /// The alerts most recently turned into template values, with those values: the fields of one
    /// message and the routes of one event render the same alert, which is then converted once.
    alerts: Mutex<Vec<(Alert, AlertGroups)>>,
}

/// The alert's groups (`account`, `alert`, …, `monitor`) as template values.
type AlertGroups = Arc<[(String, Value)]>;

/// Alerts whose template values are kept (the most recent ones).
const MAX_CACHED_ALERTS: usize = 8;

impl std::fmt::Debug for Engine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cached = self
            .env
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .templates()
            .count();
        f.debug_struct("Engine")
            .field("cached_templates", &cached)
            .finish()
    }
}

impl Default for Engine {
    fn default() -> Self {
        Engine::new()
    }
}

impl Engine {
    /// A new engine with every helper registered.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_auto_escape_callback(auto_escape_for);
        env.set_formatter(format_value);
        for (name, _) in helpers::HELPERS {
            let name: &'static str = name;
            env.add_function(name, move |state: &State<'_, '_>, args: Rest<Value>| {
                helpers::call_from_state(state, name, &args)
            });
            env.add_filter(name, move |state: &State<'_, '_>, args: Rest<Value>| {
                helpers::call_from_state(state, name, &args)
            });
        }
        bounds::wrap_builtin_filters(&mut env);
        env.add_filter("escape", escape_filter);
        env.add_filter("e", escape_filter);
        env.add_filter("firstline", first_line);
        env.add_filter("truncate", truncate);
        Engine {
            env: RwLock::new(env),
            alerts: Mutex::new(Vec::new()),
        }
    }

    /// Renders `template` with bare values escaped for `escape`.
    pub fn render(
        &self,
        source: TemplateSource<'_>,
        template: &str,
        escape: Escape,
        context: &RenderContext<'_>,
    ) -> Result<String, TemplateError> {
        self.render_with(source, template, escape, context, &Functions::default())
    }

    /// [`Engine::render`] with the integration's user functions callable (`{{fn({{x}})}}`,
    /// `{{ fn(x) }}`); a function wins over a user variable of the same name.
    pub fn render_with(
        &self,
        source: TemplateSource<'_>,
        template: &str,
        escape: Escape,
        context: &RenderContext<'_>,
        functions: &Functions,
    ) -> Result<String, TemplateError> {
        let name = format!("{}\u{0}{template}", escape.tag());
        let output_full = Arc::new(AtomicBool::new(false));
        let values = context_value(
            source,
            context,
            &self.alert_groups(context.alert),
            Arc::clone(&output_full),
            functions,
        );
        let render_cached =
            |env: &Environment<'static>| render_cached(source, env, &name, &values, &output_full);
        let rendered = {
            let env = self.env.read().unwrap_or_else(PoisonError::into_inner);
            if env.get_template(&name).is_ok() {
                render_cached(&env)
            } else {
                drop(env);
                let translated = prepass::translate(template, escape == Escape::Url)
                    .map_err(|err| prepass_error(source, template, err))?;
                let jinja = operators::rewrite(&translated)
                    .map_err(|refusal| refusal_error(source, refusal, &translated))?;
                let mut env = self.env.write().unwrap_or_else(PoisonError::into_inner);
                if env.templates().count() >= MAX_CACHED {
                    env.clear_templates();
                }
                env.add_template_owned(name.clone(), jinja.clone())
                    .map_err(|err| minijinja_error(source, &err, None, Some(&jinja)))?;
                let verified = env
                    .get_template(&name)
                    .map_err(|err| minijinja_error(source, &err, None, Some(&jinja)))
                    .and_then(|compiled| {
                        operators::verify(&compiled).map_err(|(line, reason)| error(source, line, reason))
                    });
                if let Err(err) = verified {
                    env.remove_template(&name);
                    return Err(err);
                }
                render_cached(&env)
            }
        }?;
        match escape {
            Escape::Header if rendered.contains(breaks_header) => Err(error(
                source,
                template
                    .find(breaks_header)
                    .map(|offset| prepass::line_of(template, offset)),
                "the rendered header value contains a line break or a control character; a header must be one line",
            )),
            Escape::Json => match serde_json::from_str::<serde::de::IgnoredAny>(&rendered) {
                Ok(_) => Ok(rendered),
                Err(err) => {
                    // Output lines are template lines unless block tags dropped or repeated lines:
                    // escaped values never contain a raw line break.
                    let line = (!prepass::has_blocks(template)).then(|| err.line());
                    let message = err.to_string();
                    let message = message
                        .rfind(" at line ")
                        .map_or(message.as_str(), |cut| &message[..cut]);
                    Err(error(
                        source,
                        line,
                        format!(
                            "the rendered JSON does not parse: {message} at line {}, column {} of the output",
                            err.line(),
                            err.column()
                        ),
                    ))
                }
            },
            _ => Ok(rendered),
        }
    }

    /// The template values of `alert`'s groups, converted once per distinct alert among the
    /// [`MAX_CACHED_ALERTS`] most recent ones (an equal alert reuses them).
    fn alert_groups(&self, alert: &Alert) -> AlertGroups {
        let mut cache = self.alerts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((_, groups)) = cache.iter().rev().find(|(cached, _)| cached == alert) {
            return Arc::clone(groups);
        }
        drop(cache);
        let groups: AlertGroups = match serde_json::to_value(alert) {
            Ok(serde_json::Value::Object(groups)) => groups
                .into_iter()
                .map(|(group, value)| (group, Value::from_serialize(&value)))
                .collect(),
            _ => Arc::from(Vec::new()),
        };
        cache = self.alerts.lock().unwrap_or_else(PoisonError::into_inner);
        if cache.len() >= MAX_CACHED_ALERTS {
            cache.remove(0);
        }
        cache.push((alert.clone(), Arc::clone(&groups)));
        groups
    }

    /// Checks the syntax of `template` without rendering it (for `tocsin validate`), and refuses
    /// an operator over constants that would build more than [`MAX_BUILT_BYTES`] (sized, never
    /// built: `{{ "x" * 100000000 }}` is refused at once).
    pub fn check(&self, source: TemplateSource<'_>, template: &str) -> Result<(), TemplateError> {
        let translated =
            prepass::translate(template, false).map_err(|err| prepass_error(source, template, err))?;
        let jinja =
            operators::rewrite(&translated).map_err(|refusal| refusal_error(source, refusal, &translated))?;
        let env = Environment::empty();
        let compiled = env
            .template_from_str(&jinja)
            .map_err(|err| minijinja_error(source, &err, None, Some(&jinja)))?;
        operators::verify(&compiled).map_err(|(line, reason)| error(source, line, reason))
    }
}

/// The product variables templates can use (`alert.type`, `monitor.name`, …; written `{{@…}}`).
pub fn variable_names() -> Vec<&'static str> {
    prepass::variable_names()
}

/// The helper functions (`JsonEncode`, `DateTime`, …; written `{{@JsonEncode(…)}}`).
pub fn helper_names() -> Vec<&'static str> {
    helpers::names()
}

fn error(source: TemplateSource<'_>, line: Option<usize>, reason: impl Into<String>) -> TemplateError {
    TemplateError {
        integration: source.integration.to_owned(),
        field: source.field.to_owned(),
        line,
        reason: reason.into(),
    }
}

fn prepass_error(source: TemplateSource<'_>, template: &str, err: prepass::PrepassError) -> TemplateError {
    error(source, Some(prepass::line_of(template, err.offset)), err.reason)
}

fn refusal_error(source: TemplateSource<'_>, refusal: operators::Refusal, jinja: &str) -> TemplateError {
    match refusal {
        operators::Refusal::Syntax(err) => minijinja_error(source, &err, None, Some(jinja)),
        operators::Refusal::At { line, reason } => error(source, Some(line), reason),
    }
}

/// What a render needs to name an undefined variable.
struct Scope<'a> {
    env: &'a Environment<'static>,
    template: &'a minijinja::Template<'a, 'a>,
    values: &'a Value,
}

fn render_cached(
    source: TemplateSource<'_>,
    env: &Environment<'static>,
    name: &str,
    values: &Value,
    output_full: &Arc<AtomicBool>,
) -> Result<String, TemplateError> {
    let template = env
        .get_template(name)
        .map_err(|err| minijinja_error(source, &err, None, None))?;
    let mut out = LimitedWriter {
        buf: Vec::new(),
        full: Arc::clone(output_full),
    };
    let result = template.render_captured_to(values, &mut out);
    if output_full.load(Ordering::Relaxed) {
        // The writer stops storing at the limit and the next value written fails, so the error
        // usually carries the line; raw text alone runs on until the render ends or runs out of fuel.
        return Err(error(
            source,
            result.err().and_then(|err| err.line()),
            format!("the rendered output is larger than {MAX_OUTPUT_BYTES} bytes"),
        ));
    }
    if let Err(err) = result {
        let scope = Scope {
            env,
            template: &template,
            values,
        };
        return Err(minijinja_error(
            source,
            &err,
            Some(&scope),
            Some(template.source()),
        ));
    }
    String::from_utf8(out.buf).map_err(|_| error(source, None, "the rendered output is not UTF-8 text"))
}

fn minijinja_error(
    source: TemplateSource<'_>,
    err: &minijinja::Error,
    scope: Option<&Scope<'_>>,
    jinja_source: Option<&str>,
) -> TemplateError {
    let detail = err.detail().map(str::to_owned);
    let line_text = jinja_source
        .zip(err.line())
        .and_then(|(text, line)| text.lines().nth(line.saturating_sub(1)));
    let reason = match err.kind() {
        _ if helpers::is_plain(err) => detail.unwrap_or_default(),
        ErrorKind::SyntaxError => {
            let mut reason = format!("syntax error: {}", detail.unwrap_or_default());
            if reason.ends_with("unexpected character") && line_text.is_some_and(|text| text.contains('@')) {
                reason.push_str(
                    " (`@` names work only in `{{@…}}` tags; inside Jinja write `alert.type`, `monitor.name`, …)",
                );
            }
            reason
        }
        ErrorKind::OutOfFuel => {
            format!("the template does too much work (more than {FUEL} steps); bound its loops")
        }
        ErrorKind::UndefinedError => {
            let names = scope
                .map(|scope| undefined_names(scope, err.line()))
                .unwrap_or_default();
            match names.as_slice() {
                [] if line_text.is_some() => {
                    "undefined value: a variable, attribute or item used on this line does not exist"
                        .to_owned()
                }
                [] => "undefined value".to_owned(),
                [name] => format!("undefined variable `{name}`"),
                many => format!(
                    "undefined variable, one of {}",
                    many.iter()
                        .map(|name| format!("`{name}`"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            }
        }
        kind => match detail {
            Some(detail) => format!("{kind}: {detail}"),
            None => kind.to_string(),
        },
    };
    error(source, err.line(), reason)
}

/// The variables the template uses that the context does not define, preferring those on `line`.
fn undefined_names(scope: &Scope<'_>, line: Option<usize>) -> Vec<String> {
    let globals: Vec<String> = scope.env.globals().map(|(name, _)| name.to_owned()).collect();
    let resolves = |path: &str| {
        let mut segments = path.split('.');
        let Some(first) = segments.next() else { return true };
        if first == prepass::INTERNAL {
            // The engine's own calls (helpers, operators).
            return true;
        }
        let mut value = scope.values.get_attr(first).unwrap_or(Value::UNDEFINED);
        if value.is_undefined() {
            return globals.iter().any(|name| name == first);
        }
        for segment in segments {
            value = value.get_attr(segment).unwrap_or(Value::UNDEFINED);
            if value.is_undefined() {
                return false;
            }
        }
        true
    };
    let mut missing: Vec<String> = scope
        .template
        .undeclared_variables(true)
        .into_iter()
        .filter(|path| !resolves(path))
        .collect();
    missing.sort();
    let line_text = line.and_then(|line| scope.template.source().lines().nth(line.saturating_sub(1)));
    if let Some(text) = line_text {
        let on_line: Vec<String> = missing
            .iter()
            .filter(|path| text.contains(path.as_str()))
            .cloned()
            .collect();
        if !on_line.is_empty() {
            return on_line;
        }
    }
    missing
}

/// The template context: user variables, the user functions, then the alert groups (which win over a
/// user variable of the same name), then the helpers' per-render object.
fn context_value(
    source: TemplateSource<'_>,
    context: &RenderContext<'_>,
    groups: &[(String, Value)],
    output_full: Arc<AtomicBool>,
    functions: &Functions,
) -> Value {
    let mut map: BTreeMap<String, Value> = context
        .variables
        .iter()
        .map(|(name, value)| (name.clone(), Value::from(value.as_str())))
        .collect();
    for (name, function) in functions.values() {
        map.insert(name.clone(), function);
    }
    for (group, value) in groups {
        map.insert(group.clone(), value.clone());
    }
    let namespace = uuid::Uuid::new_v5(&uuid::Uuid::NAMESPACE_URL, b"urn:tocsin:unique-guid");
    let unique = format!("{}\n{}", context.alert.alert.alert_guid, source.integration);
    let internal = helpers::Internal {
        now: context.now,
        unique_guid: uuid::Uuid::new_v5(&namespace, unique.as_bytes()),
        custom_fields: context.alert.monitor.custom_fields.clone(),
        encoded: std::sync::Mutex::default(),
        formatted: AtomicUsize::new(0),
        output_full,
    };
    map.insert(prepass::INTERNAL.to_owned(), Value::from_object(internal));
    Value::from(map)
}

fn auto_escape_for(name: &str) -> AutoEscape {
    match name.split('\u{0}').next() {
        Some("html") => AutoEscape::Html,
        Some("json") => AutoEscape::Custom("json"),
        Some("url") => AutoEscape::Custom("url"),
        Some("header") => AutoEscape::Custom("header"),
        _ => AutoEscape::None,
    }
}

/// Escapes `text` for `mode`. `safe` values (encoder outputs, `|safe`, `|tojson`) keep their text,
/// except in JSON, where one is kept only when it is already valid inside a JSON string or is a
/// JSON value itself; anything else (raw quotes, backslashes, control characters) is escaped.
fn escape_text(mode: AutoEscape, text: &str, safe: bool) -> Result<String, minijinja::Error> {
    Ok(match mode {
        AutoEscape::Html if !safe => html_escape(text),
        AutoEscape::Custom("json") if safe && json_safe(text) => text.to_owned(),
        AutoEscape::Custom("json") => helpers::json_escape(text),
        AutoEscape::Custom("url") if !safe => {
            percent_encoding::utf8_percent_encode(text, helpers::URL_UNRESERVED).to_string()
        }
        AutoEscape::Custom("header") if let Some(found) = text.chars().find(|&c| breaks_header(c)) => {
            return Err(helpers::failure(format!(
                "a value contains a line break or a control character (U+{:04X}), which a header refuses",
                u32::from(found)
            )));
        }
        _ => text.to_owned(),
    })
}

/// Whether `c` would end or corrupt a header line: CR, LF, the Unicode line and paragraph
/// separators, and every control character but tab.
fn breaks_header(c: char) -> bool {
    (c.is_control() && c != '\t') || c == '\u{2028}' || c == '\u{2029}'
}

fn format_value(out: &mut Output<'_>, state: &State<'_, '_>, value: &Value) -> Result<(), minijinja::Error> {
    let internal = state.lookup(prepass::INTERNAL);
    let internal = internal
        .as_ref()
        .and_then(|value| value.downcast_object_ref::<helpers::Internal>());
    if internal.is_some_and(|internal| internal.output_full.load(Ordering::Relaxed)) {
        return Err(helpers::failure(format!(
            "the rendered output is larger than {MAX_OUTPUT_BYTES} bytes"
        )));
    }
    let text = match value.as_str() {
        Some(text) => Cow::Borrowed(text),
        None if value.is_none() || value.is_undefined() => Cow::Borrowed(""),
        // A sequence or map is written out only up to the output limit: its items may share one
        // large string many times, and its text could be far larger than its memory.
        None => bounds::text_within(value, MAX_OUTPUT_BYTES).ok_or_else(|| {
            helpers::failure(format!(
                "a value written out as text is larger than the output limit of {MAX_OUTPUT_BYTES} bytes"
            ))
        })?,
    };
    // Checked before escaping, which would copy the text once more.
    if text.len() > MAX_OUTPUT_BYTES {
        return Err(helpers::failure(format!(
            "a value of {} bytes is larger than the output limit of {MAX_OUTPUT_BYTES} bytes",
            text.len()
        )));
    }
    let mode = state.auto_escape();
    // An encoder's output is written unescaped only where its encoding fits.
    let safe = value.is_safe()
        && internal
            .and_then(|internal| internal.encoding_of(&text))
            .is_none_or(|encoding| fits(encoding, mode));
    let escaped = escape_text(mode, &text, safe)?;
    if let Some(internal) = internal {
        let formatted = internal.formatted.fetch_add(escaped.len(), Ordering::Relaxed) + escaped.len();
        if formatted > MAX_BUILT_BYTES {
            return Err(helpers::failure(format!(
                "the template formats more than {MAX_BUILT_BYTES} bytes of values (captures and macro calls included); bound its loops"
            )));
        }
    }
    out.write_str(&escaped).map_err(minijinja::Error::from)?;
    // The value that crossed the output limit fails here, on its line.
    if internal.is_some_and(|internal| internal.output_full.load(Ordering::Relaxed)) {
        return Err(helpers::failure(format!(
            "the rendered output is larger than {MAX_OUTPUT_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Whether an encoder's output can be written unescaped in `mode`.
fn fits(encoding: helpers::Encoding, mode: AutoEscape) -> bool {
    use helpers::Encoding;
    match (encoding, mode) {
        (Encoding::Url, _) => true,
        (_, AutoEscape::Custom("url")) => false,
        (Encoding::Json, AutoEscape::Html) => false,
        _ => true,
    }
}

/// `|escape` / `|e`: escapes for the template's context (HTML when auto-escaping is off).
fn escape_filter(state: &State<'_, '_>, value: &Value) -> Result<Value, minijinja::Error> {
    if value.is_safe() {
        return Ok(value.clone());
    }
    let mode = match state.auto_escape() {
        AutoEscape::None => AutoEscape::Html,
        other => other,
    };
    let text = bounded_text(value)?;
    escape_text(mode, &text, false).map(Value::from_safe_string)
}

/// `value` as text for a filter of the engine's, refused beyond [`MAX_BUILT_BYTES`].
fn bounded_text(value: &Value) -> Result<Cow<'_, str>, minijinja::Error> {
    bounds::text_within(value, MAX_BUILT_BYTES).ok_or_else(|| {
        helpers::failure(format!(
            "a filter's input is larger than {MAX_BUILT_BYTES} bytes; bound it"
        ))
    })
}

/// `|firstline`: the first non-blank line, trimmed (for subjects and summaries).
fn first_line(value: &Value) -> Result<String, minijinja::Error> {
    let text = bounded_text(value)?;
    Ok(text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty())
        .unwrap_or_default()
        .to_owned())
}

/// `|truncate(n)`: at most `n` characters (255 by default), the last one `…` when the text was
/// cut (targets count characters: Discord's 256-character titles, Telegram's 4,096).
fn truncate(value: &Value, length: Option<usize>) -> Result<String, minijinja::Error> {
    let text = bounded_text(value)?;
    let length = length.unwrap_or(255).max(1);
    if text.chars().count() <= length {
        return Ok(text.into_owned());
    }
    let mut cut: String = text.chars().take(length - 1).collect();
    cut.push('…');
    Ok(cut)
}

fn html_escape(text: &str) -> String {
    crate::escape::html(text)
}

/// Whether `text` can go into JSON unchanged: as the content of a string, or as a value.
fn json_safe(text: &str) -> bool {
    use serde::de::IgnoredAny;
    serde_json::from_str::<IgnoredAny>(&format!("\"{text}\"")).is_ok()
        || serde_json::from_str::<IgnoredAny>(text).is_ok()
}

/// Collects output up to [`MAX_OUTPUT_BYTES`]. Beyond, it keeps nothing and raises `full`, which
/// makes the value being written fail (with the line of the template it is on).
struct LimitedWriter {
    buf: Vec<u8>,
    full: Arc<AtomicBool>,
}

impl io::Write for LimitedWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.full.load(Ordering::Relaxed) || self.buf.len() + data.len() > MAX_OUTPUT_BYTES {
            self.full.store(true, Ordering::Relaxed);
            return Ok(data.len());
        }
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
