use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    tocsin::main().await
}
