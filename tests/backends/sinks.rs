//! The sampling and rate-limiting sinks count what they keep out.

use std::time::Duration;

use telemetry_runtime::dispatch;
use telemetry_runtime::events::*;
use telemetry_runtime::sink::{EventSink, RateLimitSink, RecordingSink, SamplingSink};
use telemetry_runtime::{instrumented_adapter, AdapterTelemetry, InstrumentedAdapter};

#[instrumented_adapter(name = "sinks_sampled", hosts(cap = 4))]
struct Sampled {}
#[instrumented_adapter(name = "sinks_limited", hosts(cap = 4))]
struct Limited {}

/// A recording sink under its own name, so the counters are this test's.
#[derive(Clone, Default)]
struct Named(RecordingSink, &'static str);
impl EventSink for Named {
    fn name(&self) -> &'static str {
        self.1
    }
    fn on_event(&self, event: EventRef<'_>) {
        self.0.on_event(event)
    }
}

fn error(adapter: &'static AdapterTelemetry, host: &str) {
    let host = adapter.hosts().intern(host);
    let meta = EventMeta::new(adapter, host, CorrelationId::next(), 1);
    adapter.emit(EventRef::Error(&ErrorEvent {
        meta,
        method: HttpMethod::Get,
        error_type: ErrorType::Timeout,
        message: "timed out".into(),
        duration: Duration::from_millis(5),
        reached_wire: true,
    }));
}

fn count(table: Vec<(&'static str, u64)>, sink: &str) -> u64 {
    table
        .into_iter()
        .find(|(n, _)| *n == sink)
        .map_or(0, |(_, c)| c)
}

#[test]
fn sampling_counts_what_it_keeps_out() {
    let rec = Named(RecordingSink::new(), "sinks_test_sampled");
    Sampled::telemetry().set_sink(Some(Box::new(SamplingSink::new(0.25, rec.clone()))));
    for _ in 0..2000 {
        error(Sampled::telemetry(), "s.example.com");
    }
    Sampled::telemetry().set_sink(None);
    let kept = rec.0.events().len() as u64;
    let out = count(dispatch::events_sampled_out(), "sinks_test_sampled");
    assert_eq!(kept + out, 2000, "every event is either kept or counted");
    assert!((300..700).contains(&kept), "about a quarter kept: {kept}");
}

#[test]
fn rate_limiting_passes_a_burst_per_kind_and_host_and_counts_the_rest() {
    let rec = Named(RecordingSink::new(), "sinks_test_limited");
    // One per 1000 s (none refilled during the test), bursts of 3.
    let limited =
        RateLimitSink::new(0.001, 3, rec.clone()).summary_every(Duration::from_secs(3600));
    let limited = std::sync::Arc::new(limited);
    struct Shared(std::sync::Arc<RateLimitSink<Named>>);
    impl EventSink for Shared {
        fn name(&self) -> &'static str {
            self.0.name()
        }
        fn on_event(&self, event: EventRef<'_>) {
            self.0.on_event(event)
        }
    }
    Limited::telemetry().set_sink(Some(Box::new(Shared(limited.clone()))));
    for _ in 0..50 {
        error(Limited::telemetry(), "noisy.example.com");
    }
    for _ in 0..2 {
        error(Limited::telemetry(), "quiet.example.com");
    }
    let host = Limited::telemetry().hosts().intern("noisy.example.com");
    let meta = EventMeta::new(Limited::telemetry(), host, CorrelationId::next(), 1);
    for _ in 0..5 {
        Limited::telemetry().emit(EventRef::BreakerTransition(&BreakerTransitionEvent {
            meta,
            from: BreakerState::Closed,
            to: BreakerState::Open,
            reason: "test",
        }));
    }
    Limited::telemetry().set_sink(None);
    let events = rec.0.events();
    let per_host = |h: &str| {
        events
            .iter()
            .filter(|e| e.kind() == "error" && e.meta().host.as_str() == h)
            .count()
    };
    assert_eq!(per_host("noisy.example.com"), 3, "the burst, then nothing");
    assert_eq!(
        per_host("quiet.example.com"),
        2,
        "hosts have their own budget"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| e.kind() == "breaker_transition")
            .count(),
        5,
        "breaker transitions always pass"
    );
    assert_eq!(limited.suppressed(), 47);
    assert_eq!(
        count(dispatch::events_suppressed(), "sinks_test_limited"),
        47
    );
}

#[instrumented_adapter(name = "sinks_filtered", hosts(cap = 4))]
struct Filtered {}

#[test]
fn the_host_filter_compares_normalised_hosts() {
    use telemetry_runtime::sink::HostFilterSink;
    let rec = RecordingSink::new();
    Filtered::telemetry().set_sink(Some(Box::new(HostFilterSink::allow(
        ["API.Example.com.:443"],
        rec.clone(),
    ))));
    error(Filtered::telemetry(), "api.example.com");
    error(Filtered::telemetry(), "other.example.com");
    Filtered::telemetry().set_sink(None);
    let hosts: Vec<String> = rec
        .events()
        .iter()
        .map(|e| e.meta().host.as_str().to_owned())
        .collect();
    assert_eq!(hosts, ["api.example.com"]);
}

#[instrumented_adapter(name = "sinks_swapped", hosts(cap = 4))]
struct Swapped {}

#[test]
fn the_handles_change_ratio_rate_and_burst_of_a_running_sink() {
    // Sampling: nothing kept at 0, everything at 1, through the handle of
    // a sink the dispatcher already holds.
    let rec = Named(RecordingSink::new(), "sinks_test_swapped_sampled");
    let sampled = SamplingSink::new(0.0, rec.clone());
    let ratio = sampled.handle();
    Swapped::telemetry().set_sink(Some(Box::new(sampled)));
    for _ in 0..20 {
        error(Swapped::telemetry(), "a.example.com");
    }
    assert_eq!(rec.0.events().len(), 0);
    ratio.set_ratio(1.0);
    for _ in 0..20 {
        error(Swapped::telemetry(), "a.example.com");
    }
    assert_eq!(rec.0.events().len(), 20);

    // Rate limiting: a burst of 1, then of 4 (no refill within the test).
    let rec = Named(RecordingSink::new(), "sinks_test_swapped_limited");
    let limited = RateLimitSink::new(0.0001, 1, rec.clone());
    let params = limited.handle();
    Swapped::telemetry().set_sink(Some(Box::new(limited)));
    for _ in 0..10 {
        error(Swapped::telemetry(), "b.example.com");
    }
    assert_eq!(rec.0.events().len(), 1);
    params.set(0.0001, 4);
    assert_eq!(params.get(), (0.0001, 4));
    // The spent bucket refills only by rate: a new key gets the new burst.
    for _ in 0..10 {
        error(Swapped::telemetry(), "c.example.com");
    }
    Swapped::telemetry().set_sink(None);
    assert_eq!(rec.0.events().len(), 1 + 4);
}
