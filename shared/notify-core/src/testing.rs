//! Helpers for the tests of notifier crates (feature `testing`; enable it in `[dev-dependencies]`):
//! run one event through a pipeline and collect everything it printed, to prove that no secret
//! leaks (DESIGN.md §7, STYLE rule 14).
//!
//! ```ignore
//! let pipeline = Pipeline::new(notifier, MemoryStore::new(definitions),
//!     MemorySecrets::new().with("ssm:/tocsin/key", "sekrit"), MemoryDeliveryLog::default(), Settings::default());
//! let captured = notify_core::testing::capture(&pipeline, &event).await; // target made to fail
//! captured.assert_no_leak("sekrit");
//! ```

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use definition_store::DefinitionSource;

use crate::{DeliveryRecord, EventReport, HandlerError, MemoryDeliveryLog, Notifier, Pipeline, Secrets};

/// What one event produced: the outcome, the log lines (JSON, span fields included) and the
/// delivery records.
#[derive(Debug)]
pub struct Captured {
    /// The invocation's outcome.
    pub result: Result<EventReport, HandlerError>,
    /// Every log line emitted while handling the event.
    pub logs: String,
    /// Every delivery record in the log.
    pub records: Vec<DeliveryRecord>,
}

impl Captured {
    /// Every output in printable form: the outcome (`Display` and `Debug`), the logs, the records
    /// (`Debug` and JSON).
    pub fn outputs(&self) -> Vec<String> {
        let mut outputs = match &self.result {
            Ok(report) => vec![format!("{report:?}")],
            Err(error) => vec![error.to_string(), format!("{error:?}")],
        };
        outputs.push(self.logs.clone());
        for record in &self.records {
            outputs.push(format!("{record:?}"));
            outputs.push(serde_json::to_string(record).unwrap_or_default());
        }
        outputs
    }

    /// Panics, naming the output, if `secret` appears in any output.
    pub fn assert_no_leak(&self, secret: &str) {
        assert!(!secret.is_empty(), "an empty secret cannot be checked");
        for output in self.outputs() {
            assert!(!output.contains(secret), "secret leaked in: {output}");
        }
    }
}

#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);

impl Write for Buffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Handles `event` with a 30 s deadline while capturing this thread's logs at every level. Use it
/// on a current-thread runtime (`#[tokio::test]`'s default) so that every log line is captured.
pub async fn capture<N, D, S>(
    pipeline: &Pipeline<N, D, S, MemoryDeliveryLog>,
    event: &serde_json::Value,
) -> Captured
where
    N: Notifier,
    D: DefinitionSource,
    S: Secrets,
{
    let buffer = Buffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let guard = tracing::subscriber::set_default(subscriber);
    let result = pipeline
        .handle_event(event, Instant::now() + Duration::from_secs(30))
        .await;
    drop(guard);
    let logs = String::from_utf8_lossy(&buffer.0.lock().unwrap_or_else(|poisoned| poisoned.into_inner()))
        .into_owned();
    Captured {
        result,
        logs,
        records: pipeline.deliveries().records(),
    }
}
