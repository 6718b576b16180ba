use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(hosts(cap = 1000))]
struct Crossref {}

fn main() {}
