//! A simulator with a client wired to it.

use std::time::Duration;

use telemetry_runtime::client::RetryPolicy;
use telemetry_runtime::{AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};

/// A simulator whose `host` answers 503 once, then 200, and a client of
/// adapter `T` resolving `host` to it with millisecond retries and no breaker:
/// one logical request gives two wire attempts.
pub async fn flaky_host<T: InstrumentedAdapter>(host: &str) -> (Simulator, AdapterClient) {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host(host),
        Script::sequence([Step::status(503), Step::ok()]),
    );
    let client = AdapterClient::builder::<T>()
        .resolve(host, sim.addr())
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(2)),
        )
        .no_breaker()
        .build()
        .expect("client");
    (sim, client)
}
