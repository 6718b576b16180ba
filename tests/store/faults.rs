//! Faults: `kill -9` between batches, a full destination, an unwritable one.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use rusqlite::Connection;
use telemetry_runtime::dispatch;
use telemetry_runtime::events::*;
use telemetry_runtime::run::Run;
use telemetry_runtime::sink::jsonl::{self, JsonlOptions};
use telemetry_runtime::sink::queue::QueueOptions;
use telemetry_runtime::sink::sqlite::{self, SqliteOptions};
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::{sample, temp_dir};

/// `telemetry_sink_write_errors_total{sink}` as the Prometheus backend
/// exports it (0 before the sink's first error: no sample yet).
fn exported_write_errors(sink: &str) -> f64 {
    let text = telemetry_runtime::backends::prometheus::render();
    assert!(
        text.contains("# TYPE telemetry_sink_write_errors_total counter"),
        "the family is exported:\n{text}"
    );
    sample(
        &text,
        &format!("telemetry_sink_write_errors_total{{sink=\"{sink}\"}}"),
    )
    .unwrap_or(0.0)
}

#[instrumented_adapter(name = "store_killed", hosts(cap = 4))]
struct Killed {}

#[instrumented_adapter(name = "store_full_disk", hosts(cap = 4))]
struct FullDisk {}

/// Set in the child of the kill test to the database it writes.
const KILL_CHILD_DB: &str = "TELEMETRY_STORE_KILL_DB";

/// In the child (see below): writes numbered responses to the database
/// forever, in many small batches, until it is killed.
#[test]
fn kill_child_writer() {
    let Some(db) = std::env::var_os(KILL_CHILD_DB) else {
        return; // Only a child of the kill test does anything here.
    };
    let run = Run::start("killed");
    let options =
        SqliteOptions::default().queue(QueueOptions::default().capacity(1_000_000).batch(100));
    let (sink, _guard) = sqlite::open(db, &run, options).expect("open");
    let a = Killed::telemetry();
    a.set_sink(Some(Box::new(sink)));
    let host = a.hosts().intern("killed.example.org");
    for seq in 0u64.. {
        a.emit(EventRef::Response(&ResponseEvent {
            meta: EventMeta::new(a, host, CorrelationId::next(), 1),
            method: HttpMethod::Get,
            status: 200,
            duration: Duration::from_micros(100),
            body_size: Some(seq),
        }));
        if seq % 50 == 49 {
            std::thread::sleep(Duration::from_micros(200));
        }
    }
}

#[test]
fn kill_9_between_batches_leaves_a_sound_database_with_every_committed_batch() {
    let dir = temp_dir("store-kill");
    let db = dir.join("killed.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let exe = std::env::current_exe().expect("test binary");
    let mut child = Command::new(exe)
        .args(["--exact", "faults::kill_child_writer", "--test-threads=1"])
        .env(KILL_CHILD_DB, &db)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn the writer");
    // Wait until the child has committed a good number of batches.
    let deadline = Instant::now() + Duration::from_secs(60);
    let committed = loop {
        assert!(Instant::now() < deadline, "the child committed too little");
        std::thread::sleep(Duration::from_millis(50));
        let Ok(conn) = Connection::open(&db) else {
            continue;
        };
        let n: rusqlite::Result<i64> =
            conn.query_row("SELECT count(*) FROM http_events", [], |r| r.get(0));
        if let Ok(n) = n {
            if n >= 20_000 {
                break n;
            }
        }
    };
    // SIGKILL: no destructor, no flush, mid-stream.
    child.kill().expect("kill -9");
    let _ = child.wait();

    let conn = Connection::open(&db).expect("the database still opens");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("integrity_check");
    assert_eq!(integrity, "ok");
    let (n, distinct, max): (i64, i64, i64) = conn
        .query_row(
            "SELECT count(*), count(DISTINCT body_size), max(body_size) FROM http_events",
            [],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .expect("count");
    assert!(
        n >= committed,
        "{n} rows after the kill, {committed} seen committed before"
    );
    // One writer, FIFO, whole transactions: the rows are exactly the
    // events 0..n, with no gap and no half batch missing in the middle.
    assert_eq!((distinct, max), (n, n - 1));
    let ended: Option<i64> = conn
        .query_row("SELECT ended_unix_nano FROM runs", [], |r| r.get(0))
        .expect("the run's row");
    assert_eq!(ended, None, "a killed run has no end");
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_counts_errors_and_drops_and_every_request_succeeds() {
    let dev_full = std::path::Path::new("/dev/full");
    assert!(dev_full.exists(), "this test needs Linux's /dev/full");
    let errors_before = exported_write_errors("jsonl");
    let run = Run::start("full-disk");
    let (sink, guard) = jsonl::open(
        dev_full,
        &run,
        JsonlOptions::default().queue(QueueOptions::default().capacity(1024).batch(64)),
    )
    .expect("/dev/full opens; its writes fail with ENOSPC");
    FullDisk::telemetry().set_sink(Some(Box::new(sink)));

    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("full.test"), Script::always(Step::ok()));
    let client = AdapterClient::builder::<FullDisk>()
        .resolve("full.test", sim.addr())
        .no_breaker()
        .build()
        .expect("client");
    let url = format!("http://full.test:{}/item", sim.port());
    let mut ok = 0u32;
    for chunk in 0..100 {
        let mut tasks = Vec::new();
        for _ in 0..100 {
            let client = client.clone();
            let url = url.clone();
            tasks.push(tokio::spawn(async move { client.get(&url).send().await }));
        }
        for t in tasks {
            match t.await.expect("task") {
                Ok(resp) if resp.status_code() == 200 => ok += 1,
                other => panic!("request of chunk {chunk} failed: {other:?}"),
            }
        }
    }
    assert_eq!(ok, 10_000);
    FullDisk::telemetry().set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    // Two events per request (request, response): each was either lost at
    // a failed write or dropped at a full queue, none written.
    assert!(report.write_errors > 0, "{report:?}");
    assert_eq!(report.written, 0, "{report:?}");
    assert_eq!(
        report.lost + report.dropped + report.unwritten as u64,
        20_000,
        "{report:?}"
    );
    let counted = dispatch::events_dropped()
        .into_iter()
        .find(|(sink, _)| *sink == "jsonl")
        .map(|(_, n)| n)
        .unwrap_or(0);
    assert!(
        counted >= report.lost + report.dropped,
        "telemetry_events_dropped_total{{sink=\"jsonl\"}} = {counted}, {report:?}"
    );
    // Every failed batch write is a write error of the sink, exported.
    let errors = exported_write_errors("jsonl") - errors_before;
    assert!(
        errors >= report.write_errors as f64 && errors > 0.0,
        "telemetry_sink_write_errors_total{{sink=\"jsonl\"}} rose by {errors}, {report:?}"
    );
}

#[test]
fn an_unwritable_destination_is_an_error_at_open_not_a_panic() {
    let missing = std::path::Path::new("/nonexistent-dir-for-store-tests/run.sqlite");
    let run = Run::start("unwritable");
    let err = sqlite::open(missing, &run, SqliteOptions::default()).expect_err("cannot open");
    assert!(err.to_string().contains("event store"), "{err}");
    let err = jsonl::open(
        missing.with_extension("jsonl"),
        &run,
        JsonlOptions::default(),
    )
    .expect_err("cannot open");
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[instrumented_adapter(name = "store_locked", hosts(cap = 4))]
struct Locked {}

#[test]
fn a_batch_that_cannot_be_written_is_rolled_back_counted_and_the_next_one_is_written() {
    let dir = temp_dir("store-locked");
    let db = dir.join("locked.sqlite");
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", db.display()));
    }
    let run = Run::start("locked");
    let errors_before = exported_write_errors("sqlite");
    let (sink, guard) = sqlite::open(&db, &run, SqliteOptions::default()).expect("open");
    let a = Locked::telemetry();
    a.set_sink(Some(Box::new(sink)));
    let host = a.hosts().intern("locked.example.org");
    let emit = |n: u64| {
        for i in 0..n {
            a.emit(EventRef::Response(&ResponseEvent {
                meta: EventMeta::new(a, host, CorrelationId::next(), 1),
                method: HttpMethod::Get,
                status: 200,
                duration: Duration::from_micros(100),
                body_size: Some(i),
            }));
        }
    };
    // Another writer holds the database: the writer's inserts time out
    // (busy timeout 5 s) and the batch is rolled back.
    let blocker = Connection::open(&db).expect("second connection");
    blocker.execute_batch("BEGIN EXCLUSIVE").expect("lock");
    emit(10);
    let queue = guard.queue().expect("queue");
    let deadline = Instant::now() + Duration::from_secs(60);
    while queue.lost() < 10 {
        assert!(
            Instant::now() < deadline,
            "the failed batch was not counted"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(queue.write_errors() >= 1);
    let errors = exported_write_errors("sqlite") - errors_before;
    assert!(
        errors >= queue.write_errors() as f64 && errors > 0.0,
        "telemetry_sink_write_errors_total{{sink=\"sqlite\"}} rose by {errors}"
    );
    blocker.execute_batch("ROLLBACK").expect("unlock");
    drop(blocker);
    emit(7);
    a.set_sink(None);
    let summary = guard.finish(Duration::from_secs(30)).expect("finish");
    assert_eq!((summary.events_written, summary.events_dropped), (7, 10));
    let conn = Connection::open(&db).expect("reopen");
    let rows: i64 = conn
        .query_row("SELECT count(*) FROM http_events", [], |r| r.get(0))
        .expect("count");
    assert_eq!(rows, 7);
    let dropped: i64 = conn
        .query_row("SELECT events_dropped FROM runs", [], |r| r.get(0))
        .expect("run");
    assert_eq!(dropped, 10);
    let counted = dispatch::events_dropped()
        .into_iter()
        .find(|(sink, _)| *sink == "sqlite")
        .map(|(_, n)| n)
        .unwrap_or(0);
    assert!(
        counted >= 10,
        "telemetry_events_dropped_total{{sink=\"sqlite\"}} = {counted}"
    );
    drop(conn);
    let _ = std::fs::remove_dir_all(&dir);
}
