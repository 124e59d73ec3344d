//! One module per command.

mod apply;
mod demo;
mod local;
mod log;
mod presets;
mod publish;
mod render;
pub(crate) mod replay;
mod serve;
mod test;
mod validate;

use crate::{
    CliError,
    args::{AlertTypeArg, Args, Command},
};

/// Runs the parsed command.
pub(crate) async fn run(args: Args) -> Result<(), CliError> {
    match args.command {
        Command::Validate { file } => validate::run(&file),
        Command::Apply {
            file,
            table,
            create_table,
            allow_empty,
            dry_run,
            yes,
        } => {
            apply::run(&apply::Apply {
                file: &file,
                table,
                create_table,
                allow_empty,
                dry_run,
                yes,
            })
            .await
        }
        Command::Render {
            file,
            alert,
            integration,
            alert_type,
        } => render::run(&file, &alert, integration.as_deref(), alert_type).await,
        Command::Test {
            file,
            integration,
            alert,
            alert_type,
            to,
        } => {
            test::run(&test::TestSend {
                file: &file,
                integration: &integration,
                alert: alert.as_deref(),
                alert_type: alert_type.map(AlertTypeArg::alert_type),
                to: &to,
            })
            .await
        }
        Command::Presets => {
            presets::run();
            Ok(())
        }
        Command::Publish {
            alert,
            topic_arn,
            subject,
        } => publish::run(&alert, topic_arn, subject).await,
        Command::Log { alert, table, json } => log::run(&alert, table, json).await,
        Command::Replay {
            queue_url,
            topic_arn,
            max,
            dry_run,
            json,
        } => replay::run(queue_url, topic_arn, max, dry_run, json).await,
        Command::LocalSetup { file } => demo::local_setup(&file).await,
        Command::Demo { file, alerts } => demo::run(&file, &alerts).await,
    }
}

/// Reads a whole file, naming it on failure.
pub(crate) fn read(path: &std::path::Path) -> Result<String, CliError> {
    std::fs::read_to_string(path).map_err(|source| CliError::Read {
        path: path.display().to_string(),
        source,
    })
}
