//! Generated code names everything by absolute path: it compiles without the
//! prelude and next to local modules named like the runtime, `core` and `std`.
#![no_implicit_prelude]

mod telemetry_runtime {}
mod core {}
mod std {}
mod serde {}

#[allow(dead_code)]
struct Option;
#[allow(dead_code)]
struct Result;
#[allow(dead_code)]
struct String;

#[::telemetry_runtime::instrumented_adapter(
    labels(tenant(cap = 4)),
    events(
        resolved(tenant, doi: ::std::string::String, n: ::core::option::Option<u8>),
        idle,
        // A secret field writes `Debug` out: its formatter cannot be captured
        // by a field of the same name.
        login(#[secret] formatter: ::std::string::String, f: u8),
    ),
    slo(success = 99.0, latency_p95 = "1s"),
)]
pub struct Hygienic {
    pub base: ::std::string::String,
}

fn main() {
    use ::telemetry_runtime::InstrumentedAdapter;
    let h = Hygienic { base: ::std::string::String::new() };
    h.emit().resolved("t", ::std::string::String::new(), ::core::option::Option::None);
    h.emit().idle();
    h.emit().login(::std::string::String::new(), 1);
    ::telemetry_runtime::emit!(h, idle());
    let _ = Hygienic::MANIFEST;
    let _ = Hygienic::telemetry();
}
