use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(name = "my-api")]
struct MyApi {}

fn main() {}
