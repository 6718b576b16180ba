//! Every request logged to a JSON-lines file, with rotation.
//!
//! The built-in `JsonLogSink` writes one JSON object per event; it runs
//! behind `sink::non_blocking`, so the request path only enqueues. The
//! writer below rotates: past `MAX_BYTES` the file is renamed to `.1` (the
//! older `.1` to `.2`, ...) and a new one is started.
//!
//! Run: `cargo run -p telemetry-examples --example request_log -- [DIR]`

use std::fs::{self, File};
use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Duration;

use telemetry_runtime::sink::{non_blocking, JsonLogSink};
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};

#[instrumented_adapter(name = "logged", hosts(cap = 4))]
struct Logged {}

/// Rotate after this many bytes (small, so the example rotates).
const MAX_BYTES: u64 = 4 * 1024;
/// Rotated files kept besides the live one.
const KEEP: usize = 3;

/// A file writer that rotates by size: `requests.jsonl`, `.1`, `.2`, ...
struct Rotating {
    path: PathBuf,
    file: File,
    written: u64,
}

impl Rotating {
    fn open(path: PathBuf) -> io::Result<Self> {
        let file = File::create(&path)?;
        Ok(Rotating {
            path,
            file,
            written: 0,
        })
    }

    fn rotated(&self, n: usize) -> PathBuf {
        let mut p = self.path.clone().into_os_string();
        p.push(format!(".{n}"));
        p.into()
    }

    fn rotate(&mut self) -> io::Result<()> {
        self.file.flush()?;
        for n in (1..KEEP).rev() {
            let _ = fs::rename(self.rotated(n), self.rotated(n + 1));
        }
        fs::rename(&self.path, self.rotated(1))?;
        self.file = File::create(&self.path)?;
        self.written = 0;
        Ok(())
    }
}

impl Write for Rotating {
    // The sink writes one whole line per call, so rotating between calls
    // never splits a line.
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.written + buf.len() as u64 > MAX_BYTES && self.written > 0 {
            self.rotate()?;
        }
        let n = self.file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("telemetry-request-log"));
    fs::create_dir_all(&dir)?;
    let path = dir.join("requests.jsonl");

    // The sink behind a bounded queue; the guard flushes it at the end.
    let (sink, guard) = non_blocking(JsonLogSink::to_writer(Rotating::open(path.clone())?));
    Logged::telemetry().set_sink(Some(Box::new(sink)));

    let sim = Simulator::start().await?;
    sim.route(
        Route::host("api.test"),
        Script::sequence([Step::status(503), Step::ok()]).cycle(),
    );
    let client = AdapterClient::builder::<Logged>()
        .resolve("api.test", sim.addr())
        .retry(
            telemetry_runtime::client::RetryPolicy::default()
                .base_delay(Duration::from_millis(1))
                .max_delay(Duration::from_millis(2)),
        )
        .no_breaker()
        .build()?;
    for i in 0..20 {
        let r = client
            .get(sim.url("api.test", &format!("/item/{i}")))
            .send()
            .await?;
        let _ = r.bytes().await;
    }

    let report = guard.shutdown(Duration::from_secs(5));
    println!(
        "events written: {}, dropped: {}",
        report.written, report.dropped
    );
    let mut files: Vec<_> = fs::read_dir(&dir)?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .collect();
    files.sort();
    for f in &files {
        let lines = fs::read_to_string(f)?.lines().count();
        println!("{}: {lines} lines", f.display());
    }
    // Every line is one JSON object.
    let first = fs::read_to_string(&path)?;
    let line = first.lines().next().ok_or("empty log")?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    println!("a line: event={} adapter={}", v["event"], v["adapter"]);
    if files.len() < 2 {
        return Err("expected the log to rotate".into());
    }
    sim.shutdown().await;
    Ok(())
}
