//! `adapter-telemetry` (skeleton for the history branch; the cli branch owns this file).
use clap::{Parser, Subcommand};
use std::process::ExitCode;

mod history;

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Per-host history from Prometheus' HTTP API, as CSV, JSON or Parquet.
    History(history::HistoryArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::History(a) => match history::run(&a) {
            Ok(meta) => {
                println!("{}", serde_json::to_string(&meta).unwrap_or_default());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("adapter-telemetry history: {e}");
                ExitCode::from(2)
            }
        },
    }
}
