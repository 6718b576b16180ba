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

fn response(
    a: &'static AdapterTelemetry,
    host: telemetry_runtime::labels::LabelValue,
    n: u64,
) -> ResponseEvent {
    ResponseEvent {
        meta: EventMeta::new(a, host, CorrelationId(n), 1),
        method: HttpMethod::Get,
        status: 200,
        duration: Duration::from_micros(800),
        body_size: Some(n),
    }
}

/// Three events per logical request: limiter answer, request, response.
fn emit_request(
    sink: &dyn EventSink,
    a: &'static AdapterTelemetry,
    host: telemetry_runtime::labels::LabelValue,
    n: u64,
) {
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

/// What a write-rate round drains its sink with: the events written.
type Drain = Box<dyn FnOnce() -> u64>;

/// Median write rates over `rounds` rounds of `requests` requests (3 events
/// each), wall-clock and per CPU second of the process, into the sink that
/// `open` makes in a fresh directory for round `r` (with the closure that
/// drains it).
fn write_rates<S: EventSink>(
    requests: u64,
    rounds: usize,
    mut open: impl FnMut(&std::path::Path, &Run, usize) -> (S, Drain),
) -> (f64, f64) {
    let a = adapter();
    let host = a.hosts().intern("api.example.org");
    let mut rates = Vec::new();
    let mut cpu_rates = Vec::new();
    for r in 0..rounds {
        let d = dir();
        let run = Run::start("bench");
        let (sink, drain) = open(&d, &run, r);
        let t = Instant::now();
        let c = cpu_secs("self");
        for i in 0..requests {
            emit_request(&sink, a, host, i);
        }
        let written = drain();
        let secs = t.elapsed().as_secs_f64();
        let cpu = cpu_secs("self") - c;
        assert_eq!(written, requests * 3);
        cpu_rates.push((requests * 3) as f64 / cpu);
        rates.push((requests * 3) as f64 / secs);
        let _ = std::fs::remove_dir_all(&d);
    }
    (median(rates), median(cpu_rates))
}

/// The queue both write-rate cases use.
fn bench_queue() -> QueueOptions {
    QueueOptions::default()
        .capacity(65_536)
        .batch(4096)
        .when_full(WhenFull::Block(Duration::from_secs(5)))
}

fn sqlite_rate(requests: u64, rounds: usize) {
    let (wall, cpu) = write_rates(requests, rounds, |d, run, r| {
        let opts = SqliteOptions::default().queue(bench_queue());
        let (sink, guard) =
            sqlite::open(d.join(format!("bench-{r}.sqlite")), run, opts).expect("open");
        let drain: Drain = Box::new(move || {
            let s = guard.finish(Duration::from_secs(600)).expect("finish");
            assert_eq!(s.events_dropped, 0);
            s.events_written
        });
        (sink, drain)
    });
    println!(
        "| SQLite sustained write rate ({} events per round: rate_limit + request + response per request; 2 rows per request) | {wall:.0} events/s wall; {cpu:.0} events per CPU second of the process |",
        requests * 3,
    );
}

fn jsonl_rate(requests: u64, rounds: usize) {
    let (wall, cpu) = write_rates(requests, rounds, |d, run, r| {
        let opts = jsonl::JsonlOptions::default().queue(bench_queue());
        let (sink, guard) =
            jsonl::open(d.join(format!("bench-{r}.jsonl")), run, opts).expect("open");
        let drain: Drain = Box::new(move || guard.shutdown(Duration::from_secs(600)).written);
        (sink, drain)
    });
    println!(
        "| JSONL sustained write rate ({} events per round, fsync never) | {wall:.0} events/s wall; {cpu:.0} events per CPU second of the process |",
        requests * 3,
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
        .and_then(|s| {
            s.split_whitespace()
                .nth(1)
                .and_then(|p| p.parse::<u64>().ok())
        })
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
    let scale: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    println!("| measure | result |");
    println!("|---|---|");
    // Memory first, before other cases grow the heap.
    memory_bound(2_000_000 * scale);
    enqueue_cost(1_000_000 * scale, 7);
    sqlite_rate(400_000 * scale, 3);
    jsonl_rate(400_000 * scale, 3);
}
