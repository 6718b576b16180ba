use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(resolved(doi: &'a str)))]
struct Crossref<'a> {
    base: &'a str,
}

fn main() {}
