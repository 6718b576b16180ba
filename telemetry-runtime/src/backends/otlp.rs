//! The OTLP backend (`otlp` feature): spans and metrics exported with
//! opentelemetry-otlp over HTTP/protobuf.
//!
//! - **Spans** come from the client's `tracing` spans (one per logical
//!   request, one per wire attempt) through tracing-opentelemetry: add
//!   [`OtlpPipeline::tracing_layer`] to the subscriber. Their fields become
//!   span attributes (`http.request.method`, `server.address`, `server.port`,
//!   redacted `url.full`, `http.response.status_code`, `error.type`,
//!   `http.request.resend_count`, `correlation_id`); `otel.name` and
//!   `otel.kind` set the span name and kind.
//! - **Metrics** are recorded from events by [`OtlpSink`] into OpenTelemetry
//!   instruments named by the semantic conventions
//!   (`http.client.request.duration` in seconds with the advised buckets,
//!   `http.client.response.body.size`, `http.client.retries`, ...; see
//!   [`Family::otel_name`]). The request count is the duration histogram's
//!   count, as OpenTelemetry intends, so there is no separate counter.
//!
//! Exports run on the SDK's own background threads (batch span processor,
//! periodic metric reader) with a blocking HTTP client, so they never run
//! on, or block, the application's async runtime.
//!
//! ```no_run
//! use telemetry_runtime::backends::otlp::{OtlpConfig, OtlpPipeline};
//! use tracing_subscriber::layer::SubscriberExt as _;
//! let otlp = OtlpPipeline::start(OtlpConfig::new("http://127.0.0.1:4318", "my-service"))?;
//! let subscriber = tracing_subscriber::registry().with(otlp.tracing_layer());
//! tracing::subscriber::set_global_default(subscriber)?;
//! telemetry_runtime::dispatch::set_global_sink(otlp.sink());
//! // ... on shutdown:
//! otlp.shutdown()?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use opentelemetry::metrics::{Counter, Gauge, Histogram, Meter, MeterProvider as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry::KeyValue;
use opentelemetry_otlp::{Protocol, WithExportConfig as _};
use opentelemetry_sdk::metrics::{PeriodicReader, SdkMeterProvider};
use opentelemetry_sdk::trace::SdkTracerProvider;
use opentelemetry_sdk::Resource;

use opentelemetry::propagation::{Injector, TextMapPropagator};
use opentelemetry::trace::TraceContextExt as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;

use crate::core::catalog::{self, Family};
use crate::core::events::*;
use crate::core::instruments::{DURATION_BUCKETS_SECONDS, SIZE_BUCKETS_BYTES};
use crate::core::propagation::{self, HeaderInjector};
use crate::core::sink::EventSink;

/// Where and how to export.
#[derive(Debug, Clone)]
pub struct OtlpConfig {
    /// Base URL of the collector's OTLP/HTTP receiver, without the signal
    /// path (`http://127.0.0.1:4318`); `/v1/traces` and `/v1/metrics` are
    /// appended.
    pub endpoint: String,
    /// `service.name` of the resource.
    pub service_name: String,
    /// How often metrics are exported (default 10 s).
    pub metrics_interval: Duration,
    /// Timeout of one export request (default 10 s).
    pub timeout: Duration,
}

impl OtlpConfig {
    /// Defaults for `endpoint` and `service_name`.
    pub fn new(endpoint: impl Into<String>, service_name: impl Into<String>) -> Self {
        OtlpConfig {
            endpoint: endpoint.into(),
            service_name: service_name.into(),
            metrics_interval: Duration::from_secs(10),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The pipeline could not be built, flushed or shut down.
#[derive(Debug)]
pub struct OtlpError(String);

impl fmt::Display for OtlpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OTLP export: {}", self.0)
    }
}

impl std::error::Error for OtlpError {}

fn err(e: impl fmt::Display) -> OtlpError {
    OtlpError(e.to_string())
}

/// The tracer and meter providers, exporting over OTLP/HTTP.
#[derive(Debug, Clone)]
pub struct OtlpPipeline {
    tracer_provider: SdkTracerProvider,
    meter_provider: SdkMeterProvider,
    instruments: Arc<Instruments>,
}

impl OtlpPipeline {
    /// Builds the exporters and providers. Safe to call from inside an async
    /// runtime: the blocking HTTP client is built on a separate thread.
    pub fn start(config: OtlpConfig) -> Result<Self, OtlpError> {
        let base = config.endpoint.trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(OtlpError(format!(
                "endpoint must be an http:// or https:// URL, got {:?}",
                config.endpoint
            )));
        }
        // reqwest's blocking client owns a runtime, which must be neither
        // created nor dropped on an async runtime's thread.
        let built = std::thread::spawn(move || -> Result<_, OtlpError> {
            let spans = opentelemetry_otlp::SpanExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("{base}/v1/traces"))
                .with_timeout(config.timeout)
                .build()
                .map_err(err)?;
            let metrics = opentelemetry_otlp::MetricExporter::builder()
                .with_http()
                .with_protocol(Protocol::HttpBinary)
                .with_endpoint(format!("{base}/v1/metrics"))
                .with_timeout(config.timeout)
                .build()
                .map_err(err)?;
            Ok((spans, metrics, config))
        })
        .join()
        .map_err(|_| OtlpError("exporter construction panicked".into()))?;
        let (spans, metrics, config) = built?;
        let resource = Resource::builder()
            .with_service_name(config.service_name)
            .build();
        let tracer_provider = SdkTracerProvider::builder()
            .with_batch_exporter(spans)
            .with_resource(resource.clone())
            .build();
        let reader = PeriodicReader::builder(metrics)
            .with_interval(config.metrics_interval)
            .build();
        let meter_provider = SdkMeterProvider::builder()
            .with_reader(reader)
            .with_resource(resource)
            .build();
        let instruments = Arc::new(Instruments::new(&meter_provider.meter("telemetry_runtime")));
        // Trace context on the wire by default (issue 14): W3C
        // `traceparent`/`tracestate`, unless the application installed an
        // injector of its own first.
        if !propagation::has_global_injector() {
            propagation::set_global_injector(OtelPropagation::trace_context());
        }
        Ok(OtlpPipeline {
            tracer_provider,
            meter_provider,
            instruments,
        })
    }

    /// A tracing layer that turns spans into OpenTelemetry spans exported by
    /// this pipeline.
    pub fn tracing_layer<S>(&self) -> impl tracing_subscriber::Layer<S> + Send + Sync + 'static
    where
        S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a> + Send + Sync,
    {
        tracing_opentelemetry::layer().with_tracer(self.tracer_provider.tracer("telemetry_runtime"))
    }

    /// A sink that records the metric catalogue from events into this
    /// pipeline's meter.
    pub fn sink(&self) -> OtlpSink {
        OtlpSink {
            instruments: Arc::clone(&self.instruments),
        }
    }

    /// The tracer provider (to build other tracers on it).
    pub fn tracer_provider(&self) -> &SdkTracerProvider {
        &self.tracer_provider
    }

    /// The meter provider (for the application's own instruments).
    pub fn meter_provider(&self) -> &SdkMeterProvider {
        &self.meter_provider
    }

    /// Exports everything pending now. Blocks: call it off the async runtime
    /// (`spawn_blocking`).
    pub fn force_flush(&self) -> Result<(), OtlpError> {
        self.tracer_provider.force_flush().map_err(err)?;
        self.meter_provider.force_flush().map_err(err)
    }

    /// Flushes and stops the exporters. Blocks like [`force_flush`](Self::force_flush).
    pub fn shutdown(&self) -> Result<(), OtlpError> {
        let t = self.tracer_provider.shutdown().map_err(err);
        let m = self.meter_provider.shutdown().map_err(err);
        t.and(m)
    }
}

/// The OpenTelemetry propagator API behind the client's
/// [`HeaderInjector`] hook: the context of the current `tracing` span (as
/// tracing-opentelemetry's layer knows it) injected by a
/// [`TextMapPropagator`]. [`OtlpPipeline::start`] installs
/// [`trace_context`](Self::trace_context) globally unless an injector is
/// installed already; install another with
/// [`propagation::set_global_injector`], or give one to a single client
/// with `AdapterClientBuilder::propagator`.
///
/// Without an OpenTelemetry layer in the subscriber the span has no valid
/// context, and nothing is written.
///
/// ```
/// use telemetry_runtime::backends::otlp::OtelPropagation;
/// use telemetry_runtime::core::propagation::{self, HeaderInjector};
/// let w3c = OtelPropagation::trace_context();
/// let mut headers = Vec::new();
/// w3c.inject_current(&mut |k, v| headers.push((k.to_owned(), v.to_owned())));
/// assert!(headers.is_empty(), "no span, no context, no header");
/// propagation::set_global_injector(OtelPropagation::global());
/// # propagation::clear_global_injector();
/// ```
pub struct OtelPropagation {
    propagator: Option<Box<dyn TextMapPropagator + Send + Sync>>,
}

impl fmt::Debug for OtelPropagation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelPropagation")
            .field("global", &self.propagator.is_none())
            .finish()
    }
}

impl OtelPropagation {
    /// W3C Trace Context: `traceparent` and `tracestate`.
    pub fn trace_context() -> Self {
        Self::new(TraceContextPropagator::new())
    }

    /// Any propagator (a composite, B3, Jaeger, ...).
    pub fn new(propagator: impl TextMapPropagator + Send + Sync + 'static) -> Self {
        OtelPropagation {
            propagator: Some(Box::new(propagator)),
        }
    }

    /// Whatever `opentelemetry::global::set_text_map_propagator` installed
    /// when each request is sent (a no-op propagator until then).
    pub fn global() -> Self {
        OtelPropagation { propagator: None }
    }
}

impl HeaderInjector for OtelPropagation {
    fn inject_current(&self, set: &mut dyn FnMut(&str, &str)) {
        use tracing_opentelemetry::OpenTelemetrySpanExt as _;
        struct Setter<'a>(&'a mut dyn FnMut(&str, &str));
        impl Injector for Setter<'_> {
            fn set(&mut self, key: &str, value: String) {
                (self.0)(key, &value);
            }
        }
        let cx = tracing::Span::current().context();
        if !cx.span().span_context().is_valid() {
            return;
        }
        let mut setter = Setter(set);
        match &self.propagator {
            Some(p) => p.inject_context(&cx, &mut setter),
            None => opentelemetry::global::get_text_map_propagator(|p| {
                p.inject_context(&cx, &mut setter)
            }),
        }
    }
}

struct Instruments {
    duration: Histogram<f64>,
    body_size: Histogram<u64>,
    body_duration: Histogram<f64>,
    body_errors: Counter<u64>,
    retries: Counter<u64>,
    rejections: Counter<u64>,
    backoff: Histogram<f64>,
    queue_depth: Gauge<u64>,
    limiter_wait: Histogram<f64>,
    saturation: Gauge<f64>,
    breaker_state: Gauge<i64>,
    transitions: Counter<u64>,
    fallback: Counter<u64>,
}

impl fmt::Debug for Instruments {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Instruments")
    }
}

impl Instruments {
    fn new(meter: &Meter) -> Self {
        let secs = |f: Family, buckets: &[f64]| {
            meter
                .f64_histogram(f.otel_name())
                .with_unit("s")
                .with_description(f.help())
                .with_boundaries(buckets.to_vec())
                .build()
        };
        Instruments {
            duration: secs(Family::RequestDuration, DURATION_BUCKETS_SECONDS),
            body_size: meter
                .u64_histogram(Family::ResponseSize.otel_name())
                .with_unit("By")
                .with_description(Family::ResponseSize.help())
                .with_boundaries(SIZE_BUCKETS_BYTES.to_vec())
                .build(),
            body_duration: secs(Family::BodyDuration, DURATION_BUCKETS_SECONDS),
            body_errors: meter
                .u64_counter(Family::BodyErrors.otel_name())
                .with_unit(Family::BodyErrors.unit())
                .with_description(Family::BodyErrors.help())
                .build(),
            retries: meter
                .u64_counter(Family::Retries.otel_name())
                .with_unit(Family::Retries.unit())
                .with_description(Family::Retries.help())
                .build(),
            rejections: meter
                .u64_counter(Family::Rejections.otel_name())
                .with_unit(Family::Rejections.unit())
                .with_description(Family::Rejections.help())
                .build(),
            backoff: secs(Family::Backoff, catalog::BACKOFF_BUCKETS_SECONDS),
            queue_depth: meter
                .u64_gauge(Family::LimiterQueueDepth.otel_name())
                .with_unit(Family::LimiterQueueDepth.unit())
                .with_description(Family::LimiterQueueDepth.help())
                .build(),
            limiter_wait: secs(Family::LimiterWait, DURATION_BUCKETS_SECONDS),
            saturation: meter
                .f64_gauge(Family::LimiterSaturation.otel_name())
                .with_unit("1")
                .with_description(Family::LimiterSaturation.help())
                .build(),
            breaker_state: meter
                .i64_gauge(Family::BreakerState.otel_name())
                .with_unit("1")
                .with_description(Family::BreakerState.help())
                .build(),
            transitions: meter
                .u64_counter(Family::BreakerTransitions.otel_name())
                .with_unit(Family::BreakerTransitions.unit())
                .with_description(Family::BreakerTransitions.help())
                .build(),
            fallback: meter
                .u64_counter(Family::FallbackAttempts.otel_name())
                .with_unit(Family::FallbackAttempts.unit())
                .with_description(Family::FallbackAttempts.help())
                .build(),
        }
    }
}

/// Records the metric catalogue from events into OpenTelemetry instruments
/// (get one from [`OtlpPipeline::sink`]). Attributes use the semantic
/// conventions' names (`server.address`, `http.request.method`,
/// `http.response.status_code`, `error.type`) plus `adapter`.
#[derive(Debug, Clone)]
pub struct OtlpSink {
    instruments: Arc<Instruments>,
}

/// `server.address` and `server.port` from a host label, which carries a
/// non-default port as `host:port` (`[v6]:port` for IPv6).
fn split_host(label: &'static str) -> (&'static str, Option<i64>) {
    match label.rsplit_once(':') {
        Some((host, port))
            if !host.is_empty()
                && (!host.contains(':') || host.ends_with(']'))
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (host, port.parse().ok())
        }
        _ => (label, None),
    }
}

fn base(m: &EventMeta) -> Vec<KeyValue> {
    let (address, port) = split_host(m.host.as_str());
    let mut attrs = Vec::with_capacity(6);
    attrs.push(KeyValue::new("adapter", m.adapter_name()));
    attrs.push(KeyValue::new("server.address", address));
    if let Some(port) = port {
        attrs.push(KeyValue::new("server.port", port));
    }
    attrs
}

// A response always carries its code as the integer
// `http.response.status_code`, whatever the code (nothing is folded or
// offset, so a 600 stays 600); an attempt without a response never carries
// one, and its `error.type` is a name, never digits. So no response and no
// error share an attribute set, unlike the Prometheus `status` label, which
// holds both (#10; a test below walks every code and error type).
fn push_response_attrs(attrs: &mut Vec<KeyValue>, method: HttpMethod, status: u16) {
    attrs.push(KeyValue::new("http.request.method", method.as_str()));
    attrs.push(KeyValue::new(
        "http.response.status_code",
        i64::from(status),
    ));
    if status >= 400 {
        // OTel: error.type is the status code when it signals an error.
        attrs.push(KeyValue::new("error.type", status.to_string()));
    }
}

fn push_error_attrs(attrs: &mut Vec<KeyValue>, method: HttpMethod, error: ErrorType) {
    attrs.push(KeyValue::new("http.request.method", method.as_str()));
    attrs.push(KeyValue::new("error.type", error.as_str()));
}

impl EventSink for OtlpSink {
    fn name(&self) -> &'static str {
        "otlp"
    }
    // One exhaustive match (no wildcard arm): a new event kind is a compile
    // error here until this backend says what it does with it.
    fn on_event(&self, event: EventRef<'_>) {
        match event {
            EventRef::Request(_) => {}
            EventRef::Response(e) => self.record_response(e),
            EventRef::Error(e) => self.record_error(e),
            EventRef::Retry(e) => self.record_retry(e),
            EventRef::Backoff(e) => self.record_backoff(e),
            EventRef::RateLimit(e) => self.record_rate_limit(e),
            EventRef::BreakerTransition(e) => self.record_breaker_transition(e),
            EventRef::Fallback(e) => self.record_fallback(e),
            EventRef::Custom(_) => {}
            EventRef::Redirect(_) => {}
            EventRef::Body(e) => self.record_body(e),
        }
    }
}

impl OtlpSink {
    // As in the Prometheus backend: a body without `Content-Length` is
    // sized from the bytes read (the response recorded the announced size).
    fn record_body(&self, e: &BodyEvent) {
        let attrs = base(&e.meta);
        if e.content_length.is_none() {
            self.instruments.body_size.record(e.size, &attrs);
        }
        self.instruments
            .body_duration
            .record(e.duration.as_secs_f64(), &attrs);
        if let Some(t) = e.error_type {
            let mut attrs = attrs;
            attrs.push(KeyValue::new("error.type", t.as_str()));
            self.instruments.body_errors.add(1, &attrs);
        }
    }

    fn record_response(&self, e: &ResponseEvent) {
        let mut attrs = base(&e.meta);
        push_response_attrs(&mut attrs, e.method, e.status);
        self.instruments
            .duration
            .record(e.duration.as_secs_f64(), &attrs);
        if let Some(size) = e.body_size {
            self.instruments.body_size.record(size, &base(&e.meta));
        }
    }
    fn record_error(&self, e: &ErrorEvent) {
        if !e.reached_wire {
            // A refusal before the wire: no attempt, no duration sample.
            let mut attrs = base(&e.meta);
            attrs.push(KeyValue::new("reason", e.error_type.as_str()));
            self.instruments.rejections.add(1, &attrs);
            return;
        }
        let mut attrs = base(&e.meta);
        push_error_attrs(&mut attrs, e.method, e.error_type);
        self.instruments
            .duration
            .record(e.duration.as_secs_f64(), &attrs);
    }
    fn record_retry(&self, e: &RetryEvent) {
        let mut attrs = base(&e.meta);
        attrs.push(KeyValue::new("reason", e.reason.as_str()));
        self.instruments.retries.add(1, &attrs);
    }
    fn record_backoff(&self, e: &BackoffEvent) {
        let mut attrs = base(&e.meta);
        attrs.push(KeyValue::new("source", e.source.as_str()));
        self.instruments
            .backoff
            .record(e.delay.as_secs_f64(), &attrs);
    }
    fn record_rate_limit(&self, e: &RateLimitEvent) {
        let attrs = base(&e.meta);
        self.instruments
            .queue_depth
            .record(u64::from(e.queue_depth), &attrs);
        self.instruments
            .limiter_wait
            .record(e.wait.as_secs_f64(), &attrs);
        if e.saturation.is_finite() {
            self.instruments
                .saturation
                .record(e.saturation.clamp(0.0, 1.0), &attrs);
        }
    }
    fn record_breaker_transition(&self, e: &BreakerTransitionEvent) {
        let mut attrs = base(&e.meta);
        self.instruments
            .breaker_state
            .record(e.to.gauge_value() as i64, &attrs);
        attrs.push(KeyValue::new("from", e.from.as_str()));
        attrs.push(KeyValue::new("to", e.to.as_str()));
        self.instruments.transitions.add(1, &attrs);
    }
    fn record_fallback(&self, e: &FallbackEvent) {
        self.instruments.fallback.add(
            1,
            &[
                KeyValue::new("adapter", e.meta.adapter_name()),
                KeyValue::new("source", e.source),
                KeyValue::new("outcome", e.outcome.as_str()),
            ],
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An attribute set as comparable text: sorted `key=value` with the
    /// value's type (`I64(600)` is not `String("600")`).
    fn set(attrs: &[KeyValue]) -> Vec<String> {
        let mut s: Vec<String> = attrs
            .iter()
            .map(|kv| format!("{}={:?}", kv.key, kv.value))
            .collect();
        s.sort();
        s
    }

    #[test]
    fn status_and_error_attributes_never_collide() {
        let mut seen = std::collections::HashMap::new();
        for method in HttpMethod::ALL {
            for status in 0..=u16::MAX {
                let mut attrs = Vec::new();
                push_response_attrs(&mut attrs, method, status);
                let what = format!("{method:?} {status}");
                if let Some(other) = seen.insert(set(&attrs), what.clone()) {
                    panic!("{what} and {other} share attributes {attrs:?}");
                }
            }
            for error in ErrorType::ALL {
                let mut attrs = Vec::new();
                push_error_attrs(&mut attrs, method, *error);
                let what = format!("{method:?} {error}");
                if let Some(other) = seen.insert(set(&attrs), what.clone()) {
                    panic!("{what} and {other} share attributes {attrs:?}");
                }
            }
        }
        let mut attrs = Vec::new();
        push_response_attrs(&mut attrs, HttpMethod::Get, 600);
        assert_eq!(
            set(&attrs),
            [
                "error.type=String(Owned(\"600\"))",
                "http.request.method=String(Static(\"GET\"))",
                "http.response.status_code=I64(600)"
            ]
        );
    }
}
