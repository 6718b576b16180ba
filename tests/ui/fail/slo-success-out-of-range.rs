use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(slo(success = 100.5))]
struct Crossref {}

fn main() {}
