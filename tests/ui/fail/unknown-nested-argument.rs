use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(labels(tenant(max = 8)))]
struct Crossref {}

fn main() {}
