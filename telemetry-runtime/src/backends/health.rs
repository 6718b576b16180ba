//! The health state: per adapter and host, what readiness and
//! `/health/detailed` judge, kept by this backend from events and owned by
//! nobody else (so the server's health works with or without the Prometheus
//! sink).
//!
//! [`install`] adds [`HealthSink`] as a dispatch observer (it sees every
//! adapter's events besides the user's sinks). Per host it keeps cumulative
//! wire-attempt, error and retry counts, a latency histogram of attempts, and the
//! last breaker transition and limiter answer. [`hosts`] reads it;
//! where the client that owns a host's breaker and limiter is alive, its
//! live state (`core::live`) is the truth and replaces the last event's.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::OnceLock;

use crate::core::adapter::{AdapterTelemetry, PerAdapter};
use crate::core::dispatch;
use crate::core::events::{BreakerState, EventMeta, EventRef};
use crate::core::id::AdapterRef;
use crate::core::instruments::{Buckets, Histogram, DURATION_BUCKETS_SECONDS};
use crate::core::labels::{LabelValue, MAX_CAP};
use crate::core::live;

/// Feeds the health state from events. Install it with [`install`]; it is
/// also a plain [`EventSink`](crate::core::sink::EventSink) for a fan-out.
///
/// ```
/// use telemetry_runtime::backends::health;
/// health::install();
/// health::install(); // once per process, whatever the calls
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct HealthSink;

/// Adds [`HealthSink`] as a dispatch observer, once per process.
pub fn install() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if !INSTALLED.swap(true, Ordering::AcqRel) {
        dispatch::add_observer(HealthSink);
    }
}

/// Cumulative totals and last-seen state of one host.
#[derive(Debug, Clone)]
pub struct HostTotals {
    /// The `host` label value.
    pub host: LabelValue,
    /// Wire attempts (responses and errors).
    pub requests: u64,
    /// Attempts that failed: 5xx responses and errors without a response.
    pub errors: u64,
    /// Requests the client refused before the wire (not attempts).
    pub rejections: u64,
    /// Retries scheduled (one per retry event).
    pub retries: u64,
    /// Cumulative latency bucket counts of the attempts, one per bound of
    /// [`HostTotals::bounds`] plus `+Inf`.
    pub buckets: Vec<u64>,
    /// The latency buckets' upper bounds, seconds.
    pub bounds: &'static [f64],
    /// Breaker and limiter state, if any is known.
    pub state: Option<HostState>,
}

/// The limiter and breaker state of one host.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HostState {
    /// The circuit breaker's state.
    pub breaker: BreakerState,
    /// Nanoseconds since the Unix epoch of the breaker's last transition
    /// seen, 0 if none was seen.
    pub breaker_since_unix_nano: u64,
    /// The limiter's saturation, `0.0..=1.0`.
    pub limiter_saturation: f64,
    /// The limiter's queue depth.
    pub limiter_queue_depth: u32,
}

#[derive(Debug)]
struct HostCell {
    requests: AtomicU64,
    rejections: AtomicU64,
    errors: AtomicU64,
    retries: AtomicU64,
    latency: Histogram,
    /// Whether any breaker or limiter event was seen.
    state_seen: AtomicBool,
    breaker: AtomicU8,
    breaker_since: AtomicU64,
    saturation: AtomicU64,
    queue_depth: AtomicU32,
}

#[derive(Debug)]
struct AdapterCells {
    hosts: Box<[OnceLock<HostCell>]>,
}

static ADAPTERS: PerAdapter<AdapterCells> = PerAdapter::new();

fn latency_buckets() -> &'static Buckets {
    static B: OnceLock<Buckets> = OnceLock::new();
    B.get_or_init(|| Buckets::new(DURATION_BUCKETS_SECONDS, 1e9))
}

fn cell(adapter: AdapterRef, host: LabelValue) -> Option<&'static HostCell> {
    let id = adapter.id();
    if !id.is_exported() {
        return None;
    }
    let cells = ADAPTERS.get_or_init(id, || AdapterCells {
        hosts: (0..=adapter.manifest().host_cap.clamp(1, MAX_CAP))
            .map(|_| OnceLock::new())
            .collect(),
    });
    let slot = cells.hosts.get(host.index().min(cells.hosts.len() - 1))?;
    Some(slot.get_or_init(|| HostCell {
        requests: AtomicU64::new(0),
        rejections: AtomicU64::new(0),
        errors: AtomicU64::new(0),
        retries: AtomicU64::new(0),
        latency: Histogram::new(latency_buckets()),
        state_seen: AtomicBool::new(false),
        breaker: AtomicU8::new(0),
        breaker_since: AtomicU64::new(0),
        saturation: AtomicU64::new(0f64.to_bits()),
        queue_depth: AtomicU32::new(0),
    }))
}

impl HealthSink {
    fn with_cell(meta: &EventMeta, f: impl FnOnce(&HostCell)) {
        if let Some(c) = cell(meta.adapter, meta.host) {
            f(c);
        }
    }
}

impl crate::core::sink::EventSink for HealthSink {
    fn name(&self) -> &'static str {
        "health"
    }
    // One exhaustive match: a new event kind is a compile error here.
    fn on_event(&self, event: EventRef<'_>) {
        match event {
            EventRef::Response(e) => Self::with_cell(&e.meta, |c| {
                c.requests.fetch_add(1, Ordering::Relaxed);
                if e.status >= 500 {
                    c.errors.fetch_add(1, Ordering::Relaxed);
                }
                c.latency.observe_duration(e.duration);
            }),
            // A refusal before the wire is no attempt: counted apart, so a
            // client's own limiter or breaker does not fail the error ratio
            // or lower the latency quantiles.
            EventRef::Error(e) if !e.reached_wire => Self::with_cell(&e.meta, |c| {
                c.rejections.fetch_add(1, Ordering::Relaxed);
            }),
            EventRef::Error(e) => Self::with_cell(&e.meta, |c| {
                c.requests.fetch_add(1, Ordering::Relaxed);
                c.errors.fetch_add(1, Ordering::Relaxed);
                c.latency.observe_duration(e.duration);
            }),
            EventRef::RateLimit(e) => Self::with_cell(&e.meta, |c| {
                let s = if e.saturation.is_finite() {
                    e.saturation.clamp(0.0, 1.0)
                } else {
                    0.0
                };
                c.saturation.store(s.to_bits(), Ordering::Relaxed);
                c.queue_depth.store(e.queue_depth, Ordering::Relaxed);
                c.state_seen.store(true, Ordering::Release);
            }),
            EventRef::BreakerTransition(e) => Self::with_cell(&e.meta, |c| {
                c.breaker.store(e.to.code(), Ordering::Relaxed);
                c.breaker_since
                    .store(e.meta.time_unix_nano, Ordering::Relaxed);
                c.state_seen.store(true, Ordering::Release);
            }),
            // Only when a retry happens: nothing on a request's plain path.
            EventRef::Retry(e) => Self::with_cell(&e.meta, |c| {
                c.retries.fetch_add(1, Ordering::Relaxed);
            }),
            EventRef::Request(_)
            | EventRef::Backoff(_)
            | EventRef::Fallback(_)
            | EventRef::Redirect(_)
            | EventRef::Body(_)
            | EventRef::Custom(_) => {}
        }
    }
}

/// The health state of every host of `adapter` that has any: from events,
/// with the breaker and limiter replaced by the owning client's live state
/// where one is registered.
pub fn hosts(adapter: &'static AdapterTelemetry) -> Vec<HostTotals> {
    let Some(cells) = ADAPTERS.get(adapter.id()) else {
        return Vec::new();
    };
    let labels = adapter.hosts();
    let live = live::host_states(adapter.id());
    let mut all = labels.values();
    all.push(labels.overflow());
    let mut out = Vec::new();
    for host in all {
        let Some(c) = cells.hosts.get(host.index()).and_then(OnceLock::get) else {
            continue;
        };
        let snap = c.latency.snapshot();
        let mut state = c.state_seen.load(Ordering::Acquire).then(|| HostState {
            breaker: BreakerState::from_code(c.breaker.load(Ordering::Relaxed)),
            breaker_since_unix_nano: c.breaker_since.load(Ordering::Relaxed),
            limiter_saturation: f64::from_bits(c.saturation.load(Ordering::Relaxed)),
            limiter_queue_depth: c.queue_depth.load(Ordering::Relaxed),
        });
        // The owner's state now replaces the last event's (a breaker whose
        // open interval ran out, a queue that drained since).
        if let (Some(s), Some(l)) = (
            state.as_mut(),
            live.as_ref()
                .and_then(|l| l.iter().find(|s| s.host == host.as_str())),
        ) {
            if let Some(b) = l.breaker {
                s.breaker = b;
            }
            if let Some(d) = l.limiter_queue_depth {
                s.limiter_queue_depth = d;
            }
            if let Some(sat) = l.limiter_saturation {
                s.limiter_saturation = sat;
            }
        }
        out.push(HostTotals {
            host,
            requests: c.requests.load(Ordering::Relaxed),
            errors: c.errors.load(Ordering::Relaxed),
            rejections: c.rejections.load(Ordering::Relaxed),
            retries: c.retries.load(Ordering::Relaxed),
            buckets: snap.cumulative,
            bounds: snap.bounds,
            state,
        });
    }
    out
}
