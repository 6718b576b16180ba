use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(name = 5)]
struct Crossref {}

fn main() {}
