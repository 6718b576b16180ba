use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter]
struct Crossref(String);

fn main() {}
