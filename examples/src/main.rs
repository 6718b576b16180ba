//! The main job: two annotated adapters call the embedded upstream simulator
//! (several hosts, each with its own fault) through the instrumented client,
//! while `/metrics` and the health endpoints are served on loopback. At the end
//! it prints a per-host summary and the request metrics.
//!
//! `cargo run -p telemetry-examples --release` (see README.md); `--help` for
//! options. `--config FILE` starts it from a configuration file and reloads
//! it while it runs (config.rs, docs/configuration.md).

use std::net::SocketAddr;
use std::time::Duration;

use clap::Parser;
use telemetry_runtime::backends::prometheus::{render, PrometheusSink};
use telemetry_runtime::client::ClientError;
use telemetry_runtime::sink::{EventSink, FanoutSink};
use telemetry_runtime::{emit, instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::scenario::{Scenario, SummarySink};
use telemetry_sim::{Route, Script, Simulator, Step};

// --- event store (issue 11): --db, --jsonl, --push; see store.rs ---
mod store;
// --- end event store ---
// --- runtime control (issue 12): --config FILE; see config.rs ---
mod config;
// --- end runtime control ---

/// A DOI metadata service, spread over the scenario's seven hosts.
#[instrumented_adapter(
    name = "crossref",
    hosts(cap = 16),
    labels(tenant(cap = 8)),
    events(resolved(tenant, doi: String, attempts_ok: bool)),
    slo(success = 99.5, latency_p99 = "500ms"),
)]
#[derive(Debug)]
pub struct Crossref {
    http: AdapterClient,
}

/// A resolver with a primary that is down and a healthy mirror: every call
/// falls back.
#[instrumented_adapter(
    name = "doi_resolver",
    hosts(cap = 4),
    labels(origin(cap = 4)),
    events(served(origin, tier: u32)),
    slo(success = 99.0, latency_p95 = "250ms"),
)]
#[derive(Debug)]
pub struct DoiResolver {
    http: AdapterClient,
    primary: String,
    mirror: String,
}

impl DoiResolver {
    async fn resolve(&self, doi: &str) -> Result<u16, ClientError> {
        let primary = format!("{}{doi}", self.primary);
        let mirror = format!("{}{doi}", self.mirror);
        let hit = self
            .http
            .fallback()
            .source("primary", |id| {
                self.http.get(&primary).correlation_id(id).send()
            })
            .source("mirror", |id| {
                self.http.get(&mirror).correlation_id(id).send()
            })
            .run()
            .await?;
        emit!(self, served(hit.source, hit.tier));
        Ok(hit.response.status().as_u16())
    }
}

#[derive(Parser, Debug)]
#[command(about = "Run two instrumented adapters against the embedded upstream simulator")]
struct Args {
    /// Requests per host for the `crossref` adapter.
    #[arg(long, default_value_t = 30)]
    rounds: usize,
    /// Calls of the fallback adapter.
    #[arg(long, default_value_t = 10)]
    lookups: usize,
    /// Where /metrics and /health* are served: 127.0.0.1:0 (port 0 picks
    /// one), or the `listen` of the --config file; this option wins over both.
    #[arg(long)]
    listen: Option<SocketAddr>,
    /// The configuration file (TOML: the server's keys, `[client.<adapter>]`
    /// policies, `[log] filter`; docs/configuration.md). Reloaded on SIGHUP,
    /// when the file changes, and on `POST /-/reload`.
    #[arg(long, value_name = "FILE")]
    config: Option<std::path::PathBuf>,
    /// Keep serving /metrics this many seconds after the run (for a scrape or curl).
    #[arg(long, default_value_t = 0)]
    hold: u64,
    /// Write every event as a JSON line to standard error (sampled and
    /// rate-limited by the `[events]` section of `--config FILE`).
    #[arg(long)]
    log_events: bool,
    /// Print the whole exposition instead of the request counters only.
    #[arg(long)]
    full_metrics: bool,
    /// Quick run with little output (used by the test suite).
    #[arg(long)]
    smoke: bool,
    /// Write Prometheus alert rules (`alerts.yml`), one Grafana dashboard per
    /// adapter (`dashboard-<adapter>.json`), an Alertmanager configuration
    /// (`alertmanager.yml`), a `PrometheusRule` (`prometheus-rule.yaml`) and a
    /// `ServiceMonitor` (`service-monitor.yaml`), generated from the
    /// adapters' manifests, into this directory.
    #[arg(long)]
    export: Option<std::path::PathBuf>,
    // --- event store (issue 11) ---
    #[command(flatten)]
    store: store::StoreArgs,
    // --- end event store ---
}

/// Writes the alert rules and dashboards generated from the manifests.
fn export(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use telemetry_runtime::backends::prometheus::{dashboard, rules};
    let manifests = [Crossref::MANIFEST, DoiResolver::MANIFEST];
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("alerts.yml"), rules::alert_rules(&manifests))?;
    for m in manifests {
        let json = serde_json::to_string_pretty(&dashboard::grafana_dashboard(m))?;
        std::fs::write(dir.join(format!("dashboard-{}.json", m.name)), json)?;
    }
    // --- issue 13 (alerting, Kubernetes): Alertmanager config, PrometheusRule, ServiceMonitor ---
    {
        use telemetry_runtime::backends::prometheus::{alertmanager, k8s};
        let am = alertmanager::alertmanager_config(&alertmanager::AlertmanagerOptions::default());
        std::fs::write(dir.join("alertmanager.yml"), am)?;
        std::fs::write(
            dir.join("prometheus-rule.yaml"),
            k8s::prometheus_rule(&manifests, "default"),
        )?;
        std::fs::write(
            dir.join("service-monitor.yaml"),
            k8s::service_monitor("default"),
        )?;
    }
    // --- end issue 13 ---
    println!("wrote alert rules and dashboards to {}", dir.display());
    Ok(())
}

fn sinks(summary: &SummarySink, log: Option<&config::EventLog>) -> Box<dyn EventSink> {
    let mut fanout = FanoutSink::new()
        .with(PrometheusSink::new())
        .with(summary.clone());
    // One event log shared by both adapters, sampled and rate-limited as
    // the configuration file's `[events]` says.
    if let Some(log) = log {
        fanout = fanout.with(log.sink());
    }
    // --- event store (issue 11) ---
    let fanout = store::with_store_sinks(fanout);
    // --- end event store ---
    Box::new(fanout)
}

/// Errors end the job with one line on stderr: exit code 2 for the
/// configuration file, 1 for anything else.
#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            let code = if e.is::<config::ConfigError>() { 2 } else { 1 };
            let text = e.to_string();
            let line: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            eprintln!("telemetry-examples: error: {}", line.join(" "));
            std::process::ExitCode::from(code)
        }
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = Args::parse();
    if let Some(dir) = &args.export {
        export(dir)?;
    }
    if args.smoke {
        args.rounds = args.rounds.min(6);
        args.lookups = args.lookups.min(3);
    }

    let server_config = config::server_config(args.config.as_deref(), args.listen)?;
    let server = telemetry_runtime::server::serve(server_config.clone()).await?;
    println!(
        "serving {}/metrics, /health, /health/ready, /health/detailed, /dashboard",
        server.base_url()
    );

    let sim = Simulator::start().await?;
    let scenario = Scenario::default_scenario();
    scenario.install(&sim);
    sim.route(
        Route::host("primary.test"),
        Script::always(Step::status(503)),
    );
    sim.route(
        Route::host("mirror.test"),
        Script::always(Step::ok().delay(Duration::from_millis(3))),
    );
    println!("upstream simulator on {} with hosts:", sim.addr());
    for h in &scenario.hosts {
        println!("  {:<12} {}", h.host, h.description);
    }
    println!(
        "  {:<12} down (503), with a healthy mirror.test behind it",
        "primary.test"
    );

    // --- event store (issue 11): opened before the adapters' sinks ---
    let run_store = store::start(&args.store)?;
    // --- end event store ---
    let crossref_summary = SummarySink::new();
    let resolver_summary = SummarySink::new();
    let event_log = args.log_events.then(config::EventLog::stderr);
    Crossref::telemetry().set_sink(Some(sinks(&crossref_summary, event_log.as_ref())));
    DoiResolver::telemetry().set_sink(Some(sinks(&resolver_summary, event_log.as_ref())));

    let crossref = Crossref {
        http: scenario.client_builder::<Crossref>(&sim).build()?,
    };
    let resolver = DoiResolver {
        http: scenario
            .client_builder::<DoiResolver>(&sim)
            .resolve("primary.test", sim.addr())
            .resolve("mirror.test", sim.addr())
            .build()?,
        primary: sim.url("primary.test", "/doi/"),
        mirror: sim.url("mirror.test", "/doi/"),
    };

    // --- runtime control (issue 12) ---
    let _control = match &args.config {
        Some(path) => Some(
            config::start(
                path,
                &server,
                server_config,
                &[&crossref.http, &resolver.http],
                event_log.as_ref(),
            )
            .await?,
        ),
        None => {
            println!("configuration: the job's defaults (--config FILE reads a file)");
            None
        }
    };
    // --- end runtime control ---

    let started = std::time::Instant::now();
    let (ok, failed) = scenario.drive(&crossref.http, &sim, args.rounds).await;
    for (i, tenant) in ["acme", "globex", "initech"]
        .iter()
        .cycle()
        .take(6)
        .enumerate()
    {
        crossref
            .emit()
            .resolved(tenant, format!("10.1000/{i}"), failed == 0);
    }
    let mut served = 0;
    for i in 0..args.lookups {
        if resolver.resolve(&format!("10.1000/{i}")).await.is_ok() {
            served += 1;
        }
    }
    let elapsed = started.elapsed();

    println!(
        "\ncrossref: {ok} requests succeeded, {failed} failed in {:.2} s",
        elapsed.as_secs_f64()
    );
    print!("{}", crossref_summary.render(&crossref.http));
    println!(
        "\ndoi_resolver: {served}/{} lookups served (primary down, mirror up)",
        args.lookups
    );
    print!("{}", resolver_summary.render(&resolver.http));

    let exposition = render();
    if !args.smoke {
        println!();
        if args.full_metrics {
            print!("{exposition}");
        } else {
            for line in exposition.lines().filter(|l| {
                l.starts_with("http_requests_total") || l.starts_with("http_circuit_breaker_state")
            }) {
                println!("{line}");
            }
            println!("(--full-metrics prints the whole exposition; it is also served at /metrics)");
        }
    }
    if ok == 0 || served == 0 || !exposition.contains("http_requests_total{") {
        return Err("the main job observed no successful request".into());
    }

    // --- event store (issue 11): the run ends here ---
    run_store.finish()?;
    // --- end event store ---

    if args.hold > 0 {
        // The live dashboard (issue 12): light traffic keeps it moving
        // while the server is held up.
        println!(
            "\nholding /metrics at {} for {} s; open the live dashboard at {}/dashboard",
            server.base_url(),
            args.hold,
            server.base_url()
        );
        let until = std::time::Instant::now() + Duration::from_secs(args.hold);
        while std::time::Instant::now() < until {
            scenario.drive(&crossref.http, &sim, 1).await;
            let _ = resolver.resolve("10.1000/hold").await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
    server.shutdown().await?;
    sim.shutdown().await;
    telemetry_runtime::dispatch::flush_global();
    Ok(())
}
