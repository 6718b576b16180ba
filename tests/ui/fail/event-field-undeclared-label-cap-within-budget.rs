use telemetry_runtime::instrumented_adapter;

// `tenant` leaves room for a `region` of cap 3 at most: 1001 × 4 <= 5000.
#[instrumented_adapter(
    labels(tenant(cap = 1000)),
    events(resolved(tenant, region)),
    budget = 5000,
)]
struct Crossref {}

fn main() {}
