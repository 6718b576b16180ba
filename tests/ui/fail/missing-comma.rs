use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(name = "crossref" hosts(cap = 16))]
struct Crossref {}

fn main() {}
