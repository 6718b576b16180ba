use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(resolved(doi: String), resolved(cached: bool)))]
struct Crossref {}

fn main() {}
