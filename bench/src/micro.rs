//! Hot-path cases: recording one request's metrics, and one counter
//! increment, with a host label, ours and the peers'.

use std::hint::black_box;
use std::sync::OnceLock;
use std::time::Duration;

use crate::{host_metrics_of, HostMetricsExt};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter as PcCounter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram as PcHistogram;
use telemetry_runtime::backends::prometheus::{render_into, PrometheusSink};
use telemetry_runtime::backends::prometheus::{DURATION_BUCKETS_SECONDS, SIZE_BUCKETS_BYTES};
use telemetry_runtime::events::{
    CorrelationId, EventMeta, HttpMethod, RateLimitEvent, RateLimitOutcome, RequestEvent,
    ResponseEvent,
};
use telemetry_runtime::labels::LabelValue;
use telemetry_runtime::sink::EventSink;
use telemetry_runtime::{instrumented_adapter, AdapterRef, AdapterTelemetry, InstrumentedAdapter};

use crate::harness::Case;

/// The eight hosts every case rotates through.
pub const HOSTS: [&str; 8] = [
    "api.crossref.org",
    "doi.org",
    "api.datacite.org",
    "export.arxiv.org",
    "api.openalex.org",
    "eutils.ncbi.nlm.nih.gov",
    "api.unpaywall.org",
    "zenodo.org",
];

const TABLE: usize = 1024;

/// Pre-computed inputs shared by every case: durations log-uniform between
/// 1 ms and 2 s, sizes between 100 B and 1 MB.
#[derive(Debug)]
pub struct Inputs {
    /// Request durations.
    pub durations: Vec<Duration>,
    /// Response sizes, bytes.
    pub sizes: Vec<u64>,
}

impl Inputs {
    /// The shared tables (deterministic).
    pub fn get() -> &'static Inputs {
        static INPUTS: OnceLock<Inputs> = OnceLock::new();
        INPUTS.get_or_init(|| {
            let mut x: u64 = 0x2545_F491_4F6C_DD1D;
            let mut next = move || {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 11) as f64 / (1u64 << 53) as f64
            };
            let durations = (0..TABLE)
                .map(|_| Duration::from_secs_f64(1e-3 * 2000f64.powf(next())))
                .collect();
            let sizes = (0..TABLE)
                .map(|_| (100.0 * 10_000f64.powf(next())) as u64)
                .collect();
            Inputs { durations, sizes }
        })
    }
}

/// The annotated adapter the "ours" cases record into.
#[instrumented_adapter(name = "bench", hosts(cap = 16))]
#[derive(Debug)]
pub struct BenchAdapter {}

/// The global `metrics` recorder (metrics-exporter-prometheus, with
/// histogram buckets equal to ours), installed once.
pub fn metrics_handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(
                metrics_exporter_prometheus::Matcher::Suffix("seconds".into()),
                DURATION_BUCKETS_SECONDS,
            )
            .and_then(|b| {
                b.set_buckets_for_metric(
                    metrics_exporter_prometheus::Matcher::Suffix("bytes".into()),
                    SIZE_BUCKETS_BYTES,
                )
            })
            .and_then(|b| b.set_buckets(DURATION_BUCKETS_SECONDS));
        match builder.and_then(|b| b.install_recorder()) {
            Ok(h) => h,
            Err(e) => panic!("cannot install the metrics-exporter-prometheus recorder: {e}"),
        }
    })
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReqLabels {
    adapter: &'static str,
    host: String,
    method: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DurLabels {
    adapter: &'static str,
    host: String,
    method: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct SizeLabels {
    adapter: &'static str,
    host: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HostLabel {
    host: String,
}

type HistFamily<L> = Family<L, PcHistogram, fn() -> PcHistogram>;

fn duration_histogram() -> PcHistogram {
    PcHistogram::new(DURATION_BUCKETS_SECONDS.iter().copied())
}
fn size_histogram() -> PcHistogram {
    PcHistogram::new(SIZE_BUCKETS_BYTES.iter().copied())
}

fn our_hosts() -> [LabelValue; 8] {
    let tel = BenchAdapter::telemetry();
    HOSTS.map(|h| tel.hosts().intern_host(h, Some("https")))
}

/// A rust-prometheus metric vector (registration cannot fail for these
/// static, valid names).
/// rust-prometheus's three request families, buckets equal to ours.
fn rust_prometheus_vecs() -> (
    prometheus::IntCounterVec,
    prometheus::HistogramVec,
    prometheus::HistogramVec,
) {
    let req = prom(prometheus::IntCounterVec::new(
        prometheus::Opts::new("http_requests_total", "requests"),
        &["adapter", "host", "method", "status"],
    ));
    let dur = prom(prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("http_request_duration_seconds", "duration")
            .buckets(DURATION_BUCKETS_SECONDS.to_vec()),
        &["adapter", "host", "method"],
    ));
    let size = prom(prometheus::HistogramVec::new(
        prometheus::HistogramOpts::new("http_response_size_bytes", "size")
            .buckets(SIZE_BUCKETS_BYTES.to_vec()),
        &["adapter", "host"],
    ));
    (req, dur, size)
}

/// prometheus-client label sets of the three request families, one triple
/// per bench host.
fn prometheus_client_label_sets() -> Vec<(ReqLabels, DurLabels, SizeLabels)> {
    HOSTS
        .iter()
        .map(|h| {
            (
                ReqLabels {
                    adapter: "bench",
                    host: h.to_string(),
                    method: "GET",
                    status: 200,
                },
                DurLabels {
                    adapter: "bench",
                    host: h.to_string(),
                    method: "GET",
                },
                SizeLabels {
                    adapter: "bench",
                    host: h.to_string(),
                },
            )
        })
        .collect()
}

fn prom<T>(r: prometheus::Result<T>) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("rust-prometheus rejected a static metric definition: {e}"),
    }
}

/// The autometrics-annotated function: autometrics counts the call and times
/// it (its own clock reads) into `function_calls_total` and
/// `function_calls_duration_seconds`, through the `metrics` facade. It has no
/// way to take a host label.
#[autometrics::autometrics]
#[inline(never)]
pub fn autometrics_request(host: &str, size: u64) -> u64 {
    black_box(host.len() as u64 ^ size)
}

/// Cases recording one request: a counter (adapter, host, method, status),
/// a duration histogram (adapter, host, method), a size histogram
/// (adapter, host).
pub fn record_cases() -> Vec<Case> {
    let inputs = Inputs::get();
    metrics_handle();
    let mut cases = Vec::new();

    cases.push(Case::new("baseline: loop and inputs only", move |n| {
        for i in 0..n as usize {
            let i = black_box(i);
            let k = i % TABLE;
            black_box((HOSTS[i & 7], inputs.durations[k], inputs.sizes[k]));
        }
    }));

    let tel = BenchAdapter::telemetry();
    let hosts = our_hosts();
    cases.push(Case::new(
        "ours: host_metrics(host).record(..), host interned",
        move |n| {
            for i in 0..n as usize {
                let i = black_box(i);
                let k = i % TABLE;
                tel.host_metrics(hosts[i & 7]).record(
                    HttpMethod::Get,
                    200,
                    inputs.durations[k],
                    Some(inputs.sizes[k]),
                );
            }
        },
    ));

    cases.push(Case::new(
        "ours: intern_host(&str) + record(..)",
        move |n| {
            for i in 0..n as usize {
                let i = black_box(i);
                let k = i % TABLE;
                let host = tel.hosts().intern_host(HOSTS[i & 7], Some("https"));
                tel.host_metrics(host).record(
                    HttpMethod::Get,
                    200,
                    inputs.durations[k],
                    Some(inputs.sizes[k]),
                );
            }
        },
    ));

    cases.push(prometheus_sink_case());

    cases.push(Case::new(
        "prometheus-client: Family::get_or_create per call",
        {
            let req: Family<ReqLabels, PcCounter> = Family::default();
            let dur: HistFamily<DurLabels> = Family::new_with_constructor(duration_histogram);
            let size: HistFamily<SizeLabels> = Family::new_with_constructor(size_histogram);
            let keys = prometheus_client_label_sets();
            move |n| {
                for i in 0..n as usize {
                    let i = black_box(i);
                    let k = i % TABLE;
                    let (r, d, s) = &keys[i & 7];
                    req.get_or_create(r).inc();
                    dur.get_or_create(d)
                        .observe(inputs.durations[k].as_secs_f64());
                    size.get_or_create(s).observe(inputs.sizes[k] as f64);
                }
            }
        },
    ));

    cases.push(Case::new("prometheus-client: cached handles", {
        let req: Family<ReqLabels, PcCounter> = Family::default();
        let dur: HistFamily<DurLabels> = Family::new_with_constructor(duration_histogram);
        let size: HistFamily<SizeLabels> = Family::new_with_constructor(size_histogram);
        let handles: Vec<_> = prometheus_client_label_sets()
            .iter()
            .map(|(r, d, s)| {
                (
                    req.get_or_create_owned(r),
                    dur.get_or_create_owned(d),
                    size.get_or_create_owned(s),
                )
            })
            .collect();
        move |n| {
            for i in 0..n as usize {
                let i = black_box(i);
                let k = i % TABLE;
                let (c, d, s) = &handles[i & 7];
                c.inc();
                d.observe(inputs.durations[k].as_secs_f64());
                s.observe(inputs.sizes[k] as f64);
            }
        }
    }));

    cases.push(Case::new("rust-prometheus: with_label_values per call", {
        let (req, dur, size) = rust_prometheus_vecs();
        move |n| {
            for i in 0..n as usize {
                let i = black_box(i);
                let k = i % TABLE;
                let host = HOSTS[i & 7];
                req.with_label_values(&["bench", host, "GET", "200"]).inc();
                dur.with_label_values(&["bench", host, "GET"])
                    .observe(inputs.durations[k].as_secs_f64());
                size.with_label_values(&["bench", host])
                    .observe(inputs.sizes[k] as f64);
            }
        }
    }));

    cases.push(Case::new("rust-prometheus: cached handles", {
        let (req, dur, size) = rust_prometheus_vecs();
        let handles: Vec<_> = HOSTS
            .iter()
            .map(|h| {
                (
                    req.with_label_values(&["bench", h, "GET", "200"]),
                    dur.with_label_values(&["bench", h, "GET"]),
                    size.with_label_values(&["bench", h]),
                )
            })
            .collect();
        move |n| {
            for i in 0..n as usize {
                let i = black_box(i);
                let k = i % TABLE;
                let (c, d, s) = &handles[i & 7];
                c.inc();
                d.observe(inputs.durations[k].as_secs_f64());
                s.observe(inputs.sizes[k] as f64);
            }
        }
    }));

    cases.push(Case::new(
        "metrics: cached handles, metrics-exporter-prometheus",
        {
            let handles: Vec<_> = HOSTS
                .iter()
                .map(|h| {
                    (
                        metrics::counter!("cached_http_requests_total", "adapter" => "bench", "host" => h.to_string(), "method" => "GET", "status" => "200"),
                        metrics::histogram!("cached_http_request_duration_seconds", "adapter" => "bench", "host" => h.to_string(), "method" => "GET"),
                        metrics::histogram!("cached_http_response_size_bytes", "adapter" => "bench", "host" => h.to_string()),
                    )
                })
                .collect();
            move |n| {
                for i in 0..n as usize {
                    let i = black_box(i);
                    let k = i % TABLE;
                    let (c, d, s) = &handles[i & 7];
                    c.increment(1);
                    d.record(inputs.durations[k].as_secs_f64());
                    s.record(inputs.sizes[k] as f64);
                }
                // The exporter buffers every histogram sample until a render
                // or upkeep; drain them as a scraping server would, outside
                // the timed loop's per-sample cost but inside the batch.
                metrics_handle().run_upkeep();
            }
        },
    ));

    cases.push(Case::new(
        "metrics: counter!/histogram! with dynamic labels",
        move |n| {
            for i in 0..n as usize {
                let i = black_box(i);
                let k = i % TABLE;
                let host = HOSTS[i & 7];
                metrics::counter!("dyn_http_requests_total", "adapter" => "bench", "host" => host.to_owned(), "method" => "GET", "status" => "200").increment(1);
                metrics::histogram!("dyn_http_request_duration_seconds", "adapter" => "bench", "host" => host.to_owned(), "method" => "GET").record(inputs.durations[k].as_secs_f64());
                metrics::histogram!("dyn_http_response_size_bytes", "adapter" => "bench", "host" => host.to_owned()).record(inputs.sizes[k] as f64);
            }
            metrics_handle().run_upkeep();
        },
    ));

    cases.push(Case::new(
        "autometrics: #[autometrics] fn (counter + timed histogram, no host label)",
        move |n| {
            for i in 0..n as usize {
                let i = black_box(i);
                let k = i % TABLE;
                black_box(autometrics_request(HOSTS[i & 7], inputs.sizes[k]));
            }
            metrics_handle().run_upkeep();
        },
    ));

    cases
}

/// One request's events for one host, as the instrumented client emits them
/// with a limiter that answers at once: rate limit (wait 0), request,
/// response.
#[derive(Debug)]
pub struct RequestEvents {
    /// The limiter's answer: acquired at once, wait 0, queue 0, saturation 0.
    pub rate_limit: RateLimitEvent,
    /// The attempt going on the wire.
    pub request: RequestEvent,
    /// Its response.
    pub response: ResponseEvent,
}

/// One prebuilt [`RequestEvents`] per host of [`HOSTS`], for [`BenchAdapter`].
pub fn request_events() -> Vec<RequestEvents> {
    let inputs = Inputs::get();
    let tel = BenchAdapter::telemetry();
    our_hosts()
        .iter()
        .enumerate()
        .map(|(i, &host)| {
            let meta = EventMeta::new(tel, host, CorrelationId::next(), 1);
            RequestEvents {
                rate_limit: RateLimitEvent {
                    meta,
                    outcome: RateLimitOutcome::Acquired,
                    wait: Duration::ZERO,
                    queue_depth: 0,
                    saturation: 0.0,
                },
                request: RequestEvent {
                    meta,
                    method: HttpMethod::Get,
                    url: format!("https://{}/works", HOSTS[i]).into(),
                    port: 443,
                },
                response: ResponseEvent {
                    meta,
                    method: HttpMethod::Get,
                    status: 200,
                    duration: inputs.durations[i],
                    body_size: Some(inputs.sizes[i]),
                },
            }
        })
        .collect()
}

/// What [`PrometheusSink`] does for one request through the instrumented
/// client: its three callbacks. Out of line and unmangled so callgrind can
/// count exactly this (`--toggle-collect=prometheus_sink_one_request`).
#[no_mangle]
#[inline(never)]
pub fn prometheus_sink_one_request(sink: &PrometheusSink, events: &RequestEvents) {
    sink.on_rate_limit(&events.rate_limit);
    sink.on_request(&events.request);
    sink.on_response(&events.response);
}

/// The sink's share of one request ([`prometheus_sink_one_request`]),
/// rotating over the eight hosts. Each batch ends with one render of the
/// exposition into a reused buffer, as a scraping server would: that drains
/// whatever the sink buffered (histogram samples) so memory stays flat, and
/// its cost, spread over the batch, is part of the figure.
pub fn prometheus_sink_case() -> Case {
    let sink = PrometheusSink::new();
    let events = request_events();
    let mut exposition = String::new();
    Case::new(
        "PrometheusSink: one request's events (rate limit at once + request + response)",
        move |n| {
            for i in 0..n as usize {
                let i = black_box(i);
                prometheus_sink_one_request(black_box(&sink), &events[i & 7]);
            }
            exposition.clear();
            render_into(&mut exposition);
            black_box(exposition.len());
        },
    )
}

/// Cases incrementing one counter labelled with the host.
pub fn counter_cases() -> Vec<Case> {
    metrics_handle();
    let mut cases = Vec::new();

    cases.push(Case::new("baseline: loop only", move |n| {
        for i in 0..n as usize {
            black_box(HOSTS[black_box(i) & 7]);
        }
    }));

    let tel = BenchAdapter::telemetry();
    let hosts = our_hosts();
    cases.push(Case::new(
        "ours: host_metrics(host).requests.add(..), host interned",
        move |n| {
            for i in 0..n as usize {
                let i = black_box(i);
                tel.host_metrics(hosts[i & 7])
                    .requests
                    .add(HttpMethod::Get, 200);
            }
        },
    ));

    cases.push(Case::new("ours: intern_host(&str) + add", move |n| {
        for i in 0..n as usize {
            let i = black_box(i);
            let host = tel.hosts().intern_host(HOSTS[i & 7], Some("https"));
            tel.host_metrics(host).requests.add(HttpMethod::Get, 200);
        }
    }));

    cases.push(Case::new("metrics: cached Counter handle", {
        let handles: Vec<_> = HOSTS
            .iter()
            .map(|h| metrics::counter!("cached_counter_total", "host" => h.to_string()))
            .collect();
        move |n| {
            for i in 0..n as usize {
                handles[black_box(i) & 7].increment(1);
            }
        }
    }));

    cases.push(Case::new(
        "rust-prometheus: IntCounterVec::with_label_values",
        {
            let vec = prom(prometheus::IntCounterVec::new(
                prometheus::Opts::new("counter_total", "c"),
                &["host"],
            ));
            move |n| {
                for i in 0..n as usize {
                    vec.with_label_values(&[HOSTS[black_box(i) & 7]]).inc();
                }
            }
        },
    ));

    cases.push(Case::new("prometheus-client: Family::get_or_create", {
        let family: Family<HostLabel, PcCounter> = Family::default();
        let keys: Vec<_> = HOSTS
            .iter()
            .map(|h| HostLabel {
                host: h.to_string(),
            })
            .collect();
        move |n| {
            for i in 0..n as usize {
                family.get_or_create(&keys[black_box(i) & 7]).inc();
            }
        }
    }));

    cases.push(Case::new(
        "metrics: counter! with a dynamic label",
        move |n| {
            for i in 0..n as usize {
                let host = HOSTS[black_box(i) & 7];
                metrics::counter!("dyn_counter_total", "host" => host.to_owned()).increment(1);
            }
        },
    ));

    cases
}

// Hot-path cases for callgrind (scripts/hot-path-instructions.sh): each is
// one out-of-line, unmangled function doing exactly one call's work of the
// matching case above, so `--toggle-collect=<name>` counts that and nothing
// else (the caller's loop, its inputs and any render stay out).

/// Ours, recording one request on a host interned once (row "ours:
/// host_metrics(host).record(..), host interned").
#[no_mangle]
#[inline(never)]
pub fn bench_hot_record_request(
    adapter: AdapterRef,
    host: LabelValue,
    duration: Duration,
    size: u64,
) {
    host_metrics_of(adapter, host).record(HttpMethod::Get, 200, duration, Some(size));
}

/// Ours, interning the host from a `&str`, then recording one request (row
/// "ours: intern_host(&str) + record(..)").
#[no_mangle]
#[inline(never)]
pub fn bench_hot_intern_record_request(
    tel: &'static AdapterTelemetry,
    adapter: AdapterRef,
    host: &str,
    duration: Duration,
    size: u64,
) {
    let host = tel.hosts().intern_host(host, Some("https"));
    host_metrics_of(adapter, host).record(HttpMethod::Get, 200, duration, Some(size));
}

/// Ours, one counter increment on a host interned once (row "ours:
/// host_metrics(host).requests.add(..), host interned").
#[no_mangle]
#[inline(never)]
pub fn bench_hot_counter_increment(adapter: AdapterRef, host: LabelValue) {
    host_metrics_of(adapter, host)
        .requests
        .add(HttpMethod::Get, 200);
}

/// Ours, interning the host from a `&str`, then one counter increment (row
/// "ours: intern_host(&str) + add").
#[no_mangle]
#[inline(never)]
pub fn bench_hot_intern_counter_increment(
    tel: &'static AdapterTelemetry,
    adapter: AdapterRef,
    host: &str,
) {
    let host = tel.hosts().intern_host(host, Some("https"));
    host_metrics_of(adapter, host)
        .requests
        .add(HttpMethod::Get, 200);
}

/// How often [`hot_count`] renders the exposition (uncounted) while it calls
/// [`prometheus_sink_one_request`], as a scraping server would.
const HOT_RENDER_EVERY: usize = 4096;

/// `bench hot-count SYMBOL N`: calls the hot-path function named `symbol`
/// (one of the `bench_hot_*` functions or [`prometheus_sink_one_request`])
/// `n` times, rotating over the eight hosts and the input tables like the
/// interleaved cases. Every host is interned and every case warmed up once
/// beforehand without going through the named function, so one-time set-up
/// stays out of a count taken with `--toggle-collect=SYMBOL`. Returns the
/// number of calls made.
pub fn hot_count(symbol: &str, n: usize) -> Result<usize, String> {
    let inputs = Inputs::get();
    let tel = BenchAdapter::telemetry();
    let hosts = our_hosts();
    let sink = PrometheusSink::new();
    let events = request_events();
    let mut exposition = String::new();
    // Warm-up outside the counted symbols: the same operations, once per host.
    for (i, (&host, e)) in hosts.iter().zip(&events).enumerate() {
        tel.host_metrics(host).record(
            HttpMethod::Get,
            200,
            inputs.durations[i],
            Some(inputs.sizes[i]),
        );
        tel.hosts().intern_host(HOSTS[i], Some("https"));
        sink.on_rate_limit(&e.rate_limit);
        sink.on_request(&e.request);
        sink.on_response(&e.response);
    }
    render_into(&mut exposition);
    // Resolved once, as the client does at build time and every event
    // carries.
    let adapter = tel.handle();
    let mut calls = 0;
    match symbol {
        "bench_hot_record_request" => {
            for i in 0..n {
                let i = black_box(i);
                let k = i % TABLE;
                bench_hot_record_request(
                    adapter,
                    hosts[i & 7],
                    inputs.durations[k],
                    inputs.sizes[k],
                );
                calls += 1;
            }
        }
        "bench_hot_intern_record_request" => {
            for i in 0..n {
                let i = black_box(i);
                let k = i % TABLE;
                bench_hot_intern_record_request(
                    tel,
                    adapter,
                    HOSTS[i & 7],
                    inputs.durations[k],
                    inputs.sizes[k],
                );
                calls += 1;
            }
        }
        "bench_hot_counter_increment" => {
            for i in 0..n {
                bench_hot_counter_increment(adapter, hosts[black_box(i) & 7]);
                calls += 1;
            }
        }
        "bench_hot_intern_counter_increment" => {
            for i in 0..n {
                bench_hot_intern_counter_increment(tel, adapter, HOSTS[black_box(i) & 7]);
                calls += 1;
            }
        }
        "prometheus_sink_one_request" => {
            for i in 0..n {
                let i = black_box(i);
                prometheus_sink_one_request(black_box(&sink), &events[i & 7]);
                calls += 1;
                if (i + 1) % HOT_RENDER_EVERY == 0 {
                    exposition.clear();
                    render_into(&mut exposition);
                }
            }
        }
        other => return Err(format!("no hot-path function named {other:?}")),
    }
    exposition.clear();
    render_into(&mut exposition);
    black_box(exposition.len());
    Ok(calls)
}
