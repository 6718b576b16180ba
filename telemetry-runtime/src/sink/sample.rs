//! Keeping a fraction of logical requests.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::core::dispatch::sampled_out_counter;
use crate::core::events::{CorrelationId, EventRef};
use crate::core::sink::{deliver, EventSink};

/// Keeps a fraction of logical requests, deterministically by correlation id,
/// so a kept request keeps all its events (request, retries, response).
/// Breaker transitions are always kept: they are rare and matter. What it
/// keeps out is counted in `telemetry_events_sampled_out_total{sink}` (the
/// inner sink's name).
///
/// ```
/// use telemetry_runtime::sink::{SamplingSink, RecordingSink};
/// let one_in_ten = SamplingSink::new(0.1, RecordingSink::new());
/// # let _ = one_in_ten;
/// ```
pub struct SamplingSink<S> {
    /// Shared with every [`SamplingHandle`]: one relaxed load per event.
    threshold: Arc<AtomicU64>,
    inner: S,
    /// `telemetry_events_sampled_out_total{sink}` of the inner sink's name.
    sampled_out: &'static AtomicU64,
}

impl<S: EventSink> fmt::Debug for SamplingSink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SamplingSink")
            .field("ratio", &self.handle().ratio())
            .field("inner", &self.inner.name())
            .finish()
    }
}

impl<S: EventSink> SamplingSink<S> {
    /// Keeps `ratio` (clamped to `0.0..=1.0`; NaN keeps nothing) of requests.
    pub fn new(ratio: f64, inner: S) -> Self {
        let sampled_out = sampled_out_counter(inner.name());
        SamplingSink {
            threshold: Arc::new(AtomicU64::new(threshold_of(ratio))),
            inner,
            sampled_out,
        }
    }

    /// A handle that changes the ratio later.
    pub fn handle(&self) -> SamplingHandle {
        SamplingHandle {
            threshold: Arc::clone(&self.threshold),
        }
    }

    fn keeps(&self, id: CorrelationId) -> bool {
        // Correlation ids are already well mixed; compare directly.
        let threshold = self.threshold.load(Ordering::Relaxed);
        threshold == u64::MAX || id.0 < threshold
    }
}

/// The threshold a correlation id must be below to be kept: `ratio`
/// clamped to `0.0..=1.0` (NaN keeps nothing) of the id space.
fn threshold_of(ratio: f64) -> u64 {
    let ratio = if ratio.is_nan() {
        0.0
    } else {
        ratio.clamp(0.0, 1.0)
    };
    if ratio >= 1.0 {
        u64::MAX
    } else {
        (ratio * u64::MAX as f64) as u64
    }
}

/// Changes a [`SamplingSink`]'s ratio while it runs (the sink is usually
/// boxed inside the dispatcher by then). A request whose events straddle the
/// change may lose some of them.
///
/// ```
/// use telemetry_runtime::sink::{RecordingSink, SamplingSink};
/// let sink = SamplingSink::new(0.1, RecordingSink::new());
/// let handle = sink.handle();
/// handle.set_ratio(1.0);
/// assert_eq!(handle.ratio(), 1.0);
/// ```
#[derive(Debug, Clone)]
pub struct SamplingHandle {
    threshold: Arc<AtomicU64>,
}

impl SamplingHandle {
    /// Keeps `ratio` of requests from now on (the rules of [`SamplingSink::new`]).
    pub fn set_ratio(&self, ratio: f64) {
        self.threshold.store(threshold_of(ratio), Ordering::Relaxed);
    }

    /// The ratio now.
    pub fn ratio(&self) -> f64 {
        self.threshold.load(Ordering::Relaxed) as f64 / u64::MAX as f64
    }
}

impl<S: EventSink> EventSink for SamplingSink<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn on_event(&self, event: EventRef<'_>) {
        if matches!(event, EventRef::BreakerTransition(_))
            || self.keeps(event.meta().correlation_id)
        {
            deliver(&self.inner, event);
        } else {
            self.sampled_out.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn flush(&self) {
        self.inner.flush()
    }
}
