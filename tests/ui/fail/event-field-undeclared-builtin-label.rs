use telemetry_runtime::instrumented_adapter;

// `host` cannot be declared as a label: only a typed field works.
#[instrumented_adapter(events(resolved(host)))]
struct Crossref {}

fn main() {}
