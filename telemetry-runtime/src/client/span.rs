//! Tracing spans of the client: one per logical request, one per wire
//! attempt. With the `tracing` feature off every type here is empty and
//! every call compiles to nothing.
//!
//! Field names follow the OpenTelemetry HTTP client conventions:
//! `http.request.method`, `server.address`, `server.port`, `url.full`
//! (redacted), `http.response.status_code`, `error.type`,
//! `http.request.resend_count`, plus `correlation_id`.
//!
//! Levels: the request span is INFO, the attempt spans are DEBUG (target
//! `telemetry_runtime::client`). A formatting subscriber pays about 2-4 us per
//! span it formats (docs/performance.md), so an INFO filter records one span
//! per logical request; enable `telemetry_runtime::client=debug` (or export
//! through a registry without a level filter, as the OTLP pipeline does) to
//! get one span per wire attempt as well.

use std::future::Future;

use crate::core::events::{CorrelationId, ErrorType, HttpMethod};
use crate::core::propagation::Propagation;

/// A future running inside the request span.
#[cfg(feature = "tracing")]
pub(crate) type InSpan<F> = tracing::instrument::Instrumented<F>;
/// A future running inside the request span (no spans: the future itself).
#[cfg(not(feature = "tracing"))]
pub(crate) type InSpan<F> = F;

/// Span of a logical request (`http.client.request`).
#[derive(Debug, Clone)]
pub(crate) struct RequestSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// Span of one wire attempt (`http.client.attempt`, DEBUG), a child of the
/// request's.
#[derive(Debug, Clone)]
pub(crate) struct AttemptSpan {
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

/// What both spans are opened with.
// Without `tracing` only `port` is read (by the request event).
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) struct SpanFields<'a> {
    pub(crate) method: HttpMethod,
    pub(crate) host: &'a str,
    pub(crate) port: u16,
    /// Built once per logical request, shared with its request events;
    /// `None` when neither a sink nor a span wants it.
    pub(crate) url_full: Option<&'a std::sync::Arc<str>>,
    pub(crate) correlation_id: CorrelationId,
}

impl RequestSpan {
    /// Whether a subscriber wants the spans (so the redacted URL is worth
    /// building).
    pub(crate) fn enabled() -> bool {
        #[cfg(feature = "tracing")]
        {
            tracing::enabled!(target: "telemetry_runtime::client", tracing::Level::INFO)
        }
        #[cfg(not(feature = "tracing"))]
        {
            false
        }
    }

    /// No span (the client's spans are switched off).
    #[inline]
    pub(crate) fn none() -> Self {
        RequestSpan {
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
        }
    }

    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn new(f: &SpanFields<'_>) -> Self {
        RequestSpan {
            #[cfg(feature = "tracing")]
            span: tracing::info_span!(
                target: "telemetry_runtime::client",
                "http.client.request",
                otel.name = f.method.as_str(),
                otel.kind = "client",
                http.request.method = f.method.as_str(),
                server.address = f.host,
                server.port = f.port,
                url.full = f.url_full.map_or("", |u| &**u),
                http.response.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
                http.request.resend_count = tracing::field::Empty,
                correlation_id = %f.correlation_id,
            ),
        }
    }

    /// The span of wire attempt `attempt`. Its parent is the current span:
    /// the retry loop runs inside the request span (see
    /// [`instrument`](Self::instrument)), so that is the request's.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn attempt(f: &SpanFields<'_>, attempt: u32) -> AttemptSpan {
        AttemptSpan {
            #[cfg(feature = "tracing")]
            span: tracing::debug_span!(
                target: "telemetry_runtime::client",
                "http.client.attempt",
                otel.name = f.method.as_str(),
                otel.kind = "client",
                http.request.method = f.method.as_str(),
                server.address = f.host,
                server.port = f.port,
                url.full = f.url_full.map_or("", |u| &**u),
                http.response.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
                http.request.resend_count = attempt.saturating_sub(1),
                correlation_id = %f.correlation_id,
            ),
        }
    }

    /// Records how the logical request ended, on the span inside `run`
    /// (what [`instrument`](Self::instrument) returned).
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn finish<F>(
        run: &InSpan<F>,
        attempts: u32,
        status: Option<u16>,
        error: Option<ErrorType>,
    ) {
        #[cfg(feature = "tracing")]
        {
            let span = run.span();
            if span.is_disabled() {
                return;
            }
            // OTel: resend_count is set only when the request was resent
            // (one `record` fewer on the common path: a formatting
            // subscriber formats every recorded field).
            if attempts > 1 {
                span.record("http.request.resend_count", attempts - 1);
            }
            if let Some(s) = status {
                span.record("http.response.status_code", s);
            }
            if let Some(e) = error {
                span.record("error.type", e.as_str());
            } else if let Some(s) = status.filter(|s| *s >= 400) {
                // OTel: error.type is the status code when it signals an error.
                span.record("error.type", tracing::field::display(s));
            }
        }
    }

    /// `fut`, run inside the span, which moves into the wrapper (no clone
    /// of it; [`finish`](Self::finish) reads it back). Not an `async fn`:
    /// one would store `fut` twice in its state.
    #[cfg(feature = "tracing")]
    pub(crate) fn instrument<F: Future>(self, fut: F) -> InSpan<F> {
        tracing::Instrument::instrument(fut, self.span)
    }

    /// `fut` itself (no spans without the `tracing` feature).
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn instrument<F: Future>(self, fut: F) -> InSpan<F> {
        fut
    }
}

impl AttemptSpan {
    /// No span (the client's spans are switched off).
    #[inline]
    pub(crate) fn none() -> Self {
        AttemptSpan {
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
        }
    }

    /// Writes this attempt's trace context (`traceparent`, `tracestate`)
    /// into `headers` through the chosen injector, with the span entered so
    /// the injector sees it as the current one. Nothing without the
    /// `tracing` feature, without an injector, or when the span is disabled
    /// (no subscriber wants it: no context to send).
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    #[inline]
    pub(crate) fn propagate(
        &self,
        propagation: &Propagation,
        headers: &mut reqwest::header::HeaderMap,
    ) {
        #[cfg(feature = "tracing")]
        if propagation.active() && !self.span.is_disabled() {
            self.span.in_scope(|| {
                propagation.inject_current(&mut |name, value| {
                    // An empty `tracestate` is not sent (W3C Trace Context:
                    // a vendor may omit it when it has no entries).
                    if value.is_empty() {
                        return;
                    }
                    if let (Ok(n), Ok(v)) = (
                        reqwest::header::HeaderName::try_from(name),
                        reqwest::header::HeaderValue::try_from(value),
                    ) {
                        headers.insert(n, v);
                    }
                });
            });
        }
    }

    /// `fut`, run inside the span, which moves into the wrapper (no clone
    /// of it; [`record`](Self::record) lends it back). Not an `async fn`:
    /// one would store `fut` twice in its state.
    #[cfg(feature = "tracing")]
    pub(crate) fn instrument<F: Future>(self, fut: F) -> InSpan<F> {
        tracing::Instrument::instrument(fut, self.span)
    }

    /// `fut` itself (no spans without the `tracing` feature).
    #[cfg(not(feature = "tracing"))]
    pub(crate) fn instrument<F: Future>(self, fut: F) -> InSpan<F> {
        fut
    }

    /// The span inside `run` (what [`instrument`](Self::instrument)
    /// returned), to record the attempt's outcome on.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn record<F>(run: &InSpan<F>) -> AttemptRecord<'_> {
        AttemptRecord {
            #[cfg(feature = "tracing")]
            span: run.span(),
            #[cfg(not(feature = "tracing"))]
            _run: std::marker::PhantomData,
        }
    }
}

/// An attempt span lent back by its wire future, to record on.
#[derive(Clone, Copy)]
pub(crate) struct AttemptRecord<'a> {
    #[cfg(feature = "tracing")]
    span: &'a tracing::Span,
    #[cfg(not(feature = "tracing"))]
    _run: std::marker::PhantomData<&'a ()>,
}

impl AttemptRecord<'_> {
    /// Records a response status.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn status(&self, status: u16) {
        #[cfg(feature = "tracing")]
        {
            // A disabled span (DEBUG under an INFO filter) still looks the
            // field names up on `record`; skip that.
            if self.span.is_disabled() {
                return;
            }
            self.span.record("http.response.status_code", status);
            if status >= 400 {
                self.span
                    .record("error.type", tracing::field::display(status));
            }
        }
    }

    /// Records a transport error.
    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    pub(crate) fn error(&self, error: ErrorType) {
        #[cfg(feature = "tracing")]
        if !self.span.is_disabled() {
            self.span.record("error.type", error.as_str());
        }
    }
}
