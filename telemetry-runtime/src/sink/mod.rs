//! Event sinks: where events go.
//!
//! [`EventSink`] has one callback per event kind; each defaults to
//! [`EventSink::on_event`], which defaults to doing nothing, so a sink
//! implements exactly what it cares about. Built in: [`FanoutSink`] (composite),
//! [`HostFilterSink`], [`SamplingSink`], [`RateLimitSink`], [`JsonLogSink`],
//! [`RecordingSink`] and the queue of [`queue::non_blocking`].
//!
//! Every call into a sink goes through [`crate::dispatch`], which catches
//! panics: a panicking sink is counted in `telemetry_sink_panics_total` and the
//! other sinks (and the request) carry on.
//!
//! Sinks run synchronously, on the thread that emits the event (for client
//! events, the request's own task): a sink that blocks slows the request.
//! [`queue::non_blocking`] moves any sink, a user's own included, off the
//! request path with one call: a bounded queue, a writer thread, and a guard
//! that drains it.

mod fanout;
mod filter;
mod json_log;
#[cfg(feature = "jsonl")]
#[cfg_attr(docsrs, doc(cfg(feature = "jsonl")))]
pub mod jsonl;
pub mod queue;
mod rate_limit;
mod recording;
mod sample;
#[cfg(feature = "sqlite")]
#[cfg_attr(docsrs, doc(cfg(feature = "sqlite")))]
pub mod sqlite;

pub use crate::core::sink::{deliver, EventSink};
pub use fanout::FanoutSink;
pub use filter::HostFilterSink;
pub use json_log::JsonLogSink;
pub use queue::{non_blocking, QueueGuard, QueuedSink};
pub use rate_limit::{RateLimitHandle, RateLimitSink};
pub use recording::{RecordedEvent, RecordingSink};
pub use sample::{SamplingHandle, SamplingSink};
