use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(resolved(doi: String, cached: bool, doi: String)))]
struct Crossref {}

fn main() {}
