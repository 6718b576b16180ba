//! The instrumented client against the simulator: exact event sequences,
//! resilience (breaker, limiter, eviction, fallback), a panicking sink, and
//! the metric catalogue out of a real request cycle.
//!
//! One binary, one process: every test uses its own adapter type (unique
//! adapter names in the binary) with its own sink, never the global sink,
//! and reads only its own series from the shared Prometheus exposition.

mod body;
mod events;
mod live;
mod metrics;
mod panic_sink;
mod pool;
mod reload;
mod resilience;
mod switches;
