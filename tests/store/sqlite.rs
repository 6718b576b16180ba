//! The SQLite sink: schema and migrations, the run's row, manifests, one row
//! per attempt with its joins, the other tables, shutdown losing nothing.

use std::time::Duration;

use rusqlite::Connection;
use telemetry_runtime::events::*;
use telemetry_runtime::run::Run;
use telemetry_runtime::sink::queue::QueueOptions;
use telemetry_runtime::sink::sqlite::{self, SqliteOptions, SCHEMA_VERSION};
use telemetry_runtime::{instrumented_adapter, AdapterTelemetry, InstrumentedAdapter};
use telemetry_tests::support::{drive, temp_dir};

#[instrumented_adapter(name = "store_joins", hosts(cap = 4))]
struct Joins {}

#[instrumented_adapter(
    name = "store_custom",
    hosts(cap = 4),
    labels(tenant(cap = 4)),
    events(login(tenant, user: String, #[secret] token: String))
)]
struct Custom {}

#[instrumented_adapter(name = "store_volume", hosts(cap = 4))]
struct Volume {}

fn q(conn: &Connection, sql: &str) -> i64 {
    conn.query_row(sql, [], |r| r.get(0)).expect(sql)
}

#[test]
fn a_run_stores_every_table_with_the_joins_of_an_attempt() {
    let dir = temp_dir("store-joins");
    let path = dir.join("run.sqlite");
    let _ = std::fs::remove_file(&path);
    let run = Run::start("joins").label("env", "test");
    let (sink, guard) = sqlite::open(&path, &run, SqliteOptions::default()).expect("open");
    let a: &'static AdapterTelemetry = Joins::telemetry();
    a.set_sink(Some(Box::new(sink)));
    drive(a, "api.example.org");
    // A refusal after the breaker opened: no request event, reached_wire 0.
    let host = a.hosts().intern("api.example.org");
    a.emit(EventRef::Error(&ErrorEvent {
        meta: EventMeta::new(a, host, CorrelationId::next(), 1),
        method: HttpMethod::Get,
        error_type: ErrorType::CircuitOpen,
        message: "circuit open".into(),
        duration: Duration::ZERO,
        reached_wire: false,
    }));
    a.set_sink(None);
    let summary = guard.finish(Duration::from_secs(10)).expect("finish");
    assert_eq!(summary.events_written, 13);
    assert_eq!(summary.events_dropped, 0);

    let conn = Connection::open(&path).expect("reopen");
    assert_eq!(q(&conn, "PRAGMA user_version") as u32, SCHEMA_VERSION);
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("journal mode");
    assert_eq!(mode, "wal");
    let (job, labels, ended, written, dropped): (String, String, Option<i64>, i64, i64) = conn
        .query_row(
            "SELECT job, labels_json, ended_unix_nano, events_written, events_dropped \
             FROM runs WHERE run_id = ?1",
            [run.id()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)),
        )
        .expect("the run's row");
    assert_eq!(
        (job.as_str(), labels.as_str()),
        ("joins", r#"{"env":"test"}"#)
    );
    assert!(ended.is_some_and(|e| e >= run.started_unix_nano() as i64));
    assert_eq!((written, dropped), (13, 0));

    let manifest: String = conn
        .query_row(
            "SELECT manifest_json FROM manifests WHERE run_id = ?1 AND adapter = 'store_joins'",
            [run.id()],
            |r| r.get(0),
        )
        .expect("the manifest, stored with the adapter's first event");
    let manifest: serde_json::Value = serde_json::from_str(&manifest).expect("json");
    assert_eq!(manifest["host_cap"], 4);

    type Row = (
        i64,
        Option<i64>,
        Option<String>,
        i64,
        Option<f64>,
        Option<f64>,
        String,
    );
    let mut stmt = conn
        .prepare(
            "SELECT attempt, status, error_type, reached_wire, retry_after_seconds, \
             limiter_delay_seconds, breaker_state FROM http_events WHERE run_id = ?1 ORDER BY id",
        )
        .expect("prepare");
    let rows: Vec<Row> = stmt
        .query_map([run.id()], |r| {
            Ok((
                r.get(0)?,
                r.get(1)?,
                r.get(2)?,
                r.get(3)?,
                r.get(4)?,
                r.get(5)?,
                r.get(6)?,
            ))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    assert_eq!(
        rows,
        vec![
            // 503: the limiter waited 30 ms for it, the Retry-After (200 ms)
            // that came after the response was folded into its row.
            (
                1,
                Some(503),
                None,
                1,
                Some(0.2),
                Some(0.03),
                "closed".into()
            ),
            (2, Some(200), None, 1, None, None, "closed".into()),
            // The timeout was sent while closed; the breaker opened after it.
            (
                1,
                None,
                Some("timeout".into()),
                1,
                None,
                None,
                "closed".into()
            ),
            (
                1,
                None,
                Some("circuit_open".into()),
                0,
                None,
                None,
                "open".into()
            ),
        ]
    );
    assert_eq!(q(&conn, "SELECT count(*) FROM rate_limit_events"), 1);
    assert_eq!(
        q(&conn, "SELECT count(*) FROM breaker_transitions WHERE from_state = 'closed' AND to_state = 'open'"),
        1
    );
    assert_eq!(
        q(
            &conn,
            "SELECT count(*) FROM fallback_attempts WHERE outcome = 'success' AND tier = 1"
        ),
        1
    );
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity");
    assert_eq!(integrity, "ok");
    drop(stmt);
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn custom_events_get_typed_label_columns_and_no_secret() {
    let dir = temp_dir("store-custom");
    let path = dir.join("run.sqlite");
    let _ = std::fs::remove_file(&path);
    let run = Run::start("custom");
    let (sink, guard) = sqlite::open(&path, &run, SqliteOptions::default()).expect("open");
    Custom::telemetry().set_sink(Some(Box::new(sink)));
    let c = Custom {};
    c.emit().login("acme", "ada".into(), "hunter2".into());
    Custom::telemetry().set_sink(None);
    guard.finish(Duration::from_secs(10)).expect("finish");
    let conn = Connection::open(&path).expect("reopen");
    let (event, label, payload): (String, String, String) = conn
        .query_row(
            "SELECT event, label_1, payload_json FROM custom_events WHERE run_id = ?1",
            [run.id()],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("the custom row");
    assert_eq!((event.as_str(), label.as_str()), ("login", "acme"));
    assert!(payload.contains("ada"), "{payload}");
    assert!(payload.contains("REDACTED"), "{payload}");
    assert!(
        !payload.contains("hunter2"),
        "the secret reached the store: {payload}"
    );
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_through_the_guard_loses_no_event_under_normal_load() {
    let dir = temp_dir("store-volume");
    let path = dir.join("run.sqlite");
    let _ = std::fs::remove_file(&path);
    let run = Run::start("volume");
    const THREADS: u64 = 4;
    const PER_THREAD: u64 = 25_000;
    let options =
        SqliteOptions::default().queue(QueueOptions::default().capacity(200_000).batch(4096));
    let (sink, guard) = sqlite::open(&path, &run, options).expect("open");
    let a = Volume::telemetry();
    a.set_sink(Some(Box::new(sink)));
    std::thread::scope(|s| {
        for t in 0..THREADS {
            s.spawn(move || {
                let host = a.hosts().intern("bulk.example.org");
                for i in 0..PER_THREAD {
                    a.emit(EventRef::Response(&ResponseEvent {
                        meta: EventMeta::new(a, host, CorrelationId::next(), 1),
                        method: HttpMethod::Get,
                        status: 200,
                        duration: Duration::from_micros(500),
                        body_size: Some(t * PER_THREAD + i),
                    }));
                }
            });
        }
    });
    a.set_sink(None);
    let summary = guard.finish(Duration::from_secs(60)).expect("finish");
    let total = THREADS * PER_THREAD;
    assert_eq!(summary.events_dropped, 0, "{summary:?}");
    assert_eq!(summary.events_written, total);
    let conn = Connection::open(&path).expect("reopen");
    assert_eq!(q(&conn, "SELECT count(*) FROM http_events") as u64, total);
    assert_eq!(
        q(&conn, "SELECT count(DISTINCT body_size) FROM http_events") as u64,
        total,
        "every event once"
    );
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn migrations_refuse_a_newer_schema_and_keep_version_one_idempotent() {
    let conn = Connection::open_in_memory().expect("memory db");
    assert_eq!(sqlite::migrate(&conn).expect("create"), 0);
    assert_eq!(sqlite::migrate(&conn).expect("again"), 1);
    conn.execute_batch("PRAGMA user_version = 7").expect("bump");
    let err = sqlite::migrate(&conn).expect_err("newer schema");
    assert!(err.to_string().contains("schema version 7"), "{err}");
}
