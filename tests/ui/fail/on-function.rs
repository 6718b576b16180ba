use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter]
fn crossref() {}

fn main() {}
