#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    notify_core::run(notify_webhook::WebhookNotifier::new).await
}
