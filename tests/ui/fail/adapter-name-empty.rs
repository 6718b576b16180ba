use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(name = "")]
struct Crossref {}

fn main() {}
