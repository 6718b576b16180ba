//! Per-adapter telemetry state and the adapter registry.
//!
//! The macro writes one `static` [`AdapterTelemetry`] per annotated type. It
//! holds what the core itself needs: the manifest, the bounded labels, the
//! adapter's own sink slot and its dense [`AdapterId`]. Backends keep their
//! own per-adapter state in a [`PerAdapter`] table indexed by that id (as
//! tracing-subscriber's registry keeps per-span data), so the core names no
//! backend. [`InstrumentedAdapter`] is how the client and tools reach it.

use std::fmt;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::core::dispatch::{self, SinkSlot};
use crate::core::events::{CustomEvent, EventRef};
use crate::core::id::{AdapterId, AdapterRef};
use crate::core::labels::BoundedLabel;
use crate::core::manifest::AdapterManifest;

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
}

struct AdapterState {
    id: AdapterId,
    hosts: BoundedLabel,
    labels: Box<[BoundedLabel]>,
}

/// Per-adapter state of a backend (or any other layer), indexed by
/// [`AdapterId`]: one masked index and one acquire load, as cheap as a
/// `OnceLock` field of the adapter's static. Entries are created on first
/// use and live for the process (adapters do too).
///
/// ```
/// use telemetry_runtime::core::adapter::PerAdapter;
/// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
///
/// #[instrumented_adapter(name = "per_adapter_doc")]
/// struct Api {}
///
/// static SEEN: PerAdapter<std::sync::atomic::AtomicU64> = PerAdapter::new();
/// let id = Api::telemetry().id();
/// SEEN.get_or_init(id, Default::default).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
/// assert!(SEEN.get(id).is_some());
/// ```
pub struct PerAdapter<T: 'static> {
    /// Null, or a leaked `Box<T>` that lives for the rest of the process.
    slots: [AtomicPtr<T>; AdapterId::SLOTS],
}

impl<T: Send + Sync + 'static> PerAdapter<T> {
    /// An empty table (`const`, for statics).
    pub const fn new() -> Self {
        PerAdapter {
            slots: [const { AtomicPtr::new(std::ptr::null_mut()) }; AdapterId::SLOTS],
        }
    }

    /// The entry of `id`, if created: one acquire load.
    #[inline(always)]
    pub fn get(&'static self, id: AdapterId) -> Option<&'static T> {
        // Ids are at most MAX_ADAPTERS = SLOTS - 1: the mask never changes one,
        // and it spares the bounds check.
        let p = self.slots[id.index() & (AdapterId::SLOTS - 1)].load(Ordering::Acquire);
        // SAFETY: a non-null slot holds a pointer from `Box::into_raw` that
        // is never freed nor written again (entries live for the process),
        // published with a release compare-exchange.
        unsafe { p.as_ref() }
    }

    /// The entry of `id`, created by `init` on first use. Two threads that
    /// race on the first use may both run `init`; one value wins and the
    /// other is dropped.
    #[inline(always)]
    pub fn get_or_init(&'static self, id: AdapterId, init: impl FnOnce() -> T) -> &'static T {
        match self.get(id) {
            Some(v) => v,
            None => self.init_slow(id, init),
        }
    }

    #[cold]
    #[inline(never)]
    fn init_slow(&'static self, id: AdapterId, init: impl FnOnce() -> T) -> &'static T {
        let slot = &self.slots[id.index() & (AdapterId::SLOTS - 1)];
        let fresh = Box::into_raw(Box::new(init()));
        match slot.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // SAFETY: `fresh` came from `Box::into_raw` and is now owned by
            // the table for the rest of the process.
            Ok(_) => unsafe { &*fresh },
            Err(existing) => {
                // SAFETY: `fresh` was never shared; `existing` is a published
                // entry (see `get`).
                unsafe {
                    drop(Box::from_raw(fresh));
                    &*existing
                }
            }
        }
    }

    /// Every created entry of an exported adapter, in id order.
    pub fn entries(&'static self) -> impl Iterator<Item = (AdapterId, &'static T)> {
        (0..AdapterId::MAX_ADAPTERS).filter_map(move |i| {
            let id = AdapterId::new(i as u32);
            self.get(id).map(|v| (id, v))
        })
    }
}

impl<T: Send + Sync + 'static> Default for PerAdapter<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> fmt::Debug for PerAdapter<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let created = self
            .slots
            .iter()
            .filter(|s| !s.load(Ordering::Relaxed).is_null())
            .count();
        f.debug_struct("PerAdapter")
            .field("created", &created)
            .finish()
    }
}

/// Exported adapters in id order (`REGISTRY[id]`).
static REGISTRY: Mutex<Vec<&'static AdapterTelemetry>> = Mutex::new(Vec::new());

static DUPLICATES: Mutex<Vec<(&'static str, &'static str)>> = Mutex::new(Vec::new());

/// Every adapter whose telemetry has been used in this process, in first-use
/// order (which is [`AdapterId`] order): what exporters iterate. An adapter
/// whose `name` was already taken by another type is left out (see
/// [`duplicate_adapters`]).
pub fn registered_adapters() -> Vec<&'static AdapterTelemetry> {
    REGISTRY.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// The exported adapter registered as `id`.
pub fn adapter_by_id(id: AdapterId) -> Option<&'static AdapterTelemetry> {
    REGISTRY
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .get(id.index())
        .copied()
}

/// `(adapter name, type name)` of every adapter type that was refused because
/// another type already uses the same `name` (or because more than
/// [`AdapterId::MAX_ADAPTERS`] types registered). Their events still reach their
/// sinks, but their metric series are not exported: two adapters with one
/// name would write identical series, and Prometheus rejects a whole scrape
/// that repeats a series.
pub fn duplicate_adapters() -> Vec<(&'static str, &'static str)> {
    DUPLICATES.lock().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Lists `adapter` among the refused (see [`duplicate_adapters`]).
fn refuse(adapter: &'static AdapterTelemetry) {
    DUPLICATES
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push((adapter.manifest.name, adapter.manifest.type_name));
}

/// Registers `adapter` and hands out its id (once per adapter: called from
/// its state's `OnceLock`).
fn register(adapter: &'static AdapterTelemetry) -> AdapterId {
    let mut registry = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    let name = adapter.manifest.name;
    if let Some(first) = registry.iter().find(|a| a.manifest.name == name) {
        let first_type = first.manifest.type_name;
        drop(registry);
        refuse(adapter);
        // Once per refused type (registration happens once per type). The
        // library never prints: it logs through tracing when that backend is
        // compiled in, and `duplicate_adapters()` always lists the refusal.
        #[cfg(feature = "tracing")]
        tracing::warn!(
            target: "telemetry_runtime::registry",
            adapter = name,
            first_type,
            refused_type = adapter.manifest.type_name,
            "adapter name is used by two types; the second one's metrics are not exported \
             (duplicate series would make Prometheus reject the whole scrape): give one of \
             them another `name = \"...\"`"
        );
        #[cfg(not(feature = "tracing"))]
        let _ = first_type;
        return AdapterId::UNEXPORTED;
    }
    if registry.len() >= AdapterId::MAX_ADAPTERS {
        drop(registry);
        refuse(adapter);
        #[cfg(feature = "tracing")]
        tracing::warn!(
            target: "telemetry_runtime::registry",
            adapter = name,
            limit = AdapterId::MAX_ADAPTERS,
            "more adapter types than the registry exports; this one's metrics are not exported"
        );
        return AdapterId::UNEXPORTED;
    }
    let id = AdapterId::new(registry.len() as u32);
    registry.push(adapter);
    id
}

impl fmt::Debug for AdapterTelemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterTelemetry")
            .field("adapter", &self.manifest.name)
            .field("id", &self.state.get().map(|s| s.id))
            .finish()
    }
}

impl From<&'static AdapterTelemetry> for AdapterRef {
    fn from(t: &'static AdapterTelemetry) -> Self {
        t.handle()
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
        }
    }

    /// The manifest.
    pub fn manifest(&self) -> &'static AdapterManifest {
        self.manifest
    }

    // Inlined: the client and backends reach the id and labels through here
    // on every event.
    #[inline]
    fn state(&'static self) -> &'static AdapterState {
        self.state.get_or_init(|| {
            let m = self.manifest;
            AdapterState {
                id: register(self),
                hosts: BoundedLabel::new("host", m.host_cap),
                labels: m
                    .labels
                    .iter()
                    .map(|l| BoundedLabel::new(l.name, l.cap))
                    .collect(),
            }
        })
    }

    /// The adapter's dense id (registers the adapter on first use).
    #[inline]
    pub fn id(&'static self) -> AdapterId {
        self.state().id
    }

    /// The handle events carry: manifest and id.
    #[inline]
    pub fn handle(&'static self) -> AdapterRef {
        AdapterRef::new(self.manifest, self.id())
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

    /// Installs a sink for this adapter only (it takes precedence over the
    /// global sink); `None` removes it.
    pub fn set_sink(&'static self, sink: Option<Box<dyn crate::core::sink::EventSink>>) {
        dispatch::install(&self.sink, &self.sink_active, sink);
    }

    /// Whether any sink would receive this adapter's events: its own sink,
    /// the global one or an observer (two relaxed loads at most). Unlike
    /// [`dispatch::interested`] this is `false` for an adapter without a
    /// sink while only other adapters have one, so callers skip building
    /// events nobody receives.
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
            && (self.sink_active.load(Ordering::Relaxed) != 0 || dispatch::global_interest())
    }

    /// Delivers `event` to this adapter's sink, or the global one, and to
    /// the observers, catching panics.
    pub fn emit(&'static self, event: EventRef<'_>) {
        if !self.interested() {
            return;
        }
        // The guards keep the sink alive for the call (no reference-count
        // traffic on the hot path).
        let local = self.sink.load();
        if let Some(sink) = &*local {
            dispatch::guarded(&***sink, |s| crate::core::sink::deliver(s, event));
        } else {
            drop(local);
            dispatch::deliver_global(event);
        }
        dispatch::deliver_observers(event);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::manifest::Naming;

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
        assert!(FIRST.id().is_exported());
        assert_eq!(SECOND.id(), AdapterId::UNEXPORTED);
        assert!(adapter_by_id(FIRST.id()).is_some_and(|a| std::ptr::eq(a, &FIRST)));
        // The refused adapter still works for its own sinks and labels.
        assert_eq!(SECOND.hosts().intern("a.test").as_str(), "a.test");
    }
}
