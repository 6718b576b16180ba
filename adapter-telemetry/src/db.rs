//! Opening the event store and choosing what a command looks at.

use std::path::Path;

use rusqlite::{Connection, OpenFlags, OptionalExtension as _};

use crate::error::{Failure, Result};
use crate::manifest::StoredManifest;

/// The schema version this command reads (`PRAGMA user_version`; the schema
/// is telemetry-runtime/src/sink/sqlite/schema_v1.sql).
pub(crate) const SCHEMA_VERSION: i64 = 1;

/// The tables of schema version 1, in the order exports write them.
pub(crate) const TABLES: &[&str] = &[
    "runs",
    "manifests",
    "http_events",
    "rate_limit_events",
    "breaker_transitions",
    "fallback_attempts",
    "custom_events",
];

/// Opens `path` without ever creating it, checks that it is an event store
/// of a schema version this command knows, and makes the connection
/// read-only (`PRAGMA query_only`): no command writes to the store.
pub(crate) fn open(path: &Path) -> Result<Connection> {
    if !path.is_file() {
        return Err(Failure::new(format!(
            "database {} does not exist or is not a file",
            path.display()
        )));
    }
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE
        | OpenFlags::SQLITE_OPEN_NO_MUTEX
        | OpenFlags::SQLITE_OPEN_URI;
    // Read-write without CREATE: a WAL database needs its -shm file, which a
    // read-only connection cannot make; on a read-only file, read-only.
    let conn = Connection::open_with_flags(path, flags)
        .or_else(|_| {
            Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )
        })
        .map_err(|e| Failure::new(format!("cannot open database {}: {e}", path.display())))?;
    let corrupt = |e: rusqlite::Error| {
        Failure::new(format!(
            "{} is not a readable event store: {e}",
            path.display()
        ))
    };
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(corrupt)?;
    conn.pragma_update(None, "query_only", true)
        .map_err(corrupt)?;
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .map_err(corrupt)?;
    if version == 0 {
        return Err(Failure::new(format!(
            "{} is not an event store (schema version 0, expected {SCHEMA_VERSION})",
            path.display()
        )));
    }
    if version > SCHEMA_VERSION {
        return Err(Failure::new(format!(
            "{} has schema version {version}, newer than this command's {SCHEMA_VERSION}",
            path.display()
        )));
    }
    for table in TABLES {
        let found: Option<String> = conn
            .query_row(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name = ?1",
                [table],
                |r| r.get(0),
            )
            .optional()
            .map_err(corrupt)?;
        if found.is_none() {
            return Err(Failure::new(format!(
                "{} is not an event store: table {table} is missing",
                path.display()
            )));
        }
    }
    Ok(conn)
}

/// One row of `runs`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Run {
    pub(crate) run_id: String,
    pub(crate) job: String,
    pub(crate) started: i64,
    pub(crate) ended: Option<i64>,
}

/// The command-line filters every command shares.
#[derive(Debug, Clone, Default, clap::Args)]
pub(crate) struct Filter {
    /// Only this run (its id in the `runs` table).
    #[arg(long, conflicts_with_all = ["since", "until"])]
    pub(crate) run: Option<String>,
    /// Events at or after this time: RFC 3339 or Unix seconds.
    #[arg(long, value_parser = crate::timearg::parse_time, value_name = "TIME")]
    pub(crate) since: Option<i64>,
    /// Events before this time: RFC 3339 or Unix seconds (default: now).
    #[arg(long, value_parser = crate::timearg::parse_time, value_name = "TIME")]
    pub(crate) until: Option<i64>,
    /// Only this adapter.
    #[arg(long)]
    pub(crate) adapter: Option<String>,
    /// Only this host (the stored `host` label value). Fallback attempts
    /// have no host and are not filtered by it.
    #[arg(long)]
    pub(crate) host: Option<String>,
}

/// What a command looks at: one run, or a time window over every run.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Selection {
    /// The events of one run.
    Run(Run),
    /// The events in `[since, until)`, of any run.
    Window { since: i64, until: i64 },
    /// Everything (exports without filters).
    All,
}

/// A resolved filter: the selection, the runs it touches, the optional
/// adapter and host, and the time span SLIs that need one are clipped to.
#[derive(Debug, Clone)]
pub(crate) struct Scope {
    pub(crate) selection: Selection,
    pub(crate) runs: Vec<Run>,
    pub(crate) adapter: Option<String>,
    pub(crate) host: Option<String>,
    /// `[start, end)` in Unix nanoseconds.
    pub(crate) span: (i64, i64),
}

/// A `WHERE` clause with its parameters.
#[derive(Debug, Clone, Default)]
pub(crate) struct Clause {
    pub(crate) sql: String,
    pub(crate) params: Vec<rusqlite::types::Value>,
}

impl Clause {
    pub(crate) fn params(
        &self,
    ) -> rusqlite::ParamsFromIter<std::slice::Iter<'_, rusqlite::types::Value>> {
        rusqlite::params_from_iter(self.params.iter())
    }
}

fn now_nanos() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn read_run(r: &rusqlite::Row<'_>) -> rusqlite::Result<Run> {
    Ok(Run {
        run_id: r.get(0)?,
        job: r.get(1)?,
        started: r.get(2)?,
        ended: r.get(3)?,
    })
}

const RUN_COLUMNS: &str = "run_id, job, started_unix_nano, ended_unix_nano";

/// Every run, oldest first.
pub(crate) fn runs(conn: &Connection) -> Result<Vec<Run>> {
    let mut st = conn.prepare(&format!(
        "SELECT {RUN_COLUMNS} FROM runs ORDER BY started_unix_nano, run_id"
    ))?;
    let rows = st.query_map([], read_run)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The time the last stored event of `run_id` happened, if any.
pub(crate) fn last_event(conn: &Connection, run_id: &str) -> Result<Option<i64>> {
    let mut last: Option<i64> = None;
    for table in [
        "http_events",
        "rate_limit_events",
        "breaker_transitions",
        "fallback_attempts",
        "custom_events",
    ] {
        let t: Option<i64> = conn.query_row(
            &format!("SELECT MAX(time_unix_nano) FROM {table} WHERE run_id = ?1"),
            [run_id],
            |r| r.get(0),
        )?;
        last = last.max(t);
    }
    Ok(last)
}

/// The end of a run's span: its end, else (a run still going, or whose
/// process died) its last stored event, else its start.
pub(crate) fn run_end(conn: &Connection, run: &Run) -> Result<i64> {
    match run.ended {
        Some(e) => Ok(e),
        None => Ok(last_event(conn, &run.run_id)?
            .unwrap_or(run.started)
            .max(run.started)),
    }
}

/// Resolves `filter`. Without `--run`, `--since` or `--until`,
/// `default_latest` chooses the latest run (slo) or everything (export).
pub(crate) fn scope(conn: &Connection, filter: &Filter, default_latest: bool) -> Result<Scope> {
    let all = runs(conn)?;
    let (selection, chosen) = if let Some(id) = &filter.run {
        let run = all
            .iter()
            .find(|r| &r.run_id == id)
            .cloned()
            .ok_or_else(|| Failure::new(format!("unknown run {id:?}")))?;
        (Selection::Run(run.clone()), vec![run])
    } else if filter.since.is_some() || filter.until.is_some() {
        let since = filter.since.unwrap_or(i64::MIN);
        let until = filter.until.unwrap_or_else(now_nanos);
        if since >= until {
            return Err(Failure::new("--since must be before --until"));
        }
        let mut touched = Vec::new();
        for r in &all {
            if r.started < until && run_end(conn, r)? >= since {
                touched.push(r.clone());
            }
        }
        (Selection::Window { since, until }, touched)
    } else if default_latest {
        let run = all
            .iter()
            .max_by_key(|r| (r.started, r.run_id.clone()))
            .cloned()
            .ok_or_else(|| Failure::new("the database holds no runs"))?;
        (Selection::Run(run.clone()), vec![run])
    } else {
        (Selection::All, all)
    };
    let span = match &selection {
        Selection::Run(r) => (r.started, run_end(conn, r)?),
        Selection::Window { since, until } => {
            // An open start is the first chosen run's start.
            let start = if *since == i64::MIN {
                chosen.iter().map(|r| r.started).min().unwrap_or(*until)
            } else {
                *since
            };
            (start, *until)
        }
        Selection::All => {
            let start = chosen.iter().map(|r| r.started).min().unwrap_or(0);
            let mut end = start;
            for r in &chosen {
                end = end.max(run_end(conn, r)?);
            }
            (start, end)
        }
    };
    Ok(Scope {
        selection,
        runs: chosen,
        adapter: filter.adapter.clone(),
        host: filter.host.clone(),
        span,
    })
}

impl Scope {
    /// The `WHERE` clause selecting this scope's rows of an event table
    /// (`has_host`: whether the table has a `host` column).
    pub(crate) fn clause(&self, has_host: bool) -> Clause {
        use rusqlite::types::Value;
        let mut parts = Vec::new();
        let mut params = Vec::new();
        match &self.selection {
            Selection::Run(r) => {
                parts.push(format!("run_id = ?{}", params.len() + 1));
                params.push(Value::Text(r.run_id.clone()));
            }
            Selection::Window { since, until } => {
                parts.push(format!(
                    "time_unix_nano >= ?{} AND time_unix_nano < ?{}",
                    params.len() + 1,
                    params.len() + 2
                ));
                params.push(Value::Integer(*since));
                params.push(Value::Integer(*until));
            }
            Selection::All => {}
        }
        if let Some(a) = &self.adapter {
            parts.push(format!("adapter = ?{}", params.len() + 1));
            params.push(Value::Text(a.clone()));
        }
        if let (true, Some(h)) = (has_host, &self.host) {
            parts.push(format!("host = ?{}", params.len() + 1));
            params.push(Value::Text(h.clone()));
        }
        let sql = if parts.is_empty() {
            "1".to_owned()
        } else {
            parts.join(" AND ")
        };
        Clause { sql, params }
    }

    /// The run ids of the scope, as a clause on `column` (the `run_id` of
    /// `runs` and `manifests`).
    pub(crate) fn run_clause(&self, column: &str) -> Clause {
        use rusqlite::types::Value;
        if matches!(self.selection, Selection::All) && self.adapter.is_none() {
            return Clause {
                sql: "1".into(),
                params: vec![],
            };
        }
        let marks: Vec<String> = (1..=self.runs.len()).map(|i| format!("?{i}")).collect();
        let sql = if marks.is_empty() {
            "0".to_owned()
        } else {
            format!("{column} IN ({})", marks.join(", "))
        };
        Clause {
            sql,
            params: self
                .runs
                .iter()
                .map(|r| Value::Text(r.run_id.clone()))
                .collect(),
        }
    }
}

/// The stored manifests of the scope's runs, one per adapter (the latest
/// run's, when several runs stored one), sorted by adapter name.
pub(crate) fn manifests(conn: &Connection, scope: &Scope) -> Result<Vec<(String, StoredManifest)>> {
    let mut latest: std::collections::BTreeMap<String, (i64, StoredManifest)> = Default::default();
    let clause = scope.run_clause("m.run_id");
    let mut st = conn.prepare(&format!(
        "SELECT m.adapter, m.manifest_json, r.started_unix_nano FROM manifests m \
         JOIN runs r ON r.run_id = m.run_id WHERE {}",
        clause.sql
    ))?;
    let mut rows = st.query(clause.params())?;
    while let Some(row) = rows.next()? {
        let adapter: String = row.get(0)?;
        let json: String = row.get(1)?;
        let started: i64 = row.get(2)?;
        if scope.adapter.as_ref().is_some_and(|a| a != &adapter) {
            continue;
        }
        let m = StoredManifest::parse(&json).map_err(|e| {
            Failure::new(format!(
                "the stored manifest of adapter {adapter:?} is not valid: {e}"
            ))
        })?;
        match latest.get(&adapter) {
            Some((t, _)) if *t > started => {}
            _ => {
                latest.insert(adapter, (started, m));
            }
        }
    }
    Ok(latest.into_iter().map(|(a, (_, m))| (a, m)).collect())
}
