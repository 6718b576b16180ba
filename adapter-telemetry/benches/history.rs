//! The 90-day export's wall time against a real Prometheus holding 90 days
//! of backfilled series (the data of `tests/history.rs`): every series, a
//! 5-minute step, once per format, 5 runs each of the release binary; the
//! median and the spread are printed. Target: at most 2 s.
//!
//! `cargo bench -p adapter-telemetry --bench history` (needs `prometheus`
//! and `promtool`, which `scripts/test.sh` installs).

use std::process::Command;
use std::time::Instant;

#[path = "../tests/common/backfill.rs"]
mod backfill;

fn main() {
    let t0 = backfill::data_end();
    let Some(prom) = backfill::start(t0) else {
        println!("history bench: prometheus or promtool missing, nothing measured");
        return;
    };
    let bin = env!("CARGO_BIN_EXE_adapter-telemetry");
    let (from, to) = ((t0 - 90 * backfill::DAY).to_string(), t0.to_string());
    println!("| format | runs | median s | min s | max s | points |");
    println!("|---|---|---|---|---|---|");
    for format in ["csv", "json", "parquet"] {
        let out = prom.dir.join(format!("bench.{format}"));
        let mut times = Vec::new();
        let mut points = String::new();
        for _ in 0..5 {
            let started = Instant::now();
            let o = Command::new(bin)
                .args([
                    "history",
                    "--prometheus",
                    &prom.base,
                    "--from",
                    &from,
                    "--to",
                    &to,
                ])
                .args([
                    "--step", "5m", "--window", "30m", "--format", format, "--out",
                ])
                .arg(&out)
                .output()
                .expect("binary runs");
            times.push(started.elapsed().as_secs_f64());
            assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
            let v: serde_json::Value = serde_json::from_slice(&o.stdout).expect("summary");
            points = v["points"].to_string();
        }
        times.sort_by(f64::total_cmp);
        println!(
            "| {format} | 5 | {:.3} | {:.3} | {:.3} | {points} |",
            times[2], times[0], times[4]
        );
    }
}
