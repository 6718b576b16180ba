use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(labels("tenant"(cap = 8)))]
struct Crossref {}

fn main() {}
