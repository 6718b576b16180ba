//! The text exposition (format 0.0.4) of the hot-path families, written
//! straight from the atomic instruments into one pre-sized buffer: no
//! per-series `String`, labels escaped in place, numbers formatted with
//! `fmt::Write`.

use std::fmt::Write as _;

use super::state::{CustomEventSeries, HostMetrics, StatusKey, StatusTable};
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

/// The `status` value of a response whose code no server sends (below 100
/// or above 999), and of the `(method, status)` pairs folded past the
/// [`STATUS_SLOTS`](super::state::STATUS_SLOTS) of a host, which are written
/// as `method="_OTHER",status="_OTHER"`.
pub const OTHER_CODE_STATUS: &str = "_OTHER";

/// The `status` value, in Prometheus naming, of an attempt that failed with
/// an unclassified error ([`ErrorType::Other`], whose `error.type` is
/// `_OTHER`). It is not `_OTHER`: in Prometheus naming codes and error types
/// share the `status` label, and `_OTHER` belongs to odd codes and folded
/// pairs. (OpenTelemetry naming writes `error_type="_OTHER"`: another label.)
pub const OTHER_ERROR_STATUS: &str = "other_error";

/// The `status` label value of a response code: the code itself for every
/// code a server can send (`100..=999`), [`OTHER_CODE_STATUS`] for the rest.
///
/// ```
/// use telemetry_runtime::backends::prometheus::status_label;
/// assert_eq!(status_label(503), "503");
/// assert_eq!(status_label(600), "600");
/// assert_eq!(status_label(999), "999");
/// assert_eq!(status_label(1000), "_OTHER");
/// assert_eq!(status_label(42), "_OTHER");
/// ```
pub fn status_label(status: u16) -> std::borrow::Cow<'static, str> {
    match status {
        100..=999 => std::borrow::Cow::Owned(status.to_string()),
        _ => std::borrow::Cow::Borrowed(OTHER_CODE_STATUS),
    }
}

/// The value of the label an attempt without a response carries (`status` in
/// Prometheus naming, `error_type` in OpenTelemetry naming): the
/// `error.type`, except that Prometheus naming writes [`ErrorType::Other`]
/// as [`OTHER_ERROR_STATUS`].
///
/// ```
/// use telemetry_runtime::backends::prometheus::error_label;
/// use telemetry_runtime::events::ErrorType;
/// use telemetry_runtime::manifest::Naming;
/// assert_eq!(error_label(ErrorType::Timeout, Naming::Prometheus), "timeout");
/// assert_eq!(error_label(ErrorType::Other, Naming::Prometheus), "other_error");
/// assert_eq!(error_label(ErrorType::Other, Naming::OpenTelemetry), "_OTHER");
/// ```
pub fn error_label(error: ErrorType, naming: Naming) -> &'static str {
    match (naming, error) {
        (Naming::Prometheus, ErrorType::Other) => OTHER_ERROR_STATUS,
        _ => error.as_str(),
    }
}

/// A `(method, status)` key as written: the codes a server can send keep
/// their own value, every other code of a method shares one `_OTHER` value,
/// error types come last. Keys that are written alike compare equal, so
/// merging equal neighbours after a sort leaves one line per series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum WrittenStatus {
    Code(u16),
    OtherCode,
    Error(usize),
}

impl WrittenStatus {
    fn of(status: StatusKey) -> Self {
        match status {
            StatusKey::Code(c @ 100..=999) => WrittenStatus::Code(c),
            StatusKey::Code(_) => WrittenStatus::OtherCode,
            StatusKey::Error(t) => WrittenStatus::Error(t as usize),
        }
    }
}

/// The `http_requests_total` series of one host, one entry per distinct
/// label set: odd codes of a method merged into its `_OTHER` code, and the
/// folded pairs merged into `(_OTHER, _OTHER)` (which an odd code of an
/// unknown method also is).
fn request_series(requests: &StatusTable) -> Vec<(HttpMethod, WrittenStatus, u64)> {
    let (series, folded) = requests.snapshot();
    let mut written: Vec<(HttpMethod, WrittenStatus, u64)> = series
        .into_iter()
        .map(|(m, s, n)| (m, WrittenStatus::of(s), n))
        .collect();
    if folded > 0 {
        written.push((HttpMethod::Other, WrittenStatus::OtherCode, folded));
    }
    written.sort_by_key(|(m, s, _)| (m.index(), *s));
    written.dedup_by(|later, kept| {
        let same = later.0 == kept.0 && later.1 == kept.1;
        if same {
            kept.2 += later.2;
        }
        same
    });
    written
}

/// The `http_requests_total` sample lines of one host (no header).
fn request_lines(
    out: &mut String,
    name: &str,
    naming: Naming,
    adapter: &str,
    host: &str,
    requests: &StatusTable,
) {
    let ln = LabelNames::of(naming);
    let mut code = String::with_capacity(8);
    for (method, status, count) in request_series(requests) {
        let (key, value) = match status {
            WrittenStatus::Code(c) => {
                code.clear();
                let _ = write!(code, "{c}");
                (ln.status, code.as_str())
            }
            WrittenStatus::OtherCode => (ln.status, OTHER_CODE_STATUS),
            WrittenStatus::Error(i) => {
                let t = ErrorType::ALL.get(i).copied().unwrap_or(ErrorType::Other);
                (ln.error, error_label(t, naming))
            }
        };
        sample_u64(
            out,
            name,
            &[
                ("adapter", adapter),
                (ln.host, host),
                (ln.method, method.as_str()),
                (key, value),
            ],
            count,
        );
    }
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

    let f = Family::Requests;
    let name = f.name(naming);
    header(out, name, f.help(), f.kind());
    for r in &rows {
        for (host, m) in &r.hosts {
            request_lines(out, name, naming, r.name, host.as_str(), &m.requests);
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

    let f = Family::BodyDuration;
    let name = f.name(naming);
    header(out, name, f.help(), f.kind());
    for r in &rows {
        for (host, m) in &r.hosts {
            if let Some(h) = m.body_duration.get() {
                histogram(
                    out,
                    name,
                    &[("adapter", r.name), (ln.host, host.as_str())],
                    &h.snapshot(),
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
    let f = Family::SinkWriteErrors;
    header(out, f.prometheus_name(), f.help(), f.kind());
    for (sink, n) in crate::core::dispatch::sink_write_errors() {
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
    let f = Family::ConfigReloads;
    header(out, f.prometheus_name(), f.help(), f.kind());
    let (success, error) = crate::core::reloads::config_reloads();
    sample_u64(out, f.prometheus_name(), &[("result", "success")], success);
    sample_u64(out, f.prometheus_name(), &[("result", "error")], error);
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::state::STATUS_SLOTS;
    use super::*;

    /// The `(label name, value)` a key is written with.
    fn written(naming: Naming, s: WrittenStatus) -> (&'static str, String) {
        let ln = LabelNames::of(naming);
        match s {
            WrittenStatus::Code(c) => (ln.status, c.to_string()),
            WrittenStatus::OtherCode => (ln.status, OTHER_CODE_STATUS.to_owned()),
            WrittenStatus::Error(i) => (ln.error, error_label(ErrorType::ALL[i], naming).into()),
        }
    }

    #[test]
    fn distinct_written_keys_get_distinct_labels() {
        // Every key, code or error type, maps to one written key, and two
        // written keys never share a label: the merge in `request_series`
        // is the only place where keys meet.
        let keys = (0..=u16::MAX)
            .map(StatusKey::Code)
            .chain(ErrorType::ALL.iter().map(|t| StatusKey::Error(*t)));
        for naming in [Naming::Prometheus, Naming::OpenTelemetry] {
            let mut by_label: HashMap<(&str, String), WrittenStatus> = HashMap::new();
            for key in keys.clone() {
                let w = WrittenStatus::of(key);
                let label = written(naming, w);
                if let Some(other) = by_label.insert(label.clone(), w) {
                    assert_eq!(other, w, "{naming:?}: {label:?} written for two keys");
                }
            }
            // 900 codes, one `_OTHER` code, every error type.
            assert_eq!(by_label.len(), 900 + 1 + ErrorType::ALL.len(), "{naming:?}");
        }
        assert_eq!(status_label(600), "600");
        assert_eq!(status_label(99), OTHER_CODE_STATUS);
        assert_ne!(OTHER_ERROR_STATUS, OTHER_CODE_STATUS);
    }

    #[test]
    fn odd_codes_and_folded_pairs_merge_into_one_line() {
        let t = StatusTable::default();
        // Three codes no server sends, for GET: one `_OTHER` line.
        for code in [0, 42, 1000] {
            t.add(HttpMethod::Get, code);
        }
        // An odd code of an unknown method is `(_OTHER, _OTHER)`, the line
        // of the folded pairs too; the unclassified error is not.
        t.add(HttpMethod::Other, 65535);
        t.add_error(HttpMethod::Other, ErrorType::Other);
        t.add(HttpMethod::Get, 600);
        // Fill the table, then fold three more pairs.
        for code in 0..STATUS_SLOTS as u16 {
            t.add(HttpMethod::Post, 200 + code);
        }
        let mut out = String::new();
        request_lines(&mut out, "r", Naming::Prometheus, "a", "h", &t);
        let count = |line: &str| out.lines().filter(|l| l.starts_with(line)).count();
        assert_eq!(
            count(r#"r{adapter="a",host="h",method="GET",status="_OTHER"} 3"#),
            1
        );
        assert_eq!(
            count(r#"r{adapter="a",host="h",method="GET",status="600"} 1"#),
            1
        );
        assert_eq!(
            count(r#"r{adapter="a",host="h",method="_OTHER",status="other_error"} 1"#),
            1
        );
        // 6 keys claimed 6 slots, POST got the other 26, 6 folded; plus the
        // odd code of the unknown method.
        assert_eq!(
            count(r#"r{adapter="a",host="h",method="_OTHER",status="_OTHER"} 7"#),
            1,
            "{out}"
        );
        let lines: Vec<&str> = out
            .lines()
            .map(|l| l.rsplit_once(' ').map_or(l, |(series, _)| series))
            .collect();
        let unique: std::collections::HashSet<&&str> = lines.iter().collect();
        assert_eq!(unique.len(), lines.len(), "{out}");

        let mut out = String::new();
        request_lines(&mut out, "r", Naming::OpenTelemetry, "a", "h", &t);
        assert!(out.contains(r#"r{adapter="a",server_address="h",http_request_method="_OTHER",error_type="_OTHER"} 1"#), "{out}");
        assert!(out.contains(r#"r{adapter="a",server_address="h",http_request_method="_OTHER",http_response_status_code="_OTHER"} 7"#), "{out}");
    }
}
