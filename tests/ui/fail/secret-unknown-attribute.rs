use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(login(user: String, #[redact] token: String)))]
struct Auth {}

fn main() {}
