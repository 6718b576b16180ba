//! Circuit breaker, rate limiter (queueing, host isolation, snapshots), idle
//! host eviction and fallback, with exact event sequences.

use std::collections::BTreeMap;
use std::time::Duration;

use telemetry_runtime::client::{
    BreakerPolicy, BreakerState, ClientError, RateLimit, RateLimitRejection, RetryPolicy,
};
use telemetry_runtime::events::RateLimitOutcome;
use telemetry_runtime::sink::RecordedEvent;
use telemetry_runtime::{instrumented_adapter, AdapterClient};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::{assert_one_request, describe_all, of, record};

#[instrumented_adapter(name = "client_breaker", hosts(cap = 8))]
struct BreakerAdapter {}

#[tokio::test]
async fn breaker_opens_rejects_probes_half_open_and_closes() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host("fragile.test"),
        Script::always(Step::status(500)),
    );
    let rec = record::<BreakerAdapter>();
    let client = AdapterClient::builder::<BreakerAdapter>()
        .resolve("fragile.test", sim.addr())
        .retry(RetryPolicy::none())
        .breaker(
            BreakerPolicy::default()
                .consecutive_failures(2)
                .open_timeout(Duration::from_millis(100))
                .half_open_probes(1),
        )
        .build()
        .expect("client");
    let url = sim.url("fragile.test", "/");

    let first = client.get(&url).send().await.expect("500 comes back");
    assert_eq!(
        describe_all(&rec.take()),
        ["request#1 GET", "response#1 500"]
    );
    let second = client.get(&url).send().await.expect("500 comes back");
    let events = rec.take();
    assert_eq!(
        describe_all(&events),
        ["request#1 GET", "response#1 500", "breaker#1 closed->open"]
    );
    assert_one_request(&events, second.correlation_id());
    assert_ne!(first.correlation_id(), second.correlation_id());
    assert_eq!(
        client.breaker_states(),
        vec![(format!("fragile.test:{}", sim.port()), BreakerState::Open)]
    );

    let rejected = client.get(&url).send().await.expect_err("breaker is open");
    assert!(
        matches!(rejected, ClientError::CircuitOpen { .. }),
        "{rejected:?}"
    );
    assert_eq!(describe_all(&rec.take()), ["error#1 circuit_open"]);
    assert_eq!(
        sim.hits("fragile.test", None),
        2,
        "the rejected call never left"
    );

    // The host recovers; after the open timeout one probe goes through.
    sim.route(Route::host("fragile.test"), Script::always(Step::ok()));
    tokio::time::sleep(Duration::from_millis(150)).await;
    let probe = client.get(&url).send().await.expect("probe succeeds");
    assert_eq!(probe.status_code(), 200);
    let events = rec.take();
    assert_eq!(
        describe_all(&events),
        [
            "breaker#1 open->half_open",
            "request#1 GET",
            "response#1 200",
            "breaker#1 half_open->closed",
        ]
    );
    assert_one_request(&events, probe.correlation_id());
    let after = client.get(&url).send().await.expect("closed again");
    assert_eq!(after.status_code(), 200);
    assert_eq!(
        describe_all(&rec.take()),
        ["request#1 GET", "response#1 200"]
    );
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_breaker_probe_fail", hosts(cap = 8))]
struct ProbeFailAdapter {}

#[tokio::test]
async fn a_failed_probe_reopens_the_breaker_and_retries_stop_when_it_opens() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("dead.test"), Script::always(Step::status(502)));
    let rec = record::<ProbeFailAdapter>();
    let client = AdapterClient::builder::<ProbeFailAdapter>()
        .resolve("dead.test", sim.addr())
        .retry(
            RetryPolicy::default()
                .max_attempts(5)
                .base_delay(Duration::from_millis(1)),
        )
        .breaker(
            BreakerPolicy::default()
                .consecutive_failures(2)
                .open_timeout(Duration::from_millis(50)),
        )
        .build()
        .expect("client");
    let url = sim.url("dead.test", "/");
    let resp = client.get(&url).send().await.expect("502 comes back");
    assert_eq!(resp.attempts(), 2, "no retry once the breaker opened");
    assert_eq!(
        describe_all(&rec.take()),
        [
            "request#1 GET",
            "response#1 502",
            "retry#1 status/policy",
            "backoff#1 policy",
            "request#2 GET",
            "response#2 502",
            "breaker#2 closed->open",
        ]
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    let resp = client.get(&url).send().await.expect("502 comes back");
    assert_eq!(resp.attempts(), 1);
    assert_eq!(
        describe_all(&rec.take()),
        [
            "breaker#1 open->half_open",
            "request#1 GET",
            "response#1 502",
            "breaker#1 half_open->open",
        ]
    );
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_limiter", hosts(cap = 8))]
struct LimiterAdapter {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limiter_queues_per_host_and_hosts_are_isolated() {
    let sim = Simulator::start().await.expect("simulator");
    let rec = record::<LimiterAdapter>();
    let client = AdapterClient::builder::<LimiterAdapter>()
        .resolve("busy.test", sim.addr())
        .resolve("calm.test", sim.addr())
        .retry(RetryPolicy::none())
        .no_breaker()
        // One token at once, one more every 200 ms, two may wait.
        .rate_limit(
            RateLimit::per_second(5.0)
                .burst(1)
                .max_queue_depth(2)
                .max_wait(Duration::from_secs(2)),
        )
        .build()
        .expect("client");
    let busy = sim.url("busy.test", "/");
    let mut calls = Vec::new();
    for _ in 0..4 {
        let client = client.clone();
        let url = busy.clone();
        calls.push(tokio::spawn(async move { client.get(&url).send().await }));
        // Let each call reach the limiter before the next one arrives.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // While busy.test's queue is full, calm.test is not held up.
    let calm = client
        .get(sim.url("calm.test", "/"))
        .send()
        .await
        .expect("calm host answers");
    let calm_events = of(&rec.events(), calm.correlation_id());
    assert_eq!(
        describe_all(&calm_events),
        ["rate_limit#1 acquired", "request#1 GET", "response#1 200"]
    );
    let mut ok = 0;
    let mut rejected = 0;
    for call in calls {
        match call.await.expect("task") {
            Ok(r) => {
                assert_eq!(r.status_code(), 200);
                ok += 1;
            }
            Err(ClientError::RateLimited {
                reason: RateLimitRejection::QueueFull { max_depth: 2 },
                ..
            }) => rejected += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!((ok, rejected), (3, 1));

    // Per logical request on busy.test: the sequences, as a multiset.
    let events = rec.take();
    let mut by_request: BTreeMap<_, Vec<RecordedEvent>> = BTreeMap::new();
    for e in events
        .iter()
        .filter(|e| e.meta().host.as_str().starts_with("busy.test"))
    {
        by_request
            .entry(e.meta().correlation_id)
            .or_default()
            .push(e.clone());
    }
    let mut sequences: Vec<Vec<String>> = by_request.values().map(|v| describe_all(v)).collect();
    sequences.sort();
    assert_eq!(
        sequences,
        vec![
            vec![
                "backoff#1 limiter",
                "rate_limit#1 waited",
                "request#1 GET",
                "response#1 200"
            ],
            vec![
                "backoff#1 limiter",
                "rate_limit#1 waited",
                "request#1 GET",
                "response#1 200"
            ],
            vec!["rate_limit#1 acquired", "request#1 GET", "response#1 200"],
            vec!["rate_limit#1 rejected", "error#1 rate_limited"],
        ]
    );
    let rl: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RecordedEvent::RateLimit(r) if r.meta.host.as_str().starts_with("busy.test") => {
                Some(r.clone())
            }
            _ => None,
        })
        .collect();
    let rejected_event = rl
        .iter()
        .find(|r| r.outcome == RateLimitOutcome::Rejected)
        .expect("a rejection");
    assert_eq!(rejected_event.queue_depth, 2);
    assert!(
        rejected_event.saturation > 0.0,
        "the queue was full for a while"
    );
    let waited: Vec<Duration> = rl
        .iter()
        .filter(|r| r.outcome == RateLimitOutcome::Waited)
        .map(|r| r.wait)
        .collect();
    assert!(waited.iter().all(|w| *w > Duration::ZERO), "{waited:?}");

    let snapshot = client.limiter_snapshot();
    assert_eq!(snapshot.len(), 2);
    let busy_snap = client
        .limiter_snapshot_for(&format!("busy.test:{}", sim.port()))
        .expect("busy.test tracked");
    assert_eq!(
        (busy_snap.acquired, busy_snap.waited, busy_snap.rejected),
        (1, 2, 1)
    );
    assert_eq!((busy_snap.queue_depth, busy_snap.max_depth_seen), (0, 2));
    assert!(busy_snap.saturation > 0.0);
    let calm_snap = client
        .limiter_snapshot_for(&format!("calm.test:{}", sim.port()))
        .expect("calm.test tracked");
    assert_eq!(
        (
            calm_snap.acquired,
            calm_snap.waited,
            calm_snap.rejected,
            calm_snap.saturation
        ),
        (1, 0, 0, 0.0)
    );
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_eviction", hosts(cap = 64), budget = 11050)]
struct EvictionAdapter {}

#[tokio::test]
async fn idle_host_state_is_evicted() {
    let sim = Simulator::start().await.expect("simulator");
    let mut builder = AdapterClient::builder::<EvictionAdapter>()
        .retry(RetryPolicy::none())
        .rate_limit(RateLimit::per_second(100.0))
        // Long enough that the first hosts are not idle before the twentieth
        // is reached, even on a loaded machine.
        .idle_host_ttl(Duration::from_secs(1));
    for i in 0..21 {
        builder = builder.resolve(&format!("e{i}.test"), sim.addr());
    }
    let client = builder.build().expect("client");
    for i in 0..20 {
        let r = client
            .get(sim.url(&format!("e{i}.test"), "/"))
            .send()
            .await
            .expect("answer");
        assert_eq!(r.status_code(), 200);
    }
    assert_eq!(client.tracked_hosts(), 20);
    assert_eq!(client.limiter_snapshot().len(), 20);
    tokio::time::sleep(Duration::from_millis(1200)).await;
    // A new host arriving sweeps the idle ones.
    client
        .get(sim.url("e20.test", "/"))
        .send()
        .await
        .expect("answer");
    assert_eq!(client.tracked_hosts(), 1);
    let left: Vec<String> = client
        .limiter_snapshot()
        .into_iter()
        .map(|s| s.host)
        .collect();
    assert_eq!(left, vec![format!("e20.test:{}", sim.port())]);
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_fallback", hosts(cap = 8))]
struct FallbackAdapter {}

#[tokio::test]
async fn fallback_moves_to_the_second_source() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host("primary.test"),
        Script::always(Step::status(503)),
    );
    sim.route(Route::host("mirror.test"), Script::always(Step::ok()));
    let rec = record::<FallbackAdapter>();
    let client = AdapterClient::builder::<FallbackAdapter>()
        .resolve("primary.test", sim.addr())
        .resolve("mirror.test", sim.addr())
        .retry(RetryPolicy::none())
        .no_breaker()
        .build()
        .expect("client");
    let primary = sim.url("primary.test", "/doc");
    let mirror = sim.url("mirror.test", "/doc");
    let hit = client
        .fallback()
        .source("primary", |id| {
            client.get(&primary).correlation_id(id).send()
        })
        .source("mirror", |id| client.get(&mirror).correlation_id(id).send())
        .run()
        .await
        .expect("the mirror answers");
    assert_eq!(
        (hit.tier, hit.source, hit.response.status_code()),
        (1, "mirror", 200)
    );
    let events = rec.take();
    assert_eq!(
        describe_all(&events),
        [
            "request#1 GET",
            "response#1 503",
            "fallback 0 primary failure",
            "request#1 GET",
            "response#1 200",
            "fallback 1 mirror success",
        ]
    );
    assert_one_request(&events, hit.response.correlation_id());
    let reasons: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RecordedEvent::Fallback(f) => Some(f.reason),
            _ => None,
        })
        .collect();
    assert_eq!(reasons, vec![Some("server_error"), None]);

    // Every source failing gives every failure, in order.
    let err = client
        .fallback()
        .source("primary", |id| {
            client.get(&primary).correlation_id(id).send()
        })
        .run()
        .await
        .expect_err("nothing answers");
    match err {
        ClientError::FallbackExhausted(all) => {
            assert_eq!(all.len(), 1);
            assert_eq!(all[0].0, "primary");
        }
        other => panic!("unexpected {other:?}"),
    }
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_limits_validated", hosts(cap = 4))]
struct LimitsAdapter {}

/// Every rate limit and breaker policy is either refused by `build` with a
/// clear error, or works: no request can panic on what passed (a burst of
/// 20 million at one token per 1000 s used to overflow inside a request).
#[tokio::test]
async fn rate_limits_and_breakers_that_pass_validation_never_panic() {
    let refused = [
        RateLimit::per_second(0.001).burst(20_000_000),
        RateLimit::per_second(1e-300),
        RateLimit::per_second(0.0001).max_queue_depth(u32::MAX),
    ];
    for limit in refused {
        let err = AdapterClient::builder::<LimitsAdapter>()
            .rate_limit(limit.clone())
            .build()
            .expect_err("refused at build");
        assert!(
            matches!(&err, ClientError::InvalidConfig(m) if m.contains("more than a year")),
            "{limit:?}: {err}"
        );
    }
    let nan = AdapterClient::builder::<LimitsAdapter>()
        .breaker(BreakerPolicy::default().failure_ratio(f64::NAN, 5, Duration::from_secs(1)))
        .build()
        .expect_err("NaN ratio refused");
    assert!(nan.to_string().contains("failure ratio"), "{nan}");

    // Extreme values that pass: a nanosecond refill with the largest burst
    // and queue, a year-long wait, a ratio of exactly 1.
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("extreme.test"), Script::always(Step::ok()));
    let client = AdapterClient::builder::<LimitsAdapter>()
        .resolve("extreme.test", sim.addr())
        .rate_limit(
            RateLimit::per_second(1e9)
                .burst(u32::MAX)
                .max_queue_depth(u32::MAX)
                .max_wait(Duration::MAX),
        )
        .breaker(
            BreakerPolicy::default()
                .failure_ratio(1.0, 1, Duration::from_nanos(1))
                .open_timeout(Duration::MAX),
        )
        .build()
        .expect("valid extremes build");
    for _ in 0..3 {
        let r = client
            .get(sim.url("extreme.test", "/"))
            .send()
            .await
            .expect("served");
        assert_eq!(r.status(), 200);
    }
}

#[instrumented_adapter(name = "client_error_ids", hosts(cap = 4))]
struct ErrorIdsAdapter {}

/// A `ClientError` names its logical request: the correlation id its events
/// (and spans and logs) carry.
#[tokio::test]
async fn client_errors_carry_the_correlation_id_of_their_events() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("fails.test"), Script::always(Step::status(500)));
    let rec = record::<ErrorIdsAdapter>();
    let client = AdapterClient::builder::<ErrorIdsAdapter>()
        .resolve("fails.test", sim.addr())
        .resolve("nowhere.test", "127.0.0.1:9".parse().expect("addr"))
        .retry(RetryPolicy::none())
        .breaker(BreakerPolicy::default().consecutive_failures(1))
        .build()
        .expect("client");
    // A connection refused: a transport error.
    let err = client
        .get("http://nowhere.test:9/")
        .send()
        .await
        .expect_err("nothing listens");
    let id = err.correlation_id().expect("a request's error has an id");
    let events = rec.take();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e.meta().correlation_id == id),
        "{events:?}"
    );

    // The breaker opens on a 500; the next call is refused with its own id.
    let _ = client.get(sim.url("fails.test", "/")).send().await;
    rec.take();
    let refused = client
        .get(sim.url("fails.test", "/"))
        .send()
        .await
        .expect_err("breaker open");
    assert!(matches!(refused, ClientError::CircuitOpen { .. }));
    let id = refused.correlation_id().expect("id");
    let events = rec.take();
    assert!(!events.is_empty());
    assert!(
        events.iter().all(|e| e.meta().correlation_id == id),
        "{events:?}"
    );
}

#[instrumented_adapter(name = "client_redirects", hosts(cap = 8))]
struct RedirectAdapter {}

/// Redirects never carry a secret to another host: a cross-origin redirect
/// is not followed (its 3xx is the response), a same-origin one is, and no
/// `Referer` (which would carry the URL's secret query values) is ever sent.
#[tokio::test]
async fn redirects_never_carry_secrets_to_another_host() {
    let sim = Simulator::start().await.expect("simulator");
    let port = sim.port();
    sim.route(
        Route::host("origin.test").path("/away"),
        Script::always(
            Step::status(302).header("location", &format!("http://elsewhere.test:{port}/land")),
        ),
    );
    sim.route(
        Route::host("origin.test").path("/here"),
        Script::always(Step::status(301).header("location", "/landed?sig=s3cret")),
    );
    sim.route(
        Route::host("origin.test").path("/landed"),
        Script::always(Step::ok()),
    );
    sim.route(Route::host("elsewhere.test"), Script::always(Step::ok()));
    let rec = record::<RedirectAdapter>();
    let client = AdapterClient::builder::<RedirectAdapter>()
        .resolve("origin.test", sim.addr())
        .resolve("elsewhere.test", sim.addr())
        .build()
        .expect("client");

    let away = client
        .get(format!("{}?sig=s3cret", sim.url("origin.test", "/away")))
        .header("x-api-key", "k3y")
        .header("authorization", "Bearer t0ken")
        .send()
        .await
        .expect("the 3xx comes back");
    assert_eq!(away.status(), 302);
    assert_eq!(
        sim.hits("elsewhere.test", None),
        0,
        "never followed to another host"
    );

    let here = client
        .get(format!("{}?sig=s3cret", sim.url("origin.test", "/here")))
        .header("x-api-key", "k3y")
        .send()
        .await
        .expect("followed");
    assert_eq!(here.status(), 200);
    let landed: Vec<_> = sim
        .requests()
        .into_iter()
        .filter(|r| r.path == "/landed")
        .collect();
    assert_eq!(landed.len(), 1);
    assert_eq!(landed[0].header("referer"), None, "no Referer, ever");
    // The hop is an event of its request, its target redacted.
    let events = rec.take();
    let hops: Vec<_> = events
        .iter()
        .filter_map(|e| match e {
            RecordedEvent::Redirect(r) => Some(r),
            _ => None,
        })
        .collect();
    assert_eq!(hops.len(), 1, "{:?}", describe_all(&events));
    assert_eq!(hops[0].status, 301);
    assert_eq!(hops[0].hop, 1);
    assert_eq!(hops[0].meta.correlation_id, here.correlation_id());
    assert!(
        hops[0].location.ends_with("/landed?sig=REDACTED"),
        "{}",
        hops[0].location
    );

    // 0 redirects: even a same-origin 3xx is returned.
    let none = AdapterClient::builder::<RedirectAdapter>()
        .resolve("origin.test", sim.addr())
        .max_redirects(0)
        .build()
        .expect("client");
    let r = none
        .get(sim.url("origin.test", "/here"))
        .send()
        .await
        .expect("3xx");
    assert_eq!(r.status(), 301);
}
