use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(CacheMiss = 1))]
struct Cache {}

fn main() {}
