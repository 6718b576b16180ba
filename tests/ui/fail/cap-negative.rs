use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(hosts(cap = -4))]
struct Crossref {}

fn main() {}
