use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(slo(latency_p99 = "half a second"))]
struct Crossref {}

fn main() {}
