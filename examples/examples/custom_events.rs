//! One adapter's custom events with bounded labels, and what they become in
//! Prometheus and in the logs.
//!
//! `tenant` is a bounded label (at most 2 values; the rest fold into
//! `_OTHER`), so the event's counter cannot grow without bound. The same
//! event goes to the Prometheus sink (a counter per label set) and to the
//! JSON log sink (one line with every field) through a fan-out.
//!
//! Run: `cargo run -p telemetry-examples --example custom_events`

use std::sync::{Arc, Mutex};

use telemetry_runtime::backends::prometheus::{render, PrometheusSink};
use telemetry_runtime::sink::{FanoutSink, JsonLogSink};
use telemetry_runtime::{emit, instrumented_adapter, InstrumentedAdapter};

#[instrumented_adapter(
    name = "catalogue",
    hosts(cap = 4),
    labels(tenant(cap = 2)),
    events(cache_lookup(tenant, key: String, hit: bool))
)]
struct Catalogue {}

/// A writer into a shared buffer, to show the log lines.
#[derive(Clone, Default)]
struct Buffer(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Buffer {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let logs = Buffer::default();
    let fanout = FanoutSink::new()
        .with(PrometheusSink::new())
        .with(JsonLogSink::to_writer(logs.clone()));
    Catalogue::telemetry().set_sink(Some(Box::new(fanout)));

    let c = Catalogue {};
    // Three tenants, a label of 2: the third folds into `other`.
    for (tenant, key, hit) in [
        ("acme", "a", true),
        ("acme", "b", false),
        ("globex", "c", true),
        ("initech", "d", true),
    ] {
        emit!(c, cache_lookup(tenant, key.to_string(), hit));
    }

    println!("-- Prometheus --");
    let text = render();
    for line in text.lines().filter(|l| l.contains("cache_lookup")) {
        println!("{line}");
    }
    println!("-- JSON log --");
    let lines = String::from_utf8(logs.0.lock().map_err(|_| "poisoned")?.clone())?;
    print!("{lines}");
    if !text.contains("cache_lookup") || lines.lines().count() != 4 {
        return Err("expected the event in both outputs".into());
    }
    Ok(())
}
