//! `adapter-telemetry serve`: the SLIs of the stored runs as Prometheus
//! gauges, for jobs that write to SQLite on a host Prometheus scrapes.
//!
//! Cardinality: a run id never becomes a label of a series that lives
//! longer than its run. The gauges are labelled by `job` and `adapter`
//! (bounded by what the database holds) and show the latest run of each
//! job; `adapter_telemetry_run_info{job,run_id}` names that run, one series
//! per job at any time (it changes when a new run starts, as an
//! `*_info` metric's labels do). The database is re-read every
//! `--interval` seconds; a failed read keeps the last exposition and counts
//! `adapter_telemetry_read_errors_total`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use telemetry_runtime::backends::prometheus::escape_label;
use telemetry_runtime::manifest::Naming;

use crate::db::{self, Filter, Run};
use crate::error::{Failure, Result};
use crate::manifest::StoredManifest;
use crate::sli::{self, QUANTILES};
use crate::slo::{actual, manifest_objectives};

/// `serve` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The event store (SQLite, schema version 1).
    #[arg(long, value_name = "FILE")]
    pub(crate) db: PathBuf,
    /// Where `/metrics` is served.
    #[arg(long, default_value = "127.0.0.1:9465")]
    pub(crate) listen: SocketAddr,
    /// Seconds between two reads of the database.
    #[arg(long, default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub(crate) interval: u64,
    /// Print the exposition once on stdout and exit (no server).
    #[arg(long)]
    pub(crate) once: bool,
}

struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(String, f64)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Self {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }
}

fn labels(pairs: &[(&str, &str)]) -> String {
    let mut s = String::from("{");
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        let _ = write!(s, "{k}=\"");
        escape_label(v, &mut s);
        s.push('"');
    }
    s.push('}');
    s
}

/// The latest run of each job.
fn latest_per_job(runs: Vec<Run>) -> Vec<Run> {
    let mut by_job: BTreeMap<String, Run> = BTreeMap::new();
    for r in runs {
        match by_job.get(&r.job) {
            Some(prev) if (prev.started, &prev.run_id) >= (r.started, &r.run_id) => {}
            _ => {
                by_job.insert(r.job.clone(), r);
            }
        }
    }
    by_job.into_values().collect()
}

/// Renders the exposition of the store at `path`.
pub(crate) fn exposition(path: &std::path::Path) -> Result<String> {
    let conn = db::open(path)?;
    let mut f_info = Family::new(
        "adapter_telemetry_run_info",
        "gauge",
        "The latest run of each job (always 1).",
    );
    let mut f_start = Family::new(
        "adapter_telemetry_run_start_timestamp_seconds",
        "gauge",
        "When the job's latest run started.",
    );
    let mut f_end = Family::new(
        "adapter_telemetry_run_end_timestamp_seconds",
        "gauge",
        "When the job's latest run ended (its last event while it runs).",
    );
    let mut f_wire = Family::new(
        "adapter_telemetry_wire_attempts",
        "gauge",
        "Wire attempts of the run.",
    );
    let mut f_failed = Family::new("adapter_telemetry_failed_attempts", "gauge", "Failed wire attempts of the run (a 5xx or no response, as the recording rules count them).");
    let mut f_success = Family::new(
        "adapter_telemetry_success_ratio",
        "gauge",
        "1 - failed / wire attempts of the run.",
    );
    let mut f_latency = Family::new("adapter_telemetry_latency_seconds", "gauge", "Wire-attempt latency quantiles of the run, interpolated in the exporter's buckets like histogram_quantile.");
    let mut f_retry = Family::new(
        "adapter_telemetry_retry_ratio",
        "gauge",
        "Wire attempts after the first of their request, over wire attempts.",
    );
    let mut f_429 = Family::new(
        "adapter_telemetry_status_429_ratio",
        "gauge",
        "Responses with status 429 over wire attempts.",
    );
    let mut f_wait = Family::new(
        "adapter_telemetry_limiter_wait_p95_seconds",
        "gauge",
        "95th percentile of the limiter waits of the run (nearest rank).",
    );
    let mut f_rej = Family::new(
        "adapter_telemetry_limiter_rejections",
        "gauge",
        "Limiter rejections of the run.",
    );
    let mut f_refusals = Family::new(
        "adapter_telemetry_refusals",
        "gauge",
        "Requests refused before the wire in the run, by reason.",
    );
    let mut f_open = Family::new(
        "adapter_telemetry_breaker_open_seconds",
        "gauge",
        "Seconds a circuit breaker was open in the run, summed over hosts.",
    );
    let mut f_fallback = Family::new(
        "adapter_telemetry_fallback_success_ratio",
        "gauge",
        "Successful fallback attempts over attempts that ran.",
    );
    let mut f_obj = Family::new(
        "adapter_telemetry_objective_holds",
        "gauge",
        "1 when the stored objective holds for the run (or has no data), else 0.",
    );
    for run in latest_per_job(db::runs(&conn)?) {
        let filter = Filter {
            run: Some(run.run_id.clone()),
            ..Filter::default()
        };
        let scope = db::scope(&conn, &filter, true)?;
        let job = run.job.as_str();
        f_info
            .samples
            .push((labels(&[("job", job), ("run_id", &run.run_id)]), 1.0));
        f_start
            .samples
            .push((labels(&[("job", job)]), run.started as f64 / 1e9));
        f_end
            .samples
            .push((labels(&[("job", job)]), scope.span.1 as f64 / 1e9));
        let manifests: BTreeMap<String, StoredManifest> =
            db::manifests(&conn, &scope)?.into_iter().collect();
        let naming = |a: &str| {
            manifests
                .get(a)
                .map_or(Naming::Prometheus, |m| m.naming.into())
        };
        let mut slis = sli::compute(&conn, &scope, &naming, false)?;
        for a in manifests.keys() {
            slis.entry(a.clone())
                .or_insert_with(|| sli::empty(naming(a)));
        }
        for (adapter, s) in slis.iter_mut() {
            let l = labels(&[("job", job), ("adapter", adapter)]);
            let push = |f: &mut Family, v: Option<f64>| {
                if let Some(v) = v.filter(|v| v.is_finite()) {
                    f.samples.push((l.clone(), v));
                }
            };
            push(&mut f_wire, Some(s.wire_attempts as f64));
            push(&mut f_failed, Some(s.failed() as f64));
            push(&mut f_success, s.success_ratio());
            push(&mut f_retry, s.retry_rate());
            push(&mut f_429, s.status_429_ratio());
            push(&mut f_wait, s.limiter_wait_p95());
            push(&mut f_rej, Some(s.limiter.rejected as f64));
            push(&mut f_open, Some(s.breaker_open_total()));
            push(&mut f_fallback, s.fallback_success_ratio());
            for (_, q) in QUANTILES {
                if let Some(v) = s.latency_histogram(*q) {
                    let ql = labels(&[("job", job), ("adapter", adapter), ("q", &q.to_string())]);
                    f_latency.samples.push((ql, v));
                }
            }
            for (reason, n) in &s.refusals {
                let rl = labels(&[("job", job), ("adapter", adapter), ("reason", reason)]);
                f_refusals.samples.push((rl, *n as f64));
            }
            if let Some(m) = manifests.get(adapter) {
                for o in manifest_objectives(m) {
                    let holds = match (actual(s, o.measure), o.bound) {
                        (None, _) => true,
                        (Some(v), crate::slo::Bound::AtLeast) => v >= o.target,
                        (Some(v), crate::slo::Bound::AtMost) => v <= o.target,
                    };
                    let ol = labels(&[("job", job), ("adapter", adapter), ("objective", &o.key)]);
                    f_obj.samples.push((ol, if holds { 1.0 } else { 0.0 }));
                }
            }
        }
    }
    let mut out = String::new();
    for f in [
        f_info, f_start, f_end, f_wire, f_failed, f_success, f_latency, f_retry, f_429, f_wait,
        f_rej, f_refusals, f_open, f_fallback, f_obj,
    ] {
        if f.samples.is_empty() {
            continue;
        }
        let _ = writeln!(out, "# HELP {} {}", f.name, f.help);
        let _ = writeln!(out, "# TYPE {} {}", f.name, f.kind);
        for (l, v) in &f.samples {
            let _ = writeln!(out, "{}{l} {v}", f.name);
        }
    }
    Ok(out)
}

struct State {
    body: String,
    read_errors: u64,
    last_read: f64,
}

fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn render(state: &State) -> String {
    let mut s = state.body.clone();
    s.push_str(
        "# HELP adapter_telemetry_read_errors_total Failed reads of the database since start.\n",
    );
    s.push_str("# TYPE adapter_telemetry_read_errors_total counter\n");
    let _ = writeln!(
        s,
        "adapter_telemetry_read_errors_total {}",
        state.read_errors
    );
    s.push_str("# HELP adapter_telemetry_last_read_timestamp_seconds When the database was last read successfully.\n");
    s.push_str("# TYPE adapter_telemetry_last_read_timestamp_seconds gauge\n");
    let _ = writeln!(
        s,
        "adapter_telemetry_last_read_timestamp_seconds {}",
        state.last_read
    );
    s
}

/// Runs `serve` (until killed).
pub(crate) fn run(args: &ServeArgs) -> Result<()> {
    // The first read must succeed: a bad database is bad input.
    let body = exposition(&args.db)?;
    let state = Arc::new(RwLock::new(State {
        body,
        read_errors: 0,
        last_read: now_secs(),
    }));
    if args.once {
        let text = state.read().map(|s| render(&s)).unwrap_or_default();
        print!("{text}");
        return Ok(());
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::new(format!("cannot start the server: {e}")))?;
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen)
            .await
            .map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.listen)))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Failure::new(format!("cannot listen on {}: {e}", args.listen)))?;
        println!("serving http://{addr}/metrics");
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let reader = state.clone();
        let db_path = args.db.clone();
        let interval = Duration::from_secs(args.interval);
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(interval).await;
                let p = db_path.clone();
                let result = tokio::task::spawn_blocking(move || exposition(&p)).await;
                if let Ok(mut s) = reader.write() {
                    match result {
                        Ok(Ok(body)) => {
                            s.body = body;
                            s.last_read = now_secs();
                        }
                        Ok(Err(e)) => {
                            s.read_errors += 1;
                            let _ =
                                writeln!(std::io::stderr(), "adapter-telemetry: read failed: {e}");
                        }
                        Err(_) => s.read_errors += 1,
                    }
                }
            }
        });
        let app = axum::Router::new().route(
            "/metrics",
            axum::routing::get(move || {
                let state = state.clone();
                async move {
                    let text = state.read().map(|s| render(&s)).unwrap_or_default();
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4; charset=utf-8",
                        )],
                        text,
                    )
                }
            }),
        );
        axum::serve(listener, app)
            .await
            .map_err(|e| Failure::new(format!("server failed: {e}")))
    })
}
