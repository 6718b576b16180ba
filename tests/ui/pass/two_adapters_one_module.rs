//! Several adapters side by side in one module, with the same event and
//! label names, keep separate types, manifests and telemetry.
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

#[instrumented_adapter(labels(tenant(cap = 2)), events(resolved(tenant, ms: u64)))]
pub struct Crossref {}

#[instrumented_adapter(labels(tenant(cap = 3)), events(resolved(tenant, ms: u64)))]
pub struct DataCite {}

#[instrumented_adapter]
pub struct Unpaywall {}

fn main() {
    Crossref {}.emit().resolved("a", 1);
    DataCite {}.emit().resolved("a", 2);
    let _ = Unpaywall {}.emit();
    assert_eq!(Crossref::MANIFEST.labels[0].cap, 2);
    assert_eq!(DataCite::MANIFEST.labels[0].cap, 3);
    assert!(!core::ptr::eq(Crossref::telemetry(), DataCite::telemetry()));
    let _ = (CrossrefEvent::Resolved { tenant: Crossref::telemetry().label(0).intern("a"), ms: 1 },
             DataCiteEvent::Resolved { tenant: DataCite::telemetry().label(0).intern("a"), ms: 1 });
}
