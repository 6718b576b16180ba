//! Compile-fail and compile-pass cases of `#[instrumented_adapter]`.
//!
//! Each `ui/fail/<problem>.rs` holds one mistake and its `.stderr` the exact
//! diagnostic a user sees; `ui/pass/` holds accepted forms.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("ui/pass/*.rs");
    t.compile_fail("ui/fail/*.rs");
}
