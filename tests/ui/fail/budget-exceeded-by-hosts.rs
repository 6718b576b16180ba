use telemetry_runtime::instrumented_adapter;

// 301 host values × 10 methods × 17 lines of the duration histogram.
#[instrumented_adapter(hosts(cap = 300))]
struct Crossref {}

fn main() {}
