use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(slo(latency_p100 = "500ms"))]
struct Crossref {}

fn main() {}
