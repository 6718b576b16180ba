use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(CacheMiss(key: String)))]
struct Crossref {}

fn main() {}
