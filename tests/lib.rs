//! Shared fixtures of the workspace integration tests, linked by every test
//! binary of this crate (`macros`, `client`, `backends`; `ui` is trybuild's).
//!
//! The tests of one binary share one process: see [`support::process`] for
//! the tests that need the process to themselves.

pub mod support;

/// The Rust snippets of the README and of `docs/`, compiled (and, unless
/// marked `no_run`, run) by `cargo test --doc -p telemetry-tests`: a snippet
/// that no longer compiles against the crates fails the test command.
/// Snippets that are outlines, not code, are marked `ignore` in the page,
/// with the reason next to them.
#[cfg(doctest)]
pub mod docs {
    #[doc = include_str!("../README.md")]
    pub mod readme {}
    #[doc = include_str!("../docs/architecture.md")]
    pub mod architecture {}
    #[doc = include_str!("../docs/client.md")]
    pub mod client {}
    #[doc = include_str!("../docs/macro.md")]
    pub mod macros {}
    #[doc = include_str!("../docs/metrics.md")]
    pub mod metrics {}
    #[doc = include_str!("../docs/monitoring.md")]
    pub mod monitoring {}
    #[doc = include_str!("../docs/performance.md")]
    pub mod performance {}
    #[doc = include_str!("../docs/runbook.md")]
    pub mod runbook {}
    #[doc = include_str!("../docs/security.md")]
    pub mod security {}
    #[doc = include_str!("../docs/troubleshooting.md")]
    pub mod troubleshooting {}
}
