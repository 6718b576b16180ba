//! The server: /metrics, liveness, readiness by criteria, the detailed
//! health document, basic auth with bcrypt (cached, rate-limited, with
//! exemptions), source networks, TLS, and TOML configuration.

use std::collections::BTreeMap;
use std::time::Duration;

use telemetry_runtime::backends::prometheus::PrometheusSink;
use telemetry_runtime::config::{ServerConfig, TlsConfig};
use telemetry_runtime::events::*;
use telemetry_runtime::server::access::SourceNetwork;
use telemetry_runtime::server::{
    serve, try_router, ServeError, HEALTH_CONTENT_TYPE, METRICS_CONTENT_TYPE,
};
use telemetry_runtime::{instrumented_adapter, AdapterTelemetry, InstrumentedAdapter};
use telemetry_tests::support::{drive, temp_dir};

#[instrumented_adapter(name = "srv_health", hosts(cap = 8))]
struct Health {}

#[instrumented_adapter(name = "srv_metrics", hosts(cap = 8))]
struct Metrics {}

#[instrumented_adapter(name = "srv_no_prometheus", hosts(cap = 8))]
struct NoPrometheus {}

/// Readiness judges the health backend's own state: with no Prometheus sink
/// installed anywhere (this adapter has a recording sink, and nothing else
/// has any), the breaker, the error ratio and the latency are still judged,
/// and `/metrics` still answers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_without_the_prometheus_sink() {
    telemetry_tests::run_alone!(readiness_without_the_prometheus_sink);
    let rec = telemetry_runtime::sink::RecordingSink::new();
    NoPrometheus::telemetry().set_sink(Some(Box::new(rec.clone())));
    let mut config = loopback();
    config.health.min_requests = 10;
    config.health.max_error_ratio = Some(0.2);
    config.health.max_p99_latency = Some(Duration::from_millis(500));
    let server = serve(config).await.expect("serves");
    let base = server.base_url();

    let (code, _, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!(code, 200, "no traffic is not a failure: {body}");

    for _ in 0..20 {
        respond(
            NoPrometheus::telemetry(),
            "ok.example.com",
            200,
            Duration::from_millis(10),
        );
    }
    let (code, _, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!(code, 200, "{body}");

    // The client's own refusals (its limiter turning calls away) are not
    // failed attempts: the error ratio stays 0 and readiness holds.
    for _ in 0..30 {
        refused(NoPrometheus::telemetry(), "ok.example.com");
    }
    let (code, _, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!(code, 200, "refusals are not failures: {body}");

    // Slow attempts on another host: p99 over the limit.
    for _ in 0..20 {
        respond(
            NoPrometheus::telemetry(),
            "slow.example.com",
            200,
            Duration::from_millis(900),
        );
    }
    let (code, _, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("srv_no_prometheus/slow.example.com: p99 latency"),
        "{body}"
    );
    breaker(
        NoPrometheus::telemetry(),
        "ok.example.com",
        BreakerState::Closed,
        BreakerState::Open,
    );
    let (code, _, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("srv_no_prometheus/ok.example.com: circuit breaker open"),
        "{body}"
    );

    // The user's sink saw every event; no Prometheus sink recorded any.
    assert_eq!(rec.events().len(), 20 * 2 * 2 + 30 + 1);
    let (code, _, metrics) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    assert!(
        !metrics.contains(r#"http_requests_total{adapter="srv_no_prometheus""#),
        "{metrics}"
    );
    server.shutdown().await.expect("shutdown");
}

fn loopback() -> ServerConfig {
    ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServerConfig::default()
    }
}

fn respond(adapter: &'static AdapterTelemetry, host: &str, status: u16, latency: Duration) {
    let host = adapter.hosts().intern(host);
    let meta = EventMeta::new(adapter, host, CorrelationId::next(), 1);
    adapter.emit(EventRef::Request(&RequestEvent {
        meta,
        method: HttpMethod::Get,
        url: "https://x/".into(),
        port: 443,
    }));
    adapter.emit(EventRef::Response(&ResponseEvent {
        meta,
        method: HttpMethod::Get,
        status,
        duration: latency,
        body_size: None,
    }));
}

fn refused(adapter: &'static AdapterTelemetry, host: &str) {
    let host = adapter.hosts().intern(host);
    let meta = EventMeta::new(adapter, host, CorrelationId::next(), 1);
    adapter.emit(EventRef::Error(&ErrorEvent {
        meta,
        method: HttpMethod::Get,
        error_type: ErrorType::RateLimited,
        message: "queue full".into(),
        duration: Duration::ZERO,
        reached_wire: false,
    }));
}

fn breaker(adapter: &'static AdapterTelemetry, host: &str, from: BreakerState, to: BreakerState) {
    let host = adapter.hosts().intern(host);
    let meta = EventMeta::new(adapter, host, CorrelationId::next(), 1);
    adapter.emit(EventRef::BreakerTransition(&BreakerTransitionEvent {
        meta,
        from,
        to,
        reason: "test",
    }));
}

fn saturation(adapter: &'static AdapterTelemetry, host: &str, s: f64) {
    let host = adapter.hosts().intern(host);
    let meta = EventMeta::new(adapter, host, CorrelationId::next(), 1);
    adapter.emit(EventRef::RateLimit(&RateLimitEvent {
        meta,
        outcome: RateLimitOutcome::Waited,
        wait: Duration::from_millis(5),
        queue_depth: 7,
        saturation: s,
    }));
}

async fn get(url: &str) -> (u16, String, String) {
    let r = reqwest::get(url).await.expect("request");
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    (status, ct, r.text().await.expect("body"))
}

/// One test walks the readiness states in order: the judgement covers every
/// adapter of the process, so it must not race other traffic, nor see the
/// adapters other tests of the binary left with open breakers and errors:
/// it runs alone in its own process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_and_health_endpoints() {
    telemetry_tests::run_alone!(metrics_and_health_endpoints);
    // The server installs the health state when it builds its router; events
    // emitted before that (`drive` below) reach it only when it is installed
    // first.
    telemetry_runtime::backends::health::install();
    Metrics::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    Health::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    drive(Metrics::telemetry(), "m.example.com");

    let mut config = loopback();
    config.health.min_requests = 10;
    config.health.max_error_ratio = Some(0.2);
    config.health.max_p99_latency = Some(Duration::from_millis(500));
    config.health.max_limiter_saturation = Some(0.9);
    let server = serve(config).await.expect("serves");
    let base = server.base_url();
    assert!(server.local_addr().ip().is_loopback());
    assert_ne!(server.local_addr().port(), 0);

    let (code, ct, body) = get(&format!("{base}/metrics")).await;
    assert_eq!(code, 200);
    assert_eq!(ct, METRICS_CONTENT_TYPE);
    assert!(body.contains(
        r#"http_retries_total{adapter="srv_metrics",host="m.example.com",reason="status"} 1"#
    ));

    let (code, ct, body) = get(&format!("{base}/health")).await;
    assert_eq!((code, ct.as_str()), (200, HEALTH_CONTENT_TYPE));
    assert_eq!(body, r#"{"status":"pass"}"#);

    // `drive` left m.example.com's breaker open: not ready.
    let (code, _, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("srv_metrics/m.example.com: circuit breaker open"),
        "{body}"
    );
    breaker(
        Metrics::telemetry(),
        "m.example.com",
        BreakerState::Open,
        BreakerState::HalfOpen,
    );
    let (code, _, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!(code, 200, "half-open is a warning: {body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["status"], "warn");
    breaker(
        Metrics::telemetry(),
        "m.example.com",
        BreakerState::HalfOpen,
        BreakerState::Closed,
    );

    // Healthy traffic: 20 fast 200s.
    for _ in 0..20 {
        respond(
            Health::telemetry(),
            "ok.example.com",
            200,
            Duration::from_millis(10),
        );
    }
    let (code, _, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!(code, 200, "{body}");
    let v: serde_json::Value = serde_json::from_str(&body).expect("json");
    assert_eq!(v["status"], "pass", "{body}");

    // Errors on another host: 6 of 20 are 5xx, over the 0.2 limit.
    for i in 0..20 {
        let status = if i % 10 < 3 { 503 } else { 200 };
        respond(
            Health::telemetry(),
            "flaky.example.com",
            status,
            Duration::from_millis(10),
        );
    }
    let (code, _, body) = get(&format!("{base}/health/ready")).await;
    assert_eq!(code, 503, "{body}");
    assert!(
        body.contains("srv_health/flaky.example.com: error ratio 0.300 (6 of 20 attempts failed"),
        "{body}"
    );

    let (code, ct, body) = get(&format!("{base}/health/detailed")).await;
    assert_eq!((code, ct.as_str()), (503, HEALTH_CONTENT_TYPE));
    let doc: serde_json::Value = serde_json::from_str(&body).expect("health+json");
    assert_eq!(doc["status"], "fail");
    let check = &doc["checks"]["srv_health/flaky.example.com:error_ratio"][0];
    assert_eq!(check["status"], "fail");
    assert_eq!(check["componentId"], "flaky.example.com");
    assert!((check["observedValue"].as_f64().expect("value") - 0.3).abs() < 1e-9);
    assert_eq!(
        doc["checks"]["srv_health/ok.example.com:error_ratio"][0]["status"],
        "pass"
    );

    // Slow host: p99 over 500 ms fails; saturation 0.95 over 0.9 fails.
    for _ in 0..20 {
        respond(
            Health::telemetry(),
            "slow.example.com",
            200,
            Duration::from_secs(2),
        );
    }
    saturation(Health::telemetry(), "busy.example.com", 0.95);
    let (_, _, body) = get(&format!("{base}/health/detailed")).await;
    let doc: serde_json::Value = serde_json::from_str(&body).expect("health+json");
    let p99 = &doc["checks"]["srv_health/slow.example.com:latency_p99"][0];
    assert_eq!(p99["status"], "fail", "{body}");
    let p99v = p99["observedValue"].as_f64().expect("p99");
    assert!(
        (1.0..=2.5).contains(&p99v),
        "p99 in the 1..2.5 s bucket: {p99v}"
    );
    assert_eq!(
        doc["checks"]["srv_health/busy.example.com:limiter_saturation"][0]["status"],
        "fail"
    );

    server.shutdown().await.expect("shuts down");
    assert!(
        reqwest::get(format!("{base}/health")).await.is_err(),
        "nothing listens after shutdown"
    );
}

fn auth_config() -> ServerConfig {
    let mut config = loopback();
    let mut users = BTreeMap::new();
    users.insert(
        "prometheus".to_string(),
        bcrypt::hash("s3cret-pass", 4).expect("hash"),
    );
    config.basic_auth_users = users;
    config
}

#[tokio::test]
async fn basic_auth_guards_every_endpoint() {
    let server = serve(auth_config()).await.expect("serves");
    let base = server.base_url();
    let client = reqwest::Client::new();
    for path in ["/metrics", "/health", "/health/ready", "/health/detailed"] {
        let r = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 401, "{path} without credentials");
        let www = r
            .headers()
            .get("www-authenticate")
            .expect("WWW-Authenticate");
        assert!(www.to_str().expect("ascii").starts_with("Basic realm="));
    }
    for (user, pass) in [("prometheus", "wrong"), ("nobody", "s3cret-pass"), ("", "")] {
        let r = client
            .get(format!("{base}/metrics"))
            .basic_auth(user, Some(pass))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 401, "{user}:{pass}");
    }
    let r = client
        .get(format!("{base}/metrics"))
        .header("authorization", "Bearer s3cret-pass")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401, "only Basic is accepted");
    let r = client
        .get(format!("{base}/metrics"))
        .basic_auth("prometheus", Some("s3cret-pass"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200);
    server.shutdown().await.expect("shuts down");
}

#[tokio::test]
async fn tls_from_certificate_and_key_files() {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("self-signed certificate");
    let dir = temp_dir("tls");
    let cert_file = dir.join("server.crt");
    let key_file = dir.join("server.key");
    std::fs::write(&cert_file, cert.cert.pem()).expect("write cert");
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).expect("write key");

    let mut config = auth_config();
    config.tls = Some(TlsConfig {
        cert_file: cert_file.clone(),
        key_file,
    });
    let server = serve(config).await.expect("serves TLS");
    let base = server.base_url();
    assert!(base.starts_with("https://"));
    let client = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("pem"),
        )
        .build()
        .expect("client");
    let r = client
        .get(format!("{base}/metrics"))
        .basic_auth("prometheus", Some("s3cret-pass"))
        .send()
        .await
        .expect("https request");
    assert_eq!(r.status().as_u16(), 200);
    let plain = reqwest::get(format!("http://{}/metrics", server.local_addr())).await;
    assert!(
        !plain.is_ok_and(|r| r.status().is_success()),
        "plain HTTP is not served on the TLS port"
    );
    server.shutdown().await.expect("shuts down");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn configuration_errors_are_clear() {
    let cases = [
        ("listen = \"localhost\"", "listen: expected an address with a port such as \"127.0.0.1:9464\", got \"localhost\""),
        ("[health]\nwindow = \"5 parsecs\"", "health.window: unknown duration unit \"parsecs\" in \"5 parsecs\", expected one of \"us\", \"µs\", \"ms\", \"s\", \"m\", \"min\", \"h\""),
        ("[health]\nwindow = \"100ms\"", "health.window: must be at least 1s, got 100ms"),
        ("[health]\nmax_limiter_saturation = -0.1", "health.max_limiter_saturation: must be between 0 and 1, got -0.1"),
        ("[basic_auth_users]\nalice = \"hunter2\"", "basic_auth_users.alice: expected a bcrypt hash (60 characters starting with \"$2b$\", as `htpasswd -nbB user password` prints), not a plain password"),
        ("[prometheus]\nnaming = \"statsd\"", "prometheus.naming: expected \"prometheus\" or \"opentelemetry\", got \"statsd\""),
        ("[prometheus.buckets]\nhttp_requests_total = [1.0]", "prometheus.buckets: metric `http_requests_total` is not a histogram, buckets apply to histograms only"),
        ("[prometheus.buckets]\nhttp_backoff_duration_seconds = [1.0, 0.5]", "prometheus.buckets: bad buckets for `http_backoff_duration_seconds`: bounds must be strictly increasing"),
        ("[tls_server_config]\ncert_file = \"/nonexistent/c.pem\"\nkey_file = \"/nonexistent/k.pem\"", "tls_server_config.cert_file: /nonexistent/c.pem is not a readable file"),
        ("metrics_path = \"/:metrics\"", "metrics_path: \"/:metrics\" is route syntax (a parameter or wildcard), not a path; expected a plain path such as \"/metrics\""),
        ("metrics_path = \"/*metrics\"", "metrics_path: \"/*metrics\" is route syntax (a parameter or wildcard), not a path; expected a plain path such as \"/metrics\""),
        ("metrics_path = \"/{metrics}\"", "metrics_path: \"/{metrics}\" is route syntax (a parameter or wildcard), not a path; expected a plain path such as \"/metrics\""),
        ("metrics_path = \"metrics\"", "metrics_path: must be an absolute path starting with \"/\", got \"metrics\"; expected a plain path such as \"/metrics\""),
        ("metrics_path = \"/health/metrics\"", "metrics_path: must not be /health or under it (the health endpoints), got \"/health/metrics\""),
        ("metrics_path = \"/metrics?format=text\"", "metrics_path: character '?' is not allowed in \"/metrics?format=text\": use letters, digits, \"-\", \".\", \"_\" and \"~\" between slashes"),
        ("[basic_auth_users]\nalice = \"$2b$32$P7x.CJFlxyRHxdfVyjnqz.Quc6PvwAom2AFJb57EHYKwT8zAZH0nK\"", "basic_auth_users.alice: the bcrypt hash of user \"alice\" has cost \"32\", but bcrypt allows 04 to 31 (the two digits after \"$2b$\"); hash the password again, for example with `htpasswd -nbBC 10 alice PASSWORD` (the part after \"alice:\")"),
        ("[basic_auth_users]\nbob = \"$2y$03$P7x.CJFlxyRHxdfVyjnqz.Quc6PvwAom2AFJb57EHYKwT8zAZH0nK\"", "basic_auth_users.bob: the bcrypt hash of user \"bob\" has cost \"03\", but bcrypt allows 04 to 31 (the two digits after \"$2b$\"); hash the password again, for example with `htpasswd -nbBC 10 bob PASSWORD` (the part after \"bob:\")"),
        ("[basic_auth_users]\ncarol = \"$2b$04$P7x.CJFlxyRHxdfVyjnqz!Quc6PvwAom2AFJb57EHYKwT8zAZH0nK\"", "basic_auth_users.carol: the bcrypt hash of user \"carol\" is malformed (the salt part is not valid base64); hash the password again, for example with `htpasswd -nbBC 10 carol PASSWORD` (the part after \"carol:\")"),
        ("auth_exempt = [\"/healthz\"]", "auth_exempt: \"/healthz\" is not a health route, expected any of \"/health\", \"/health/ready\", \"/health/detailed\""),
        ("auth_exempt = [\"/health\", \"/metrics\"]", "auth_exempt: the exposition cannot be exempt (to serve it without authentication, configure no users)"),
        ("auth_cache_ttl = \"2d\"", "auth_cache_ttl: unknown duration unit \"d\" in \"2d\", expected one of \"us\", \"µs\", \"ms\", \"s\", \"m\", \"min\", \"h\""),
        ("auth_cache_ttl = \"25h\"", "auth_cache_ttl: must be at most 24h, got 90000s"),
        ("auth_failures_per_second = 0", "auth_failures_per_second: must be at least 1: 0 would refuse every login"),
        ("auth_failures_per_second = -5", "auth_failures_per_second: must be between 1 and 4294967295, got -5"),
        ("allow_sources = []", "allow_sources: an empty list would refuse every source; leave the key out to allow any source, or list networks such as \"127.0.0.0/8\""),
        ("allow_sources = [\"127.0.0.0/8\", \"10.0.0.0/33\"]", "allow_sources[1]: the prefix length in \"10.0.0.0/33\" must be a number from 0 to 32"),
        ("allow_sources = [\"localhost\"]", "allow_sources[0]: \"localhost\" is not an IPv4 or IPv6 network, expected one such as \"10.0.0.0/8\", \"fd00::/8\" or \"127.0.0.1\""),
        ("allow_sources = [\"10.1.2.3/8\"]", "allow_sources[0]: \"10.1.2.3/8\" has bits set after the prefix, did you mean \"10.0.0.0/8\"?"),
        ("allow_sources = [\"fd00::1/8\"]", "allow_sources[0]: \"fd00::1/8\" has bits set after the prefix, did you mean \"fd00::/8\"?"),
    ];
    for (toml, expected) in cases {
        let err = ServerConfig::from_toml_str(toml).expect_err(toml);
        assert_eq!(err.to_string(), expected, "for {toml:?}");
    }
    let err = ServerConfig::from_toml_str("[helth]\nwindow = \"1m\"").expect_err("typo");
    assert!(err.to_string().contains("unknown field `helth`"), "{err}");
    assert!(
        err.to_string().contains("line 1"),
        "points at the line: {err}"
    );

    let dir = temp_dir("cfg");
    let file = dir.join("server.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:0\"\n[health]\nwindow = \"2m\"\nmax_p99_latency = \"750ms\"\n[prometheus]\nnaming = \"opentelemetry\"\n[prometheus.buckets]\n\"http.client.backoff.duration\" = [0.5, 5.0]\n").expect("write");
    let c = ServerConfig::from_file(&file).expect("valid file");
    assert_eq!(c.health.window, Duration::from_secs(120));
    assert_eq!(c.health.max_p99_latency, Some(Duration::from_millis(750)));
    assert_eq!(c.prometheus.buckets.len(), 1);
    std::fs::write(&file, "listen = 9464\n").expect("write");
    let err = ServerConfig::from_file(&file).expect_err("wrong type");
    assert!(
        err.to_string()
            .starts_with(&format!("{}: ", file.display())),
        "{err}"
    );
    assert!(err.to_string().contains("invalid type"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);

    // The keys of the authentication limits and the source networks.
    let c = ServerConfig::from_toml_str(
        "metrics_path = \"/prom/metrics.txt\"\n\
         auth_exempt = [\"/health\", \"/health/ready\"]\n\
         auth_cache_ttl = \"90s\"\n\
         auth_failures_per_second = 3\n\
         allow_sources = [\"127.0.0.0/8\", \"::1/128\", \"10.1.2.3\"]\n",
    )
    .expect("valid");
    assert_eq!(c.metrics_path, "/prom/metrics.txt");
    assert_eq!(c.auth_exempt, ["/health", "/health/ready"]);
    assert_eq!(c.auth_cache_ttl, Duration::from_secs(90));
    assert_eq!(c.auth_failures_per_second, 3);
    assert_eq!(
        c.allow_sources
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        ["127.0.0.0/8", "::1/128", "10.1.2.3/32"]
    );
    let d = ServerConfig::from_toml_str("").expect("defaults");
    assert!(d.auth_exempt.is_empty(), "nothing is exempt by default");
    assert!(d.allow_sources.is_empty(), "any source by default");
    assert_eq!(d.auth_cache_ttl, Duration::from_secs(300));
    assert_eq!(d.auth_failures_per_second, 10);
}

/// Values built in Rust are validated by `serve` and `try_router` as those
/// read from TOML.
#[tokio::test]
async fn invalid_metrics_paths_are_refused_before_serving() {
    for path in [
        "/:metrics",
        "/*metrics",
        "/{metrics}",
        "/{*metrics}",
        "",
        "metrics",
        "/health",
        "/health/ready",
        "//metrics",
        "/metrics/",
    ] {
        let config = ServerConfig {
            metrics_path: path.into(),
            ..loopback()
        };
        let err = try_router(&config).expect_err(path);
        assert_eq!(err.key(), Some("metrics_path"), "{path:?}: {err}");
        match serve(config).await {
            Err(ServeError::Config(e)) => assert_eq!(e, err),
            other => panic!("{path:?}: expected a configuration error, got {other:?}"),
        }
    }
    let mut config = auth_config();
    config.basic_auth_users.insert(
        "eve".into(),
        "$2b$99$P7x.CJFlxyRHxdfVyjnqz.Quc6PvwAom2AFJb57EHYKwT8zAZH0nK".into(),
    );
    let Err(ServeError::Config(e)) = serve(config).await else {
        panic!("an impossible cost must not start");
    };
    assert_eq!(e.key(), Some("basic_auth_users.eve"), "{e}");
}

/// Weird but plain paths are served as written, next to the health routes.
#[tokio::test]
async fn every_valid_metrics_path_is_served() {
    for path in [
        "/prom/metrics",
        "/metrics.txt",
        "/",
        "/a-b_c~d",
        "/v1/x/metrics",
        "/healthz",
        "/...",
    ] {
        let config = ServerConfig {
            metrics_path: path.into(),
            ..loopback()
        };
        let server = serve(config).await.expect(path);
        let base = server.base_url();
        let (code, ct, body) = get(&format!("{base}{path}")).await;
        assert_eq!((code, ct.as_str()), (200, METRICS_CONTENT_TYPE), "{path}");
        assert!(
            body.contains("# TYPE telemetry_server_refused_total counter"),
            "{path}"
        );
        let (code, _, _) = get(&format!("{base}/health")).await;
        assert_eq!(code, 200, "/health next to {path}");
        if path != "/metrics" {
            let (code, _, _) = get(&format!("{base}/metrics")).await;
            assert_eq!(code, 404, "/metrics is not served when {path} is");
        }
        server.shutdown().await.expect("shuts down");
    }
}

/// The benchmark of the credential cache, as a count: 1,000 authenticated
/// scrapes of /metrics through the real server run bcrypt at most twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_authenticated_scrapes_cost_at_most_two_bcrypt_verifications() {
    let server = serve(auth_config()).await.expect("serves");
    let url = format!("{}/metrics", server.base_url());
    let client = reqwest::Client::new();
    for i in 0..1000 {
        let r = client
            .get(&url)
            .basic_auth("prometheus", Some("s3cret-pass"))
            .send()
            .await
            .expect("scrape");
        assert_eq!(r.status().as_u16(), 200, "scrape {i}");
        let _ = r.bytes().await.expect("body");
    }
    let auth = server.basic_auth().expect("users are configured");
    let verifications = auth.bcrypt_verifications();
    println!("1000 authenticated scrapes: {verifications} bcrypt verification(s)");
    assert!(
        (1..=2).contains(&verifications),
        "1000 scrapes ran bcrypt {verifications} times"
    );
    assert_eq!((auth.refused(), auth.rate_limited()), (0, 0));
    server.shutdown().await.expect("shuts down");
}

/// Probes may be exempt, by configuration only; the rest stays guarded.
#[tokio::test]
async fn probe_paths_can_be_exempt_from_auth() {
    let mut config = auth_config();
    config.auth_exempt = vec!["/health".into(), "/health/ready".into()];
    let server = serve(config).await.expect("serves");
    let base = server.base_url();
    let client = reqwest::Client::new();
    for (path, expected) in [
        ("/health", 200),
        ("/health/ready", 200),
        ("/health/detailed", 401),
        ("/metrics", 401),
    ] {
        let r = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), expected, "{path} without credentials");
    }
    // Look-alike paths are not exempt routes: they are not routes at all.
    for path in ["/health/", "/Health", "/health/ready/", "//health"] {
        let r = client
            .get(format!("{base}{path}"))
            .send()
            .await
            .expect("send");
        assert!(!r.status().is_success(), "{path}: {}", r.status().as_u16());
    }
    let r = client
        .get(format!("{base}/health/detailed"))
        .basic_auth("prometheus", Some("s3cret-pass"))
        .send()
        .await
        .expect("send");
    assert!(matches!(r.status().as_u16(), 200 | 503), "{}", r.status());
    let auth = server.basic_auth().expect("users");
    assert_eq!(
        auth.bcrypt_verifications(),
        1,
        "exempt routes never run bcrypt"
    );
    server.shutdown().await.expect("shuts down");
}

/// Past the failure limit, credentials that are not cached get 429 without
/// bcrypt; a credential verified before keeps working.
#[tokio::test]
async fn failed_logins_are_rate_limited() {
    let mut config = auth_config();
    config.auth_failures_per_second = 2;
    let server = serve(config).await.expect("serves");
    let url = format!("{}/metrics", server.base_url());
    let client = reqwest::Client::new();
    let scrape = |user: &'static str, pass: &'static str| {
        let r = client.get(&url).basic_auth(user, Some(pass)).send();
        async move { r.await.expect("send") }
    };
    assert_eq!(
        scrape("prometheus", "s3cret-pass").await.status().as_u16(),
        200
    );
    let mut codes = Vec::new();
    for _ in 0..8 {
        let r = scrape("prometheus", "guess").await;
        if r.status().as_u16() == 429 {
            assert_eq!(
                r.headers().get("retry-after").and_then(|v| v.to_str().ok()),
                Some("1")
            );
        }
        codes.push(r.status().as_u16());
    }
    let unauthorized = codes.iter().filter(|c| **c == 401).count();
    let limited = codes.iter().filter(|c| **c == 429).count();
    assert_eq!(unauthorized + limited, 8, "{codes:?}");
    assert!(unauthorized >= 2 && limited >= 1, "{codes:?}");
    assert_eq!(&codes[..2], [401, 401], "the burst is verified: {codes:?}");
    let auth = server.basic_auth().expect("users");
    assert_eq!(
        auth.bcrypt_verifications(),
        1 + unauthorized as u64,
        "bcrypt ran for the login and each 401, never for a 429"
    );
    // The cached credential still gets in; the counters are in /metrics.
    let r = scrape("prometheus", "s3cret-pass").await;
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.expect("body");
    assert!(
        body.contains(&format!(
            "telemetry_server_refused_total{{reason=\"unauthorized\"}} {unauthorized}\n"
        )),
        "{body}"
    );
    assert!(
        body.contains(&format!(
            "telemetry_server_refused_total{{reason=\"rate_limited\"}} {limited}\n"
        )),
        "{body}"
    );
    server.shutdown().await.expect("shuts down");
}

fn networks(list: &[&str]) -> Vec<SourceNetwork> {
    list.iter()
        .map(|n| n.parse().unwrap_or_else(|e| panic!("{n}: {e}")))
        .collect()
}

/// Who may connect, with a real server on loopback: allowed when the list
/// holds 127.0.0.1, 403 on every path (before authentication) when it does
/// not, and counted.
#[tokio::test]
async fn sources_outside_allow_sources_are_refused() {
    let mut config = auth_config();
    config.allow_sources = networks(&["127.0.0.0/8", "::1/128"]);
    let server = serve(config).await.expect("serves");
    let base = server.base_url();
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{base}/metrics"))
        .basic_auth("prometheus", Some("s3cret-pass"))
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 200, "127.0.0.1 is in 127.0.0.0/8");
    let body = r.text().await.expect("body");
    assert!(
        body.contains("telemetry_server_refused_total{reason=\"source\"} 0\n"),
        "{body}"
    );
    let r = client
        .get(format!("{base}/metrics"))
        .send()
        .await
        .expect("send");
    assert_eq!(
        r.status().as_u16(),
        401,
        "an allowed source still needs credentials"
    );
    assert_eq!(server.refused_sources(), 0);
    server.shutdown().await.expect("shuts down");

    // Only 10.0.0.0/8: loopback is refused, credentials or not.
    let mut config = auth_config();
    config.allow_sources = networks(&["10.0.0.0/8", "fd00::/8"]);
    config.auth_exempt = vec!["/health".into()];
    let server = serve(config).await.expect("serves");
    let base = server.base_url();
    for path in [
        "/metrics",
        "/health",
        "/health/ready",
        "/health/detailed",
        "/nothing",
    ] {
        let r = client
            .get(format!("{base}{path}"))
            .basic_auth("prometheus", Some("s3cret-pass"))
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), 403, "{path} from 127.0.0.1");
    }
    assert_eq!(server.refused_sources(), 5);
    let auth = server.basic_auth().expect("users");
    assert_eq!(
        auth.bcrypt_verifications(),
        0,
        "a refused source never costs bcrypt"
    );
    server.shutdown().await.expect("shuts down");

    // The same from TOML, without authentication.
    let mut config =
        ServerConfig::from_toml_str("allow_sources = [\"10.0.0.0/8\"]").expect("valid");
    config.listen = "127.0.0.1:0".parse().expect("addr");
    let server = serve(config).await.expect("serves");
    let (code, _, _) = get(&format!("{}/health", server.base_url())).await;
    assert_eq!(code, 403);
    assert_eq!(server.refused_sources(), 1);
    server.shutdown().await.expect("shuts down");
}

/// A router embedded in the user's own app samples its health monitor too
/// (`serve` is not needed), and the sampler stops with the monitor.
#[test]
fn an_embedded_router_samples_its_health_monitor() {
    let mut config = ServerConfig::default();
    config.health.window = Duration::from_secs(6); // a sample every second
    let (router, monitor) = telemetry_runtime::server::try_router(&config).expect("valid");
    let mut waited = Duration::ZERO;
    while monitor.samples_taken() < 2 && waited < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(50));
        waited += Duration::from_millis(50);
    }
    assert!(
        monitor.samples_taken() >= 2,
        "sampled {} times in {waited:?}",
        monitor.samples_taken()
    );
    drop(router);
}
