//! The tracing backend: JSON logs through tracing-subscriber carry the
//! correlation id, and `TracingSink` logs every lifecycle event of a real
//! client request as a structured event with the OpenTelemetry field names.

use telemetry_runtime::backends::tracing::{json_subscriber, TracingSink, EVENT_TARGET};
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
use telemetry_tests::support::{self, Captured};

#[instrumented_adapter(name = "tracing_adapter", hosts(cap = 8))]
struct Traced {}

#[tokio::test(flavor = "current_thread")]
async fn json_logs_carry_the_correlation_id_and_every_event() {
    // Asserts on what its thread-local subscriber saw of the runtime's
    // callsites: alone in its process (see `support::process`).
    telemetry_tests::run_alone!(json_logs_carry_the_correlation_id_and_every_event);
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = json_subscriber("info,telemetry_runtime::events=debug", move || {
        writer.clone()
    });
    let _guard = tracing::subscriber::set_default(subscriber);
    Traced::telemetry().set_sink(Some(Box::new(TracingSink::new())));

    let (sim, client) = support::flaky_host::<Traced>("logs.test").await;
    let response = client
        .get(sim.url("logs.test", "/works/1"))
        .send()
        .await
        .expect("retried to success");
    let cid = response.correlation_id().to_string();

    let lines = out.lines();
    let events: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["target"] == EVENT_TARGET && l["correlation_id"] == cid.as_str())
        .collect();
    let kinds: Vec<&str> = events.iter().filter_map(|l| l["event"].as_str()).collect();
    // The limiter may or may not log an acquisition, depending on the
    // client's configuration; the request's own sequence is fixed.
    let core: Vec<&str> = kinds
        .iter()
        .copied()
        .filter(|k| *k != "rate_limit")
        .collect();
    assert_eq!(
        core,
        ["request", "response", "retry", "backoff", "request", "response"],
        "{lines:#?}"
    );
    for l in &events {
        assert_eq!(l["adapter"], "tracing_adapter");
        assert!(l["timestamp"].is_string() && l["level"].is_string(), "{l}");
        let host = l["server.address"].as_str().expect("server.address");
        assert!(host.starts_with("logs.test"), "{l}");
        // Logged inside the client's spans: the enclosing span carries the
        // same correlation id.
        let spans = l["spans"]
            .as_array()
            .expect("logged inside the client's spans");
        assert!(!spans.is_empty(), "{l}");
        for s in spans {
            assert_eq!(s["correlation_id"], cid.as_str(), "{l}");
        }
    }
    let first = events
        .iter()
        .find(|l| l["event"] == "response")
        .expect("response");
    assert_eq!(first["http.response.status_code"], 503);
    assert_eq!(first["level"], "WARN", "5xx logs at WARN");
    assert_eq!(first["http.request.method"], "GET");
    let retry = events
        .iter()
        .find(|l| l["event"] == "retry")
        .expect("retry");
    assert_eq!(retry["reason"], "status");
    let last = events
        .iter()
        .rev()
        .find(|l| l["event"] == "response")
        .expect("response");
    assert_eq!(last["http.response.status_code"], 200);
    assert_eq!(last["level"], "INFO");
    let request = events
        .iter()
        .find(|l| l["event"] == "request")
        .expect("request");
    assert_eq!(request["url.full"], sim.url("logs.test", "/works/1"));
    assert_eq!(request["http.request.resend_count"], 0);
    sim.shutdown().await;
}

#[test]
fn application_logs_inside_a_span_carry_its_fields() {
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = json_subscriber("info", move || writer.clone());
    tracing::subscriber::with_default(subscriber, || {
        let span = tracing::info_span!("http.client.request", correlation_id = "0123456789abcdef");
        let _entered = span.enter();
        tracing::info!(doi = "10.1000/182", "resolved");
    });
    let lines = out.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    let l = &lines[0];
    assert_eq!(l["message"], "resolved");
    assert_eq!(l["doi"], "10.1000/182");
    assert_eq!(l["span"]["correlation_id"], "0123456789abcdef");
    assert_eq!(l["span"]["name"], "http.client.request");
}
