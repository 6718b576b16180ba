use telemetry_runtime::instrumented_adapter;

// Each event fits the budget alone; `adapter_events_total` holds them all.
#[instrumented_adapter(
    labels(tenant(cap = 2999), region(cap = 2999)),
    events(resolved(tenant), cache_miss(region)),
    budget = 5000,
)]
struct Crossref {}

fn main() {}
