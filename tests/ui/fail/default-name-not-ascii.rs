use telemetry_runtime::instrumented_adapter;

// No `name`: it defaults to the type name in snake_case, `ünicode`.
#[instrumented_adapter]
struct Ünicode {}

fn main() {}
