//! Benchmarks of the telemetry runtime against the crates a user would pick
//! instead, shared by the `bench` binary (interleaved rounds, medians, a
//! markdown report) and the criterion benches in `benches/`.
//!
//! Every case records the same thing for one of eight hosts, rotating: one
//! request's counter, its duration and its response size (or one counter
//! increment), with inputs drawn from the same pre-computed tables.
#![warn(missing_docs)]

pub mod harness;
pub mod memory;
pub mod micro;
pub mod render;
pub mod stack;
