//! `/metrics` render time and exporter memory against the series count, ours
//! and metrics-exporter-prometheus, with and without scrapes while samples
//! arrive. Each scenario runs in a fresh process (the `bench` binary re-runs
//! itself), so resident memory is the scenario's own.
//!
//! Sizes are given in Prometheus time series (exposition sample lines: every
//! histogram bucket, `_sum` and `_count` is one). Per host both exporters
//! expose 8 `http_requests_total` series (one per status), a duration
//! histogram (14 buckets + `+Inf` + sum + count) and a size histogram
//! (10 + 3); ours adds `http_in_flight_requests`: 38 or 39 per host, so
//! `series / 39` hosts (at least one).

use std::hint::black_box;
use std::time::Instant;

use crate::HostMetricsExt;
use telemetry_runtime::events::HttpMethod;
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

use crate::harness::{median, rss_bytes};
use crate::micro::Inputs;

/// Statuses recorded per host.
pub const STATUSES: [u16; 8] = [200, 201, 204, 301, 304, 404, 429, 500];

/// Scrapes during the sample phase, when scraping.
pub const SCRAPES: usize = 10;

/// The adapter the "ours" render scenario records into: room for 10 000
/// hosts, the hard maximum of a cap.
#[instrumented_adapter(name = "render_bench", hosts(cap = 10000), budget = 1700170)]
#[derive(Debug)]
pub struct RenderAdapter {}

/// What one scenario measured.
#[derive(Debug, Clone)]
pub struct RenderResult {
    /// "ours" or "metrics-exporter-prometheus".
    pub exporter: String,
    /// Time series asked for (hosts = series / 39).
    pub series: usize,
    /// Hosts, each with 10 label sets (8 counters, 2 histograms).
    pub hosts: usize,
    /// Whether the exporter was scraped while samples arrived.
    pub scraped: bool,
    /// Requests recorded (each: a counter and two histogram samples).
    pub samples: usize,
    /// Time of the first render after the sample phase, milliseconds.
    pub first_render_ms: f64,
    /// Median of five further renders, milliseconds.
    pub steady_render_ms: f64,
    /// Exposition size, bytes.
    pub bytes: usize,
    /// Exposition lines that are samples (not comments).
    pub lines: usize,
    /// RSS after creating the series, before samples, bytes.
    pub rss_registered: u64,
    /// RSS after the sample phase, before the final render, bytes.
    pub rss_after_samples: u64,
    /// RSS after the final renders, bytes.
    pub rss_after_render: u64,
    /// Wall time per recorded request during the sample phase, nanoseconds.
    pub record_ns: f64,
}

impl RenderResult {
    /// One line of `key=value` pairs, what the child prints to its parent.
    pub fn to_line(&self) -> String {
        format!(
            "exporter={} series={} hosts={} scraped={} samples={} first_render_ms={:.3} steady_render_ms={:.3} bytes={} lines={} rss_registered={} rss_after_samples={} rss_after_render={} record_ns={:.1}",
            self.exporter,
            self.series,
            self.hosts,
            self.scraped,
            self.samples,
            self.first_render_ms,
            self.steady_render_ms,
            self.bytes,
            self.lines,
            self.rss_registered,
            self.rss_after_samples,
            self.rss_after_render,
            self.record_ns
        )
    }

    /// Parses [`RenderResult::to_line`].
    pub fn from_line(line: &str) -> Option<Self> {
        let get = |k: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
        };
        Some(RenderResult {
            exporter: get("exporter")?.to_string(),
            series: get("series")?.parse().ok()?,
            hosts: get("hosts")?.parse().ok()?,
            scraped: get("scraped")?.parse().ok()?,
            samples: get("samples")?.parse().ok()?,
            first_render_ms: get("first_render_ms")?.parse().ok()?,
            steady_render_ms: get("steady_render_ms")?.parse().ok()?,
            bytes: get("bytes")?.parse().ok()?,
            lines: get("lines")?.parse().ok()?,
            rss_registered: get("rss_registered")?.parse().ok()?,
            rss_after_samples: get("rss_after_samples")?.parse().ok()?,
            rss_after_render: get("rss_after_render")?.parse().ok()?,
            record_ns: get("record_ns")?.parse().ok()?,
        })
    }
}

/// Hosts for about `series` time series.
pub fn hosts_for(series: usize) -> usize {
    (series / 39).clamp(1, 10_000)
}

fn sample_lines(text: &str) -> usize {
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

fn time_renders(mut render: impl FnMut() -> String) -> (f64, f64, String) {
    let start = Instant::now();
    let text = render();
    let first = start.elapsed().as_secs_f64() * 1e3;
    let steady: Vec<f64> = (0..5)
        .map(|_| {
            let start = Instant::now();
            black_box(render());
            start.elapsed().as_secs_f64() * 1e3
        })
        .collect();
    (first, median(&steady), text)
}

/// Ours: hosts interned into [`RenderAdapter`], metrics recorded through the
/// cached per-host handles, rendered by the Prometheus backend.
pub fn ours(series: usize, samples: usize, scraped: bool) -> RenderResult {
    let tel = RenderAdapter::telemetry();
    let inputs = Inputs::get();
    let hosts: Vec<_> = (0..hosts_for(series))
        .map(|i| tel.hosts().intern_host(&format!("h{i}.example.com"), None))
        .collect();
    for (i, &h) in hosts.iter().enumerate() {
        for s in STATUSES {
            tel.host_metrics(h).record(
                HttpMethod::Get,
                s,
                inputs.durations[i % 1024],
                Some(inputs.sizes[i % 1024]),
            );
        }
    }
    let render = telemetry_runtime::backends::prometheus::render;
    black_box(render());
    let rss_registered = rss_bytes();
    let every = samples / SCRAPES;
    let start = Instant::now();
    for j in 0..samples {
        let h = hosts[j % hosts.len()];
        tel.host_metrics(h).record(
            HttpMethod::Get,
            STATUSES[j % 8],
            inputs.durations[j % 1024],
            Some(inputs.sizes[j % 1024]),
        );
        if scraped && j % every == every - 1 {
            black_box(render());
        }
    }
    let record_ns = start.elapsed().as_nanos() as f64 / samples as f64;
    let rss_after_samples = rss_bytes();
    let (first, steady, text) = time_renders(render);
    RenderResult {
        exporter: "ours".into(),
        series,
        hosts: hosts.len(),
        scraped,
        samples,
        first_render_ms: first,
        steady_render_ms: steady,
        bytes: text.len(),
        lines: sample_lines(&text),
        rss_registered,
        rss_after_samples,
        rss_after_render: rss_bytes(),
        record_ns,
    }
}

/// metrics-exporter-prometheus through the `metrics` facade, with cached
/// handles (its fast path) and histogram buckets equal to ours.
pub fn metrics_exporter(series: usize, samples: usize, scraped: bool) -> RenderResult {
    let handle = crate::micro::metrics_handle();
    let inputs = Inputs::get();
    let hosts: Vec<String> = (0..hosts_for(series))
        .map(|i| format!("h{i}.example.com"))
        .collect();
    let per_host: Vec<_> = hosts
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let counters: Vec<_> = STATUSES
                .iter()
                .map(|s| {
                    metrics::counter!("http_requests_total", "adapter" => "render_bench", "host" => h.clone(), "method" => "GET", "status" => s.to_string())
                })
                .collect();
            let d = metrics::histogram!("http_request_duration_seconds", "adapter" => "render_bench", "host" => h.clone(), "method" => "GET");
            let s = metrics::histogram!("http_response_size_bytes", "adapter" => "render_bench", "host" => h.clone());
            for c in &counters {
                c.increment(1);
            }
            d.record(inputs.durations[i % 1024].as_secs_f64());
            s.record(inputs.sizes[i % 1024] as f64);
            (counters, d, s)
        })
        .collect();
    black_box(handle.render());
    let rss_registered = rss_bytes();
    let every = samples / SCRAPES;
    let start = Instant::now();
    for j in 0..samples {
        let (counters, d, s) = &per_host[j % per_host.len()];
        counters[j % 8].increment(1);
        d.record(inputs.durations[j % 1024].as_secs_f64());
        s.record(inputs.sizes[j % 1024] as f64);
        if scraped && j % every == every - 1 {
            black_box(handle.render());
        }
    }
    let record_ns = start.elapsed().as_nanos() as f64 / samples as f64;
    let rss_after_samples = rss_bytes();
    let (first, steady, text) = time_renders(|| handle.render());
    RenderResult {
        exporter: "metrics-exporter-prometheus".into(),
        series,
        hosts: hosts.len(),
        scraped,
        samples,
        first_render_ms: first,
        steady_render_ms: steady,
        bytes: text.len(),
        lines: sample_lines(&text),
        rss_registered,
        rss_after_samples,
        rss_after_render: rss_bytes(),
        record_ns,
    }
}
