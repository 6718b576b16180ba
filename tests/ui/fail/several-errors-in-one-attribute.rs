use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(
    name = "my-api",
    hosts(cap = 0),
    labels(host(cap = 4), tenant(cap = 8)),
    events(Resolved(tenant, region), retry(n: u32)),
    slo(success = 120, latency_p99 = "soon"),
    colour = "blue",
)]
struct MyApi {}

fn main() {}
