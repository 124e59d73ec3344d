//! The template engine: product syntax (`{{@monitor.name}}`, `{{@JsonEncode({{@monitor.notes}})}}`,
//! `{{ApiKey}}`, `{{@CustomField(Team)}}`) and Jinja syntax, on minijinja, with context-aware escaping.

use std::collections::BTreeMap;

use crate::Alert;

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
    /// A header value: a result containing CR or LF is refused.
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

/// The template engine. Build it once and reuse it: it caches compiled templates.
#[derive(Debug, Default)]
pub struct Engine {}

impl Engine {
    /// A new engine with every helper registered.
    pub fn new() -> Self {
        Engine {}
    }

    /// Renders `template` with bare values escaped for `escape`.
    pub fn render(
        &self,
        source: TemplateSource<'_>,
        template: &str,
        escape: Escape,
        context: &RenderContext<'_>,
    ) -> Result<String, TemplateError> {
        let _ = (template, escape, context);
        Err(TemplateError {
            integration: source.integration.to_owned(),
            field: source.field.to_owned(),
            line: None,
            reason: "not implemented yet".to_owned(),
        })
    }

    /// Checks the syntax of `template` without rendering it (for `tocsin validate`).
    pub fn check(&self, source: TemplateSource<'_>, template: &str) -> Result<(), TemplateError> {
        let _ = template;
        Err(TemplateError {
            integration: source.integration.to_owned(),
            field: source.field.to_owned(),
            line: None,
            reason: "not implemented yet".to_owned(),
        })
    }
}

/// The built-in default template named `name` (`email.subject`, `email.html`, `email.text`, …).
pub fn default_template(name: &str) -> Option<&'static str> {
    let _ = name;
    None
}
