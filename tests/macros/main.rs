//! The code `#[instrumented_adapter]` generates: its behaviour as exact event
//! sequences, the cardinality budget's sizes, and its cleanliness under
//! `clippy::pedantic`.
//!
//! One binary, one process: every test installs its sink on its own adapter
//! type, never the global sink, and adapter names are unique in the binary.
//! The test that needs no sink anywhere in the process runs alone in a child
//! process (`telemetry_tests::run_alone!`).

mod behaviour;
mod budget;
// `pub`, as the crate root it was: its `pub` items (fields the test never
// reads) are then not dead code under its `deny(warnings)`.
pub mod pedantic;
