//! Lock-free metric instruments for the request hot path.
//!
//! Fixed-bucket histograms and counters updated with relaxed atomics, as
//! prometheus-client and rust-prometheus do: recording one request (a counter
//! and two histograms) is a handful of atomic adds, with no allocation, hash or
//! lock. The `metrics` facade buffers every histogram sample until render
//! time (see docs/architecture.md), which is why the hot path does not use it.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// OpenTelemetry's advised buckets for `http.client.request.duration`, seconds.
pub const DURATION_BUCKETS_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Buckets for response sizes, bytes (powers of four from 256 B to 64 MiB).
pub const SIZE_BUCKETS_BYTES: &[f64] = &[
    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0, 67108864.0,
];

/// Bucket bounds in integer base units (nanoseconds, bytes), with the scale
/// that turns them back into the exported unit.
#[derive(Debug, Clone)]
pub struct Buckets {
    bounds: Box<[u64]>,
    exported: Box<[f64]>,
    scale: f64,
}

impl Buckets {
    /// Bounds given in the exported unit (`seconds`, `bytes`), stored in base
    /// units of `1 / scale` (so `scale = 1e9` for seconds as nanoseconds).
    /// Bounds are sorted, deduplicated, and non-finite or negative ones dropped.
    pub fn new(exported: &[f64], scale: f64) -> Self {
        let mut v: Vec<f64> = exported
            .iter()
            .copied()
            .filter(|b| b.is_finite() && *b >= 0.0)
            .collect();
        v.sort_by(f64::total_cmp);
        v.dedup();
        let bounds = v.iter().map(|b| (b * scale).round() as u64).collect();
        Buckets {
            bounds,
            exported: v.into(),
            scale,
        }
    }
    /// The upper bounds in the exported unit (without `+Inf`).
    pub fn bounds(&self) -> &[f64] {
        &self.exported
    }
    /// Scale from exported unit to base unit.
    pub fn scale(&self) -> f64 {
        self.scale
    }
}

/// A fixed-bucket histogram over integer base units.
#[derive(Debug)]
pub struct Histogram {
    buckets: &'static Buckets,
    /// One count per bound plus the `+Inf` bucket, not cumulative.
    counts: Box<[AtomicU64]>,
    sum: AtomicU64,
}

impl Histogram {
    /// An empty histogram over `buckets`.
    pub fn new(buckets: &'static Buckets) -> Self {
        Histogram {
            buckets,
            counts: (0..=buckets.bounds.len())
                .map(|_| AtomicU64::new(0))
                .collect(),
            sum: AtomicU64::new(0),
        }
    }

    /// Records one value in base units.
    #[inline(always)]
    pub fn observe_raw(&self, value: u64) {
        let i = self.buckets.bounds.partition_point(|&b| b < value);
        // `counts` has bounds.len() + 1 entries and i <= bounds.len().
        if let Some(c) = self.counts.get(i) {
            c.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
    }

    /// Records a duration (for histograms whose base unit is nanoseconds).
    #[inline(always)]
    pub fn observe_duration(&self, d: Duration) {
        self.observe_raw(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX));
    }

    /// A consistent-enough copy for rendering: cumulative bucket counts, sum in
    /// the exported unit, and total count.
    pub fn snapshot(&self) -> HistogramSnapshot {
        let mut cumulative = Vec::with_capacity(self.counts.len());
        let mut acc = 0u64;
        for c in self.counts.iter() {
            acc += c.load(Ordering::Relaxed);
            cumulative.push(acc);
        }
        HistogramSnapshot {
            bounds: &self.buckets.exported,
            cumulative,
            sum: self.sum.load(Ordering::Relaxed) as f64 / self.buckets.scale,
            count: acc,
        }
    }
}

/// A point-in-time copy of a [`Histogram`].
#[derive(Debug, Clone)]
pub struct HistogramSnapshot {
    /// Upper bounds (exported unit), without `+Inf`.
    pub bounds: &'static [f64],
    /// Cumulative counts, one per bound plus `+Inf`.
    pub cumulative: Vec<u64>,
    /// Sum of observed values, exported unit.
    pub sum: f64,
    /// Number of observations.
    pub count: u64,
}

/// The `q` quantile of the observations counted in `cumulative` (one count
/// per bound of `bounds` plus `+Inf`, as [`HistogramSnapshot::cumulative`]
/// or the difference of two of them), interpolated linearly inside the
/// bucket that holds the rank, as Prometheus's `histogram_quantile` does;
/// the largest finite bound when the rank is in `+Inf`; `None` without
/// observations. What health's latency criterion and the dashboard's
/// quantiles both use.
#[cfg_attr(not(feature = "server"), allow(dead_code))]
pub(crate) fn histogram_quantile(q: f64, cumulative: &[u64], bounds: &[f64]) -> Option<f64> {
    let total = *cumulative.last()?;
    if total == 0 {
        return None;
    }
    let rank = q * total as f64;
    let i = cumulative.iter().position(|c| *c as f64 >= rank)?;
    let Some(upper) = bounds.get(i).copied() else {
        return bounds.last().copied();
    };
    let lower = if i == 0 { 0.0 } else { bounds[i - 1] };
    let below = if i == 0 { 0 } else { cumulative[i - 1] };
    let in_bucket = cumulative[i].saturating_sub(below) as f64;
    if in_bucket <= 0.0 {
        return Some(upper);
    }
    Some(lower + (upper - lower) * ((rank - below as f64) / in_bucket))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_interpolate_like_prometheus() {
        let bounds = [0.1, 0.5, 1.0];
        assert_eq!(
            histogram_quantile(0.5, &[10, 50, 100, 100], &bounds),
            Some(0.5)
        );
        assert_eq!(histogram_quantile(0.5, &[0, 0, 0, 0], &bounds), None);
        assert_eq!(histogram_quantile(0.99, &[0, 0, 0, 10], &bounds), Some(1.0));
        let p = histogram_quantile(0.05, &[10, 50, 100, 100], &bounds).unwrap_or(0.0);
        assert!((p - 0.05).abs() < 1e-9, "{p}");
    }

    #[test]
    fn bounds_are_sorted_deduplicated_and_finite() {
        let b = Buckets::new(&[0.5, 0.1, f64::NAN, 0.1, -1.0], 1e9);
        assert_eq!(b.bounds(), &[0.1, 0.5]);
        let h = Histogram::new(Box::leak(Box::new(b)));
        h.observe_duration(Duration::from_millis(200));
        let s = h.snapshot();
        assert_eq!(s.cumulative, vec![0, 1, 1]);
        assert_eq!(s.count, 1);
        assert!((s.sum - 0.2).abs() < 1e-9);
    }
}
