//! `adapter-telemetry export`: one file per table of the event store.
//!
//! Columns and their types come from the schema (`PRAGMA table_info`):
//! INTEGER is Int64, REAL Float64, TEXT Utf8, nullable unless NOT NULL.
//! Rows are in `rowid` order. Every file of one export is written
//! atomically, as a set (see `atomic`).

use std::io::Write;

/// What every table is written to: the staged temporary file.
pub(crate) type Out = std::io::BufWriter<std::fs::File>;
use std::path::PathBuf;

use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::atomic::{io_err, Staged};
use crate::db::{self, Filter, Scope, TABLES};
use crate::error::{Failure, Result};

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Format {
    /// Apache Parquet, ZSTD-compressed (feature `parquet`).
    Parquet,
    /// CSV with a header row (RFC 4180 quoting; NULL is an empty field).
    Csv,
    /// One JSON object per line (NULL is `null`).
    Jsonl,
}

impl Format {
    fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
        }
    }
}

/// `export` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct ExportArgs {
    /// The event store (SQLite, schema version 1).
    #[arg(long, value_name = "FILE")]
    pub(crate) db: PathBuf,
    /// Output format.
    #[arg(long, value_enum)]
    pub(crate) format: Format,
    /// Output directory (created if missing): `<table>.<format>` per table.
    #[arg(long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// Without --run, --since or --until: every run.
    #[command(flatten)]
    pub(crate) filter: Filter,
}

/// A column's type in the schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ColumnType {
    Integer,
    Real,
    Text,
}

/// A column of a table.
#[derive(Debug, Clone)]
pub(crate) struct Column {
    pub(crate) name: String,
    pub(crate) ty: ColumnType,
}

/// The columns of `table`, in order.
pub(crate) fn columns(conn: &Connection, table: &str) -> Result<Vec<Column>> {
    let mut st = conn.prepare(&format!("PRAGMA table_info({table})"))?;
    let rows = st.query_map([], |r| {
        let name: String = r.get(1)?;
        let ty: String = r.get(2)?;
        Ok((name, ty))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (name, ty) = row?;
        let ty = match ty.to_ascii_uppercase().as_str() {
            "INTEGER" => ColumnType::Integer,
            "REAL" => ColumnType::Real,
            _ => ColumnType::Text,
        };
        out.push(Column { name, ty });
    }
    Ok(out)
}

/// The `SELECT` of `table`'s rows in `scope`, with its clause.
pub(crate) fn select(scope: &Scope, table: &str, cols: &[Column]) -> (String, db::Clause) {
    let clause = match table {
        "runs" => scope.run_clause("run_id"),
        "manifests" => {
            let mut c = scope.run_clause("run_id");
            if let Some(a) = &scope.adapter {
                c.sql = format!("{} AND adapter = ?{}", c.sql, c.params.len() + 1);
                c.params.push(rusqlite::types::Value::Text(a.clone()));
            }
            c
        }
        "fallback_attempts" => scope.clause(false),
        _ => scope.clause(true),
    };
    let names: Vec<String> = cols.iter().map(|c| format!("\"{}\"", c.name)).collect();
    (
        format!(
            "SELECT {} FROM {table} WHERE {} ORDER BY rowid",
            names.join(", "),
            clause.sql
        ),
        clause,
    )
}

fn csv_table(conn: &Connection, scope: &Scope, table: &str, w: &mut Out) -> Result<()> {
    let cols = columns(conn, table)?;
    let (sql, clause) = select(scope, table, &cols);
    let name = format!("{table}.csv");
    let mut out = csv::Writer::from_writer(w);
    let csv_err = |e: csv::Error| Failure::new(format!("cannot write {name}: {e}"));
    out.write_record(cols.iter().map(|c| c.name.as_str()))
        .map_err(csv_err)?;
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(clause.params())?;
    let mut field = String::new();
    let mut record = csv::ByteRecord::new();
    while let Some(row) = rows.next()? {
        record.clear();
        for i in 0..cols.len() {
            field.clear();
            match row.get_ref(i)? {
                ValueRef::Null => {}
                ValueRef::Integer(v) => field.push_str(&v.to_string()),
                ValueRef::Real(v) => field.push_str(&format!("{v:?}")),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    record.push_field(t);
                    continue;
                }
            }
            record.push_field(field.as_bytes());
        }
        out.write_byte_record(&record).map_err(csv_err)?;
    }
    out.flush().map_err(io_err(&name))?;
    Ok(())
}

fn jsonl_table(conn: &Connection, scope: &Scope, table: &str, w: &mut Out) -> Result<()> {
    use serde_json::{Map, Number, Value};
    let cols = columns(conn, table)?;
    let (sql, clause) = select(scope, table, &cols);
    let name = format!("{table}.jsonl");
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(clause.params())?;
    while let Some(row) = rows.next()? {
        let mut obj = Map::with_capacity(cols.len());
        for (i, c) in cols.iter().enumerate() {
            let v = match row.get_ref(i)? {
                ValueRef::Null => Value::Null,
                ValueRef::Integer(v) => Value::Number(v.into()),
                ValueRef::Real(v) => Number::from_f64(v).map_or(Value::Null, Value::Number),
                ValueRef::Text(t) | ValueRef::Blob(t) => {
                    Value::String(String::from_utf8_lossy(t).into_owned())
                }
            };
            obj.insert(c.name.clone(), v);
        }
        serde_json::to_writer(&mut *w, &Value::Object(obj))
            .map_err(|e| Failure::new(format!("cannot write {name}: {e}")))?;
        w.write_all(b"\n").map_err(io_err(&name))?;
    }
    Ok(())
}

/// Runs `export`.
pub(crate) fn run(args: &ExportArgs) -> Result<()> {
    let conn = db::open(&args.db)?;
    let scope = db::scope(&conn, &args.filter, false)?;
    #[cfg(not(feature = "parquet"))]
    if args.format == Format::Parquet {
        return Err(Failure::new(
            "this build has no Parquet support (cargo feature `parquet`)",
        ));
    }
    let mut staged = Staged::new(&args.out)?;
    for table in TABLES {
        let name = format!("{table}.{}", args.format.extension());
        staged.write(&name, |w| match args.format {
            Format::Csv => csv_table(&conn, &scope, table, w),
            Format::Jsonl => jsonl_table(&conn, &scope, table, w),
            #[cfg(feature = "parquet")]
            Format::Parquet => crate::parquet_out::table(&conn, &scope, table, w),
            #[cfg(not(feature = "parquet"))]
            Format::Parquet => Err(Failure::new("no Parquet support")),
        })?;
    }
    let written = staged.commit()?;
    for p in written {
        println!("{}", p.display());
    }
    Ok(())
}
