//! Event store benchmarks (issue 11), one line of markdown per figure:
//!
//! 1. enqueue cost on the request path (the queue's `on_event`) beside a
//!    direct call of a synchronous sink (`JsonLogSink` into `io::sink()`);
//! 2. sustained SQLite write rate (events/s from the first emit to the
//!    guard's `finish`, everything committed);
//! 3. sustained JSONL write rate (same);
//! 4. memory when the sink is slower than the traffic: the queue's depth and
//!    the process's resident memory stay bounded by the capacity.
//!
//! `cargo run --release --manifest-path bench/Cargo.toml --bin store [-- N]`

use std::time::{Duration, Instant};

use telemetry_runtime::events::*;
use telemetry_runtime::run::Run;
use telemetry_runtime::sink::queue::{non_blocking_with, QueueOptions, WhenFull};
use telemetry_runtime::sink::sqlite::{self, SqliteOptions};
use telemetry_runtime::sink::{jsonl, EventSink, JsonLogSink};
use telemetry_runtime::{instrumented_adapter, AdapterTelemetry, InstrumentedAdapter};

#[instrumented_adapter(name = "bench_store", hosts(cap = 16))]
struct Store {}

fn adapter() -> &'static AdapterTelemetry {
    Store::telemetry()
}

fn response(a: &'static AdapterTelemetry, host: telemetry_runtime::labels::LabelValue, n: u64) -> ResponseEvent {
    ResponseEvent {
        meta: EventMeta::new(a, host, CorrelationId(n), 1),
        method: HttpMethod::Get,
        status: 200,
        duration: Duration::from_micros(800),
        body_size: Some(n),
    }
}

/// Three events per logical request: limiter answer, request, response.
fn emit_request(sink: &dyn EventSink, a: &'static AdapterTelemetry, host: telemetry_runtime::labels::LabelValue, n: u64) {
    let meta = EventMeta::new(a, host, CorrelationId(n), 1);
    sink.on_event(EventRef::RateLimit(&RateLimitEvent {
        meta,
        outcome: RateLimitOutcome::Acquired,
        wait: Duration::ZERO,
        queue_depth: 0,
        saturation: 0.0,
    }));
    sink.on_event(EventRef::Request(&RequestEvent {
        meta,
        method: HttpMethod::Get,
        url: "https://api.example.org/works?rows=1".into(),
        port: 443,
    }));
    sink.on_event(EventRef::Response(&response(a, host, n)));
}

struct Null;
impl EventSink for Null {
    fn name(&self) -> &'static str {
        "bench_null"
    }
}

/// CPU seconds (user + system) of `/proc/<what>/stat` (`self`: the
/// process, `thread-self`: this thread); 10 ms resolution.
fn cpu_secs(what: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{what}/stat")).unwrap_or_default();
    let after = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    // Fields 14 and 15 (utime, stime), counted after the command name.
    (ticks(11) + ticks(12)) / 100.0
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn enqueue_cost(n: u64, rounds: usize) {
    let a = adapter();
    let host = a.hosts().intern("api.example.org");
    let events: Vec<ResponseEvent> = (0..1024).map(|i| response(a, host, i)).collect();
    let mut queued = Vec::new();
    let mut queued_cpu = Vec::new();
    let mut direct = Vec::new();
    for _ in 0..rounds {
        let (sink, guard) = non_blocking_with(
            Null,
            QueueOptions::default().capacity(n as usize + 1).batch(4096),
        );
        let t = Instant::now();
        let c = cpu_secs("thread-self");
        for i in 0..n {
            sink.on_event(EventRef::Response(&events[(i & 1023) as usize]));
        }
        queued.push(t.elapsed().as_nanos() as f64 / n as f64);
        queued_cpu.push((cpu_secs("thread-self") - c) * 1e9 / n as f64);
        let r = guard.shutdown(Duration::from_secs(60));
        assert_eq!(r.dropped, 0);
        let log = JsonLogSink::to_writer(std::io::sink());
        let t = Instant::now();
        for i in 0..n {
            log.on_event(EventRef::Response(&events[(i & 1023) as usize]));
        }
        direct.push(t.elapsed().as_nanos() as f64 / n as f64);
    }
    println!(
        "| enqueue on the request path (queue `on_event`, response event, writer draining concurrently) | {:.1} ns/event wall, {:.1} ns/event CPU of the emitting thread |",
        median(queued),
        median(queued_cpu)
    );
    println!(
        "| direct call of a synchronous sink (`JsonLogSink` into `io::sink()`) | {:.1} ns/event |",
        median(direct)
    );
}

fn dir() -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("store-bench-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).expect("temp dir");
    d
}

fn sqlite_rate(requests: u64, rounds: usize) {
    let a = adapter();
    let host = a.hosts().intern("api.example.org");
    let mut rates = Vec::new();
    let mut cpu_rates = Vec::new();
    for r in 0..rounds {
        let d = dir();
        let run = Run::start("bench");
        let opts = SqliteOptions::default().queue(
            QueueOptions::default()
                .capacity(65_536)
                .batch(4096)
                .when_full(WhenFull::Block(Duration::from_secs(5))),
        );
        let (sink, guard) = sqlite::open(d.join(format!("bench-{r}.sqlite")), &run, opts).expect("open");
        let t = Instant::now();
        let c = cpu_secs("self");
        for i in 0..requests {
            emit_request(&sink, a, host, i);
        }
        let s = guard.finish(Duration::from_secs(600)).expect("finish");
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs("self") - c;
        cpu_rates.push((requests * 3) as f64 / cpu);
        assert_eq!(s.events_dropped, 0);
        assert_eq!(s.events_written, requests * 3);
        rates.push((requests * 3) as f64 / secs);
        let _ = std::fs::remove_dir_all(&d);
    }
    println!(
        "| SQLite sustained write rate ({} events per round: rate_limit + request + response per request; 2 rows per request) | {:.0} events/s wall; {:.0} events per CPU second of the process |",
        requests * 3,
        median(rates),
        median(cpu_rates)
    );
}

fn jsonl_rate(requests: u64, rounds: usize) {
    let a = adapter();
    let host = a.hosts().intern("api.example.org");
    let mut rates = Vec::new();
    let mut cpu_rates = Vec::new();
    for r in 0..rounds {
        let d = dir();
        let run = Run::start("bench");
        let opts = jsonl::JsonlOptions::default().queue(
            QueueOptions::default()
                .capacity(65_536)
                .batch(4096)
                .when_full(WhenFull::Block(Duration::from_secs(5))),
        );
        let (sink, guard) = jsonl::open(d.join(format!("bench-{r}.jsonl")), &run, opts).expect("open");
        let t = Instant::now();
        let c = cpu_secs("self");
        for i in 0..requests {
            emit_request(&sink, a, host, i);
        }
        let rep = guard.shutdown(Duration::from_secs(600));
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs("self") - c;
        cpu_rates.push((requests * 3) as f64 / cpu);
        assert_eq!(rep.written, requests * 3);
        rates.push((requests * 3) as f64 / secs);
        let _ = std::fs::remove_dir_all(&d);
    }
    println!(
        "| JSONL sustained write rate ({} events per round, fsync never) | {:.0} events/s wall; {:.0} events per CPU second of the process |",
        requests * 3,
        median(rates),
        median(cpu_rates)
    );
}

/// A sink slower than the traffic: 1 ms per batch of 64 events.
struct Slow;
impl EventSink for Slow {
    fn name(&self) -> &'static str {
        "bench_slow"
    }
    fn end_batch(&self) -> u64 {
        std::thread::sleep(Duration::from_millis(1));
        0
    }
}

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|p| p.parse::<u64>().ok()))
        .map(|pages| pages * 4)
        .unwrap_or(0)
}

fn memory_bound(events: u64) {
    let a = adapter();
    let host = a.hosts().intern("api.example.org");
    for capacity in [1_000usize, 10_000, 100_000] {
        let before = rss_kib();
        let (sink, guard) =
            non_blocking_with(Slow, QueueOptions::default().capacity(capacity).batch(64));
        let mut max_depth = 0;
        let mut max_rss = before;
        for i in 0..events {
            sink.on_event(EventRef::Response(&response(a, host, i)));
            if i % 10_000 == 0 {
                max_depth = max_depth.max(guard.queued());
                max_rss = max_rss.max(rss_kib());
            }
        }
        let dropped = guard.dropped();
        drop(sink);
        let rep = guard.shutdown(Duration::from_secs(0));
        println!(
            "| slow sink (64 events/ms), {events} events offered, capacity {capacity} | max depth {max_depth}, dropped {dropped} (counted), RSS +{} KiB |",
            max_rss.saturating_sub(before)
        );
        let _ = rep;
    }
}

fn main() {
    let scale: u64 = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1);
    println!("| measure | result |");
    println!("|---|---|");
    // Memory first, before other cases grow the heap.
    memory_bound(2_000_000 * scale);
    enqueue_cost(1_000_000 * scale, 7);
    sqlite_rate(400_000 * scale, 3);
    jsonl_rate(400_000 * scale, 3);
}
