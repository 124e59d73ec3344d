//! Monitor selectors of alert definitions and monitor groups.

use crate::escape::escape_controls;

/// A parsed monitor selector.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Selector<'a> {
    /// `*`: every monitor.
    All,
    /// `<guid>` or `id:<guid>`: matched case-insensitively.
    Guid(&'a str),
    /// `name:<monitor name>`: matched exactly.
    Name(&'a str),
    /// `group:<monitor group id>`.
    Group(&'a str),
    /// `tag:<custom field>=<value>`: the monitor's custom field equals the value (both exact).
    Tag(&'a str, &'a str),
}

/// Why a selector is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectorError {
    /// Empty text.
    #[error("empty monitor selector")]
    Empty,
    /// A prefix with nothing after it.
    #[error("selector \"{}\" has nothing after the prefix", escape_controls(.0))]
    EmptyValue(String),
    /// `tag:` without `=` or without a field name.
    #[error("tag selector \"{}\" needs the form \"tag:<custom field>=<value>\"", escape_controls(.0))]
    BadTag(String),
    /// `foo:bar`.
    #[error(
        "unknown selector prefix in \"{}\" (expected \"*\", a guid, id:, name:, group: or tag:)",
        escape_controls(.0)
    )]
    UnknownPrefix(String),
}

impl<'a> Selector<'a> {
    /// Parses `*`, `<guid>`, `id:<guid>`, `name:<name>`, `group:<id>`, `tag:<field>=<value>`.
    pub fn parse(text: &'a str) -> Result<Selector<'a>, SelectorError> {
        let trimmed = text.trim();
        if trimmed.is_empty() {
            return Err(SelectorError::Empty);
        }
        if trimmed == "*" {
            return Ok(Selector::All);
        }
        let Some((prefix, value)) = trimmed.split_once(':') else {
            return Ok(Selector::Guid(trimmed));
        };
        let value = value.trim();
        let non_empty = |value: &'a str| {
            if value.is_empty() {
                Err(SelectorError::EmptyValue(text.to_owned()))
            } else {
                Ok(value)
            }
        };
        match prefix.trim() {
            "id" => non_empty(value).map(Selector::Guid),
            "name" => non_empty(value).map(Selector::Name),
            "group" => non_empty(value).map(Selector::Group),
            "tag" => match value.split_once('=') {
                Some((field, tag_value)) if !field.trim().is_empty() => {
                    Ok(Selector::Tag(field.trim(), tag_value.trim()))
                }
                _ => Err(SelectorError::BadTag(text.to_owned())),
            },
            _ => Err(SelectorError::UnknownPrefix(text.to_owned())),
        }
    }
}
