use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(hosts())]
struct Crossref {}

fn main() {}
