use telemetry_runtime::instrumented_adapter;

// `hosts` is written already, so `host` gets no "did you mean `hosts`".
#[instrumented_adapter(hosts(cap = 16), host(cap = 8))]
struct Crossref {}

fn main() {}
