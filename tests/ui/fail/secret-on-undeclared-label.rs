use telemetry_runtime::instrumented_adapter;

// A bare field is a label; a secret needs a type.
#[instrumented_adapter(events(login(user: String, #[secret] token)))]
struct Auth {}

fn main() {}
