//! Event sinks: where events go.
//!
//! [`EventSink`] has one callback per event kind; each defaults to
//! [`EventSink::on_event`], which defaults to doing nothing, so a sink
//! implements exactly what it cares about. Built in: [`FanoutSink`] (composite),
//! [`HostFilterSink`], [`SamplingSink`], [`JsonLogSink`] and [`RecordingSink`].
//!
//! Every call into a sink goes through [`crate::dispatch`], which catches
//! panics: a panicking sink is counted in `telemetry_sink_panics_total` and the
//! other sinks (and the request) carry on.

use std::collections::HashSet;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use crate::events::*;

/// Receives events. Every callback is optional.
///
/// ```
/// use telemetry_runtime::events::{EventRef, ResponseEvent};
/// use telemetry_runtime::sink::EventSink;
/// use std::sync::atomic::{AtomicU64, Ordering};
///
/// #[derive(Default)]
/// struct CountServerErrors(AtomicU64);
/// impl EventSink for CountServerErrors {
///     fn name(&self) -> &'static str { "count_5xx" }
///     fn on_response(&self, e: &ResponseEvent) {
///         if e.status >= 500 { self.0.fetch_add(1, Ordering::Relaxed); }
///     }
/// }
/// ```
pub trait EventSink: Send + Sync + 'static {
    /// The `sink` label value of this sink's self-metrics. Keep it short and
    /// constant: it is a label.
    fn name(&self) -> &'static str;

    /// Fallback for every kind not overridden below.
    fn on_event(&self, event: EventRef<'_>) {
        let _ = event;
    }
    /// A wire attempt is about to be sent.
    fn on_request(&self, event: &RequestEvent) {
        self.on_event(EventRef::Request(event))
    }
    /// A wire attempt got a response.
    fn on_response(&self, event: &ResponseEvent) {
        self.on_event(EventRef::Response(event))
    }
    /// A wire attempt failed without a response.
    fn on_error(&self, event: &ErrorEvent) {
        self.on_event(EventRef::Error(event))
    }
    /// An attempt will be retried.
    fn on_retry(&self, event: &RetryEvent) {
        self.on_event(EventRef::Retry(event))
    }
    /// The client sleeps before retrying.
    fn on_backoff(&self, event: &BackoffEvent) {
        self.on_event(EventRef::Backoff(event))
    }
    /// The rate limiter answered.
    fn on_rate_limit(&self, event: &RateLimitEvent) {
        self.on_event(EventRef::RateLimit(event))
    }
    /// A circuit breaker changed state.
    fn on_breaker_transition(&self, event: &BreakerTransitionEvent) {
        self.on_event(EventRef::BreakerTransition(event))
    }
    /// A fallback source was tried.
    fn on_fallback(&self, event: &FallbackEvent) {
        self.on_event(EventRef::Fallback(event))
    }
    /// An adapter's own event.
    fn on_custom(&self, event: &CustomEventRecord<'_>) {
        self.on_event(EventRef::Custom(event))
    }
    /// Flush buffered output (called on shutdown).
    fn flush(&self) {}
}

/// Delivers `event` to the callback of its kind.
pub fn deliver(sink: &dyn EventSink, event: EventRef<'_>) {
    match event {
        EventRef::Request(e) => sink.on_request(e),
        EventRef::Response(e) => sink.on_response(e),
        EventRef::Error(e) => sink.on_error(e),
        EventRef::Retry(e) => sink.on_retry(e),
        EventRef::Backoff(e) => sink.on_backoff(e),
        EventRef::RateLimit(e) => sink.on_rate_limit(e),
        EventRef::BreakerTransition(e) => sink.on_breaker_transition(e),
        EventRef::Fallback(e) => sink.on_fallback(e),
        EventRef::Custom(e) => sink.on_custom(e),
    }
}

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
            crate::dispatch::guarded(&**sink, |s| deliver(s, event));
        }
    }
    fn flush(&self) {
        for sink in &self.sinks {
            crate::dispatch::guarded(&**sink, |s| s.flush());
        }
    }
}

/// Passes on only events whose host label is (or is not) in a set.
///
/// ```
/// use telemetry_runtime::sink::{HostFilterSink, RecordingSink};
/// let only_api = HostFilterSink::allow(["api.example.com"], RecordingSink::new());
/// let not_health = HostFilterSink::deny(["health.internal"], RecordingSink::new());
/// # let _ = (only_api, not_health);
/// ```
pub struct HostFilterSink<S> {
    hosts: HashSet<String>,
    allow: bool,
    inner: S,
}

impl<S: EventSink> fmt::Debug for HostFilterSink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFilterSink")
            .field("hosts", &self.hosts)
            .field("allow", &self.allow)
            .field("inner", &self.inner.name())
            .finish()
    }
}

impl<S: EventSink> HostFilterSink<S> {
    /// Passes events of these hosts only (compared with the normalised label,
    /// so give hosts lowercase, without default ports).
    pub fn allow<I: IntoIterator<Item = H>, H: Into<String>>(hosts: I, inner: S) -> Self {
        HostFilterSink {
            hosts: hosts.into_iter().map(Into::into).collect(),
            allow: true,
            inner,
        }
    }
    /// Passes every event except those of these hosts.
    pub fn deny<I: IntoIterator<Item = H>, H: Into<String>>(hosts: I, inner: S) -> Self {
        HostFilterSink {
            hosts: hosts.into_iter().map(Into::into).collect(),
            allow: false,
            inner,
        }
    }
}

impl<S: EventSink> EventSink for HostFilterSink<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn on_event(&self, event: EventRef<'_>) {
        let listed = self.hosts.contains(event.meta().host.as_str());
        if listed == self.allow {
            deliver(&self.inner, event);
        }
    }
    fn flush(&self) {
        self.inner.flush()
    }
}

/// Keeps a fraction of logical requests, deterministically by correlation id,
/// so a kept request keeps all its events (request, retries, response).
/// Breaker transitions are always kept: they are rare and matter.
///
/// ```
/// use telemetry_runtime::sink::{SamplingSink, RecordingSink};
/// let one_in_ten = SamplingSink::new(0.1, RecordingSink::new());
/// # let _ = one_in_ten;
/// ```
pub struct SamplingSink<S> {
    threshold: u64,
    inner: S,
}

impl<S: EventSink> fmt::Debug for SamplingSink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SamplingSink")
            .field("ratio", &(self.threshold as f64 / u64::MAX as f64))
            .field("inner", &self.inner.name())
            .finish()
    }
}

impl<S: EventSink> SamplingSink<S> {
    /// Keeps `ratio` (clamped to `0.0..=1.0`; NaN keeps nothing) of requests.
    pub fn new(ratio: f64, inner: S) -> Self {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        let threshold = if ratio >= 1.0 {
            u64::MAX
        } else {
            (ratio * u64::MAX as f64) as u64
        };
        SamplingSink { threshold, inner }
    }

    fn keeps(&self, id: CorrelationId) -> bool {
        // Correlation ids are already well mixed; compare directly.
        self.threshold == u64::MAX || id.0 < self.threshold
    }
}

impl<S: EventSink> EventSink for SamplingSink<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn on_event(&self, event: EventRef<'_>) {
        if matches!(event, EventRef::BreakerTransition(_))
            || self.keeps(event.meta().correlation_id)
        {
            deliver(&self.inner, event);
        }
    }
    fn flush(&self) {
        self.inner.flush()
    }
}

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

/// An owned copy of an event, as [`RecordingSink`] keeps it.
#[derive(Debug, Clone)]
#[allow(missing_docs)]
pub enum RecordedEvent {
    Request(RequestEvent),
    Response(ResponseEvent),
    Error(ErrorEvent),
    Retry(RetryEvent),
    Backoff(BackoffEvent),
    RateLimit(RateLimitEvent),
    BreakerTransition(BreakerTransitionEvent),
    Fallback(FallbackEvent),
    /// A custom event: its name, labels and JSON payload.
    Custom {
        meta: EventMeta,
        name: &'static str,
        labels: Vec<(&'static str, String)>,
        payload: serde_json::Value,
    },
}

impl RecordedEvent {
    /// The kind name (`request`, `retry`, ..., or the custom event's name).
    pub fn kind(&self) -> &'static str {
        match self {
            RecordedEvent::Request(_) => RequestEvent::KIND,
            RecordedEvent::Response(_) => ResponseEvent::KIND,
            RecordedEvent::Error(_) => ErrorEvent::KIND,
            RecordedEvent::Retry(_) => RetryEvent::KIND,
            RecordedEvent::Backoff(_) => BackoffEvent::KIND,
            RecordedEvent::RateLimit(_) => RateLimitEvent::KIND,
            RecordedEvent::BreakerTransition(_) => BreakerTransitionEvent::KIND,
            RecordedEvent::Fallback(_) => FallbackEvent::KIND,
            RecordedEvent::Custom { name, .. } => name,
        }
    }
    /// The shared meta.
    pub fn meta(&self) -> &EventMeta {
        match self {
            RecordedEvent::Request(e) => &e.meta,
            RecordedEvent::Response(e) => &e.meta,
            RecordedEvent::Error(e) => &e.meta,
            RecordedEvent::Retry(e) => &e.meta,
            RecordedEvent::Backoff(e) => &e.meta,
            RecordedEvent::RateLimit(e) => &e.meta,
            RecordedEvent::BreakerTransition(e) => &e.meta,
            RecordedEvent::Fallback(e) => &e.meta,
            RecordedEvent::Custom { meta, .. } => meta,
        }
    }
}

/// Keeps every event in memory, in order: for tests that assert the exact
/// sequence of events. Clones share the same buffer.
///
/// ```
/// use telemetry_runtime::sink::RecordingSink;
/// let rec = RecordingSink::new();
/// assert!(rec.events().is_empty());
/// assert_eq!(rec.kinds(), Vec::<&str>::new());
/// ```
#[derive(Clone, Default)]
pub struct RecordingSink {
    events: std::sync::Arc<Mutex<Vec<RecordedEvent>>>,
}

impl fmt::Debug for RecordingSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingSink")
            .field("events", &self.lock().len())
            .finish()
    }
}

impl RecordingSink {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedEvent>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// A copy of everything recorded so far.
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.lock().clone()
    }
    /// The kinds recorded so far, in order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.lock().iter().map(RecordedEvent::kind).collect()
    }
    /// Takes everything recorded so far, leaving the recorder empty.
    pub fn take(&self) -> Vec<RecordedEvent> {
        std::mem::take(&mut *self.lock())
    }
}

impl EventSink for RecordingSink {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn on_event(&self, event: EventRef<'_>) {
        let owned = match event {
            EventRef::Request(e) => RecordedEvent::Request(e.clone()),
            EventRef::Response(e) => RecordedEvent::Response(e.clone()),
            EventRef::Error(e) => RecordedEvent::Error(e.clone()),
            EventRef::Retry(e) => RecordedEvent::Retry(e.clone()),
            EventRef::Backoff(e) => RecordedEvent::Backoff(e.clone()),
            EventRef::RateLimit(e) => RecordedEvent::RateLimit(e.clone()),
            EventRef::BreakerTransition(e) => RecordedEvent::BreakerTransition(e.clone()),
            EventRef::Fallback(e) => RecordedEvent::Fallback(e.clone()),
            EventRef::Custom(e) => RecordedEvent::Custom {
                meta: e.meta,
                name: e.event.name(),
                labels: {
                    let mut labels = Vec::new();
                    e.event
                        .visit_labels(&mut |k, v| labels.push((k, v.as_str().to_owned())));
                    labels
                },
                payload: serde_json::to_value(e.event.payload()).unwrap_or(serde_json::Value::Null),
            },
        };
        self.lock().push(owned);
    }
}
