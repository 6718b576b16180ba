use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(hosts(cap = "16"))]
struct Crossref {}

fn main() {}
