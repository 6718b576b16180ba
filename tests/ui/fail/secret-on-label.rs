use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(labels(tenant(cap = 8)), events(login(#[secret] tenant)))]
struct Auth {}

fn main() {}
