//! The non-hot part of the catalogue, on the `metrics` facade and
//! metrics-exporter-prometheus.
//!
//! The recorder is our own instance, never installed as the global `metrics`
//! recorder, so an application that installs its own recorder keeps it and the
//! two never fight. Handles are registered once per bounded label value and
//! cached (a `OnceLock` per slot); recording is then the handle's own cost
//! (an atomic add for counters and gauges, a push into the sample buffer for
//! histograms). A background thread runs the exporter's upkeep so histogram
//! samples are folded into buckets even when nobody scrapes.
//!
//! The limiter answers every request, almost always at once, so its events
//! stay off the facade unless something changed: a zero wait is counted in
//! the host's own atomic and folded into `http_limiter_wait_seconds` with one
//! `record_many` by [`flush`] (before every render and at every upkeep), and
//! the queue-depth and saturation gauges are set only when their value
//! changes (and re-set from the last seen values at every flush). What a
//! render exports is the same as if every event had been recorded at once.

use std::sync::atomic::{AtomicU32, AtomicU64, AtomicU8, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Level, Metadata, Recorder, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};

use super::options::{default_buckets, is_hot, is_text_rendered, PrometheusOptions};
use super::state::overflow_slot;
use crate::core::adapter::PerAdapter;
use crate::core::catalog::{Family, Kind, LabelNames};
use crate::core::events::{BreakerState, DelaySource, ErrorType, FallbackOutcome, RetryReason};
use crate::core::id::{AdapterId, AdapterRef};
use crate::core::labels::LabelValue;
use crate::core::live::LiveHostState;
use crate::core::manifest::AdapterManifest;
use crate::core::manifest::Naming;

static METADATA: Metadata<'static> = Metadata::new(
    "telemetry_runtime::backends::prometheus",
    Level::INFO,
    Some(module_path!()),
);

/// The configured exporter.
pub(crate) struct Exporter {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    pub(crate) naming: Option<Naming>,
}

static EXPORTER: OnceLock<Exporter> = OnceLock::new();

/// Buckets of a facade histogram: the options' override or the default.
fn buckets_for(options: &PrometheusOptions, family: Family) -> Vec<f64> {
    for (name, b) in &options.buckets {
        if name == family.prometheus_name()
            || name == family.otel_prometheus_name()
            || name == family.otel_name()
        {
            return b.clone();
        }
    }
    default_buckets(family).to_vec()
}

fn build(options: &PrometheusOptions) -> Exporter {
    let mut builder = PrometheusBuilder::new();
    for family in Family::ALL.iter().copied() {
        if family.kind() != Kind::Histogram || is_hot(family) {
            continue;
        }
        let buckets = buckets_for(options, family);
        for name in [family.prometheus_name(), family.otel_prometheus_name()] {
            // Only fails for an empty bucket list, which options validation
            // rejects; on failure the builder is returned unchanged by value,
            // so rebuild from the error path with defaults.
            builder = match builder.set_buckets_for_metric(Matcher::Full(name.to_owned()), &buckets)
            {
                Ok(b) => b,
                Err(_) => PrometheusBuilder::new(),
            };
        }
    }
    let recorder = builder.build_recorder();
    for family in Family::ALL.iter().copied() {
        if is_hot(family) || is_text_rendered(family) {
            continue;
        }
        for name in [family.prometheus_name(), family.otel_prometheus_name()] {
            let unit = match family.unit() {
                "s" => Some(Unit::Seconds),
                "By" => Some(Unit::Bytes),
                _ => None,
            };
            match family.kind() {
                Kind::Counter => recorder.describe_counter(name.into(), unit, family.help().into()),
                Kind::Gauge => recorder.describe_gauge(name.into(), unit, family.help().into()),
                Kind::Histogram => {
                    recorder.describe_histogram(name.into(), unit, family.help().into())
                }
            }
        }
    }
    let handle = recorder.handle();
    let upkeep = handle.clone();
    let interval = options.upkeep_interval.max(Duration::from_millis(100));
    // If the thread cannot be spawned, every render still drains the buffers;
    // memory is then bounded by the scrape interval instead.
    let _ = std::thread::Builder::new()
        .name("telemetry-prometheus-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(interval);
            flush();
            upkeep.run_upkeep();
        });
    Exporter {
        recorder,
        handle,
        naming: options.naming,
    }
}

/// Configures the exporter; `false` if it was already configured.
pub(crate) fn configure(options: &PrometheusOptions) -> bool {
    let mut fresh = false;
    EXPORTER.get_or_init(|| {
        fresh = true;
        build(options)
    });
    fresh
}

pub(crate) fn exporter() -> &'static Exporter {
    EXPORTER.get_or_init(|| build(&PrometheusOptions::default()))
}

impl Exporter {
    pub(crate) fn render(&self) -> String {
        self.handle.render()
    }

    fn key(&self, family: Family, naming: Naming, labels: Vec<Label>) -> Key {
        Key::from_parts(family.name(naming), labels)
    }
    fn counter(&self, family: Family, naming: Naming, labels: Vec<Label>) -> Counter {
        self.recorder
            .register_counter(&self.key(family, naming, labels), &METADATA)
    }
    fn gauge(&self, family: Family, naming: Naming, labels: Vec<Label>) -> Gauge {
        self.recorder
            .register_gauge(&self.key(family, naming, labels), &METADATA)
    }
    fn histogram(&self, family: Family, naming: Naming, labels: Vec<Label>) -> Histogram {
        self.recorder
            .register_histogram(&self.key(family, naming, labels), &METADATA)
    }
}

/// The naming an adapter's metrics use: the global override, else its manifest's.
pub(crate) fn naming_of(adapter: &'static AdapterManifest) -> Naming {
    EXPORTER
        .get()
        .and_then(|e| e.naming)
        .unwrap_or(adapter.naming)
}

const BREAKER_STATES: usize = 3;

/// The limiter families of one host.
struct LimiterHandles {
    queue_depth: Gauge,
    wait: Histogram,
    saturation: Gauge,
}

/// Cached handles and last-seen state of one host of one adapter.
pub(crate) struct HostHandles {
    adapter: &'static str,
    host: &'static str,
    naming: Naming,
    retries: Box<[OnceLock<Counter>]>,
    /// `http_client_rejections_total` by refusal (`ErrorType` index).
    rejections: Box<[OnceLock<Counter>]>,
    backoff: Box<[OnceLock<Histogram>]>,
    limiter: OnceLock<LimiterHandles>,
    breaker_state: OnceLock<Gauge>,
    transitions: [OnceLock<Counter>; BREAKER_STATES * BREAKER_STATES],
    /// `http_response_body_errors_total` by `ErrorType` index.
    body_errors: Box<[OnceLock<Counter>]>,
    /// Last seen state, for the health endpoints (the facade's handles cannot
    /// be read back).
    pub(crate) last_breaker: AtomicU8,
    pub(crate) last_saturation: AtomicU64,
    pub(crate) last_queue_depth: AtomicU32,
    /// Zero-wait limiter answers not yet recorded into `limiter_wait` (see
    /// [`flush`]).
    zero_waits: AtomicU64,
}

impl HostHandles {
    fn new(adapter: &'static AdapterManifest, host: LabelValue) -> Self {
        HostHandles {
            adapter: adapter.name,
            host: host.as_str(),
            naming: naming_of(adapter),
            retries: RetryReason::ALL.iter().map(|_| OnceLock::new()).collect(),
            rejections: ErrorType::ALL.iter().map(|_| OnceLock::new()).collect(),
            backoff: DelaySource::ALL.iter().map(|_| OnceLock::new()).collect(),
            limiter: OnceLock::new(),
            breaker_state: OnceLock::new(),
            transitions: std::array::from_fn(|_| OnceLock::new()),
            body_errors: ErrorType::ALL.iter().map(|_| OnceLock::new()).collect(),
            last_breaker: AtomicU8::new(0),
            last_saturation: AtomicU64::new(0f64.to_bits()),
            last_queue_depth: AtomicU32::new(0),
            zero_waits: AtomicU64::new(0),
        }
    }

    fn base(&self) -> Vec<Label> {
        let names = LabelNames::of(self.naming);
        vec![
            Label::new("adapter", self.adapter),
            Label::new(names.host, self.host),
        ]
    }

    pub(crate) fn retry(&self, reason: RetryReason) {
        let i = RetryReason::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        if let Some(slot) = self.retries.get(i) {
            slot.get_or_init(|| {
                let mut l = self.base();
                l.push(Label::new("reason", reason.as_str()));
                exporter().counter(Family::Retries, self.naming, l)
            })
            .increment(1);
        }
    }

    /// A response body ended (read to its end, or failed with `error`)
    /// `took` after the response headers.
    pub(crate) fn body_error(&self, error: ErrorType) {
        let i = ErrorType::ALL.iter().position(|r| *r == error).unwrap_or(0);
        if let Some(slot) = self.body_errors.get(i) {
            slot.get_or_init(|| {
                let mut l = self.base();
                l.push(Label::new("error_type", error.as_str()));
                exporter().counter(Family::BodyErrors, self.naming, l)
            })
            .increment(1);
        }
    }

    /// A request the client refused before the wire.
    pub(crate) fn rejection(&self, reason: ErrorType) {
        let i = ErrorType::ALL
            .iter()
            .position(|r| *r == reason)
            .unwrap_or(0);
        if let Some(slot) = self.rejections.get(i) {
            slot.get_or_init(|| {
                let mut l = self.base();
                l.push(Label::new("reason", reason.as_str()));
                exporter().counter(Family::Rejections, self.naming, l)
            })
            .increment(1);
        }
    }

    pub(crate) fn backoff(&self, source: DelaySource, delay: Duration) {
        let i = DelaySource::ALL
            .iter()
            .position(|s| *s == source)
            .unwrap_or(0);
        if let Some(slot) = self.backoff.get(i) {
            slot.get_or_init(|| {
                let mut l = self.base();
                l.push(Label::new("source", source.as_str()));
                exporter().histogram(Family::Backoff, self.naming, l)
            })
            .record(delay.as_secs_f64());
        }
    }

    /// One limiter answer. The common case (a token at once, queue and
    /// saturation unchanged) is three relaxed atomic operations on this
    /// host's own state and nothing on the facade: the zero wait is counted
    /// here and recorded by [`flush`], the gauges are set only on a change.
    #[inline]
    pub(crate) fn rate_limit(&self, wait: Duration, queue_depth: u32, saturation: f64) {
        let saturation = if saturation.is_finite() {
            saturation.clamp(0.0, 1.0)
        } else {
            0.0
        };
        // The three series are registered at the first answer, whatever it
        // is, so they appear in the next render (a zero wait included).
        let limiter = self.limiter.get_or_init(|| self.register_limiter());
        if wait.is_zero() {
            self.zero_waits.fetch_add(1, Ordering::Relaxed);
        } else {
            limiter.wait.record(wait.as_secs_f64());
        }
        if self.last_queue_depth.load(Ordering::Relaxed) != queue_depth {
            self.last_queue_depth.store(queue_depth, Ordering::Relaxed);
            limiter.queue_depth.set(f64::from(queue_depth));
        }
        let bits = saturation.to_bits();
        if self.last_saturation.load(Ordering::Relaxed) != bits {
            self.last_saturation.store(bits, Ordering::Relaxed);
            limiter.saturation.set(saturation);
        }
    }

    /// The limiter's handles, with the gauges at the last seen values (0
    /// before any change).
    #[cold]
    fn register_limiter(&self) -> LimiterHandles {
        let limiter = LimiterHandles {
            queue_depth: exporter().gauge(Family::LimiterQueueDepth, self.naming, self.base()),
            wait: exporter().histogram(Family::LimiterWait, self.naming, self.base()),
            saturation: exporter().gauge(Family::LimiterSaturation, self.naming, self.base()),
        };
        self.sync_gauges(&limiter);
        limiter
    }

    fn sync_gauges(&self, limiter: &LimiterHandles) {
        limiter
            .queue_depth
            .set(f64::from(self.last_queue_depth.load(Ordering::Relaxed)));
        limiter.saturation.set(self.saturation());
    }

    /// Takes the owner's current limiter and breaker state as the last seen
    /// values (the gauges are re-set from them by [`Self::flush`]).
    fn apply_live(&self, now: &LiveHostState) {
        if let Some(depth) = now.limiter_queue_depth {
            self.last_queue_depth.store(depth, Ordering::Relaxed);
        }
        if let Some(s) = now.limiter_saturation {
            let s = if s.is_finite() {
                s.clamp(0.0, 1.0)
            } else {
                0.0
            };
            self.last_saturation.store(s.to_bits(), Ordering::Relaxed);
        }
        if let Some(state) = now.breaker {
            if state != self.breaker_state() {
                self.last_breaker.store(state.code(), Ordering::Relaxed);
            }
            // The gauge exists once a transition was seen; a breaker that
            // never moved stays out of the exposition, as before.
            if let Some(g) = self.breaker_state.get() {
                g.set(state.gauge_value());
            }
        }
    }

    /// Records the pending zero waits into `http_limiter_wait_seconds` and
    /// re-sets the limiter gauges from the last seen values (which repairs a
    /// gauge left behind by two racing answers with different values).
    fn flush(&self) {
        let Some(limiter) = self.limiter.get() else {
            return;
        };
        let zeros = self.zero_waits.swap(0, Ordering::Relaxed);
        if zeros > 0 {
            limiter
                .wait
                .record_many(0.0, usize::try_from(zeros).unwrap_or(usize::MAX));
        }
        self.sync_gauges(limiter);
    }

    pub(crate) fn breaker(&self, from: BreakerState, to: BreakerState) {
        self.breaker_state
            .get_or_init(|| exporter().gauge(Family::BreakerState, self.naming, self.base()))
            .set(to.gauge_value());
        let i = usize::from(from.code()) * BREAKER_STATES + usize::from(to.code());
        if let Some(slot) = self.transitions.get(i) {
            slot.get_or_init(|| {
                let mut l = self.base();
                l.push(Label::new("from", from.as_str()));
                l.push(Label::new("to", to.as_str()));
                exporter().counter(Family::BreakerTransitions, self.naming, l)
            })
            .increment(1);
        }
        self.last_breaker.store(to.code(), Ordering::Relaxed);
    }

    /// The last breaker state seen for this host.
    pub(crate) fn breaker_state(&self) -> BreakerState {
        BreakerState::from_code(self.last_breaker.load(Ordering::Relaxed))
    }
    /// The last limiter saturation seen for this host.
    pub(crate) fn saturation(&self) -> f64 {
        f64::from_bits(self.last_saturation.load(Ordering::Relaxed))
    }
}

/// Fallback sources kept per adapter before folding into `_OTHER`. Sources are
/// names written in code, so this is a guard, not a limit anyone should reach.
/// The macro's cardinality budget counts the same number.
const FALLBACK_SOURCE_CAP: usize = telemetry_vocab::cardinality::FALLBACK_SOURCES as usize;

/// Cached handles of one adapter, in the backend's table by adapter id.
pub(crate) struct AdapterHandles {
    pub(crate) adapter: &'static AdapterManifest,
    hosts: Box<[OnceLock<HostHandles>]>,
    #[allow(clippy::type_complexity)]
    fallback: Mutex<Vec<(&'static str, [OnceLock<Counter>; 3])>>,
}

impl AdapterHandles {
    /// Handles of `host`, registered on first use.
    pub(crate) fn host(&self, host: LabelValue) -> &HostHandles {
        // `hosts` has cap + 1 >= 2 slots and a host's index is at most the
        // cap: one bounds check, the overflow slot as the fallback.
        let slot = match self.hosts.get(host.index()) {
            Some(slot) => slot,
            None => overflow_slot(&self.hosts),
        };
        slot.get_or_init(|| HostHandles::new(self.adapter, host))
    }

    /// Handles of `host` if any event for it was seen.
    pub(crate) fn host_if_seen(&self, host: LabelValue) -> Option<&HostHandles> {
        self.hosts.get(host.index()).and_then(OnceLock::get)
    }

    pub(crate) fn fallback(&self, source: &'static str, outcome: FallbackOutcome) {
        let o = match outcome {
            FallbackOutcome::Success => 0,
            FallbackOutcome::Failure => 1,
            FallbackOutcome::Skipped => 2,
        };
        let counter = {
            let mut table = self.fallback.lock().unwrap_or_else(|e| e.into_inner());
            let pos = match table.iter().position(|(s, _)| *s == source) {
                Some(p) => p,
                None if table.len() < FALLBACK_SOURCE_CAP => {
                    table.push((source, std::array::from_fn(|_| OnceLock::new())));
                    table.len() - 1
                }
                None => match table
                    .iter()
                    .position(|(s, _)| *s == crate::core::labels::OVERFLOW_VALUE)
                {
                    Some(p) => p,
                    None => {
                        // Replace nothing: the overflow row is the cap + 1st.
                        table.push((
                            crate::core::labels::OVERFLOW_VALUE,
                            std::array::from_fn(|_| OnceLock::new()),
                        ));
                        table.len() - 1
                    }
                },
            };
            let (name, slots) = &table[pos];
            let name = *name;
            slots[o]
                .get_or_init(|| {
                    let naming = naming_of(self.adapter);
                    exporter().counter(
                        Family::FallbackAttempts,
                        naming,
                        vec![
                            Label::new("adapter", self.adapter.name),
                            Label::new("source", name),
                            Label::new("outcome", outcome.as_str()),
                        ],
                    )
                })
                .clone()
        };
        counter.increment(1);
    }
}

static HANDLES: PerAdapter<AdapterHandles> = PerAdapter::new();

/// Handles of `adapter`, created on first use: one indexed load of the
/// backend's table. `None` for an adapter whose metrics are not exported (a
/// refused duplicate name).
#[inline]
pub(crate) fn adapter(adapter: AdapterRef) -> Option<&'static AdapterHandles> {
    match HANDLES.get(adapter.id()) {
        Some(h) => Some(h),
        None => create(adapter),
    }
}

#[cold]
#[inline(never)]
fn create(adapter: AdapterRef) -> Option<&'static AdapterHandles> {
    let id = adapter.id();
    if !id.is_exported() {
        return None;
    }
    Some(HANDLES.get_or_init(id, || {
        let manifest = adapter.manifest();
        let slots = manifest.host_cap.clamp(1, crate::core::labels::MAX_CAP) as usize + 1;
        AdapterHandles {
            adapter: manifest,
            hosts: (0..slots).map(|_| OnceLock::new()).collect(),
            fallback: Mutex::new(Vec::new()),
        }
    }))
}

/// Handles of `adapter` if it has any.
pub(crate) fn find(id: AdapterId) -> Option<&'static AdapterHandles> {
    HANDLES.get(id)
}

/// Moves what the sink keeps in its own atomics between renders (zero-wait
/// limiter answers, last gauge values) into the exporter. Runs right before
/// the exporter renders and before each upkeep; safe to run concurrently
/// (each pending answer is taken once).
pub(crate) fn flush() {
    for (id, handles) in HANDLES.entries() {
        // The owner's state now (the client's limiters and breakers, where
        // one is alive) replaces the last event's: after traffic stops the
        // queue depth reads 0, saturation decays over its window, and an open
        // breaker past its open interval reads half-open (ready to probe).
        let live = crate::core::live::host_states(id).unwrap_or_default();
        for host in handles.hosts.iter().filter_map(OnceLock::get) {
            if let Some(now) = live.iter().find(|l| l.host == host.host) {
                host.apply_live(now);
            }
            host.flush();
        }
    }
}
