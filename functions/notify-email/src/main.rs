#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    notify_core::run(|init| {
        Ok(notify_email::EmailNotifier::new(
            init,
            std::env::var("TOCSIN_EMAIL_FROM").ok(),
        ))
    })
    .await
}
