use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter]
struct Crossref;

fn main() {}
