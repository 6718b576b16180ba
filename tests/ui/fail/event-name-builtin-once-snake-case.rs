use telemetry_runtime::instrumented_adapter;

// In snake_case, `Retry` is the built-in event `retry`.
#[instrumented_adapter(events(Retry(n: u32)))]
struct Retries {}

fn main() {}
