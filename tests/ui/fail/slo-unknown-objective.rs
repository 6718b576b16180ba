use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(slo(sucess = 99.5))]
struct Crossref {}

fn main() {}
