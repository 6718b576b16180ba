use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(login(user: String, #[secret = true] token: String)))]
struct Auth {}

fn main() {}
