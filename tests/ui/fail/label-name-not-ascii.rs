use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(labels(région(cap = 8)))]
struct Crossref {}

fn main() {}
