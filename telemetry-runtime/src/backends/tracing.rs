//! The tracing backend: structured JSON logs through tracing-subscriber, and
//! [`TracingSink`], which logs every lifecycle event as a structured
//! `tracing` event.
//!
//! The instrumented client opens a span per logical request and one per wire
//! attempt, with the OpenTelemetry HTTP fields (`http.request.method`,
//! `server.address`, `server.port`, redacted `url.full`,
//! `http.response.status_code`, `error.type`, `http.request.resend_count`) and
//! the `correlation_id`. The JSON layer here writes, for each log line, the
//! event's own fields at the top level plus the current span and the whole
//! span list, so every line inside a request carries its correlation id.
//!
//! ```
//! use telemetry_runtime::backends::tracing::json_subscriber;
//! let buf = std::sync::Arc::new(std::sync::Mutex::new(Vec::<u8>::new()));
//! let sink = buf.clone();
//! let subscriber = json_subscriber("info", move || WriteInto(sink.clone()));
//! tracing::subscriber::with_default(subscriber, || {
//!     let span = tracing::info_span!("http.request", correlation_id = "00000000000000ab");
//!     let _g = span.enter();
//!     tracing::info!(answer = 42, "hello");
//! });
//! let line = String::from_utf8(buf.lock().unwrap().clone()).unwrap();
//! let v: serde_json::Value = serde_json::from_str(line.trim()).unwrap();
//! assert_eq!(v["answer"], 42);
//! assert_eq!(v["span"]["correlation_id"], "00000000000000ab");
//!
//! struct WriteInto(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);
//! impl std::io::Write for WriteInto {
//!     fn write(&mut self, b: &[u8]) -> std::io::Result<usize> { self.0.lock().unwrap().extend_from_slice(b); Ok(b.len()) }
//!     fn flush(&mut self) -> std::io::Result<()> { Ok(()) }
//! }
//! ```

use tracing::{debug, info, warn, Level};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::core::events::*;
use crate::core::sink::EventSink;

/// The `target` of the events [`TracingSink`] logs (filter on it with
/// `RUST_LOG=telemetry_runtime::events=debug`).
pub const EVENT_TARGET: &str = "telemetry_runtime::events";

/// A JSON formatting layer writing to `writer`: one object per line, with
/// `timestamp`, `level`, `target`, the event's fields flattened, `span` (the
/// current span's fields) and `spans` (all enclosing spans).
pub fn json_layer<S, W>(writer: W) -> impl Layer<S> + Send + Sync + 'static
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt::layer()
        .json()
        .flatten_event(true)
        .with_current_span(true)
        .with_span_list(true)
        .with_target(true)
        .with_writer(writer)
}

/// A complete JSON-logging subscriber with an [`EnvFilter`] directive such as
/// `"info"` or `"info,telemetry_runtime::events=debug"` (an unparsable
/// directive falls back to `info`).
pub fn json_subscriber<W>(directives: &str, writer: W) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(directives).unwrap_or_else(|_| EnvFilter::new("info"));
    Registry::default().with(filter).with(json_layer(writer))
}

/// Installs JSON logs to standard error as the global subscriber, filtered by
/// `RUST_LOG` (default `info`). Fails if a global subscriber is already set.
///
/// ```no_run
/// telemetry_runtime::backends::tracing::init_json_logs().expect("no other subscriber");
/// tracing::info!("ready");
/// ```
pub fn init_json_logs() -> Result<(), tracing_subscriber::util::TryInitError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    Registry::default()
        .with(filter)
        .with(json_layer(std::io::stderr))
        .try_init()
}

/// Logs every lifecycle event as a structured `tracing` event on
/// [`EVENT_TARGET`], with the OpenTelemetry field names and the correlation id.
/// Failures (5xx, errors, breaker opening, rejected rate limits) log at
/// `WARN`, completed attempts, retries and fallbacks at `INFO`, the rest at
/// `DEBUG`.
///
/// ```
/// use telemetry_runtime::backends::tracing::TracingSink;
/// telemetry_runtime::dispatch::set_global_sink(TracingSink::new());
/// # telemetry_runtime::dispatch::clear_global_sink();
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct TracingSink;

impl TracingSink {
    /// A new sink.
    pub fn new() -> Self {
        TracingSink
    }
}

fn cid(m: &EventMeta) -> String {
    m.correlation_id.to_string()
}

impl EventSink for TracingSink {
    fn name(&self) -> &'static str {
        "tracing"
    }
    // One exhaustive match (no wildcard arm): a new event kind is a compile
    // error here until this backend says what it does with it.
    fn on_event(&self, event: EventRef<'_>) {
        match event {
            EventRef::Request(e) => self.log_request(e),
            EventRef::Response(e) => self.log_response(e),
            EventRef::Error(e) => self.log_error(e),
            EventRef::Retry(e) => self.log_retry(e),
            EventRef::Backoff(e) => self.log_backoff(e),
            EventRef::RateLimit(e) => self.log_rate_limit(e),
            EventRef::BreakerTransition(e) => self.log_breaker_transition(e),
            EventRef::Fallback(e) => self.log_fallback(e),
            EventRef::Custom(e) => self.log_custom(e),
            EventRef::Redirect(e) => self.log_redirect(e),
            EventRef::Body(e) => self.log_body(e),
        }
    }
}

impl TracingSink {
    fn log_request(&self, e: &RequestEvent) {
        debug!(target: EVENT_TARGET, event = RequestEvent::KIND, adapter = e.meta.adapter_name(),
            server.address = e.meta.host.as_str(), server.port = e.port,
            correlation_id = %cid(&e.meta), attempt = e.meta.attempt,
            http.request.resend_count = e.meta.resend_count(),
            http.request.method = e.method.as_str(), url.full = %e.url, "http request");
    }
    fn log_response(&self, e: &ResponseEvent) {
        macro_rules! log {
            ($lvl:expr) => {
                tracing::event!(target: EVENT_TARGET, $lvl, event = ResponseEvent::KIND,
                    adapter = e.meta.adapter_name(), server.address = e.meta.host.as_str(),
                    correlation_id = %cid(&e.meta), attempt = e.meta.attempt,
                    http.request.method = e.method.as_str(),
                    http.response.status_code = e.status,
                    duration_seconds = e.duration.as_secs_f64(),
                    http.response.body.size = e.body_size, "http response")
            };
        }
        if e.status >= 500 {
            log!(Level::WARN)
        } else {
            log!(Level::INFO)
        }
    }
    fn log_body(&self, e: &BodyEvent) {
        match e.error_type {
            None => {
                debug!(target: EVENT_TARGET, event = BodyEvent::KIND, adapter = e.meta.adapter_name(),
                server.address = e.meta.host.as_str(), correlation_id = %cid(&e.meta),
                attempt = e.meta.attempt, http.request.method = e.method.as_str(),
                http.response.status_code = e.status, http.response.body.size = e.size,
                duration_seconds = e.duration.as_secs_f64(), "http response body")
            }
            Some(t) => {
                warn!(target: EVENT_TARGET, event = BodyEvent::KIND, adapter = e.meta.adapter_name(),
                server.address = e.meta.host.as_str(), correlation_id = %cid(&e.meta),
                attempt = e.meta.attempt, http.request.method = e.method.as_str(),
                http.response.status_code = e.status, http.response.body.size = e.size,
                duration_seconds = e.duration.as_secs_f64(), error.type = t.as_str(),
                "http response body failed")
            }
        }
    }
    fn log_redirect(&self, e: &RedirectEvent) {
        debug!(target: EVENT_TARGET, event = RedirectEvent::KIND, adapter = e.meta.adapter_name(),
            server.address = e.meta.host.as_str(), correlation_id = %cid(&e.meta),
            attempt = e.meta.attempt, http.response.status_code = e.status,
            url.full = %e.location, hop = e.hop, "http redirect");
    }
    fn log_error(&self, e: &ErrorEvent) {
        warn!(target: EVENT_TARGET, event = ErrorEvent::KIND, adapter = e.meta.adapter_name(),
            server.address = e.meta.host.as_str(), correlation_id = %cid(&e.meta),
            attempt = e.meta.attempt, http.request.method = e.method.as_str(),
            error.type = e.error_type.as_str(), error.message = %e.message,
            duration_seconds = e.duration.as_secs_f64(), reached_wire = e.reached_wire,
            "http error");
    }
    fn log_retry(&self, e: &RetryEvent) {
        info!(target: EVENT_TARGET, event = RetryEvent::KIND, adapter = e.meta.adapter_name(),
            server.address = e.meta.host.as_str(), correlation_id = %cid(&e.meta),
            attempt = e.meta.attempt, reason = e.reason.as_str(),
            http.response.status_code = e.status, delay_seconds = e.delay.as_secs_f64(),
            delay_source = e.delay_source.as_str(), "http retry");
    }
    fn log_backoff(&self, e: &BackoffEvent) {
        debug!(target: EVENT_TARGET, event = BackoffEvent::KIND, adapter = e.meta.adapter_name(),
            server.address = e.meta.host.as_str(), correlation_id = %cid(&e.meta),
            attempt = e.meta.attempt, delay_seconds = e.delay.as_secs_f64(),
            source = e.source.as_str(), "http backoff");
    }
    fn log_rate_limit(&self, e: &RateLimitEvent) {
        macro_rules! log {
            ($lvl:expr) => {
                tracing::event!(target: EVENT_TARGET, $lvl, event = RateLimitEvent::KIND,
                    adapter = e.meta.adapter_name(), server.address = e.meta.host.as_str(),
                    correlation_id = %cid(&e.meta), attempt = e.meta.attempt,
                    outcome = e.outcome.as_str(), wait_seconds = e.wait.as_secs_f64(),
                    queue_depth = e.queue_depth, saturation = e.saturation, "rate limit")
            };
        }
        if e.outcome == RateLimitOutcome::Rejected {
            log!(Level::WARN)
        } else {
            log!(Level::DEBUG)
        }
    }
    fn log_breaker_transition(&self, e: &BreakerTransitionEvent) {
        macro_rules! log {
            ($lvl:expr) => {
                tracing::event!(target: EVENT_TARGET, $lvl, event = BreakerTransitionEvent::KIND,
                    adapter = e.meta.adapter_name(), server.address = e.meta.host.as_str(),
                    correlation_id = %cid(&e.meta), from = e.from.as_str(), to = e.to.as_str(),
                    reason = e.reason, "circuit breaker transition")
            };
        }
        if e.to == BreakerState::Open {
            log!(Level::WARN)
        } else {
            log!(Level::INFO)
        }
    }
    fn log_fallback(&self, e: &FallbackEvent) {
        info!(target: EVENT_TARGET, event = FallbackEvent::KIND, adapter = e.meta.adapter_name(),
            correlation_id = %cid(&e.meta), tier = e.tier, source = e.source,
            outcome = e.outcome.as_str(), reason = e.reason,
            elapsed_seconds = e.elapsed.as_secs_f64(), "fallback attempt");
    }
    fn log_custom(&self, e: &CustomEventRecord<'_>) {
        let fields = serde_json::to_string(e.event.payload()).unwrap_or_default();
        info!(target: EVENT_TARGET, event = e.event.name(), adapter = e.meta.adapter_name(),
            correlation_id = %cid(&e.meta), fields = %fields, "adapter event");
    }
}
