use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(labels(tenant(cap = 8), region(cap = 4), tenant(cap = 2)))]
struct Crossref {}

fn main() {}
