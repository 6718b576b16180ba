//! `adapter-telemetry history`: months of per-host history out of a
//! Prometheus that already stores it.
//!
//! For each series of the catalogue (request rate, error ratio, latency
//! quantiles, retries, limiter wait and queue depth, breaker state), one
//! PromQL range query per chunk of the time range, aggregated by adapter and
//! host. Prometheus refuses a range query of more than 11,000 points per
//! series, so the range is cut into chunks of at most `--max-points` steps
//! (10,000 by default); transient failures (connection errors, 429, 5xx)
//! are retried with a back-off. The output (CSV, JSON or Parquet) carries
//! the export's metadata and is written atomically: a temporary file in the
//! destination's directory, synced, then renamed over the destination.

use std::fmt;
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use serde::Serialize;
use serde_json::Value;
use telemetry_runtime::core::catalog::Family;
use telemetry_runtime::manifest::Naming;

/// The longest range `history` exports.
pub const MAX_RANGE_DAYS: f64 = 365.0;
/// Prometheus' own limit of points per series in one range query.
pub const PROMETHEUS_MAX_POINTS: u64 = 11_000;

/// `adapter-telemetry history` options.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Prometheus base URL (`http://prometheus:9090`). Credentials in the
    /// URL are used for basic auth and never written to the output.
    #[arg(long)]
    pub prometheus: String,
    /// Start: RFC 3339 (`2026-11-01T00:00:00Z`), Unix seconds, or `now-7d`
    /// (units d, h, m, s).
    #[arg(long)]
    pub from: String,
    /// End, same forms as `--from`.
    #[arg(long, default_value = "now")]
    pub to: String,
    /// Resolution (`5m`, `1h`, `1d`).
    #[arg(long, default_value = "5m")]
    pub step: String,
    /// Rate and quantile window; default the step, at least 5m.
    #[arg(long)]
    pub window: Option<String>,
    /// Only these adapters (repeatable).
    #[arg(long)]
    pub adapter: Vec<String>,
    /// Only these hosts (repeatable).
    #[arg(long)]
    pub host: Vec<String>,
    /// Series to export (comma-separated); default all.
    #[arg(long, value_enum, value_delimiter = ',')]
    pub series: Vec<SeriesKind>,
    /// Metric naming the exporter uses.
    #[arg(long, value_enum, default_value = "prometheus")]
    pub naming: NamingArg,
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: HistoryFormat,
    /// Output file.
    #[arg(long)]
    pub out: PathBuf,
    /// Basic-auth user towards Prometheus.
    #[arg(long)]
    pub user: Option<String>,
    /// File holding the basic-auth password.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// File holding a bearer token.
    #[arg(long)]
    pub bearer_token_file: Option<PathBuf>,
    /// Who asked for the export (metadata); default `$USER`.
    #[arg(long)]
    pub requested_by: Option<String>,
    /// Steps per range query at most (Prometheus refuses more than 11,000).
    #[arg(long, default_value_t = 10_000)]
    pub max_points: u64,
}

/// A series of the catalogue `history` exports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub enum SeriesKind {
    /// Wire attempts per second.
    RequestRate,
    /// Failed attempts (5xx or no response) over all attempts.
    ErrorRatio,
    /// Median attempt latency, seconds.
    LatencyP50,
    /// 95th percentile attempt latency, seconds.
    LatencyP95,
    /// 99th percentile attempt latency, seconds.
    LatencyP99,
    /// Retries per second.
    RetryRate,
    /// 95th percentile rate-limiter wait, seconds.
    LimiterWaitP95,
    /// Largest rate-limiter queue depth in the window.
    LimiterQueueDepth,
    /// Worst breaker state in the window (0 closed, 1 open, 2 half-open).
    BreakerState,
}

impl SeriesKind {
    /// Every series, in output order.
    pub const ALL: [SeriesKind; 9] = [
        SeriesKind::RequestRate,
        SeriesKind::ErrorRatio,
        SeriesKind::LatencyP50,
        SeriesKind::LatencyP95,
        SeriesKind::LatencyP99,
        SeriesKind::RetryRate,
        SeriesKind::LimiterWaitP95,
        SeriesKind::LimiterQueueDepth,
        SeriesKind::BreakerState,
    ];

    /// The name in the output.
    pub fn as_str(self) -> &'static str {
        match self {
            SeriesKind::RequestRate => "request_rate",
            SeriesKind::ErrorRatio => "error_ratio",
            SeriesKind::LatencyP50 => "latency_p50",
            SeriesKind::LatencyP95 => "latency_p95",
            SeriesKind::LatencyP99 => "latency_p99",
            SeriesKind::RetryRate => "retry_rate",
            SeriesKind::LimiterWaitP95 => "limiter_wait_p95",
            SeriesKind::LimiterQueueDepth => "limiter_queue_depth",
            SeriesKind::BreakerState => "breaker_state",
        }
    }

    /// The PromQL of this series, by adapter and host, for `selector`
    /// (label matchers without braces) and `window`. The error ratio is the
    /// generated recording rules' failed-attempt ratio, per host.
    pub fn promql(self, naming: Naming, selector: &str, window: &str) -> String {
        let ln = telemetry_runtime::core::catalog::LabelNames::of(naming);
        let by = format!("adapter, {}", ln.host);
        let sel = |extra: &str| match (selector.is_empty(), extra.is_empty()) {
            (true, _) => format!("{{{extra}}}"),
            (false, true) => format!("{{{selector}}}"),
            (false, false) => format!("{{{selector},{extra}}}"),
        };
        let requests = Family::Requests.name(naming);
        let quantile = |q: f64, family: Family| {
            format!(
                "histogram_quantile({q}, sum by ({by}, le) (rate({}_bucket{}[{window}])))",
                family.name(naming),
                sel("")
            )
        };
        match self {
            SeriesKind::RequestRate => {
                format!("sum by ({by}) (rate({requests}{}[{window}]))", sel(""))
            }
            SeriesKind::ErrorRatio => {
                let total = format!("sum by ({by}) (rate({requests}{}[{window}]))", sel(""));
                let rate_of = |extra: String| {
                    format!("sum by ({by}) (rate({requests}{}[{window}]))", sel(&extra))
                };
                // `or total * 0`: a host without failures has a ratio of 0,
                // not a missing point.
                let failed = match naming {
                    Naming::Prometheus => {
                        format!(
                            "{} or {total} * 0",
                            rate_of(r#"status!~"[1-4]..""#.to_owned())
                        )
                    }
                    Naming::OpenTelemetry => format!(
                        "({} or {total} * 0) + ({} or {total} * 0)",
                        rate_of(format!(r#"{}=~"5..""#, ln.status)),
                        rate_of(format!(r#"{}!="""#, ln.error)),
                    ),
                };
                format!("({failed}) / ({total} > 0)")
            }
            SeriesKind::LatencyP50 => quantile(0.5, Family::RequestDuration),
            SeriesKind::LatencyP95 => quantile(0.95, Family::RequestDuration),
            SeriesKind::LatencyP99 => quantile(0.99, Family::RequestDuration),
            SeriesKind::RetryRate => format!(
                "sum by ({by}) (rate({}{}[{window}]))",
                Family::Retries.name(naming),
                sel("")
            ),
            SeriesKind::LimiterWaitP95 => quantile(0.95, Family::LimiterWait),
            SeriesKind::LimiterQueueDepth => format!(
                "max by ({by}) (max_over_time({}{}[{window}]))",
                Family::LimiterQueueDepth.name(naming),
                sel("")
            ),
            SeriesKind::BreakerState => format!(
                "max by ({by}) (max_over_time({}{}[{window}]))",
                Family::BreakerState.name(naming),
                sel("")
            ),
        }
    }
}

/// `--naming`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NamingArg {
    /// `http_requests_total`, `host`, ...
    Prometheus,
    /// OpenTelemetry names as exported to Prometheus.
    #[value(name = "opentelemetry")]
    OpenTelemetry,
}

/// `--format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum HistoryFormat {
    /// One row per point; metadata in leading `#` lines.
    Csv,
    /// `{"metadata": ..., "series": [...]}`.
    Json,
    /// One row per point; metadata in the file's key-value metadata.
    #[cfg(feature = "parquet")]
    Parquet,
}

/// Why `history` failed: each is one line, exit code 2.
#[derive(Debug)]
pub enum HistoryError {
    /// A bad option value.
    Input(String),
    /// Prometheus did not answer usefully, after retries.
    Prometheus(String),
    /// Writing the output failed (nothing was left behind).
    Output(String),
}

impl fmt::Display for HistoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HistoryError::Input(m) => write!(f, "{m}"),
            HistoryError::Prometheus(m) => write!(f, "prometheus: {m}"),
            HistoryError::Output(m) => write!(f, "output: {m}"),
        }
    }
}

impl std::error::Error for HistoryError {}

fn input(m: impl Into<String>) -> HistoryError {
    HistoryError::Input(m.into())
}

/// A duration with the units `d`, `h`, `m`, `s`, `ms` (the runtime's
/// duration grammar, plus days), in seconds.
pub fn parse_span(s: &str) -> Result<f64, HistoryError> {
    let t = s.trim();
    let secs = if let Some(days) = t.strip_suffix('d') {
        days.trim()
            .parse::<f64>()
            .ok()
            .filter(|d| d.is_finite() && *d >= 0.0)
            .map(|d| d * 86_400.0)
            .ok_or_else(|| {
                input(format!(
                    "malformed duration {s:?}: expected for example 7d, 6h, 5m, 30s"
                ))
            })?
    } else {
        telemetry_vocab::duration::parse_secs_f64(t)
            .map_err(|e| input(format!("malformed duration {s:?}: {e} (days: 7d)")))?
    };
    Ok(secs)
}

/// A point in time: RFC 3339, Unix seconds, `now`, or `now-<span>`, as Unix
/// seconds. `now` is passed in, so a whole export uses one.
pub fn parse_time(s: &str, now: f64) -> Result<f64, HistoryError> {
    let t = s.trim();
    if t == "now" {
        return Ok(now);
    }
    if let Some(rest) = t.strip_prefix("now-") {
        return Ok(now - parse_span(rest)?);
    }
    if let Ok(secs) = t.parse::<f64>() {
        if secs.is_finite() && secs >= 0.0 {
            return Ok(secs);
        }
    }
    time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
        .map(|d| d.unix_timestamp_nanos() as f64 / 1e9)
        .map_err(|_| {
            input(format!(
                "malformed time {s:?}: expected RFC 3339 (2026-11-01T00:00:00Z), Unix seconds, or now-7d"
            ))
        })
}

fn rfc3339(unix: f64) -> String {
    let nanos = (unix * 1e9) as i128;
    time::OffsetDateTime::from_unix_timestamp_nanos(nanos)
        .ok()
        .and_then(|d| {
            d.format(&time::format_description::well_known::Rfc3339)
                .ok()
        })
        .unwrap_or_else(|| format!("{unix}"))
}

/// The validated plan of an export.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Range start, Unix seconds.
    pub from: f64,
    /// Range end, Unix seconds.
    pub to: f64,
    /// Step, seconds.
    pub step: f64,
    /// Rate window, PromQL duration.
    pub window: String,
    /// The chunks `[start, end]` each query covers.
    pub chunks: Vec<(f64, f64)>,
}

/// Checks the range and cuts it into chunks of at most `max_points` points.
pub fn plan(args: &HistoryArgs, now: f64) -> Result<Plan, HistoryError> {
    let from = parse_time(&args.from, now)?;
    let to = parse_time(&args.to, now)?;
    if to <= from {
        return Err(input(format!(
            "--to ({}) is not after --from ({})",
            rfc3339(to),
            rfc3339(from)
        )));
    }
    let days = (to - from) / 86_400.0;
    if days > MAX_RANGE_DAYS {
        return Err(input(format!(
            "range of {days:.1} days is longer than {MAX_RANGE_DAYS} days; export it in parts"
        )));
    }
    let step = parse_span(&args.step)?;
    if step < 1.0 {
        return Err(input(format!("--step {:?} is below 1s", args.step)));
    }
    if args.max_points == 0 || args.max_points > PROMETHEUS_MAX_POINTS {
        return Err(input(format!(
            "--max-points must be in 1..={PROMETHEUS_MAX_POINTS} (Prometheus' limit per series)"
        )));
    }
    let window = match &args.window {
        Some(w) => parse_span(w)?,
        None => step.max(300.0),
    };
    if window < 1.0 {
        return Err(input("--window is below 1s"));
    }
    let mut chunks = Vec::new();
    let span = step * (args.max_points - 1) as f64;
    let mut start = from;
    while start <= to {
        let end = (start + span).min(to);
        chunks.push((start, end));
        start = end + step;
    }
    Ok(Plan {
        from,
        to,
        step,
        window: format!("{}s", window.round() as u64),
        chunks,
    })
}

/// One point of the export.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Point {
    /// Which series.
    pub series: SeriesKind,
    /// `adapter` label.
    pub adapter: String,
    /// `host` label.
    pub host: String,
    /// Unix seconds.
    pub unix: f64,
    /// The value (`NaN` when Prometheus has none, for example a ratio of
    /// no traffic).
    pub value: f64,
}

/// The export's metadata.
#[derive(Debug, Clone, Serialize)]
pub struct Metadata {
    /// A fresh id of this export.
    pub export_id: String,
    /// Who asked.
    pub requested_by: String,
    /// When the export was generated (RFC 3339).
    pub generated_at: String,
    /// The Prometheus URL, without credentials.
    pub prometheus: String,
    /// Range and resolution.
    pub from: String,
    /// Range end.
    pub to: String,
    /// Step, seconds.
    pub step_seconds: f64,
    /// Rate window.
    pub window: String,
    /// Label filters.
    pub adapters: Vec<String>,
    /// Label filters.
    pub hosts: Vec<String>,
    /// Series exported.
    pub series: Vec<SeriesKind>,
    /// Points written.
    pub points: usize,
    /// Range queries made (chunks × series).
    pub queries: usize,
}

/// The Prometheus URL without userinfo, and the userinfo if any.
pub fn split_credentials(
    url: &str,
) -> Result<(reqwest::Url, Option<(String, String)>), HistoryError> {
    let mut u =
        reqwest::Url::parse(url).map_err(|e| input(format!("malformed --prometheus URL: {e}")))?;
    if !matches!(u.scheme(), "http" | "https") {
        return Err(input("--prometheus must be an http or https URL"));
    }
    let creds = (!u.username().is_empty()).then(|| {
        (
            u.username().to_owned(),
            u.password().unwrap_or_default().to_owned(),
        )
    });
    // Both cannot fail for an http(s) URL with a host.
    let _ = u.set_username("");
    let _ = u.set_password(None);
    Ok((u, creds))
}

fn selector(args: &HistoryArgs, naming: Naming) -> String {
    let ln = telemetry_runtime::core::catalog::LabelNames::of(naming);
    let alt = |values: &[String]| {
        values
            .iter()
            .map(|v| regex_escape(v))
            .collect::<Vec<_>>()
            .join("|")
    };
    let mut parts = Vec::new();
    if !args.adapter.is_empty() {
        parts.push(format!("adapter=~\"{}\"", alt(&args.adapter)));
    }
    if !args.host.is_empty() {
        parts.push(format!("{}=~\"{}\"", ln.host, alt(&args.host)));
    }
    parts.join(",")
}

/// Escapes a label value for a PromQL regex inside a double-quoted string.
fn regex_escape(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' | '.' | '+' | '*' | '?' | '(' | ')' | '|' | '[' | ']' | '{' | '}' | '^' | '$' => {
                out.push_str("\\\\");
                out.push(c);
            }
            '"' => out.push_str("\\\""),
            c => out.push(c),
        }
    }
    out
}

struct Auth {
    basic: Option<(String, String)>,
    bearer: Option<String>,
}

fn read_secret(path: &Path, what: &str) -> Result<String, HistoryError> {
    fs::read_to_string(path)
        .map(|s| s.trim_end_matches(['\r', '\n']).to_owned())
        .map_err(|e| input(format!("cannot read {what} {}: {e}", path.display())))
}

async fn query_range(
    http: &reqwest::Client,
    base: &reqwest::Url,
    auth: &Auth,
    query: &str,
    (start, end): (f64, f64),
    step: f64,
) -> Result<Vec<Value>, HistoryError> {
    let mut url = base.clone();
    {
        let mut path = url.path().trim_end_matches('/').to_owned();
        path.push_str("/api/v1/query_range");
        url.set_path(&path);
    }
    let mut last = String::new();
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
        }
        let mut req = http.post(url.clone()).form(&[
            ("query", query.to_owned()),
            ("start", format!("{start:.3}")),
            ("end", format!("{end:.3}")),
            ("step", format!("{step}")),
        ]);
        if let Some((u, p)) = &auth.basic {
            req = req.basic_auth(u, Some(p));
        }
        if let Some(t) = &auth.bearer {
            req = req.bearer_auth(t);
        }
        let resp = match req.send().await {
            Ok(r) => r,
            Err(e) => {
                last = format!("{}", e.without_url());
                continue;
            }
        };
        let status = resp.status();
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => {
                last = format!("reading the answer: {}", e.without_url());
                continue;
            }
        };
        if status.as_u16() == 429 || status.is_server_error() {
            last = format!("HTTP {status}");
            continue;
        }
        let v: Value = serde_json::from_slice(&body)
            .map_err(|e| HistoryError::Prometheus(format!("HTTP {status}, not JSON: {e}")))?;
        if v["status"] != "success" {
            return Err(HistoryError::Prometheus(format!(
                "HTTP {status}: {} {}",
                v["errorType"].as_str().unwrap_or("error"),
                v["error"].as_str().unwrap_or("(no message)")
            )));
        }
        return Ok(v["data"]["result"].as_array().cloned().unwrap_or_default());
    }
    Err(HistoryError::Prometheus(format!("{last} (after 4 tries)")))
}

/// Range queries in flight at once.
const CONCURRENT_QUERIES: usize = 4;

/// The points of one range query's answer.
fn points_of(series: SeriesKind, host_label: &str, result: &[Value]) -> Vec<Point> {
    let mut points = Vec::new();
    for r in result {
        let adapter = r["metric"]["adapter"].as_str().unwrap_or("").to_owned();
        let host = r["metric"][host_label].as_str().unwrap_or("").to_owned();
        for v in r["values"].as_array().into_iter().flatten() {
            points.push(Point {
                series,
                adapter: adapter.clone(),
                host: host.clone(),
                unix: v[0].as_f64().unwrap_or(f64::NAN),
                value: v[1]
                    .as_str()
                    .and_then(|s| s.parse::<f64>().ok())
                    .unwrap_or(f64::NAN),
            });
        }
    }
    points
}

/// Runs the export; returns its metadata.
pub fn run(args: &HistoryArgs) -> Result<Metadata, HistoryError> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0);
    let plan = plan(args, now)?;
    let (base, url_creds) = split_credentials(&args.prometheus)?;
    let basic = match (&args.user, &args.password_file, url_creds) {
        (Some(u), Some(p), _) => Some((u.clone(), read_secret(p, "password file")?)),
        (Some(u), None, _) => Some((u.clone(), String::new())),
        (None, Some(_), _) => return Err(input("--password-file needs --user")),
        (None, None, c) => c,
    };
    let bearer = match &args.bearer_token_file {
        Some(p) => Some(read_secret(p, "bearer token file")?),
        None => None,
    };
    if basic.is_some() && bearer.is_some() {
        return Err(input("give basic auth or a bearer token, not both"));
    }
    let auth = Auth { basic, bearer };
    check_destination(&args.out)?;
    let naming = match args.naming {
        NamingArg::Prometheus => Naming::Prometheus,
        NamingArg::OpenTelemetry => Naming::OpenTelemetry,
    };
    let series: Vec<SeriesKind> = if args.series.is_empty() {
        SeriesKind::ALL.to_vec()
    } else {
        args.series.clone()
    };
    let sel = selector(args, naming);
    let host_label = telemetry_runtime::core::catalog::LabelNames::of(naming).host;

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| HistoryError::Prometheus(format!("cannot start a runtime: {e}")))?;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .map_err(|e| HistoryError::Prometheus(format!("cannot build an HTTP client: {e}")))?;
    let jobs: Vec<(SeriesKind, Arc<str>, (f64, f64))> = series
        .iter()
        .flat_map(|s| {
            let q: Arc<str> = s.promql(naming, &sel, &plan.window).into();
            plan.chunks.iter().map(move |c| (*s, q.clone(), *c))
        })
        .collect();
    let queries = jobs.len();
    let public_url = base.to_string();
    let base = Arc::new(base);
    let auth = Arc::new(auth);
    let step = plan.step;
    let mut points = rt.block_on(async move {
        // A few queries at a time: Prometheus evaluates them in parallel,
        // and the answers are parsed on two threads, without flooding a
        // server that others use too.
        let permits = Arc::new(tokio::sync::Semaphore::new(CONCURRENT_QUERIES));
        let mut set = tokio::task::JoinSet::new();
        for (kind, q, chunk) in jobs {
            let (http, base, auth, permits) =
                (http.clone(), base.clone(), auth.clone(), permits.clone());
            set.spawn(async move {
                let _permit = permits.acquire_owned().await;
                let result = query_range(&http, &base, &auth, &q, chunk, step).await?;
                Ok::<_, HistoryError>(points_of(kind, host_label, &result))
            });
        }
        let mut points = Vec::new();
        while let Some(done) = set.join_next().await {
            match done {
                Ok(Ok(p)) => points.extend(p),
                Ok(Err(e)) => return Err(e),
                Err(e) => {
                    return Err(HistoryError::Prometheus(format!(
                        "a query task failed: {e}"
                    )))
                }
            }
        }
        Ok(points)
    })?;
    points.sort_by(|a, b| {
        (a.series as u8, &a.adapter, &a.host)
            .cmp(&(b.series as u8, &b.adapter, &b.host))
            .then(a.unix.total_cmp(&b.unix))
    });
    points.dedup_by(|a, b| {
        a.series == b.series && a.adapter == b.adapter && a.host == b.host && a.unix == b.unix
    });
    let meta = Metadata {
        export_id: export_id(now),
        requested_by: args
            .requested_by
            .clone()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "unknown".into()),
        generated_at: rfc3339(now),
        prometheus: public_url,
        from: rfc3339(plan.from),
        to: rfc3339(plan.to),
        step_seconds: plan.step,
        window: plan.window.clone(),
        adapters: args.adapter.clone(),
        hosts: args.host.clone(),
        series,
        points: points.len(),
        queries,
    };
    write_atomically(&args.out, |w| match args.format {
        HistoryFormat::Csv => write_csv(w, &meta, &points),
        HistoryFormat::Json => write_json(w, &meta, &points),
        #[cfg(feature = "parquet")]
        HistoryFormat::Parquet => write_parquet(w, &meta, &points),
    })?;
    Ok(meta)
}

fn export_id(now: f64) -> String {
    let seed = (now * 1e9) as u64 ^ (u64::from(std::process::id()) << 32);
    format!("{:016x}", telemetry_runtime::labels::hash::mix64(seed))
}

/// Refuses a destination whose directory does not exist or is a file,
/// before any query runs.
fn check_destination(out: &Path) -> Result<(), HistoryError> {
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    if !dir.is_dir() {
        return Err(HistoryError::Output(format!(
            "directory {} does not exist",
            dir.display()
        )));
    }
    if out.is_dir() {
        return Err(HistoryError::Output(format!(
            "{} is a directory",
            out.display()
        )));
    }
    Ok(())
}

/// Writes through `f` into a temporary file beside `out`, syncs it and
/// renames it over `out`; on any failure the temporary file is removed and
/// `out` is untouched.
pub fn write_atomically(
    out: &Path,
    f: impl FnOnce(&mut BufWriter<File>) -> std::io::Result<()>,
) -> Result<(), HistoryError> {
    let name = out
        .file_name()
        .ok_or_else(|| HistoryError::Output(format!("{} has no file name", out.display())))?;
    let dir = out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let result = (|| {
        let file = File::create(&tmp)?;
        let mut w = BufWriter::new(file);
        f(&mut w)?;
        let file = w.into_inner().map_err(|e| e.into_error())?;
        file.sync_all()?;
        fs::rename(&tmp, out)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        HistoryError::Output(format!("cannot write {}: {e}", out.display()))
    })
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn write_csv(w: &mut impl Write, meta: &Metadata, points: &[Point]) -> std::io::Result<()> {
    let json = serde_json::to_value(meta).map_err(std::io::Error::other)?;
    if let Some(obj) = json.as_object() {
        for (k, v) in obj {
            let v = match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            writeln!(w, "# {k}: {}", v.replace(['\n', '\r'], " "))?;
        }
    }
    writeln!(w, "series,adapter,host,timestamp,unix_seconds,value")?;
    for p in points {
        let value = if p.value.is_nan() {
            String::new()
        } else {
            format!("{}", p.value)
        };
        writeln!(
            w,
            "{},{},{},{},{},{}",
            p.series.as_str(),
            csv_field(&p.adapter),
            csv_field(&p.host),
            rfc3339(p.unix),
            p.unix,
            value
        )?;
    }
    Ok(())
}

fn write_json(w: &mut impl Write, meta: &Metadata, points: &[Point]) -> std::io::Result<()> {
    #[derive(Serialize)]
    struct Series<'a> {
        series: SeriesKind,
        adapter: &'a str,
        host: &'a str,
        /// `[unix_seconds, value]`, `null` for no value.
        points: Vec<(f64, Option<f64>)>,
    }
    let mut series: Vec<Series<'_>> = Vec::new();
    for p in points {
        let same = series
            .last()
            .is_some_and(|s| s.series == p.series && s.adapter == p.adapter && s.host == p.host);
        if !same {
            series.push(Series {
                series: p.series,
                adapter: &p.adapter,
                host: &p.host,
                points: Vec::new(),
            });
        }
        if let Some(s) = series.last_mut() {
            s.points
                .push((p.unix, (!p.value.is_nan()).then_some(p.value)));
        }
    }
    serde_json::to_writer(
        &mut *w,
        &serde_json::json!({ "metadata": meta, "series": series }),
    )
    .map_err(std::io::Error::other)?;
    writeln!(w)
}

#[cfg(feature = "parquet")]
fn write_parquet(
    w: &mut BufWriter<File>,
    meta: &Metadata,
    points: &[Point],
) -> std::io::Result<()> {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Float64Array, RecordBatch, StringArray};
    use arrow_schema::{DataType, Field, Schema};
    use parquet::arrow::ArrowWriter;
    use parquet::basic::{Compression, ZstdLevel};
    use parquet::file::metadata::KeyValue;
    use parquet::file::properties::WriterProperties;

    let schema = Arc::new(Schema::new(vec![
        Field::new("series", DataType::Utf8, false),
        Field::new("adapter", DataType::Utf8, false),
        Field::new("host", DataType::Utf8, false),
        Field::new("unix_seconds", DataType::Float64, false),
        Field::new("value", DataType::Float64, true),
    ]));
    let cols: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            points.iter().map(|p| p.series.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            points.iter().map(|p| p.adapter.as_str()),
        )),
        Arc::new(StringArray::from_iter_values(
            points.iter().map(|p| p.host.as_str()),
        )),
        Arc::new(Float64Array::from_iter_values(
            points.iter().map(|p| p.unix),
        )),
        Arc::new(Float64Array::from_iter(
            points
                .iter()
                .map(|p| (!p.value.is_nan()).then_some(p.value)),
        )),
    ];
    let batch = RecordBatch::try_new(schema.clone(), cols).map_err(std::io::Error::other)?;
    let meta_json = serde_json::to_string(meta).map_err(std::io::Error::other)?;
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::default()))
        .set_key_value_metadata(Some(vec![KeyValue::new(
            "adapter_telemetry.history".to_owned(),
            meta_json,
        )]))
        .build();
    let mut writer =
        ArrowWriter::try_new(&mut *w, schema, Some(props)).map_err(std::io::Error::other)?;
    writer.write(&batch).map_err(std::io::Error::other)?;
    writer.close().map_err(std::io::Error::other)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        h: HistoryArgs,
    }

    fn args(extra: &[&str]) -> HistoryArgs {
        let mut v = vec!["x", "--prometheus", "http://p:9090", "--out", "o.csv"];
        v.extend_from_slice(extra);
        match Cli::try_parse_from(v) {
            Ok(c) => c.h,
            Err(e) => panic!("{e}"),
        }
    }

    const NOW: f64 = 1_800_000_000.0;

    #[test]
    fn times_parse_in_every_form_and_bad_ones_say_what_is_expected() {
        assert_eq!(parse_time("now", NOW).ok(), Some(NOW));
        assert_eq!(parse_time("now-7d", NOW).ok(), Some(NOW - 7.0 * 86_400.0));
        assert_eq!(parse_time("now-90m", NOW).ok(), Some(NOW - 5_400.0));
        assert_eq!(parse_time("1700000000", NOW).ok(), Some(1_700_000_000.0));
        assert_eq!(
            parse_time("2023-11-14T22:13:20Z", NOW).ok(),
            Some(1_700_000_000.0)
        );
        for bad in ["yesterday", "2023-13-01T00:00:00Z", "now-7 weeks", "-5", ""] {
            let e = parse_time(bad, NOW)
                .map(|_| ())
                .expect_err("refused")
                .to_string();
            assert!(e.contains("malformed"), "{bad:?}: {e}");
        }
    }

    #[test]
    fn ranges_over_a_year_or_backwards_are_refused() {
        let e = plan(&args(&["--from", "now-366d"]), NOW)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("longer than 365 days"), "{e}");
        let e = plan(&args(&["--from", "now", "--to", "now-1d"]), NOW)
            .expect_err("refused")
            .to_string();
        assert!(e.contains("is not after"), "{e}");
        assert!(plan(&args(&["--from", "now-365d"]), NOW).is_ok());
    }

    #[test]
    fn chunks_cover_the_range_once_under_the_point_limit() {
        let p = match plan(&args(&["--from", "now-90d", "--step", "5m"]), NOW) {
            Ok(p) => p,
            Err(e) => panic!("{e}"),
        };
        // 90 days at 5 minutes is 25,921 points: three chunks of at most 10,000.
        assert_eq!(p.chunks.len(), 3);
        let mut expected = p.from;
        for (start, end) in &p.chunks {
            assert_eq!(*start, expected, "no gap, no overlap");
            let points = ((end - start) / p.step).round() as u64 + 1;
            assert!(points <= 10_000, "{points}");
            expected = end + p.step;
        }
        assert_eq!(p.chunks.last().map(|c| c.1), Some(p.to));
        assert_eq!(p.window, "300s");
    }

    #[test]
    fn credentials_leave_the_url_and_filters_are_escaped() {
        let (u, c) = match split_credentials("https://me:s3cret@prom.example:9090/base") {
            Ok(x) => x,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(u.as_str(), "https://prom.example:9090/base");
        assert_eq!(c, Some(("me".into(), "s3cret".into())));
        assert!(split_credentials("ftp://x").is_err());
        let a = args(&[
            "--from",
            "now-1d",
            "--adapter",
            "crossref",
            "--host",
            "api.example.com:8443",
        ]);
        assert_eq!(
            selector(&a, Naming::Prometheus),
            r#"adapter=~"crossref",host=~"api\\.example\\.com:8443""#
        );
        let q = SeriesKind::ErrorRatio.promql(Naming::Prometheus, "adapter=~\"a\"", "300s");
        assert_eq!(
            q,
            r#"(sum by (adapter, host) (rate(http_requests_total{adapter=~"a",status!~"[1-4].."}[300s])) or sum by (adapter, host) (rate(http_requests_total{adapter=~"a"}[300s])) * 0) / (sum by (adapter, host) (rate(http_requests_total{adapter=~"a"}[300s])) > 0)"#
        );
    }

    #[test]
    fn a_failed_write_leaves_no_file() {
        let dir = std::env::temp_dir().join(format!("history-atomic-{}", std::process::id()));
        let _ = fs::create_dir_all(&dir);
        let out = dir.join("out.csv");
        let r = write_atomically(&out, |w| {
            w.write_all(b"partial")?;
            Err(std::io::Error::other("disk full"))
        });
        assert!(r.is_err());
        assert!(!out.exists());
        let leftovers: Vec<_> = fs::read_dir(&dir).into_iter().flatten().flatten().collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let _ = fs::remove_dir_all(&dir);
    }
}
