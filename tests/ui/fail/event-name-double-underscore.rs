use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(cache__miss(key: String)))]
struct Cache {}

fn main() {}
