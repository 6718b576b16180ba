//! One JSON object per event, per line.

use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::core::events::EventRef;
use crate::core::sink::EventSink;

/// Writes every event as one JSON object per line.
///
/// Write errors are counted in [`JsonLogSink::write_errors`] and otherwise
/// ignored: logging must never fail a request.
pub struct JsonLogSink {
    out: Mutex<Box<dyn Write + Send>>,
    write_errors: AtomicU64,
}

impl fmt::Debug for JsonLogSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonLogSink")
            .field("write_errors", &self.write_errors())
            .finish()
    }
}

impl JsonLogSink {
    /// Logs to standard error.
    pub fn stderr() -> Self {
        Self::to_writer(std::io::stderr())
    }
    /// Logs to standard output.
    pub fn stdout() -> Self {
        Self::to_writer(std::io::stdout())
    }
    /// Logs to any writer.
    ///
    /// ```
    /// use telemetry_runtime::sink::JsonLogSink;
    /// let sink = JsonLogSink::to_writer(Vec::<u8>::new());
    /// # let _ = sink;
    /// ```
    pub fn to_writer(w: impl Write + Send + 'static) -> Self {
        JsonLogSink {
            out: Mutex::new(Box::new(w)),
            write_errors: AtomicU64::new(0),
        }
    }
    /// Lines that could not be written.
    pub fn write_errors(&self) -> u64 {
        self.write_errors.load(Ordering::Relaxed)
    }
}

impl EventSink for JsonLogSink {
    fn name(&self) -> &'static str {
        "json_log"
    }
    fn on_event(&self, event: EventRef<'_>) {
        let line = match event.to_json() {
            Ok(line) => line,
            Err(_) => {
                self.write_errors.fetch_add(1, Ordering::Relaxed);
                return;
            }
        };
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if writeln!(out, "{line}").is_err() {
            self.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn flush(&self) {
        let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
        if out.flush().is_err() {
            self.write_errors.fetch_add(1, Ordering::Relaxed);
        }
    }
}
