//! The Prometheus backend: a sink that records the metric catalogue, and the
//! text exposition.
//!
//! Request metrics (`http_requests_total`, `http_request_duration_seconds`,
//! `http_response_size_bytes`, `http_in_flight_requests`) are recorded into the
//! lock-free [`crate::instruments`] of each bounded host, through handles
//! cached per host label value.

use std::fmt::Write as _;

use crate::events::ErrorType;
use crate::events::{ErrorEvent, RequestEvent, ResponseEvent};
use crate::instruments::{HistogramSnapshot, ERROR_STATUS_BASE};
use crate::sink::EventSink;
use crate::telemetry::registered_adapters;

/// Records the metric catalogue from events.
///
/// ```
/// use telemetry_runtime::backends::prometheus::{PrometheusSink, render};
/// telemetry_runtime::dispatch::set_global_sink(PrometheusSink::new());
/// let text = render();
/// assert!(text.is_empty() || text.contains("# TYPE"));
/// # telemetry_runtime::dispatch::clear_global_sink();
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct PrometheusSink;

impl PrometheusSink {
    /// A new sink (all state lives in the adapters' statics).
    pub fn new() -> Self {
        PrometheusSink
    }
}

impl EventSink for PrometheusSink {
    fn name(&self) -> &'static str {
        "prometheus"
    }
    fn on_request(&self, e: &RequestEvent) {
        let m = e.meta.adapter.host_metrics(e.meta.host);
        m.in_flight
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    fn on_response(&self, e: &ResponseEvent) {
        let m = e.meta.adapter.host_metrics(e.meta.host);
        m.in_flight
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
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
            m.in_flight
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
        }
        let status = ERROR_STATUS_BASE + error_index(e.error_type) as u16;
        m.requests.add(e.method, status);
        m.duration_for(e.method).observe_duration(e.duration);
    }
}

fn error_index(t: ErrorType) -> usize {
    ErrorType::ALL.iter().position(|x| *x == t).unwrap_or(0)
}

/// The `status` label value of a stored status key.
pub fn status_label(status: u16) -> std::borrow::Cow<'static, str> {
    if status >= ERROR_STATUS_BASE {
        let t = ErrorType::ALL
            .get(usize::from(status - ERROR_STATUS_BASE))
            .copied()
            .unwrap_or(ErrorType::Other);
        std::borrow::Cow::Borrowed(t.as_str())
    } else {
        std::borrow::Cow::Owned(status.to_string())
    }
}

/// Escapes a label value for the text format (backslash, quote, newline).
pub fn escape_label(v: &str, out: &mut String) {
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

fn labels(out: &mut String, pairs: &[(&str, &str)]) {
    out.push('{');
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(k);
        out.push_str("=\"");
        escape_label(v, out);
        out.push('"');
    }
    out.push('}');
}

fn fmt_f64(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 {
            "+Inf".into()
        } else {
            "-Inf".into()
        }
    } else {
        format!("{v}")
    }
}

fn histogram(out: &mut String, name: &str, base: &[(&str, &str)], h: &HistogramSnapshot) {
    for (i, c) in h.cumulative.iter().enumerate() {
        let le = h
            .bounds
            .get(i)
            .map_or_else(|| "+Inf".to_string(), |b| fmt_f64(*b));
        let mut pairs = base.to_vec();
        pairs.push(("le", &le));
        out.push_str(name);
        out.push_str("_bucket");
        labels(out, &pairs);
        let _ = writeln!(out, " {c}");
    }
    out.push_str(name);
    out.push_str("_sum");
    labels(out, base);
    let _ = writeln!(out, " {}", fmt_f64(h.sum));
    out.push_str(name);
    out.push_str("_count");
    labels(out, base);
    let _ = writeln!(out, " {}", h.count);
}

/// Renders every registered adapter's metrics in the Prometheus text format
/// (version 0.0.4).
pub fn render() -> String {
    let mut out = String::with_capacity(16 * 1024);
    render_into(&mut out);
    out
}

/// [`render`] into an existing buffer.
pub fn render_into(out: &mut String) {
    let adapters = registered_adapters();
    let per_host: Vec<_> = adapters
        .iter()
        .map(|a| (a.manifest().name, a.all_host_metrics()))
        .collect();

    out.push_str("# HELP http_requests_total HTTP requests by adapter, host, method and status (code, or error.type when no response).\n# TYPE http_requests_total counter\n");
    for (adapter, hosts) in &per_host {
        for (host, m) in hosts {
            let (series, folded) = m.requests.snapshot();
            for (method, status, count) in series {
                let status = status_label(status);
                out.push_str("http_requests_total");
                labels(
                    out,
                    &[
                        ("adapter", adapter),
                        ("host", host.as_str()),
                        ("method", method.as_str()),
                        ("status", &status),
                    ],
                );
                let _ = writeln!(out, " {count}");
            }
            if folded > 0 {
                out.push_str("http_requests_total");
                labels(
                    out,
                    &[
                        ("adapter", adapter),
                        ("host", host.as_str()),
                        ("method", "_OTHER"),
                        ("status", "_OTHER"),
                    ],
                );
                let _ = writeln!(out, " {folded}");
            }
        }
    }

    out.push_str("# HELP http_request_duration_seconds Duration of HTTP wire attempts.\n# TYPE http_request_duration_seconds histogram\n");
    for (adapter, hosts) in &per_host {
        for (host, m) in hosts {
            for method in crate::events::HttpMethod::ALL {
                if let Some(h) = m.duration[method.index()].get() {
                    histogram(
                        out,
                        "http_request_duration_seconds",
                        &[
                            ("adapter", adapter),
                            ("host", host.as_str()),
                            ("method", method.as_str()),
                        ],
                        &h.snapshot(),
                    );
                }
            }
        }
    }

    out.push_str("# HELP http_response_size_bytes Size of HTTP response bodies.\n# TYPE http_response_size_bytes histogram\n");
    for (adapter, hosts) in &per_host {
        for (host, m) in hosts {
            let snap = m.size.snapshot();
            if snap.count > 0 {
                histogram(
                    out,
                    "http_response_size_bytes",
                    &[("adapter", adapter), ("host", host.as_str())],
                    &snap,
                );
            }
        }
    }

    out.push_str("# HELP http_in_flight_requests HTTP wire attempts in flight.\n# TYPE http_in_flight_requests gauge\n");
    for (adapter, hosts) in &per_host {
        for (host, m) in hosts {
            out.push_str("http_in_flight_requests");
            labels(out, &[("adapter", adapter), ("host", host.as_str())]);
            let _ = writeln!(
                out,
                " {}",
                m.in_flight.load(std::sync::atomic::Ordering::Relaxed)
            );
        }
    }

    out.push_str("# HELP adapter_events_total Custom adapter events by event and declared labels.\n# TYPE adapter_events_total counter\n");
    for a in &adapters {
        for (event, values, count) in a.custom_event_counts() {
            let mut pairs: Vec<(&str, &str)> =
                vec![("adapter", a.manifest().name), ("event", event)];
            pairs.extend(values.iter().map(|(k, v)| (*k, v.as_str())));
            out.push_str("adapter_events_total");
            labels(out, &pairs);
            let _ = writeln!(out, " {count}");
        }
    }

    out.push_str("# HELP telemetry_label_overflow_total Label values folded into _OTHER because a cap was reached or the value was unsafe.\n# TYPE telemetry_label_overflow_total counter\n");
    for a in &adapters {
        let name = a.manifest().name;
        let mut emit = |label: &str, n: u64| {
            out.push_str("telemetry_label_overflow_total");
            labels(out, &[("adapter", name), ("label", label)]);
            let _ = writeln!(out, " {n}");
        };
        emit("host", a.hosts().overflow_count());
        for l in a.labels() {
            emit(l.name(), l.overflow_count());
        }
    }

    out.push_str("# HELP telemetry_sink_panics_total Panics caught in event sinks.\n# TYPE telemetry_sink_panics_total counter\n");
    for (sink, n) in crate::dispatch::sink_panics() {
        out.push_str("telemetry_sink_panics_total");
        labels(out, &[("sink", sink)]);
        let _ = writeln!(out, " {n}");
    }
    out.push_str("# HELP telemetry_events_dropped_total Events dropped by sinks (full queues).\n# TYPE telemetry_events_dropped_total counter\n");
    for (sink, n) in crate::dispatch::events_dropped() {
        out.push_str("telemetry_events_dropped_total");
        labels(out, &[("sink", sink)]);
        let _ = writeln!(out, " {n}");
    }
}
