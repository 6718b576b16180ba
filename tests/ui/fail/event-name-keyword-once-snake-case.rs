use telemetry_runtime::instrumented_adapter;

// In snake_case, `Type` is the keyword `type`.
#[instrumented_adapter(events(Type(name: String)))]
struct Types {}

fn main() {}
