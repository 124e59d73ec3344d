//! What AWS does around the functions, locally: SNS delivers each message of the topic to every
//! function as an asynchronous invocation (here: moto's topic posts to an HTTP subscription, which
//! queues one invocation per function); Lambda runs invocations concurrently, retries a failed one
//! twice after a delay (`MaximumRetryAttempts: 2`), then sends its record to the on-failure
//! destination (an SQS queue in moto) in Lambda's own format.
//!
//! The functions are the real pipelines, as `notify_core::build_pipeline` builds them for Lambda;
//! the delays are shorter than Lambda's (one and two minutes).

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use alert_model::IntegrationKind;
use notify_core::{EventHandler, HandlerError};
use serde::Serialize;
use serde_json::{Value, json};
use test_support::sns;
use tokio::sync::{Mutex, Notify, mpsc};

use super::http::{self, Answer, Server};

/// How the local Lambda service behaves.
#[derive(Debug, Clone, Copy)]
pub struct LambdaSettings {
    /// Invocations of one function running at once (its concurrency).
    pub concurrency: usize,
    /// The function timeout: each invocation's deadline.
    pub timeout: Duration,
    /// The waits before the two retries of a failed invocation.
    pub retry_delays: [Duration; 2],
}

/// What the local Lambda service did.
#[derive(Debug, Default, Clone, Copy, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct InvocationCounts {
    /// SNS messages received from the topic.
    pub notifications: u64,
    /// Invocations run (first tries and retries).
    pub invocations: u64,
    /// Invocations that returned an error.
    pub failed: u64,
    /// Retries run.
    pub retries: u64,
    /// Records sent to the on-failure queue.
    pub to_on_failure_queue: u64,
}

struct Invocation {
    event: Arc<Value>,
    /// 1 for the first try, then 2 and 3.
    attempt: u32,
}

struct Counters {
    notifications: AtomicU64,
    invocations: AtomicU64,
    failed: AtomicU64,
    retries: AtomicU64,
    to_on_failure_queue: AtomicU64,
}

struct Deployed {
    kind: IntegrationKind,
    function: Box<dyn EventHandler>,
    queue: mpsc::UnboundedSender<Invocation>,
}

struct Shared {
    functions: Vec<Deployed>,
    settings: LambdaSettings,
    /// Invocations queued, running or waiting for a retry.
    outstanding: AtomicUsize,
    settled: Notify,
    counters: Counters,
    sqs: aws_sdk_sqs::Client,
    on_failure_queue: String,
}

/// The local Lambda service: functions, their invocations, retries and on-failure queue.
pub struct Lambda {
    shared: Arc<Shared>,
    subscription: Server,
}

impl std::fmt::Debug for Lambda {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lambda")
            .field("subscription", &self.subscription.address)
            .finish_non_exhaustive()
    }
}

impl Lambda {
    /// Deploys `functions` and listens for the topic's HTTP deliveries; failed events go to
    /// `on_failure_queue` (through `sqs`).
    pub async fn start(
        functions: Vec<(IntegrationKind, Box<dyn EventHandler>)>,
        settings: LambdaSettings,
        sqs: aws_sdk_sqs::Client,
        on_failure_queue: String,
    ) -> Result<Lambda, String> {
        let mut receivers = Vec::new();
        let deployed = functions
            .into_iter()
            .map(|(kind, function)| {
                let (queue, receiver) = mpsc::unbounded_channel();
                receivers.push(Arc::new(Mutex::new(receiver)));
                Deployed {
                    kind,
                    function,
                    queue,
                }
            })
            .collect();
        let shared = Arc::new(Shared {
            functions: deployed,
            settings,
            outstanding: AtomicUsize::new(0),
            settled: Notify::new(),
            counters: Counters {
                notifications: AtomicU64::new(0),
                invocations: AtomicU64::new(0),
                failed: AtomicU64::new(0),
                retries: AtomicU64::new(0),
                to_on_failure_queue: AtomicU64::new(0),
            },
            sqs,
            on_failure_queue,
        });
        for (index, receiver) in receivers.into_iter().enumerate() {
            for _ in 0..settings.concurrency.max(1) {
                tokio::spawn(worker(Arc::clone(&shared), index, Arc::clone(&receiver)));
            }
        }
        let endpoint_state = Arc::clone(&shared);
        let subscription = http::serve(move |request| {
            let shared = Arc::clone(&endpoint_state);
            async move {
                match serde_json::from_slice::<Value>(&request.body) {
                    Ok(notification) if notification["Type"] == "Notification" => {
                        shared.counters.notifications.fetch_add(1, Ordering::SeqCst);
                        deliver(&shared, lambda_event(&notification));
                        Answer::status(200, "")
                    }
                    // A subscription confirmation needs nothing from an endpoint moto trusts.
                    Ok(_) => Answer::status(200, ""),
                    Err(_) => Answer::status(400, "not an SNS notification"),
                }
            }
        })
        .await?;
        Ok(Lambda { shared, subscription })
    }

    /// The HTTP endpoint to subscribe to the topic.
    pub fn subscription_url(&self) -> String {
        self.subscription.url("/sns")
    }

    /// Invokes every function with `event` (as SNS does with a message of the topic).
    pub fn deliver(&self, event: Value) {
        deliver(&self.shared, event);
    }

    /// Waits until no invocation is queued, running or waiting for a retry.
    pub async fn settle(&self) {
        loop {
            let notified = self.shared.settled.notified();
            if self.shared.outstanding.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }

    /// What the service did so far.
    pub fn counts(&self) -> InvocationCounts {
        let c = &self.shared.counters;
        InvocationCounts {
            notifications: c.notifications.load(Ordering::SeqCst),
            invocations: c.invocations.load(Ordering::SeqCst),
            failed: c.failed.load(Ordering::SeqCst),
            retries: c.retries.load(Ordering::SeqCst),
            to_on_failure_queue: c.to_on_failure_queue.load(Ordering::SeqCst),
        }
    }
}

fn deliver(shared: &Shared, event: Value) {
    let event = Arc::new(event);
    for deployed in &shared.functions {
        shared.outstanding.fetch_add(1, Ordering::SeqCst);
        let invocation = Invocation {
            event: Arc::clone(&event),
            attempt: 1,
        };
        if deployed.queue.send(invocation).is_err() {
            done(shared);
        }
    }
}

fn done(shared: &Shared) {
    if shared.outstanding.fetch_sub(1, Ordering::SeqCst) == 1 {
        shared.settled.notify_waiters();
    }
}

async fn worker(
    shared: Arc<Shared>,
    index: usize,
    receiver: Arc<Mutex<mpsc::UnboundedReceiver<Invocation>>>,
) {
    loop {
        let Some(invocation) = receiver.lock().await.recv().await else {
            return;
        };
        let deployed = &shared.functions[index];
        shared.counters.invocations.fetch_add(1, Ordering::SeqCst);
        let deadline = Instant::now() + shared.settings.timeout;
        let result = deployed.function.handle(&invocation.event, deadline).await;
        let Err(error) = result else {
            done(&shared);
            continue;
        };
        shared.counters.failed.fetch_add(1, Ordering::SeqCst);
        let attempt = invocation.attempt;
        if let Some(delay) = shared.settings.retry_delays.get(attempt as usize - 1).copied() {
            // Lambda's asynchronous retry: the same event again, later.
            let shared = Arc::clone(&shared);
            tokio::spawn(async move {
                tokio::time::sleep(delay).await;
                shared.counters.retries.fetch_add(1, Ordering::SeqCst);
                let retry = Invocation {
                    event: invocation.event,
                    attempt: attempt + 1,
                };
                if shared.functions[index].queue.send(retry).is_err() {
                    done(&shared);
                }
            });
            continue;
        }
        let record = on_failure_record(deployed.kind, &invocation.event, attempt, &error);
        let sent = shared
            .sqs
            .send_message()
            .queue_url(&shared.on_failure_queue)
            .message_body(record.to_string())
            .send()
            .await;
        if sent.is_ok() {
            shared.counters.to_on_failure_queue.fetch_add(1, Ordering::SeqCst);
        }
        done(&shared);
    }
}

/// The SNS event Lambda gives a function for one notification of the topic.
pub fn lambda_event(notification: &Value) -> Value {
    let text = |key: &str| notification.get(key).and_then(Value::as_str).unwrap_or_default();
    let record = sns::Record::new(text("MessageId"), text("Message"))
        .subject(notification.get("Subject").and_then(Value::as_str))
        .topic_arn(text("TopicArn"))
        .timestamp(text("Timestamp"))
        .attributes(
            notification
                .get("MessageAttributes")
                .cloned()
                .unwrap_or_else(|| json!({})),
        );
    sns::event_of([record])
}

/// Lambda's on-failure destination record of an event whose retries are exhausted.
pub fn on_failure_record(
    kind: IntegrationKind,
    event: &Value,
    invocations: u32,
    error: &HandlerError,
) -> Value {
    json!({
        "version": "1.0",
        "timestamp": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "requestContext": {
            "requestId": uuid::Uuid::new_v4().to_string(),
            "functionArn": format!("arn:aws:lambda:us-east-1:123456789012:function:{}:$LATEST", kind.function_name()),
            "condition": "RetriesExhausted",
            "approximateInvokeCount": invocations,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorType": "Retryable", "errorMessage": error.to_string()},
    })
}
