//! Parquet files of the event store's tables (feature `parquet`): arrow
//! record batches of 65,536 rows, ZSTD level 3.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder, StringBuilder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use rusqlite::types::ValueRef;
use rusqlite::Connection;

use crate::db::Scope;
use crate::error::{Failure, Result};
use crate::export::{columns, select, ColumnType, Out};

const BATCH_ROWS: usize = 65_536;

enum Builder {
    Int(Int64Builder),
    Real(Float64Builder),
    Text(StringBuilder),
}

impl Builder {
    fn new(ty: ColumnType) -> Self {
        match ty {
            ColumnType::Integer => Builder::Int(Int64Builder::with_capacity(BATCH_ROWS)),
            ColumnType::Real => Builder::Real(Float64Builder::with_capacity(BATCH_ROWS)),
            ColumnType::Text => {
                Builder::Text(StringBuilder::with_capacity(BATCH_ROWS, BATCH_ROWS * 16))
            }
        }
    }

    /// Appends `v`, converted to the column's type as SQLite's own
    /// affinity would (a text in a number column is a NULL).
    fn push(&mut self, v: ValueRef<'_>) {
        match self {
            Builder::Int(b) => b.append_option(match v {
                ValueRef::Integer(i) => Some(i),
                ValueRef::Real(r) => Some(r as i64),
                _ => None,
            }),
            Builder::Real(b) => b.append_option(match v {
                ValueRef::Real(r) => Some(r),
                ValueRef::Integer(i) => Some(i as f64),
                _ => None,
            }),
            Builder::Text(b) => match v {
                ValueRef::Text(t) | ValueRef::Blob(t) => b.append_value(String::from_utf8_lossy(t)),
                ValueRef::Integer(i) => b.append_value(i.to_string()),
                ValueRef::Real(r) => b.append_value(format!("{r:?}")),
                ValueRef::Null => b.append_null(),
            },
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Int(b) => Arc::new(b.finish()),
            Builder::Real(b) => Arc::new(b.finish()),
            Builder::Text(b) => Arc::new(b.finish()),
        }
    }
}

/// Writes `table`'s rows in `scope` as Parquet to `w`.
pub(crate) fn table(conn: &Connection, scope: &Scope, table: &str, w: &mut Out) -> Result<()> {
    let name = format!("{table}.parquet");
    let pq = |e: parquet::errors::ParquetError| Failure::new(format!("cannot write {name}: {e}"));
    let cols = columns(conn, table)?;
    let schema = Arc::new(Schema::new(
        cols.iter()
            .map(|c| {
                let ty = match c.ty {
                    ColumnType::Integer => DataType::Int64,
                    ColumnType::Real => DataType::Float64,
                    ColumnType::Text => DataType::Utf8,
                };
                // A NULL where the schema says NOT NULL cannot be stored:
                // every column is nullable in the file.
                Field::new(&c.name, ty, true)
            })
            .collect::<Vec<_>>(),
    ));
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).map_err(pq)?))
        .build();
    let mut writer = ArrowWriter::try_new(w, schema.clone(), Some(props)).map_err(pq)?;
    let (sql, clause) = select(scope, table, &cols);
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(clause.params())?;
    let mut builders: Vec<Builder> = cols.iter().map(|c| Builder::new(c.ty)).collect();
    let mut n = 0usize;
    let flush = |builders: &mut Vec<Builder>, writer: &mut ArrowWriter<&mut Out>| -> Result<()> {
        let arrays: Vec<ArrayRef> = builders.iter_mut().map(Builder::finish).collect();
        let batch = RecordBatch::try_new(schema.clone(), arrays)
            .map_err(|e| Failure::new(format!("cannot write {name}: {e}")))?;
        writer.write(&batch).map_err(pq)
    };
    while let Some(row) = rows.next()? {
        for (i, b) in builders.iter_mut().enumerate() {
            b.push(row.get_ref(i)?);
        }
        n += 1;
        if n == BATCH_ROWS {
            flush(&mut builders, &mut writer)?;
            n = 0;
        }
    }
    if n > 0 {
        flush(&mut builders, &mut writer)?;
    }
    writer.close().map_err(pq)?;
    Ok(())
}
