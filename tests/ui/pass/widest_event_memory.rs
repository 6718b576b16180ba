//! The widest event the budget admits, and the memory its counters take.
//!
//! 16 labels (the most an event may carry) under the largest budget: 15 of
//! cap 1 and one of cap 60, so (60 + 1) × 2^15 = 1,998,848 combinations,
//! `_OTHER` values counted, within `budget = 2000000`. The Prometheus sink's
//! counters for it must grow with the combinations seen: at most 40 bytes
//! per combination and a fixed 256 bytes, and at most 8 bytes per possible
//! combination (16 MB) once they are dense; for a moment (while the map
//! grows, or turns dense) at most 72 bytes per combination. Measured: 84
//! bytes for the first combination, 278,544 for 10,000 (peak 418,064),
//! 15,990,776 for 499,712, dense (peak 33,816,824). (Before, the first
//! emission allocated a counter for every combination at once: 16 MB here,
//! 336 MB for 16 labels of cap 2, which the budget now rejects.)
//!
//! Measured with a counting global allocator, which is why this is a binary
//! of its own; it runs on one thread, and the sink counts on the emitting
//! thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use telemetry_runtime::backends::prometheus::{custom_event_counts, PrometheusSink};
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded as is; `layout` is the caller's.
        let ptr = unsafe { System.alloc(layout) };
        if !ptr.is_null() {
            let live = LIVE.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(live, Ordering::Relaxed);
        }
        ptr
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above with this `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

#[instrumented_adapter(
    labels(wide(cap = 60), b1(cap = 1), b2(cap = 1), b3(cap = 1), b4(cap = 1), b5(cap = 1), b6(cap = 1), b7(cap = 1), b8(cap = 1), b9(cap = 1), b10(cap = 1), b11(cap = 1), b12(cap = 1), b13(cap = 1), b14(cap = 1), b15(cap = 1)),
    events(seen(wide, b1, b2, b3, b4, b5, b6, b7, b8, b9, b10, b11, b12, b13, b14, b15)),
    budget = 2000000,
)]
struct Widest {}

/// Bytes the counters may take for `seen` combinations (sparse).
fn sparse_bound(seen: usize) -> usize {
    40 * seen + 256
}

/// Bytes they may take for a moment: while the map grows, or turns dense.
fn peak_bound(seen: usize) -> usize {
    72 * seen + 256
}

fn main() {
    let t = Widest::telemetry();
    t.set_sink(Some(Box::new(PrometheusSink::new())));
    // Label values are interned first: they are the labels' memory, at most
    // cap + 1 per label, not the event's. `wide` gets w0..w59, every binary
    // label `on`; any other value is `_OTHER`.
    let wide: Vec<String> = (0..=60).map(|i| format!("w{i}")).collect();
    for v in &wide[..60] {
        let _ = t.label(0).intern(v);
    }
    for l in 1..16 {
        let _ = t.label(l).intern("on");
    }
    let a = Widest {};
    let emit = |i: usize| {
        let w = wide[i % 61].as_str();
        let bits = i / 61;
        let b: Vec<&str> = (0..15)
            .map(|l| if bits >> l & 1 == 0 { "on" } else { "off" })
            .collect();
        a.emit().seen(w, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14]);
    };
    let all_other = 61 * (1 << 15) - 1;
    // The adapter's state is created at its first event: the all-`_OTHER`
    // combination, which has its own counter.
    emit(all_other);
    let base = LIVE.load(Ordering::Relaxed);

    emit(0);
    let first = LIVE.load(Ordering::Relaxed) - base;
    assert!(first <= sparse_bound(1), "first combination: {first} bytes");

    let seen = 10_000;
    PEAK.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    for i in 1..seen {
        emit(i);
        emit(i);
    }
    let sparse = LIVE.load(Ordering::Relaxed) - base;
    let sparse_peak = PEAK.load(Ordering::Relaxed) - base;
    assert!(sparse <= sparse_bound(seen), "{seen} combinations: {sparse} bytes");
    assert!(sparse_peak <= peak_bound(seen), "peak: {sparse_peak} bytes");

    let series = custom_event_counts(t);
    assert_eq!(series.len(), seen + 1, "every combination seen, and all-`_OTHER`");
    assert_eq!(series.iter().map(|(_, _, c)| c).sum::<u64>(), 2 * seen as u64 - 1 + 1);
    assert_eq!(series[0].1[0].1.as_str(), "w0");
    assert!(series[seen].1.iter().all(|(_, v)| v.as_str() == "_OTHER"));
    drop(series);

    // A quarter of all combinations seen: dense, 8 bytes per combination.
    let quarter = all_other / 4 + 1;
    for i in seen..quarter {
        emit(i);
    }
    let dense = LIVE.load(Ordering::Relaxed) - base;
    let dense_peak = PEAK.load(Ordering::Relaxed) - base;
    assert!(dense <= 8 * all_other + 256, "dense: {dense} bytes");
    assert!(dense <= sparse_bound(quarter), "dense: {dense} bytes for {quarter}");
    assert!(dense_peak <= peak_bound(quarter), "peak: {dense_peak} bytes");
    // `PRINT_MEMORY=1 target/tests/trybuild/.../trybuildNNN` shows the
    // numbers the module documentation quotes.
    if std::env::var_os("PRINT_MEMORY").is_some() {
        eprintln!(
            "first combination: {first} B; {seen} combinations: {sparse} B (peak {sparse_peak} B); \
             {quarter} combinations, dense: {dense} B (peak {dense_peak} B)"
        );
    }
}
