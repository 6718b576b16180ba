//! Benchmarks of the telemetry runtime against the crates a user would pick
//! instead, shared by the `bench` binary (interleaved rounds, medians, a
//! markdown report) and the criterion benches in `benches/`.
//!
//! Every case records the same thing for one of eight hosts, rotating: one
//! request's counter, its duration and its response size (or one counter
//! increment), with inputs drawn from the same pre-computed tables.
#![warn(missing_docs)]

pub mod harness;

use telemetry_runtime::backends::prometheus::state::HostMetrics;
use telemetry_runtime::labels::LabelValue;
use telemetry_runtime::{AdapterRef, AdapterTelemetry};

/// What the Prometheus sink does per response: the hot-path metrics of a
/// host of an adapter, from the backend's own table (the runtime keeps it
/// out of its public API; benchmarks reach it through a hidden accessor).
pub trait HostMetricsExt {
    /// The metrics of `host`, created on first use.
    fn host_metrics(&'static self, host: LabelValue) -> &'static HostMetrics;
}

/// What the Prometheus sink does per response, from the handle an event
/// carries (resolved once per adapter, as the client does at build time).
#[inline]
pub fn host_metrics_of(adapter: AdapterRef, host: LabelValue) -> &'static HostMetrics {
    match telemetry_runtime::backends::prometheus::host_metrics_of(adapter, host) {
        Some(m) => m,
        None => panic!("bench adapters are exported"),
    }
}

impl HostMetricsExt for AdapterTelemetry {
    #[inline]
    fn host_metrics(&'static self, host: LabelValue) -> &'static HostMetrics {
        match telemetry_runtime::backends::prometheus::host_metrics(self, host) {
            Some(m) => m,
            None => panic!("bench adapters are exported"),
        }
    }
}
pub mod memory;
pub mod micro;
pub mod render;
pub mod stack;
