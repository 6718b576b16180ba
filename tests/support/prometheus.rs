//! A real Prometheus (Debian's `prometheus` binary) started by a test on
//! loopback, with a free port and a scratch directory of its own.
//!
//! The caller finds the binary with [`crate::support::require_tool`] (so a
//! missing one fails under `TELEMETRY_REQUIRE_TOOLS=1` or CI), writes any
//! rule files into [`prometheus_dir`], and passes the configuration; the
//! process is killed and reaped, and its directory removed, when the
//! [`Prometheus`] is dropped, also on panic. Its HTTP API can be read with
//! [`Prometheus::get`] and [`Prometheus::query`] (plain HTTP/1.0 over a
//! `TcpStream`: the fixtures' library has no HTTP client).

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{free_port, temp_dir};

/// The scratch directory a Prometheus started with `tag` uses (created):
/// write rule files here before [`Prometheus::start`] and name them
/// relative to it in the configuration.
pub fn prometheus_dir(tag: &str) -> PathBuf {
    temp_dir(&format!("prom-{tag}"))
}

/// A running Prometheus; dropping it kills it and removes its directory.
#[derive(Debug)]
pub struct Prometheus {
    child: Child,
    dir: PathBuf,
    port: u16,
}

impl Prometheus {
    /// Starts `binary` with `config` (the text of `prometheus.yml`, written
    /// to [`prometheus_dir`]`(tag)`), its data in that directory, listening
    /// on a free loopback port, logging warnings to the test's stderr;
    /// `extra_args` are appended (`--web.enable-lifecycle`, ...). Panics if
    /// the process cannot be spawned: the binary was found, so that is a
    /// broken install, a test failure.
    pub fn start(binary: &Path, tag: &str, config: &str, extra_args: &[&str]) -> Prometheus {
        let dir = prometheus_dir(tag);
        let data = dir.join("prom-data");
        std::fs::create_dir_all(&data).expect("prometheus data dir");
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).expect("write prometheus.yml");
        let port = free_port();
        let child = Command::new(binary)
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .args(extra_args)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("prometheus starts");
        Prometheus { child, dir, port }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its scratch directory (configuration, rules, data).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The process (to check it still runs, or its pid).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// `GET path` on its HTTP API: `(status, body)`, `None` when it does
    /// not answer (yet).
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
        write!(s, "GET {path} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).ok()?;
        let text = String::from_utf8_lossy(&raw);
        let (head, body) = text.split_once("\r\n\r\n")?;
        let status = head.split(' ').nth(1)?.parse().ok()?;
        Some((status, body.to_owned()))
    }

    /// Waits until `/-/ready` answers 200; panics after `limit`.
    pub fn wait_ready(&self, limit: Duration) {
        let start = Instant::now();
        while self.get("/-/ready").map(|(s, _)| s) != Some(200) {
            assert!(
                start.elapsed() < limit,
                "prometheus not ready within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The JSON of `GET path` when it answers 200 with JSON.
    pub fn get_json(&self, path: &str) -> Option<Value> {
        match self.get(path)? {
            (200, body) => serde_json::from_str(&body).ok(),
            _ => None,
        }
    }

    /// An instant query (`/api/v1/query`) at `time` (Unix seconds; now when
    /// `None`): the `data.result` array of a successful answer.
    pub fn query(&self, promql: &str, time: Option<f64>) -> Option<Vec<Value>> {
        let mut path = format!("/api/v1/query?query={}", urlencode(promql));
        if let Some(t) = time {
            path.push_str(&format!("&time={t:.3}"));
        }
        let v = self.get_json(&path)?;
        (v["status"] == "success").then_some(())?;
        v["data"]["result"].as_array().cloned()
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Percent-encodes `s` for a query string (everything but unreserved
/// characters).
pub fn urlencode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}
