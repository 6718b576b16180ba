//! A bounded, non-blocking queue in front of a slow sink, like
//! tracing-appender's `non_blocking` and its `WorkerGuard`.
//!
//! The request path only copies the event into the queue (a short lock, no
//! I/O); a writer thread drains it in batches into the inner sink. When the
//! queue is full the event is dropped and counted in
//! `telemetry_events_dropped_total{sink}` ([`WhenFull::DropNewest`], the
//! default), or the emitting thread waits up to a deadline for room
//! ([`WhenFull::Block`]). The [`QueueGuard`] drains everything on drop or on
//! [`QueueGuard::shutdown`] and reports what it could not write. A panic in
//! the inner sink is caught per event and counted in
//! `telemetry_sink_panics_total` (the writer carries on); should the writer
//! thread itself die, it is restarted, and the restart is counted.

use std::any::Any;
use std::collections::VecDeque;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::core::dispatch::{guarded, record_dropped};
use crate::core::events::kinds::for_each_event_kind;
use crate::core::events::*;
use crate::core::labels::LabelValue;
use crate::core::sink::{deliver, EventSink};

/// What enqueueing does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenFull {
    /// Drop the new event and count it (the request never waits).
    DropNewest,
    /// Wait up to this long for room, then drop and count.
    Block(Duration),
}

/// Settings of a [`non_blocking`] queue.
///
/// ```
/// use telemetry_runtime::sink::queue::{QueueOptions, WhenFull};
/// use std::time::Duration;
/// let opts = QueueOptions::default()
///     .capacity(100_000)
///     .when_full(WhenFull::Block(Duration::from_millis(5)));
/// assert_eq!(opts.capacity, 100_000);
/// ```
#[derive(Debug, Clone)]
pub struct QueueOptions {
    /// Events the queue holds at most (memory is bounded by this).
    pub capacity: usize,
    /// What happens when it is full.
    pub when_full: WhenFull,
    /// Events the writer takes per batch.
    pub batch: usize,
}

impl Default for QueueOptions {
    fn default() -> Self {
        QueueOptions {
            capacity: 65_536,
            when_full: WhenFull::DropNewest,
            batch: 512,
        }
    }
}

impl QueueOptions {
    /// Sets the capacity (at least 1).
    pub fn capacity(mut self, n: usize) -> Self {
        self.capacity = n.max(1);
        self
    }
    /// Sets the policy when full.
    pub fn when_full(mut self, w: WhenFull) -> Self {
        self.when_full = w;
        self
    }
    /// Sets the batch size (at least 1).
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n.max(1);
        self
    }
}

/// A custom event copied for the queue: its name, labels and payload.
#[derive(Debug)]
struct OwnedCustom {
    name: &'static str,
    labels: Vec<(&'static str, LabelValue)>,
    payload: serde_json::Value,
}

impl CustomEvent for OwnedCustom {
    fn name(&self) -> &'static str {
        self.name
    }
    fn visit_labels(&self, f: &mut dyn FnMut(&'static str, LabelValue)) {
        for (k, v) in &self.labels {
            f(k, *v);
        }
    }
    fn payload(&self) -> &dyn erased_serde::Serialize {
        &self.payload
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
}

macro_rules! define_owned_event {
    ( ; $( $variant:ident($ty:ident) $cb:ident $doc:literal; )* ) => {
        /// An event copied for the queue.
        enum OwnedEvent {
            $( $variant($ty), )*
            Custom(EventMeta, OwnedCustom),
        }

        impl OwnedEvent {
            fn copy(event: EventRef<'_>) -> Self {
                match event {
                    $(EventRef::$variant(e) => OwnedEvent::$variant(e.clone()),)*
                    EventRef::Custom(e) => {
                        let mut labels = Vec::new();
                        e.event.visit_labels(&mut |k, v| labels.push((k, v)));
                        OwnedEvent::Custom(
                            e.meta,
                            OwnedCustom {
                                name: e.event.name(),
                                labels,
                                payload: serde_json::to_value(e.event.payload())
                                    .unwrap_or(serde_json::Value::Null),
                            },
                        )
                    }
                }
            }

            fn deliver_to(&self, sink: &dyn EventSink) {
                match self {
                    $(OwnedEvent::$variant(e) => deliver(sink, EventRef::$variant(e)),)*
                    OwnedEvent::Custom(meta, event) => {
                        let record = CustomEventRecord { meta: *meta, event };
                        deliver(sink, EventRef::Custom(&record));
                    }
                }
            }
        }
    };
}

for_each_event_kind!(define_owned_event);

struct State {
    queue: VecDeque<OwnedEvent>,
    /// Events taken by the writer and not yet delivered.
    in_flight: usize,
    shutting_down: bool,
    /// The writer waits for events (an emitter must wake it).
    writer_parked: bool,
}

/// How long the writer waits for a batch to fill once woken.
const LINGER: Duration = Duration::from_micros(500);

struct Shared {
    name: &'static str,
    inner: Box<dyn EventSink>,
    options: QueueOptions,
    state: Mutex<State>,
    /// Signals the writer (events or shutdown) and waiting emitters (room).
    changed: Condvar,
    written: AtomicU64,
    dropped: AtomicU64,
    /// Events the inner sink took but reported it could not write.
    lost: AtomicU64,
    /// Batches whose write failed (at least one event lost).
    write_errors: AtomicU64,
    restarts: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn drop_one(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        record_dropped(self.name, 1);
    }

    fn enqueue(&self, event: EventRef<'_>) {
        let owned = OwnedEvent::copy(event);
        let mut st = self.lock();
        if st.queue.len() >= self.options.capacity {
            match self.options.when_full {
                WhenFull::DropNewest => {
                    drop(st);
                    self.drop_one();
                    return;
                }
                WhenFull::Block(max) => {
                    let deadline = Instant::now() + max;
                    while st.queue.len() >= self.options.capacity && !st.shutting_down {
                        let left = deadline.saturating_duration_since(Instant::now());
                        if left.is_zero() {
                            break;
                        }
                        st = self
                            .changed
                            .wait_timeout(st, left)
                            .map(|(g, _)| g)
                            .unwrap_or_else(|e| e.into_inner().0);
                    }
                    if st.queue.len() >= self.options.capacity {
                        drop(st);
                        self.drop_one();
                        return;
                    }
                }
            }
        }
        // Wake the writer only when it is parked on an empty queue, not for
        // every event: a condvar notify is a system call.
        st.queue.push_back(owned);
        let wake = st.writer_parked;
        st.writer_parked = false;
        drop(st);
        if wake {
            self.changed.notify_all();
        }
    }

    /// The writer: takes batches and delivers them outside the lock.
    fn write_loop(&self) {
        let mut batch: VecDeque<OwnedEvent> =
            VecDeque::with_capacity(self.options.batch.min(self.options.capacity));
        loop {
            {
                let mut st = self.lock();
                st.in_flight = 0;
                while st.queue.is_empty() && !st.shutting_down {
                    st.writer_parked = true;
                    st = self.changed.wait(st).unwrap_or_else(|e| e.into_inner());
                    st.writer_parked = false;
                }
                if st.queue.len() < self.options.batch && !st.shutting_down {
                    // Linger briefly so a trickle becomes a batch and the
                    // request path rarely has to wake a parked writer.
                    drop(st);
                    std::thread::sleep(LINGER);
                    st = self.lock();
                }
                if st.queue.is_empty() && st.shutting_down {
                    drop(st);
                    self.changed.notify_all();
                    return;
                }
                if st.queue.len() <= self.options.batch {
                    // O(1) under the lock: take the whole queue, leave the
                    // (empty, allocated) batch buffer in its place.
                    std::mem::swap(&mut st.queue, &mut batch);
                } else {
                    let n = self.options.batch;
                    batch.extend(st.queue.drain(..n));
                }
                st.in_flight = batch.len();
            }
            // Room was made: wake emitters blocked on a full queue.
            self.changed.notify_all();
            let len = batch.len();
            guarded(&*self.inner, |s| s.begin_batch(len));
            for event in batch.drain(..) {
                guarded(&*self.inner, |s| event.deliver_to(s));
            }
            // The batch boundary: a batched writer commits here and says how
            // many of the batch's events it could not write.
            let mut lost = 0u64;
            guarded(&*self.inner, |s| lost = s.end_batch());
            let lost = lost.min(len as u64);
            if lost > 0 {
                self.lost.fetch_add(lost, Ordering::Relaxed);
                self.write_errors.fetch_add(1, Ordering::Relaxed);
                record_dropped(self.name, lost);
            }
            self.written.fetch_add(len as u64 - lost, Ordering::Relaxed);
        }
    }
}

/// The sink half of [`non_blocking`]: enqueues every event.
pub struct QueuedSink {
    shared: Arc<Shared>,
}

impl fmt::Debug for QueuedSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueuedSink")
            .field("sink", &self.shared.name)
            .field("queued", &self.shared.lock().queue.len())
            .finish()
    }
}

impl EventSink for QueuedSink {
    fn name(&self) -> &'static str {
        self.shared.name
    }
    fn on_event(&self, event: EventRef<'_>) {
        self.shared.enqueue(event);
    }
    /// Waits (up to 5 s) until everything queued so far was delivered, then
    /// flushes the inner sink.
    fn flush(&self) {
        let deadline = Instant::now() + Duration::from_secs(5);
        let mut st = self.shared.lock();
        while (!st.queue.is_empty() || st.in_flight > 0) && !st.shutting_down {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            st = self
                .shared
                .changed
                .wait_timeout(st, left.min(Duration::from_millis(10)))
                .map(|(g, _)| g)
                .unwrap_or_else(|e| e.into_inner().0);
        }
        drop(st);
        guarded(&*self.shared.inner, |s| s.flush());
    }
}

/// What a [`QueueGuard::shutdown`] could and could not write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShutdownReport {
    /// Events delivered to the inner sink over the queue's life (less those
    /// it reported it could not write).
    pub written: u64,
    /// Events dropped because the queue was full.
    pub dropped: u64,
    /// Events the inner sink could not write (I/O errors, a full disk),
    /// reported by [`EventSink::end_batch`]; also counted in
    /// `telemetry_events_dropped_total{sink}`.
    pub lost: u64,
    /// Batches that failed to write (at least one event lost).
    pub write_errors: u64,
    /// Events still queued when the deadline passed (not written).
    pub unwritten: usize,
    /// Times the writer thread died and was restarted.
    pub writer_restarts: u64,
}

/// Drains the queue when dropped (up to 5 s) or at [`QueueGuard::shutdown`].
pub struct QueueGuard {
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl fmt::Debug for QueueGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueGuard")
            .field("sink", &self.shared.name)
            .finish()
    }
}

impl QueueGuard {
    /// Events delivered so far.
    pub fn written(&self) -> u64 {
        self.shared.written.load(Ordering::Relaxed)
    }
    /// Events dropped so far (queue full).
    pub fn dropped(&self) -> u64 {
        self.shared.dropped.load(Ordering::Relaxed)
    }
    /// Events the inner sink reported it could not write, so far.
    pub fn lost(&self) -> u64 {
        self.shared.lost.load(Ordering::Relaxed)
    }
    /// Batches whose write failed, so far.
    pub fn write_errors(&self) -> u64 {
        self.shared.write_errors.load(Ordering::Relaxed)
    }
    /// Events waiting in the queue now (at most the capacity).
    pub fn queued(&self) -> usize {
        self.shared.lock().queue.len()
    }

    /// Stops taking events, writes what is queued until `deadline` has
    /// passed, flushes the inner sink and reports.
    pub fn shutdown(mut self, deadline: Duration) -> ShutdownReport {
        self.stop(deadline)
    }

    fn stop(&mut self, deadline: Duration) -> ShutdownReport {
        let until = Instant::now() + deadline;
        {
            let mut st = self.shared.lock();
            // Let the writer drain first, then tell it to stop.
            while (!st.queue.is_empty() || st.in_flight > 0) && Instant::now() < until {
                let left = until.saturating_duration_since(Instant::now());
                st = self
                    .shared
                    .changed
                    .wait_timeout(st, left.min(Duration::from_millis(10)))
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0);
            }
            st.shutting_down = true;
        }
        self.shared.changed.notify_all();
        let unwritten = {
            let mut st = self.shared.lock();
            let n = st.queue.len();
            // Past the deadline: what is left is reported, not written.
            st.queue.clear();
            n
        };
        if unwritten > 0 {
            record_dropped(self.shared.name, unwritten as u64);
        }
        if let Some(writer) = self.writer.take() {
            let _ = writer.join();
        }
        guarded(&*self.shared.inner, |s| s.flush());
        ShutdownReport {
            written: self.written(),
            dropped: self.dropped(),
            lost: self.lost(),
            write_errors: self.write_errors(),
            unwritten,
            writer_restarts: self.shared.restarts.load(Ordering::Relaxed),
        }
    }
}

impl Drop for QueueGuard {
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.stop(Duration::from_secs(5));
        }
    }
}

/// Moves `sink` off the request path: returns the queue's sink half (install
/// it where `sink` would go) and the guard that drains it. The queue's
/// `sink` label is `sink.name()`.
///
/// ```
/// use telemetry_runtime::sink::{queue, JsonLogSink};
/// let (sink, guard) = queue::non_blocking(JsonLogSink::to_writer(Vec::<u8>::new()));
/// telemetry_runtime::dispatch::set_global_sink(sink);
/// // ... requests ...
/// telemetry_runtime::dispatch::clear_global_sink();
/// let report = guard.shutdown(std::time::Duration::from_secs(1));
/// assert_eq!(report.unwritten, 0);
/// ```
pub fn non_blocking(sink: impl EventSink) -> (QueuedSink, QueueGuard) {
    non_blocking_with(sink, QueueOptions::default())
}

/// [`non_blocking`] with settings.
pub fn non_blocking_with(sink: impl EventSink, options: QueueOptions) -> (QueuedSink, QueueGuard) {
    let name = catch_unwind(AssertUnwindSafe(|| sink.name())).unwrap_or("_unnamed");
    let shared = Arc::new(Shared {
        name,
        inner: Box::new(sink),
        state: Mutex::new(State {
            queue: VecDeque::with_capacity(options.capacity.min(4096)),
            in_flight: 0,
            shutting_down: false,
            writer_parked: false,
        }),
        options,
        changed: Condvar::new(),
        written: AtomicU64::new(0),
        dropped: AtomicU64::new(0),
        lost: AtomicU64::new(0),
        write_errors: AtomicU64::new(0),
        restarts: AtomicU64::new(0),
    });
    let worker = Arc::clone(&shared);
    let writer = std::thread::Builder::new()
        .name(format!("telemetry-queue-{name}"))
        .spawn(move || loop {
            // Panics of the inner sink are caught per event; this catches
            // anything else, so the writer restarts instead of dying.
            if catch_unwind(AssertUnwindSafe(|| worker.write_loop())).is_ok() {
                break;
            }
            worker.restarts.fetch_add(1, Ordering::Relaxed);
        })
        .ok();
    (
        QueuedSink {
            shared: Arc::clone(&shared),
        },
        QueueGuard { shared, writer },
    )
}
