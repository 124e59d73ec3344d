//! `tocsin-cli`: the `tocsin` command itself (`tocsin::main`), built in this package for the
//! end-to-end tests, which run it as a user does (`tests/it/redaction.rs`).

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tocsin::main().await
}
