//! What the dashboard shows, computed once a second while a client watches:
//! a frame of every host's numbers over the recent window, and a bounded
//! history of them for the charts.
//!
//! Inputs are the health backend's cumulative counters and latency buckets
//! per host (`backends::health::hosts`, with the live breaker and limiter
//! state of the owning client) and its retry count, the owning client's
//! in-flight requests (`core::live`), the health monitor's judgement, and the process's CPU time and
//! resident memory. Every rate, ratio and quantile is the difference between
//! the newest sample and the one [`WINDOW`] samples before it.

use std::collections::{BTreeMap, VecDeque};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{json, Value};

use super::observer;
use crate::backends::health as state;
use crate::core::adapter::{registered_adapters, AdapterTelemetry};
use crate::core::events::now_unix_nanos;
use crate::core::instruments::histogram_quantile;
use crate::core::live;
use crate::server::health::{HealthReport, Status};

/// Seconds between samples.
pub(crate) const INTERVAL: Duration = Duration::from_secs(1);
/// Samples back the card values look (10 s at one a second).
pub(crate) const WINDOW: usize = 10;
/// Points kept per host for the charts (5 minutes at one a second).
pub(crate) const HISTORY: usize = 300;

/// Cumulative totals of one host at one sample.
#[derive(Debug, Clone)]
struct Cumulative {
    at: Instant,
    requests: u64,
    errors: u64,
    rejections: u64,
    retries: u64,
    buckets: Vec<u64>,
}

/// One chart point: the card's values at one second.
#[derive(Debug, Clone, Copy, Serialize)]
pub(crate) struct Point {
    /// Milliseconds since the Unix epoch.
    pub(crate) t: u64,
    /// Wire attempts per second over the window.
    pub(crate) rate: f64,
    /// Failed attempts over attempts in the window (`None`: no attempt).
    pub(crate) err: Option<f64>,
    /// p99 attempt latency over the window, milliseconds.
    pub(crate) p99: Option<f64>,
    /// In-flight attempts now.
    pub(crate) inflight: i64,
}

#[derive(Debug, Default)]
struct HostHistory {
    recent: VecDeque<Cumulative>,
    points: VecDeque<Point>,
}

/// The numbers of one host, as a card shows them.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct HostFrame {
    pub(crate) adapter: &'static str,
    pub(crate) host: &'static str,
    /// `pass`, `warn` or `fail`: the health judgement, with half-open
    /// breakers and saturated limiters as warnings.
    pub(crate) status: Status,
    /// The failed health checks, in words.
    pub(crate) reasons: Vec<String>,
    pub(crate) requests_total: u64,
    pub(crate) errors_total: u64,
    pub(crate) rejections_total: u64,
    pub(crate) retries_total: u64,
    /// Attempts per second over the window (`None` until two samples).
    pub(crate) rate: Option<f64>,
    pub(crate) error_ratio: Option<f64>,
    pub(crate) retry_rate: Option<f64>,
    pub(crate) rejection_rate: Option<f64>,
    pub(crate) p50_ms: Option<f64>,
    pub(crate) p99_ms: Option<f64>,
    pub(crate) in_flight: i64,
    pub(crate) queue_depth: Option<u32>,
    pub(crate) saturation: Option<f64>,
    pub(crate) breaker: Option<&'static str>,
    /// Milliseconds since the Unix epoch of the breaker's last transition.
    pub(crate) breaker_since: Option<u64>,
    /// Seconds the frame's window covers.
    pub(crate) window_s: f64,
}

/// The sampler's state: history per host and process, and where the error
/// ring was read up to.
#[derive(Debug, Default)]
pub(crate) struct Sampler {
    hosts: BTreeMap<(&'static str, &'static str), HostHistory>,
    process: VecDeque<ProcessPoint>,
    last_cpu: Option<(Instant, f64)>,
    errors_seen: u64,
    samples: u64,
}

#[derive(Debug, Clone, Copy, Serialize)]
struct ProcessPoint {
    t: u64,
    rss_bytes: Option<u64>,
    cpu_ratio: Option<f64>,
}

fn judged(report: &HealthReport, adapter: &str, host: &str) -> (Status, Vec<String>) {
    report
        .adapters
        .iter()
        .filter(|a| a.adapter == adapter)
        .flat_map(|a| a.hosts.iter())
        .find(|h| h.host == host)
        .map_or((Status::Pass, Vec::new()), |h| {
            (
                h.status,
                h.checks
                    .iter()
                    .filter(|c| c.status != Status::Pass)
                    .map(|c| c.output.clone())
                    .collect(),
            )
        })
}

impl Sampler {
    /// Samples taken so far.
    pub(crate) fn samples(&self) -> u64 {
        self.samples
    }

    /// Takes a sample of every host and returns the frame: what every card
    /// shows now, the process, and the errors new since the last frame.
    pub(crate) fn sample(&mut self, report: &HealthReport) -> Value {
        self.samples += 1;
        let now = Instant::now();
        let t = now_unix_nanos() / 1_000_000;
        let mut frames = Vec::new();
        let mut idle = Vec::new();
        for a in registered_adapters() {
            let before = frames.len();
            self.sample_adapter(a, now, t, report, &mut frames);
            if frames.len() == before {
                idle.push(a.manifest().name);
            }
        }
        let process = self.sample_process(now, t);
        let errors = observer::errors_after(self.errors_seen);
        if let Some(last) = errors.last() {
            self.errors_seen = last.seq;
        }
        json!({
            "t": t,
            "interval_s": INTERVAL.as_secs_f64(),
            "window_samples": WINDOW,
            "watchers": observer::watchers(),
            "hosts": frames,
            "idle_adapters": idle,
            "process": process,
            "errors": errors,
        })
    }

    fn sample_adapter(
        &mut self,
        a: &'static AdapterTelemetry,
        now: Instant,
        t: u64,
        report: &HealthReport,
        frames: &mut Vec<HostFrame>,
    ) {
        let adapter = a.manifest().name;
        let live = live::host_states(a.id()).unwrap_or_default();
        for h in state::hosts(a) {
            let host = h.host.as_str();
            // Hosts folded into one label (`_OTHER`) add up.
            let in_flight: i64 = live
                .iter()
                .filter(|l| l.host == host)
                .filter_map(|l| l.in_flight)
                .map(i64::from)
                .sum();
            let retries = h.retries;
            let cur = Cumulative {
                at: now,
                requests: h.requests,
                errors: h.errors,
                rejections: h.rejections,
                retries,
                buckets: h.buckets.clone(),
            };
            let hist = self.hosts.entry((adapter, host)).or_default();
            // A gap (nobody watched for a while): the old samples say
            // nothing about the last seconds, start the window afresh.
            if hist
                .recent
                .back()
                .is_some_and(|b| now.duration_since(b.at) > INTERVAL * 3)
            {
                hist.recent.clear();
            }
            hist.recent.push_back(cur);
            while hist.recent.len() > WINDOW + 1 {
                hist.recent.pop_front();
            }
            let (Some(first), Some(last)) = (hist.recent.front(), hist.recent.back()) else {
                continue;
            };
            let secs = last.at.duration_since(first.at).as_secs_f64();
            let has_window = hist.recent.len() >= 2 && secs > 0.0;
            let requests = last.requests.saturating_sub(first.requests);
            let errors = last.errors.saturating_sub(first.errors);
            let per_sec = |n: u64| has_window.then(|| n as f64 / secs);
            let delta: Vec<u64> = last
                .buckets
                .iter()
                .zip(first.buckets.iter().chain(std::iter::repeat(&0)))
                .map(|(c, b)| c.saturating_sub(*b))
                .collect();
            let ms = |q: f64| {
                if has_window {
                    histogram_quantile(q, &delta, h.bounds).map(|s| s * 1000.0)
                } else {
                    None
                }
            };
            let (mut status, reasons) = judged(report, adapter, host);
            let breaker = h.state.map(|s| s.breaker.as_str());
            let saturation = h.state.map(|s| s.limiter_saturation);
            if status == Status::Pass
                && (breaker == Some("half_open") || saturation.is_some_and(|s| s >= 0.8))
            {
                status = Status::Warn;
            }
            if breaker == Some("open") {
                status = Status::Fail;
            }
            let frame = HostFrame {
                adapter,
                host,
                status,
                reasons,
                requests_total: h.requests,
                errors_total: h.errors,
                rejections_total: h.rejections,
                retries_total: retries,
                rate: per_sec(requests),
                error_ratio: (has_window && requests > 0).then(|| errors as f64 / requests as f64),
                retry_rate: per_sec(last.retries.saturating_sub(first.retries)),
                rejection_rate: per_sec(last.rejections.saturating_sub(first.rejections)),
                p50_ms: ms(0.5),
                p99_ms: ms(0.99),
                in_flight,
                queue_depth: h.state.map(|s| s.limiter_queue_depth),
                saturation,
                breaker,
                breaker_since: h
                    .state
                    .map(|s| s.breaker_since_unix_nano / 1_000_000)
                    .filter(|t| *t > 0),
                window_s: secs,
            };
            if has_window {
                hist.points.push_back(Point {
                    t,
                    rate: frame.rate.unwrap_or(0.0),
                    err: frame.error_ratio,
                    p99: frame.p99_ms,
                    inflight: in_flight,
                });
                while hist.points.len() > HISTORY {
                    hist.points.pop_front();
                }
            }
            frames.push(frame);
        }
    }

    fn sample_process(&mut self, now: Instant, t: u64) -> ProcessPoint {
        let reading = super::process::read();
        let cpu_ratio = match (reading.cpu_seconds, self.last_cpu) {
            (Some(cpu), Some((at, before))) => {
                let wall = now.duration_since(at).as_secs_f64();
                (wall > 0.0).then(|| ((cpu - before) / wall).max(0.0))
            }
            _ => None,
        };
        if let Some(cpu) = reading.cpu_seconds {
            self.last_cpu = Some((now, cpu));
        }
        let p = ProcessPoint {
            t,
            rss_bytes: reading.rss_bytes,
            cpu_ratio,
        };
        self.process.push_back(p);
        while self.process.len() > HISTORY {
            self.process.pop_front();
        }
        p
    }

    /// The chart history of every host (`"adapter/host"` → points) and of
    /// the process, for a client that just connected.
    pub(crate) fn history(&self) -> Value {
        let hosts: serde_json::Map<String, Value> = self
            .hosts
            .iter()
            .map(|((a, h), hist)| {
                (
                    format!("{a}/{h}"),
                    serde_json::to_value(&hist.points).unwrap_or(Value::Null),
                )
            })
            .collect();
        json!({ "hosts": hosts, "process": self.process })
    }
}
