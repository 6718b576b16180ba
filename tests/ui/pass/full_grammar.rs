//! Every argument of the attribute at once, with raw identifiers.
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

#[instrumented_adapter(
    name = "crossref",
    hosts(cap = 16),
    labels(tenant(cap = 8), region(cap = 4), r#type(cap = 2)),
    events(
        resolved(tenant, doi: String, cached: bool),
        cache_miss(region, r#type, key: String, size: Option<u64>),
        warmed_up,
    ),
    naming = "opentelemetry",
    slo(success = 99.5, latency_p99 = "500ms"),
    budget = 20000,
    crate = "::telemetry_runtime",
)]
pub struct Crossref {
    base: String,
}

fn main() {
    let c = Crossref { base: String::from("https://api.crossref.org") };
    let _ = &c.base;
    c.emit().resolved("acme", String::from("10.1000/182"), true);
    c.emit().cache_miss("eu", "doi", String::from("k"), Some(3));
    c.emit().warmed_up();
    telemetry_runtime::emit!(c, resolved("acme", String::from("10.1000/183"), false));

    let event = CrossrefEvent::CacheMiss {
        region: Crossref::telemetry().label(1).intern("eu"),
        r#type: Crossref::telemetry().label(2).intern("doi"),
        key: String::new(),
        size: None,
    };
    let _: &dyn telemetry_runtime::events::CustomEvent = &event;
    let _: CrossrefEmit = c.emit();
    assert_eq!(Crossref::MANIFEST.name, "crossref");
    assert_eq!(Crossref::MANIFEST.labels[2].name, "type");
    assert_eq!(Crossref::MANIFEST.cardinality_budget, 20000);
}
