use telemetry_runtime::instrumented_adapter;

// Written bare, `tenant` would add 5,001 series: 10,002 in `adapter_events_total`.
#[instrumented_adapter(
    labels(tenant(cap = 5000)),
    events(resolved(tenant), renamed(tenant: String)),
)]
struct Crossref {}

fn main() {}
