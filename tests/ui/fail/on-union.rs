use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter]
union Crossref {
    a: u32,
    b: f32,
}

fn main() {}
