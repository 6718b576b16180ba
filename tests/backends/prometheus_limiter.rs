//! The Prometheus sink's limiter families: zero waits are counted in the
//! sink's own atomics and folded into `http_limiter_wait_seconds` before each
//! render, and the gauges are set only on a change. What a render shows must
//! be exactly what recording every answer at once would show.

use std::time::Duration;

use telemetry_runtime::backends::prometheus::{host_state, render, PrometheusSink};
use telemetry_runtime::client::RateLimit;
use telemetry_runtime::events::*;
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::sample;

#[instrumented_adapter(name = "prom_limiter", hosts(cap = 8))]
struct Limited {}

#[instrumented_adapter(name = "prom_limiter_client", hosts(cap = 8))]
struct LimitedClient {}

fn limiter_answer(host: &str, wait: Duration, queue_depth: u32, saturation: f64) {
    let tel = Limited::telemetry();
    let host = tel.hosts().intern(host);
    let meta = EventMeta::new(tel, host, CorrelationId::next(), 1);
    tel.emit(EventRef::RateLimit(&RateLimitEvent {
        meta,
        outcome: if wait.is_zero() {
            RateLimitOutcome::Acquired
        } else {
            RateLimitOutcome::Waited
        },
        wait,
        queue_depth,
        saturation,
    }));
}

fn setup() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        Limited::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    });
}

/// The value of the sample line `series`, or a panic showing the exposition.
/// `[count, sum]` of `http_limiter_wait_seconds`, then the queue-depth and
/// saturation gauges, for the label set `l`.
fn limiter_series(text: &str, l: &str) -> [f64; 4] {
    [
        "http_limiter_wait_seconds_count",
        "http_limiter_wait_seconds_sum",
        "http_limiter_queue_depth",
        "http_limiter_saturation_ratio",
    ]
    .map(|family| value(text, &format!("{family}{{{l}}}")))
}

fn value(text: &str, series: &str) -> f64 {
    match sample(text, series) {
        Some(v) => v,
        None => panic!("no sample {series} in:\n{text}"),
    }
}

#[test]
fn immediate_acquisitions_are_all_counted_with_a_zero_sum() {
    setup();
    const N: u32 = 1000;
    for _ in 0..N {
        limiter_answer("zero.example.com", Duration::ZERO, 0, 0.0);
    }
    let l = r#"adapter="prom_limiter",host="zero.example.com""#;
    let text = render();
    let [count, sum, depth, saturation] = limiter_series(&text, l);
    assert_eq!(
        [count, sum, depth, saturation],
        [f64::from(N), 0.0, 0.0, 0.0]
    );
    // Every sample is 0: in the first bucket already.
    assert_eq!(
        value(
            &text,
            &format!(r#"http_limiter_wait_seconds_bucket{{{l},le="0.005"}}"#)
        ),
        f64::from(N)
    );
    // A second render does not count the same answers again.
    let again = render();
    assert_eq!(
        value(&again, &format!("http_limiter_wait_seconds_count{{{l}}}")),
        f64::from(N)
    );

    // A real wait still lands in its bucket, next to the zeros.
    limiter_answer("zero.example.com", Duration::from_millis(300), 2, 0.5);
    limiter_answer("zero.example.com", Duration::ZERO, 2, 0.5);
    let text = render();
    let bucket = |le: &str| {
        value(
            &text,
            &format!(r#"http_limiter_wait_seconds_bucket{{{l},le="{le}"}}"#),
        )
    };
    assert_eq!(bucket("0.25"), f64::from(N + 1), "0.3 s is above 0.25");
    assert_eq!(bucket("0.5"), f64::from(N + 2), "0.3 s is within 0.5");
    assert_eq!(bucket("+Inf"), f64::from(N + 2));
    let [count, sum, depth, saturation] = limiter_series(&text, l);
    assert_eq!(count, f64::from(N + 2));
    assert!((sum - 0.3).abs() < 1e-9, "sum {sum}");
    assert_eq!([depth, saturation], [2.0, 0.5]);
}

#[test]
fn the_first_immediate_acquisition_creates_the_series() {
    setup();
    limiter_answer("first.example.com", Duration::ZERO, 0, 0.0);
    let l = r#"adapter="prom_limiter",host="first.example.com""#;
    let text = render();
    assert_eq!(limiter_series(&text, l), [1.0, 0.0, 0.0, 0.0]);
}

#[test]
fn gauges_follow_every_change_and_only_the_last_value_shows() {
    setup();
    let l = r#"adapter="prom_limiter",host="gauges.example.com""#;
    let gauges = || {
        let text = render();
        (
            value(&text, &format!("http_limiter_queue_depth{{{l}}}")),
            value(&text, &format!("http_limiter_saturation_ratio{{{l}}}")),
        )
    };
    limiter_answer("gauges.example.com", Duration::from_millis(5), 4, 0.75);
    assert_eq!(gauges(), (4.0, 0.75));
    // Unchanged values, then back to idle, then up again between renders.
    limiter_answer("gauges.example.com", Duration::ZERO, 4, 0.75);
    assert_eq!(gauges(), (4.0, 0.75));
    limiter_answer("gauges.example.com", Duration::ZERO, 0, 0.0);
    assert_eq!(gauges(), (0.0, 0.0));
    limiter_answer("gauges.example.com", Duration::ZERO, 1, 0.1);
    limiter_answer("gauges.example.com", Duration::ZERO, 7, 1.5);
    assert_eq!(gauges(), (7.0, 1.0), "saturation is clamped to 1");
    let host = Limited::telemetry().hosts().intern("gauges.example.com");
    let state = host_state(Limited::telemetry(), host).expect("limiter state");
    assert_eq!(state.limiter_queue_depth, 7);
    assert_eq!(state.limiter_saturation, 1.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_through_the_client_shows_one_zero_wait() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("once.test"), Script::always(Step::ok()));
    LimitedClient::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    let client = AdapterClient::builder::<LimitedClient>()
        .resolve("once.test", sim.addr())
        .rate_limit(RateLimit::per_second(100.0).burst(10))
        .build()
        .expect("client");
    let response = client
        .get(sim.url("once.test", "/works"))
        .send()
        .await
        .expect("the simulator answers");
    assert_eq!(response.status_code(), 200);
    let text = render();
    let wait_count = text
        .lines()
        .find(|l| {
            l.starts_with("http_limiter_wait_seconds_count{")
                && l.contains(r#"adapter="prom_limiter_client""#)
                && l.contains("once.test")
        })
        .unwrap_or_else(|| panic!("no limiter wait count for once.test in:\n{text}"));
    assert!(wait_count.ends_with(" 1"), "{wait_count}");
    let wait_sum = text
        .lines()
        .find(|l| {
            l.starts_with("http_limiter_wait_seconds_sum{")
                && l.contains(r#"adapter="prom_limiter_client""#)
                && l.contains("once.test")
        })
        .unwrap_or_else(|| panic!("no limiter wait sum for once.test in:\n{text}"));
    assert!(wait_sum.ends_with(" 0"), "{wait_sum}");
}
