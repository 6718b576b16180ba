//! Bucket bounds of the hot-path histograms come from the exporter's options.
//! Alone in its own process: the buckets are fixed, process-wide, once any
//! adapter records, so nothing may record before `configure` here.

use std::time::Duration;

use telemetry_runtime::backends::prometheus::{
    configure, render, PrometheusError, PrometheusOptions, PrometheusSink,
};
use telemetry_runtime::events::{
    CorrelationId, EventMeta, EventRef, HttpMethod, RequestEvent, ResponseEvent,
};
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

#[instrumented_adapter(name = "bucket_test", hosts(cap = 2))]
struct BucketAdapter {}

fn bucket_bounds(exposition: &str, family: &str) -> Vec<String> {
    exposition
        .lines()
        .filter(|l| l.starts_with(&format!("{family}_bucket{{")) && l.contains("bucket_test"))
        .filter_map(|l| l.split("le=\"").nth(1))
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn hot_path_histograms_use_the_configured_buckets() {
    telemetry_tests::run_alone!(hot_path_histograms_use_the_configured_buckets);
    configure(
        PrometheusOptions::default()
            .with_buckets("http_request_duration_seconds", vec![0.05, 0.2, 1.0])
            .with_buckets("http.client.response.body.size", vec![100.0, 1000.0]),
    )
    .expect("configured before any adapter recorded");

    let telemetry = BucketAdapter::telemetry();
    telemetry.set_sink(Some(Box::new(PrometheusSink::new())));
    let host = telemetry.hosts().intern_host("api.test", None);
    let meta = EventMeta::new(telemetry, host, CorrelationId::next(), 1);
    telemetry.emit(EventRef::Request(&RequestEvent {
        meta,
        method: HttpMethod::Get,
        url: "https://api.test/".into(),
        port: 443,
    }));
    telemetry.emit(EventRef::Response(&ResponseEvent {
        meta,
        method: HttpMethod::Get,
        status: 200,
        duration: Duration::from_millis(120),
        body_size: Some(500),
    }));

    let text = render();
    assert_eq!(
        bucket_bounds(&text, "http_request_duration_seconds"),
        ["0.05", "0.2", "1", "+Inf"]
    );
    assert_eq!(
        bucket_bounds(&text, "http_response_size_bytes"),
        ["100", "1000", "+Inf"]
    );
    // 120 ms falls in the 0.2 bucket; 500 B in the 1000 bucket (cumulative).
    assert!(text.contains(
        "http_request_duration_seconds_bucket{adapter=\"bucket_test\",host=\"api.test\",method=\"GET\",le=\"0.05\"} 0"
    ));
    assert!(text.contains(
        "http_request_duration_seconds_bucket{adapter=\"bucket_test\",host=\"api.test\",method=\"GET\",le=\"0.2\"} 1"
    ));

    // Too late now: the adapter records with the buckets above.
    let again = configure(
        PrometheusOptions::default().with_buckets("http_request_duration_seconds", vec![1.0]),
    );
    assert_eq!(
        again,
        Err(PrometheusError::FixedBuckets(
            "http_request_duration_seconds".into()
        ))
    );
    telemetry.set_sink(None);
}
