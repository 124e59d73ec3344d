//! The YAML file humans write.

use std::path::Path;

use crate::Definitions;

/// A definitions file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The text is not valid YAML or does not fit the model.
    #[error("{path}: {reason}")]
    Parse {
        /// Path of the offending value, e.g. `integrations[1].kind`.
        path: String,
        /// What is wrong.
        reason: String,
    },
}

/// Parses definitions from YAML (JSON is YAML too).
///
/// The error names the path of the offending value (`integrations[1].kind`, `$` for the document
/// itself) and, in its reason, the line and column where the parser knows them. A key given twice in
/// one map is an error (a plain parse would keep the last one silently); so are several documents.
pub fn from_yaml(text: &str) -> Result<Definitions, LoadError> {
    // First pass: the generic YAML value refuses duplicate keys and several documents.
    let value: serde_norway::Value =
        serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text)).map_err(parse_error)?;
    if value.is_null() {
        return Ok(Definitions::default());
    }
    // Second pass, from the text again so that errors keep their line numbers.
    serde_path_to_error::deserialize(serde_norway::Deserializer::from_str(text)).map_err(parse_error)
}

const SECRET_NOT_SHOWN: &str = "invalid secret reference: expected a string such as \"ssm:/…\" or \"secretsmanager:…\" (value not shown)";

fn parse_error(error: serde_path_to_error::Error<serde_norway::Error>) -> LoadError {
    let (path, inner) = (error.path().to_string(), error.into_inner());
    let path = if path == "." || path.is_empty() {
        "$".to_owned()
    } else {
        path
    };
    let mut reason = inner.to_string();
    // The value of a `secret` key may be a secret written there by mistake; the parser's own messages
    // quote values ("invalid type: integer `…` as u128"), the model's (`VariableDef`) do not.
    if (path == "secret" || path.ends_with(".secret")) && !reason.contains("(value not shown)") {
        reason = SECRET_NOT_SHOWN.to_owned();
    }
    if let Some(location) = inner.location() {
        let mark = format!(" at line {} column {}", location.line(), location.column());
        if let Some(stripped) = reason.strip_suffix(&mark) {
            reason = stripped.to_owned();
        }
        reason = strip_yaml_path(&reason, &path).to_owned();
        reason = format!(
            "{reason} (line {}, column {})",
            location.line(),
            location.column()
        );
    } else {
        reason = strip_yaml_path(&reason, &path).to_owned();
    }
    LoadError::Parse { path, reason }
}

/// The YAML parser prefixes its messages with its own path, which is `path` or one of its ancestors
/// (for an unknown key it names the object); the error carries the precise path separately.
fn strip_yaml_path<'a>(reason: &'a str, path: &str) -> &'a str {
    let mut candidate = path;
    loop {
        if let Some(stripped) = reason
            .strip_prefix(candidate)
            .and_then(|rest| rest.strip_prefix(": "))
        {
            return stripped;
        }
        match candidate.rfind(['.', '[']) {
            Some(cut) if cut > 0 => candidate = &candidate[..cut],
            _ => return reason,
        }
    }
}

/// Reads and parses a definitions file.
pub fn load_file(path: &Path) -> Result<Definitions, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    from_yaml(&text)
}
