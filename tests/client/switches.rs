//! Features a client switches off, and the attempt timeout wherever it is
//! applied (on the client's own pool or per request).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use telemetry_runtime::client::{ClientPolicies, HostOverride, RetryPolicy};
use telemetry_runtime::events::ErrorType;
use telemetry_runtime::{instrumented_adapter, AdapterClient};
use telemetry_sim::{Route, Script, Simulator, Step};
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
