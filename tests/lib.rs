//! Shared fixtures of the workspace integration tests, linked by every test
//! binary of this crate.

pub mod support;
