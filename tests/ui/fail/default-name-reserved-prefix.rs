use telemetry_runtime::instrumented_adapter;

// No `name`: it defaults to the type name in snake_case, `__hidden`.
#[instrumented_adapter]
struct __Hidden {}

fn main() {}
