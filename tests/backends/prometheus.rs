//! The Prometheus backend: the whole catalogue from events, both naming
//! modes, one HELP/TYPE per family, bounded series, and `promtool check
//! metrics` on the real exposition.

use std::collections::HashSet;

use telemetry_runtime::backends::prometheus::{render, PrometheusSink};
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
use telemetry_tests::support::{drive, families, promtool_check_metrics, require_tool, sample};

#[instrumented_adapter(name = "prom_catalogue", hosts(cap = 8), labels(tenant(cap = 2)), events(resolved(tenant, doi: String)))]
struct Catalogue {}

#[instrumented_adapter(name = "prom_otel", hosts(cap = 8), naming = "opentelemetry")]
struct OtelNamed {}

#[instrumented_adapter(name = "prom_capped", hosts(cap = 4))]
struct Capped {}

fn setup() -> String {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        Catalogue::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
        OtelNamed::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
        Capped::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
        drive(Catalogue::telemetry(), "api.example.com");
        drive(OtelNamed::telemetry(), "api.example.org");
        let c = Catalogue {};
        c.emit().resolved("acme", "10.1/x".into());
        c.emit().resolved("globex", "10.1/y".into());
        c.emit().resolved("initech", "10.1/z".into()); // over the cap of 2
                                                       // A thousand distinct hosts against a cap of 4.
        for i in 0..1000 {
            drive(Capped::telemetry(), &format!("h{i}.example.net"));
        }
    });
    render()
}

#[test]
fn the_whole_catalogue_is_exported_with_exact_values() {
    let text = setup();
    let a = r#"adapter="prom_catalogue",host="api.example.com""#;
    let expect = [
        (format!(r#"http_requests_total{{{a},method="GET",status="200"}}"#), 1.0),
        (format!(r#"http_requests_total{{{a},method="GET",status="503"}}"#), 1.0),
        (format!(r#"http_requests_total{{{a},method="POST",status="timeout"}}"#), 1.0),
        (format!(r#"http_request_duration_seconds_count{{{a},method="GET"}}"#), 2.0),
        (format!(r#"http_request_duration_seconds_bucket{{{a},method="GET",le="0.025"}}"#), 1.0),
        (format!(r#"http_request_duration_seconds_bucket{{{a},method="GET",le="0.05"}}"#), 2.0),
        (format!(r#"http_request_duration_seconds_sum{{{a},method="GET"}}"#), 0.06),
        (format!(r#"http_response_size_bytes_count{{{a}}}"#), 2.0),
        (format!(r#"http_response_size_bytes_sum{{{a}}}"#), 2148.0),
        (format!(r#"http_in_flight_requests{{{a}}}"#), 0.0),
        (format!(r#"http_retries_total{{{a},reason="status"}}"#), 1.0),
        (format!(r#"http_backoff_duration_seconds_count{{{a},source="retry_after"}}"#), 1.0),
        (format!(r#"http_backoff_duration_seconds_bucket{{{a},source="retry_after",le="0.25"}}"#), 1.0),
        (format!(r#"http_backoff_duration_seconds_bucket{{{a},source="retry_after",le="0.1"}}"#), 0.0),
        (format!(r#"http_limiter_queue_depth{{{a}}}"#), 3.0),
        (format!(r#"http_limiter_wait_seconds_count{{{a}}}"#), 1.0),
        (format!(r#"http_limiter_saturation_ratio{{{a}}}"#), 0.25),
        (format!(r#"http_circuit_breaker_state{{{a}}}"#), 1.0),
        (format!(r#"http_circuit_breaker_transitions_total{{{a},from="closed",to="open"}}"#), 1.0),
        (r#"http_fallback_attempts_total{adapter="prom_catalogue",source="primary",outcome="failure"}"#.to_string(), 1.0),
        (r#"http_fallback_attempts_total{adapter="prom_catalogue",source="mirror",outcome="success"}"#.to_string(), 1.0),
        (r#"adapter_events_total{adapter="prom_catalogue",event="resolved",tenant="acme"}"#.to_string(), 1.0),
        (r#"adapter_events_total{adapter="prom_catalogue",event="resolved",tenant="_OTHER"}"#.to_string(), 1.0),
        (r#"telemetry_label_overflow_total{adapter="prom_catalogue",label="tenant"}"#.to_string(), 1.0),
    ];
    let mut missing = Vec::new();
    for (series, value) in &expect {
        match sample(&text, series) {
            Some(v) if (v - value).abs() < 1e-9 => {}
            got => missing.push(format!("{series}: expected {value}, got {got:?}")),
        }
    }
    assert!(
        missing.is_empty(),
        "{}\n--- exposition ---\n{text}",
        missing.join("\n")
    );
}

#[test]
fn histograms_are_histograms_and_every_family_is_declared_once() {
    let text = setup();
    let fams = families(&text);
    let mut seen = HashSet::new();
    for (name, _) in &fams {
        assert!(
            seen.insert(name.clone()),
            "family {name} declared twice\n{text}"
        );
    }
    let help: Vec<&str> = text.lines().filter(|l| l.starts_with("# HELP ")).collect();
    assert_eq!(help.len(), fams.len(), "one HELP per TYPE");
    let kind = |n: &str| fams.iter().find(|(f, _)| f == n).map(|(_, k)| k.as_str());
    for h in [
        "http_request_duration_seconds",
        "http_response_size_bytes",
        "http_backoff_duration_seconds",
        "http_limiter_wait_seconds",
        "http_client_request_duration_seconds",
        "http_client_backoff_duration_seconds",
    ] {
        assert_eq!(kind(h), Some("histogram"), "{h}");
    }
    for c in [
        "http_requests_total",
        "http_retries_total",
        "http_circuit_breaker_transitions_total",
    ] {
        assert_eq!(kind(c), Some("counter"), "{c}");
    }
    for g in [
        "http_limiter_queue_depth",
        "http_circuit_breaker_state",
        "http_in_flight_requests",
    ] {
        assert_eq!(kind(g), Some("gauge"), "{g}");
    }
    assert!(!text.contains("quantile="), "no summaries");
}

#[test]
fn opentelemetry_naming_uses_the_prometheus_translation() {
    let text = setup();
    let a = r#"adapter="prom_otel",server_address="api.example.org""#;
    for (series, value) in [
        (
            format!(
                r#"http_client_requests_total{{{a},http_request_method="GET",http_response_status_code="200"}}"#
            ),
            1.0,
        ),
        (
            format!(
                r#"http_client_requests_total{{{a},http_request_method="POST",error_type="timeout"}}"#
            ),
            1.0,
        ),
        (
            format!(
                r#"http_client_request_duration_seconds_count{{{a},http_request_method="GET"}}"#
            ),
            2.0,
        ),
        (
            format!(r#"http_client_response_body_size_bytes_count{{{a}}}"#),
            2.0,
        ),
        (format!(r#"http_client_active_requests{{{a}}}"#), 0.0),
        (
            format!(r#"http_client_retries_total{{{a},reason="status"}}"#),
            1.0,
        ),
        (format!(r#"http_client_circuit_breaker_state{{{a}}}"#), 1.0),
        (
            format!(r#"http_client_limiter_saturation_ratio{{{a}}}"#),
            0.25,
        ),
    ] {
        assert_eq!(sample(&text, &series), Some(value), "{series}\n{text}");
    }
    assert!(
        !text.contains(r#"http_requests_total{adapter="prom_otel""#),
        "an OpenTelemetry-named adapter has no Prometheus-named series"
    );
}

#[test]
fn a_thousand_hosts_stay_within_the_cap() {
    let text = setup();
    let hosts: HashSet<&str> = text
        .lines()
        .filter(|l| l.starts_with(r#"http_requests_total{adapter="prom_capped""#))
        .filter_map(|l| l.split("host=\"").nth(1)?.split('"').next())
        .collect();
    assert_eq!(hosts.len(), 5, "cap 4 + _OTHER: {hosts:?}");
    assert!(hosts.contains("_OTHER"));
    assert_eq!(
        sample(
            &text,
            r#"telemetry_label_overflow_total{adapter="prom_capped",label="host"}"#
        ),
        Some(996.0),
        "each of the 996 hosts past the cap was folded once"
    );
    for family in [
        "http_retries_total",
        "http_limiter_queue_depth",
        "http_circuit_breaker_state",
    ] {
        let n = text
            .lines()
            .filter(|l| l.starts_with(&format!(r#"{family}{{adapter="prom_capped""#)))
            .count();
        assert_eq!(n, 5, "{family} has cap + 1 series");
    }
}

#[test]
fn promtool_accepts_the_exposition_without_findings() {
    let text = setup();
    let Some(promtool) = require_tool("promtool") else {
        return;
    };
    let (ok, output) = promtool_check_metrics(&promtool, &text);
    assert!(
        ok,
        "promtool check metrics failed:\n{output}\n--- exposition ---\n{text}"
    );
    assert!(output.trim().is_empty(), "promtool findings:\n{output}");
}

#[test]
fn process_metrics_are_exported() {
    let text = setup();
    if cfg!(target_os = "linux") {
        let rss = sample(&text, "process_resident_memory_bytes").expect("rss");
        assert!(rss > 1e6, "a test binary uses more than 1 MB: {rss}");
        let fds = sample(&text, "process_open_fds").expect("open fds");
        assert!(fds >= 3.0, "stdin, stdout and stderr at least: {fds}");
        assert!(sample(&text, "process_cpu_seconds_total").is_some());
    }
}
