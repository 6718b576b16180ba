//! The JSONL sink: the versioned line format, rotation by size and by time,
//! redaction.

use std::time::Duration;

use telemetry_runtime::events::*;
use telemetry_runtime::run::Run;
use telemetry_runtime::sink::jsonl::{self, JsonlOptions, Rotation, JSONL_SCHEMA_VERSION};
use telemetry_runtime::sink::QueueGuard;
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
use telemetry_tests::support::{drive, temp_dir};

#[instrumented_adapter(
    name = "jsonl_lines",
    hosts(cap = 4),
    labels(tenant(cap = 4)),
    events(login(tenant, user: String, #[secret] token: String))
)]
struct Lines {}

#[instrumented_adapter(name = "jsonl_rotate", hosts(cap = 4))]
struct Rotate {}

fn read_lines(path: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .expect("read")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

#[test]
fn every_line_is_a_versioned_object_with_the_run_id_and_otel_names() {
    let dir = temp_dir("jsonl-lines");
    let path = dir.join("run.jsonl");
    let _ = std::fs::remove_file(&path);
    let run = Run::start("lines");
    let (sink, guard) = jsonl::open(&path, &run, JsonlOptions::default()).expect("open");
    let a = Lines::telemetry();
    a.set_sink(Some(Box::new(sink)));
    drive(a, "api.example.org");
    Lines {}
        .emit()
        .login("acme", "ada".into(), "hunter2".into());
    a.set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    assert_eq!((report.written, report.lost, report.dropped), (13, 0, 0));
    let lines = read_lines(&path);
    assert_eq!(lines.len(), 13);
    for l in &lines {
        assert_eq!(l["schema_version"], JSONL_SCHEMA_VERSION, "{l}");
        assert_eq!(l["run_id"], run.id(), "{l}");
        assert_eq!(l["adapter"], "jsonl_lines", "{l}");
        for key in [
            "event",
            "server.address",
            "correlation_id",
            "time_unix_nano",
        ] {
            assert!(l.get(key).is_some(), "{key} missing in {l}");
        }
    }
    let kinds: Vec<&str> = lines.iter().filter_map(|l| l["event"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            "rate_limit",
            "request",
            "response",
            "retry",
            "backoff",
            "request",
            "response",
            "request",
            "error",
            "breaker_transition",
            "fallback",
            "fallback",
            "login"
        ]
    );
    assert_eq!(lines[2]["http.response.status_code"], 503);
    assert_eq!(lines[2]["http.request.method"], "GET");
    assert_eq!(lines[8]["error.type"], "timeout");
    let login = &lines[12];
    assert_eq!(login["server.address"], "_OTHER");
    assert_eq!(login["fields"]["token"], "REDACTED");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(!text.contains("hunter2"), "a secret reached the file");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn rotation_by_size_keeps_every_line_across_the_files() {
    let dir = temp_dir("jsonl-rotate");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("run.jsonl");
    let run = Run::start("rotate");
    let options = JsonlOptions::default().rotation(Rotation::Size(4096));
    let (sink, guard) = jsonl::open(&path, &run, options).expect("open");
    let a = Rotate::telemetry();
    a.set_sink(Some(Box::new(sink)));
    for _ in 0..100 {
        drive(a, "api.example.org");
        // Let the writer take several batches.
        std::thread::sleep(Duration::from_millis(1));
    }
    a.set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    assert_eq!(report.written, 1200);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    assert!(files.len() > 2, "no rotation happened: {files:?}");
    assert!(
        files.iter().any(|f| f.ends_with("run.jsonl.000001")),
        "{files:?}"
    );
    let total: usize = files.iter().map(|f| read_lines(f).len()).sum();
    assert_eq!(total, 1200);
    let _ = std::fs::remove_dir_all(&dir);
}

#[instrumented_adapter(name = "jsonl_rotate_time", hosts(cap = 4))]
struct RotateTime {}

/// Emits one response with status `status` and waits until the writer has
/// written it: one event, one batch, one write (and the rotation check
/// after it).
fn one_batch(a: &'static telemetry_runtime::AdapterTelemetry, guard: &QueueGuard, status: u16) {
    let before = guard.written();
    let host = a.hosts().intern("api.example.org");
    a.emit(EventRef::Response(&ResponseEvent {
        meta: EventMeta::new(a, host, CorrelationId::next(), 1),
        method: HttpMethod::Get,
        status,
        duration: Duration::from_millis(1),
        body_size: None,
    }));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while guard.written() == before {
        assert_eq!(guard.lost(), 0, "a batch could not be written");
        assert!(
            std::time::Instant::now() < deadline,
            "the writer never wrote the event"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn statuses(path: &std::path::Path) -> Vec<u64> {
    read_lines(path)
        .iter()
        .map(|l| l["http.response.status_code"].as_u64().expect("status"))
        .collect()
}

/// `Rotation::Interval`: a batch written once the active file has been open
/// for the period closes and renames it. No timed assertion: the test only
/// waits *at least* the period (a sleep is a lower bound) between batches,
/// so every batch is written to a fresh file and rotated after it, and it
/// checks by content which events landed in which file; with a period far
/// above the test's duration nothing rotates.
#[test]
fn rotation_by_time_rolls_the_file_after_a_batch_once_the_period_has_passed() {
    const PERIOD: Duration = Duration::from_millis(20);
    let dir = temp_dir("jsonl-rotate-time");
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("run.jsonl");
    let run = Run::start("rotate-time");
    let (sink, guard) = jsonl::open(
        &path,
        &run,
        JsonlOptions::default().rotation(Rotation::Interval(PERIOD)),
    )
    .expect("open");
    let a = RotateTime::telemetry();
    a.set_sink(Some(Box::new(sink)));
    for status in [201, 202, 203, 204] {
        // The active file (opened at `open` or at the last rotation) is now
        // older than the period when this batch is written.
        std::thread::sleep(PERIOD * 2);
        one_batch(a, &guard, status);
    }
    a.set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    assert_eq!((report.written, report.lost), (4, 0), "{report:?}");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("list")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(
        files,
        [
            "run.jsonl",
            "run.jsonl.000001",
            "run.jsonl.000002",
            "run.jsonl.000003",
            "run.jsonl.000004"
        ]
    );
    // Each batch in its own file, in order; the active file is the fresh
    // one opened by the last rotation.
    for (n, status) in [(1, 201), (2, 202), (3, 203), (4, 204)] {
        assert_eq!(
            statuses(&dir.join(format!("run.jsonl.{n:06}"))),
            [status],
            "file {n}"
        );
    }
    assert_eq!(statuses(&path), Vec::<u64>::new(), "the active file");

    // A period longer than the test: the same batches, one file.
    let path = dir.join("long.jsonl");
    let (sink, guard) = jsonl::open(
        &path,
        &run,
        JsonlOptions::default().rotation(Rotation::Interval(Duration::from_secs(3600))),
    )
    .expect("open");
    a.set_sink(Some(Box::new(sink)));
    for status in [211, 212, 213] {
        std::thread::sleep(PERIOD * 2);
        one_batch(a, &guard, status);
    }
    a.set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    assert_eq!(report.written, 3, "{report:?}");
    assert_eq!(statuses(&path), [211, 212, 213]);
    assert!(
        !dir.join("long.jsonl.000001").exists(),
        "rotated before the period"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
