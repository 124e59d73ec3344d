//! Captures log lines in a test, to assert on them (fields present, no secret).

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

/// Everything logged while the guard of [`capture`] lives, as JSON lines with span fields.
#[derive(Debug, Clone, Default)]
pub struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    /// The captured text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().expect("log buffer")).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Captures the current thread's logs at every level until the guard drops. Use it in a
/// current-thread runtime (`#[tokio::test]`'s default), where every task runs on this thread.
pub fn capture() -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .json()
        .with_current_span(true)
        .with_span_list(true)
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

/// Captures the current thread's logs as `subscriber` writes them into the [`Logs`] it is given
/// (e.g. the functions' own subscriber, with their filters), until the guard drops.
pub fn capture_with<D: Into<tracing::Dispatch>>(
    subscriber: impl FnOnce(Logs) -> D,
) -> (Logs, tracing::subscriber::DefaultGuard) {
    let logs = Logs::default();
    let dispatch = subscriber(logs.clone()).into();
    (logs, tracing::dispatcher::set_default(&dispatch))
}
