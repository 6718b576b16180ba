//! Passing on at most N events per second per event kind and host.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::core::dispatch::suppressed_counter;
use crate::core::events::EventRef;
use crate::core::sink::{deliver, EventSink};

/// Passes on at most `per_second` events (with bursts of `burst`) per event
/// kind and host, for high-volume outputs such as logs: a flood of errors
/// from one broken host keeps one line per interval instead of thousands.
/// Breaker transitions always pass. Suppressed events are counted in
/// `telemetry_events_suppressed_total{sink}` (the inner sink's name), and at
/// the first event after every `summary_every` (default 10 s) the sink
/// reports what it suppressed
/// per kind and host since the last summary: through `tracing` when that
/// feature is on (a warning, target `telemetry_runtime::sink`), and always
/// in [`RateLimitSink::last_summary`].
///
/// ```
/// use telemetry_runtime::sink::{RateLimitSink, RecordingSink};
/// let logs = RateLimitSink::new(10.0, 20, RecordingSink::new());
/// # let _ = logs;
/// ```
pub struct RateLimitSink<S> {
    inner: S,
    suppressed: &'static AtomicU64,
    summary_every: Duration,
    /// Shared with every [`RateLimitHandle`] of the sink.
    state: Arc<Mutex<Buckets>>,
}

/// Changes a [`RateLimitSink`]'s rate and burst while it runs (the sink is
/// usually boxed inside the dispatcher by then). Buckets already full keep
/// their tokens up to the new burst.
///
/// ```
/// use telemetry_runtime::sink::{RateLimitSink, RecordingSink};
/// let sink = RateLimitSink::new(10.0, 20, RecordingSink::new());
/// let handle = sink.handle();
/// handle.set(2.0, 5);
/// assert_eq!(handle.get(), (2.0, 5));
/// ```
#[derive(Clone)]
pub struct RateLimitHandle {
    state: Arc<Mutex<Buckets>>,
}

impl fmt::Debug for RateLimitHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (per_second, burst) = self.get();
        f.debug_struct("RateLimitHandle")
            .field("per_second", &per_second)
            .field("burst", &burst)
            .finish()
    }
}

impl RateLimitHandle {
    /// The new rate and burst, with the rules of [`RateLimitSink::new`].
    pub fn set(&self, per_second: f64, burst: u32) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.per_second = valid_rate(per_second);
        st.burst = f64::from(burst.max(1));
    }

    /// The rate and burst now.
    pub fn get(&self) -> (f64, u32) {
        let st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        (st.per_second, st.burst as u32)
    }
}

/// A non-finite or negative rate passes nothing.
fn valid_rate(per_second: f64) -> f64 {
    if per_second.is_finite() && per_second > 0.0 {
        per_second
    } else {
        0.0
    }
}

/// `(event kind, adapter, host)`: every part is bounded (kinds are code,
/// hosts are capped labels), so the table is too.
type Key = (&'static str, &'static str, &'static str);

struct Bucket {
    tokens: f64,
    last: Instant,
    suppressed: u64,
}

struct Buckets {
    per_second: f64,
    burst: f64,
    by_key: HashMap<Key, Bucket>,
    last_summary_at: Instant,
    last_summary: Vec<(Key, u64)>,
}

impl<S: EventSink> fmt::Debug for RateLimitSink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (per_second, burst) = self.handle().get();
        f.debug_struct("RateLimitSink")
            .field("per_second", &per_second)
            .field("burst", &burst)
            .field("inner", &self.inner.name())
            .finish()
    }
}

impl<S: EventSink> RateLimitSink<S> {
    /// At most `per_second` events per kind and host (a non-finite or
    /// negative rate passes nothing but breaker transitions), bursts of
    /// `burst` (at least 1).
    pub fn new(per_second: f64, burst: u32, inner: S) -> Self {
        let suppressed = suppressed_counter(inner.name());
        RateLimitSink {
            inner,
            suppressed,
            summary_every: Duration::from_secs(10),
            state: Arc::new(Mutex::new(Buckets {
                per_second: valid_rate(per_second),
                burst: f64::from(burst.max(1)),
                by_key: HashMap::new(),
                last_summary_at: Instant::now(),
                last_summary: Vec::new(),
            })),
        }
    }

    /// A handle that changes this sink's rate and burst later.
    pub fn handle(&self) -> RateLimitHandle {
        RateLimitHandle {
            state: Arc::clone(&self.state),
        }
    }

    /// How often a summary of what was suppressed is reported (default 10 s).
    pub fn summary_every(mut self, d: Duration) -> Self {
        self.summary_every = d.max(Duration::from_millis(1));
        self
    }

    /// The last summary: `((kind, adapter, host), suppressed)` per key that
    /// suppressed anything in its interval.
    pub fn last_summary(&self) -> Vec<((&'static str, &'static str, &'static str), u64)> {
        self.lock().last_summary.clone()
    }

    /// Events suppressed so far (all keys).
    pub fn suppressed(&self) -> u64 {
        self.suppressed.load(Ordering::Relaxed)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the event of `key` may pass now; rolls the summary over.
    fn admit(&self, key: Key, now: Instant) -> bool {
        let mut st = self.lock();
        if now.saturating_duration_since(st.last_summary_at) >= self.summary_every {
            let mut summary: Vec<(Key, u64)> = st
                .by_key
                .iter_mut()
                .filter(|(_, b)| b.suppressed > 0)
                .map(|(k, b)| (*k, std::mem::take(&mut b.suppressed)))
                .collect();
            summary.sort();
            #[cfg(feature = "tracing")]
            for ((kind, adapter, host), n) in &summary {
                tracing::warn!(
                    target: "telemetry_runtime::sink",
                    sink = self.inner.name(),
                    event = kind,
                    adapter,
                    server.address = host,
                    suppressed = n,
                    "events suppressed by rate limiting"
                );
            }
            st.last_summary = summary;
            st.last_summary_at = now;
        }
        let (rate, burst) = (st.per_second, st.burst);
        let b = st.by_key.entry(key).or_insert(Bucket {
            tokens: burst,
            last: now,
            suppressed: 0,
        });
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(burst);
        b.last = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            true
        } else {
            b.suppressed += 1;
            false
        }
    }
}

impl<S: EventSink> EventSink for RateLimitSink<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn on_event(&self, event: EventRef<'_>) {
        if matches!(event, EventRef::BreakerTransition(_)) {
            deliver(&self.inner, event);
            return;
        }
        let meta = event.meta();
        let key = (event.kind(), meta.adapter.name(), meta.host.as_str());
        if self.admit(key, Instant::now()) {
            deliver(&self.inner, event);
        } else {
            self.suppressed.fetch_add(1, Ordering::Relaxed);
        }
    }
    fn flush(&self) {
        self.inner.flush()
    }
}
