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
pub fn from_yaml(text: &str) -> Result<Definitions, LoadError> {
    let _ = text;
    Err(LoadError::Parse {
        path: "$".to_owned(),
        reason: "not implemented yet".to_owned(),
    })
}

/// Reads and parses a definitions file.
pub fn load_file(path: &Path) -> Result<Definitions, LoadError> {
    let text = std::fs::read_to_string(path).map_err(|source| LoadError::Read {
        path: path.display().to_string(),
        source,
    })?;
    from_yaml(&text)
}
