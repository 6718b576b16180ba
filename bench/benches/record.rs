//! Criterion view of the hot-path cases (the `bench` binary runs the same
//! cases interleaved, with medians over rounds, for docs/performance.md).
//!
//! `cargo bench --bench record` (add `-- --quick` for a short run).

use std::time::Instant;

use criterion::{criterion_group, criterion_main, Criterion};
use telemetry_bench::harness::Case;
use telemetry_bench::micro;

fn group(c: &mut Criterion, name: &str, cases: Vec<Case>) {
    let mut g = c.benchmark_group(name);
    for mut case in cases {
        g.bench_function(case.name.clone(), |b| {
            b.iter_custom(|iters| {
                let start = Instant::now();
                (case.run)(iters);
                start.elapsed()
            })
        });
    }
    g.finish();
}

fn record(c: &mut Criterion) {
    group(c, "record_request", micro::record_cases());
}

fn counter(c: &mut Criterion) {
    group(c, "counter_increment", micro::counter_cases());
}

criterion_group!(benches, record, counter);
criterion_main!(benches);
