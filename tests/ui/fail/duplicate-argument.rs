use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(name = "crossref", hosts(cap = 8), name = "crossref_v2")]
struct Crossref {}

fn main() {}
