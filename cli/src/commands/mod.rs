//! One module per command.

mod apply;
mod publish;
mod serve;
mod validate;

use crate::{
    CliError,
    args::{Args, Command},
};

/// Runs the parsed command.
pub(crate) async fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        Command::Validate { file } => validate::run(&file),
        Command::Apply {
            file,
            table,
            create_table,
        } => apply::run(&file, table, create_table).await,
        Command::Publish {
            alert,
            topic_arn,
            subject,
        } => publish::run(&alert, topic_arn, subject).await,
        Command::Render { .. } | Command::Log { .. } | Command::Demo { .. } => {
            Err(CliError::Input("not available yet".to_owned()))
        }
    }
}

/// Reads a whole file, naming it on failure.
pub(crate) fn read(path: &std::path::Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })
}
