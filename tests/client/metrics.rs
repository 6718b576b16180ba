//! The metric catalogue comes out of a real request cycle: the default
//! simulator scenario (healthy, slow, flaky, throttled, down, resetting and
//! large-body hosts) driven through the client, with the Prometheus sink and
//! the scenario's per-host summary listening.

use std::time::Duration;

use telemetry_runtime::backends::prometheus::{render, PrometheusSink};
use telemetry_runtime::client::{BreakerPolicy, BreakerState, RateLimit, RetryPolicy};
use telemetry_runtime::sink::FanoutSink;
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::scenario::{Scenario, SummarySink};
use telemetry_sim::{Route, Script, Simulator, Step};

#[instrumented_adapter(name = "client_catalogue", hosts(cap = 16))]
struct CatalogueAdapter {}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_catalogue_comes_out_of_a_real_request_cycle() {
    let sim = Simulator::start().await.expect("simulator");
    let scenario = Scenario::default_scenario();
    scenario.install(&sim);
    sim.route(Route::host("mirror.test"), Script::always(Step::ok()));
    let summary = SummarySink::new();
    CatalogueAdapter::telemetry().set_sink(Some(Box::new(
        FanoutSink::new()
            .with(PrometheusSink::new())
            .with(summary.clone()),
    )));
    let client = scenario
        .client_builder::<CatalogueAdapter>(&sim)
        .resolve("mirror.test", sim.addr())
        .build()
        .expect("client");
    let (ok, failed) = scenario.drive(&client, &sim, 12).await;
    assert!(ok > 0 && failed > 0, "ok {ok}, failed {failed}");
    // A fallback from the down host to a mirror.
    let down = sim.url("api-e.test", "/down");
    let mirror = sim.url("mirror.test", "/down");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let hit = client
        .fallback()
        .source("primary", |id| client.get(&down).correlation_id(id).send())
        .source("mirror", |id| client.get(&mirror).correlation_id(id).send())
        .run()
        .await
        .expect("the mirror answers");
    assert_eq!(hit.source, "mirror");

    let text = render();
    let port = sim.port();
    let a = |host: &str| format!(r#"adapter="client_catalogue",host="{host}:{port}""#);
    for (family, labels) in [
        (
            "http_requests_total",
            format!(r#"{},method="GET",status="200""#, a("api-a.test")),
        ),
        (
            "http_requests_total",
            format!(r#"{},method="GET",status="503""#, a("api-c.test")),
        ),
        (
            "http_requests_total",
            format!(
                r#"{},method="GET",status="connection_reset""#,
                a("api-f.test")
            ),
        ),
        // Refused before the wire: a rejection, not an attempt.
        (
            "http_client_rejections_total",
            format!(r#"{},reason="circuit_open""#, a("api-e.test")),
        ),
        (
            "http_request_duration_seconds_bucket",
            format!(r#"{},method="GET""#, a("api-b.test")),
        ),
        ("http_response_size_bytes_sum", a("api-g.test")),
        ("http_in_flight_requests", a("api-a.test")),
        (
            "http_retries_total",
            format!(r#"{},reason="status""#, a("api-c.test")),
        ),
        (
            "http_retries_total",
            format!(r#"{},reason="connection_reset""#, a("api-f.test")),
        ),
        (
            "http_backoff_duration_seconds_count",
            format!(r#"{},source="policy""#, a("api-c.test")),
        ),
        (
            "http_backoff_duration_seconds_count",
            format!(r#"{},source="limiter""#, a("api-d.test")),
        ),
        ("http_limiter_queue_depth", a("api-d.test")),
        ("http_limiter_wait_seconds_count", a("api-d.test")),
        ("http_limiter_saturation_ratio", a("api-d.test")),
        ("http_circuit_breaker_state", a("api-e.test")),
        (
            "http_circuit_breaker_transitions_total",
            format!(r#"{},from="closed",to="open""#, a("api-e.test")),
        ),
        (
            "http_fallback_attempts_total",
            r#"adapter="client_catalogue",source="mirror",outcome="success""#.to_owned(),
        ),
        (
            "http_fallback_attempts_total",
            r#"adapter="client_catalogue",source="primary""#.to_owned(),
        ),
    ] {
        let found = text
            .lines()
            .any(|l| l.starts_with(&format!("{family}{{")) && l.contains(&labels));
        assert!(found, "no {family} with {labels} in:\n{text}");
    }

    let s = summary.summaries();
    let host = |h: &str| s.get(&format!("{h}:{port}")).cloned().unwrap_or_default();
    assert_eq!(
        host("api-a.test").statuses.keys().collect::<Vec<_>>(),
        ["200"]
    );
    assert!(host("api-c.test").retries > 0);
    assert!(host("api-d.test").limiter_waits > 0);
    assert!(host("api-e.test").statuses.contains_key("circuit_open"));
    assert!(host("api-e.test").breaker_transitions > 0);
    assert!(host("api-f.test").statuses.contains_key("connection_reset"));
    let table = summary.render(&client);
    assert!(table.lines().count() >= 8, "{table}");
    assert!(
        client
            .breaker_states()
            .iter()
            .any(|(h, st)| h.starts_with("api-e.test") && *st != BreakerState::Closed),
        "{:?}",
        client.breaker_states()
    );
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_scrape_state", hosts(cap = 8))]
struct ScrapeStateAdapter {}

fn gauge(text: &str, family: &str, host: &str) -> Option<f64> {
    telemetry_tests::support::sample(
        text,
        &format!(r#"{family}{{adapter="client_scrape_state",host="{host}"}}"#),
    )
}

/// Gauges show the state at scrape time, not the value at the last event:
/// after traffic stops the limiter's queue depth reads 0 and its saturation
/// decays over its window, and an open breaker past its open interval reads
/// half-open (ready to probe) without any new call.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limiter_and_breaker_gauges_show_the_state_at_scrape_time() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host("queued.test"),
        Script::always(Step::ok().delay(Duration::from_millis(20))),
    );
    sim.route(
        Route::host("broken.test"),
        Script::always(Step::status(500)),
    );
    ScrapeStateAdapter::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    let client = AdapterClient::builder::<ScrapeStateAdapter>()
        .resolve("queued.test", sim.addr())
        .resolve("broken.test", sim.addr())
        .retry(RetryPolicy::none())
        .host_rate_limit(
            "queued.test",
            RateLimit::per_second(20.0)
                .burst(1)
                .max_queue_depth(2)
                .max_wait(Duration::from_secs(5))
                .saturation_window(Duration::from_millis(400)),
        )
        .breaker(
            BreakerPolicy::default()
                .consecutive_failures(1)
                .open_timeout(Duration::from_millis(300)),
        )
        .build()
        .expect("client");
    let queued = format!("queued.test:{}", sim.port());
    let broken = format!("broken.test:{}", sim.port());

    // Six requests at once on a limiter that queues two: the queue fills.
    let url = sim.url("queued.test", "/");
    let calls: Vec<_> = (0..6).map(|_| client.get(&url).send()).collect();
    let _ = futures_join_all(calls).await;
    let _ = client.get(sim.url("broken.test", "/")).send().await;

    let during = render();
    assert_eq!(
        gauge(&during, "http_circuit_breaker_state", &broken),
        Some(1.0),
        "open right after the failure:\n{during}"
    );
    assert!(
        gauge(&during, "http_limiter_saturation_ratio", &queued).is_some_and(|s| s > 0.0),
        "the queue was full for a while:\n{during}"
    );

    // No traffic for longer than the saturation window and the open interval.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let after = render();
    assert_eq!(
        gauge(&after, "http_limiter_queue_depth", &queued),
        Some(0.0),
        "{after}"
    );
    assert_eq!(
        gauge(&after, "http_limiter_saturation_ratio", &queued),
        Some(0.0),
        "saturation decays once the window has passed:\n{after}"
    );
    assert_eq!(
        gauge(&after, "http_circuit_breaker_state", &broken),
        Some(2.0),
        "past its open interval the breaker is ready to probe:\n{after}"
    );
    drop(client);
}

async fn futures_join_all<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        if let Ok(v) = h.await {
            out.push(v);
        }
    }
    out
}

#[instrumented_adapter(name = "client_rejections", hosts(cap = 8))]
struct RejectionsAdapter {}

/// Calls refused before the wire are not attempts: an open breaker that
/// rejects N calls leaves the request counter and the duration histogram at
/// the real attempts, and the N refusals are in their own family.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_before_the_wire_are_not_attempts() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("down.test"), Script::always(Step::status(503)));
    RejectionsAdapter::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    let client = AdapterClient::builder::<RejectionsAdapter>()
        .resolve("down.test", sim.addr())
        .retry(RetryPolicy::none())
        .breaker(
            BreakerPolicy::default()
                .consecutive_failures(2)
                .open_timeout(Duration::from_secs(600)),
        )
        .build()
        .expect("client");
    let url = sim.url("down.test", "/");
    for _ in 0..2 {
        let r = client.get(&url).send().await.expect("503 comes back");
        assert_eq!(r.status(), 503);
    }
    const REFUSED: usize = 7;
    for _ in 0..REFUSED {
        let err = client.get(&url).send().await.expect_err("breaker open");
        assert!(err.to_string().contains("open"), "{err}");
    }
    assert_eq!(sim.hits("down.test", None), 2, "two wire attempts only");

    let host = format!("down.test:{}", sim.port());
    let text = render();
    let series = |s: &str| telemetry_tests::support::sample(&text, s);
    assert_eq!(
        series(&format!(
            r#"http_request_duration_seconds_count{{adapter="client_rejections",host="{host}",method="GET"}}"#
        )),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        series(&format!(
            r#"http_requests_total{{adapter="client_rejections",host="{host}",method="GET",status="503"}}"#
        )),
        Some(2.0)
    );
    assert!(
        !text
            .lines()
            .any(|l| l.contains(r#"adapter="client_rejections""#)
                && l.contains("circuit_open")
                && !l.starts_with("http_client_rejections_total")),
        "no refusal is counted as a request:\n{text}"
    );
    assert_eq!(
        series(&format!(
            r#"http_client_rejections_total{{adapter="client_rejections",host="{host}",reason="circuit_open"}}"#
        )),
        Some(REFUSED as f64),
        "{text}"
    );
}
