use telemetry_runtime::instrumented_adapter;

// No `hosts(...)`: the default cap of 16 does not fit this budget.
#[instrumented_adapter(budget = 2000)]
struct Crossref {}

fn main() {}
