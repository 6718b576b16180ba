//! The main job's event store (issue 11): `--db FILE` (SQLite), `--jsonl
//! FILE` and `--push URL` (Pushgateway) record this run.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::OnceLock;
use std::time::Duration;

use telemetry_runtime::backends::prometheus::push::Pushgateway;
use telemetry_runtime::events::EventRef;
use telemetry_runtime::run::Run;
use telemetry_runtime::sink::queue::QueueGuard;
use telemetry_runtime::sink::sqlite::SqliteGuard;
use telemetry_runtime::sink::{deliver, jsonl, sqlite, EventSink, FanoutSink};

/// The store's options of the main job.
#[derive(clap::Args, Debug, Clone)]
pub struct StoreArgs {
    /// Write this run's events to a SQLite event store (schema v1; read it
    /// with `adapter-telemetry slo --db FILE`).
    #[arg(long, value_name = "FILE")]
    pub db: Option<PathBuf>,
    /// Write this run's events as JSON lines (schema v1).
    #[arg(long, value_name = "FILE")]
    pub jsonl: Option<PathBuf>,
    /// Push the metrics to this Pushgateway at the end of the run, grouped
    /// by job and run id.
    #[arg(long, value_name = "URL")]
    pub push: Option<String>,
    /// The run's job name.
    #[arg(long, default_value = "main-job")]
    pub job: String,
}

/// One sink shared by the adapters' fan-outs (the queued stores, the job's
/// event log).
#[derive(Clone)]
pub struct Shared(pub Arc<dyn EventSink>);

impl EventSink for Shared {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn on_event(&self, event: EventRef<'_>) {
        deliver(&*self.0, event);
    }
    fn flush(&self) {
        self.0.flush();
    }
}

static SINKS: OnceLock<Vec<Shared>> = OnceLock::new();

/// The run being recorded and the guards that finish it.
pub struct Store {
    run: Run,
    db: Option<SqliteGuard>,
    jsonl: Option<QueueGuard>,
    push: Option<Pushgateway>,
}

/// Opens what the options ask for; call before the adapters' sinks are built.
pub fn start(args: &StoreArgs) -> Result<Store, Box<dyn std::error::Error>> {
    let run = Run::start(args.job.clone()).label("program", "telemetry-examples");
    let mut sinks = Vec::new();
    let db = match &args.db {
        Some(path) => {
            let (sink, guard) = sqlite::open(path, &run, Default::default())?;
            sinks.push(Shared(Arc::new(sink)));
            Some(guard)
        }
        None => None,
    };
    let jsonl = match &args.jsonl {
        Some(path) => {
            let (sink, guard) = jsonl::open(path, &run, Default::default())?;
            sinks.push(Shared(Arc::new(sink)));
            Some(guard)
        }
        None => None,
    };
    let _ = SINKS.set(sinks);
    Ok(Store {
        run,
        db,
        jsonl,
        push: args.push.as_ref().map(Pushgateway::new),
    })
}

/// Adds the store's sinks to an adapter's fan-out.
pub fn with_store_sinks(mut fanout: FanoutSink) -> FanoutSink {
    for s in SINKS.get().into_iter().flatten() {
        fanout = fanout.with(s.clone());
    }
    fanout
}

impl Store {
    /// Ends the run: drains the queues, closes the run's row, pushes.
    pub fn finish(self) -> Result<(), Box<dyn std::error::Error>> {
        if let Some(db) = self.db {
            let s = db.finish(Duration::from_secs(10))?;
            println!(
                "event store: run {} ({} events written, {} dropped)",
                self.run.id(),
                s.events_written,
                s.events_dropped
            );
        }
        if let Some(guard) = self.jsonl {
            let r = guard.shutdown(Duration::from_secs(10));
            println!(
                "jsonl: {} events written, {} dropped",
                r.written,
                r.dropped + r.lost + r.unwritten as u64
            );
        }
        if let Some(gw) = self.push {
            gw.push_run(&self.run)?;
            println!("pushed to {}", gw.group_url(&self.run));
        }
        Ok(())
    }
}
