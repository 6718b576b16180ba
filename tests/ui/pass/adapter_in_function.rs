//! Adapters declared inside function bodies, twice with the same type name in
//! different scopes, keep working.
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

fn first() -> &'static str {
    #[instrumented_adapter(name = "local_one", events(done(ms: u64)))]
    struct Local {}
    Local {}.emit().done(1);
    Local::MANIFEST.name
}

fn second() -> &'static str {
    #[instrumented_adapter(name = "local_two", naming = "otel")]
    struct Local {}
    let _ = Local {}.emit();
    Local::MANIFEST.name
}

fn main() {
    assert_eq!(first(), "local_one");
    assert_eq!(second(), "local_two");
}
