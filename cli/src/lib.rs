//! The `tocsin` command: validate, apply, render, test, publish, log, replay, demo.
//!
//! [`replay`] is also a library function, for tools that drain the on-failure queue themselves.
//!
//! Every command talks to AWS through the standard configuration chain, so `AWS_ENDPOINT_URL`
//! points it at the local emulator. Output meant for programs goes to stdout (one JSON object per
//! line where it says so); diagnostics go to stderr.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod args;
mod aws;
mod commands;
mod error;

use std::process::ExitCode;

use clap::Parser;

pub use commands::replay::{ReplayOptions, ReplayReport, ReplayedMessage, replay};
pub use error::CliError;

/// Parses the command line, runs the command, and maps its outcome to an exit code.
pub async fn main() -> ExitCode {
    let args = args::Args::parse();
    match commands::run(args).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err}");
            err.exit_code()
        }
    }
}
