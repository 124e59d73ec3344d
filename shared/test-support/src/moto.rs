//! The local AWS emulator: moto server, started by `scripts/local-stack.sh` (which `make test` runs).
//!
//! Tests that need it call [`sdk_config`]; when the emulator is not running they fail with a message
//! that says how to start it. They never skip silently.

use std::{
    path::PathBuf,
    sync::atomic::{AtomicU32, Ordering},
};

/// The emulator's URL: `TOCSIN_MOTO_URL`, else the one `scripts/local-stack.sh start` wrote to
/// `.tocsin/moto.url` at the workspace root.
pub fn endpoint() -> String {
    if let Ok(url) = std::env::var("TOCSIN_MOTO_URL") {
        return url;
    }
    let file = workspace_root().join(".tocsin/moto.url");
    match std::fs::read_to_string(&file) {
        Ok(url) => url.trim().to_owned(),
        Err(_) => panic!(
            "the local AWS emulator is not running: start it with `scripts/local-stack.sh start` \
             (or run `make test`), or set TOCSIN_MOTO_URL"
        ),
    }
}

/// An AWS SDK config pointing at the emulator, with dummy credentials and region `us-east-1`.
pub async fn sdk_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .endpoint_url(endpoint())
        .region(aws_config::Region::new("us-east-1"))
        .test_credentials()
        .load()
        .await
}

/// A queue in the emulator named after `prefix`: its URL and ARN.
pub async fn queue(sqs: &aws_sdk_sqs::Client, prefix: &str) -> (String, String) {
    let url = sqs
        .create_queue()
        .queue_name(unique(prefix))
        .send()
        .await
        .expect("create a queue in the emulator")
        .queue_url
        .expect("the new queue's URL");
    let arn = sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await
        .expect("read the queue's ARN")
        .attributes
        .and_then(|mut attributes| attributes.remove(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .expect("the queue's ARN");
    (url, arn)
}

/// A topic in the emulator with a queue subscribed to it, so that what is published can be read
/// back from the queue: the topic's ARN and the queue's URL.
pub async fn topic_with_queue(sdk: &aws_config::SdkConfig, prefix: &str) -> (String, String) {
    let sns = aws_sdk_sns::Client::new(sdk);
    let sqs = aws_sdk_sqs::Client::new(sdk);
    let topic_arn = sns
        .create_topic()
        .name(unique(prefix))
        .send()
        .await
        .expect("create a topic in the emulator")
        .topic_arn
        .expect("the new topic's ARN");
    let (queue_url, queue_arn) = queue(&sqs, &format!("{prefix}-copy")).await;
    sns.subscribe()
        .topic_arn(&topic_arn)
        .protocol("sqs")
        .endpoint(&queue_arn)
        .send()
        .await
        .expect("subscribe the queue to the topic");
    (topic_arn, queue_url)
}

/// The bodies of the messages waiting on a queue (one receive, waiting up to 2 s for the first).
pub async fn received(sqs: &aws_sdk_sqs::Client, queue_url: &str) -> Vec<String> {
    sqs.receive_message()
        .queue_url(queue_url)
        .wait_time_seconds(2)
        .send()
        .await
        .expect("receive from the queue")
        .messages
        .unwrap_or_default()
        .into_iter()
        .filter_map(|message| message.body)
        .collect()
}

/// A name no other test in this run uses (tables, topics, parameters share one emulator).
pub fn unique(prefix: &str) -> String {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// The workspace root (the folder holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    here.ancestors().nth(2).map(PathBuf::from).unwrap_or(here)
}
