//! Generated code is clean under `clippy::pedantic` and `deny(warnings)`:
//! the lead's `cargo clippy -p telemetry-tests --all-targets -- -D warnings`
//! compiles this file with the lints below denied.
#![deny(clippy::pedantic, warnings)]

use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

/// Every argument of the grammar.
#[instrumented_adapter(
    name = "crossref_pedantic",
    hosts(cap = 16),
    labels(tenant(cap = 8), region(cap = 4)),
    events(
        resolved(tenant, doi: String, cached: bool),
        cache_miss(region, key: String, size: Option<u64>),
        login(tenant, user: String, #[secret] token: String),
        warmed_up,
    ),
    naming = "prometheus",
    slo(success = 99.5, latency_p99 = "500ms"),
    budget = 10000,
    crate = "::telemetry_runtime",
)]
#[derive(Debug, Clone, Default)]
pub struct Crossref {
    /// Base URL.
    pub base: String,
}

/// OpenTelemetry naming, a generic parameter and a lifetime.
#[instrumented_adapter(naming = "opentelemetry", events(seen(count: u64)))]
#[derive(Debug)]
pub struct Borrowing<'a, T: Clone>
where
    T: std::fmt::Debug,
{
    /// Borrowed items.
    pub items: &'a [T],
}

/// The bare attribute: no events at all.
#[instrumented_adapter]
#[derive(Debug, Default)]
pub struct Bare {}

#[test]
fn annotated_adapters_expose_their_manifests() {
    let c = Crossref::default();
    c.emit().resolved("acme", String::from("10.1000/182"), true);
    c.emit().cache_miss("eu", String::from("k"), None);
    c.emit()
        .login("acme", String::from("ada"), String::from("s3cr3t"));
    c.emit().warmed_up();
    telemetry_runtime::emit!(c, warmed_up());
    let b = Borrowing { items: &[1_u8] };
    b.emit().seen(1);
    let _ = Bare::default().emit();
    assert_eq!(Crossref::MANIFEST.name, "crossref_pedantic");
    assert_eq!(<Borrowing<'_, u8>>::MANIFEST.name, "borrowing");
    assert_eq!(Bare::MANIFEST.events.len(), 0);
    assert_eq!(b.items.len(), 1);
}
