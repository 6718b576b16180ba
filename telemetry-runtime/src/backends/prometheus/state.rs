//! The Prometheus backend's hot-path state: per adapter (in a table indexed
//! by `AdapterId`) and per bounded host, lock-free counters and fixed-bucket
//! histograms for `http_requests_total`, `http_request_duration_seconds`,
//! `http_response_size_bytes` and `http_in_flight_requests`, plus the
//! custom-event counters.

use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use super::event_counts;
use crate::core::adapter::{AdapterTelemetry, PerAdapter};
use crate::core::events::{CustomEvent, ErrorType, HttpMethod};
use crate::core::id::{AdapterId, AdapterRef};
use crate::core::instruments::{Buckets, Histogram, DURATION_BUCKETS_SECONDS, SIZE_BUCKETS_BYTES};
use crate::core::labels::{BoundedLabel, LabelValue, MAX_CAP};

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
/// use telemetry_runtime::backends::prometheus::{request_buckets, set_request_buckets};
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

static BODY_BUCKETS: OnceLock<&'static Buckets> = OnceLock::new();

/// The buckets of `http_response_body_duration_seconds` (base unit
/// nanoseconds): [`DURATION_BUCKETS_SECONDS`] unless the Prometheus
/// backend's `configure` chose others first. Fixed at the first body
/// recorded.
pub(crate) fn body_buckets() -> &'static Buckets {
    BODY_BUCKETS.get_or_init(|| leak_buckets(DURATION_BUCKETS_SECONDS, 1e9))
}

/// Chooses the body-duration bucket bounds (seconds); `false`, changing
/// nothing, once they are fixed.
pub(crate) fn set_body_buckets(seconds: &[f64]) -> bool {
    let mut chosen = false;
    BODY_BUCKETS.get_or_init(|| {
        chosen = true;
        leak_buckets(seconds, 1e9)
    });
    chosen
}

/// What a `http_requests_total` series counts besides its method: the status
/// code of a response, or the error type of an attempt that got no response.
/// The two live in disjoint halves of the key space, so no code, however
/// odd, can be taken for an error type (#10: a real 600 used to be counted
/// as `timeout`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StatusKey {
    /// A response with this status code (any `u16`, as the server sent it).
    Code(u16),
    /// An attempt without a response, and why.
    Error(ErrorType),
}

/// Distinct `(method, status)` pairs tracked per host before folding into
/// `(_OTHER, _OTHER)`: bounds `http_requests_total` at `(hosts + 1) × 33`
/// series (the slots plus the folded pair).
pub const STATUS_SLOTS: usize = telemetry_vocab::STATUS_SLOTS;

// The key of a `(method, status)` pair, before the +1 that keeps 0 free:
// bits 0..16 the status code or the error type's index, bit 16 the tag
// (set for error types), bits 17.. the method. A code is any u16, so the
// tag bit, not a numeric base, is what keeps codes and error types apart.
const ERROR_TAG: u32 = 1 << 16;
const METHOD_SHIFT: u32 = 17;

/// Per-host `http_requests_total` series keyed by `(method, status)`, in a
/// fixed open-addressing table claimed with compare-and-swap.
///
/// ```
/// use telemetry_runtime::backends::prometheus::state::{StatusKey, StatusTable};
/// use telemetry_runtime::events::{ErrorType, HttpMethod};
/// let t = StatusTable::default();
/// t.add(HttpMethod::Get, 600);
/// t.add_error(HttpMethod::Get, ErrorType::Timeout);
/// let (series, folded) = t.snapshot();
/// assert_eq!(series, vec![
///     (HttpMethod::Get, StatusKey::Code(600), 1),
///     (HttpMethod::Get, StatusKey::Error(ErrorType::Timeout), 1),
/// ]);
/// assert_eq!(folded, 0);
/// ```
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
    fn code_key(method: HttpMethod, status: u16) -> u32 {
        // +1 so that 0 means "free slot". A shift and an or, as before the
        // tag bit existed: the common path gained no instruction.
        ((method as u32) << METHOD_SHIFT | u32::from(status)) + 1
    }

    #[inline(always)]
    fn error_key(method: HttpMethod, error: ErrorType) -> u32 {
        // `ErrorType` is a fieldless enum whose discriminants are its index
        // in `ErrorType::ALL` (a test below checks): no search.
        ((method as u32) << METHOD_SHIFT | ERROR_TAG | error as u32) + 1
    }

    /// Counts one response with status code `status`.
    #[inline(always)]
    pub fn add(&self, method: HttpMethod, status: u16) {
        self.add_key(Self::code_key(method, status));
    }

    /// Counts one attempt that got no response, failed with `error`.
    #[inline]
    pub fn add_error(&self, method: HttpMethod, error: ErrorType) {
        self.add_key(Self::error_key(method, error));
    }

    #[inline(always)]
    fn add_key(&self, key: u32) {
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

    fn decode(key: u32) -> (HttpMethod, StatusKey) {
        let k = key - 1;
        let method = HttpMethod::ALL
            .get((k >> METHOD_SHIFT) as usize)
            .copied()
            .unwrap_or(HttpMethod::Other);
        let value = (k & 0xFFFF) as u16;
        let status = if k & ERROR_TAG == 0 {
            StatusKey::Code(value)
        } else {
            StatusKey::Error(
                ErrorType::ALL
                    .get(usize::from(value))
                    .copied()
                    .unwrap_or(ErrorType::Other),
            )
        };
        (method, status)
    }

    /// `(method, status, count)` for every claimed slot (ordered by method,
    /// then codes ascending, then error types in `ErrorType::ALL` order),
    /// plus the count folded into `(_OTHER, _OTHER)`.
    pub fn snapshot(&self) -> (Vec<(HttpMethod, StatusKey, u64)>, u64) {
        let mut out = Vec::new();
        let mut keys = Vec::new();
        for i in 0..STATUS_SLOTS {
            let k = self.keys[i].load(Ordering::Acquire);
            if k != 0 {
                keys.push((k, self.counts[i].load(Ordering::Relaxed)));
            }
        }
        // The key orders by method, then codes before error types, each by
        // value: the order the snapshot promises.
        keys.sort_unstable_by_key(|(k, _)| *k);
        for (k, count) in keys {
            let (method, status) = Self::decode(k);
            out.push((method, status, count));
        }
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
    /// `http_response_body_duration_seconds`, created at the first body
    /// (every response has one, so it is recorded here, not on the facade).
    pub body_duration: OnceLock<Histogram>,
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
            body_duration: OnceLock::new(),
            duration_buckets,
        }
    }

    /// Records one completed request: counter, duration and (if known) size
    /// (test: `host_metrics_record_a_request` below).
    #[inline]
    pub fn record(&self, method: HttpMethod, status: u16, duration: Duration, size: Option<u64>) {
        self.requests.add(method, status);
        self.duration_for(method).observe_duration(duration);
        if let Some(size) = size {
            self.size.observe_raw(size);
        }
    }

    /// Records how long a response's body took.
    #[inline]
    pub fn record_body(&self, took: Duration) {
        self.body_duration
            .get_or_init(|| Histogram::new(body_buckets()))
            .observe_duration(took);
    }

    /// The duration histogram of `method`, created on first use.
    #[inline(always)]
    pub fn duration_for(&self, method: HttpMethod) -> &Histogram {
        self.duration[method.index()].get_or_init(|| Histogram::new(self.duration_buckets))
    }
}

/// The Prometheus backend's state of one adapter.
#[derive(Debug)]
pub(crate) struct AdapterMetrics {
    adapter: &'static AdapterTelemetry,
    host_metrics: Box<[OnceLock<Box<HostMetrics>>]>,
    /// Per custom event (manifest order), a counter per label combination
    /// seen: memory follows the combinations seen, bounded by the budget
    /// (see [`event_counts`]).
    event_counts: Box<[event_counts::EventCounts]>,
    duration_buckets: &'static Buckets,
    size_buckets: &'static Buckets,
}

static ADAPTERS: PerAdapter<AdapterMetrics> = PerAdapter::new();

/// One custom-event series: event name, its label values, its count.
pub type CustomEventSeries = (&'static str, Vec<(&'static str, LabelValue)>, u64);

impl AdapterMetrics {
    fn new(adapter: &'static AdapterTelemetry) -> Self {
        let m = adapter.manifest();
        let (duration_buckets, size_buckets) = request_buckets();
        AdapterMetrics {
            adapter,
            host_metrics: (0..=m.host_cap.clamp(1, MAX_CAP))
                .map(|_| OnceLock::new())
                .collect(),
            event_counts: m
                .events
                .iter()
                .map(|spec| {
                    // `cap + 1` values per label (`_OTHER` included), from
                    // the runtime's table, which decodes them again; a label
                    // the adapter does not have adds no values.
                    let radices = spec
                        .labels
                        .iter()
                        .map(|name| {
                            adapter
                                .labels()
                                .iter()
                                .find(|l| l.name() == *name)
                                .map_or(1, |l| u64::from(l.cap()) + 1)
                        })
                        .collect();
                    event_counts::EventCounts::new(radices, m.cardinality_budget)
                })
                .collect(),
            duration_buckets,
            size_buckets,
        }
    }

    /// Hot-path metric handles of `host`, created on first use.
    #[inline]
    pub(crate) fn host(&self, host: LabelValue) -> &HostMetrics {
        // A host's index is at most the cap, and the table has cap + 1 slots:
        // one bounds check, with the overflow slot as the (unreachable)
        // fallback instead of a clamp on every call.
        let slot = match self.host_metrics.get(host.index()) {
            Some(slot) => slot,
            None => overflow_slot(&self.host_metrics),
        };
        slot.get_or_init(|| Box::new(HostMetrics::new(self.duration_buckets, self.size_buckets)))
    }

    /// Metric handles of every host that has any, with the host label.
    pub(crate) fn all_hosts(&self) -> Vec<(LabelValue, &HostMetrics)> {
        let labels = self.adapter.hosts();
        let mut hosts = labels.values();
        hosts.push(labels.overflow());
        hosts
            .into_iter()
            .filter_map(|h| {
                self.host_metrics
                    .get(h.index())
                    .and_then(|m| m.get())
                    .map(|m| (h, &**m))
            })
            .collect()
    }

    /// Counts one custom event.
    pub(crate) fn count_custom(&self, event: &dyn CustomEvent) {
        let manifest = self.adapter.manifest();
        let Some(index) = manifest.events.iter().position(|e| e.name == event.name()) else {
            return;
        };
        if let Some(counts) = self.event_counts.get(index) {
            counts.count(event);
        }
    }

    /// `(event name, label values, count)` for every custom-event series with
    /// a non-zero count, by event in manifest order, then by combination in
    /// mixed-radix order (the first label varying fastest).
    pub(crate) fn custom_event_counts(&self) -> Vec<CustomEventSeries> {
        let manifest = self.adapter.manifest();
        let all_labels = self.adapter.labels();
        let mut out = Vec::new();
        for (spec, counts) in manifest.events.iter().zip(self.event_counts.iter()) {
            // Each label's values by index, `_OTHER` (index `cap`) included.
            let labels: Vec<Option<(&'static str, Vec<LabelValue>)>> = spec
                .labels
                .iter()
                .map(|name| {
                    let l: &BoundedLabel = all_labels.iter().find(|l| l.name() == *name)?;
                    let mut by_index = vec![l.overflow(); l.cap() as usize + 1];
                    for v in l.values() {
                        if let Some(slot) = by_index.get_mut(v.index()) {
                            *slot = v;
                        }
                    }
                    Some((l.name(), by_index))
                })
                .collect();
            for (digits, count) in counts.snapshot() {
                let values = labels
                    .iter()
                    .zip(digits)
                    .filter_map(|(label, digit)| {
                        let (name, by_index) = label.as_ref()?;
                        Some((*name, *by_index.get(digit)?))
                    })
                    .collect();
                out.push((spec.name, values, count));
            }
        }
        out
    }
}

/// The last slot of a per-host table (the overflow host's): the cold
/// fallback of a host lookup whose index is out of range (it never is).
#[cold]
pub(crate) fn overflow_slot<T>(slots: &[T]) -> &T {
    // `slots` has cap + 1 >= 2 entries (the cap is at least 1).
    &slots[slots.len() - 1]
}

/// The state of `adapter`, created on first use: one indexed load.
#[inline]
pub(crate) fn adapter(adapter: AdapterRef) -> Option<&'static AdapterMetrics> {
    match ADAPTERS.get(adapter.id()) {
        Some(m) => Some(m),
        None => create(adapter.id()),
    }
}

#[cold]
#[inline(never)]
fn create(id: AdapterId) -> Option<&'static AdapterMetrics> {
    // A refused duplicate or an adapter past the limit (the unexported id)
    // is not in the registry: nothing is recorded for it, and its slot
    // stays empty.
    let telemetry = crate::core::adapter::adapter_by_id(id)?;
    Some(ADAPTERS.get_or_init(id, || AdapterMetrics::new(telemetry)))
}

/// The state of an exported adapter, if it has any.
pub(crate) fn find(id: AdapterId) -> Option<&'static AdapterMetrics> {
    ADAPTERS.get(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_metrics_record_a_request() {
        let d: &'static Buckets = Box::leak(Box::new(Buckets::new(DURATION_BUCKETS_SECONDS, 1e9)));
        let s: &'static Buckets = Box::leak(Box::new(Buckets::new(SIZE_BUCKETS_BYTES, 1.0)));
        let m = HostMetrics::new(d, s);
        m.record(HttpMethod::Get, 200, Duration::from_millis(30), Some(512));
        assert_eq!(
            m.requests.snapshot().0,
            vec![(HttpMethod::Get, StatusKey::Code(200), 1)]
        );
        assert_eq!(m.duration_for(HttpMethod::Get).snapshot().count, 1);
        assert!(m.body_duration.get().is_none(), "no body yet: no series");
        m.record_body(Duration::from_millis(4));
        let body = m.body_duration.get().map(Histogram::snapshot);
        assert_eq!(body.map(|b| b.count), Some(1));
    }

    #[test]
    fn error_type_discriminants_are_their_index() {
        // `StatusTable::error_key` casts instead of searching `ALL`.
        for (i, t) in ErrorType::ALL.iter().enumerate() {
            assert_eq!(*t as usize, i, "{t}");
        }
    }

    #[test]
    fn every_code_and_error_type_has_its_own_key() {
        let mut seen = std::collections::HashMap::new();
        for method in HttpMethod::ALL {
            let codes =
                (0..=u16::MAX).map(|c| (StatusTable::code_key(method, c), StatusKey::Code(c)));
            let errors = ErrorType::ALL
                .iter()
                .map(|t| (StatusTable::error_key(method, *t), StatusKey::Error(*t)));
            for (key, status) in codes.chain(errors) {
                assert_ne!(key, 0, "0 marks a free slot");
                assert_eq!(StatusTable::decode(key), (method, status));
                if let Some(other) = seen.insert(key, (method, status)) {
                    panic!("{method:?} {status:?} and {other:?} share key {key}");
                }
            }
        }
    }

    #[test]
    fn codes_that_used_to_be_error_types_stay_codes() {
        let t = StatusTable::default();
        for code in [600, 609, 610, 700, 999, 1000, u16::MAX] {
            t.add(HttpMethod::Get, code);
        }
        t.add_error(HttpMethod::Get, ErrorType::Timeout);
        t.add_error(HttpMethod::Get, ErrorType::Other);
        let (series, folded) = t.snapshot();
        let got: Vec<StatusKey> = series.iter().map(|(_, s, _)| *s).collect();
        let mut want: Vec<StatusKey> = [600, 609, 610, 700, 999, 1000, u16::MAX]
            .into_iter()
            .map(StatusKey::Code)
            .collect();
        want.push(StatusKey::Error(ErrorType::Timeout));
        want.push(StatusKey::Error(ErrorType::Other));
        assert_eq!(got, want);
        assert_eq!(folded, 0);
    }

    #[test]
    fn pairs_past_the_slots_fold() {
        let t = StatusTable::default();
        for code in 0..STATUS_SLOTS as u16 + 5 {
            t.add(HttpMethod::Post, 200 + code);
        }
        let (series, folded) = t.snapshot();
        assert_eq!(series.len(), STATUS_SLOTS);
        assert_eq!(folded, 5);
    }
}
