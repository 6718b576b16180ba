//! `adapter-telemetry slo` and a real Prometheus agree on the SLIs of one
//! run (issue 11: "its SLI definitions are those of the generated recording
//! rules").
//!
//! One run of an instrumented client against the simulator (successes,
//! 429s and 503s, retries, limiter waits) is written to the SQLite sink and,
//! through the same fan-out, to the Prometheus backend, whose `/metrics` a
//! real Prometheus (Debian's `prometheus`, started here on loopback) scrapes
//! every 250 ms while evaluating the generated rule group of the adapter.
//! Then, host by host:
//!
//! - **counts** (wire attempts, failed attempts under the rules'
//!   `status!~"[1-4].."`, 429s, retries): the raw counters' difference
//!   between the scrape before the run and one after it equals the stored
//!   rows' counts in `slo`'s JSON, **exactly** (integers);
//! - **success ratio**: `1 -` the recorded series
//!   `adapter:http_failed_attempts:ratio_rate5m:<adapter>` equals `slo`'s
//!   `success_ratio`; **retry rate**: the `RetryRateHigh` expression without
//!   its threshold equals `retry_rate`; **429 ratio**: the 429 rate over the
//!   attempt rate equals `status_429_ratio`; all within 1e-9;
//! - **latency p50/p95/p99**: Prometheus' `histogram_quantile` over the
//!   run's exact bucket increments (`bucket @ after - bucket @ before`)
//!   equals `slo`'s `histogram` quantile within 1e-9 (same buckets, same
//!   `le`, same interpolation); the `LatencyAboveObjective` expression
//!   (over `rate(...[5m])`) without its threshold, at each quantile, is
//!   within the width of the bucket that holds `slo`'s; and `slo`'s exact
//!   (nearest-rank) quantile lies in that bucket.
//!
//! Why 1e-9 for the ratios and not "roughly": `rate()` extrapolates each
//! series' increase by a factor that depends on the series' sample
//! timestamps and, when the first value in the window is below about 5 % of
//! the increase, on that first value (the clamp at zero). So that the factor
//! is the same for every counter series, every series the run touches
//! already exists with a history at the first scrape: a warm-up phase with
//! the same traffic (the scripts cycle) goes to the Prometheus backend only,
//! not to the run, *before* Prometheus starts. All series then share one set
//! of sample timestamps and start far above the clamp, and a ratio of sums
//! of rates is the ratio of the increases up to rounding (~1e-15). Bucket
//! series are different: a bucket below every warm-up observation starts at
//! 0, is clamped, and gets a factor about `(scrape interval / 2) / sampled
//! interval` (~2 %) off the others; `histogram_quantile` over rates can move
//! by that much of a bucket, never out of the bucket, hence the bucket-width
//! tolerance for the rule's own expression and the exact comparison over
//! the raw increments.
//!
//! A missing `prometheus` fails under `TELEMETRY_REQUIRE_TOOLS=1` or CI
//! (`tests/support/tools.rs`); only a plain `cargo test` skips, with a notice.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use telemetry_runtime::backends::prometheus::rules::alert_rules;
use telemetry_runtime::backends::prometheus::{PrometheusSink, DURATION_BUCKETS_SECONDS};
use telemetry_runtime::client::{RateLimit, RetryPolicy};
use telemetry_runtime::config::ServerConfig;
use telemetry_runtime::run::Run;
use telemetry_runtime::sink::sqlite::{self, SqliteOptions};
use telemetry_runtime::sink::FanoutSink;
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::{prometheus_dir, require_tool, Prometheus};

#[instrumented_adapter(
    name = "slo_agree",
    hosts(cap = 4),
    slo(success = 99.0, latency_p99 = "250ms")
)]
struct Agree {}

const ADAPTER: &str = "slo_agree";
const STEADY: &str = "steady.agree.test";
const FLAKY: &str = "flaky.agree.test";
/// Logical requests per host and phase.
const REQUESTS: usize = 48;
const TOLERANCE: f64 = 1e-9;

/// The upstreams: every step repeats in every phase (the scripts cycle), so
/// the warm-up creates every series the run will touch.
fn routes(sim: &Simulator) {
    sim.route(
        Route::host(STEADY),
        Script::sequence([
            Step::ok(),
            Step::ok().delay(Duration::from_millis(30)),
            Step::ok(),
            Step::status(429),
            Step::ok().delay(Duration::from_millis(8)),
            Step::ok(),
        ])
        .cycle(),
    );
    sim.route(
        Route::host(FLAKY),
        Script::sequence([
            Step::status(503),
            Step::ok().delay(Duration::from_millis(60)),
            Step::status(429),
            Step::status(503).delay(Duration::from_millis(15)),
            Step::ok(),
            Step::status(500),
            Step::ok().delay(Duration::from_millis(120)),
        ])
        .cycle(),
    );
}

/// `REQUESTS` logical requests per host, 6 at a time, through a limiter
/// that makes them wait (a burst of 2, 150 per second) but never refuses,
/// and 3 attempts with millisecond back-off: every retry decided is a wire
/// attempt (no breaker, no budget), as the retry rate's definition needs.
async fn traffic(client: &AdapterClient, port: u16) {
    let mut urls = Vec::new();
    for i in 0..REQUESTS {
        for host in [STEADY, FLAKY] {
            urls.push(format!("http://{host}:{port}/item/{i}"));
        }
    }
    for chunk in urls.chunks(6) {
        let mut tasks = Vec::new();
        for url in chunk {
            let (client, url) = (client.clone(), url.clone());
            tasks.push(tokio::spawn(async move { client.get(&url).send().await }));
        }
        for t in tasks {
            // Some logical requests end in a 5xx or 429 after 3 attempts:
            // that is an answer too; only a transport failure is not.
            let resp = t.await.expect("task").expect("an answer");
            assert!([200, 429, 500, 503].contains(&resp.status_code()));
        }
    }
}

/// `sum by (host) (EXPR)` results as `(host, value)`, sorted.
fn by_host(results: &[Value]) -> Vec<(String, f64)> {
    let mut v: Vec<(String, f64)> = results
        .iter()
        .map(|r| {
            let host = r["metric"]["host"].as_str().unwrap_or("").to_owned();
            let value = r["value"][1]
                .as_str()
                .and_then(|s| s.parse().ok())
                .expect("sample value");
            (host, value)
        })
        .collect();
    v.sort_by(|a, b| a.0.cmp(&b.0));
    v
}

fn query_by_host(prom: &Prometheus, q: &str, at: f64) -> Vec<(String, f64)> {
    let r = prom
        .query(q, Some(at))
        .unwrap_or_else(|| panic!("query failed: {q}"));
    by_host(&r)
}

fn value_for(rows: &[(String, f64)], host: &str, what: &str) -> f64 {
    rows.iter()
        .find(|(h, _)| h == host)
        .map(|(_, v)| *v)
        .unwrap_or_else(|| panic!("{what}: no series for host {host}: {rows:?}"))
}

/// A count from [`value_for`], 0 when the host has no such series.
fn count_for(rows: &[(String, f64)], host: &str) -> f64 {
    rows.iter()
        .find(|(h, _)| h == host)
        .map_or(0.0, |(_, v)| *v)
}

/// The local exposition's `sum(http_requests_total{adapter})`: what
/// Prometheus must show once it has scraped the current state.
fn local_attempts() -> f64 {
    let text = telemetry_runtime::backends::prometheus::render();
    text.lines()
        .filter(|l| l.starts_with("http_requests_total{") && l.contains(ADAPTER))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// Waits until Prometheus' latest scrape shows the local state; returns
/// that scrape's timestamp (Unix seconds).
fn scraped_now(prom: &Prometheus, limit: Duration) -> f64 {
    let want = local_attempts();
    assert!(want > 0.0, "traffic was recorded");
    let start = Instant::now();
    let q = format!(r#"sum(http_requests_total{{adapter="{ADAPTER}"}})"#);
    let t = format!(r#"max(timestamp(http_requests_total{{adapter="{ADAPTER}"}}))"#);
    loop {
        let got = prom
            .query(&q, None)
            .and_then(|r| r.first()?["value"][1].as_str()?.parse::<f64>().ok());
        if got == Some(want) {
            let ts = prom
                .query(&t, None)
                .and_then(|r| r.first()?["value"][1].as_str()?.parse::<f64>().ok())
                .expect("scrape timestamp");
            return ts;
        }
        assert!(
            start.elapsed() < limit,
            "Prometheus never showed {want} attempts (last {got:?})"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The expression of rule `name` in the generated rule file.
fn rule_expr(rules: &str, name: &str) -> String {
    let doc: serde_yaml::Value = serde_yaml::from_str(rules).expect("rules parse");
    for group in doc["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            if rule["record"].as_str() == Some(name) || rule["alert"].as_str() == Some(name) {
                return rule["expr"].as_str().expect("expr").to_owned();
            }
        }
    }
    panic!("no rule {name} in\n{rules}")
}

/// An alert's expression without its final `> threshold` comparison.
fn without_threshold(expr: &str) -> String {
    let cut = expr.rfind('>').expect("a threshold");
    expr[..cut].trim_end().to_owned()
}

fn slo(db: &std::path::Path, run: &str, host: &str) -> Value {
    let out = Command::new(env!("CARGO_BIN_EXE_adapter-telemetry"))
        .args(["slo", "--db"])
        .arg(db)
        .args(["--run", run, "--host", host])
        .output()
        .expect("adapter-telemetry runs");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "slo failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("slo JSON");
    let adapters = v["adapters"].as_array().expect("adapters");
    assert_eq!(adapters.len(), 1, "{v:#}");
    assert_eq!(adapters[0]["adapter"], ADAPTER);
    adapters[0]["slis"].clone()
}

/// The bucket `(lower, upper]` of the exporter's defaults holding `v`.
fn bucket_of(v: f64) -> (f64, f64) {
    let upper = DURATION_BUCKETS_SECONDS
        .iter()
        .copied()
        .find(|b| v <= *b)
        .unwrap_or(f64::INFINITY);
    let lower = DURATION_BUCKETS_SECONDS
        .iter()
        .copied()
        .filter(|b| *b < upper)
        .fold(0.0, f64::max);
    (lower, upper)
}

fn num(v: &Value, what: &str) -> f64 {
    v.as_f64()
        .unwrap_or_else(|| panic!("{what} is not a number: {v}"))
}

fn close(a: f64, b: f64, what: &str) {
    assert!(
        (a - b).abs() <= TOLERANCE,
        "{what}: SQLite {a} vs Prometheus {b} (difference {})",
        (a - b).abs()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slo_of_a_run_agrees_with_a_real_prometheus_running_the_generated_rules() {
    let Some(prometheus) = require_tool("prometheus") else {
        return;
    };
    let sim = Simulator::start().await.expect("simulator");
    routes(&sim);
    let client = AdapterClient::builder::<Agree>()
        .resolve(STEADY, sim.addr())
        .resolve(FLAKY, sim.addr())
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(2)),
        )
        .rate_limit(
            RateLimit::per_second(150.0)
                .burst(2)
                .max_queue_depth(64)
                .max_wait(Duration::from_secs(30)),
        )
        .no_breaker()
        .build()
        .expect("client");
    let telemetry = Agree::telemetry();
    telemetry.set_sink(Some(Box::new(PrometheusSink::new())));
    let exporter = telemetry_runtime::server::serve(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServerConfig::default()
    })
    .await
    .expect("exporter serves");

    // 1. Warm-up, Prometheus backend only, before Prometheus starts: every
    // series of the run exists with a history at the first scrape.
    traffic(&client, sim.port()).await;

    // 2. Prometheus with the generated (production) rules, scraping fast.
    let rules = alert_rules(&[Agree::MANIFEST]);
    std::fs::write(prometheus_dir("agree").join("rules.yml"), &rules).expect("write rules");
    let prom = Prometheus::start(
        &prometheus,
        "agree",
        &format!(
            "global:\n  scrape_interval: 250ms\n  evaluation_interval: 250ms\n\
             rule_files: ['rules.yml']\n\
             scrape_configs:\n  - job_name: telemetry\n    static_configs:\n      - targets: ['{}']\n",
            exporter.local_addr()
        ),
        &[],
    );
    prom.wait_ready(Duration::from_secs(60));
    let before = scraped_now(&prom, Duration::from_secs(60));

    // 3. The run: SQLite and the Prometheus backend see the same events.
    let dir = prometheus_dir("agree");
    let db = dir.join("run.sqlite");
    let run = Run::start("agree");
    let (store, guard) = sqlite::open(&db, &run, SqliteOptions::default()).expect("open store");
    telemetry.set_sink(Some(Box::new(
        FanoutSink::new().with(PrometheusSink::new()).with(store),
    )));
    traffic(&client, sim.port()).await;
    telemetry.set_sink(Some(Box::new(PrometheusSink::new())));
    let summary = guard.finish(Duration::from_secs(30)).expect("finish");
    assert_eq!(summary.events_dropped, 0, "{summary:?}");

    // 4. A scrape after the run, then a rule evaluation well after it.
    let after = scraped_now(&prom, Duration::from_secs(60));
    let record = format!("adapter:http_failed_attempts:ratio_rate5m:{ADAPTER}");
    let start = Instant::now();
    let at = loop {
        let t = prom
            .query(&format!("max(timestamp({record}))"), None)
            .and_then(|r| r.first()?["value"][1].as_str()?.parse::<f64>().ok());
        if let Some(t) = t.filter(|t| *t > after + 1.0) {
            break t;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no evaluation of {record} after the run's last scrape"
        );
        std::thread::sleep(Duration::from_millis(100));
    };

    // 5. Prometheus' side, at the evaluation `at`, host by host.
    let requests = format!(r#"http_requests_total{{adapter="{ADAPTER}"}}"#);
    let delta = |selector: &str| {
        let q = format!("sum by (host) ({selector})");
        let (a, b) = (
            query_by_host(&prom, &q, after),
            query_by_host(&prom, &q, before),
        );
        a.iter()
            .map(|(h, v)| {
                let old = b.iter().find(|(x, _)| x == h).map_or(0.0, |(_, o)| *o);
                (h.clone(), v - old)
            })
            .collect::<Vec<_>>()
    };
    let attempts = delta(&requests);
    let failed = delta(&format!(
        r#"http_requests_total{{adapter="{ADAPTER}",status!~"[1-4].."}}"#
    ));
    let s429 = delta(&format!(
        r#"http_requests_total{{adapter="{ADAPTER}",status="429"}}"#
    ));
    let retries = delta(&format!(r#"http_retries_total{{adapter="{ADAPTER}"}}"#));
    let failed_ratio = query_by_host(&prom, &record, at);
    let retry_rate = query_by_host(
        &prom,
        &without_threshold(&rule_expr(&rules, "SloAgreeRetryRateHigh")),
        at,
    );
    let ratio_429 = query_by_host(
        &prom,
        &format!(
            r#"sum by (host) (rate(http_requests_total{{adapter="{ADAPTER}",status="429"}}[5m])) / sum by (host) (rate({requests}[5m]))"#
        ),
        at,
    );
    let buckets = |t: f64| {
        format!(
            r#"sum by (host, le) (http_request_duration_seconds_bucket{{adapter="{ADAPTER}"}} @ {t:.3})"#
        )
    };
    let latency = without_threshold(&rule_expr(&rules, "SloAgreeLatencyAboveObjective"));
    assert!(latency.starts_with("histogram_quantile(0.99,"), "{latency}");

    let hosts: Vec<String> = attempts.iter().map(|(h, _)| h.clone()).collect();
    assert_eq!(hosts.len(), 2, "two hosts: {attempts:?}");
    for host in &hosts {
        let s = slo(&db, run.id(), host);
        let wire = num(&s["wire_attempts"], "wire_attempts");
        assert!(wire >= REQUESTS as f64, "{host}: {s:#}");
        // Exact counts.
        assert_eq!(
            wire,
            value_for(&attempts, host, "attempts"),
            "{host}: wire attempts"
        );
        // A host without a failed (or 429, or retried) attempt has no
        // such series at all: zero.
        assert_eq!(
            num(&s["failed_attempts"], "failed"),
            count_for(&failed, host),
            "{host}: failed attempts"
        );
        assert_eq!(
            num(&s["status_429"], "429"),
            count_for(&s429, host),
            "{host}: 429s"
        );
        assert_eq!(
            num(&s["retried_attempts"], "retried"),
            count_for(&retries, host),
            "{host}: retries"
        );
        // Ratios of the generated rules. Without failures the recorded
        // ratio has no series for the host (no failed rate to divide):
        // the alert cannot fire, and SQLite says 100 %.
        let success = num(&s["success_ratio"], "success_ratio");
        if failed_ratio.iter().any(|(h, _)| h == host) {
            close(
                success,
                1.0 - value_for(&failed_ratio, host, &record),
                &format!("{host}: success ratio"),
            );
        } else {
            assert_eq!(count_for(&failed, host), 0.0, "{host}: {failed_ratio:?}");
            assert_eq!(success, 1.0, "{host}: no failures, no recorded ratio");
        }
        close(
            num(&s["retry_rate"], "retry_rate"),
            value_for(&retry_rate, host, "RetryRateHigh"),
            &format!("{host}: retry rate"),
        );
        close(
            num(&s["status_429_ratio"], "status_429_ratio"),
            value_for(&ratio_429, host, "429 ratio"),
            &format!("{host}: 429 ratio"),
        );
        for (key, q) in [("p50", "0.5"), ("p95", "0.95"), ("p99", "0.99")] {
            let hist = num(&s["latency_seconds"][key]["histogram"], key);
            let (lower, upper) = bucket_of(hist);
            // Exactly, over the run's raw bucket increments.
            let exact_expr = format!(
                "histogram_quantile({q}, {} - {})",
                buckets(after),
                buckets(before)
            );
            let from_increments = value_for(&query_by_host(&prom, &exact_expr, at), host, key);
            close(
                hist,
                from_increments,
                &format!("{host}: latency {key} (increments)"),
            );
            // The generated alert's expression: the same bucket.
            let expr = latency.replacen(
                "histogram_quantile(0.99,",
                &format!("histogram_quantile({q},"),
                1,
            );
            let from_rule = value_for(&query_by_host(&prom, &expr, at), host, key);
            assert!(
                (from_rule - hist).abs() <= upper - lower,
                "{host}: latency {key}: the rule's {from_rule} is more than the width of the bucket ({lower}, {upper}] from SQLite's {hist}"
            );
            // The exact quantile lies in the bucket the interpolation chose.
            let exact = num(&s["latency_seconds"][key]["exact"], key);
            assert!(
                exact >= lower && exact <= upper,
                "{host}: exact {key} {exact} outside the bucket ({lower}, {upper}] of {hist}"
            );
        }
    }

    exporter.shutdown().await.expect("exporter shuts down");
    sim.shutdown().await;
    drop(prom);
}
