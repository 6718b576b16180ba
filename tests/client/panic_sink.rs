//! A sink that panics on every event never breaks a request: 1,000 requests
//! all succeed, and every panic is caught and counted.

use std::time::Duration;

use telemetry_runtime::client::RetryPolicy;
use telemetry_runtime::dispatch::sink_panics;
use telemetry_runtime::events::EventRef;
use telemetry_runtime::sink::EventSink;
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::quiet_panics;

#[instrumented_adapter(name = "client_panicky", hosts(cap = 8))]
struct PanickyAdapter {}

struct PanicOnEverything;

impl EventSink for PanicOnEverything {
    fn name(&self) -> &'static str {
        "client_test_panicking"
    }
    fn on_event(&self, event: EventRef<'_>) {
        panic!("sink failure on {}", event.kind());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_sink_never_fails_a_request() {
    // 2,000 expected panics would flood the test output; the hook is
    // process-wide, so only this sink's panics are silenced.
    let quiet = quiet_panics("sink failure on");
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("sturdy.test"), Script::always(Step::ok()));
    PanickyAdapter::telemetry().set_sink(Some(Box::new(PanicOnEverything)));
    let client = AdapterClient::builder::<PanickyAdapter>()
        .resolve("sturdy.test", sim.addr())
        .retry(RetryPolicy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .expect("client");
    let url = sim.url("sturdy.test", "/");
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..20 {
        let client = client.clone();
        let url = url.clone();
        tasks.spawn(async move {
            let mut ok = 0u32;
            for _ in 0..50 {
                let resp = client.get(&url).send().await.expect("request succeeds");
                assert_eq!(resp.status_code(), 200);
                ok += 1;
            }
            ok
        });
    }
    let mut total = 0;
    while let Some(done) = tasks.join_next().await {
        total += done.expect("no task panicked");
    }
    drop(quiet);
    assert_eq!(total, 1_000);
    assert_eq!(sim.hits("sturdy.test", None), 1_000);
    let caught = sink_panics()
        .into_iter()
        .find(|(name, _)| *name == "client_test_panicking")
        .map_or(0, |(_, n)| n);
    // One request and one response event per call, each one a caught panic.
    assert_eq!(caught, 2_000);
    sim.shutdown().await;
}
