use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(hosts = 16)]
struct Crossref {}

fn main() {}
