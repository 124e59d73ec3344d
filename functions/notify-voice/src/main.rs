// The runner's future nests deeply (SDK clients inside the Lambda service); rustc's default limit is 128.
#![recursion_limit = "256"]

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    notify_core::run(notify_voice::VoiceNotifier::new).await
}
