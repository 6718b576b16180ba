use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(v1_done, v_1_done))]
struct Crossref {}

fn main() {}
