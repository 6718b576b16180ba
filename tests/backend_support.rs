//! Fixtures shared by the backend tests (included with `#[path]`).
#![allow(dead_code)]

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use telemetry_runtime::client::RetryPolicy;
use telemetry_runtime::{AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};

use telemetry_runtime::events::*;
use telemetry_runtime::AdapterTelemetry;

/// Emits one of every lifecycle event for `host` of `adapter`, through the
/// adapter's installed sink, with fixed values the tests check:
/// two attempts (503 then 200), one timeout, one retry, one back-off, one
/// waited rate limit, closed → open breaker transition, two fallback tries.
pub fn drive(adapter: &'static AdapterTelemetry, host: &str) {
    let host = adapter.hosts().intern(host);
    let cid = CorrelationId::next();
    let m1 = EventMeta::new(adapter, host, cid, 1);
    let m2 = EventMeta::new(adapter, host, cid, 2);
    adapter.emit(EventRef::RateLimit(&RateLimitEvent {
        meta: m1,
        outcome: RateLimitOutcome::Waited,
        wait: Duration::from_millis(30),
        queue_depth: 3,
        saturation: 0.25,
    }));
    adapter.emit(EventRef::Request(&RequestEvent {
        meta: m1,
        method: HttpMethod::Get,
        url: format!("https://{}/works?rows=1", host.as_str()),
        port: 443,
    }));
    adapter.emit(EventRef::Response(&ResponseEvent {
        meta: m1,
        method: HttpMethod::Get,
        status: 503,
        duration: Duration::from_millis(40),
        body_size: Some(100),
    }));
    adapter.emit(EventRef::Retry(&RetryEvent {
        meta: m1,
        reason: RetryReason::Status,
        status: Some(503),
        delay: Duration::from_millis(200),
        delay_source: DelaySource::RetryAfter,
    }));
    adapter.emit(EventRef::Backoff(&BackoffEvent {
        meta: m1,
        delay: Duration::from_millis(200),
        source: DelaySource::RetryAfter,
    }));
    adapter.emit(EventRef::Request(&RequestEvent {
        meta: m2,
        method: HttpMethod::Get,
        url: format!("https://{}/works?rows=1", host.as_str()),
        port: 443,
    }));
    adapter.emit(EventRef::Response(&ResponseEvent {
        meta: m2,
        method: HttpMethod::Get,
        status: 200,
        duration: Duration::from_millis(20),
        body_size: Some(2048),
    }));
    let m3 = EventMeta::new(adapter, host, CorrelationId::next(), 1);
    adapter.emit(EventRef::Request(&RequestEvent {
        meta: m3,
        method: HttpMethod::Post,
        url: format!("https://{}/deposit", host.as_str()),
        port: 443,
    }));
    adapter.emit(EventRef::Error(&ErrorEvent {
        meta: m3,
        method: HttpMethod::Post,
        error_type: ErrorType::Timeout,
        message: "timed out".into(),
        duration: Duration::from_secs(3),
    }));
    adapter.emit(EventRef::BreakerTransition(&BreakerTransitionEvent {
        meta: m3,
        from: BreakerState::Closed,
        to: BreakerState::Open,
        reason: "consecutive_failures",
    }));
    adapter.emit(EventRef::Fallback(&FallbackEvent {
        meta: m3,
        tier: 0,
        source: "primary",
        outcome: FallbackOutcome::Failure,
        reason: Some("circuit_open"),
        elapsed: Duration::from_millis(1),
    }));
    adapter.emit(EventRef::Fallback(&FallbackEvent {
        meta: m3,
        tier: 1,
        source: "mirror",
        outcome: FallbackOutcome::Success,
        reason: None,
        elapsed: Duration::from_millis(15),
    }));
}

/// The value of the sample line `series` (exact name and labels) in `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// Whether the tests must not skip for a missing tool (`CI` set and not
/// `false`/`0`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Finds `tool` on `PATH`; `None` means skip (loudly), and panics in CI.
pub fn require_tool(tool: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let msg = format!(
            "`{tool}` is not installed: run `bash scripts/install-prometheus.sh` (Debian package `prometheus`)"
        );
        if in_ci() {
            panic!("{msg} (CI is set, so this is a failure, not a skip)");
        }
        eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
    }
    found
}

/// Runs `promtool check metrics` on `text`: `(success, combined output)`.
pub fn promtool_check_metrics(promtool: &std::path::Path, text: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .expect("promtool reads stdin");
    let out = child.wait_with_output().expect("promtool finishes");
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), all)
}

/// Every `# TYPE` family name, in order, with its type.
pub fn families(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut it = l.split(' ');
            Some((it.next()?.to_owned(), it.next()?.to_owned()))
        })
        .collect()
}

/// A writer appending to a shared buffer: hand clones to a log layer or a
/// sink, read what they wrote from the original.
#[derive(Clone, Default)]
pub struct Captured(pub Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("lock").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A simulator whose `host` answers 503 once, then 200, and a client of
/// adapter `T` resolving `host` to it with millisecond retries and no breaker:
/// one logical request gives two wire attempts.
pub async fn flaky_host<T: InstrumentedAdapter>(host: &str) -> (Simulator, AdapterClient) {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(
        Route::host(host),
        Script::sequence([Step::status(503), Step::ok()]),
    );
    let client = AdapterClient::builder::<T>()
        .resolve(host, sim.addr())
        .retry(
            RetryPolicy::default()
                .max_attempts(3)
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(2)),
        )
        .no_breaker()
        .build()
        .expect("client");
    (sim, client)
}
