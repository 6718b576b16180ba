//! Where events go: the global sink, per-adapter sinks, and panic isolation.
//!
//! The emit path checks one relaxed atomic load ([`interested`]) before it
//! builds anything; with no sink installed anywhere that is all it costs. With
//! the `events` feature off, [`interested`] is a `const fn` returning `false`
//! and the generated emitters compile to nothing.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwapOption;

use crate::core::events::EventRef;
use crate::core::sink::{deliver, EventSink};

/// An installed sink, shared by the slots that hold it.
pub(crate) type SinkSlot = ArcSwapOption<Box<dyn EventSink>>;

/// Number of sink slots (global or per adapter) holding a sink.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static GLOBAL: SinkSlot = ArcSwapOption::const_empty();
/// 1 while the global slot holds a sink (same bookkeeping as [`ACTIVE`]).
static GLOBAL_ACTIVE: AtomicUsize = AtomicUsize::new(0);
/// The global slot's 0 or 1 plus the number of observers: what the
/// per-adapter interest check reads besides the adapter's own slot.
static GLOBAL_INTEREST: AtomicUsize = AtomicUsize::new(0);
/// Sinks that see every adapter's events besides the global or adapter sink
/// (health state, a dashboard), with the id each was added under.
static OBSERVERS: ArcSwapOption<Vec<(ObserverId, Arc<dyn EventSink>)>> =
    ArcSwapOption::const_empty();
static OBSERVERS_LOCK: Mutex<()> = Mutex::new(());
static OBSERVER_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Whether any sink is installed anywhere: one relaxed load.
///
/// ```
/// use telemetry_runtime::{dispatch, sink::RecordingSink};
/// assert!(!dispatch::interested());
/// dispatch::set_global_sink(RecordingSink::new());
/// assert_eq!(dispatch::interested(), cfg!(feature = "events"));
/// dispatch::clear_global_sink();
/// assert!(!dispatch::interested());
/// ```
#[inline(always)]
pub fn interested() -> bool {
    cfg!(feature = "events") && ACTIVE.load(Ordering::Relaxed) != 0
}

/// Installs `sink` as the global sink (for every adapter without its own),
/// replacing any previous one, which is flushed.
///
/// ```
/// use telemetry_runtime::{dispatch, sink::RecordingSink};
/// dispatch::set_global_sink(RecordingSink::new());
/// // Without the `events` feature nothing is ever interested.
/// assert_eq!(dispatch::interested(), cfg!(feature = "events"));
/// dispatch::clear_global_sink();
/// ```
pub fn set_global_sink(sink: impl EventSink) {
    install(&GLOBAL, &GLOBAL_ACTIVE, Some(Box::new(sink)));
}

/// Removes the global sink, flushing it.
pub fn clear_global_sink() {
    install(&GLOBAL, &GLOBAL_ACTIVE, None);
}

/// Whether the global slot holds a sink or any observer is installed: one
/// relaxed load.
#[inline(always)]
pub(crate) fn global_interest() -> bool {
    cfg!(feature = "events") && GLOBAL_INTEREST.load(Ordering::Relaxed) != 0
}

/// Names an installed observer, for [`remove_observer`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ObserverId(u64);

/// Adds `observer`, which from now on sees every event of every adapter in
/// addition to the global or per-adapter sink, until [`remove_observer`]
/// takes it out (most stay for the rest of the process). For components
/// that keep state of their own from events (the health state, a live
/// dashboard while someone watches it); ordinary outputs belong in the
/// global sink. Observers are panic-isolated like sinks.
///
/// ```
/// use telemetry_runtime::{dispatch, sink::RecordingSink};
/// let before = dispatch::observer_count();
/// let id = dispatch::add_observer(RecordingSink::new());
/// assert_eq!(dispatch::observer_count(), before + 1);
/// assert_eq!(dispatch::interested(), cfg!(feature = "events"));
/// assert!(dispatch::remove_observer(id));
/// assert_eq!(dispatch::observer_count(), before);
/// ```
pub fn add_observer(observer: impl EventSink) -> ObserverId {
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let id = ObserverId(NEXT_ID.fetch_add(1, Ordering::Relaxed));
    let _serial = OBSERVERS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut list: Vec<(ObserverId, Arc<dyn EventSink>)> = OBSERVERS
        .load_full()
        .map(|l| l.as_ref().clone())
        .unwrap_or_default();
    list.push((id, Arc::new(observer)));
    OBSERVERS.store(Some(Arc::new(list)));
    OBSERVER_COUNT.fetch_add(1, Ordering::Relaxed);
    GLOBAL_INTEREST.fetch_add(1, Ordering::Relaxed);
    ACTIVE.fetch_add(1, Ordering::Relaxed);
    id
}

/// Takes the observer `id` out, flushing it: events from now on no longer
/// reach it (one emitted concurrently may still). Returns whether it was
/// installed.
///
/// ```
/// use telemetry_runtime::{dispatch, sink::RecordingSink};
/// let id = dispatch::add_observer(RecordingSink::new());
/// assert!(dispatch::remove_observer(id));
/// assert!(!dispatch::remove_observer(id), "already removed");
/// ```
pub fn remove_observer(id: ObserverId) -> bool {
    let _serial = OBSERVERS_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut list: Vec<(ObserverId, Arc<dyn EventSink>)> = OBSERVERS
        .load_full()
        .map(|l| l.as_ref().clone())
        .unwrap_or_default();
    let Some(at) = list.iter().position(|(i, _)| *i == id) else {
        return false;
    };
    let (_, removed) = list.remove(at);
    OBSERVERS.store((!list.is_empty()).then(|| Arc::new(list)));
    OBSERVER_COUNT.fetch_sub(1, Ordering::Relaxed);
    GLOBAL_INTEREST.fetch_sub(1, Ordering::Relaxed);
    ACTIVE.fetch_sub(1, Ordering::Relaxed);
    guarded(&*removed, |s| s.flush());
    true
}

/// Number of observers installed.
pub fn observer_count() -> usize {
    OBSERVER_COUNT.load(Ordering::Relaxed)
}

/// Delivers `event` to the global sink, if any (panic-isolated).
#[inline]
pub(crate) fn deliver_global(event: EventRef<'_>) {
    let global = GLOBAL.load();
    if let Some(sink) = &*global {
        guarded(&***sink, |s| deliver(s, event));
    }
}

/// Delivers `event` to every observer (panic-isolated); one relaxed load
/// when there is none.
#[inline]
pub(crate) fn deliver_observers(event: EventRef<'_>) {
    if OBSERVER_COUNT.load(Ordering::Relaxed) == 0 {
        return;
    }
    let list = OBSERVERS.load();
    if let Some(list) = &*list {
        for (_, o) in list.iter() {
            guarded(&**o, |s| deliver(s, event));
        }
    }
}

/// Puts `sink` in `slot`; `slot_active` counts whether that slot holds one
/// (the per-slot twin of [`ACTIVE`], read by the per-adapter interest check).
pub(crate) fn install(
    slot: &SinkSlot,
    slot_active: &AtomicUsize,
    sink: Option<Box<dyn EventSink>>,
) {
    let is_some = sink.is_some();
    let old = slot.swap(sink.map(Arc::new));
    // Counted from the swap's result, so concurrent installs on one slot
    // leave both counters equal to the number of slots holding a sink.
    match (old.is_some(), is_some) {
        (false, true) => {
            slot_active.fetch_add(1, Ordering::Relaxed);
            if std::ptr::eq(slot, &GLOBAL) {
                GLOBAL_INTEREST.fetch_add(1, Ordering::Relaxed);
            }
            ACTIVE.fetch_add(1, Ordering::Relaxed);
        }
        (true, false) => {
            slot_active.fetch_sub(1, Ordering::Relaxed);
            if std::ptr::eq(slot, &GLOBAL) {
                GLOBAL_INTEREST.fetch_sub(1, Ordering::Relaxed);
            }
            ACTIVE.fetch_sub(1, Ordering::Relaxed);
        }
        _ => {}
    }
    if let Some(old) = old {
        guarded(&**old, |s| s.flush());
    }
}

/// Flushes the global sink (call on shutdown so queued events are written).
pub fn flush_global() {
    if let Some(sink) = GLOBAL.load_full() {
        guarded(&**sink, |s| s.flush());
    }
}

/// Runs `f` on `sink`, catching a panic: the panic is counted against the
/// sink's name in `telemetry_sink_panics_total` and goes no further.
///
/// ```
/// use telemetry_runtime::{dispatch, sink::EventSink};
/// struct Boom;
/// impl EventSink for Boom { fn name(&self) -> &'static str { "doc_boom" } fn flush(&self) { panic!("boom") } }
/// dispatch::guarded(&Boom, |s| s.flush());
/// assert!(dispatch::sink_panics().iter().any(|(n, c)| *n == "doc_boom" && *c == 1));
/// ```
#[inline]
pub fn guarded(sink: &dyn EventSink, f: impl FnOnce(&dyn EventSink)) {
    if catch_unwind(AssertUnwindSafe(|| f(sink))).is_err() {
        // A sink's name() could panic too; name it generically then.
        let name = catch_unwind(AssertUnwindSafe(|| sink.name())).unwrap_or("_unnamed");
        count(&PANICS, name, 1);
    }
}

/// Per-sink-name counters; each counter is leaked once (at most 256 names
/// per table), so a sink can hold its own `&'static` handle and count on
/// its hot path with one atomic add.
type SinkCounters = Mutex<Vec<(&'static str, &'static AtomicU64)>>;
static PANICS: SinkCounters = Mutex::new(Vec::new());
static DROPPED: SinkCounters = Mutex::new(Vec::new());
static SAMPLED_OUT: SinkCounters = Mutex::new(Vec::new());
static SUPPRESSED: SinkCounters = Mutex::new(Vec::new());
static WRITE_ERRORS: SinkCounters = Mutex::new(Vec::new());

/// The counter of `sink` in `table`, created on first use.
#[cold]
fn counter(table: &SinkCounters, sink: &'static str) -> &'static AtomicU64 {
    let mut t = table.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, c)) = t.iter().find(|(name, _)| *name == sink) {
        return c;
    }
    if t.len() >= 256 {
        // Sink names are code, not input; 256 is far above any real program
        // and keeps the `sink` label bounded even if a name is computed.
        if let Some((_, c)) = t.last() {
            return c;
        }
    }
    let c: &'static AtomicU64 = Box::leak(Box::new(AtomicU64::new(0)));
    t.push((sink, c));
    c
}

#[cold]
fn count(table: &SinkCounters, sink: &'static str, n: u64) {
    counter(table, sink).fetch_add(n, Ordering::Relaxed);
}

fn snapshot(table: &SinkCounters) -> Vec<(&'static str, u64)> {
    let t = table.lock().unwrap_or_else(|e| e.into_inner());
    t.iter()
        .map(|(n, c)| (*n, c.load(Ordering::Relaxed)))
        .collect()
}

/// The counter behind `telemetry_events_sampled_out_total{sink}`: a
/// sampling sink holds it and adds what it keeps out.
pub fn sampled_out_counter(sink: &'static str) -> &'static AtomicU64 {
    counter(&SAMPLED_OUT, sink)
}

/// The counter behind `telemetry_events_suppressed_total{sink}`: a
/// rate-limiting sink holds it and adds what it suppresses.
pub fn suppressed_counter(sink: &'static str) -> &'static AtomicU64 {
    counter(&SUPPRESSED, sink)
}

/// Events kept out by sampling, per sink name so far.
pub fn events_sampled_out() -> Vec<(&'static str, u64)> {
    snapshot(&SAMPLED_OUT)
}

/// Events suppressed by rate limiting, per sink name so far.
pub fn events_suppressed() -> Vec<(&'static str, u64)> {
    snapshot(&SUPPRESSED)
}

/// Records that `sink` dropped `n` events (a full queue, say):
/// `telemetry_events_dropped_total{sink}`.
pub fn record_dropped(sink: &'static str, n: u64) {
    count(&DROPPED, sink, n);
}

/// Records that `sink` failed `n` writes to its destination (an I/O error
/// of a file or database: a batch that could not be written or committed,
/// a failed fsync or rotation): `telemetry_sink_write_errors_total{sink}`.
/// The events such a failure loses are counted apart, with
/// [`record_dropped`].
///
/// ```
/// use telemetry_runtime::dispatch;
/// dispatch::record_write_error("doc_disk", 1);
/// assert!(dispatch::sink_write_errors().iter().any(|(n, c)| *n == "doc_disk" && *c == 1));
/// ```
pub fn record_write_error(sink: &'static str, n: u64) {
    count(&WRITE_ERRORS, sink, n);
}

/// Write errors per sink name so far
/// (`telemetry_sink_write_errors_total{sink}`).
///
/// ```
/// use telemetry_runtime::dispatch;
/// dispatch::record_write_error("doc_disk_list", 2);
/// let errors = dispatch::sink_write_errors();
/// assert!(errors.contains(&("doc_disk_list", 2)));
/// ```
pub fn sink_write_errors() -> Vec<(&'static str, u64)> {
    snapshot(&WRITE_ERRORS)
}

/// Panics caught per sink name so far.
pub fn sink_panics() -> Vec<(&'static str, u64)> {
    snapshot(&PANICS)
}

/// Events dropped per sink name so far.
pub fn events_dropped() -> Vec<(&'static str, u64)> {
    snapshot(&DROPPED)
}
