use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(
    labels(tenant(cap = 500), region(cap = 40), plan(cap = 3)),
    events(resolved(tenant, region, doi: String), upgraded(tenant, plan)),
)]
struct Crossref {}

fn main() {}
