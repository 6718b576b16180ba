//! `adapter-telemetry`: SLOs, exports, a Prometheus view, alert rules and
//! dashboards of the runs stored in the SQLite event store (issue 11).
//!
//! Exit codes: 0 success (every objective holds, for `slo`), 1 an objective
//! fails (`slo` only), 2 bad input (a one-line error on stderr). See
//! docs/adapter-telemetry.md.

mod atomic;
mod db;
mod error;
mod export;
mod generate;
mod history;
mod manifest;
#[cfg(feature = "parquet")]
mod parquet_out;
mod quantile;
mod serve;
mod sli;
mod slo;
mod timearg;

use std::io::Write as _;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// SLOs, exports and monitoring artefacts of runs stored by the SQLite sink.
#[derive(Debug, Parser)]
#[command(name = "adapter-telemetry", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// SLIs of a run or time window, checked against the stored objectives
    /// (or --objective); JSON on stdout; exit 1 when one fails.
    Slo(slo::SloArgs),
    /// One file per table (Parquet with ZSTD, CSV or JSON lines), written atomically.
    Export(export::ExportArgs),
    /// Serve the SLIs of the stored runs as Prometheus gauges, re-read every N seconds.
    Serve(serve::ServeArgs),
    /// Write the alert rules (`alerts.yml`) generated from the stored manifests.
    Rules(generate::GenerateArgs),
    /// Write one Grafana dashboard per stored adapter (`dashboard-<adapter>.json`).
    Dashboards(generate::GenerateArgs),
    /// Write a `PrometheusRule` and a `ServiceMonitor` from the stored manifests.
    K8s(generate::K8sArgs),
    /// Per-host history of the catalogue's series from Prometheus' HTTP API
    /// (range queries in chunks), as CSV, JSON or Parquet, written atomically.
    History(history::HistoryArgs),
}

fn fail(msg: &str) -> ExitCode {
    let _ = writeln!(std::io::stderr(), "adapter-telemetry: error: {msg}");
    ExitCode::from(2)
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            use clap::error::ErrorKind;
            if matches!(
                e.kind(),
                ErrorKind::DisplayHelp
                    | ErrorKind::DisplayVersion
                    | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
            ) {
                let _ = e.print();
                return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                    ExitCode::from(2)
                } else {
                    ExitCode::SUCCESS
                };
            }
            // clap's message spans lines (usage, a hint): the first is the error.
            let text = e.render().to_string();
            let first = text
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments")
                .trim_start_matches("error: ");
            return fail(first);
        }
    };
    let result = match &cli.command {
        Command::Slo(a) => slo::run(a).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }),
        Command::Export(a) => export::run(a).map(|()| ExitCode::SUCCESS),
        Command::Serve(a) => serve::run(a).map(|()| ExitCode::SUCCESS),
        Command::Rules(a) => generate::rules(a).map(|()| ExitCode::SUCCESS),
        Command::Dashboards(a) => generate::dashboards(a).map(|()| ExitCode::SUCCESS),
        Command::K8s(a) => generate::k8s(a).map(|()| ExitCode::SUCCESS),
        Command::History(a) => match history::run(a) {
            Ok(meta) => {
                // The export's metadata, for scripts.
                let line = serde_json::to_string(&meta).unwrap_or_default();
                let _ = writeln!(std::io::stdout(), "{line}");
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => return fail(&e.to_string()),
        },
    };
    match result {
        Ok(code) => code,
        Err(e) => fail(&e.to_string()),
    }
}
