//! A real Prometheus (Debian's `prometheus` binary) scrapes our exporter,
//! through basic auth, on loopback; the test waits for the target to be up
//! and finds the expected series and values through the HTTP API.
//!
//! A host with the status codes and error types that used to collide in the
//! `status` label (#10) is read back series by series: Prometheus 2.42 keeps
//! only the first of two repeated samples, so a repeat shows as a wrong value.
//!
//! A missing binary fails the test under `scripts/test.sh`
//! (`TELEMETRY_REQUIRE_TOOLS=1`) and in CI; only a plain `cargo test` without
//! either skips it, with a notice (`tests/support/tools.rs`).

use std::collections::BTreeMap;
use std::time::Duration;

use telemetry_runtime::backends::prometheus::PrometheusSink;
use telemetry_runtime::config::ServerConfig;
use telemetry_runtime::events::*;
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
use telemetry_tests::support::prometheus::urlencode;
use telemetry_tests::support::{drive, prometheus_dir, require_tool, wait_for, Prometheus};

#[instrumented_adapter(
    name = "real_prom",
    hosts(cap = 8),
    slo(success = 99.0, latency_p99 = "1s")
)]
struct Scraped {}

/// Responses with the codes, and errors with the types, that used to share
/// a `status` value, `n` times each for the `n`-th: every series has its own
/// count, so a merged or repeated one shows. `(method, status label, count)`
/// is what the exposition must show for them.
fn drive_edge_codes(host: &str) -> Vec<(&'static str, &'static str, f64)> {
    let t = Scraped::telemetry();
    let host = t.hosts().intern_host(host, Some("https"));
    let meta = EventMeta::new(t, host, CorrelationId::next(), 1);
    let respond = |method, status, n| {
        for _ in 0..n {
            t.emit(EventRef::Response(&ResponseEvent {
                meta,
                method,
                status,
                duration: Duration::from_millis(5),
                body_size: None,
            }));
        }
    };
    let fail = |method, error_type, n| {
        for _ in 0..n {
            t.emit(EventRef::Error(&ErrorEvent {
                meta,
                method,
                error_type,
                message: "failed".into(),
                duration: Duration::from_millis(5),
                reached_wire: true,
            }));
        }
    };
    respond(HttpMethod::Get, 600, 1);
    respond(HttpMethod::Get, 609, 2);
    respond(HttpMethod::Get, 700, 3);
    respond(HttpMethod::Get, 999, 4);
    respond(HttpMethod::Get, 1000, 5);
    respond(HttpMethod::Get, 42, 6);
    fail(HttpMethod::Get, ErrorType::Timeout, 7);
    respond(HttpMethod::Other, 65535, 8);
    fail(HttpMethod::Other, ErrorType::Other, 9);
    vec![
        ("GET", "600", 1.0),
        ("GET", "609", 2.0),
        ("GET", "700", 3.0),
        ("GET", "999", 4.0),
        ("GET", "_OTHER", 11.0),
        ("GET", "timeout", 7.0),
        ("_OTHER", "_OTHER", 8.0),
        ("_OTHER", "other_error", 9.0),
    ]
}

async fn api(client: &reqwest::Client, base: &str, path: &str) -> Option<serde_json::Value> {
    let r = client.get(format!("{base}{path}")).send().await.ok()?;
    serde_json::from_str(&r.text().await.ok()?).ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_scrapes_the_exporter() {
    let Some(prometheus) = require_tool("prometheus") else {
        return;
    };
    Scraped::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    drive(Scraped::telemetry(), "api.example.com");
    let edge = drive_edge_codes("edge.example.com");

    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServerConfig::default()
    };
    let mut users = BTreeMap::new();
    users.insert(
        "scraper".to_string(),
        bcrypt::hash("pw-for-scraper", 4).expect("hash"),
    );
    config.basic_auth_users = users;
    let server = telemetry_runtime::server::serve(config)
        .await
        .expect("exporter serves");

    // The generated alert rules of this adapter, loaded by the real server.
    std::fs::write(
        prometheus_dir("real").join("rules.yml"),
        telemetry_runtime::backends::prometheus::rules::alert_rules(&[Scraped::MANIFEST]),
    )
    .expect("write rules");
    let running = Prometheus::start(
        &prometheus,
        "real",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['rules.yml']\nscrape_configs:\n  - job_name: telemetry\n    scrape_interval: 1s\n    basic_auth:\n      username: scraper\n      password: pw-for-scraper\n    static_configs:\n      - targets: ['{}']\n",
            server.local_addr()
        ),
        &[],
    );
    let base = running.url();
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");

    let target = wait_for(Duration::from_secs(60), "the target to be up", || async {
        let v = api(&client, &base, "/api/v1/targets").await?;
        let t = v["data"]["activeTargets"].as_array()?.first()?.clone();
        (t["health"] == "up").then_some(t)
    })
    .await;
    assert_eq!(target["labels"]["job"], "telemetry");
    assert_eq!(target["lastError"], "");

    let query = |q: &'static str| {
        let client = client.clone();
        let base = base.clone();
        async move {
            let path = format!("/api/v1/query?query={}", urlencode(q));
            let v = api(&client, &base, &path).await?;
            let result = v["data"]["result"].as_array()?.clone();
            (!result.is_empty()).then_some(result)
        }
    };
    let value = |r: &serde_json::Value| -> f64 {
        r["value"][1]
            .as_str()
            .and_then(|s| s.parse().ok())
            .expect("sample value")
    };

    let ok = wait_for(Duration::from_secs(30), "http_requests_total", || {
        query(r#"http_requests_total{adapter="real_prom",host="api.example.com",status="200"}"#)
    })
    .await;
    assert_eq!(ok.len(), 1);
    assert_eq!(value(&ok[0]), 1.0);
    assert_eq!(ok[0]["metric"]["method"], "GET");
    assert_eq!(ok[0]["metric"]["job"], "telemetry");

    // Each edge series once, with its own value: nothing merged, nothing
    // dropped as a repeat.
    let edge_series = wait_for(Duration::from_secs(10), "the edge host's series", || {
        query(r#"http_requests_total{adapter="real_prom",host="edge.example.com"}"#)
    })
    .await;
    let mut got: Vec<(String, String, f64)> = edge_series
        .iter()
        .map(|r| {
            let label = |l: &str| r["metric"][l].as_str().unwrap_or("").to_owned();
            (label("method"), label("status"), value(r))
        })
        .collect();
    got.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut want: Vec<(String, String, f64)> = edge
        .iter()
        .map(|(m, s, v)| (m.to_string(), s.to_string(), *v))
        .collect();
    want.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    assert_eq!(got, want, "http_requests_total of the edge host");

    let retries = wait_for(Duration::from_secs(10), "http_retries_total", || {
        query(r#"http_retries_total{adapter="real_prom",reason="status"}"#)
    })
    .await;
    assert_eq!(value(&retries[0]), 1.0);

    let breaker = wait_for(
        Duration::from_secs(10),
        "http_circuit_breaker_state",
        || query(r#"http_circuit_breaker_state{adapter="real_prom"}"#),
    )
    .await;
    assert_eq!(value(&breaker[0]), 1.0, "open");

    // The duration histogram works with histogram_quantile: the two GET
    // attempts to api.example.com took 20 ms and 40 ms, so the median lies
    // in (0.01, 0.05].
    let p50 = wait_for(Duration::from_secs(10), "histogram_quantile", || {
        query(r#"histogram_quantile(0.5, sum by (le) (http_request_duration_seconds_bucket{adapter="real_prom",host="api.example.com",method="GET"}))"#)
    })
    .await;
    let p50 = value(&p50[0]);
    assert!(p50 > 0.01 && p50 <= 0.05, "median {p50}");

    let backoff = wait_for(Duration::from_secs(10), "backoff count", || {
        query(r#"http_backoff_duration_seconds_count{adapter="real_prom",source="retry_after"}"#)
    })
    .await;
    assert_eq!(value(&backoff[0]), 1.0);

    // Every generated dashboard query is valid PromQL to a real server and
    // the generated rule group evaluates without error.
    for panel in telemetry_runtime::backends::prometheus::dashboard::queries(Scraped::MANIFEST) {
        for (expr, _) in &panel.queries {
            let path = format!("/api/v1/query?query={}", urlencode(expr));
            let v = api(&client, &base, &path).await.expect("query answers");
            assert_eq!(v["status"], "success", "{}: {expr}: {v}", panel.title);
        }
    }
    let group = wait_for(
        Duration::from_secs(10),
        "the rule group to evaluate",
        || async {
            let v = api(&client, &base, "/api/v1/rules").await?;
            let g = v["data"]["groups"].as_array()?.first()?.clone();
            let evaluated = g["rules"].as_array()?.iter().all(|r| {
                r["lastEvaluation"]
                    .as_str()
                    .is_some_and(|t| !t.starts_with("0001"))
            });
            evaluated.then_some(g)
        },
    )
    .await;
    assert_eq!(group["name"], "telemetry-real_prom");
    for rule in group["rules"].as_array().expect("rules") {
        assert_eq!(rule["health"], "ok", "{rule}");
    }

    server.shutdown().await.expect("exporter shuts down");
}
