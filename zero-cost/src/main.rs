//! Instruction-count probe for the zero-cost claim.
//!
//! Two adapters do the same work: `Annotated` carries `#[instrumented_adapter]`
//! and calls its generated emitters (`x.emit().ev(...)` and `emit!(...)`) on
//! every step; `Plain` is the same struct without the attribute and without
//! the calls. Each runs in its own `#[inline(never)]`, `#[no_mangle]` function,
//! so `valgrind --tool=callgrind --toggle-collect=<name>` can count the
//! instructions of one of them alone. `scripts/zero-cost.sh` does that for
//! both builds (no backend; `events` without a sink) and compares.
//!
//! Usage: `zero-cost [annotated|plain|both] [iterations]` (default `both`,
//! 1000). Prints a checksum so the work cannot be optimised away.

use std::hint::black_box;

use telemetry_runtime::{emit, instrumented_adapter};

/// The annotated adapter.
#[instrumented_adapter(
    name = "zero_cost_probe",
    hosts(cap = 8),
    labels(tenant(cap = 4)),
    events(
        parsed(tenant, bytes: u64, ok: bool),
        cache_miss(key: String),
    ),
)]
pub struct Annotated {
    base: u64,
    tenant: &'static str,
}

/// The same struct without the attribute.
pub struct Plain {
    base: u64,
    tenant: &'static str,
}

/// What both adapters compute per step: a small, branchy mix of arithmetic
/// standing in for parsing a response.
#[inline(always)]
fn step(base: u64, tenant: &str, i: u64) -> u64 {
    let mut h = base ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    h ^= h >> 29;
    h = h.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    if h & 1 == 0 {
        h = h.rotate_left(7);
    }
    h.wrapping_add(tenant.len() as u64)
}

impl Annotated {
    fn work(&self, i: u64) -> u64 {
        let h = step(self.base, self.tenant, i);
        // Eager form: the arguments are plain values computed anyway.
        self.emit().parsed(self.tenant, h & 0xFFFF, h & 2 == 0);
        // Lazy form: the argument (an allocation) is only built when a sink
        // listens, and never when the runtime has no backend.
        emit!(self, cache_miss(format!("key-{h}")));
        h
    }
}

impl Plain {
    fn work(&self, i: u64) -> u64 {
        step(self.base, self.tenant, i)
    }
}

/// The annotated adapter's loop.
#[no_mangle]
#[inline(never)]
pub fn zc_annotated_work(a: &Annotated, n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..n {
        acc = acc.wrapping_add(a.work(i));
    }
    acc
}

/// The un-annotated struct's loop.
#[no_mangle]
#[inline(never)]
pub fn zc_plain_work(p: &Plain, n: u64) -> u64 {
    let mut acc = 0u64;
    for i in 0..n {
        acc = acc.wrapping_add(p.work(i));
    }
    acc
}

/// Emits per iteration of `zc_annotated_work` (for the per-emit figure).
pub const EMITS_PER_ITERATION: u64 = 2;

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "both".to_string());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(1000);
    let a = black_box(Annotated {
        base: 0x1234,
        tenant: "acme",
    });
    let p = black_box(Plain {
        base: 0x1234,
        tenant: "acme",
    });
    // One function per run, so that a callgrind run counts exactly one of
    // them even when the compiler merged the two into one symbol (it does
    // when their machine code is identical: the strongest form of the claim).
    let sum = match which.as_str() {
        "annotated" => zc_annotated_work(&a, black_box(n)),
        "plain" => zc_plain_work(&p, black_box(n)),
        _ => {
            let x = zc_annotated_work(&a, black_box(n));
            let y = zc_plain_work(&p, black_box(n));
            assert_eq!(x, y, "both adapters must compute the same result");
            x
        }
    };
    println!(
        "checksum {sum:#x} run {which} iterations {n} emits_per_iteration {EMITS_PER_ITERATION} events_feature {}",
        cfg!(feature = "events")
    );
}
