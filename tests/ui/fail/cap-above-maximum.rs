use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(labels(tenant(cap = 10001)))]
struct Crossref {}

fn main() {}
