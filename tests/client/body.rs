//! Response bodies observed (issue 14): the size is the bytes read, so a
//! chunked body without `Content-Length` counts; a body cut midway is a
//! `BodyEvent` with its `error.type` and the bytes that arrived, and the
//! body families record both.

use telemetry_runtime::backends::prometheus::{render, PrometheusSink};
use telemetry_runtime::client::RetryPolicy;
use telemetry_runtime::sink::{FanoutSink, RecordedEvent, RecordingSink};
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::describe_all;

#[instrumented_adapter(name = "client_body", hosts(cap = 4))]
struct Bodies {}

fn bodies(events: &[RecordedEvent]) -> Vec<(u64, Option<u64>, Option<String>)> {
    events
        .iter()
        .filter_map(|e| match e {
            RecordedEvent::Body(b) => Some((
                b.size,
                b.content_length,
                b.error_type.map(|t| t.as_str().to_owned()),
            )),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn body_size_is_the_bytes_read_and_a_cut_body_is_an_event() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host("body.test").path("/chunked"),
        Script::always(Step::chunked(8, 1000)),
    );
    sim.route(
        Route::host("body.test").path("/sized"),
        Script::always(Step::large_body(3000)),
    );
    sim.route(
        Route::host("body.test").path("/cut"),
        Script::always(Step::body_fails_after(3, 700)),
    );
    let rec = RecordingSink::new();
    Bodies::telemetry().set_sink(Some(Box::new(
        FanoutSink::new()
            .with(rec.clone())
            .with(PrometheusSink::new()),
    )));
    let client = AdapterClient::builder::<Bodies>()
        .resolve("body.test", sim.addr())
        .retry(RetryPolicy::none())
        .build()
        .expect("client");

    // Chunked, no Content-Length: the size is what was read.
    let r = client
        .get(sim.url("body.test", "/chunked"))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.content_length(), None);
    assert_eq!(r.bytes().await.expect("body").len(), 8000);
    let events = rec.take();
    assert_eq!(
        describe_all(&events),
        ["request#1 GET", "response#1 200", "body#1 complete"]
    );
    assert_eq!(bodies(&events), [(8000, None, None)]);

    // Streamed chunk by chunk with `chunk()`: counted all the same.
    let mut r = client
        .get(sim.url("body.test", "/chunked"))
        .send()
        .await
        .expect("answer");
    let mut n = 0;
    while let Some(c) = r.chunk().await.expect("chunk") {
        n += c.len();
    }
    assert_eq!(n, 8000);
    assert_eq!(bodies(&rec.take()), [(8000, None, None)]);

    // Sized: bytes read and Content-Length agree.
    let text = client
        .get(sim.url("body.test", "/sized"))
        .send()
        .await
        .expect("answer")
        .text()
        .await
        .expect("text");
    assert_eq!(text.len(), 3000);
    assert_eq!(bodies(&rec.take()), [(3000, Some(3000), None)]);

    // Cut midway: the error, and the bytes that arrived before it.
    let r = client
        .get(sim.url("body.test", "/cut"))
        .send()
        .await
        .expect("headers arrive");
    assert!(r.bytes().await.is_err(), "the body fails");
    let events = rec.take();
    let got = bodies(&events);
    assert_eq!(got.len(), 1, "{:?}", describe_all(&events));
    assert_eq!(got[0].0, 2100, "the bytes read before the cut");
    assert_eq!(got[0].1, None);
    assert!(got[0].2.is_some(), "an error type");
    let failed = got[0].2.clone().unwrap_or_default();

    let text = render();
    let a = format!(r#"adapter="client_body",host="body.test:{}""#, sim.port());
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(name) && l.contains(&a))
            .map(|l| l.rsplit(' ').next().unwrap_or("").to_owned())
    };
    // Sizes: 8000 + 8000 (read, chunked) + 3000 (Content-Length) + 2100 (read, cut).
    assert_eq!(
        line("http_response_size_bytes_sum").as_deref(),
        Some("21100")
    );
    assert_eq!(
        line("http_response_body_duration_seconds_count").as_deref(),
        Some("4")
    );
    let errors = text
        .lines()
        .find(|l| l.starts_with("http_response_body_errors_total") && l.contains(&a))
        .unwrap_or_else(|| panic!("body errors in {text}"));
    assert!(
        errors.contains(&format!(r#"error_type="{failed}""#)),
        "{errors}"
    );
    assert!(errors.ends_with(" 1"), "{errors}");
    sim.shutdown().await;
}

#[tokio::test]
async fn no_sink_no_body_watch() {
    // Without a sink the body is read as before (nothing to observe).
    #[instrumented_adapter(name = "client_body_quiet", hosts(cap = 4))]
    struct Quiet {}
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host("quiet.test"),
        Script::always(Step::chunked(2, 10)),
    );
    let client = AdapterClient::builder::<Quiet>()
        .resolve("quiet.test", sim.addr())
        .build()
        .expect("client");
    let body = client
        .get(sim.url("quiet.test", "/"))
        .send()
        .await
        .expect("answer")
        .bytes()
        .await
        .expect("body");
    assert_eq!(body.len(), 20);
    assert_eq!(Quiet::telemetry().manifest().name, "client_body_quiet");
    sim.shutdown().await;
}
