//! The bare attribute: name from the type, default host cap and budget.
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

#[instrumented_adapter]
struct GeoLookupAPI {}

#[instrumented_adapter()]
struct Empty {}

fn main() {
    assert_eq!(GeoLookupAPI::MANIFEST.name, "geo_lookup_api");
    assert_eq!(GeoLookupAPI::MANIFEST.host_cap, 16);
    assert!(GeoLookupAPI::MANIFEST.events.is_empty());
    assert!(GeoLookupAPI::MANIFEST.slo.is_none());
    assert_eq!(Empty::MANIFEST.name, "empty");
    let _ = GeoLookupAPI {}.emit();
    let _ = Empty {};
}
