use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(naming = "statsd")]
struct Crossref {}

fn main() {}
