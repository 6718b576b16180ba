//! `adapter-telemetry rules` and `dashboards`: what the main job's
//! `--export` writes, from the manifests stored in a database, through the
//! runtime's own generators.

use std::path::PathBuf;

use telemetry_runtime::backends::prometheus::{dashboard, k8s, rules};
use telemetry_runtime::manifest::AdapterManifest;

use crate::atomic::write_files;
use crate::db::{self, Filter};
use crate::error::{Failure, Result};

/// `rules` and `dashboards` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct GenerateArgs {
    /// The event store (SQLite, schema version 1).
    #[arg(long, value_name = "FILE")]
    pub(crate) db: PathBuf,
    /// Output directory (created if missing).
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Whose manifests: without --run, --since or --until, every run's
    /// (the latest manifest of each adapter).
    #[command(flatten)]
    pub(crate) filter: Filter,
}

fn stored(args: &GenerateArgs) -> Result<Vec<&'static AdapterManifest>> {
    let conn = db::open(&args.db)?;
    let scope = db::scope(&conn, &args.filter, false)?;
    let manifests = db::manifests(&conn, &scope)?;
    if manifests.is_empty() {
        return Err(Failure::new("no stored manifests match"));
    }
    // One leak per adapter for the life of this short process.
    Ok(manifests.iter().map(|(_, m)| m.leak()).collect())
}

/// Writes `alerts.yml`.
pub(crate) fn rules(args: &GenerateArgs) -> Result<()> {
    let manifests = stored(args)?;
    let yaml = rules::alert_rules(&manifests);
    for p in write_files(&args.out, &[("alerts.yml".into(), yaml.into_bytes())])? {
        println!("{}", p.display());
    }
    Ok(())
}

/// Writes `dashboard-<adapter>.json` per adapter.
pub(crate) fn dashboards(args: &GenerateArgs) -> Result<()> {
    let manifests = stored(args)?;
    let mut files = Vec::new();
    for m in manifests {
        let json = serde_json::to_string_pretty(&dashboard::grafana_dashboard(m))
            .map_err(|e| Failure::new(format!("cannot write the dashboard of {}: {e}", m.name)))?;
        files.push((format!("dashboard-{}.json", m.name), json.into_bytes()));
    }
    for p in write_files(&args.out, &files)? {
        println!("{}", p.display());
    }
    Ok(())
}

/// `k8s` arguments: [`GenerateArgs`] plus the namespace.
#[derive(Debug, clap::Args)]
pub(crate) struct K8sArgs {
    #[command(flatten)]
    pub(crate) generate: GenerateArgs,
    /// The namespace of the objects.
    #[arg(long, default_value = "default")]
    pub(crate) namespace: String,
}

/// Writes `prometheus-rule.yaml` (the alert rules of the stored manifests
/// in a `PrometheusRule`) and `service-monitor.yaml`.
pub(crate) fn k8s(args: &K8sArgs) -> Result<()> {
    let manifests = stored(&args.generate)?;
    let ns = args.namespace.as_str();
    if ns.is_empty()
        || ns.len() > 63
        || !ns
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || ns.starts_with('-')
        || ns.ends_with('-')
    {
        return Err(Failure::new(format!(
            "--namespace {ns:?} is not a Kubernetes name (lowercase letters, digits and '-', at most 63)"
        )));
    }
    let files = [
        (
            "prometheus-rule.yaml".to_owned(),
            k8s::prometheus_rule(&manifests, ns).into_bytes(),
        ),
        (
            "service-monitor.yaml".to_owned(),
            k8s::service_monitor(ns).into_bytes(),
        ),
    ];
    for p in write_files(&args.generate.out, &files)? {
        println!("{}", p.display());
    }
    Ok(())
}
