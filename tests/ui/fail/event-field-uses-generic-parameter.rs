use telemetry_runtime::instrumented_adapter;

#[instrumented_adapter(events(resolved(item: Vec<T>)))]
struct Cache<T> {
    items: Vec<T>,
}

fn main() {}
