use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(labels(type(cap = 8)))]
struct Crossref {}

fn main() {}
