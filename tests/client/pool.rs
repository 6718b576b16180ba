//! One connection pool for many adapters (issue 14): two adapters on a
//! `SharedPool` calling one host reuse one TCP connection, each with its own
//! limiter, timeout and events; with pools of their own they open two.

use std::time::Duration;

use telemetry_runtime::client::{ClientError, RateLimit, SharedPool};
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::{describe_all, record};

#[instrumented_adapter(name = "client_pool_a", hosts(cap = 4))]
struct PoolA {}

#[instrumented_adapter(name = "client_pool_b", hosts(cap = 4))]
struct PoolB {}

#[instrumented_adapter(name = "client_pool_impatient", hosts(cap = 4))]
struct Impatient {}

#[instrumented_adapter(name = "client_pool_patient", hosts(cap = 4))]
struct Patient {}

#[instrumented_adapter(name = "client_pool_own_a", hosts(cap = 4))]
struct OwnA {}

#[instrumented_adapter(name = "client_pool_own_b", hosts(cap = 4))]
struct OwnB {}

/// A GET whose body is read to the end (so the connection goes back to the
/// pool before the next request).
async fn get_all(client: &AdapterClient, url: &str) {
    let r = client.get(url).send().await.expect("answer");
    assert_eq!(r.status_code(), 200);
    r.bytes().await.expect("body");
}

#[tokio::test]
async fn two_adapters_on_a_shared_pool_reuse_one_connection() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("pooled.test"), Script::always(Step::ok()));
    let addr = sim.addr();
    let pool = SharedPool::configure(|b| b.resolve("pooled.test", addr)).expect("pool");
    let rec_a = record::<PoolA>();
    let rec_b = record::<PoolB>();
    let a = AdapterClient::builder::<PoolA>()
        .shared_pool(&pool)
        .rate_limit(RateLimit::per_second(100.0).burst(5))
        .build()
        .expect("client a");
    let b = AdapterClient::builder::<PoolB>()
        .shared_pool(&pool)
        .rate_limit(RateLimit::per_second(1.0).burst(1))
        .build()
        .expect("client b");
    let url = sim.url("pooled.test", "/x");
    get_all(&a, &url).await;
    get_all(&b, &url).await;
    get_all(&a, &url).await;
    assert_eq!(sim.hits("pooled.test", None), 3);
    assert_eq!(sim.accepted_connections(), 1, "one pooled connection");

    // Each adapter keeps its own events and its own limiter.
    assert_eq!(
        describe_all(&rec_a.take()),
        [
            "rate_limit#1 acquired",
            "request#1 GET",
            "response#1 200",
            "body#1 complete",
            "rate_limit#1 acquired",
            "request#1 GET",
            "response#1 200",
            "body#1 complete",
        ]
    );
    assert_eq!(
        describe_all(&rec_b.take()),
        [
            "rate_limit#1 acquired",
            "request#1 GET",
            "response#1 200",
            "body#1 complete"
        ]
    );
    let host = format!("pooled.test:{}", sim.port());
    let snap_a = a.limiter_snapshot_for(&host).expect("a's limiter");
    let snap_b = b.limiter_snapshot_for(&host).expect("b's limiter");
    assert_eq!((snap_a.acquired, snap_b.acquired), (2, 1));
    assert_eq!(PoolA::telemetry().manifest().name, "client_pool_a");
    sim.shutdown().await;
}

#[tokio::test]
async fn adapters_with_pools_of_their_own_open_a_connection_each() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("unpooled.test"), Script::always(Step::ok()));
    let a = AdapterClient::builder::<OwnA>()
        .resolve("unpooled.test", sim.addr())
        .build()
        .expect("client a");
    let b = AdapterClient::builder::<OwnB>()
        .resolve("unpooled.test", sim.addr())
        .build()
        .expect("client b");
    let url = sim.url("unpooled.test", "/x");
    get_all(&a, &url).await;
    get_all(&b, &url).await;
    get_all(&a, &url).await;
    assert_eq!(sim.accepted_connections(), 2, "one connection per pool");
    sim.shutdown().await;
}

#[tokio::test]
async fn the_timeout_is_per_adapter_on_a_shared_pool() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host("slow-pool.test"),
        Script::always(Step::ok().delay(Duration::from_millis(300))),
    );
    let addr = sim.addr();
    let pool = SharedPool::configure(|b| b.resolve("slow-pool.test", addr)).expect("pool");
    let impatient = AdapterClient::builder::<Impatient>()
        .shared_pool(&pool)
        .timeout(Duration::from_millis(50))
        .retry(telemetry_runtime::client::RetryPolicy::none())
        .build()
        .expect("impatient");
    let patient = AdapterClient::builder::<Patient>()
        .shared_pool(&pool)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("patient");
    let url = sim.url("slow-pool.test", "/");
    let err = impatient.get(&url).send().await.expect_err("times out");
    assert!(
        matches!(&err, ClientError::Transport { kind, .. } if kind.as_str() == "timeout"),
        "{err:?}"
    );
    let ok = patient.get(&url).send().await.expect("waits");
    assert_eq!(ok.status_code(), 200);
    // Connection settings belong to the pool.
    let refused = AdapterClient::builder::<Impatient>()
        .shared_pool(&pool)
        .connect_timeout(Duration::from_secs(1))
        .build();
    assert!(
        matches!(&refused, Err(ClientError::InvalidConfig(m)) if m.contains("connect_timeout")),
        "{refused:?}"
    );
    sim.shutdown().await;
}
