//! `slo` and `export --format parquet` over a store of 1,000,000 http
//! events (plus 100,000 limiter events, 200 breaker transitions and 300
//! fallback attempts), generated into a temporary database.
//!
//! `cargo bench -p adapter-telemetry --bench store` (N events with
//! `ADAPTER_TELEMETRY_BENCH_EVENTS=N`). It spawns the built binary, as a
//! user would: the times include process start and opening the store.
//! With `ADAPTER_TELEMETRY_BENCH_DB=FILE` the store is written to FILE (any
//! old one replaced) and kept, for profiling the command on it.
//! Targets (issue 11): slo <= 1 s, Parquet export <= 5 s.

#[path = "../tests/support/fixture.rs"]
mod fixture;

use std::process::Command;
use std::time::{Duration, Instant};

fn time(label: &str, runs: usize, args: &[&str]) -> Duration {
    let mut best = Duration::MAX;
    let mut all = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_adapter-telemetry"))
            .args(args)
            .output()
            .expect("spawn adapter-telemetry");
        let d = t.elapsed();
        assert!(
            out.status.code() == Some(0) || out.status.code() == Some(1),
            "{label}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        best = best.min(d);
        all.push(format!("{:.3}", d.as_secs_f64()));
    }
    println!(
        "{label}: best {:.3} s of {runs} (runs: {})",
        best.as_secs_f64(),
        all.join(", ")
    );
    best
}

fn main() {
    // `cargo bench` passes `--bench`; nothing else to parse.
    let n: usize = std::env::var("ADAPTER_TELEMETRY_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let db = match std::env::var_os("ADAPTER_TELEMETRY_BENCH_DB") {
        Some(p) => {
            let p = std::path::PathBuf::from(p);
            for suffix in ["", "-wal", "-shm"] {
                let mut f = p.clone().into_os_string();
                f.push(suffix);
                let _ = std::fs::remove_file(f);
            }
            p
        }
        None => dir.path().join("bench.sqlite"),
    };
    let t = Instant::now();
    drop(fixture::bulk(&db, n));
    println!(
        "fixture: {n} http events written in {:.1} s",
        t.elapsed().as_secs_f64()
    );
    let size = std::fs::metadata(&db).map(|m| m.len()).unwrap_or(0);
    println!("store: {:.1} MiB", size as f64 / (1 << 20) as f64);
    let db = db.to_str().expect("utf-8 path");
    // Warm the page cache once: the figures are for a store the writer
    // just wrote, not a cold disk.
    time("warm-up slo", 1, &["slo", "--db", db]);
    time(
        "slo --run bulk (exact + histogram quantiles)",
        5,
        &["slo", "--db", db, "--run", "bulk"],
    );
    time(
        "slo --run bulk --no-exact",
        5,
        &["slo", "--db", db, "--run", "bulk", "--no-exact"],
    );
    time(
        "slo --since/--until (whole hour)",
        5,
        &[
            "slo",
            "--db",
            db,
            "--since",
            "1796155200",
            "--until",
            "1796158800",
        ],
    );
    let out = dir.path().join("pq");
    let out = out.to_str().expect("utf-8 path");
    time(
        "export --format parquet (all tables)",
        3,
        &["export", "--db", db, "--format", "parquet", "--out", out],
    );
    let pq = std::path::Path::new(out).join("http_events.parquet");
    let size = std::fs::metadata(&pq).map(|m| m.len()).unwrap_or(0);
    println!(
        "http_events.parquet: {:.1} MiB",
        size as f64 / (1 << 20) as f64
    );
    let csv = dir.path().join("csv");
    time(
        "export --format csv (all tables)",
        1,
        &[
            "export",
            "--db",
            db,
            "--format",
            "csv",
            "--out",
            csv.to_str().expect("utf-8"),
        ],
    );
}
