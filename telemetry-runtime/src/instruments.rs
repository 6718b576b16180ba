//! Lock-free metric instruments for the request hot path.
//!
//! Fixed-bucket histograms and counters updated with relaxed atomics, as
//! prometheus-client and rust-prometheus do: recording one request (a counter
//! and two histograms) is a handful of atomic adds, with no allocation, hash or
//! lock. The `metrics` facade buffers every histogram sample until render
//! time (see docs/architecture.md), which is why the hot path does not use it.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use crate::events::HttpMethod;

/// OpenTelemetry's advised buckets for `http.client.request.duration`, seconds.
pub const DURATION_BUCKETS_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// Buckets for response sizes, bytes (powers of four from 256 B to 64 MiB).
pub const SIZE_BUCKETS_BYTES: &[f64] = &[
    256.0, 1024.0, 4096.0, 16384.0, 65536.0, 262144.0, 1048576.0, 4194304.0, 16777216.0, 67108864.0,
];

static REQUEST_BUCKETS: OnceLock<(&'static Buckets, &'static Buckets)> = OnceLock::new();

fn leak_buckets(bounds: &[f64], scale: f64) -> &'static Buckets {
    // Once per process: the pair below is set at most once.
    Box::leak(Box::new(Buckets::new(bounds, scale)))
}

/// The buckets of `http_request_duration_seconds` (base unit nanoseconds)
/// and `http_response_size_bytes` (bytes), shared by every adapter. Fixed the
/// first time an adapter's metrics are created: the defaults
/// ([`DURATION_BUCKETS_SECONDS`], [`SIZE_BUCKETS_BYTES`]) unless
/// [`set_request_buckets`] ran before.
pub fn request_buckets() -> (&'static Buckets, &'static Buckets) {
    *REQUEST_BUCKETS.get_or_init(|| {
        (
            leak_buckets(DURATION_BUCKETS_SECONDS, 1e9),
            leak_buckets(SIZE_BUCKETS_BYTES, 1.0),
        )
    })
}

/// Chooses the request-duration (seconds) and response-size (bytes) bucket
/// bounds; `None` keeps a default. Returns `false`, changing nothing, when
/// the buckets are already fixed (an adapter already has metrics, or this ran
/// before): call it at start-up, before the first request. The Prometheus
/// backend's `configure` calls it for these two histograms.
///
/// ```
/// use telemetry_runtime::instruments::{request_buckets, set_request_buckets};
/// let first = set_request_buckets(Some(&[0.05, 0.2, 1.0]), None);
/// assert!(!set_request_buckets(None, None), "fixed after the first call");
/// if first {
///     assert_eq!(request_buckets().0.bounds(), &[0.05, 0.2, 1.0]);
/// }
/// ```
pub fn set_request_buckets(duration_seconds: Option<&[f64]>, size_bytes: Option<&[f64]>) -> bool {
    let mut chosen = false;
    REQUEST_BUCKETS.get_or_init(|| {
        chosen = true;
        (
            leak_buckets(duration_seconds.unwrap_or(DURATION_BUCKETS_SECONDS), 1e9),
            leak_buckets(size_bytes.unwrap_or(SIZE_BUCKETS_BYTES), 1.0),
        )
    });
    chosen
}

/// A monotonically increasing counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    #[inline(always)]
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// A gauge holding an `f64`.
#[derive(Debug, Default)]
pub struct Gauge(AtomicU64);

impl Gauge {
    /// Sets the value.
    pub fn set(&self, v: f64) {
        self.0.store(v.to_bits(), Ordering::Relaxed);
    }
    /// The current value.
    pub fn get(&self) -> f64 {
        f64::from_bits(self.0.load(Ordering::Relaxed))
    }
}

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
    ///
    /// ```
    /// use telemetry_runtime::instruments::Buckets;
    /// let b = Buckets::new(&[0.1, 0.5, f64::NAN, 0.1], 1e9);
    /// assert_eq!(b.bounds(), &[0.1, 0.5]);
    /// ```
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

/// Status label values beyond HTTP codes: codes `600 + ErrorType index`.
pub const ERROR_STATUS_BASE: u16 = 600;

/// Distinct `(method, status)` pairs tracked per host before folding into
/// `(_OTHER, _OTHER)`: bounds `http_requests_total` at `hosts × 32`.
pub const STATUS_SLOTS: usize = 32;

/// Per-host `http_requests_total` series keyed by `(method, status)`, in a
/// fixed open-addressing table claimed with compare-and-swap.
#[derive(Debug)]
pub struct StatusTable {
    keys: [AtomicU32; STATUS_SLOTS],
    counts: [AtomicU64; STATUS_SLOTS],
    overflow: AtomicU64,
}

impl Default for StatusTable {
    fn default() -> Self {
        StatusTable {
            keys: std::array::from_fn(|_| AtomicU32::new(0)),
            counts: std::array::from_fn(|_| AtomicU64::new(0)),
            overflow: AtomicU64::new(0),
        }
    }
}

impl StatusTable {
    #[inline(always)]
    fn key(method: HttpMethod, status: u16) -> u32 {
        // +1 so that 0 means "free slot".
        ((method as u32) << 16 | u32::from(status)) + 1
    }

    /// Counts one request.
    #[inline(always)]
    pub fn add(&self, method: HttpMethod, status: u16) {
        let key = Self::key(method, status);
        let start = (key.wrapping_mul(0x9E37_79B9) >> 27) as usize % STATUS_SLOTS;
        for probe in 0..STATUS_SLOTS {
            let i = (start + probe) % STATUS_SLOTS;
            let k = self.keys[i].load(Ordering::Acquire);
            if k == key {
                self.counts[i].fetch_add(1, Ordering::Relaxed);
                return;
            }
            if k == 0 {
                match self.keys[i].compare_exchange(0, key, Ordering::AcqRel, Ordering::Acquire) {
                    Ok(_) => {
                        self.counts[i].fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Err(other) if other == key => {
                        self.counts[i].fetch_add(1, Ordering::Relaxed);
                        return;
                    }
                    Err(_) => continue,
                }
            }
        }
        self.overflow.fetch_add(1, Ordering::Relaxed);
    }

    /// `(method, status, count)` for every claimed slot, plus the folded count.
    pub fn snapshot(&self) -> (Vec<(HttpMethod, u16, u64)>, u64) {
        let mut out = Vec::new();
        for i in 0..STATUS_SLOTS {
            let k = self.keys[i].load(Ordering::Acquire);
            if k == 0 {
                continue;
            }
            let k = k - 1;
            let method = HttpMethod::ALL
                .get((k >> 16) as usize)
                .copied()
                .unwrap_or(HttpMethod::Other);
            out.push((
                method,
                (k & 0xFFFF) as u16,
                self.counts[i].load(Ordering::Relaxed),
            ));
        }
        out.sort_by_key(|(m, s, _)| (*m as u8, *s));
        (out, self.overflow.load(Ordering::Relaxed))
    }
}

/// The hot-path metrics of one host of one adapter.
#[derive(Debug)]
pub struct HostMetrics {
    /// `http_requests_total` by method and status.
    pub requests: StatusTable,
    /// `http_request_duration_seconds` by method.
    pub duration: [OnceLock<Histogram>; HttpMethod::COUNT],
    /// `http_response_size_bytes`.
    pub size: Histogram,
    /// `http_in_flight_requests`.
    pub in_flight: AtomicI64,
    duration_buckets: &'static Buckets,
}

impl HostMetrics {
    /// Empty metrics with the given buckets.
    pub fn new(duration_buckets: &'static Buckets, size_buckets: &'static Buckets) -> Self {
        HostMetrics {
            requests: StatusTable::default(),
            duration: std::array::from_fn(|_| OnceLock::new()),
            size: Histogram::new(size_buckets),
            in_flight: AtomicI64::new(0),
            duration_buckets,
        }
    }

    /// Records one completed request: counter, duration and (if known) size.
    ///
    /// ```
    /// use telemetry_runtime::instruments::*;
    /// use telemetry_runtime::events::HttpMethod;
    /// use std::time::Duration;
    /// let d: &'static Buckets = Box::leak(Box::new(Buckets::new(DURATION_BUCKETS_SECONDS, 1e9)));
    /// let s: &'static Buckets = Box::leak(Box::new(Buckets::new(SIZE_BUCKETS_BYTES, 1.0)));
    /// let m = HostMetrics::new(d, s);
    /// m.record(HttpMethod::Get, 200, Duration::from_millis(30), Some(512));
    /// assert_eq!(m.requests.snapshot().0, vec![(HttpMethod::Get, 200, 1)]);
    /// assert_eq!(m.duration_for(HttpMethod::Get).snapshot().count, 1);
    /// ```
    #[inline]
    pub fn record(&self, method: HttpMethod, status: u16, duration: Duration, size: Option<u64>) {
        self.requests.add(method, status);
        self.duration_for(method).observe_duration(duration);
        if let Some(size) = size {
            self.size.observe_raw(size);
        }
    }

    /// The duration histogram of `method`, created on first use.
    #[inline(always)]
    pub fn duration_for(&self, method: HttpMethod) -> &Histogram {
        self.duration[method.index()].get_or_init(|| Histogram::new(self.duration_buckets))
    }
}
