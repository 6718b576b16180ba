use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(budget = 0)]
struct Crossref {}

fn main() {}
