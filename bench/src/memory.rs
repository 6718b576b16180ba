//! A million distinct hosts: series count and resident memory, ours (through
//! `BoundedLabel` and `AdapterTelemetry`) and the peers' (dynamic host
//! labels). Each exporter runs in a fresh process.

use std::fmt::Write as _;
use std::hint::black_box;
use std::time::Instant;

use crate::HostMetricsExt;
use telemetry_runtime::events::HttpMethod;
use telemetry_runtime::InstrumentedAdapter;

use crate::harness::rss_bytes;
use crate::micro::{BenchAdapter, Inputs};

/// Hosts fed in total.
pub const HOSTS: usize = 1_000_000;

/// Where the scenario stops to measure.
pub const CHECKPOINTS: [usize; 6] = [1_000, 10_000, 100_000, 250_000, 500_000, 1_000_000];

/// One checkpoint.
#[derive(Debug, Clone, Copy)]
pub struct Checkpoint {
    /// Distinct hosts fed so far.
    pub hosts: usize,
    /// Resident memory, bytes.
    pub rss: u64,
}

/// What one exporter did with a million hosts.
#[derive(Debug, Clone)]
pub struct HostsResult {
    /// Exporter name.
    pub exporter: String,
    /// The host cap (0 = none).
    pub cap: u32,
    /// RSS before the first host, bytes.
    pub rss_start: u64,
    /// The checkpoints.
    pub checkpoints: Vec<Checkpoint>,
    /// `http_requests_total` series in the final exposition.
    pub series: usize,
    /// Wall time per host (intern + record), nanoseconds.
    pub ns_per_host: f64,
}

impl HostsResult {
    /// `key=value` line for the parent process.
    pub fn to_line(&self) -> String {
        let cps: Vec<String> = self
            .checkpoints
            .iter()
            .map(|c| format!("{}:{}", c.hosts, c.rss))
            .collect();
        format!(
            "exporter={} cap={} rss_start={} series={} ns_per_host={:.1} checkpoints={}",
            self.exporter,
            self.cap,
            self.rss_start,
            self.series,
            self.ns_per_host,
            cps.join(",")
        )
    }

    /// Parses [`HostsResult::to_line`].
    pub fn from_line(line: &str) -> Option<Self> {
        let get = |k: &str| {
            line.split_whitespace()
                .find_map(|kv| kv.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
        };
        let checkpoints = get("checkpoints")?
            .split(',')
            .map(|c| {
                let (h, r) = c.split_once(':')?;
                Some(Checkpoint {
                    hosts: h.parse().ok()?,
                    rss: r.parse().ok()?,
                })
            })
            .collect::<Option<Vec<_>>>()?;
        Some(HostsResult {
            exporter: get("exporter")?.to_string(),
            cap: get("cap")?.parse().ok()?,
            rss_start: get("rss_start")?.parse().ok()?,
            checkpoints,
            series: get("series")?.parse().ok()?,
            ns_per_host: get("ns_per_host")?.parse().ok()?,
        })
    }
}

fn feed(mut record: impl FnMut(&str, usize)) -> (Vec<Checkpoint>, f64) {
    let mut buf = String::with_capacity(64);
    let mut checkpoints = Vec::new();
    let mut next = 0;
    let start = Instant::now();
    for i in 0..HOSTS {
        buf.clear();
        let _ = write!(buf, "h{i}.tenant-{}.example.com", i % 97);
        record(&buf, i);
        if i + 1 == CHECKPOINTS[next] {
            checkpoints.push(Checkpoint {
                hosts: i + 1,
                rss: rss_bytes(),
            });
            next = (next + 1).min(CHECKPOINTS.len() - 1);
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / HOSTS as f64;
    (checkpoints, ns)
}

fn count_series(text: &str, metric: &str) -> usize {
    text.lines()
        .filter(|l| l.starts_with(metric) && l[metric.len()..].starts_with('{'))
        .count()
}

/// Ours: every host interned into the adapter's bounded `host` label (cap
/// 16) and a request recorded for it.
pub fn ours() -> HostsResult {
    let tel = BenchAdapter::telemetry();
    let inputs = Inputs::get();
    let rss_start = rss_bytes();
    let (checkpoints, ns_per_host) = feed(|host, i| {
        let h = tel.hosts().intern_host(host, Some("https"));
        tel.host_metrics(h).record(
            HttpMethod::Get,
            200,
            inputs.durations[i % 1024],
            Some(inputs.sizes[i % 1024]),
        );
    });
    let text = telemetry_runtime::backends::prometheus::render();
    HostsResult {
        exporter: "ours".into(),
        cap: tel.hosts().cap(),
        rss_start,
        checkpoints,
        series: count_series(&text, "http_requests_total"),
        ns_per_host,
    }
}

/// metrics-exporter-prometheus: `counter!` with the host as a dynamic label.
pub fn metrics_exporter() -> HostsResult {
    let handle = crate::micro::metrics_handle();
    let rss_start = rss_bytes();
    let (checkpoints, ns_per_host) = feed(|host, _| {
        metrics::counter!("http_requests_total", "host" => host.to_owned()).increment(1);
    });
    let text = handle.render();
    HostsResult {
        exporter: "metrics-exporter-prometheus (counter! only)".into(),
        cap: 0,
        rss_start,
        checkpoints,
        series: count_series(&text, "http_requests_total"),
        ns_per_host,
    }
}

/// rust-prometheus: an `IntCounterVec` with a host label.
pub fn rust_prometheus() -> HostsResult {
    let vec = match prometheus::IntCounterVec::new(
        prometheus::Opts::new("http_requests_total", "requests"),
        &["host"],
    ) {
        Ok(v) => v,
        Err(e) => panic!("static metric definition rejected: {e}"),
    };
    let rss_start = rss_bytes();
    let (checkpoints, ns_per_host) = feed(|host, _| {
        vec.with_label_values(&[host]).inc();
    });
    use prometheus::core::Collector;
    let series: usize = vec.collect().iter().map(|mf| mf.get_metric().len()).sum();
    black_box(&vec);
    HostsResult {
        exporter: "rust-prometheus IntCounterVec (counter only)".into(),
        cap: 0,
        rss_start,
        checkpoints,
        series,
        ns_per_host,
    }
}
