//! The YAML file humans write.

use std::{io::Read, path::Path};

use crate::{Definitions, escape::escape_controls, nesting};

/// The largest definitions file or text accepted, in bytes (1 MiB): 200 times the sample definitions
/// (thousands of operators, hundreds of integrations with their templates). The parser keeps every
/// event of a document in memory, up to about 240 bytes per byte of text: a 1 MiB file of 14,000
/// operators loads in about 0.4 s and 45 MB (release build), the costliest text within both limits
/// (brackets nested to the depth limit, line after line) in about 1.3 s and 250 MB.
pub const MAX_DEFINITIONS_BYTES: usize = 1024 * 1024;

/// The deepest nesting accepted: collections inside collections, the document's own mapping being
/// level 1. The deepest valid definitions nest 9 levels
/// (`alertDefinitions[].levels[].integrations[].serviceLinks[]`); anything far deeper is an attack
/// or an accident, and libyaml takes time quadratic in the depth of brackets.
pub const MAX_DEPTH: usize = 32;

/// A definitions file that could not be read or parsed.
///
/// The message names the path of the offending value and, where the parser knows it, its line and
/// column; text from the file in it has its control characters escaped (a line break in a key cannot
/// forge a line of output).
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file could not be read.
    #[error("cannot read `{}`: {source}", escape_controls(.path))]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file or text is larger than [`MAX_DEFINITIONS_BYTES`]; nothing of it was parsed.
    #[error(
        "{}: larger than the limit of {limit} bytes for definitions (1 MiB)",
        escape_controls(.path)
    )]
    TooLarge {
        /// The file, or `$` for a text.
        path: String,
        /// [`MAX_DEFINITIONS_BYTES`].
        limit: usize,
    },
    /// The text nests collections deeper than [`MAX_DEPTH`]; it was refused before parsing.
    #[error("$: nesting deeper than the limit of {limit} levels (line {line}, column {column})")]
    TooDeep {
        /// Where the first collection beyond the limit opens (1-based).
        line: usize,
        /// Its column, in characters (1-based).
        column: usize,
        /// [`MAX_DEPTH`].
        limit: usize,
    },
    /// The text is not valid YAML or does not fit the model.
    #[error("{}: {}", escape_controls(.path), escape_controls(.reason))]
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
///
/// A text larger than [`MAX_DEFINITIONS_BYTES`] or nesting deeper than [`MAX_DEPTH`] is refused before
/// it is parsed ([`LoadError::TooLarge`], [`LoadError::TooDeep`]), in time linear in its size.
pub fn from_yaml(text: &str) -> Result<Definitions, LoadError> {
    if text.len() > MAX_DEFINITIONS_BYTES {
        return Err(LoadError::TooLarge {
            path: "$".to_owned(),
            limit: MAX_DEFINITIONS_BYTES,
        });
    }
    nesting::check(text, MAX_DEPTH).map_err(|at| LoadError::TooDeep {
        line: at.line,
        column: at.column,
        limit: MAX_DEPTH,
    })?;
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

/// Reads and parses a definitions file; reads no more than [`MAX_DEFINITIONS_BYTES`] and one byte of
/// it (a larger file is refused without being read whole).
pub fn load_file(path: &Path) -> Result<Definitions, LoadError> {
    let read_error = |source| LoadError::Read {
        path: path.display().to_string(),
        source,
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut bytes = Vec::new();
    file.take(MAX_DEFINITIONS_BYTES as u64 + 1)
        .read_to_end(&mut bytes)
        .map_err(read_error)?;
    if bytes.len() > MAX_DEFINITIONS_BYTES {
        return Err(LoadError::TooLarge {
            path: path.display().to_string(),
            limit: MAX_DEFINITIONS_BYTES,
        });
    }
    let text = String::from_utf8(bytes)
        .map_err(|error| read_error(std::io::Error::new(std::io::ErrorKind::InvalidData, error)))?;
    from_yaml(&text)
}
