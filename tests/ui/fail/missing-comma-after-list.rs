use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(hosts(cap = 16) name = "crossref")]
struct Crossref {}

fn main() {}
