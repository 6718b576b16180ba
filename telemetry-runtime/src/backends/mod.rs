//! Backends, one per Cargo feature.

#[cfg(feature = "prometheus")]
pub mod prometheus;
