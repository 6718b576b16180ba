//! The core: what every other layer builds on, and which names none of them.
//!
//! Events and their one table of kinds, bounded labels, manifests, the metric
//! catalogue (names only), redaction, the sink trait with dispatch and panic
//! isolation, and the adapter registry that hands out dense [`id::AdapterId`]s
//! (backends keep per-adapter state in [`adapter::PerAdapter`] tables by
//! that id). Nothing here imports the client, a backend or the server; a
//! test (`tests/layers.rs`) fails the build's test run when anything does.

pub mod adapter;
pub mod catalog;
pub mod dispatch;
pub mod events;
pub mod id;
// Lock-free counters and histograms shared by the backends (Prometheus hot
// path, health); with only the health state compiled in, some go unused.
#[cfg(feature = "events")]
#[cfg_attr(not(feature = "prometheus"), allow(dead_code, unreachable_pub))]
pub(crate) mod instruments;
pub mod labels;
pub mod live;
pub mod manifest;
pub mod propagation;
pub mod redact;
pub mod reloads;
pub mod run;
pub mod scope;
pub mod sink;
