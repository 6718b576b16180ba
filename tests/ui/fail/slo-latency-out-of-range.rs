use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(slo(latency_p99 = "30s"))]
struct Crossref {}

fn main() {}
