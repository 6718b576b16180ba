use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(labels(tenant(cap = 8)), events(resolved(tenant, region)))]
struct Crossref {}

fn main() {}
