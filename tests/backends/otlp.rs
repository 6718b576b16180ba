//! The OTLP backend against an in-process OTLP/HTTP receiver (axum on
//! 127.0.0.1) that decodes the protobuf payloads: the instrumented client's
//! request and attempt spans and the metrics recorded from its events arrive
//! with the expected names, attributes and values.

use std::time::Duration;

use opentelemetry_proto::tonic::collector::metrics::v1::ExportMetricsServiceRequest;
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::{any_value, AnyValue, KeyValue};
use opentelemetry_proto::tonic::metrics::v1::{metric, Metric};
use opentelemetry_proto::tonic::trace::v1::{span, Span};
use prost::Message as _;
use telemetry_runtime::backends::otlp::{OtlpConfig, OtlpPipeline};
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
use telemetry_tests::support::{self, otlp_receiver, OtlpRequest};
use tracing_subscriber::layer::SubscriberExt as _;

#[derive(Default)]
struct Received {
    traces: Vec<ExportTraceServiceRequest>,
    metrics: Vec<ExportMetricsServiceRequest>,
    content_types: Vec<String>,
}

/// The receiver's requests, decoded; the content types are the trace
/// requests'.
fn decode(requests: Vec<OtlpRequest>) -> Received {
    let mut r = Received::default();
    for req in requests {
        match req.path.as_str() {
            "/v1/traces" => {
                r.traces.push(
                    ExportTraceServiceRequest::decode(&req.body[..])
                        .expect("valid ExportTraceServiceRequest"),
                );
                r.content_types.push(req.content_type);
            }
            "/v1/metrics" => r.metrics.push(
                ExportMetricsServiceRequest::decode(&req.body[..])
                    .expect("valid ExportMetricsServiceRequest"),
            ),
            other => panic!("unexpected OTLP path {other}"),
        }
    }
    r
}

fn attr<'a>(attrs: &'a [KeyValue], key: &str) -> Option<&'a any_value::Value> {
    attrs
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref())
        .and_then(|v: &AnyValue| v.value.as_ref())
}

fn str_attr(attrs: &[KeyValue], key: &str) -> Option<String> {
    match attr(attrs, key)? {
        any_value::Value::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn int_attr(attrs: &[KeyValue], key: &str) -> Option<i64> {
    match attr(attrs, key)? {
        any_value::Value::IntValue(i) => Some(*i),
        any_value::Value::StringValue(s) => s.parse().ok(),
        _ => None,
    }
}

#[instrumented_adapter(name = "otlp_adapter", hosts(cap = 8))]
struct Exported {}

#[tokio::test(flavor = "current_thread")]
async fn spans_and_metrics_reach_an_otlp_receiver() {
    // Asserts on what its thread-local subscriber saw of the runtime's
    // callsites: alone in its process (see `support::process`).
    telemetry_tests::run_alone!(spans_and_metrics_reach_an_otlp_receiver);
    let (endpoint, received) = otlp_receiver().await;
    let mut config = OtlpConfig::new(endpoint, "otlp-test-service");
    // Only the explicit flush exports metrics in this test.
    config.metrics_interval = Duration::from_secs(3600);
    let pipeline = OtlpPipeline::start(config).expect("pipeline starts");
    let subscriber = tracing_subscriber::registry().with(pipeline.tracing_layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    Exported::telemetry().set_sink(Some(Box::new(pipeline.sink())));

    let (sim, client) = support::flaky_host::<Exported>("otlp-a.test").await;
    let response = client
        .get(sim.url("otlp-a.test", "/flaky"))
        .send()
        .await
        .expect("second attempt succeeds");
    assert_eq!(response.status().as_u16(), 200);
    let cid = response.correlation_id().to_string();

    let p = pipeline.clone();
    tokio::task::spawn_blocking(move || p.force_flush())
        .await
        .expect("join")
        .expect("flush exports");

    let r = decode(std::mem::take(&mut *received.lock().expect("lock")));
    assert!(
        r.content_types
            .iter()
            .all(|c| c == "application/x-protobuf"),
        "{:?}",
        r.content_types
    );

    // Spans: one request span, two attempt spans under it, one trace.
    let spans: Vec<&Span> = r
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .filter(|s| str_attr(&s.attributes, "correlation_id").as_deref() == Some(cid.as_str()))
        .collect();
    assert_eq!(spans.len(), 3, "{spans:#?}");
    let service = r.traces[0].resource_spans[0]
        .resource
        .as_ref()
        .map(|res| str_attr(&res.attributes, "service.name"));
    assert_eq!(service, Some(Some("otlp-test-service".into())));
    let request = spans
        .iter()
        .find(|s| s.parent_span_id.is_empty())
        .expect("a root request span");
    let mut attempts: Vec<&&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id == request.span_id)
        .collect();
    attempts.sort_by_key(|s| int_attr(&s.attributes, "http.request.resend_count"));
    assert_eq!(attempts.len(), 2);
    for s in &spans {
        assert_eq!(s.trace_id, request.trace_id);
        assert_eq!(s.name, "GET");
        assert_eq!(s.kind, span::SpanKind::Client as i32);
        assert_eq!(
            str_attr(&s.attributes, "http.request.method").as_deref(),
            Some("GET")
        );
        assert_eq!(
            str_attr(&s.attributes, "server.address").as_deref(),
            Some("otlp-a.test")
        );
        assert_eq!(
            int_attr(&s.attributes, "server.port"),
            Some(i64::from(sim.port()))
        );
        assert_eq!(
            str_attr(&s.attributes, "url.full"),
            Some(sim.url("otlp-a.test", "/flaky"))
        );
    }
    assert_eq!(
        int_attr(&attempts[0].attributes, "http.request.resend_count"),
        Some(0)
    );
    assert_eq!(
        int_attr(&attempts[0].attributes, "http.response.status_code"),
        Some(503)
    );
    assert_eq!(int_attr(&attempts[0].attributes, "error.type"), Some(503));
    assert_eq!(
        int_attr(&attempts[1].attributes, "http.request.resend_count"),
        Some(1)
    );
    assert_eq!(
        int_attr(&attempts[1].attributes, "http.response.status_code"),
        Some(200)
    );
    assert_eq!(
        int_attr(&request.attributes, "http.response.status_code"),
        Some(200)
    );
    assert_eq!(
        int_attr(&request.attributes, "http.request.resend_count"),
        Some(1)
    );

    // Metrics: the duration histogram per status, the retry counter.
    let metrics: Vec<&Metric> = r
        .metrics
        .iter()
        .flat_map(|m| &m.resource_metrics)
        .flat_map(|rm| &rm.scope_metrics)
        .flat_map(|sm| &sm.metrics)
        .collect();
    let find = |name: &str| {
        metrics.iter().find(|m| m.name == name).unwrap_or_else(|| {
            panic!(
                "metric {name} in {:?}",
                metrics.iter().map(|m| &m.name).collect::<Vec<_>>()
            )
        })
    };
    let duration = find("http.client.request.duration");
    assert_eq!(duration.unit, "s");
    let Some(metric::Data::Histogram(h)) = &duration.data else {
        panic!("http.client.request.duration is a histogram: {duration:?}");
    };
    let mut by_status: Vec<(i64, u64, Vec<f64>)> = h
        .data_points
        .iter()
        .filter(|p| str_attr(&p.attributes, "adapter").as_deref() == Some("otlp_adapter"))
        .map(|p| {
            assert_eq!(
                str_attr(&p.attributes, "server.address").as_deref(),
                Some("otlp-a.test")
            );
            assert_eq!(
                int_attr(&p.attributes, "server.port"),
                Some(i64::from(sim.port()))
            );
            assert_eq!(
                str_attr(&p.attributes, "http.request.method").as_deref(),
                Some("GET")
            );
            (
                int_attr(&p.attributes, "http.response.status_code").unwrap_or(0),
                p.count,
                p.explicit_bounds.clone(),
            )
        })
        .collect();
    by_status.sort_by_key(|(s, _, _)| *s);
    assert_eq!(
        by_status
            .iter()
            .map(|(s, c, _)| (*s, *c))
            .collect::<Vec<_>>(),
        vec![(200, 1), (503, 1)]
    );
    assert_eq!(
        by_status[0].2,
        telemetry_runtime::backends::prometheus::DURATION_BUCKETS_SECONDS.to_vec(),
        "OpenTelemetry's advised buckets"
    );

    let retries = find("http.client.retries");
    let Some(metric::Data::Sum(sum)) = &retries.data else {
        panic!("http.client.retries is a sum: {retries:?}");
    };
    assert!(sum.is_monotonic);
    let point = sum
        .data_points
        .iter()
        .find(|p| str_attr(&p.attributes, "adapter").as_deref() == Some("otlp_adapter"))
        .expect("retry point");
    assert_eq!(
        str_attr(&point.attributes, "reason").as_deref(),
        Some("status")
    );
    assert_eq!(
        point.value,
        Some(opentelemetry_proto::tonic::metrics::v1::number_data_point::Value::AsInt(1))
    );

    let p = pipeline.clone();
    tokio::task::spawn_blocking(move || p.shutdown())
        .await
        .expect("join")
        .expect("shutdown");
    sim.shutdown().await;
}

#[instrumented_adapter(name = "otlp_propagation", hosts(cap = 8))]
struct Propagated {}

/// The spans in `r` of the logical request `cid`: the request span and its
/// attempt spans in attempt order.
fn request_and_attempts(r: &Received, cid: &str) -> (Span, Vec<Span>) {
    let spans: Vec<Span> = r
        .traces
        .iter()
        .flat_map(|t| &t.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .filter(|s| str_attr(&s.attributes, "correlation_id").as_deref() == Some(cid))
        .cloned()
        .collect();
    let request = spans
        .iter()
        .find(|s| s.parent_span_id.is_empty())
        .cloned()
        .expect("a root request span");
    let mut attempts: Vec<Span> = spans
        .into_iter()
        .filter(|s| s.parent_span_id == request.span_id)
        .collect();
    attempts.sort_by_key(|s| int_attr(&s.attributes, "http.request.resend_count"));
    (request, attempts)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Issue 14: each wire attempt carries `traceparent` for its own attempt
/// span (W3C: `00-<trace id>-<span id>-<flags>`), the ids the exported
/// spans have; a client with propagation off sends none, and nothing is
/// sent without an OpenTelemetry layer.
#[tokio::test(flavor = "current_thread")]
async fn each_attempt_sends_traceparent_of_its_exported_span() {
    telemetry_tests::run_alone!(each_attempt_sends_traceparent_of_its_exported_span);
    let (sim, client) = support::flaky_host::<Propagated>("prop-a.test").await;
    let (endpoint, received) = otlp_receiver().await;
    let mut config = OtlpConfig::new(endpoint, "propagation-test");
    config.metrics_interval = Duration::from_secs(3600);
    // Starting the pipeline installs the W3C injector globally.
    let pipeline = OtlpPipeline::start(config).expect("pipeline starts");
    assert!(telemetry_runtime::core::propagation::has_global_injector());

    // No tracing layer yet: no context, no header.
    let r = client
        .get(sim.url("prop-a.test", "/flaky"))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.attempts(), 2);
    let log = sim.requests();
    assert_eq!(log.len(), 2);
    assert!(
        log.iter().all(|l| l.header("traceparent").is_none()),
        "{log:?}"
    );
    sim.clear_log();

    let subscriber = tracing_subscriber::registry().with(pipeline.tracing_layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    sim.route(
        telemetry_sim::Route::host("prop-a.test"),
        telemetry_sim::Script::sequence([
            telemetry_sim::Step::status(503),
            telemetry_sim::Step::ok(),
        ]),
    );
    let response = client
        .get(sim.url("prop-a.test", "/flaky"))
        .send()
        .await
        .expect("second attempt succeeds");
    assert_eq!(response.attempts(), 2);
    let cid = response.correlation_id().to_string();
    let log = sim.requests();
    assert_eq!(log.len(), 2);

    // Propagation off: the same subscriber, no header.
    let quiet = telemetry_runtime::AdapterClient::builder::<Propagated>()
        .resolve("prop-a.test", sim.addr())
        .propagation(telemetry_runtime::core::propagation::Propagation::Off)
        .build()
        .expect("client");
    quiet
        .get(sim.url("prop-a.test", "/quiet"))
        .send()
        .await
        .expect("answer");
    let quiet_log = sim.requests();
    assert_eq!(quiet_log.len(), 3);
    assert_eq!(quiet_log[2].path, "/quiet");
    assert_eq!(quiet_log[2].header("traceparent"), None);

    let p = pipeline.clone();
    tokio::task::spawn_blocking(move || p.force_flush())
        .await
        .expect("join")
        .expect("flush exports");
    let r = decode(std::mem::take(&mut *received.lock().expect("lock")));
    let (request, attempts) = request_and_attempts(&r, &cid);
    assert_eq!(attempts.len(), 2);
    for (logged, span) in log.iter().zip(&attempts) {
        let header = logged.header("traceparent").expect("traceparent sent");
        let parts: Vec<&str> = header.split('-').collect();
        assert_eq!(parts.len(), 4, "{header}");
        assert_eq!(parts[0], "00");
        assert_eq!(parts[1], hex(&request.trace_id), "the trace id");
        assert_eq!(parts[2], hex(&span.span_id), "the attempt span's id");
        assert_eq!(parts[3], "01", "sampled");
        assert_eq!(logged.header("tracestate"), None, "empty trace state");
    }
    assert_ne!(
        log[0].header("traceparent"),
        log[1].header("traceparent"),
        "one span per attempt"
    );
    let _ = tokio::task::spawn_blocking(move || pipeline.shutdown()).await;
    telemetry_runtime::core::propagation::clear_global_injector();
}
