use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(slo())]
struct Crossref {}

fn main() {}
