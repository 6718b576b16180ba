//! Generated code is warning-free and fully documented.
#![deny(warnings)]
#![deny(missing_docs, missing_debug_implementations, unreachable_pub)]
#![deny(rust_2018_idioms, unused_qualifications, trivial_casts)]

use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

/// A documented public adapter.
#[instrumented_adapter(
    labels(tenant(cap = 8)),
    events(resolved(tenant, doi: String, cached: bool), idle),
    slo(success = 99.9),
)]
#[derive(Debug)]
pub struct Documented {
    /// Base URL.
    pub base: String,
}

/// A documented adapter without events.
#[instrumented_adapter]
#[derive(Debug)]
pub struct Quiet {}

/// A private adapter whose generated items are never used.
#[instrumented_adapter(events(unused(n: u8)))]
#[derive(Debug)]
struct Unused {}

fn main() {
    let d = Documented { base: String::new() };
    d.emit().resolved("t", d.base.clone(), false);
    let _ = Documented::MANIFEST;
    let _ = Quiet::MANIFEST;
    let _ = Unused {};
}
