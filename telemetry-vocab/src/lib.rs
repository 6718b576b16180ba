//! The vocabulary `telemetry-macros` and `telemetry-runtime` share: the limits
//! the macro checks at compile time and the runtime sizes its tables by, the
//! names the runtime keeps for itself, and the [`duration`] grammar of SLO
//! targets and of the configuration file. Each is defined once, here, so the
//! macro's checks and the runtime's behaviour cannot drift apart.
//!
//! Users depend on `telemetry-runtime`; this crate is an implementation
//! detail of it and of its macro.
//!
//! ```
//! // What `#[instrumented_adapter(hosts(cap = 16))]` may cost in
//! // `http_requests_total` series, as the macro's cardinality budget counts
//! // it: 17 host values (16 and `_OTHER`) × 33 method/status slots.
//! use telemetry_vocab::cardinality::family;
//! let host_cap: u32 = 16;
//! assert!(host_cap <= telemetry_vocab::MAX_CAP);
//! assert_eq!(family("http_requests_total").map(|f| f.series(host_cap)), Some(561));
//! ```

#![warn(missing_docs, unreachable_pub)]

pub mod cardinality;
pub mod duration;

/// Largest cap of any bounded label, the host label included. The macro
/// rejects `cap = 10001`; the runtime clamps a larger cap to this one.
///
/// ```
/// use telemetry_vocab::MAX_CAP;
/// let requested: u32 = 50_000;
/// assert_eq!(requested.clamp(1, MAX_CAP), 10_000);
/// ```
pub const MAX_CAP: u32 = 10_000;

/// Distinct `(method, status)` pairs the runtime tracks per host before
/// folding the rest into `(_OTHER, _OTHER)`. It bounds `http_requests_total`
/// at `(host cap + 1) × (STATUS_SLOTS + 1)` series (the `_OTHER` host and
/// the folded pair included), which the macro's cardinality budget counts
/// ([`cardinality`]).
///
/// ```
/// use telemetry_vocab::{MAX_CAP, STATUS_SLOTS};
/// // The most series one adapter's request counter can have.
/// assert_eq!((MAX_CAP as usize + 1) * (STATUS_SLOTS + 1), 330_033);
/// ```
pub const STATUS_SLOTS: usize = 32;

/// Most bounded labels one custom event may carry: the runtime counts an
/// event's label combination from a buffer of this many values, and the macro
/// rejects an event that declares more.
///
/// ```
/// let values = [0usize; telemetry_vocab::MAX_EVENT_LABELS];
/// assert_eq!(values.len(), 16);
/// ```
pub const MAX_EVENT_LABELS: usize = 16;

/// Kind names of the events the runtime emits itself. A custom event may not
/// take one of them: logs could not tell it from the built-in event.
///
/// ```
/// use telemetry_vocab::BUILTIN_EVENTS;
/// assert!(BUILTIN_EVENTS.contains(&"retry"));
/// assert!(!BUILTIN_EVENTS.contains(&"resolved"));
/// ```
pub const BUILTIN_EVENTS: &[&str] = &[
    "request",
    "response",
    "error",
    "retry",
    "backoff",
    "rate_limit",
    "breaker_transition",
    "fallback",
    "redirect",
    "body",
];

/// Label names the runtime puts on its own metrics, and those
/// Prometheus gives a meaning (`le`, `quantile`, `job`, `instance`). A custom
/// label may not take one of them.
///
/// ```
/// use telemetry_vocab::RESERVED_LABELS;
/// assert!(RESERVED_LABELS.contains(&"host"));
/// assert!(!RESERVED_LABELS.contains(&"tenant"));
/// ```
pub const RESERVED_LABELS: &[&str] = &[
    "adapter", "host", "method", "status", "reason", "source", "outcome", "from", "to", "label",
    "sink", "event", "tier", "le", "quantile", "job", "instance",
];
