//! The SQLite event store (feature `sqlite`): every wire attempt, limiter
//! answer, breaker transition, fallback attempt and custom event of a run,
//! in the tables of [`SCHEMA_V1`], written behind the bounded queue.
//!
//! [`open`] creates or upgrades the database ([`migrate`]), records the run
//! and the manifests of the adapters registered so far (an adapter first
//! seen later is stored with its first event), and returns the queued sink
//! and a [`SqliteGuard`]. The queue's writer thread owns the connection: one
//! transaction per queue batch (`BEGIN` at the batch's start, `COMMIT` at its
//! end), cached prepared statements, WAL journal, `synchronous = NORMAL` by
//! default. A batch that fails to commit is rolled back, the failure is
//! counted in `telemetry_sink_write_errors_total{sink="sqlite"}` and its
//! events as dropped (`telemetry_events_dropped_total{sink="sqlite"}`);
//! the next batch is tried afresh. [`SqliteGuard::finish`] drains the queue
//! and writes the run's end, events written and events dropped.
//!
//! How an `http_events` row gets the values that arrive in other events is
//! in `docs/event-store.md` (and the writer module's notes).

use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{params, Connection};

use crate::core::adapter::registered_adapters;
use crate::core::events::now_unix_nanos;
use crate::core::run::Run;
use crate::sink::queue::{non_blocking_with, QueueGuard, QueueOptions, QueuedSink, ShutdownReport};

mod writer;

/// Version 1 of the schema: the contract with the `adapter-telemetry`
/// command, which reads the same file.
///
/// ```
/// use telemetry_runtime::sink::sqlite::SCHEMA_V1;
/// assert!(SCHEMA_V1.contains("CREATE TABLE IF NOT EXISTS http_events"));
/// assert!(SCHEMA_V1.contains("PRAGMA user_version = 1"));
/// ```
pub const SCHEMA_V1: &str = include_str!("schema_v1.sql");

/// The schema version this build writes (`PRAGMA user_version`).
pub const SCHEMA_VERSION: u32 = 1;

/// One step of the schema's history: the SQL that takes a database from
/// `version - 1` to `version`.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// The version after this step.
    pub version: u32,
    /// Its SQL (ends by setting `PRAGMA user_version`).
    pub sql: &'static str,
}

/// Every migration, in order. Version 1 creates the schema; a version 2
/// appends `Migration { version: 2, sql: include_str!("schema_v2.sql") }`,
/// whose SQL upgrades a version-1 file in place. Released entries are never
/// edited.
pub const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    sql: SCHEMA_V1,
}];

/// Why the store could not be opened or finished.
#[derive(Debug)]
pub enum StoreError {
    /// SQLite failed (cannot open or write the file, corrupt database).
    Sqlite(rusqlite::Error),
    /// The database was written by a newer version of the schema.
    SchemaTooNew {
        /// Its `user_version`.
        found: u32,
        /// The newest this build knows.
        known: u32,
    },
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Sqlite(e) => write!(f, "event store: {e}"),
            StoreError::SchemaTooNew { found, known } => write!(
                f,
                "event store: schema version {found} is newer than this build's {known}"
            ),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Sqlite(e) => Some(e),
            StoreError::SchemaTooNew { .. } => None,
        }
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::Sqlite(e)
    }
}

/// Brings the database to [`SCHEMA_VERSION`], running the migrations past
/// its `user_version`; returns the version it was at. Version 1's SQL is
/// idempotent (`IF NOT EXISTS`, `user_version` set last) and runs outside a
/// transaction (it sets the WAL journal mode); later steps run each in a
/// transaction, so a crash leaves the previous version.
///
/// ```
/// use telemetry_runtime::sink::sqlite::{migrate, SCHEMA_VERSION};
/// let conn = rusqlite::Connection::open_in_memory().unwrap();
/// assert_eq!(migrate(&conn).unwrap(), 0);
/// assert_eq!(migrate(&conn).unwrap(), SCHEMA_VERSION);
/// ```
pub fn migrate(conn: &Connection) -> Result<u32, StoreError> {
    let found: u32 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    if found > SCHEMA_VERSION {
        return Err(StoreError::SchemaTooNew {
            found,
            known: SCHEMA_VERSION,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > found) {
        if m.version == 1 {
            conn.execute_batch(m.sql)?;
        } else {
            conn.execute_batch(&format!("BEGIN;\n{}\nCOMMIT;", m.sql))?;
        }
    }
    Ok(found)
}

/// SQLite's `synchronous` setting of the writer's connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Synchronous {
    /// `OFF`: no fsync at all (a power cut may corrupt the file).
    Off,
    /// `NORMAL`: with WAL, committed batches survive a process crash; a
    /// power cut may lose the last ones (the default).
    Normal,
    /// `FULL`: fsync at every commit.
    Full,
}

impl Synchronous {
    fn pragma(self) -> &'static str {
        match self {
            Synchronous::Off => "OFF",
            Synchronous::Normal => "NORMAL",
            Synchronous::Full => "FULL",
        }
    }
}

/// Settings of [`open`].
///
/// ```
/// use telemetry_runtime::sink::sqlite::{SqliteOptions, Synchronous};
/// let opts = SqliteOptions::default().synchronous(Synchronous::Full);
/// assert_eq!(opts.queue.batch, 4096);
/// ```
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    /// The queue in front of the database; its `batch` is the largest
    /// transaction (default capacity 65 536, batch 4 096).
    pub queue: QueueOptions,
    /// The writer's `synchronous` setting.
    pub synchronous: Synchronous,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            queue: QueueOptions::default().batch(4096),
            synchronous: Synchronous::Normal,
        }
    }
}

impl SqliteOptions {
    /// Sets the queue's options.
    pub fn queue(mut self, q: QueueOptions) -> Self {
        self.queue = q;
        self
    }
    /// Sets `synchronous`.
    pub fn synchronous(mut self, s: Synchronous) -> Self {
        self.synchronous = s;
        self
    }
}

/// Opens a connection with the store's settings.
fn connect(path: &Path, sync: Synchronous) -> Result<Connection, StoreError> {
    let conn = Connection::open(path)?;
    conn.busy_timeout(Duration::from_secs(5))?;
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = {};",
        sync.pragma()
    ))?;
    Ok(conn)
}

/// Opens (creating or upgrading) the database at `path`, records `run` and
/// the manifests of the registered adapters, and puts the writer behind a
/// queue. Install the sink; keep the guard until the run ends.
///
/// ```
/// use telemetry_runtime::run::Run;
/// use telemetry_runtime::sink::sqlite;
/// let dir = std::env::temp_dir().join(format!("sqlite-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let run = Run::start("doc");
/// let (sink, guard) = sqlite::open(dir.join("run.sqlite"), &run, Default::default()).unwrap();
/// telemetry_runtime::dispatch::set_global_sink(sink);
/// // ... requests ...
/// telemetry_runtime::dispatch::clear_global_sink();
/// let summary = guard.finish(std::time::Duration::from_secs(5)).unwrap();
/// assert_eq!(summary.events_dropped, 0);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn open(
    path: impl AsRef<Path>,
    run: &Run,
    options: SqliteOptions,
) -> Result<(QueuedSink, SqliteGuard), StoreError> {
    let path = path.as_ref().to_path_buf();
    let conn = connect(&path, options.synchronous)?;
    migrate(&conn)?;
    conn.execute(
        "INSERT OR IGNORE INTO runs (run_id, job, labels_json, started_unix_nano) \
         VALUES (?1, ?2, ?3, ?4)",
        params![
            run.id(),
            run.job(),
            run.labels_json(),
            run.started_unix_nano() as i64
        ],
    )?;
    let mut sink = writer::SqliteSink::new(conn, run.id().to_owned());
    for adapter in registered_adapters() {
        sink.store_manifest(adapter.handle())?;
    }
    let (queued, guard) = non_blocking_with(sink, options.queue);
    Ok((
        queued,
        SqliteGuard {
            queue: Some(guard),
            path,
            run_id: run.id().to_owned(),
            synchronous: options.synchronous,
        },
    ))
}

/// What [`SqliteGuard::finish`] wrote into the run's row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunSummary {
    /// `runs.events_written`: events stored or folded into a stored row.
    pub events_written: u64,
    /// `runs.events_dropped`: queue full, write errors, left at the deadline.
    pub events_dropped: u64,
    /// The queue's report.
    pub queue: ShutdownReport,
}

/// Ends the run: drains the queue, then writes `ended_unix_nano`,
/// `events_written` and `events_dropped`. Dropping it does the same with a
/// 5 s deadline, ignoring errors.
pub struct SqliteGuard {
    queue: Option<QueueGuard>,
    path: PathBuf,
    run_id: String,
    synchronous: Synchronous,
}

impl fmt::Debug for SqliteGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteGuard")
            .field("path", &self.path)
            .field("run_id", &self.run_id)
            .finish()
    }
}

impl SqliteGuard {
    /// The queue's guard (its counters: written, dropped, lost).
    pub fn queue(&self) -> Option<&QueueGuard> {
        self.queue.as_ref()
    }

    /// Drains the queue (up to `deadline`) and closes the run.
    pub fn finish(mut self, deadline: Duration) -> Result<RunSummary, StoreError> {
        self.close(deadline)
    }

    fn close(&mut self, deadline: Duration) -> Result<RunSummary, StoreError> {
        let Some(queue) = self.queue.take() else {
            return Err(StoreError::Sqlite(rusqlite::Error::InvalidQuery));
        };
        let report = queue.shutdown(deadline);
        let summary = RunSummary {
            events_written: report.written,
            events_dropped: report.dropped + report.lost + report.unwritten as u64,
            queue: report,
        };
        let conn = connect(&self.path, self.synchronous)?;
        conn.execute(
            "UPDATE runs SET ended_unix_nano = ?1, events_written = ?2, events_dropped = ?3 \
             WHERE run_id = ?4",
            params![
                now_unix_nanos() as i64,
                summary.events_written as i64,
                summary.events_dropped as i64,
                self.run_id
            ],
        )?;
        Ok(summary)
    }
}

impl Drop for SqliteGuard {
    fn drop(&mut self) {
        if self.queue.is_some() {
            let _ = self.close(Duration::from_secs(5));
        }
    }
}
