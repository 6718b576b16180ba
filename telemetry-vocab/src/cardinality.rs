//! How many series each metric family of one adapter can reach: the
//! formulas the macro's cardinality budget (`budget = N`) checks, in one
//! place, with the sizes they are made of. `docs/macro.md` ("`budget`:
//! cardinality") lists the same formulas with their numbers.
//!
//! A series is one exposition line. A histogram series is therefore
//! `buckets + 3` lines: one per bucket bound, `+Inf`, `_sum` and `_count`.
//! Every bounded label has one more value than its cap, the shared `_OTHER`
//! overflow value: `hosts(cap = 300)` makes 301 host values.
//!
//! ```
//! use telemetry_vocab::cardinality::{family, REQUEST_DURATION};
//! // The duration histogram alone, for `hosts(cap = 300)`: (300 + 1) × 10 × 17.
//! let duration = family(REQUEST_DURATION).unwrap();
//! assert_eq!(duration.series(300), 51_170);
//! assert!(duration.series(300) > telemetry_vocab::cardinality::DEFAULT_BUDGET);
//! ```
//!
//! Bucket counts are the runtime's defaults. Buckets configured at run time
//! (`set_request_buckets`, the Prometheus options' `buckets`) are not known
//! to the macro; more buckets than the defaults add series the budget did
//! not count.

use crate::STATUS_SLOTS;

/// The budget when `budget = ...` is not written.
pub const DEFAULT_BUDGET: u64 = 10_000;

/// Largest budget. Every host cap up to [`MAX_CAP`](crate::MAX_CAP) fits
/// some budget: the largest family at 10000 hosts, the duration histogram,
/// has 1,700,170 series.
pub const MAX_BUDGET: u64 = 2_000_000;

/// Smallest budget: what the largest family needs for one host, so that
/// every budget in range accepts at least `hosts(cap = 1)` (340, the
/// duration histogram's 2 host values × 10 methods × 17 lines).
pub const MIN_BUDGET: u64 = {
    let mut i = 0;
    let mut most = FALLBACK_SERIES;
    while i < HOST_FAMILIES.len() {
        let s = HOST_FAMILIES[i].series(1);
        if s > most {
            most = s;
        }
        i += 1;
    }
    most
};

/// HTTP methods the runtime keeps apart (`HttpMethod::COUNT`: nine methods
/// and `_OTHER`).
pub const HTTP_METHODS: u64 = 10;
/// Bounds of `http_request_duration_seconds` and `http_limiter_wait_seconds`
/// by default (`DURATION_BUCKETS_SECONDS`).
pub const DURATION_BUCKETS: u64 = 14;
/// Bounds of `http_response_size_bytes` by default (`SIZE_BUCKETS_BYTES`).
pub const SIZE_BUCKETS: u64 = 10;
/// Bounds of `http_backoff_duration_seconds` by default
/// (`BACKOFF_BUCKETS_SECONDS`).
pub const BACKOFF_BUCKETS: u64 = 16;
/// Values of the `reason` label of `http_retries_total` (`RetryReason`).
pub const RETRY_REASONS: u64 = 4;
/// Values of the `source` label of `http_backoff_duration_seconds`
/// (`DelaySource`).
pub const DELAY_SOURCES: u64 = 3;
/// Circuit-breaker states; transitions are counted by `(from, to)` pair.
pub const BREAKER_STATES: u64 = 3;
/// Fallback sources kept apart per adapter before `_OTHER`.
pub const FALLBACK_SOURCES: u64 = 64;
/// Values of the `outcome` label of `http_fallback_attempts_total`.
pub const FALLBACK_OUTCOMES: u64 = 3;

/// Lines of one histogram series with `buckets` bounds: one per bound,
/// `+Inf`, `_sum` and `_count`.
///
/// ```
/// assert_eq!(telemetry_vocab::cardinality::histogram_lines(14), 17);
/// ```
pub const fn histogram_lines(buckets: u64) -> u64 {
    buckets + 3
}

/// One factor of a family's per-host product: `count` values of `what`
/// (`10 methods`, `17 lines`); `overflow` when one of the values is the
/// `_OTHER` slot, written `(32 method/status pairs + 1)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Factor {
    /// How many values, the `_OTHER` slot included.
    pub count: u64,
    /// What the values are, plural: `methods`, `lines`.
    pub what: &'static str,
    /// Whether `count` includes an `_OTHER` slot.
    pub overflow: bool,
}

impl Factor {
    const fn of(count: u64, what: &'static str) -> Self {
        Factor {
            count,
            what,
            overflow: false,
        }
    }
}

/// A family with one series set per host value: its series are
/// `(host cap + 1) × the product of its factors`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HostFamily {
    /// The Prometheus-mode name (`http_request_duration_seconds`).
    pub name: &'static str,
    /// The name in OpenTelemetry naming, as exported to Prometheus
    /// (`http_client_request_duration_seconds`).
    pub otel_name: &'static str,
    /// What one host value multiplies by.
    pub per_host: &'static [Factor],
}

impl HostFamily {
    /// Series of one host value.
    pub const fn series_per_host(&self) -> u64 {
        let mut product = 1u64;
        let mut i = 0;
        while i < self.per_host.len() {
            product = product.saturating_mul(self.per_host[i].count);
            i += 1;
        }
        product
    }

    /// Series for a host cap: `(host_cap + 1) × series_per_host()`.
    pub const fn series(&self, host_cap: u32) -> u64 {
        (host_cap as u64 + 1).saturating_mul(self.series_per_host())
    }

    /// The largest host cap at which this family fits `budget`, 0 if none.
    pub const fn max_host_cap(&self, budget: u64) -> u64 {
        (budget / self.series_per_host()).saturating_sub(1)
    }
}

/// `http_request_duration_seconds`, the largest family per host.
pub const REQUEST_DURATION: &str = "http_request_duration_seconds";

/// Per-host families, largest first per host value.
pub const HOST_FAMILIES: &[HostFamily] = &[
    HostFamily {
        name: REQUEST_DURATION,
        otel_name: "http_client_request_duration_seconds",
        per_host: &[
            Factor::of(HTTP_METHODS, "methods"),
            Factor::of(histogram_lines(DURATION_BUCKETS), "lines"),
        ],
    },
    HostFamily {
        name: "http_backoff_duration_seconds",
        otel_name: "http_client_backoff_duration_seconds",
        per_host: &[
            Factor::of(DELAY_SOURCES, "sources"),
            Factor::of(histogram_lines(BACKOFF_BUCKETS), "lines"),
        ],
    },
    HostFamily {
        name: "http_requests_total",
        otel_name: "http_client_requests_total",
        per_host: &[Factor {
            count: STATUS_SLOTS as u64 + 1,
            what: "method/status pairs",
            overflow: true,
        }],
    },
    HostFamily {
        name: "http_limiter_wait_seconds",
        otel_name: "http_client_limiter_wait_duration_seconds",
        per_host: &[Factor::of(histogram_lines(DURATION_BUCKETS), "lines")],
    },
    HostFamily {
        name: "http_response_size_bytes",
        otel_name: "http_client_response_body_size_bytes",
        per_host: &[Factor::of(histogram_lines(SIZE_BUCKETS), "lines")],
    },
    HostFamily {
        name: "http_circuit_breaker_transitions_total",
        otel_name: "http_client_circuit_breaker_transitions_total",
        per_host: &[Factor::of(BREAKER_STATES * BREAKER_STATES, "transitions")],
    },
    HostFamily {
        name: "http_retries_total",
        otel_name: "http_client_retries_total",
        per_host: &[Factor::of(RETRY_REASONS, "reasons")],
    },
    HostFamily {
        name: "http_in_flight_requests",
        otel_name: "http_client_active_requests",
        per_host: &[],
    },
    HostFamily {
        name: "http_limiter_queue_depth",
        otel_name: "http_client_limiter_queue_depth",
        per_host: &[],
    },
    HostFamily {
        name: "http_limiter_saturation_ratio",
        otel_name: "http_client_limiter_saturation_ratio",
        per_host: &[],
    },
    HostFamily {
        name: "http_circuit_breaker_state",
        otel_name: "http_client_circuit_breaker_state",
        per_host: &[],
    },
];

/// The per-host family called `name` (in either naming).
pub fn family(name: &str) -> Option<&'static HostFamily> {
    HOST_FAMILIES
        .iter()
        .find(|f| f.name == name || f.otel_name == name)
}

/// Series of `http_fallback_attempts_total`, per adapter:
/// `(64 sources + 1) × 3 outcomes` = 195, within [`MIN_BUDGET`].
pub const FALLBACK_SERIES: u64 = (FALLBACK_SOURCES + 1) * FALLBACK_OUTCOMES;

/// Series of `telemetry_label_overflow_total` for an adapter with `labels`
/// declared labels: one per label and one for `host`.
pub const fn label_overflow_series(labels: usize) -> u64 {
    labels as u64 + 1
}

/// Series one custom event adds to `adapter_events_total`: the product of
/// `cap + 1` over the labels it carries (1 for an event without labels).
/// Saturates at `u64::MAX`.
///
/// ```
/// use telemetry_vocab::cardinality::event_series;
/// assert_eq!(event_series(&[500, 40]), 501 * 41);
/// assert_eq!(event_series(&[]), 1);
/// ```
pub fn event_series(caps: &[u32]) -> u64 {
    caps.iter()
        .fold(1u64, |p, &cap| p.saturating_mul(u64::from(cap) + 1))
}

/// The largest host cap at which every per-host family fits `budget`, 0 if
/// none does.
///
/// ```
/// use telemetry_vocab::cardinality::{max_host_cap, DEFAULT_BUDGET};
/// // 58 host values × 170 = 9,860 duration series; 59 would be 10,030.
/// assert_eq!(max_host_cap(DEFAULT_BUDGET), 57);
/// ```
pub fn max_host_cap(budget: u64) -> u64 {
    HOST_FAMILIES
        .iter()
        .map(|f| f.max_host_cap(budget))
        .min()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_numbers_of_the_docs() {
        let per_host: Vec<(&str, u64)> = HOST_FAMILIES
            .iter()
            .map(|f| (f.name, f.series_per_host()))
            .collect();
        assert_eq!(
            per_host,
            [
                ("http_request_duration_seconds", 170),
                ("http_backoff_duration_seconds", 57),
                ("http_requests_total", 33),
                ("http_limiter_wait_seconds", 17),
                ("http_response_size_bytes", 13),
                ("http_circuit_breaker_transitions_total", 9),
                ("http_retries_total", 4),
                ("http_in_flight_requests", 1),
                ("http_limiter_queue_depth", 1),
                ("http_limiter_saturation_ratio", 1),
                ("http_circuit_breaker_state", 1),
            ]
        );
        assert_eq!(MIN_BUDGET, 340);
        assert_eq!(FALLBACK_SERIES, 195);
        assert_eq!(max_host_cap(MAX_BUDGET), 11_763);
    }

    #[test]
    fn every_cap_fits_some_budget() {
        for f in HOST_FAMILIES {
            assert!(f.series(crate::MAX_CAP) <= MAX_BUDGET, "{}", f.name);
            assert!(f.series(1) <= MIN_BUDGET, "{}", f.name);
        }
        const { assert!(FALLBACK_SERIES <= MIN_BUDGET) };
        assert!(event_series(&[crate::MAX_CAP]) <= MAX_BUDGET);
    }

    #[test]
    fn max_host_cap_is_the_boundary() {
        for budget in [MIN_BUDGET, DEFAULT_BUDGET, 51_170, MAX_BUDGET] {
            let cap = max_host_cap(budget);
            let fits = |c: u64| {
                HOST_FAMILIES
                    .iter()
                    .all(|f| f.series(u32::try_from(c).unwrap_or(u32::MAX)) <= budget)
            };
            assert!(fits(cap), "{budget}");
            assert!(!fits(cap + 1), "{budget}");
        }
        assert_eq!(max_host_cap(MIN_BUDGET - 1), 0);
    }
}
