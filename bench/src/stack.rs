//! Full-stack overhead on a loopback GET against the embedded upstream
//! (telemetry-sim, in its own process so its work is not counted).
//!
//! Variants, all on one current-thread tokio runtime, one pooled HTTP/1.1
//! connection each, under the same tracing subscriber (INFO, formatting to
//! a discarded writer):
//!
//! - bare reqwest;
//! - ours: an `#[instrumented_adapter]` with an `AdapterClient` (retry policy,
//!   per-host rate limiter and circuit breaker active but idle), events on,
//!   `PrometheusSink` installed, per-request and per-attempt spans on;
//! - reqwest-middleware + reqwest-tracing (`TracingMiddleware::default()`);
//! - reqwest-middleware + reqwest-retry (exponential back-off, 3 retries);
//! - an `#[autometrics]` async fn around bare reqwest.
//!
//! Loopback wall-clock ratios swing by several percent from run to run on a
//! shared machine, so the figure of merit is the client process's CPU time
//! per request (user + system, `CLOCK_PROCESS_CPUTIME_ID`), with the variants
//! interleaved in rotating order within each round; the overhead of a
//! variant is the median over rounds of its per-round ratio to bare reqwest.

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::Instant;

use telemetry_runtime::backends::prometheus::PrometheusSink;
use telemetry_runtime::client::{BreakerPolicy, RateLimit, RetryPolicy};
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};

use crate::harness::{median, process_cpu_ns, quantile};

/// Host name every variant asks for (resolved to the simulator).
pub const HOST: &str = "api-a.test";
/// Response body size, bytes.
pub const BODY: usize = 2048;

/// The annotated adapter of the "ours" variant.
#[instrumented_adapter(name = "stack_bench", hosts(cap = 16))]
#[derive(Debug)]
pub struct StackAdapter {
    http: AdapterClient,
}

/// Runs the simulator in this process until stdin closes (the `bench
/// child-upstream` sub-command). Prints `port=<n>` once it listens.
pub fn serve_upstream() -> std::io::Result<()> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    rt.block_on(async {
        let sim = telemetry_sim::Simulator::start().await?;
        sim.route(
            telemetry_sim::Route::any(),
            telemetry_sim::Script::always(telemetry_sim::Step::large_body(BODY)),
        );
        println!("port={}", sim.port());
        std::io::stdout().flush()?;
        // Wait for the parent to close our stdin, off the runtime thread.
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        std::thread::spawn(move || {
            let mut sink = String::new();
            let _ = std::io::stdin().read_line(&mut sink);
            let _ = tx.send(());
        });
        let _ = rx.await;
        sim.shutdown().await;
        Ok(())
    })
}

/// The upstream child process; killed on drop.
#[derive(Debug)]
pub struct Upstream {
    child: Child,
    /// Where it listens.
    pub addr: SocketAddr,
}

impl Upstream {
    /// Starts `exe child-upstream` and waits for its port.
    pub fn start(exe: &std::path::Path) -> std::io::Result<Self> {
        let mut child = Command::new(exe)
            .arg("child-upstream")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        let stdout = child
            .stdout
            .take()
            .ok_or_else(|| std::io::Error::other("no stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line)?;
        let port: u16 = line
            .trim()
            .strip_prefix("port=")
            .and_then(|p| p.parse().ok())
            .ok_or_else(|| std::io::Error::other(format!("bad upstream line {line:?}")))?;
        Ok(Upstream {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], port)),
        })
    }
}

impl Upstream {
    /// CPU time the upstream process has used so far, nanoseconds (sum of
    /// its threads' `/proc/<pid>/task/<tid>/schedstat` run time).
    pub fn cpu_ns(&self) -> u64 {
        let dir = format!("/proc/{}/task", self.child.id());
        let Ok(tasks) = std::fs::read_dir(dir) else {
            return 0;
        };
        tasks
            .filter_map(|t| t.ok())
            .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
            .filter_map(|s| {
                s.split_whitespace()
                    .next()
                    .and_then(|n| n.parse::<u64>().ok())
            })
            .sum()
    }
}

impl Drop for Upstream {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A second adapter with no sink installed (ablation variants; its clients
/// are used directly).
#[instrumented_adapter(name = "stack_bench_plain", hosts(cap = 16))]
#[derive(Debug)]
pub struct PlainStackAdapter {}

/// Bare reqwest wrapped by autometrics (function call counter + duration
/// histogram through the `metrics` facade).
#[autometrics::autometrics]
pub async fn autometrics_get(client: &reqwest::Client, url: &str) -> Result<usize, String> {
    let resp = client.get(url).send().await.map_err(|e| e.to_string())?;
    let body = resp.bytes().await.map_err(|e| e.to_string())?;
    Ok(body.len())
}

/// One way of making the request.
pub enum Variant {
    /// reqwest alone.
    Bare(reqwest::Client),
    /// Our annotated adapter.
    Ours(StackAdapter),
    /// reqwest-middleware with reqwest-tracing.
    Tracing(reqwest_middleware::ClientWithMiddleware),
    /// reqwest-middleware with reqwest-retry.
    Retry(reqwest_middleware::ClientWithMiddleware),
    /// reqwest-middleware with reqwest-tracing and reqwest-retry: the
    /// nearest hand-assembled equivalent of ours (a span and retries, no
    /// metrics, limiter or breaker).
    TracingRetry(reqwest_middleware::ClientWithMiddleware),
    /// An autometrics-annotated fn around reqwest.
    Autometrics(reqwest::Client),
    /// Ablation: an adapter client with some features switched off
    /// (spans through the client's own `spans(false)`).
    Ablation(&'static str, AdapterClient),
    /// Bare reqwest with the adapter client's default 30 s per-attempt
    /// timeout (a timer armed and cancelled per request).
    BareTimeout(reqwest::Client),
    /// reqwest-middleware + reqwest-tracing over a reqwest client with the
    /// same 30 s timeout: the peer of the default stack with equal
    /// timeouts.
    TracingTimeout(reqwest_middleware::ClientWithMiddleware),
}

impl std::fmt::Debug for Variant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Variant {
    /// Name in the report.
    pub fn name(&self) -> &'static str {
        match self {
            Variant::Bare(_) => "bare reqwest",
            Variant::Ours(_) => "ours: #[instrumented_adapter] + AdapterClient (events, Prometheus, spans; limiter, retry, breaker idle)",
            Variant::Tracing(_) => "reqwest-middleware + reqwest-tracing",
            Variant::Retry(_) => "reqwest-middleware + reqwest-retry",
            Variant::TracingRetry(_) => "reqwest-middleware + reqwest-tracing + reqwest-retry",
            Variant::Autometrics(_) => "#[autometrics] async fn around reqwest",
            Variant::Ablation(name, _) => name,
            Variant::BareTimeout(_) => "baseline: bare reqwest with a 30 s timeout (the adapter client's default)",
            Variant::TracingTimeout(_) => {
                "peer: reqwest-middleware + reqwest-tracing with a 30 s timeout"
            }
        }
    }

    /// One GET of `url`, body read; the body length. Not boxed: every
    /// variant's future lives in place in the caller's (a box would charge
    /// each variant an allocation sized by its own future).
    pub async fn call(&self, url: &str) -> Result<usize, String> {
        match self {
            Variant::Bare(c) | Variant::BareTimeout(c) => {
                let r = c.get(url).send().await.map_err(|e| e.to_string())?;
                Ok(r.bytes().await.map_err(|e| e.to_string())?.len())
            }
            Variant::Ours(a) => {
                let r = a.http.get(url).send().await.map_err(|e| e.to_string())?;
                Ok(r.bytes().await.map_err(|e| e.to_string())?.len())
            }
            Variant::Tracing(c)
            | Variant::Retry(c)
            | Variant::TracingRetry(c)
            | Variant::TracingTimeout(c) => {
                let r = c.get(url).send().await.map_err(|e| e.to_string())?;
                Ok(r.bytes().await.map_err(|e| e.to_string())?.len())
            }
            Variant::Autometrics(c) => autometrics_get(c, url).await,
            Variant::Ablation(_, c) => {
                let r = c.get(url).send().await.map_err(|e| e.to_string())?;
                Ok(r.bytes().await.map_err(|e| e.to_string())?.len())
            }
        }
    }
}

fn reqwest_client(addr: SocketAddr) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .resolve(HOST, addr)
        .pool_max_idle_per_host(4)
        .build()
        .map_err(|e| e.to_string())
}

/// Every variant, connected to `addr`.
pub fn variants(addr: SocketAddr, ablation: bool) -> Result<Vec<Variant>, String> {
    let ours = AdapterClient::builder::<StackAdapter>()
        .resolve(HOST, addr)
        .pool_max_idle_per_host(4)
        .retry(RetryPolicy::default())
        .rate_limit(RateLimit::per_second(1_000_000.0).burst(1_000_000))
        .breaker(BreakerPolicy::default())
        .build()
        .map_err(|e| e.to_string())?;
    StackAdapter::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    let retry_policy =
        reqwest_retry::policies::ExponentialBackoff::builder().build_with_max_retries(3);
    let mut v = vec![
        Variant::Bare(reqwest_client(addr)?),
        Variant::Ours(StackAdapter { http: ours }),
        Variant::Tracing(
            reqwest_middleware::ClientBuilder::new(reqwest_client(addr)?)
                .with(reqwest_tracing::TracingMiddleware::default())
                .build(),
        ),
        Variant::Retry(
            reqwest_middleware::ClientBuilder::new(reqwest_client(addr)?)
                .with(reqwest_retry::RetryTransientMiddleware::new_with_policy(
                    retry_policy,
                ))
                .build(),
        ),
        Variant::Autometrics(reqwest_client(addr)?),
        Variant::TracingRetry(
            reqwest_middleware::ClientBuilder::new(reqwest_client(addr)?)
                .with(reqwest_tracing::TracingMiddleware::default())
                .with(reqwest_retry::RetryTransientMiddleware::new_with_policy(
                    retry_policy,
                ))
                .build(),
        ),
    ];
    if ablation {
        let with = |b: telemetry_runtime::client::AdapterClientBuilder| {
            b.resolve(HOST, addr)
                .pool_max_idle_per_host(4)
                .retry(RetryPolicy::default())
                .rate_limit(RateLimit::per_second(1_000_000.0).burst(1_000_000))
                .breaker(BreakerPolicy::default())
        };
        let err = |e: telemetry_runtime::client::ClientError| e.to_string();
        // The adapter client's default per-attempt timeout, on reqwest.
        let timed = || {
            reqwest::Client::builder()
                .resolve(HOST, addr)
                .pool_max_idle_per_host(4)
                .timeout(std::time::Duration::from_secs(30))
                .build()
                .map_err(|e| e.to_string())
        };
        v.push(Variant::BareTimeout(timed()?));
        v.push(Variant::TracingTimeout(
            reqwest_middleware::ClientBuilder::new(timed()?)
                .with(reqwest_tracing::TracingMiddleware::default())
                .build(),
        ));
        let ours_nospans = with(AdapterClient::builder::<StackAdapter>())
            .spans(false)
            .build()
            .map_err(err)?;
        v.push(Variant::Ablation(
            "ablation: ours with PrometheusSink, spans off",
            ours_nospans,
        ));
        let plain = with(AdapterClient::builder::<PlainStackAdapter>())
            .build()
            .map_err(err)?;
        v.push(Variant::Ablation(
            "ablation: ours, adapter without a sink, spans on",
            plain,
        ));
        let plain_nospans = with(AdapterClient::builder::<PlainStackAdapter>())
            .spans(false)
            .build()
            .map_err(err)?;
        v.push(Variant::Ablation(
            "ablation: ours, adapter without a sink, spans off",
            plain_nospans,
        ));
        let bare = AdapterClient::builder::<PlainStackAdapter>()
            .resolve(HOST, addr)
            .pool_max_idle_per_host(4)
            .retry(RetryPolicy::none())
            .no_breaker()
            .spans(false)
            .build()
            .map_err(err)?;
        v.push(Variant::Ablation(
            "ablation: ours, adapter without a sink, spans off, no retry/limiter/breaker",
            bare,
        ));
    }
    // `BENCH_STACK_ONLY=a,b`: keep bare reqwest and the variants whose name
    // contains one of the comma-separated substrings (for profiling one).
    if let Ok(only) = std::env::var("BENCH_STACK_ONLY") {
        let keys: Vec<&str> = only.split(',').filter(|k| !k.is_empty()).collect();
        v.retain(|x| matches!(x, Variant::Bare(_)) || keys.iter().any(|k| x.name().contains(k)));
    }
    Ok(v)
}

/// Per-variant result.
#[derive(Debug, Clone)]
pub struct StackStats {
    /// Variant name.
    pub name: String,
    /// Median client CPU time per request over rounds, microseconds.
    pub cpu_us: f64,
    /// Median client + upstream CPU time per request, microseconds.
    pub total_cpu_us: f64,
    /// Median over rounds of the per-round client + upstream CPU ratio to bare.
    pub total_ratio: f64,
    /// Its interquartile range.
    pub cpu_us_q: (f64, f64),
    /// Median wall time per request over rounds, microseconds.
    pub wall_us: f64,
    /// Median over rounds of the per-round CPU ratio to bare reqwest.
    pub ratio: f64,
    /// Interquartile range of that ratio.
    pub ratio_q: (f64, f64),
    /// Extremes of that ratio.
    pub ratio_minmax: (f64, f64),
}

/// What every full-stack measurement starts with: the process-wide tracing
/// subscriber, the upstream child, the URL every variant asks for and the
/// client's current-thread runtime. `BENCH_SUBSCRIBER=registry`: spans
/// recorded by the bare registry (no formatting), to separate the cost of
/// span bookkeeping from the cost of the `fmt` layer's field formatting.
fn set_up() -> Result<(Upstream, String, tokio::runtime::Runtime), String> {
    if std::env::var("BENCH_SUBSCRIBER").as_deref() == Ok("registry") {
        use tracing_subscriber::layer::SubscriberExt;
        use tracing_subscriber::util::SubscriberInitExt;
        let _ = tracing_subscriber::registry()
            .with(tracing_subscriber::filter::LevelFilter::INFO)
            .try_init();
    } else {
        let _ = tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
            .try_init();
    }
    crate::micro::metrics_handle();
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let upstream = Upstream::start(&exe).map_err(|e| e.to_string())?;
    let url = format!("http://{HOST}:{}/works/10.1000/182", upstream.addr.port());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    Ok((upstream, url, rt))
}

/// Pins this process, and so the upstream child it spawns next (affinity
/// is inherited), to the CPU it runs on; `BENCH_STACK_PIN=0` leaves both
/// free. On a virtual machine, a request and its response crossing between
/// two vCPUs wake the other through the hypervisor: on the 2-vCPU machine
/// of docs/performance.md that put 100 to 170 us of kernel time on a
/// 25 us GET and spread the per-round ratios over +-30 %. On one CPU the
/// two processes hand over by the scheduler alone. Both processes' time
/// is counted separately, so sharing the CPU does not mix them.
fn pin_to_one_cpu() {
    if std::env::var("BENCH_STACK_PIN").as_deref() == Ok("0") {
        return;
    }
    // SAFETY: `sched_getcpu` has no preconditions; `set` is a zeroed
    // `cpu_set_t` owned by this frame, passed with its own size, for this
    // process (pid 0).
    unsafe {
        let cpu = libc::sched_getcpu();
        if cpu < 0 {
            return;
        }
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu as usize, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!("bench: could not pin to CPU {cpu}; measuring unpinned");
        }
    }
}

/// Runs `rounds` rounds of `per_round` requests per variant, interleaved.
pub fn measure(
    rounds: usize,
    per_round: usize,
    ablation: bool,
) -> Result<(Vec<StackStats>, usize), String> {
    pin_to_one_cpu();
    let (upstream, url, rt) = set_up()?;
    rt.block_on(async {
        let variants = variants(upstream.addr, ablation)?;
        // Warm up: connections, pools, registrations, lazily built state.
        for v in &variants {
            for _ in 0..200 {
                let n = v.call(&url).await?;
                if n != BODY {
                    return Err(format!("{}: body of {n} bytes, expected {BODY}", v.name()));
                }
            }
        }
        let k = variants.len();
        let mut cpu = vec![Vec::with_capacity(rounds); k];
        let mut wall = vec![Vec::with_capacity(rounds); k];
        let mut total = vec![Vec::with_capacity(rounds); k];
        for round in 0..rounds {
            for j in 0..k {
                let i = (round + j) % k;
                let v = &variants[i];
                let c0 = process_cpu_ns();
                let u0 = upstream.cpu_ns();
                let t0 = Instant::now();
                for _ in 0..per_round {
                    v.call(&url).await?;
                }
                let w = t0.elapsed();
                let c = process_cpu_ns() - c0;
                let u = upstream.cpu_ns().saturating_sub(u0);
                total[i].push((c + u) as f64 / per_round as f64 / 1e3);
                cpu[i].push(c as f64 / per_round as f64 / 1e3);
                wall[i].push(w.as_secs_f64() * 1e6 / per_round as f64);
            }
        }
        let stats = variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let ratios: Vec<f64> = cpu[i].iter().zip(&cpu[0]).map(|(a, b)| a / b).collect();
                let total_ratios: Vec<f64> =
                    total[i].iter().zip(&total[0]).map(|(a, b)| a / b).collect();
                StackStats {
                    name: v.name().to_string(),
                    cpu_us: median(&cpu[i]),
                    total_cpu_us: median(&total[i]),
                    total_ratio: median(&total_ratios),
                    cpu_us_q: (quantile(&cpu[i], 0.25), quantile(&cpu[i], 0.75)),
                    wall_us: median(&wall[i]),
                    ratio: median(&ratios),
                    ratio_q: (quantile(&ratios, 0.25), quantile(&ratios, 0.75)),
                    ratio_minmax: (
                        ratios.iter().copied().fold(f64::INFINITY, f64::min),
                        ratios.iter().copied().fold(0.0, f64::max),
                    ),
                }
            })
            .collect();
        Ok((stats, rounds * per_round))
    })
}

/// The floor of the span cost: one span shaped like the client's request
/// span (seven fields at creation, entered and exited three times as a
/// future is polled, one field recorded at the end, closed), under the
/// cheapest subscriber that records it (`tracing_subscriber::registry()`,
/// INFO) and under the stack benchmark's formatting subscriber; plus the
/// attempt span at DEBUG under an INFO filter (disabled: the level check).
pub fn span_cases() -> Vec<crate::harness::Case> {
    use crate::harness::Case;
    use tracing_subscriber::layer::SubscriberExt;

    fn one_span(n: u64) {
        let cid = telemetry_runtime::events::CorrelationId(0x0123_4567_89ab_cdef);
        for i in 0..n {
            let span = tracing::info_span!(
                target: "telemetry_runtime::client",
                "http.client.request",
                otel.name = "GET",
                otel.kind = "client",
                http.request.method = "GET",
                server.address = HOST,
                server.port = 8080u16,
                url.full = "http://api-a.test:8080/works/10.1000/182",
                http.response.status_code = tracing::field::Empty,
                error.type = tracing::field::Empty,
                http.request.resend_count = tracing::field::Empty,
                correlation_id = %cid,
            );
            for _ in 0..3 {
                let _entered = span.enter();
            }
            span.record("http.response.status_code", 200u16);
            std::hint::black_box(i);
        }
    }
    fn debug_span(n: u64) {
        for i in 0..n {
            let span = tracing::debug_span!(
                target: "telemetry_runtime::client",
                "http.client.attempt",
                otel.name = "GET",
                http.request.resend_count = 0u32,
            );
            std::hint::black_box(&span);
            std::hint::black_box(i);
        }
    }
    let registry = tracing::Dispatch::new(
        tracing_subscriber::registry().with(tracing_subscriber::filter::LevelFilter::INFO),
    );
    let fmt = tracing::Dispatch::new(
        tracing_subscriber::fmt()
            .with_writer(std::io::sink)
            .with_max_level(tracing_subscriber::filter::LevelFilter::INFO)
            .finish(),
    );
    let (r1, r2, f1) = (registry.clone(), registry, fmt);
    vec![
        Case::new("baseline: loop only", |n| {
            for i in 0..n {
                std::hint::black_box(i);
            }
        }),
        Case::new(
            "request span (7 fields, 3 enters, 1 record), registry() INFO",
            move |n| tracing::dispatcher::with_default(&r1, || one_span(n)),
        ),
        Case::new(
            "request span (7 fields, 3 enters, 1 record), fmt to a discarded writer, INFO (the stack benchmark's subscriber)",
            move |n| tracing::dispatcher::with_default(&f1, || one_span(n)),
        ),
        Case::new("attempt span at DEBUG under an INFO filter (disabled)", move |n| {
            tracing::dispatcher::with_default(&r2, || debug_span(n))
        }),
    ]
}

/// The requests whose instructions `bench stack-count` measures: a separate,
/// never-inlined function so callgrind's `--toggle-collect` can count exactly
/// them (the warm-up and the set-up run outside it).
#[inline(never)]
#[no_mangle]
pub fn bench_stack_counted(
    rt: &tokio::runtime::Runtime,
    v: &Variant,
    url: &str,
    n: usize,
) -> Result<usize, String> {
    rt.block_on(async {
        let mut total = 0;
        for _ in 0..n {
            total += v.call(url).await?;
        }
        Ok(total)
    })
}

/// `bench stack-count NAME N`: one variant (the first whose name contains
/// NAME; `bare` for bare reqwest), warmed up with 200 requests, then `N`
/// requests inside [`bench_stack_counted`]. Run under
/// `valgrind --tool=callgrind --collect-atstart=no
/// --toggle-collect=bench_stack_counted` (scripts/stack-instructions.sh) to
/// get the user-space instructions per request, free of timing noise.
pub fn count(name: &str, n: usize) -> Result<(), String> {
    let (upstream, url, rt) = set_up()?;
    let variants = rt.block_on(async { variants(upstream.addr, true) })?;
    let v = variants
        .iter()
        .find(|v| v.name().contains(name))
        .ok_or_else(|| format!("no variant matches {name:?}"))?;
    rt.block_on(async {
        for _ in 0..200 {
            v.call(&url).await?;
        }
        Ok::<_, String>(())
    })?;
    if std::env::var_os("BENCH_FUTURE_SIZES").is_some() {
        eprintln!(
            "call future (all variants): {} bytes",
            std::mem::size_of_val(&v.call(&url))
        );
        if let Variant::Ours(a) = v {
            eprintln!(
                "ours send(): {} bytes",
                std::mem::size_of_val(&a.http.get(&url).send())
            );
        }
        if let Variant::Bare(c) = v {
            eprintln!(
                "bare send(): {} bytes",
                std::mem::size_of_val(&c.get(&url).send())
            );
        }
    }
    let got = bench_stack_counted(&rt, v, &url, n)?;
    if got != n * BODY {
        return Err(format!(
            "{}: {got} body bytes, expected {}",
            v.name(),
            n * BODY
        ));
    }
    println!("{}", v.name());
    Ok(())
}
