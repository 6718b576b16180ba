//! `/metrics` over HTTP with about 10 000 series: the time from sending the
//! GET to having read the whole body, through the real server (axum, the
//! `server` feature) on loopback. Issue 4 asks for under 50 ms.
//!
//! `cargo run --release --bin metrics_endpoint` (from `bench/`), or through
//! `scripts/bench.sh`.

use std::time::{Duration, Instant};

use telemetry_bench::HostMetricsExt;
use telemetry_runtime::events::HttpMethod;
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

#[instrumented_adapter(name = "endpoint_bench", hosts(cap = 10000), budget = 1700170)]
#[derive(Debug)]
struct EndpointAdapter {}

/// Statuses recorded per host: 8 counter series per host.
const STATUSES: [u16; 8] = [200, 201, 204, 301, 304, 404, 429, 500];

fn percentile(sorted: &[f64], q: f64) -> f64 {
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target_series: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000);
    let rounds: usize = std::env::args()
        .nth(2)
        .and_then(|a| a.parse().ok())
        .unwrap_or(50);
    // 39 sample lines per host: 8 counters, a duration histogram (14 buckets
    // + Inf + sum + count), a size histogram (10 + 3), the in-flight gauge.
    let hosts = (target_series / 39).max(1);
    let telemetry = EndpointAdapter::telemetry();
    for h in 0..hosts {
        let host = telemetry
            .hosts()
            .intern_host(&format!("host-{h}.bench"), None);
        let m = telemetry.host_metrics(host);
        for (i, status) in STATUSES.iter().enumerate() {
            m.record(
                HttpMethod::Get,
                *status,
                Duration::from_micros(500 + 100 * i as u64),
                Some(1024),
            );
        }
    }

    let server = telemetry_runtime::server::serve_loopback(0).await?;
    let url = format!("{}/metrics", server.base_url());
    let client = reqwest::Client::new();

    // One warm-up request (connection set-up, first buffer growth).
    let warm = client.get(&url).send().await?.text().await?;
    let series = warm
        .lines()
        .filter(|l| !l.starts_with('#') && l.contains("endpoint_bench"))
        .count();

    let mut ms = Vec::with_capacity(rounds);
    let mut bytes = 0;
    for _ in 0..rounds {
        let t = Instant::now();
        let body = client.get(&url).send().await?.bytes().await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        bytes = body.len();
    }
    ms.sort_by(f64::total_cmp);
    println!(
        "| series of the bench adapter | exposition kB | GETs | median ms | p90 ms | max ms |"
    );
    println!("|---|---|---|---|---|---|");
    println!(
        "| {series} | {:.0} | {rounds} | {:.2} | {:.2} | {:.2} |",
        bytes as f64 / 1024.0,
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        percentile(&ms, 1.0)
    );
    server.shutdown().await?;
    Ok(())
}
