use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(name("crossref"))]
struct Crossref {}

fn main() {}
