//! `SlackSettings` (what a Slack integration may set) and `SlackTarget` (the settings, checked).

use definition_store::{Integration, VariableDef};
use notify_core::NotifyError;
use serde::Deserialize;

/// Slack's Web API, where a bot posts unless `settings.apiUrl` says otherwise.
pub const DEFAULT_API_URL: &str = "https://slack.com/api";

/// The settings of a Slack integration: an incoming webhook (`webhookUrl`), or a bot (`botToken`
/// and `channel`, and `apiUrl` where the Web API is not Slack's own). `title` and `text` replace
/// the built-in templates `slack.title` and `slack.text`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SlackSettings {
    /// Incoming webhook: the webhook URL, a template. The URL is the credential: write
    /// `"{{WebhookUrl}}"` naming a secret variable.
    #[serde(default)]
    pub webhook_url: Option<String>,
    /// Bot: the bot token (`xoxb-…`), a template that must name a secret variable
    /// (`"{{BotToken}}"`); sent as `Authorization: Bearer`.
    #[serde(default)]
    pub bot_token: Option<String>,
    /// Bot: the channel to post to, its ID (`C0123456789`) or its name; a template (a per-level
    /// variable gives each escalation level its channel).
    #[serde(default)]
    pub channel: Option<String>,
    /// Bot: the Web API's base URL (default `https://slack.com/api`), a template.
    #[serde(default)]
    pub api_url: Option<String>,
    /// The header of every message: plain text, one line, cut at 150 characters (default: the
    /// built-in `slack.title`). Also the notification text.
    #[serde(default)]
    pub title: Option<String>,
    /// The body of every message, in Slack's mrkdwn: values are escaped for it (`&`, `<`, `>`),
    /// so an alert cannot mention `@channel` or forge a link; `{{ Value | safe }}` writes a
    /// variable as it is. Cut at 12,000 characters (default: the built-in `slack.text`).
    #[serde(default)]
    pub text: Option<String>,
}

/// How a Slack integration reaches Slack.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mode {
    /// An incoming webhook: one message per alert, to the webhook's channel.
    Webhook {
        /// The webhook URL template.
        url: String,
    },
    /// A bot token and the Web API: one message per incident, its Reminders and Ok in its thread.
    Bot {
        /// The token template.
        token: String,
        /// The channel template.
        channel: String,
        /// The Web API base URL template.
        api_url: String,
    },
}

/// The settings of one Slack integration, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlackTarget {
    /// How it reaches Slack.
    pub mode: Mode,
    /// The header template, when the integration has its own.
    pub title: Option<String>,
    /// The body template, when the integration has its own.
    pub text: Option<String>,
}

impl SlackTarget {
    /// The target of `integration`; errors are permanent and name the integration and the path.
    pub fn parse(integration: &Integration) -> Result<SlackTarget, NotifyError> {
        let settings = notify_core::settings_of::<crate::SlackNotifier>(integration)?;
        if let Some((path, problem)) = problems(&settings, integration).into_iter().next() {
            return Err(NotifyError::permanent(format!(
                "integration `{}`: `{path}`: {problem}",
                integration.id
            )));
        }
        let mode = match (settings.webhook_url, settings.bot_token, settings.channel) {
            (Some(url), None, _) => Mode::Webhook { url },
            (None, Some(token), Some(channel)) => Mode::Bot {
                token,
                channel,
                api_url: settings.api_url.unwrap_or_else(|| DEFAULT_API_URL.to_owned()),
            },
            // `problems` refuses every other combination.
            _ => {
                return Err(NotifyError::permanent(format!(
                    "integration `{}`: `settings`: {NO_MODE}",
                    integration.id
                )));
            }
        };
        Ok(SlackTarget {
            mode,
            title: settings.title,
            text: settings.text,
        })
    }
}

const NO_MODE: &str =
    "a slack integration needs `webhookUrl` (an incoming webhook) or `botToken` and `channel` (a bot)";

/// What is wrong with `settings` beyond their types: `(path, problem)`.
pub(crate) fn problems(settings: &SlackSettings, integration: &Integration) -> Vec<(&'static str, String)> {
    let mut problems = Vec::new();
    let fields = [
        ("settings.webhookUrl", &settings.webhook_url),
        ("settings.botToken", &settings.bot_token),
        ("settings.channel", &settings.channel),
        ("settings.apiUrl", &settings.api_url),
        ("settings.title", &settings.title),
        ("settings.text", &settings.text),
    ];
    for (path, value) in fields {
        if value.as_deref().is_some_and(|value| value.trim().is_empty()) {
            problems.push((path, "empty: leave it out or give a value".to_owned()));
        }
    }
    match (&settings.webhook_url, &settings.bot_token) {
        (Some(_), Some(_)) => problems.push((
            "settings.botToken",
            "`webhookUrl` and `botToken` exclude each other: an incoming webhook or a bot, not both"
                .to_owned(),
        )),
        (None, None) => problems.push(("settings", NO_MODE.to_owned())),
        (Some(_), None) => {
            for (path, given) in [
                ("settings.channel", settings.channel.is_some()),
                ("settings.apiUrl", settings.api_url.is_some()),
            ] {
                if given {
                    problems.push((
                        path,
                        "only a bot (`botToken`) takes it: an incoming webhook posts to the channel it was created for"
                            .to_owned(),
                    ));
                }
            }
        }
        (None, Some(token)) => {
            if settings.channel.is_none() {
                problems.push((
                    "settings.channel",
                    "a bot needs the channel to post to: its ID (C0123456789) or its name".to_owned(),
                ));
            }
            if !names_a_secret(token, integration) {
                problems.push((
                    "settings.botToken",
                    "the token must come from a secret variable, or it is stored and shown in plain text: \
                     write \"{{BotToken}}\" with `variables: {BotToken: {secret: \"ssm:/…\"}}`"
                        .to_owned(),
                ));
            }
        }
    }
    for (path, url) in [
        ("settings.webhookUrl", &settings.webhook_url),
        ("settings.apiUrl", &settings.api_url),
    ] {
        if let Some(url) = url.as_deref().map(str::trim).filter(|url| !url.is_empty())
            && !is_template(url)
            && !is_absolute_http(url)
        {
            problems.push((path, "not an absolute http:// or https:// URL".to_owned()));
        }
    }
    if let Some(channel) = settings.channel.as_deref().map(str::trim)
        && !is_template(channel)
        && channel.contains(char::is_whitespace)
    {
        problems.push((
            "settings.channel",
            "a channel ID or name has no white space".to_owned(),
        ));
    }
    problems
}

/// Whether `text` holds template syntax (then only the rendered value can be checked).
fn is_template(text: &str) -> bool {
    text.contains("{{") || text.contains("{%")
}

/// Whether `url` starts with `http://` or `https://`, has a host, and no white space.
pub(crate) fn is_absolute_http(url: &str) -> bool {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    rest.is_some_and(|rest| !rest.is_empty() && !rest.starts_with('/'))
        && !url.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Whether `template` writes at least one of the integration's secret variables
/// (`{{BotToken}}`, `{{ BotToken }}`, `{{ BotToken | trim }}`).
fn names_a_secret(template: &str, integration: &Integration) -> bool {
    let secrets: Vec<&str> = integration
        .variables
        .iter()
        .filter(|(_, variable)| matches!(variable, VariableDef::Secret { .. }))
        .map(|(name, _)| name.as_str())
        .collect();
    template
        .split("{{")
        .skip(1)
        .filter_map(|tag| tag.split_once("}}").map(|(inside, _)| inside))
        .flat_map(|inside| inside.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .any(|word| secrets.contains(&word))
}
