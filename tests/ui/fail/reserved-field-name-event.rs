use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(resolved(event: String)))]
struct Crossref {}

fn main() {}
