//! `TeamsSettings` (what a Teams integration may set) and `TeamsTarget` (the settings, checked).

use definition_store::Integration;
use notify_core::NotifyError;
use serde::Deserialize;

/// The settings of a Microsoft Teams integration: the Workflows webhook URL, and optionally the
/// message.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TeamsSettings {
    /// The URL of the Workflows webhook ("When a Teams webhook request is received"), as a template
    /// (values are percent-encoded). Its `sig` parameter is a credential: keep the URL, or the
    /// signature, in a secret variable (`url: "{{WorkflowUrl}}"` with `WorkflowUrl: {secret:
    /// "ssm:/…"}`); a literal `sig=` value is refused.
    pub url: String,
    /// The message template (default: the built-in `teams.card`): the whole JSON body Workflows
    /// receives, `{"type": "message", "attachments": [{"contentType":
    /// "application/vnd.microsoft.card.adaptive", "contentUrl": null, "content": <Adaptive Card>}]}`,
    /// values JSON-escaped. A message over 28,000 bytes has its longest texts shortened.
    #[serde(default)]
    pub card: Option<String>,
}

/// The settings of one Teams integration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamsTarget {
    /// The URL template.
    pub url: String,
    /// The message template override.
    pub card: Option<String>,
}

impl TeamsTarget {
    /// The target of `integration`; errors are permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<TeamsTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::TeamsNotifier>(integration)?;
        if let Some((path, problem)) = problems(&settings, integration).into_iter().next() {
            return Err(NotifyError::permanent(format!(
                "integration `{}`: `{path}`: {problem}",
                integration.id
            )));
        }
        Ok(TeamsTarget {
            url: settings.url,
            card: settings.card,
        })
    }
}

/// What is wrong with `settings` (and the integration's other keys) beyond their types:
/// `(path inside the integration, problem)`.
pub(crate) fn problems(settings: &TeamsSettings, integration: &Integration) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let url = settings.url.trim();
    if url.is_empty() {
        problems.push((
            "settings.url",
            "empty url: give the Workflows webhook URL, such as \"{{WorkflowUrl}}\" naming a secret variable"
                .to_owned(),
        ));
    } else if !is_template(url) {
        let lower = url.to_ascii_lowercase();
        if !(lower.starts_with("https://") || lower.starts_with("http://")) {
            problems.push((
                "settings.url",
                "not an absolute http:// or https:// URL".to_owned(),
            ));
        }
    }
    if has_literal_signature(url) {
        problems.push((
            "settings.url",
            "the `sig` parameter of a Workflows URL is a credential: keep the URL (or the signature) in a \
             secret variable, such as url \"{{WorkflowUrl}}\" with WorkflowUrl: {secret: \"ssm:/…\"}"
                .to_owned(),
        ));
    }
    if settings.card.as_ref().is_some_and(|card| card.trim().is_empty()) {
        problems.push((
            "settings.card",
            "empty card template: leave `card` out for the built-in one".to_owned(),
        ));
    }
    if !integration.messages.is_empty() {
        problems.push((
            "messages",
            "a teams integration has no `messages`: its request is `settings.url` and `settings.card`"
                .to_owned(),
        ));
    }
    problems
}

/// Whether `text` holds template code (a tag or a block).
fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Whether the query of `url` gives `sig` a value written out, not one a template fills in.
fn has_literal_signature(url: &str) -> bool {
    let Some((_, query)) = url.split_once('?') else {
        return false;
    };
    let query = query.split('#').next().unwrap_or_default();
    query.split('&').any(|pair| {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        name.eq_ignore_ascii_case("sig") && !value.is_empty() && !is_template(value)
    })
}

#[cfg(test)]
mod tests {
    use super::has_literal_signature;

    #[test]
    fn a_signature_written_out_is_found_and_a_templated_one_is_not() {
        for (url, literal) in [
            (
                "https://x.logic.azure.com/workflows/1/triggers/manual/paths/invoke?api-version=2016-06-01&sig=AbC",
                true,
            ),
            ("https://x/invoke?SIG=AbC#frag", true),
            ("https://x/invoke?sig=AbC&sv=1.0", true),
            ("https://x/invoke?sig={{Sig}}", false),
            ("https://x/invoke?sig=", false),
            ("{{WorkflowUrl}}", false),
            ("https://x/invoke?signature=AbC", false),
            ("https://x/sig=AbC", false),
        ] {
            assert_eq!(has_literal_signature(url), literal, "{url}");
        }
    }
}
