//! A per-host rate-limit budget, printed live from the limiter snapshot.
//!
//! Twelve requests arrive at once at a host limited to 10 per second with a
//! burst of 3: three go at once, the rest queue. While they drain, a
//! watcher prints `AdapterClient::limiter_snapshot()` every 100 ms: the
//! queue depth, how many got a token at once or after waiting, saturation.
//!
//! Run: `cargo run -p telemetry-examples --example limiter_budget`

use std::time::Duration;

use telemetry_runtime::client::RateLimit;
use telemetry_runtime::{instrumented_adapter, AdapterClient};
use telemetry_sim::{Route, Script, Simulator, Step};

#[instrumented_adapter(name = "budgeted", hosts(cap = 4))]
struct Budgeted {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start().await?;
    sim.route(Route::host("limited.test"), Script::always(Step::ok()));
    let client = AdapterClient::builder::<Budgeted>()
        .resolve("limited.test", sim.addr())
        .rate_limit(RateLimit::per_second(10.0).burst(3))
        .build()?;

    let mut calls = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (client, url) = (client.clone(), sim.url("limited.test", &format!("/{i}")));
        calls.spawn(async move { client.get(url).send().await.map(|r| r.status_code()) });
    }

    // The live budget, while the queue drains.
    let watcher = {
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                for s in client.limiter_snapshot() {
                    println!(
                        "{}: queued {:>2}/{} | at once {:>2} | waited {:>2} | rejected {} | saturation {:.2}",
                        s.host, s.queue_depth, s.max_queue_depth, s.acquired, s.waited,
                        s.rejected, s.saturation
                    );
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        })
    };
    let mut ok = 0;
    while let Some(done) = calls.join_next().await {
        if done?? == 200 {
            ok += 1;
        }
    }
    watcher.abort();
    let last = client
        .limiter_snapshot_for(&format!("limited.test:{}", sim.port()))
        .ok_or("no limiter for the host")?;
    println!(
        "done: {ok} ok; {} at once, {} waited",
        last.acquired, last.waited
    );
    if last.acquired + last.waited != 12 || last.waited == 0 {
        return Err("expected every request through the limiter, some after waiting".into());
    }
    sim.shutdown().await;
    Ok(())
}
