//! Per-adapter telemetry state: the bridge between generated code, the
//! instrumented client and the sinks.
//!
//! The macro writes one `static` [`AdapterTelemetry`] per annotated type; its
//! state (label tables, metric handles) is built on first use and lives for the
//! process. [`InstrumentedAdapter`] is how the client and tools reach it.

use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::dispatch::{self, SinkSlot};
use crate::events::{CorrelationId, CustomEvent, CustomEventRecord, EventMeta, EventRef};
use crate::instruments::{Buckets, HostMetrics};
use crate::labels::{BoundedLabel, LabelValue};
use crate::manifest::AdapterManifest;
use crate::sink::{deliver, EventSink};

/// Implemented by `#[instrumented_adapter]` for the annotated type.
///
/// ```
/// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
///
/// #[instrumented_adapter(name = "geo", hosts(cap = 4))]
/// struct Geo {}
///
/// assert_eq!(Geo::MANIFEST.name, "geo");
/// assert_eq!(Geo::telemetry().hosts().cap(), 4);
/// ```
pub trait InstrumentedAdapter {
    /// The generated enum of the adapter's custom events.
    type Event: CustomEvent;
    /// The adapter's manifest.
    const MANIFEST: &'static AdapterManifest;
    /// The adapter's telemetry state.
    fn telemetry() -> &'static AdapterTelemetry;
}

/// Telemetry state of one adapter type.
pub struct AdapterTelemetry {
    manifest: &'static AdapterManifest,
    state: OnceLock<AdapterState>,
    sink: SinkSlot,
    /// 1 while `sink` holds a sink: the per-adapter interest check reads
    /// this instead of loading the slot.
    sink_active: AtomicUsize,
    /// The Prometheus backend's cached metric handles for this adapter,
    /// built at its first limiter/retry/breaker/fallback event: reached in
    /// one load from the event's `&'static` adapter, no global table to
    /// search and no reference count to touch per event.
    #[cfg(feature = "prometheus")]
    pub(crate) prometheus: OnceLock<crate::backends::prometheus::AdapterHandles>,
}

struct AdapterState {
    hosts: BoundedLabel,
    labels: Box<[BoundedLabel]>,
    host_metrics: Box<[OnceLock<Box<HostMetrics>>]>,
    /// Per custom event, counters indexed by the mixed-radix combination of its
    /// label indices (each in `0..=cap`), allocated on first emission.
    event_counts: Box<[OnceLock<Box<[AtomicU64]>>]>,
    duration_buckets: &'static Buckets,
    size_buckets: &'static Buckets,
}

/// One custom-event series: event name, its label values, its count.
pub type CustomEventSeries = (&'static str, Vec<(&'static str, LabelValue)>, u64);

static REGISTRY: Mutex<Vec<&'static AdapterTelemetry>> = Mutex::new(Vec::new());

static DUPLICATES: Mutex<Vec<(&'static str, &'static str)>> = Mutex::new(Vec::new());

/// Every adapter whose telemetry has been used in this process, in first-use
/// order: what exporters iterate. An adapter whose `name` was already taken
/// by another type is left out (see [`duplicate_adapters`]).
pub fn registered_adapters() -> Vec<&'static AdapterTelemetry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// `(adapter name, type name)` of every adapter type that was refused because
/// another type already uses the same `name`. Their events still reach their
/// sinks, but their metric series are not exported: two adapters with one
/// name would write identical series, and Prometheus rejects a whole scrape
/// that repeats a series.
pub fn duplicate_adapters() -> Vec<(&'static str, &'static str)> {
    DUPLICATES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

fn register(adapter: &'static AdapterTelemetry) {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let name = adapter.manifest.name;
    match registry.iter().find(|a| a.manifest.name == name) {
        None => registry.push(adapter),
        Some(first) => {
            let first_type = first.manifest.type_name;
            drop(registry);
            DUPLICATES
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push((name, adapter.manifest.type_name));
            // Once per refused type (registration happens once per type).
            eprintln!(
                "telemetry-runtime: adapter name `{name}` is used by both `{first_type}` and `{}`; \
                 the metrics of `{}` are not exported (duplicate series would make Prometheus \
                 reject the whole scrape). Give one of them another `name = \"...\"`.",
                adapter.manifest.type_name, adapter.manifest.type_name
            );
        }
    }
}

impl fmt::Debug for AdapterTelemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterTelemetry")
            .field("adapter", &self.manifest.name)
            .field("initialised", &self.state.get().is_some())
            .finish()
    }
}

impl AdapterTelemetry {
    /// State for `manifest`; `const` so generated code can hold it in a `static`.
    pub const fn new(manifest: &'static AdapterManifest) -> Self {
        AdapterTelemetry {
            manifest,
            state: OnceLock::new(),
            sink: SinkSlot::const_empty(),
            sink_active: AtomicUsize::new(0),
            #[cfg(feature = "prometheus")]
            prometheus: OnceLock::new(),
        }
    }

    /// The manifest.
    pub fn manifest(&self) -> &'static AdapterManifest {
        self.manifest
    }

    // Inlined: every `host_metrics` call (the request hot path) goes
    // through here; out of line it cost about 2 ns per recorded request
    // (docs/performance.md).
    #[inline]
    fn state(&'static self) -> &'static AdapterState {
        self.state.get_or_init(|| {
            let m = self.manifest;
            let state = AdapterState {
                hosts: BoundedLabel::new("host", m.host_cap),
                labels: m
                    .labels
                    .iter()
                    .map(|l| BoundedLabel::new(l.name, l.cap))
                    .collect(),
                host_metrics: (0..=m.host_cap.clamp(1, crate::labels::MAX_CAP))
                    .map(|_| OnceLock::new())
                    .collect(),
                event_counts: m.events.iter().map(|_| OnceLock::new()).collect(),
                duration_buckets: crate::instruments::request_buckets().0,
                size_buckets: crate::instruments::request_buckets().1,
            };
            register(self);
            state
        })
    }

    /// The bounded `host` label.
    pub fn hosts(&'static self) -> &'static BoundedLabel {
        &self.state().hosts
    }

    /// The declared label at `index` (declaration order).
    ///
    /// # Panics
    /// If `index` is out of range; generated code only passes valid indices.
    pub fn label(&'static self, index: usize) -> &'static BoundedLabel {
        &self.state().labels[index]
    }

    /// All declared labels, in declaration order.
    pub fn labels(&'static self) -> &'static [BoundedLabel] {
        &self.state().labels
    }

    /// Hot-path metric handles of `host`, registered on first use and cached.
    #[inline]
    pub fn host_metrics(&'static self, host: LabelValue) -> &'static HostMetrics {
        let state = self.state();
        let slot = &state.host_metrics[host.index().min(state.host_metrics.len() - 1)];
        slot.get_or_init(|| Box::new(HostMetrics::new(state.duration_buckets, state.size_buckets)))
    }

    /// Metric handles of every host that has any, with the host label.
    pub fn all_host_metrics(&'static self) -> Vec<(LabelValue, &'static HostMetrics)> {
        let state = self.state();
        let mut hosts = state.hosts.values();
        hosts.push(state.hosts.overflow());
        hosts
            .into_iter()
            .filter_map(|h| {
                state
                    .host_metrics
                    .get(h.index())
                    .and_then(|m| m.get())
                    .map(|m| (h, &**m))
            })
            .collect()
    }

    /// Installs a sink for this adapter only (it takes precedence over the
    /// global sink); `None` removes it.
    pub fn set_sink(&'static self, sink: Option<Box<dyn EventSink>>) {
        dispatch::install(&self.sink, &self.sink_active, sink);
    }

    /// Whether any sink would receive this adapter's events: its own sink or
    /// the global one (two relaxed loads at most). Unlike
    /// [`dispatch::interested`] this is `false` for an adapter without a sink
    /// while only other adapters have one, so callers skip building events
    /// nobody receives.
    ///
    /// ```
    /// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter, sink::RecordingSink};
    ///
    /// #[instrumented_adapter(name = "quiet", hosts(cap = 4))]
    /// struct Quiet {}
    /// #[instrumented_adapter(name = "loud", hosts(cap = 4))]
    /// struct Loud {}
    ///
    /// Loud::telemetry().set_sink(Some(Box::new(RecordingSink::new())));
    /// assert_eq!(Loud::telemetry().interested(), cfg!(feature = "events"));
    /// assert!(!Quiet::telemetry().interested(), "another adapter's sink is not ours");
    /// Loud::telemetry().set_sink(None);
    /// ```
    #[inline(always)]
    pub fn interested(&self) -> bool {
        cfg!(feature = "events")
            && (self.sink_active.load(Ordering::Relaxed) != 0 || dispatch::global_installed())
    }

    /// Delivers `event` to this adapter's sink, or the global one, catching
    /// panics.
    pub fn emit(&'static self, event: EventRef<'_>) {
        if !self.interested() {
            return;
        }
        // The guards keep the sink alive for the call (no reference-count
        // traffic on the hot path).
        let local = self.sink.load();
        if let Some(sink) = &*local {
            dispatch::guarded(&***sink, |s| deliver(s, event));
            return;
        }
        drop(local);
        let global = dispatch::global().load();
        if let Some(sink) = &*global {
            dispatch::guarded(&***sink, |s| deliver(s, event));
        }
    }

    /// Counts and delivers a custom event (what generated emitters call).
    pub fn emit_custom(&'static self, event: &dyn CustomEvent) {
        let state = self.state();
        if let Some(index) = self
            .manifest
            .events
            .iter()
            .position(|e| e.name == event.name())
        {
            let mut combo = 0usize;
            // Mixed radix over the event's labels, in declaration order.
            let spec = &self.manifest.events[index];
            let mut values: [usize; 16] = [0; 16];
            let mut n = 0;
            event.visit_labels(&mut |_, v| {
                if n < values.len() {
                    values[n] = v.index();
                    n += 1;
                }
            });
            let mut size = 1usize;
            for (i, name) in spec.labels.iter().enumerate().take(n) {
                let cap = self.manifest.label(name).map_or(1, |l| l.cap as usize) + 1;
                combo += values[i].min(cap - 1) * size;
                size *= cap;
            }
            let counts = state.event_counts[index]
                .get_or_init(|| (0..size.max(1)).map(|_| AtomicU64::new(0)).collect());
            if let Some(c) = counts.get(combo) {
                c.fetch_add(1, Ordering::Relaxed);
            }
        }
        let meta = EventMeta::new(self, state.hosts.overflow(), CorrelationId::next(), 0);
        let record = CustomEventRecord { meta, event };
        self.emit(EventRef::Custom(&record));
    }

    /// `(event name, label values, count)` for every custom-event series with a
    /// non-zero count.
    pub fn custom_event_counts(&'static self) -> Vec<CustomEventSeries> {
        let state = self.state();
        let mut out = Vec::new();
        for (index, spec) in self.manifest.events.iter().enumerate() {
            let Some(counts) = state.event_counts[index].get() else {
                continue;
            };
            let labels: Vec<&BoundedLabel> = spec
                .labels
                .iter()
                .filter_map(|name| state.labels.iter().find(|l| l.name() == *name))
                .collect();
            for (combo, c) in counts.iter().enumerate() {
                let count = c.load(Ordering::Relaxed);
                if count == 0 {
                    continue;
                }
                let mut rest = combo;
                let mut values = Vec::with_capacity(labels.len());
                for l in &labels {
                    let radix = l.cap() as usize + 1;
                    let idx = rest % radix;
                    rest /= radix;
                    let mut all = l.values();
                    all.push(l.overflow());
                    if let Some(v) = all.into_iter().find(|v| v.index() == idx) {
                        values.push((l.name(), v));
                    }
                }
                out.push((spec.name, values, count));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Naming;

    const fn manifest(type_name: &'static str) -> AdapterManifest {
        AdapterManifest {
            name: "duplicated_name_test",
            type_name,
            naming: Naming::Prometheus,
            host_cap: 4,
            labels: &[],
            events: &[],
            slo: None,
            cardinality_budget: 10_000,
        }
    }
    static FIRST_MANIFEST: AdapterManifest = manifest("First");
    static SECOND_MANIFEST: AdapterManifest = manifest("Second");
    static FIRST: AdapterTelemetry = AdapterTelemetry::new(&FIRST_MANIFEST);
    static SECOND: AdapterTelemetry = AdapterTelemetry::new(&SECOND_MANIFEST);

    #[test]
    fn a_second_type_with_a_taken_name_is_not_exported() {
        FIRST.hosts().intern("a.test");
        SECOND.hosts().intern("a.test");
        let exported: Vec<_> = registered_adapters()
            .into_iter()
            .filter(|a| a.manifest().name == "duplicated_name_test")
            .map(|a| a.manifest().type_name)
            .collect();
        assert_eq!(exported, ["First"]);
        assert!(duplicate_adapters().contains(&("duplicated_name_test", "Second")));
        // The refused adapter still works for its own sinks and labels.
        assert_eq!(SECOND.hosts().intern("a.test").as_str(), "a.test");
    }
}
