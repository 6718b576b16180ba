//! Quantiles of stored durations, two ways.
//!
//! - [`histogram_quantile`]: what Prometheus' `histogram_quantile` returns
//!   over the exporter's buckets (the generated latency alert uses it), so
//!   `slo` and a Prometheus that scraped the same run agree.
//! - [`exact_quantile`]: the nearest-rank quantile of the stored values
//!   (the smallest value with at least `q · n` values at or below it).

/// Counts of values per bucket: `counts[i]` holds the values `v` with
/// `bounds[i-1] < v <= bounds[i]` (Prometheus' `le` is inclusive, as the
/// runtime's histogram is), and `counts[bounds.len()]` those above the last
/// bound (`+Inf`).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Buckets {
    pub(crate) bounds: Vec<f64>,
    pub(crate) counts: Vec<u64>,
}

impl Buckets {
    pub(crate) fn new(bounds: &[f64]) -> Self {
        Buckets {
            bounds: bounds.to_vec(),
            counts: vec![0; bounds.len() + 1],
        }
    }

    /// The bucket of `v`.
    pub(crate) fn index(&self, v: f64) -> usize {
        self.bounds.partition_point(|&b| b < v)
    }

    pub(crate) fn total(&self) -> u64 {
        self.counts.iter().sum()
    }
}

/// Prometheus' `histogram_quantile(q, …)` over `b` (promql/quantile.go,
/// `bucketQuantile`): the bucket holding rank `q · n`, linearly
/// interpolated between its lower bound (0 for the first bucket) and its
/// upper bound; the last finite bound when the rank falls in `+Inf`.
/// `None` without observations.
pub(crate) fn histogram_quantile(q: f64, b: &Buckets) -> Option<f64> {
    let total = b.total();
    if total == 0 || b.bounds.is_empty() {
        return None;
    }
    if q < 0.0 {
        return Some(f64::NEG_INFINITY);
    }
    if q > 1.0 {
        return Some(f64::INFINITY);
    }
    let rank = q * total as f64;
    // The first finite bucket whose cumulative count reaches the rank
    // (Go's sort.Search over all buckets but +Inf).
    let mut cumulative = 0u64;
    for (i, &upper) in b.bounds.iter().enumerate() {
        let before = cumulative;
        cumulative += b.counts[i];
        if (cumulative as f64) < rank {
            continue;
        }
        if i == 0 && upper <= 0.0 {
            return Some(upper);
        }
        let lower = if i == 0 { 0.0 } else { b.bounds[i - 1] };
        let in_bucket = (cumulative - before) as f64;
        return Some(lower + (upper - lower) * ((rank - before as f64) / in_bucket));
    }
    // In +Inf: the highest finite bound.
    b.bounds.last().copied()
}

/// The nearest-rank quantile of `values` (reordered in place).
pub(crate) fn exact_quantile(q: f64, values: &mut [f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let n = values.len();
    let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
    let (_, v, _) = values.select_nth_unstable_by(rank - 1, f64::total_cmp);
    Some(*v)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    fn buckets(bounds: &[f64], values: &[f64]) -> Buckets {
        let mut b = Buckets::new(bounds);
        for &v in values {
            let i = b.index(v);
            b.counts[i] += 1;
        }
        b
    }

    #[test]
    fn bounds_are_inclusive_like_le() {
        let b = buckets(&[0.1, 0.5], &[0.1, 0.10001, 0.5, 0.6]);
        assert_eq!(b.counts, vec![1, 2, 1]);
    }

    #[test]
    fn interpolation_matches_prometheus() {
        // 10 values: 4 in (0, 0.1], 4 in (0.1, 0.5], 2 in +Inf.
        let b = buckets(
            &[0.1, 0.5],
            &[0.05; 4]
                .iter()
                .chain(&[0.3; 4])
                .chain(&[9.0; 2])
                .copied()
                .collect::<Vec<_>>(),
        );
        // rank 5 is the first of the second bucket: 0.1 + 0.4 * (1/4).
        assert_eq!(histogram_quantile(0.5, &b), Some(0.1 + 0.4 * 0.25));
        // rank 2: 0 + 0.1 * 2/4.
        assert_eq!(histogram_quantile(0.2, &b), Some(0.05));
        // rank 9.9 lies in +Inf: the last finite bound.
        assert_eq!(histogram_quantile(0.99, &b), Some(0.5));
        // rank 8 exactly fills the second bucket: its upper bound.
        assert_eq!(histogram_quantile(0.8, &b), Some(0.5));
        assert_eq!(histogram_quantile(0.5, &Buckets::new(&[0.1])), None);
    }

    #[test]
    fn nearest_rank() {
        let mut v = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        assert_eq!(exact_quantile(0.5, &mut v), Some(3.0));
        assert_eq!(exact_quantile(0.99, &mut v), Some(5.0));
        assert_eq!(exact_quantile(0.2, &mut v), Some(1.0));
        assert_eq!(exact_quantile(0.0, &mut v), Some(1.0));
        assert_eq!(exact_quantile(0.5, &mut []), None);
    }
}
