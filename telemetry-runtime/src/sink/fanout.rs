//! Fan-out to several sinks, each isolated from the others' panics.

use std::fmt;

use crate::core::dispatch::guarded;
use crate::core::events::EventRef;
use crate::core::sink::{deliver, EventSink};

/// Fans every event out to several sinks, each isolated from the others'
/// panics.
///
/// ```
/// use telemetry_runtime::sink::{FanoutSink, RecordingSink, JsonLogSink};
/// let fanout = FanoutSink::new()
///     .with(RecordingSink::new())
///     .with(JsonLogSink::stderr());
/// assert_eq!(fanout.len(), 2);
/// ```
#[derive(Default)]
pub struct FanoutSink {
    sinks: Vec<Box<dyn EventSink>>,
}

impl fmt::Debug for FanoutSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.sinks.iter().map(|s| s.name()))
            .finish()
    }
}

impl FanoutSink {
    /// An empty fan-out.
    pub fn new() -> Self {
        Self::default()
    }
    /// Adds a sink.
    pub fn with(mut self, sink: impl EventSink) -> Self {
        self.sinks.push(Box::new(sink));
        self
    }
    /// Adds a boxed sink.
    pub fn push(&mut self, sink: Box<dyn EventSink>) {
        self.sinks.push(sink);
    }
    /// Number of sinks.
    pub fn len(&self) -> usize {
        self.sinks.len()
    }
    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.sinks.is_empty()
    }
}

impl EventSink for FanoutSink {
    fn name(&self) -> &'static str {
        "fanout"
    }
    fn on_event(&self, event: EventRef<'_>) {
        for sink in &self.sinks {
            guarded(&**sink, |s| deliver(s, event));
        }
    }
    fn flush(&self) {
        for sink in &self.sinks {
            guarded(&**sink, |s| s.flush());
        }
    }
}
