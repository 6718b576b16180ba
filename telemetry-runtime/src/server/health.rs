//! Health judgement over a sliding window: error ratio, p99 latency, open
//! breakers and limiter saturation, per adapter and host.
//!
//! The monitor reads the same cumulative atomic instruments the exposition
//! does and keeps periodic snapshots of them; the window's traffic is the
//! difference between now and the snapshot one window ago. Nothing is added
//! to the request path.

use std::collections::{HashMap, VecDeque};
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::backends::health::{self as state, HostState};
use crate::core::adapter::{registered_adapters, AdapterTelemetry};
use crate::core::events::BreakerState;
use crate::core::instruments::histogram_quantile;
use crate::server::config::ReadinessCriteria;

/// pass / warn / fail, as `application/health+json` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Healthy.
    Pass,
    /// Healthy, but a value is close to its limit or a breaker is probing.
    Warn,
    /// Not ready.
    Fail,
}

/// Cumulative totals of one host at one instant.
#[derive(Debug, Clone, Default)]
struct Totals {
    requests: u64,
    errors: u64,
    /// Refusals before the wire (not attempts).
    rejections: u64,
    /// Cumulative duration bucket counts (all methods), one per bound plus +Inf.
    buckets: Vec<u64>,
}

#[derive(Debug)]
struct Snapshot {
    at: Instant,
    /// Keyed by (adapter address, host index).
    hosts: HashMap<(usize, usize), Totals>,
}

fn adapter_key(a: &'static AdapterTelemetry) -> usize {
    a as *const AdapterTelemetry as usize
}

fn snapshot_now() -> Snapshot {
    let mut hosts = HashMap::new();
    for a in registered_adapters() {
        for h in state::hosts(a) {
            let t = Totals {
                requests: h.requests,
                errors: h.errors,
                rejections: h.rejections,
                buckets: h.buckets,
            };
            hosts.insert((adapter_key(a), h.host.index()), t);
        }
    }
    Snapshot {
        at: Instant::now(),
        hosts,
    }
}

/// One check of one host.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// `error_ratio`, `latency_p99`, `circuit_breaker` or `limiter_saturation`.
    pub check: &'static str,
    /// pass / warn / fail.
    pub status: Status,
    /// The observed value (ratio, seconds, or breaker gauge value).
    #[serde(rename = "observedValue")]
    pub observed_value: f64,
    /// Unit of the observed value.
    #[serde(rename = "observedUnit")]
    pub observed_unit: &'static str,
    /// Why, in words.
    pub output: String,
}

/// Every check of one host of one adapter.
#[derive(Debug, Clone, Serialize)]
pub struct HostHealth {
    /// The `host` label value.
    pub host: String,
    /// Worst status of the checks.
    pub status: Status,
    /// Wire attempts in the window.
    pub requests: u64,
    /// The checks that ran.
    pub checks: Vec<Check>,
}

/// The hosts of one adapter.
#[derive(Debug, Clone, Serialize)]
pub struct AdapterHealth {
    /// The `adapter` label value.
    pub adapter: &'static str,
    /// Worst status of its hosts.
    pub status: Status,
    /// Its hosts.
    pub hosts: Vec<HostHealth>,
}

/// The whole judgement.
#[derive(Debug, Clone, Serialize)]
pub struct HealthReport {
    /// Worst status overall.
    pub status: Status,
    /// The window the ratios and latencies cover, seconds (shorter while the
    /// process is younger than the window).
    pub window_seconds: f64,
    /// Per adapter and host.
    pub adapters: Vec<AdapterHealth>,
}

impl HealthReport {
    /// The reasons of every failed or warning check, `adapter/host: output`.
    pub fn reasons(&self, at_least: Status) -> Vec<String> {
        let mut out = Vec::new();
        for a in &self.adapters {
            for h in &a.hosts {
                for c in &h.checks {
                    if c.status >= at_least {
                        out.push(format!("{}/{}: {}", a.adapter, h.host, c.output));
                    }
                }
            }
        }
        out
    }
}

/// Keeps snapshots and judges health against [`ReadinessCriteria`].
///
/// ```
/// use telemetry_runtime::config::ReadinessCriteria;
/// use telemetry_runtime::server::health::{HealthMonitor, Status};
/// let monitor = HealthMonitor::new(ReadinessCriteria::default());
/// monitor.sample();
/// assert_ne!(monitor.evaluate().status, Status::Fail, "no traffic is not a failure");
/// ```
#[derive(Debug)]
pub struct HealthMonitor {
    /// Replaced whole by [`set_criteria`](Self::set_criteria) (a reload);
    /// each evaluation loads it once.
    criteria: arc_swap::ArcSwap<ReadinessCriteria>,
    history: Mutex<VecDeque<Snapshot>>,
    started: Instant,
    samples: std::sync::atomic::AtomicU64,
}

impl HealthMonitor {
    /// A monitor with no history yet (the first window covers the traffic
    /// since the process started).
    pub fn new(criteria: ReadinessCriteria) -> Self {
        HealthMonitor {
            criteria: arc_swap::ArcSwap::from_pointee(criteria),
            history: Mutex::new(VecDeque::new()),
            started: Instant::now(),
            samples: std::sync::atomic::AtomicU64::new(0),
        }
    }

    /// The criteria now.
    pub fn criteria(&self) -> std::sync::Arc<ReadinessCriteria> {
        self.criteria.load_full()
    }

    /// Replaces the criteria (a configuration reload): the next evaluation
    /// judges by them. The history is kept; a longer window than before is
    /// covered as far as the kept snapshots reach, and the sampler picks up
    /// the new interval after its current sleep.
    ///
    /// ```
    /// use telemetry_runtime::config::ReadinessCriteria;
    /// use telemetry_runtime::server::health::HealthMonitor;
    /// let monitor = HealthMonitor::new(ReadinessCriteria::default());
    /// monitor.set_criteria(ReadinessCriteria { max_error_ratio: Some(0.1), ..ReadinessCriteria::default() });
    /// assert_eq!(monitor.criteria().max_error_ratio, Some(0.1));
    /// ```
    pub fn set_criteria(&self, criteria: ReadinessCriteria) {
        self.criteria.store(std::sync::Arc::new(criteria));
    }

    /// How often [`sample`](Self::sample) should run: a sixth of the window,
    /// at least a second.
    pub fn sample_interval(&self) -> Duration {
        (self.criteria.load().window / 6).max(Duration::from_secs(1))
    }

    /// Snapshots taken so far.
    pub fn samples_taken(&self) -> u64 {
        self.samples.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Takes a snapshot and forgets those older than the window needs.
    pub fn sample(&self) {
        self.samples
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let snap = snapshot_now();
        let mut h = self.history.lock().unwrap_or_else(|e| e.into_inner());
        h.push_back(snap);
        // Keep the newest snapshot that is at least a window old (the
        // baseline) and everything after it.
        let window = self.criteria.load().window;
        while h.len() > 1 && h.get(1).is_some_and(|s| s.at.elapsed() >= window) {
            h.pop_front();
        }
    }

    /// Judges the current window.
    pub fn evaluate(&self) -> HealthReport {
        let now = snapshot_now();
        let history = self.history.lock().unwrap_or_else(|e| e.into_inner());
        let window = self.criteria.load().window;
        // The newest snapshot at least a window old; else the oldest we have;
        // else everything since the start.
        let baseline = history
            .iter()
            .rev()
            .find(|s| now.at.duration_since(s.at) >= window)
            .or_else(|| history.front());
        let covered =
            baseline.map_or_else(|| self.started.elapsed(), |b| now.at.duration_since(b.at));
        let empty = Totals::default();

        let mut adapters = Vec::new();
        for a in registered_adapters() {
            let live = state::hosts(a);
            // Every host of an adapter shares the buckets.
            let bounds = live.first().map(|h| h.bounds);
            let mut hosts_out = Vec::new();
            let mut hosts = a.hosts().values();
            hosts.push(a.hosts().overflow());
            for host in hosts {
                let key = (adapter_key(a), host.index());
                let state = live.iter().find(|h| h.host == host).and_then(|h| h.state);
                let Some(cur) = now.hosts.get(&key) else {
                    if state.is_none() {
                        continue;
                    }
                    let checks = self.judge(&empty, &empty, bounds, state, covered);
                    hosts_out.push(host_health(host.as_str(), 0, checks));
                    continue;
                };
                let base = baseline.and_then(|b| b.hosts.get(&key)).unwrap_or(&empty);
                let checks = self.judge(cur, base, bounds, state, covered);
                let requests = cur.requests.saturating_sub(base.requests);
                hosts_out.push(host_health(host.as_str(), requests, checks));
            }
            if hosts_out.is_empty() {
                continue;
            }
            adapters.push(AdapterHealth {
                adapter: a.manifest().name,
                status: hosts_out
                    .iter()
                    .map(|h| h.status)
                    .max()
                    .unwrap_or(Status::Pass),
                hosts: hosts_out,
            });
        }
        HealthReport {
            status: adapters
                .iter()
                .map(|a| a.status)
                .max()
                .unwrap_or(Status::Pass),
            window_seconds: covered.as_secs_f64(),
            adapters,
        }
    }

    fn level(&self, value: f64, limit: f64) -> Status {
        if value > limit {
            Status::Fail
        } else if value > limit * self.criteria.load().warn_fraction {
            Status::Warn
        } else {
            Status::Pass
        }
    }

    fn judge(
        &self,
        cur: &Totals,
        base: &Totals,
        bounds: Option<&'static [f64]>,
        state: Option<HostState>,
        covered: Duration,
    ) -> Vec<Check> {
        let c = self.criteria.load();
        let mut checks = Vec::new();
        let requests = cur.requests.saturating_sub(base.requests);
        let errors = cur.errors.saturating_sub(base.errors);
        let enough = requests >= c.min_requests.max(1);
        let secs = covered.as_secs();
        if let (Some(limit), true) = (c.max_error_ratio, enough) {
            let ratio = errors as f64 / requests as f64;
            let status = self.level(ratio, limit);
            checks.push(Check {
                check: "error_ratio",
                status,
                observed_value: ratio,
                observed_unit: "ratio",
                output: format!(
                    "error ratio {ratio:.3} ({errors} of {requests} attempts failed in {secs}s), limit {limit}"
                ),
            });
        }
        let rejections = cur.rejections.saturating_sub(base.rejections);
        let asked = requests + rejections;
        if let (Some(limit), true) = (c.max_rejection_ratio, asked >= c.min_requests.max(1)) {
            let ratio = rejections as f64 / asked as f64;
            let status = self.level(ratio, limit);
            checks.push(Check {
                check: "rejection_ratio",
                status,
                observed_value: ratio,
                observed_unit: "ratio",
                output: format!(
                    "rejection ratio {ratio:.3} ({rejections} of {asked} requests refused before the wire in {secs}s), limit {limit}"
                ),
            });
        }
        if let (Some(limit), true) = (c.max_p99_latency, enough) {
            if let Some(p99) = bounds.and_then(|b| quantile(0.99, cur, base, b)) {
                let limit = limit.as_secs_f64();
                let status = self.level(p99, limit);
                checks.push(Check {
                    check: "latency_p99",
                    status,
                    observed_value: p99,
                    observed_unit: "s",
                    output: format!("p99 latency {p99:.3}s over {secs}s, limit {limit}s"),
                });
            }
        }
        if let Some(state) = state {
            let status = match state.breaker {
                BreakerState::Open if c.fail_on_breaker_open => Status::Fail,
                BreakerState::Open | BreakerState::HalfOpen => Status::Warn,
                BreakerState::Closed => Status::Pass,
            };
            checks.push(Check {
                check: "circuit_breaker",
                status,
                observed_value: state.breaker.gauge_value(),
                observed_unit: "state",
                output: format!("circuit breaker {}", state.breaker.as_str()),
            });
            if let Some(limit) = c.max_limiter_saturation {
                let s = state.limiter_saturation;
                let status = self.level(s, limit);
                checks.push(Check {
                    check: "limiter_saturation",
                    status,
                    observed_value: s,
                    observed_unit: "ratio",
                    output: format!(
                        "limiter saturation {s:.3} (queue depth {}), limit {limit}",
                        state.limiter_queue_depth
                    ),
                });
            }
        }
        checks
    }
}

fn host_health(host: &str, requests: u64, checks: Vec<Check>) -> HostHealth {
    HostHealth {
        host: host.to_owned(),
        status: checks
            .iter()
            .map(|c| c.status)
            .max()
            .unwrap_or(Status::Pass),
        requests,
        checks,
    }
}

/// `histogram_quantile` over the window's bucket deltas, interpolating
/// linearly inside the bucket as Prometheus does; the top finite bound when
/// the quantile falls in `+Inf`.
fn quantile(q: f64, cur: &Totals, base: &Totals, bounds: &[f64]) -> Option<f64> {
    let delta: Vec<u64> = cur
        .buckets
        .iter()
        .enumerate()
        .map(|(i, c)| c.saturating_sub(base.buckets.get(i).copied().unwrap_or(0)))
        .collect();
    histogram_quantile(q, &delta, bounds)
}

/// Renders a report as `application/health+json`
/// (draft-inadarei-api-health-check): `status`, and `checks` keyed
/// `adapter/host:check` with the observed values and reasons.
pub fn to_health_json(report: &HealthReport) -> String {
    #[derive(Serialize)]
    struct Entry<'a> {
        #[serde(rename = "componentId")]
        component_id: &'a str,
        #[serde(rename = "componentType")]
        component_type: &'static str,
        adapter: &'a str,
        #[serde(flatten)]
        check: &'a Check,
    }
    let mut checks = serde_json::Map::new();
    let mut key = String::new();
    for a in &report.adapters {
        for h in &a.hosts {
            for c in &h.checks {
                key.clear();
                let _ = write!(key, "{}/{}:{}", a.adapter, h.host, c.check);
                let entry = Entry {
                    component_id: &h.host,
                    component_type: "http-host",
                    adapter: a.adapter,
                    check: c,
                };
                let value = serde_json::to_value(vec![entry]).unwrap_or(serde_json::Value::Null);
                checks.insert(key.clone(), value);
            }
        }
    }
    let doc = serde_json::json!({
        "status": report.status,
        "description": "adapter and host health over the readiness window",
        "window_seconds": report.window_seconds,
        "checks": checks,
        "adapters": report.adapters,
    });
    doc.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn totals(buckets: &[u64]) -> Totals {
        Totals {
            requests: *buckets.last().unwrap_or(&0),
            errors: 0,
            rejections: 0,
            buckets: buckets.to_vec(),
        }
    }

    #[test]
    fn quantile_interpolates_inside_the_bucket_like_prometheus() {
        let bounds = [0.1, 0.5, 1.0];
        // Cumulative: 10 under 0.1, 50 under 0.5, 100 under 1, 100 in total.
        let cur = totals(&[10, 50, 100, 100]);
        let zero = totals(&[0, 0, 0, 0]);
        // Rank 50 is the top of the (0.1, 0.5] bucket.
        assert_eq!(quantile(0.5, &cur, &zero, &bounds), Some(0.5));
        // Rank 99 is 49/50 of the way through (0.5, 1].
        let p99 = quantile(0.99, &cur, &zero, &bounds).unwrap_or(f64::NAN);
        assert!((p99 - (0.5 + 0.5 * 49.0 / 50.0)).abs() < 1e-12, "{p99}");
        // Only the window counts: subtracting the baseline.
        let base = totals(&[10, 50, 50, 50]);
        assert_eq!(quantile(0.5, &cur, &base, &bounds), Some(0.75));
        // Falling into +Inf reports the highest finite bound.
        let slow = totals(&[0, 0, 0, 10]);
        assert_eq!(quantile(0.99, &slow, &zero, &bounds), Some(1.0));
        assert_eq!(quantile(0.99, &zero, &zero, &bounds), None);
    }
}
