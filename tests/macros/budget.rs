//! The cardinality budget's formulas (`telemetry_vocab::cardinality`, listed
//! in docs/macro.md) are made of the runtime's own sizes: a change to one of
//! them must change the formulas too, or the budget would miscount.

use telemetry_runtime::backends::prometheus::names::Family;
use telemetry_runtime::backends::prometheus::state::STATUS_SLOTS;
use telemetry_runtime::backends::prometheus::{
    default_buckets, DURATION_BUCKETS_SECONDS, SIZE_BUCKETS_BYTES,
};
use telemetry_runtime::events::{BreakerState, DelaySource, HttpMethod, RetryReason};
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

/// One line per bucket bound, `+Inf`, `_sum` and `_count`.
fn histogram_lines(bounds: &[f64]) -> usize {
    bounds.len() + 3
}

#[test]
fn the_budget_counts_the_runtime_s_series() {
    // Series per host value, as docs/macro.md and the macro count them. If
    // this fails, update `telemetry_vocab::cardinality` and the docs' table.
    let per_host = [
        (
            "http_request_duration_seconds",
            HttpMethod::COUNT * histogram_lines(DURATION_BUCKETS_SECONDS),
            170,
        ),
        (
            "http_backoff_duration_seconds",
            DelaySource::ALL.len() * histogram_lines(default_buckets(Family::Backoff)),
            57,
        ),
        ("http_requests_total", STATUS_SLOTS + 1, 33),
        (
            "http_limiter_wait_seconds",
            histogram_lines(default_buckets(Family::LimiterWait)),
            17,
        ),
        (
            "http_response_size_bytes",
            histogram_lines(SIZE_BUCKETS_BYTES),
            13,
        ),
        (
            "http_circuit_breaker_transitions_total",
            BreakerState::ALL.len() * BreakerState::ALL.len(),
            9,
        ),
        ("http_retries_total", RetryReason::ALL.len(), 4),
    ];
    for (family, runtime, counted) in per_host {
        assert_eq!(runtime, counted, "{family}");
    }
}

/// The largest host cap the default budget admits: 58 host values × 170
/// duration lines = 9,860 series.
#[instrumented_adapter(name = "budget_edge", hosts(cap = 57))]
struct AtTheEdge {}

/// The largest host cap fits the largest budget: 10,001 × 170 = 1,700,170.
#[instrumented_adapter(name = "budget_widest_hosts", hosts(cap = 10000), budget = 1700170)]
struct WidestHosts {}

#[test]
fn boundary_declarations_compile() {
    assert_eq!(AtTheEdge::MANIFEST.host_cap, 57);
    assert_eq!(WidestHosts::MANIFEST.cardinality_budget, 1_700_170);
    let _ = (AtTheEdge {}.emit(), WidestHosts {}.emit());
}
