use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(hosts(cap = 0))]
struct Crossref {}

fn main() {}
