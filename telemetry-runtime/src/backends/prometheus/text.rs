//! The text exposition (format 0.0.4) of the hot-path families, written
//! straight from the atomic instruments into one pre-sized buffer: no
//! per-series `String`, labels escaped in place, numbers formatted with
//! `fmt::Write`.

use std::fmt::Write as _;

use super::state::{CustomEventSeries, HostMetrics, ERROR_STATUS_BASE};
use crate::core::adapter::AdapterTelemetry;
use crate::core::catalog::{Family, Kind, LabelNames};
use crate::core::events::{ErrorType, HttpMethod};
use crate::core::instruments::HistogramSnapshot;
use crate::core::labels::LabelValue;
use crate::core::manifest::Naming;

/// Escapes a label value for the text format (backslash, quote, newline).
///
/// ```
/// let mut out = String::new();
/// telemetry_runtime::backends::prometheus::escape_label("a\"b\\c\nd", &mut out);
/// assert_eq!(out, r#"a\"b\\c\nd"#);
/// ```
pub fn escape_label(v: &str, out: &mut String) {
    if !v.contains(['\\', '"', '\n']) {
        out.push_str(v);
        return;
    }
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Writes `{k="v",...}` (nothing for no pairs).
pub(crate) fn labels(out: &mut String, pairs: &[(&str, &str)]) {
    if pairs.is_empty() {
        return;
    }
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

/// Writes a float as Prometheus expects (`+Inf`, `-Inf`, `NaN`, or decimal).
pub(crate) fn write_f64(out: &mut String, v: f64) {
    if v.is_nan() {
        out.push_str("NaN");
    } else if v.is_infinite() {
        out.push_str(if v > 0.0 { "+Inf" } else { "-Inf" });
    } else {
        let _ = write!(out, "{v}");
    }
}

/// `# HELP` and `# TYPE` lines.
pub(crate) fn header(out: &mut String, name: &str, help: &str, kind: Kind) {
    out.push_str("# HELP ");
    out.push_str(name);
    out.push(' ');
    out.push_str(help);
    out.push_str("\n# TYPE ");
    out.push_str(name);
    out.push(' ');
    out.push_str(kind.as_str());
    out.push('\n');
}

/// One sample line with an integer value.
pub(crate) fn sample_u64(out: &mut String, name: &str, pairs: &[(&str, &str)], v: u64) {
    out.push_str(name);
    labels(out, pairs);
    let _ = writeln!(out, " {v}");
}

/// One sample line with a float value.
#[cfg_attr(not(feature = "process"), allow(dead_code))]
pub(crate) fn sample_f64(out: &mut String, name: &str, pairs: &[(&str, &str)], v: f64) {
    out.push_str(name);
    labels(out, pairs);
    out.push(' ');
    write_f64(out, v);
    out.push('\n');
}

/// The `_bucket`, `_sum` and `_count` lines of one histogram series, with no
/// allocation per bucket.
pub(crate) fn histogram(
    out: &mut String,
    name: &str,
    base: &[(&str, &str)],
    h: &HistogramSnapshot,
) {
    for (i, c) in h.cumulative.iter().enumerate() {
        out.push_str(name);
        out.push_str("_bucket{");
        for (k, v) in base {
            out.push_str(k);
            out.push_str("=\"");
            escape_label(v, out);
            out.push_str("\",");
        }
        out.push_str("le=\"");
        match h.bounds.get(i) {
            Some(b) => write_f64(out, *b),
            None => out.push_str("+Inf"),
        }
        let _ = writeln!(out, "\"}} {c}");
    }
    out.push_str(name);
    out.push_str("_sum");
    labels(out, base);
    out.push(' ');
    write_f64(out, h.sum);
    out.push('\n');
    out.push_str(name);
    out.push_str("_count");
    labels(out, base);
    let _ = writeln!(out, " {}", h.count);
}

/// The `status` label value of a stored status key: the code, or the
/// `error.type` for keys at or above [`ERROR_STATUS_BASE`].
///
/// ```
/// use telemetry_runtime::backends::prometheus::status_label;
/// assert_eq!(status_label(503), "503");
/// assert_eq!(status_label(600), "timeout");
/// ```
pub fn status_label(status: u16) -> std::borrow::Cow<'static, str> {
    match error_type_of(status) {
        Some(t) => std::borrow::Cow::Borrowed(t.as_str()),
        None => std::borrow::Cow::Owned(status.to_string()),
    }
}

/// The error type a stored status key stands for, if it is one.
pub(crate) fn error_type_of(status: u16) -> Option<ErrorType> {
    (status >= ERROR_STATUS_BASE).then(|| {
        ErrorType::ALL
            .get(usize::from(status - ERROR_STATUS_BASE))
            .copied()
            .unwrap_or(ErrorType::Other)
    })
}

/// One adapter with its hosts' hot-path metrics, as rendered.
pub(crate) struct AdapterRows {
    pub(crate) adapter: &'static AdapterTelemetry,
    pub(crate) name: &'static str,
    pub(crate) naming: Naming,
    pub(crate) hosts: Vec<(LabelValue, &'static HostMetrics)>,
    pub(crate) custom: Vec<CustomEventSeries>,
}

/// Renders the hot-path families of `rows` whose naming is `naming`.
pub(crate) fn render_hot(out: &mut String, rows: &[AdapterRows], naming: Naming) {
    let rows: Vec<&AdapterRows> = rows.iter().filter(|r| r.naming == naming).collect();
    if rows.is_empty() {
        return;
    }
    let ln = LabelNames::of(naming);
    let mut status_buf = String::with_capacity(8);

    let f = Family::Requests;
    let name = f.name(naming);
    header(out, name, f.help(), f.kind());
    for r in &rows {
        for (host, m) in &r.hosts {
            let (series, folded) = m.requests.snapshot();
            for (method, status, count) in series {
                let (key, value) = match error_type_of(status) {
                    Some(t) => (ln.error, t.as_str()),
                    None => {
                        status_buf.clear();
                        let _ = write!(status_buf, "{status}");
                        (ln.status, status_buf.as_str())
                    }
                };
                sample_u64(
                    out,
                    name,
                    &[
                        ("adapter", r.name),
                        (ln.host, host.as_str()),
                        (ln.method, method.as_str()),
                        (key, value),
                    ],
                    count,
                );
            }
            if folded > 0 {
                sample_u64(
                    out,
                    name,
                    &[
                        ("adapter", r.name),
                        (ln.host, host.as_str()),
                        (ln.method, "_OTHER"),
                        (ln.status, "_OTHER"),
                    ],
                    folded,
                );
            }
        }
    }

    let f = Family::RequestDuration;
    let name = f.name(naming);
    header(out, name, f.help(), f.kind());
    for r in &rows {
        for (host, m) in &r.hosts {
            for method in HttpMethod::ALL {
                if let Some(h) = m.duration[method.index()].get() {
                    histogram(
                        out,
                        name,
                        &[
                            ("adapter", r.name),
                            (ln.host, host.as_str()),
                            (ln.method, method.as_str()),
                        ],
                        &h.snapshot(),
                    );
                }
            }
        }
    }

    let f = Family::ResponseSize;
    let name = f.name(naming);
    header(out, name, f.help(), f.kind());
    for r in &rows {
        for (host, m) in &r.hosts {
            let snap = m.size.snapshot();
            if snap.count > 0 {
                histogram(
                    out,
                    name,
                    &[("adapter", r.name), (ln.host, host.as_str())],
                    &snap,
                );
            }
        }
    }

    let f = Family::InFlight;
    let name = f.name(naming);
    header(out, name, f.help(), f.kind());
    for r in &rows {
        for (host, m) in &r.hosts {
            let v = m.in_flight.load(std::sync::atomic::Ordering::Relaxed);
            out.push_str(name);
            labels(out, &[("adapter", r.name), (ln.host, host.as_str())]);
            let _ = writeln!(out, " {v}");
        }
    }
}

/// Renders the families that are the same in both namings: custom events,
/// label overflow, sink panics, events dropped.
pub(crate) fn render_runtime(out: &mut String, rows: &[AdapterRows]) {
    let f = Family::AdapterEvents;
    let mut header_done = false;
    for r in rows {
        for (event, values, count) in &r.custom {
            if !header_done {
                header(out, f.prometheus_name(), f.help(), f.kind());
                header_done = true;
            }
            let mut pairs: Vec<(&str, &str)> = Vec::with_capacity(2 + values.len());
            pairs.push(("adapter", r.name));
            pairs.push(("event", event));
            pairs.extend(values.iter().map(|(k, v)| (*k, v.as_str())));
            sample_u64(out, f.prometheus_name(), &pairs, *count);
        }
    }

    let f = Family::LabelOverflow;
    let name = f.prometheus_name();
    header(out, name, f.help(), f.kind());
    for r in rows {
        sample_u64(
            out,
            name,
            &[("adapter", r.name), ("label", "host")],
            r.adapter.hosts().overflow_count(),
        );
        for l in r.adapter.labels() {
            sample_u64(
                out,
                name,
                &[("adapter", r.name), ("label", l.name())],
                l.overflow_count(),
            );
        }
    }

    let f = Family::SinkPanics;
    header(out, f.prometheus_name(), f.help(), f.kind());
    for (sink, n) in crate::core::dispatch::sink_panics() {
        sample_u64(out, f.prometheus_name(), &[("sink", sink)], n);
    }
    let f = Family::EventsDropped;
    header(out, f.prometheus_name(), f.help(), f.kind());
    for (sink, n) in crate::core::dispatch::events_dropped() {
        sample_u64(out, f.prometheus_name(), &[("sink", sink)], n);
    }
    let f = Family::EventsSampledOut;
    header(out, f.prometheus_name(), f.help(), f.kind());
    for (sink, n) in crate::core::dispatch::events_sampled_out() {
        sample_u64(out, f.prometheus_name(), &[("sink", sink)], n);
    }
    let f = Family::EventsSuppressed;
    header(out, f.prometheus_name(), f.help(), f.kind());
    for (sink, n) in crate::core::dispatch::events_suppressed() {
        sample_u64(out, f.prometheus_name(), &[("sink", sink)], n);
    }
}
