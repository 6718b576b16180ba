//! Runs the default scenario against the simulator and prints the per-host
//! summary: `cargo run -p telemetry-sim --example scenario`.

use telemetry_runtime::sink::FanoutSink;
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
use telemetry_sim::scenario::{Scenario, SummarySink};
use telemetry_sim::Simulator;

#[instrumented_adapter(name = "sim_demo", hosts(cap = 16))]
struct SimDemo {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let sim = Simulator::start().await?;
    let scenario = Scenario::default_scenario();
    scenario.install(&sim);
    let summary = SummarySink::new();
    SimDemo::telemetry().set_sink(Some(Box::new(FanoutSink::new().with(summary.clone()))));
    let client = scenario.client_builder::<SimDemo>(&sim).build()?;
    for h in &scenario.hosts {
        println!("{:<12} {}", h.host, h.description);
    }
    let (ok, failed) = scenario.drive(&client, &sim, 25).await;
    println!("\n{ok} succeeded, {failed} failed\n");
    print!("{}", summary.render(&client));
    for s in client.limiter_snapshot() {
        println!(
            "limiter {:<22} waited {:>3} rejected {:>3} max depth {:>2} saturation {:.3}",
            s.host, s.waited, s.rejected, s.max_depth_seen, s.saturation
        );
    }
    sim.shutdown().await;
    Ok(())
}
