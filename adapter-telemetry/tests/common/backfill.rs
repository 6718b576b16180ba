//! The backfilled Prometheus that `tests/history.rs` and
//! `benches/history.rs` query: 90 days of series built to known answers.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use telemetry_tests::support::{free_port, require_tool, temp_dir};

pub const DAY: i64 = 86_400;
pub const INTERVAL: i64 = 600;

/// The series, built to known answers, ending at `t0`:
/// - requests: a.test 2/s of 200 always and 0.5/s of 503 over the last 45
///   days (error ratio 0.2 then, 0 before); b.test 1/s of 200;
/// - durations of a.test: 1/s ≤ 50 ms, 2/s ≤ 100 ms, 2.5/s ≤ 250 ms
///   (p50 = 62.5 ms by bucket interpolation);
/// - retries of a.test 0.1/s; queue depth of a.test 3;
/// - a.test's breaker open (1) from t0-80d for one day, closed otherwise.
pub fn openmetrics(t0: i64) -> String {
    let start = t0 - 90 * DAY;
    let mut out = String::with_capacity(16 << 20);
    let steps = || (start..=t0).step_by(INTERVAL as usize);
    let counter = |out: &mut String, family: &str, series: &[(&str, &dyn Fn(i64) -> f64)]| {
        let _ = writeln!(out, "# TYPE {family} counter");
        for (labels, rate) in series {
            let mut v = 0.0;
            for t in steps() {
                let _ = writeln!(out, "{family}_total{{{labels}}} {v} {t}");
                v += rate(t) * INTERVAL as f64;
            }
        }
    };
    let errors_since = t0 - 45 * DAY;
    counter(
        &mut out,
        "http_requests",
        &[
            (
                r#"adapter="hist",host="a.test",method="GET",status="200""#,
                &|_| 2.0,
            ),
            (
                r#"adapter="hist",host="a.test",method="GET",status="503""#,
                &move |t| {
                    if t >= errors_since {
                        0.5
                    } else {
                        0.0
                    }
                },
            ),
            (
                r#"adapter="hist",host="b.test",method="GET",status="200""#,
                &|_| 1.0,
            ),
        ],
    );
    counter(
        &mut out,
        "http_retries",
        &[(r#"adapter="hist",host="a.test",reason="status""#, &|_| 0.1)],
    );
    out.push_str("# TYPE http_request_duration_seconds histogram\n");
    for (le, rate) in [("0.05", 1.0), ("0.1", 2.0), ("0.25", 2.5), ("+Inf", 2.5)] {
        for (i, t) in steps().enumerate() {
            let v = rate * (i as f64) * INTERVAL as f64;
            let _ = writeln!(
                out,
                r#"http_request_duration_seconds_bucket{{adapter="hist",host="a.test",le="{le}"}} {v} {t}"#
            );
        }
    }
    for (i, t) in steps().enumerate() {
        let n = 2.5 * (i as f64) * INTERVAL as f64;
        let _ = writeln!(
            out,
            r#"http_request_duration_seconds_sum{{adapter="hist",host="a.test"}} {} {t}"#,
            n * 0.08
        );
    }
    for (i, t) in steps().enumerate() {
        let n = 2.5 * (i as f64) * INTERVAL as f64;
        let _ = writeln!(
            out,
            r#"http_request_duration_seconds_count{{adapter="hist",host="a.test"}} {n} {t}"#
        );
    }
    out.push_str("# TYPE http_limiter_queue_depth gauge\n");
    for t in steps() {
        let _ = writeln!(
            out,
            r#"http_limiter_queue_depth{{adapter="hist",host="a.test"}} 3 {t}"#
        );
    }
    out.push_str("# TYPE http_circuit_breaker_state gauge\n");
    let open = (t0 - 80 * DAY)..(t0 - 79 * DAY);
    for t in steps() {
        let v = u8::from(open.contains(&t));
        let _ = writeln!(
            out,
            r#"http_circuit_breaker_state{{adapter="hist",host="a.test"}} {v} {t}"#
        );
    }
    out.push_str("# EOF\n");
    out
}

pub struct Prometheus {
    child: Child,
    /// Scratch directory (removed on drop).
    pub dir: PathBuf,
    /// `http://127.0.0.1:<port>`.
    pub base: String,
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn http_get_status(port: u16, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
    let mut buf = String::new();
    s.read_to_string(&mut buf).ok()?;
    buf.split_whitespace().nth(1)?.parse().ok()
}

/// Backfills `openmetrics(t0)` and starts Prometheus on its blocks.
pub fn start(t0: i64) -> Option<Prometheus> {
    let promtool = require_tool("promtool")?;
    let prometheus = require_tool("prometheus")?;
    let dir = temp_dir("history");
    let input = dir.join("in.om");
    std::fs::write(&input, openmetrics(t0)).expect("write OpenMetrics");
    let data = dir.join("data");
    let out = Command::new(promtool)
        .args([
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=744h",
        ])
        .arg(&input)
        .arg(&data)
        .output()
        .expect("promtool runs");
    assert!(
        out.status.success(),
        "backfill failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let config = dir.join("prometheus.yml");
    std::fs::write(&config, "global:\n  scrape_interval: 1m\n").expect("config");
    let port = free_port();
    let child = Command::new(prometheus)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!("--storage.tsdb.path={}", data.display()))
        .arg("--storage.tsdb.retention.time=400d")
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("prometheus starts");
    let p = Prometheus {
        child,
        dir,
        base: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while http_get_status(port, "/-/ready") != Some(200) {
        assert!(
            Instant::now() < deadline,
            "prometheus not ready within 60 s"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    Some(p)
}

/// The end of the backfilled data: an hour ago, on the sample grid.
pub fn data_end() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    now / INTERVAL * INTERVAL - 3_600
}
