use std::process::ExitCode;

/// Why a command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// The definitions file could not be loaded.
    #[error(transparent)]
    Load(#[from] definition_store::LoadError),
    /// The definitions are invalid; every issue was printed.
    #[error("{0} problem(s) in the definitions")]
    Invalid(usize),
    /// A file could not be read.
    #[error("cannot read `{path}`: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The command's input is not usable.
    #[error("{0}")]
    Input(String),
    /// The command refused to go on without an explicit flag or confirmation; nothing was changed.
    #[error("{0}")]
    Refused(String),
    /// An AWS call or store operation failed.
    #[error("{0}")]
    Aws(String),
    /// Messages were not delivered (`tocsin test`); every attempt was printed.
    #[error("{0}")]
    Undelivered(String),
}

impl CliError {
    /// 2 for invalid input or definitions and for a refusal, 1 for everything else.
    pub fn exit_code(&self) -> ExitCode {
        match self {
            CliError::Load(_)
            | CliError::Invalid(_)
            | CliError::Input(_)
            | CliError::Refused(_)
            | CliError::Read { .. } => ExitCode::from(2),
            CliError::Aws(_) | CliError::Undelivered(_) => ExitCode::from(1),
        }
    }
}
