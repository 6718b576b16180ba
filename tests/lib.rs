//! Shared fixtures of the workspace integration tests, linked by every test
//! binary of this crate (`macros`, `client`, `backends`; `ui` is trybuild's).
//!
//! The tests of one binary share one process: see [`support::process`] for
//! the tests that need the process to themselves.

pub mod support;
