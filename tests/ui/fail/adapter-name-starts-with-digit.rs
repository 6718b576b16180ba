use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(name = "2fast")]
struct Fast {}

fn main() {}
