//! `crate = "..."` points generated code at a re-export of the runtime, as a
//! facade crate would.
mod facade {
    pub use ::telemetry_runtime as runtime;
}

use facade::runtime::InstrumentedAdapter;

#[facade::runtime::instrumented_adapter(
    crate = "crate::facade::runtime",
    events(resolved(doi: String)),
)]
pub struct ThroughFacade {}

fn main() {
    ThroughFacade {}.emit().resolved(String::from("10.1/x"));
    assert_eq!(ThroughFacade::MANIFEST.name, "through_facade");
}
