//! Backends, one per Cargo feature.

pub mod names;

#[cfg(feature = "prometheus")]
pub mod prometheus;

#[cfg(feature = "process")]
pub mod process;

#[cfg(feature = "tracing")]
pub mod tracing;

#[cfg(feature = "otlp")]
pub mod otlp;
