//! What the dashboard reads instead of observing every event: the client's
//! live in-flight count per host (`core::live`) and the health state's retry
//! count.

use std::time::{Duration, Instant};

use telemetry_runtime::backends::health;
use telemetry_runtime::client::RetryPolicy;
use telemetry_runtime::core::live;
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};

#[instrumented_adapter(name = "client_live_counts", hosts(cap = 8))]
struct LiveCounts {}

fn in_flight(host: &str) -> Option<u32> {
    live::host_states(LiveCounts::telemetry().id())?
        .into_iter()
        .find(|s| s.host == host)?
        .in_flight
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_comes_from_the_client_and_retries_from_the_health_state() {
    health::install();
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host("slow.test"),
        Script::always(Step::ok().delay(Duration::from_millis(1500))),
    );
    sim.route(
        Route::host("flaky.test"),
        Script::sequence([Step::status(503), Step::status(503), Step::ok()]),
    );
    let client = AdapterClient::builder::<LiveCounts>()
        .resolve("slow.test", sim.addr())
        .resolve("flaky.test", sim.addr())
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .base_delay(Duration::from_millis(1)),
        )
        .build()
        .expect("client");
    let slow = format!("slow.test:{}", sim.port());

    // Two requests held by the slow host: the live count says 2.
    let a = tokio::spawn(client.get(sim.url("slow.test", "/")).send());
    let b = tokio::spawn(client.get(sim.url("slow.test", "/")).send());
    let deadline = Instant::now() + Duration::from_secs(20);
    while in_flight(&slow) != Some(2) && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(in_flight(&slow), Some(2), "both requests are in flight");
    a.await.expect("task").expect("slow answer");
    b.await.expect("task").expect("slow answer");
    assert_eq!(in_flight(&slow), Some(0), "finished requests are not");

    let response = client
        .get(sim.url("flaky.test", "/"))
        .send()
        .await
        .expect("the third attempt succeeds");
    assert_eq!(response.status(), 200);
    let flaky = format!("flaky.test:{}", sim.port());
    let totals = health::hosts(LiveCounts::telemetry());
    let host = totals
        .iter()
        .find(|h| h.host.as_str() == flaky)
        .expect("the flaky host has health totals");
    assert_eq!(host.retries, 2, "two retries before the success");
    assert_eq!(host.requests, 3, "three wire attempts");
    assert_eq!(host.errors, 2, "two 503s");
}
