//! OpenTelemetry export to a collector endpoint.
//!
//! Spans (one per logical request, one per wire attempt) and the metric
//! catalogue go over OTLP/HTTP (protobuf) to `OTLP_ENDPOINT` (for example an
//! `otelcol` on `http://127.0.0.1:4318`), or, without it, to a tiny
//! in-process receiver that counts what arrives. Each wire attempt also
//! carries `traceparent` for its span: the simulator logs it.
//!
//! Run: `cargo run -p telemetry-examples --example otlp_export`
//! (or `OTLP_ENDPOINT=http://127.0.0.1:4318 cargo run ...` with a collector)

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use telemetry_runtime::backends::otlp::{OtlpConfig, OtlpPipeline};
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use tracing_subscriber::layer::SubscriberExt as _;

#[instrumented_adapter(name = "exported", hosts(cap = 4))]
struct Exported {}

/// A stand-in collector: answers every export with an empty OTLP response
/// and counts the requests per signal path.
async fn receiver() -> std::io::Result<(String, Arc<[AtomicUsize; 2]>)> {
    let counts: Arc<[AtomicUsize; 2]> = Arc::new([AtomicUsize::new(0), AtomicUsize::new(0)]);
    let (t, m) = (counts.clone(), counts.clone());
    let app = axum::Router::new()
        .route(
            "/v1/traces",
            axum::routing::post(move || async move {
                t[0].fetch_add(1, Ordering::SeqCst);
                Vec::<u8>::new()
            }),
        )
        .route(
            "/v1/metrics",
            axum::routing::post(move || async move {
                m[1].fetch_add(1, Ordering::SeqCst);
                Vec::<u8>::new()
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((format!("http://{addr}"), counts))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (endpoint, counts) = match std::env::var("OTLP_ENDPOINT") {
        Ok(e) => (e, None),
        Err(_) => {
            let (e, c) = receiver().await?;
            (e, Some(c))
        }
    };
    println!("exporting to {endpoint}");
    let pipeline = OtlpPipeline::start(OtlpConfig::new(endpoint, "otlp-example"))?;
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry().with(pipeline.tracing_layer()),
    )?;
    Exported::telemetry().set_sink(Some(Box::new(pipeline.sink())));

    let sim = Simulator::start().await?;
    sim.route(
        Route::host("upstream.test"),
        Script::sequence([Step::status(503), Step::ok()]),
    );
    let client = AdapterClient::builder::<Exported>()
        .resolve("upstream.test", sim.addr())
        .retry(
            telemetry_runtime::client::RetryPolicy::default()
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(2)),
        )
        .build()?;
    let r = client.get(sim.url("upstream.test", "/work")).send().await?;
    println!("status {} after {} attempts", r.status_code(), r.attempts());
    for l in sim.requests() {
        println!(
            "upstream saw traceparent {}",
            l.header("traceparent").unwrap_or("-")
        );
    }

    let p = pipeline.clone();
    tokio::task::spawn_blocking(move || p.shutdown()).await??;
    if let Some(c) = counts {
        let (traces, metrics) = (c[0].load(Ordering::SeqCst), c[1].load(Ordering::SeqCst));
        println!("receiver got {traces} trace export(s), {metrics} metric export(s)");
        if traces == 0 || metrics == 0 {
            return Err("nothing was exported".into());
        }
    }
    if sim
        .requests()
        .iter()
        .any(|l| l.header("traceparent").is_none())
    {
        return Err("an attempt went without traceparent".into());
    }
    sim.shutdown().await;
    Ok(())
}
