//! Typed lifecycle events: one struct per step of a request's life.
//!
//! Every event carries an [`EventMeta`] (adapter, host, correlation id, attempt,
//! timestamp). Field names follow the OpenTelemetry HTTP semantic conventions
//! where one exists; the serialised names are the convention's
//! (`http.request.method`, `server.address`, `http.response.status_code`,
//! `error.type`, `http.request.resend_count`).
//!
//! - `meta`: what every event carries, correlation ids, the clock;
//! - `vocab`: the closed vocabularies of fields (methods, error types, ...);
//! - `lifecycle`: one struct per built-in kind;
//! - `custom`: the adapters' own events;
//! - `kinds`: the one table of built-in kinds, and [`EventRef`].

mod custom;
pub(crate) mod kinds;
mod lifecycle;
mod meta;
mod vocab;

pub use custom::{CustomEvent, CustomEventRecord};
pub use kinds::{EventKind, EventRef};
pub use lifecycle::{
    BackoffEvent, BodyEvent, BreakerTransitionEvent, ErrorEvent, FallbackEvent, RateLimitEvent,
    RedirectEvent, RequestEvent, ResponseEvent, RetryEvent,
};
pub use meta::{now_unix_nanos, CorrelationId, EventMeta};
pub use vocab::{
    BreakerState, DelaySource, ErrorType, FallbackOutcome, HttpMethod, RateLimitOutcome,
    RetryReason,
};
