//! The main job: two annotated adapters emit events into a JSON logging sink
//! and the Prometheus backend, then the exposition is printed.
//!
//! `cargo run -p telemetry-examples --release` (see README.md).

use std::time::Duration;

use telemetry_runtime::backends::prometheus::{render, PrometheusSink};
use telemetry_runtime::events::{CorrelationId, EventMeta, EventRef, HttpMethod, ResponseEvent};
use telemetry_runtime::sink::{FanoutSink, JsonLogSink};
use telemetry_runtime::{dispatch, emit, instrumented_adapter, InstrumentedAdapter};

/// A DOI metadata service.
#[instrumented_adapter(
    name = "crossref",
    hosts(cap = 16),
    labels(tenant(cap = 8)),
    events(resolved(tenant, doi: String, cached: bool)),
    slo(success = 99.5, latency_p99 = "500ms"),
)]
pub struct Crossref {
    base: &'static str,
}

/// A pool of outbound proxies.
#[instrumented_adapter(
    name = "proxy_pool",
    hosts(cap = 4),
    labels(region(cap = 2)),
    events(proxy_rotated(region, reason: String)),
)]
pub struct ProxyPool {
    proxies: Vec<&'static str>,
}

fn record_response<A: InstrumentedAdapter>(host: &str, status: u16, millis: u64, size: u64) {
    let telemetry = A::telemetry();
    let meta = EventMeta::new(
        telemetry,
        telemetry.hosts().intern_host(host, Some("https")),
        CorrelationId::next(),
        1,
    );
    telemetry.emit(EventRef::Response(&ResponseEvent {
        meta,
        method: HttpMethod::Get,
        status,
        duration: Duration::from_millis(millis),
        body_size: Some(size),
    }));
}

fn main() {
    let smoke = std::env::args().any(|a| a == "--smoke");
    let log: Box<dyn std::io::Write + Send> = if smoke {
        Box::new(std::io::sink())
    } else {
        Box::new(std::io::stderr())
    };
    dispatch::set_global_sink(
        FanoutSink::new()
            .with(PrometheusSink::new())
            .with(JsonLogSink::to_writer(log)),
    );

    let crossref = Crossref { base: "https://api.crossref.org" };
    let pool = ProxyPool { proxies: vec!["eu-1", "us-1"] };

    for (i, tenant) in ["acme", "globex", "initech", "acme"].iter().enumerate() {
        crossref.emit().resolved(tenant, format!("10.1000/{i}"), i % 2 == 0);
        record_response::<Crossref>("api.crossref.org:443", 200, 40 + i as u64 * 10, 2048);
    }
    record_response::<Crossref>("API.Crossref.org", 503, 900, 120);
    for region in ["eu", "us", "ap"] {
        emit!(pool, proxy_rotated(region, format!("{} unhealthy", pool.proxies[0])));
        record_response::<ProxyPool>("proxy.internal:8080", 200, 5, 64);
    }

    dispatch::flush_global();
    println!("# adapter {} at {}", Crossref::MANIFEST.name, crossref.base);
    print!("{}", render());
}
