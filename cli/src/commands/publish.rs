//! `tocsin publish --alert FILE`

use std::path::Path;

use crate::{CliError, aws, commands::read};

pub(crate) async fn run(
    file: &Path,
    topic_arn: Option<String>,
    subject: Option<String>,
) -> Result<(), CliError> {
    let message = read(file)?;
    let sdk = aws::sdk_config().await;
    let client = aws_sdk_sns::Client::new(&sdk);
    let topic_arn = self::topic_arn(&sdk, topic_arn).await?;
    let output = client
        .publish()
        .topic_arn(&topic_arn)
        .message(message)
        .set_subject(subject)
        .send()
        .await
        .map_err(|err| {
            CliError::Aws(format!(
                "sns Publish to `{topic_arn}` failed: {}",
                aws_error(&err)
            ))
        })?;
    println!("{}", output.message_id.unwrap_or_default());
    Ok(())
}

/// `explicit`, else `$TOCSIN_TOPIC_ARN`, else the topic named `alerts`.
pub(crate) async fn topic_arn(
    sdk: &aws_config::SdkConfig,
    explicit: Option<String>,
) -> Result<String, CliError> {
    match explicit.or_else(|| {
        std::env::var("TOCSIN_TOPIC_ARN")
            .ok()
            .filter(|arn| !arn.is_empty())
    }) {
        Some(arn) => Ok(arn),
        // CreateTopic is idempotent and returns the existing topic's ARN.
        None => aws_sdk_sns::Client::new(sdk)
            .create_topic()
            .name("alerts")
            .send()
            .await
            .map_err(|err| CliError::Aws(format!("sns CreateTopic failed: {}", aws_error(&err))))?
            .topic_arn
            .ok_or_else(|| CliError::Aws("sns CreateTopic returned no topic ARN".to_owned())),
    }
}

/// The SDK error with its source chain, on one line.
pub(crate) fn aws_error(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
