use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(host(cap = 16))]
struct Crossref {}

fn main() {}
