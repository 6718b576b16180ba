use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(labels(r#type()))]
struct Crossref {}

fn main() {}
