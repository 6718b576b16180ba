use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(retry(attempt: u32)))]
struct Crossref {}

fn main() {}
