//! The Prometheus backend: a sink that records the whole metric catalogue
//! from events, and the text exposition.
//!
//! Two stores, one exposition:
//!
//! - **Hot path** (`http_requests_total`, `http_request_duration_seconds`,
//!   `http_response_size_bytes`, `http_in_flight_requests`): lock-free atomic
//!   [`crate::instruments`] per bounded host, a few nanoseconds per request,
//!   rendered by this module straight into the output buffer.
//! - **Everything else** (retries, back-off, limiter, breaker, fallback): the
//!   `metrics` facade with handles registered once per bounded label value and
//!   cached, recorded into a private metrics-exporter-prometheus recorder whose
//!   histograms are real histograms (buckets set per metric) and whose upkeep
//!   runs on a background thread, so memory stays bounded without scrapes.
//!
//! [`render`] writes our families first, then the exporter's; the two never
//! share a family name, so every family has exactly one `# HELP`/`# TYPE`.
//!
//! ```
//! use telemetry_runtime::backends::prometheus::{render, PrometheusSink};
//! use telemetry_runtime::{dispatch, instrumented_adapter, InstrumentedAdapter};
//! use telemetry_runtime::events::*;
//! use std::time::Duration;
//!
//! #[instrumented_adapter(name = "doc_prom", hosts(cap = 4))]
//! struct Api {}
//!
//! Api::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
//! let host = Api::telemetry().hosts().intern("api.example.com");
//! let meta = EventMeta::new(Api::telemetry(), host, CorrelationId::next(), 1);
//! Api::telemetry().emit(EventRef::Response(&ResponseEvent {
//!     meta, method: HttpMethod::Get, status: 200,
//!     duration: Duration::from_millis(20), body_size: Some(512),
//! }));
//! Api::telemetry().emit(EventRef::Retry(&RetryEvent {
//!     meta, reason: RetryReason::Status, status: Some(503),
//!     delay: Duration::from_millis(100), delay_source: DelaySource::Policy,
//! }));
//! let text = render();
//! assert!(text.contains(r#"http_requests_total{adapter="doc_prom",host="api.example.com",method="GET",status="200"} 1"#));
//! assert!(text.contains(r#"http_retries_total{adapter="doc_prom",host="api.example.com",reason="status"} 1"#));
//! ```

/// Metric and label names in both naming modes (shared with the OTLP backend).
pub use super::names;

pub mod dashboard;
pub mod rules;

mod facade;
mod text;

pub(crate) use facade::AdapterHandles;

/// Text-format writers shared with the other exposition producers of this
/// crate (process metrics).
#[cfg(feature = "process")]
pub(crate) mod text_support {
    pub(crate) use super::text::{header, sample_f64, sample_u64};
}

use std::fmt;
use std::sync::atomic::Ordering;
use std::time::Duration;

pub use text::{escape_label, status_label};

use crate::events::{
    BackoffEvent, BreakerState, BreakerTransitionEvent, ErrorEvent, ErrorType, FallbackEvent,
    RateLimitEvent, RequestEvent, ResponseEvent, RetryEvent,
};
use crate::instruments::{DURATION_BUCKETS_SECONDS, ERROR_STATUS_BASE};
use crate::labels::LabelValue;
use crate::manifest::Naming;
use crate::sink::EventSink;
use crate::telemetry::{registered_adapters, AdapterTelemetry};
use names::Family;

/// Exporter settings, applied once with [`configure`] before the first event.
///
/// ```
/// use telemetry_runtime::backends::prometheus::PrometheusOptions;
/// let opts = PrometheusOptions::default()
///     .with_buckets("http_backoff_duration_seconds", vec![0.1, 1.0, 10.0]);
/// assert!(opts.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct PrometheusOptions {
    /// Overrides every adapter's `naming` (its manifest's otherwise).
    pub naming: Option<Naming>,
    /// Bucket bounds per facade histogram, by any of its names (Prometheus
    /// name, OpenTelemetry name, or its Prometheus translation).
    pub buckets: Vec<(String, Vec<f64>)>,
    /// How often the exporter's upkeep folds buffered histogram samples into
    /// buckets (default 5 s). Bounds the memory held between scrapes.
    pub upkeep_interval: Duration,
}

impl Default for PrometheusOptions {
    fn default() -> Self {
        PrometheusOptions {
            naming: None,
            buckets: Vec::new(),
            upkeep_interval: Duration::from_secs(5),
        }
    }
}

impl PrometheusOptions {
    /// Sets the buckets of one histogram.
    pub fn with_buckets(mut self, metric: impl Into<String>, bounds: Vec<f64>) -> Self {
        self.buckets.push((metric.into(), bounds));
        self
    }

    /// Checks metric names and bucket lists.
    pub fn validate(&self) -> Result<(), PrometheusError> {
        for (name, bounds) in &self.buckets {
            let family = Family::ALL.iter().copied().find(|f| {
                f.prometheus_name() == name
                    || f.otel_prometheus_name() == name
                    || f.otel_name() == name
            });
            match family {
                None => return Err(PrometheusError::UnknownMetric(name.clone())),
                Some(f) if f.kind() != names::Kind::Histogram => {
                    return Err(PrometheusError::NotAHistogram(name.clone()))
                }
                Some(_) => {}
            }
            if bounds.is_empty() {
                return Err(PrometheusError::BadBuckets(
                    name.clone(),
                    "the list is empty".into(),
                ));
            }
            if bounds.iter().any(|b| !b.is_finite()) {
                return Err(PrometheusError::BadBuckets(
                    name.clone(),
                    "bounds must be finite numbers (+Inf is implicit)".into(),
                ));
            }
            if bounds.windows(2).any(|w| w[0] >= w[1]) {
                return Err(PrometheusError::BadBuckets(
                    name.clone(),
                    "bounds must be strictly increasing".into(),
                ));
            }
        }
        Ok(())
    }
}

/// A rejected [`PrometheusOptions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrometheusError {
    /// No metric of the catalogue has this name.
    UnknownMetric(String),
    /// Buckets were given for a counter or gauge.
    NotAHistogram(String),
    /// Buckets of a hot-path histogram (`http_request_duration_seconds`,
    /// `http_response_size_bytes`) were given after adapters started
    /// recording with the previous ones.
    FixedBuckets(String),
    /// The bucket list is unusable.
    BadBuckets(String, String),
    /// [`configure`] ran after the exporter was already set up.
    AlreadyConfigured,
}

impl fmt::Display for PrometheusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrometheusError::UnknownMetric(n) => write!(
                f,
                "unknown metric `{n}` in buckets, expected a histogram of the catalogue such as `http_backoff_duration_seconds` or `http_limiter_wait_seconds`"
            ),
            PrometheusError::NotAHistogram(n) => {
                write!(f, "metric `{n}` is not a histogram, buckets apply to histograms only")
            }
            PrometheusError::FixedBuckets(n) => write!(
                f,
                "metric `{n}` is already recording with its buckets (an adapter was used before `configure`); configure the exporter at start-up, before the first request"
            ),
            PrometheusError::BadBuckets(n, why) => write!(f, "bad buckets for `{n}`: {why}"),
            PrometheusError::AlreadyConfigured => write!(
                f,
                "the Prometheus exporter is already configured (configure it once, before the first event)"
            ),
        }
    }
}

impl std::error::Error for PrometheusError {}

/// Configures the exporter: call once at start-up, before any event. Events
/// that arrive first configure it with the defaults.
///
/// ```
/// use telemetry_runtime::backends::prometheus::{configure, PrometheusOptions};
/// let _ = configure(PrometheusOptions::default());
/// assert!(configure(PrometheusOptions::default()).is_err(), "only once");
/// ```
pub fn configure(options: PrometheusOptions) -> Result<(), PrometheusError> {
    options.validate()?;
    // The two hot-path histograms live in the runtime's atomics, not in the
    // exporter: hand their buckets to the instruments.
    let hot = |family: Family| {
        options.buckets.iter().find(|(name, _)| {
            name == family.prometheus_name()
                || name == family.otel_prometheus_name()
                || name == family.otel_name()
        })
    };
    let duration = hot(Family::RequestDuration);
    let size = hot(Family::ResponseSize);
    if duration.is_some() || size.is_some() {
        let set = crate::instruments::set_request_buckets(
            duration.map(|(_, b)| b.as_slice()),
            size.map(|(_, b)| b.as_slice()),
        );
        if !set {
            let name = duration
                .or(size)
                .map(|(n, _)| n.clone())
                .unwrap_or_default();
            return Err(PrometheusError::FixedBuckets(name));
        }
    }
    if facade::configure(&options) {
        Ok(())
    } else {
        Err(PrometheusError::AlreadyConfigured)
    }
}

/// Default buckets of the facade histograms: OpenTelemetry's advised
/// duration buckets, extended to a minute for back-off delays.
pub fn default_buckets(family: Family) -> &'static [f64] {
    match family {
        Family::Backoff => names::BACKOFF_BUCKETS_SECONDS,
        _ => DURATION_BUCKETS_SECONDS,
    }
}

/// Families recorded in the lock-free instruments.
pub(crate) fn is_hot(f: Family) -> bool {
    matches!(
        f,
        Family::Requests | Family::RequestDuration | Family::ResponseSize | Family::InFlight
    )
}

/// Families rendered from runtime counters rather than the facade.
pub(crate) fn is_text_rendered(f: Family) -> bool {
    matches!(
        f,
        Family::AdapterEvents | Family::LabelOverflow | Family::SinkPanics | Family::EventsDropped
    )
}

/// Records the metric catalogue from events.
///
/// ```
/// use telemetry_runtime::backends::prometheus::{PrometheusSink, render};
/// telemetry_runtime::dispatch::set_global_sink(PrometheusSink::new());
/// let text = render();
/// assert!(text.contains("# TYPE telemetry_sink_panics_total counter"));
/// # telemetry_runtime::dispatch::clear_global_sink();
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct PrometheusSink;

impl PrometheusSink {
    /// A new sink (all state lives in the adapters' statics and the exporter).
    pub fn new() -> Self {
        PrometheusSink
    }
}

fn error_index(t: ErrorType) -> usize {
    ErrorType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

impl EventSink for PrometheusSink {
    fn name(&self) -> &'static str {
        "prometheus"
    }
    fn on_request(&self, e: &RequestEvent) {
        let m = e.meta.adapter.host_metrics(e.meta.host);
        m.in_flight.fetch_add(1, Ordering::Relaxed);
    }
    fn on_response(&self, e: &ResponseEvent) {
        let m = e.meta.adapter.host_metrics(e.meta.host);
        m.in_flight.fetch_sub(1, Ordering::Relaxed);
        m.record(e.method, e.status, e.duration, e.body_size);
    }
    fn on_error(&self, e: &ErrorEvent) {
        let m = e.meta.adapter.host_metrics(e.meta.host);
        // Errors raised before a request went on the wire (open breaker,
        // limiter rejection) never incremented in-flight.
        if !matches!(
            e.error_type,
            ErrorType::CircuitOpen | ErrorType::RateLimited
        ) {
            m.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
        let status = ERROR_STATUS_BASE + error_index(e.error_type) as u16;
        m.requests.add(e.method, status);
        m.duration_for(e.method).observe_duration(e.duration);
    }
    fn on_retry(&self, e: &RetryEvent) {
        facade::adapter(e.meta.adapter)
            .host(e.meta.host)
            .retry(e.reason);
    }
    fn on_backoff(&self, e: &BackoffEvent) {
        facade::adapter(e.meta.adapter)
            .host(e.meta.host)
            .backoff(e.source, e.delay);
    }
    fn on_rate_limit(&self, e: &RateLimitEvent) {
        facade::adapter(e.meta.adapter)
            .host(e.meta.host)
            .rate_limit(e.wait, e.queue_depth, e.saturation);
    }
    fn on_breaker_transition(&self, e: &BreakerTransitionEvent) {
        facade::adapter(e.meta.adapter)
            .host(e.meta.host)
            .breaker(e.from, e.to);
    }
    fn on_fallback(&self, e: &FallbackEvent) {
        facade::adapter(e.meta.adapter).fallback(e.source, e.outcome);
    }
}

/// Last-seen limiter and breaker state of one host, for health checks.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostState {
    /// The circuit breaker's state after its last transition.
    pub breaker: BreakerState,
    /// The limiter's saturation at its last answer, `0.0..=1.0`.
    pub limiter_saturation: f64,
    /// The limiter's queue depth at its last answer.
    pub limiter_queue_depth: u32,
}

/// The last limiter and breaker state [`PrometheusSink`] saw for `host` of
/// `adapter`, or `None` if it saw no limiter or breaker event for it.
pub fn host_state(adapter: &'static AdapterTelemetry, host: LabelValue) -> Option<HostState> {
    let handles = facade::find(adapter)?;
    let h = handles.host_if_seen(host)?;
    Some(HostState {
        breaker: h.breaker_state(),
        limiter_saturation: h.saturation(),
        limiter_queue_depth: h.last_queue_depth.load(Ordering::Relaxed),
    })
}

/// The naming `adapter`'s metrics are exported with (the global override of
/// [`PrometheusOptions::naming`], else the adapter's manifest).
pub fn naming_of(adapter: &'static AdapterTelemetry) -> Naming {
    facade::naming_of(adapter)
}

/// Renders every registered adapter's metrics in the Prometheus text format
/// (version 0.0.4).
pub fn render() -> String {
    let mut out = String::new();
    render_into(&mut out);
    out
}

/// [`render`] into an existing buffer (reuse it across scrapes to skip the
/// growth reallocations).
pub fn render_into(out: &mut String) {
    let rows: Vec<text::AdapterRows> = registered_adapters()
        .into_iter()
        .map(|a| text::AdapterRows {
            adapter: a,
            name: a.manifest().name,
            naming: facade::naming_of(a),
            hosts: a.all_host_metrics(),
        })
        .collect();
    // About 130 bytes per plain series and 17 lines per histogram series:
    // reserve once instead of doubling through the render.
    let series: usize = rows.iter().map(|r| r.hosts.len()).sum();
    out.reserve(4096 + series * 4096);
    text::render_hot(out, &rows, Naming::Prometheus);
    text::render_hot(out, &rows, Naming::OpenTelemetry);
    text::render_runtime(out, &rows);
    #[cfg(feature = "process")]
    super::process::render_into(out);
    // The sink keeps zero-wait limiter answers and unchanged gauges in its
    // own atomics: hand them to the exporter right before it renders.
    facade::flush();
    out.push_str(&facade::exporter().render());
}
