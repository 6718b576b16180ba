//! Backends, one per Cargo feature. Each imports the core only, never
//! another backend, and keeps its per-adapter state in its own table by
//! adapter id.

#[cfg(feature = "prometheus")]
pub mod prometheus;

/// Process metrics, a collector of the Prometheus backend (kept at this path
/// for compatibility).
#[cfg(feature = "process")]
pub use prometheus::process;

#[cfg(feature = "tracing")]
pub mod tracing;

#[cfg(feature = "otlp")]
pub mod otlp;

#[cfg(feature = "events")]
pub mod health;
