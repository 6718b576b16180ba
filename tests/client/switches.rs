//! Features a client switches off, and the attempt timeout wherever it is
//! applied (on the client's own pool or per request).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use telemetry_runtime::client::{ClientPolicies, HostOverride, RetryPolicy};
use telemetry_runtime::events::ErrorType;
use telemetry_runtime::{instrumented_adapter, AdapterClient};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::fs::{free_port, wait_for};
use telemetry_tests::support::{describe_all, record};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::Layer;

/// Counts the client's spans as they open.
#[derive(Clone, Default)]
struct SpanCount(Arc<AtomicUsize>);

impl<S: tracing::Subscriber> Layer<S> for SpanCount {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: Context<'_, S>,
    ) {
        if attrs.metadata().name().starts_with("http.client.") {
            self.0.fetch_add(1, Ordering::Relaxed);
        }
    }
}

#[instrumented_adapter(name = "client_switch_spans", hosts(cap = 4))]
struct SpanSwitch {}

#[tokio::test(flavor = "current_thread")]
async fn spans_off_opens_no_span_and_keeps_every_event() {
    // Asserts on what its thread-local subscriber saw of the runtime's
    // callsites: alone in its process (see `support::process`).
    telemetry_tests::run_alone!(spans_off_opens_no_span_and_keeps_every_event);
    let count = SpanCount::default();
    let subscriber = tracing_subscriber::registry()
        .with(count.clone())
        .with(tracing_subscriber::filter::LevelFilter::DEBUG);
    // This thread only: the current-thread runtime polls the requests here.
    let _guard = tracing::subscriber::set_default(subscriber);
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("spans.test"), Script::always(Step::ok()));
    let rec = record::<SpanSwitch>();
    let build = |spans: bool| {
        AdapterClient::builder::<SpanSwitch>()
            .resolve("spans.test", sim.addr())
            .spans(spans)
            .build()
            .expect("client")
    };
    let url = sim.url("spans.test", "/");

    build(true).get(&url).send().await.expect("200");
    assert_eq!(
        count.0.swap(0, Ordering::Relaxed),
        2,
        "spans on: the request span and one attempt span"
    );
    let with_spans = describe_all(&rec.take());

    build(false).get(&url).send().await.expect("200");
    assert_eq!(count.0.load(Ordering::Relaxed), 0, "spans off: none");
    assert_eq!(
        describe_all(&rec.take()),
        with_spans,
        "the same events either way"
    );
}

#[instrumented_adapter(name = "client_switch_timeout", hosts(cap = 4))]
struct TimeoutSwitch {}

#[tokio::test]
async fn the_attempt_timeout_holds_on_an_own_pool_per_host_and_per_request() {
    let sim = Simulator::start().await.expect("simulator");
    let slow = Step::ok().delay(Duration::from_millis(1500));
    sim.route(Route::host("slow.test"), Script::always(slow.clone()));
    sim.route(Route::host("patient.test"), Script::always(slow));
    let client = AdapterClient::builder::<TimeoutSwitch>()
        .resolve("slow.test", sim.addr())
        .resolve("patient.test", sim.addr())
        .policies(ClientPolicies::default().with_host(
            "patient.test",
            HostOverride {
                timeout: Some(Duration::from_secs(20)),
                ..HostOverride::default()
            },
        ))
        .retry(RetryPolicy::none())
        .timeout(Duration::from_millis(200))
        .build()
        .expect("client");

    // The client's timeout, carried by its own pool.
    let err = client
        .get(sim.url("slow.test", "/"))
        .send()
        .await
        .expect_err("the client's 200 ms timeout fires");
    assert_eq!(err.error_type(), ErrorType::Timeout);

    // A host whose policy allows longer: set on each of its requests.
    let ok = client
        .get(sim.url("patient.test", "/"))
        .send()
        .await
        .expect("the host's 20 s timeout lets it finish");
    assert_eq!(ok.status(), 200);

    // A request's own timeout wins over the host's.
    let err = client
        .get(sim.url("patient.test", "/"))
        .timeout(Duration::from_millis(200))
        .send()
        .await
        .expect_err("the request's 200 ms timeout fires");
    assert_eq!(err.error_type(), ErrorType::Timeout);
}

#[instrumented_adapter(name = "client_switch_direct", hosts(cap = 8))]
struct DirectPath {}

fn direct_in_flight(host: &str) -> Option<u32> {
    use telemetry_runtime::InstrumentedAdapter;
    telemetry_runtime::core::live::host_states(DirectPath::telemetry().id())?
        .into_iter()
        .find(|s| s.host == host)?
        .in_flight
}

/// With no sink or observer, no span, no breaker, no limiter and no retry
/// possible, a request takes the direct path (reqwest's own future, nothing
/// around it but a stamp at its end). What the caller sees is what the full
/// path gives: the body, one attempt, the correlation header on the wire,
/// the attempt timeout, errors classified and without the URL, the live
/// in-flight count; and a sink set later is served by the next request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_everything_off_the_direct_path_answers_as_the_full_path_does() {
    // No global observer of another test (health, a dashboard) in this
    // process, so the direct path's condition holds.
    telemetry_tests::run_alone!(with_everything_off_the_direct_path_answers_as_the_full_path_does);
    use telemetry_runtime::client::ClientError;
    use telemetry_runtime::InstrumentedAdapter;
    assert!(
        !DirectPath::telemetry().interested(),
        "no sink, no observer: the direct path's condition"
    );
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host("direct.test"),
        Script::always(Step::ok().body("direct body")),
    );
    sim.route(
        Route::host("slow.test"),
        Script::always(Step::ok().delay(Duration::from_millis(1500))),
    );
    // A port nothing listens on.
    let closed = std::net::SocketAddr::from(([127, 0, 0, 1], free_port()));
    let client = AdapterClient::builder::<DirectPath>()
        .resolve("direct.test", sim.addr())
        .resolve("slow.test", sim.addr())
        .resolve("gone.test", closed)
        .retry(RetryPolicy::none())
        .no_breaker()
        .spans(false)
        .correlation_header("x-correlation-id")
        .timeout(Duration::from_millis(300))
        .build()
        .expect("client");
    let port = sim.port();

    let resp = client
        .get(sim.url("direct.test", "/a"))
        .send()
        .await
        .expect("200");
    assert_eq!((resp.status().as_u16(), resp.attempts()), (200, 1));
    let id = resp.correlation_id();
    let ctx = resp.context();
    assert_eq!(ctx.host(), format!("direct.test:{port}"));
    assert_eq!(ctx.correlation_id(), id);
    assert_eq!(resp.text().await.expect("body"), "direct body");
    let logged = sim.requests();
    let sent = logged
        .iter()
        .find(|r| r.host == "direct.test")
        .expect("the simulator saw it");
    assert_eq!(
        sent.header("x-correlation-id"),
        Some(id.to_string().as_str())
    );

    // The client's attempt timeout, on its own pool; the error names the
    // host, not the URL (whose query holds a secret).
    let err = client
        .get(sim.url("slow.test", "/x?token=secret"))
        .send()
        .await
        .expect_err("the 300 ms timeout fires");
    let ClientError::Transport {
        host,
        kind,
        attempts,
        correlation_id,
        ..
    } = &err
    else {
        panic!("a transport error, got {err:?}")
    };
    assert_eq!(
        (host.as_str(), *kind, *attempts),
        (format!("slow.test:{port}").as_str(), ErrorType::Timeout, 1)
    );
    assert_ne!(*correlation_id, id, "a fresh id per logical request");
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains("secret"), "{shown}");
    }

    let err = client
        .get(format!("http://gone.test:{}/", closed.port()))
        .send()
        .await
        .expect_err("nothing listens");
    assert_eq!(err.error_type(), ErrorType::Connect);

    // The live in-flight count, as the dashboard reads it.
    let slow = format!("slow.test:{port}");
    let a = tokio::spawn(
        client
            .get(sim.url("slow.test", "/"))
            .timeout(Duration::from_secs(20))
            .send(),
    );
    let b = tokio::spawn(
        client
            .get(sim.url("slow.test", "/"))
            .timeout(Duration::from_secs(20))
            .send(),
    );
    wait_for(Duration::from_secs(20), "both requests in flight", || {
        let n = direct_in_flight(&slow);
        async move { (n == Some(2)).then_some(()) }
    })
    .await;
    assert_eq!(direct_in_flight(&slow), Some(2), "both are in flight");
    a.await.expect("task").expect("slow answer");
    b.await.expect("task").expect("slow answer");
    assert_eq!(
        direct_in_flight(&slow),
        Some(0),
        "finished requests are not"
    );

    // A sink set now is served by the next request, whole.
    let rec = record::<DirectPath>();
    let resp = client
        .get(sim.url("direct.test", "/b"))
        .send()
        .await
        .expect("200");
    resp.bytes().await.expect("body");
    assert_eq!(
        describe_all(&rec.take()),
        ["request#1 GET", "response#1 200", "body#1 complete"],
        "the next request takes the full path"
    );
}
