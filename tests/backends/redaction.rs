//! Redaction, proven end to end: secrets planted in URL userinfo, in a
//! sensitive query parameter, in an `Authorization` and in an `X-Api-Key`
//! header travel through the real client to the upstream (which must see
//! them) and through every backend and sink; none of the exposition, the
//! logs, the spans, the OTLP payloads or the events contains them.

use std::time::Duration;

use telemetry_runtime::backends::otlp::{OtlpConfig, OtlpPipeline};
use telemetry_runtime::backends::prometheus::PrometheusSink;
use telemetry_runtime::backends::tracing::{json_layer, TracingSink};
use telemetry_runtime::client::RetryPolicy;
use telemetry_runtime::config::ServerConfig;
use telemetry_runtime::sink::{FanoutSink, JsonLogSink, RecordedEvent, RecordingSink};
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::{free_port, otlp_receiver, Captured};
use tracing_subscriber::layer::SubscriberExt as _;

/// Every planted secret contains this marker; the assertion looks for it
/// case-insensitively, so no re-casing lets one slip through.
const MARKER: &str = "plantedsecret";
const USERINFO_PASSWORD: &str = "PlantedSecret-userinfo-7f3a";
const QUERY_SIG: &str = "PlantedSecret-sig-91c2";
const AMZ_SIGNATURE: &str = "PlantedSecret-amz-44d0";
const AUTHORIZATION: &str = "Bearer PlantedSecret-bearer-c0de";
const API_KEY: &str = "PlantedSecret-apikey-beef";

/// The userinfo as reqwest sends it: `Basic base64(user:password)`.
const USERINFO_BASIC: &str = "dXNlcjpQbGFudGVkU2VjcmV0LXVzZXJpbmZvLTdmM2E";

fn assert_clean(what: &str, text: &str) {
    let lower = text.to_ascii_lowercase();
    if let Some(at) = lower.find(MARKER).or_else(|| text.find(USERINFO_BASIC)) {
        let from = at.saturating_sub(200);
        let to = (at + 200).min(text.len());
        panic!(
            "a planted secret leaked into {what}:\n...{}...",
            text.get(from..to).unwrap_or(text)
        );
    }
}

#[instrumented_adapter(name = "redaction_adapter", hosts(cap = 8))]
struct Guarded {}

#[tokio::test(flavor = "current_thread")]
async fn no_secret_reaches_any_backend_or_sink() {
    // Asserts on what its thread-local subscriber saw of the runtime's
    // callsites: alone in its process (see `support::process`).
    telemetry_tests::run_alone!(no_secret_reaches_any_backend_or_sink);
    // Every backend and sink at once.
    let (otlp_endpoint, otlp_bodies) = otlp_receiver().await;
    let mut otlp_config = OtlpConfig::new(otlp_endpoint, "redaction-test");
    otlp_config.metrics_interval = Duration::from_secs(3600);
    let otlp = OtlpPipeline::start(otlp_config).expect("otlp");
    let logs = Captured::default();
    let log_writer = logs.clone();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_subscriber::EnvFilter::new("debug"))
        .with(json_layer(move || log_writer.clone()))
        .with(otlp.tracing_layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let recording = RecordingSink::new();
    let json_events = Captured::default();
    Guarded::telemetry().set_sink(Some(Box::new(
        FanoutSink::new()
            .with(recording.clone())
            .with(JsonLogSink::to_writer(json_events.clone()))
            .with(TracingSink::new())
            .with(PrometheusSink::new())
            .with(otlp.sink()),
    )));
    let server = telemetry_runtime::server::serve(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServerConfig::default()
    })
    .await
    .expect("metrics server");

    // Traffic: a retried request and a request that cannot connect, both
    // carrying all four secrets.
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host("redact.test"),
        Script::sequence([Step::status(503), Step::ok()]),
    );
    let closed_port = free_port();
    let client = AdapterClient::builder::<Guarded>()
        .resolve("redact.test", sim.addr())
        .resolve("dead.test", ([127, 0, 0, 1], closed_port).into())
        .retry(
            RetryPolicy::default()
                .max_attempts(2)
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(2)),
        )
        .no_breaker()
        .build()
        .expect("client");
    let with_secrets = |host: &str, port: u16| {
        format!(
            "http://user:{USERINFO_PASSWORD}@{host}:{port}/works?sig={QUERY_SIG}&X-Amz-Signature={AMZ_SIGNATURE}&rows=2"
        )
    };
    let ok = client
        .get(with_secrets("redact.test", sim.port()))
        .header("authorization", AUTHORIZATION)
        .header("x-api-key", API_KEY)
        .send()
        .await
        .expect("retried to success");
    assert_eq!(ok.status().as_u16(), 200);
    let failed = client
        .get(with_secrets("dead.test", closed_port))
        .header("authorization", AUTHORIZATION)
        .header("x-api-key", API_KEY)
        .send()
        .await;
    let failure = failed.expect_err("nothing listens on the closed port");
    assert_clean("the client's error", &format!("{failure} {failure:?}"));

    // The upstream really received the secrets: the test is not vacuous.
    let seen = sim.requests();
    let upstream = seen
        .iter()
        .find(|r| r.host == "redact.test")
        .expect("upstream hit");
    let sent = |name: &str, value: &str| {
        upstream
            .headers
            .iter()
            .any(|(n, v)| n.eq_ignore_ascii_case(name) && v == value)
    };
    assert!(
        sent("authorization", AUTHORIZATION),
        "{:?}",
        upstream.headers
    );
    assert!(sent("x-api-key", API_KEY), "{:?}", upstream.headers);
    assert!(upstream.query.as_deref().unwrap_or("").contains(QUERY_SIG));

    // Events, as recorded and as the JSON log sink wrote them.
    let events = recording.events();
    let kinds: Vec<&str> = events.iter().map(RecordedEvent::kind).collect();
    for kind in ["request", "response", "retry", "error"] {
        assert!(kinds.contains(&kind), "{kind} in {kinds:?}");
    }
    for e in &events {
        assert_clean("a recorded event", &format!("{e:?}"));
        let json = match e {
            RecordedEvent::Request(x) => serde_json::to_string(x),
            RecordedEvent::Response(x) => serde_json::to_string(x),
            RecordedEvent::Error(x) => serde_json::to_string(x),
            RecordedEvent::Retry(x) => serde_json::to_string(x),
            RecordedEvent::Backoff(x) => serde_json::to_string(x),
            RecordedEvent::RateLimit(x) => serde_json::to_string(x),
            RecordedEvent::BreakerTransition(x) => serde_json::to_string(x),
            RecordedEvent::Fallback(x) => serde_json::to_string(x),
            RecordedEvent::Redirect(x) => serde_json::to_string(x),
            RecordedEvent::Body(x) => serde_json::to_string(x),
            RecordedEvent::Custom { payload, .. } => serde_json::to_string(payload),
        }
        .expect("serialises");
        assert_clean("a serialised event", &json);
    }
    let url = events
        .iter()
        .find_map(|e| match e {
            RecordedEvent::Request(r) => Some(r.url.clone()),
            _ => None,
        })
        .expect("a request event");
    assert!(url.contains("rows=2"), "non-sensitive parts survive: {url}");
    let json_log = json_events.text();
    assert!(
        json_log.lines().count() >= events.len(),
        "the JSON sink wrote every event"
    );
    assert_clean("the JSON event log", &json_log);

    // Logs and spans through tracing.
    let log_text = logs.text();
    assert!(
        log_text.contains("\"url.full\""),
        "spans and events were logged"
    );
    assert_clean("the JSON logs", &log_text);

    // The exposition, straight and through the server.
    let exposition = telemetry_runtime::backends::prometheus::render();
    assert!(exposition.contains(r#"adapter="redaction_adapter""#));
    assert_clean("the Prometheus exposition", &exposition);
    for path in ["/metrics", "/health/detailed", "/health/ready"] {
        let body = reqwest::get(format!("{}{path}", server.base_url()))
            .await
            .expect("server answers")
            .text()
            .await
            .expect("body");
        assert_clean(path, &body);
    }

    // OTLP payloads, raw protobuf bytes (strings are stored as UTF-8).
    let o = otlp.clone();
    tokio::task::spawn_blocking(move || o.force_flush())
        .await
        .expect("join")
        .expect("flush");
    let bodies = otlp_bodies.lock().expect("lock").clone();
    assert!(
        bodies.iter().any(|r| r.path == "/v1/traces"),
        "spans were exported"
    );
    assert!(
        bodies.iter().any(|r| r.path == "/v1/metrics"),
        "metrics were exported"
    );
    for r in &bodies {
        assert_clean(&r.path, &String::from_utf8_lossy(&r.body));
    }

    let o = otlp.clone();
    let _ = tokio::task::spawn_blocking(move || o.shutdown()).await;
    server.shutdown().await.expect("server stops");
    sim.shutdown().await;
}
