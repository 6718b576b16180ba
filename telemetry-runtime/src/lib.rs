//! Declarative, compile-time telemetry for HTTP adapters.
//!
//! Annotate an adapter struct with [`instrumented_adapter`] and get typed
//! events, bounded per-host metric labels, cached metric handles and emitter
//! methods, over this thin runtime. With every backend feature off, the
//! generated emitters compile to nothing.
//!
//! ```
//! use telemetry_runtime::{emit, instrumented_adapter, InstrumentedAdapter};
//! use telemetry_runtime::sink::RecordingSink;
//!
//! #[instrumented_adapter(
//!     name = "crossref",
//!     hosts(cap = 16),
//!     labels(tenant(cap = 8)),
//!     events(resolved(tenant, doi: String, cached: bool)),
//!     slo(success = 99.5, latency_p99 = "500ms"),
//! )]
//! pub struct Crossref {
//!     base: String,
//! }
//!
//! let rec = RecordingSink::new();
//! Crossref::telemetry().set_sink(Some(Box::new(rec.clone())));
//! let c = Crossref { base: "https://api.crossref.org".into() };
//! c.emit().resolved("acme", "10.1000/182".into(), true);
//! emit!(c, resolved("acme", "10.1000/183".to_string(), false));
//! assert_eq!(rec.kinds(), if cfg!(feature = "events") { vec!["resolved", "resolved"] } else { vec![] });
//! assert_eq!(Crossref::MANIFEST.slo.and_then(|s| s.success_percent), Some(99.5));
//! ```
#![warn(missing_docs, unreachable_pub)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Layers (enforced by tests/layers.rs): `core` imports nothing else of this
// crate; `sink` and `client` import the core; each backend imports the core
// only; the server imports the core, the sinks and the backends it serves;
// `control` (runtime reloads) sits on top and may import every layer.
pub mod backends;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
#[cfg(feature = "control")]
#[cfg_attr(docsrs, doc(cfg(feature = "control")))]
pub mod control;
pub mod core;
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub mod server;
pub mod sink;

// The core's modules at the paths users know.
pub use crate::core::{dispatch, events, labels, manifest, redact, run, scope};
/// The server's configuration (TOML).
#[cfg(feature = "server")]
#[cfg_attr(docsrs, doc(cfg(feature = "server")))]
pub use server::config;

pub use crate::core::adapter::{AdapterTelemetry, InstrumentedAdapter};
pub use crate::core::id::{AdapterId, AdapterRef};

#[cfg(feature = "client")]
pub use client::AdapterClient;

/// `#[instrumented_adapter(...)]`: see the crate documentation and
/// `docs/macro.md` for the full grammar.
#[cfg(feature = "macros")]
pub use telemetry_macros::instrumented_adapter;

/// Emits a custom event, evaluating its arguments only when some sink listens
/// (and never when the runtime is built without backends).
///
/// `emit!(adapter, event_name(arg, ...))` is the lazy form of
/// `adapter.emit().event_name(arg, ...)`.
///
/// ```
/// # use telemetry_runtime::{emit, instrumented_adapter};
/// #[instrumented_adapter(events(cache_miss(key: String)))]
/// struct Store {}
/// let s = Store {};
/// let mut evaluated = false;
/// emit!(s, cache_miss({ evaluated = true; "k".to_string() }));
/// assert!(!evaluated, "no sink is installed, so the argument was not evaluated");
/// ```
#[macro_export]
macro_rules! emit {
    ($adapter:expr, $event:ident ( $($arg:expr),* $(,)? )) => {
        if $crate::__private::interested() {
            $adapter.emit().$event($($arg),*)
        }
    };
}

/// Items used by generated code. Not public API: may change in any release.
#[doc(hidden)]
pub mod __private {
    pub use crate::core::adapter::{AdapterTelemetry, InstrumentedAdapter};
    pub use crate::core::events::CustomEvent;
    pub use crate::core::labels::LabelValue;
    pub use crate::core::manifest::{
        AdapterManifest, EventSpec, FieldSpec, LabelSpec, LatencyObjective, Naming, SloSpec,
    };
    /// What a `#[secret]` event field debug-prints as.
    pub use crate::core::redact::REDACTED;
    /// What the generated emitters call: delivers a custom event with the
    /// request in scope, if any.
    pub use crate::core::scope::emit_custom;
    pub use erased_serde;
    pub use serde;

    /// `#[serde(serialize_with)]` of a `#[secret]` event field: writes
    /// [`REDACTED`] whatever the value, so no sink that serialises the event
    /// sees it.
    pub fn serialize_redacted<T: ?Sized, S: serde::Serializer>(
        _value: &T,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }

    /// Whether event dispatch is compiled in at all.
    pub const ENABLED: bool = cfg!(feature = "events");

    /// One relaxed load: is any sink installed?
    #[inline(always)]
    pub fn interested() -> bool {
        ENABLED && crate::core::dispatch::interested()
    }
}
