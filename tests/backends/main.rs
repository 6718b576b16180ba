//! The backends: Prometheus (catalogue, limiter families, configured
//! buckets, rules and dashboards, a real Prometheus scraping), tracing,
//! OTLP, the server, and redaction across all of them.
//!
//! One binary, one process, tests on parallel threads. What they share and
//! how each copes:
//! - the Prometheus exposition (`render`, `/metrics`) holds every adapter of
//!   the process: adapter names are unique in the binary and each test reads
//!   its own adapter's series; whole-exposition checks (`promtool`, the real
//!   Prometheus scrape, one HELP/TYPE per family) hold for all of them;
//! - sinks are installed per adapter type, never globally;
//! - tracing subscribers are thread-local (`set_default` / `with_default`
//!   on a current-thread runtime), never the global default;
//! - each OTLP pipeline has its own receiver and is shut down by its test;
//! - alone in a child process (`telemetry_tests::run_alone!`, reasons in
//!   `support::process`): the configured buckets (fixed at the first
//!   recording in the process), the exposition property test (hundreds of
//!   hosts the other tests should not render), the server's readiness walk
//!   (judges every adapter of the process), the alerting test (its failing
//!   adapters would fail that readiness), and the tests asserting on what
//!   a tracing subscriber saw of the runtime's callsites (OTLP spans, JSON
//!   logs, redaction), whose interest `tracing-core` caches process-wide.

mod alerting;
mod buckets;
mod docs_rules;
mod exposition;
mod k8s;
mod otlp;
mod prometheus;
mod prometheus_limiter;
mod queue;
mod real_prometheus;
mod redaction;
mod rules;
mod runbook;
mod server;
mod sinks;
mod tracing;
