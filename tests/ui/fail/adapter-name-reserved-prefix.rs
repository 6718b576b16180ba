use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(name = "__meta")]
struct Meta {}

fn main() {}
