use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter]
enum Crossref {
    Live,
    Cached,
}

fn main() {}
