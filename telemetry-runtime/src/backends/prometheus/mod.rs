//! The Prometheus backend: a sink that records the whole metric catalogue
//! from events, and the text exposition.
//!
//! Two stores, one exposition:
//!
//! - **Hot path** (`http_requests_total`, `http_request_duration_seconds`,
//!   `http_response_size_bytes`, `http_in_flight_requests`): lock-free atomic
//!   instruments (`state.rs`) per bounded host, a few nanoseconds per request,
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
pub use crate::core::catalog as names;

pub mod alertmanager;
pub mod dashboard;
pub mod k8s;
pub mod rules;

mod event_counts;
mod facade;
mod options;
#[cfg(feature = "process")]
pub mod process;
#[cfg(feature = "push")]
#[cfg_attr(docsrs, doc(cfg(feature = "push")))]
pub mod push;
#[doc(hidden)]
pub mod state;
mod text;

use std::sync::atomic::Ordering;

pub use text::{error_label, escape_label, status_label, OTHER_CODE_STATUS, OTHER_ERROR_STATUS};

pub use crate::core::instruments::{DURATION_BUCKETS_SECONDS, SIZE_BUCKETS_BYTES};
pub use options::{default_buckets, PrometheusError, PrometheusOptions};
pub use state::{request_buckets, set_request_buckets, CustomEventSeries, StatusKey};

use crate::core::adapter::{registered_adapters, AdapterTelemetry};
use crate::core::catalog::Family;
use crate::core::events::{
    BackoffEvent, BodyEvent, BreakerState, BreakerTransitionEvent, CustomEventRecord, ErrorEvent,
    EventRef, FallbackEvent, RateLimitEvent, RedirectEvent, RequestEvent, ResponseEvent,
    RetryEvent,
};
use crate::core::labels::LabelValue;
use crate::core::manifest::Naming;
use crate::core::sink::EventSink;

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
    // The hot-path histograms live in the runtime's atomics, not in the
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
    if let Some((name, b)) = hot(Family::BodyDuration) {
        if !state::set_body_buckets(b) {
            return Err(PrometheusError::FixedBuckets(name.clone()));
        }
    }
    if duration.is_some() || size.is_some() {
        let set = set_request_buckets(
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

impl EventSink for PrometheusSink {
    fn name(&self) -> &'static str {
        "prometheus"
    }
    // One exhaustive match (no wildcard arm): a new event kind is a compile
    // error here until the catalogue says what it records. Every arm calls a
    // callback this impl overrides (a default one would call back here).
    fn on_event(&self, event: EventRef<'_>) {
        match event {
            EventRef::Request(e) => self.on_request(e),
            EventRef::Response(e) => self.on_response(e),
            EventRef::Error(e) => self.on_error(e),
            EventRef::Retry(e) => self.on_retry(e),
            EventRef::Backoff(e) => self.on_backoff(e),
            EventRef::RateLimit(e) => self.on_rate_limit(e),
            EventRef::BreakerTransition(e) => self.on_breaker_transition(e),
            EventRef::Fallback(e) => self.on_fallback(e),
            EventRef::Custom(e) => self.on_custom(e),
            EventRef::Redirect(e) => self.on_redirect(e),
            EventRef::Body(e) => self.on_body(e),
        }
    }
    // A followed redirect is inside its wire attempt, which the response
    // and duration already count: no family of its own.
    fn on_redirect(&self, _: &RedirectEvent) {}
    // The response counted the announced `Content-Length`; a body without
    // one (chunked, decoded, streamed) is sized here, from the bytes read.
    fn on_body(&self, e: &BodyEvent) {
        if let Some(a) = state::adapter(e.meta.adapter) {
            let m = a.host(e.meta.host);
            if e.content_length.is_none() {
                m.size.observe_raw(e.size);
            }
            m.record_body(e.duration);
        }
        if let Some(error) = e.error_type {
            if let Some(h) = facade::adapter(e.meta.adapter) {
                h.host(e.meta.host).body_error(error);
            }
        }
    }
    fn on_request(&self, e: &RequestEvent) {
        if let Some(a) = state::adapter(e.meta.adapter) {
            a.host(e.meta.host)
                .in_flight
                .fetch_add(1, Ordering::Relaxed);
        }
    }
    fn on_response(&self, e: &ResponseEvent) {
        if let Some(a) = state::adapter(e.meta.adapter) {
            let m = a.host(e.meta.host);
            m.in_flight.fetch_sub(1, Ordering::Relaxed);
            m.record(e.method, e.status, e.duration, e.body_size);
        }
    }
    fn on_error(&self, e: &ErrorEvent) {
        // A refusal before the wire is no attempt: its own family, never
        // the request counter nor the duration histogram.
        if !e.reached_wire {
            if let Some(h) = facade::adapter(e.meta.adapter) {
                h.host(e.meta.host).rejection(e.error_type);
            }
            return;
        }
        if let Some(a) = state::adapter(e.meta.adapter) {
            let m = a.host(e.meta.host);
            m.in_flight.fetch_sub(1, Ordering::Relaxed);
            m.requests.add_error(e.method, e.error_type);
            m.duration_for(e.method).observe_duration(e.duration);
        }
    }
    fn on_retry(&self, e: &RetryEvent) {
        if let Some(h) = facade::adapter(e.meta.adapter) {
            h.host(e.meta.host).retry(e.reason);
        }
    }
    fn on_backoff(&self, e: &BackoffEvent) {
        if let Some(h) = facade::adapter(e.meta.adapter) {
            h.host(e.meta.host).backoff(e.source, e.delay);
        }
    }
    fn on_rate_limit(&self, e: &RateLimitEvent) {
        if let Some(h) = facade::adapter(e.meta.adapter) {
            h.host(e.meta.host)
                .rate_limit(e.wait, e.queue_depth, e.saturation);
        }
    }
    fn on_breaker_transition(&self, e: &BreakerTransitionEvent) {
        if let Some(h) = facade::adapter(e.meta.adapter) {
            h.host(e.meta.host).breaker(e.from, e.to);
        }
    }
    fn on_fallback(&self, e: &FallbackEvent) {
        if let Some(h) = facade::adapter(e.meta.adapter) {
            h.fallback(e.source, e.outcome);
        }
    }
    fn on_custom(&self, e: &CustomEventRecord<'_>) {
        if let Some(a) = state::adapter(e.meta.adapter) {
            a.count_custom(e.event);
        }
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
    let handles = facade::find(adapter.id())?;
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
    facade::naming_of(adapter.manifest())
}

/// `(event name, label values, count)` of every custom-event series of
/// `adapter` with a non-zero count (what `telemetry_adapter_events_total`
/// exports), as counted by [`PrometheusSink`].
pub fn custom_event_counts(adapter: &'static AdapterTelemetry) -> Vec<CustomEventSeries> {
    state::find(adapter.id()).map_or_else(Vec::new, |a| a.custom_event_counts())
}

/// Hot-path metrics of `host` of `adapter` (created on first use), for
/// benchmarks. Not public API.
#[doc(hidden)]
#[inline]
pub fn host_metrics(
    adapter: &'static AdapterTelemetry,
    host: LabelValue,
) -> Option<&'static state::HostMetrics> {
    host_metrics_of(adapter.handle(), host)
}

/// [`host_metrics`] from the handle an event carries (what the sink does per
/// response), for benchmarks. Not public API.
#[doc(hidden)]
#[inline]
pub fn host_metrics_of(
    adapter: crate::core::id::AdapterRef,
    host: LabelValue,
) -> Option<&'static state::HostMetrics> {
    state::adapter(adapter).map(|a| a.host(host))
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
        .map(|a| {
            let metrics = state::find(a.id());
            text::AdapterRows {
                adapter: a,
                name: a.manifest().name,
                naming: facade::naming_of(a.manifest()),
                hosts: metrics.map_or_else(Vec::new, |m| m.all_hosts()),
                custom: metrics.map_or_else(Vec::new, |m| m.custom_event_counts()),
            }
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
    process::render_into(out);
    // The sink keeps zero-wait limiter answers and unchanged gauges in its
    // own atomics: hand them to the exporter right before it renders.
    facade::flush();
    out.push_str(&facade::exporter().render());
}
