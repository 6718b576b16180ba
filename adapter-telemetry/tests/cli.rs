//! The `adapter-telemetry` binary, spawned as a user would.

#![allow(clippy::unwrap_used)] // tests may unwrap

mod support {
    pub mod fixture;
    // Shared with the workspace tests; not every helper is used here.
    #[allow(dead_code)]
    #[path = "../../../tests/support/tools.rs"]
    pub mod tools;
}

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::fixture;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_adapter-telemetry"))
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn known() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("events.sqlite");
    fixture::known(&db);
    (dir, db)
}

fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    })
}

fn adapter<'a>(report: &'a Value, name: &str) -> &'a Value {
    report["adapters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["adapter"] == name)
        .unwrap_or_else(|| panic!("no adapter {name} in {report}"))
}

fn close(v: &Value, expected: f64) {
    let x = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((x - expected).abs() < 1e-9, "{x} != {expected}");
}

/// The command exited with `code` (stderr and stdout shown if not).
fn exits(out: &Output, code: i32) {
    assert_eq!(
        out.status.code(),
        Some(code),
        "stderr: {}\nstdout: {}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
}

/// A bad-input failure: exit 2, one line on stderr, nothing on stdout.
fn bad_input(out: &Output, needle: &str) {
    exits(out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.trim_end().lines().count(), 1, "not one line: {err:?}");
    assert!(err.contains(needle), "{needle:?} not in {err:?}");
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(!err.contains("panicked"), "{err}");
}

fn files(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn slo_computes_the_known_answers_and_fails_the_stored_objectives() {
    let (_d, db) = known();
    let out = run(&["slo", "--db", db.to_str().unwrap(), "--run", "r1"]);
    exits(&out, 1);
    let r = json(&out);
    assert_eq!(r["ok"], false);
    assert_eq!(r["selection"]["run"], "r1");
    close(&r["span"]["seconds"], 100.0);
    let c = &adapter(&r, "crossref")["slis"];
    assert_eq!(c["wire_attempts"], 10);
    // 503 and the timeout; the 429 and 404 are no failures (status!~"[1-4]..").
    assert_eq!(c["failed_attempts"], 2);
    close(&c["success_ratio"], 0.8);
    // Bucket interpolation as histogram_quantile over the default buckets.
    close(&c["latency_seconds"]["p50"]["histogram"], 0.05);
    close(&c["latency_seconds"]["p95"]["histogram"], 0.875);
    close(&c["latency_seconds"]["p99"]["histogram"], 0.975);
    // Nearest rank.
    close(&c["latency_seconds"]["p50"]["exact"], 0.04);
    close(&c["latency_seconds"]["p95"]["exact"], 1.0);
    close(&c["latency_seconds"]["p99"]["exact"], 1.0);
    assert_eq!(c["retried_attempts"], 2);
    close(&c["retry_rate"], 0.2);
    assert_eq!(c["status_429"], 1);
    close(&c["status_429_ratio"], 0.1);
    assert_eq!(c["limiter"]["acquired"], 1);
    assert_eq!(c["limiter"]["waited"], 2);
    assert_eq!(c["limiter"]["rejected"], 1);
    close(&c["limiter"]["wait_p95_seconds"], 0.3);
    assert_eq!(c["refusals"]["total"], 2);
    assert_eq!(c["refusals"]["by_reason"]["circuit_open"], 1);
    assert_eq!(c["refusals"]["by_reason"]["rate_limited"], 1);
    // api.test: open 10..40 s and 45..50 s; b.test: open from 90 s to the end (100 s).
    close(&c["breaker_open_seconds"]["by_host"]["api.test"], 35.0);
    close(&c["breaker_open_seconds"]["by_host"]["b.test"], 10.0);
    close(&c["breaker_open_seconds"]["total"], 45.0);
    let f = &adapter(&r, "doi_resolver")["slis"]["fallback"];
    assert_eq!(f["success"], 2);
    assert_eq!(f["failure"], 3);
    assert_eq!(f["skipped"], 1);
    close(&f["success_ratio"], 0.4);
    assert_eq!(f["calls"], 3);
    assert_eq!(f["calls_served"], 2);
    let objectives = adapter(&r, "crossref")["objectives"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(objectives.len(), 2, "{objectives:?}");
    assert_eq!(objectives[0]["objective"], "success_percent");
    close(&objectives[0]["actual"], 80.0);
    assert_eq!(objectives[0]["holds"], false);
    assert_eq!(objectives[1]["objective"], "latency_p99");
    assert_eq!(objectives[1]["holds"], false);
    // doi_resolver has no wire attempts: no data, nothing fails.
    let d = adapter(&r, "doi_resolver")["objectives"]
        .as_array()
        .unwrap()
        .clone();
    assert!(
        d.iter().all(|o| o["no_data"] == true && o["holds"] == true),
        "{d:?}"
    );
}

#[test]
fn command_line_objectives_replace_the_stored_ones() {
    let (_d, db) = known();
    let db = db.to_str().unwrap();
    let pass = run(&[
        "slo",
        "--db",
        db,
        "--run",
        "r1",
        "--adapter",
        "crossref",
        "--objective",
        "success_percent=80",
        "--objective",
        "latency_p99=1s",
        "--objective",
        "breaker_open_seconds=45",
    ]);
    exits(&pass, 0);
    let r = json(&pass);
    assert_eq!(r["adapters"].as_array().unwrap().len(), 1);
    let o = adapter(&r, "crossref")["objectives"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(o.len(), 3);
    assert!(o
        .iter()
        .all(|o| o["source"] == "command line" && o["holds"] == true));
    let fail = run(&[
        "slo",
        "--db",
        db,
        "--run",
        "r1",
        "--adapter",
        "crossref",
        "--objective",
        "success_percent=80",
        "--objective",
        "latency_p99=1s",
        "--objective",
        "retry_rate=0.19",
    ]);
    exits(&fail, 1);
}

#[test]
fn the_default_is_the_latest_run_and_a_window_spans_runs() {
    let (_d, db) = known();
    let db = db.to_str().unwrap();
    let latest = json(&run(&["slo", "--db", db]));
    assert_eq!(latest["selection"]["run"], "r1");
    let earlier = json(&run(&["slo", "--db", db, "--run", "r0"]));
    let c = &adapter(&earlier, "crossref")["slis"];
    assert_eq!(c["wire_attempts"], 1);
    assert_eq!(c["failed_attempts"], 1);
    // RFC 3339 and Unix seconds, over both runs.
    let both = json(&run(&[
        "slo",
        "--db",
        db,
        "--since",
        "2026-12-01T19:00:00Z",
        "--until",
        "1796155400",
    ]));
    let c = &adapter(&both, "crossref")["slis"];
    assert_eq!(c["wire_attempts"], 11);
    assert_eq!(c["failed_attempts"], 3);
    assert_eq!(both["runs"].as_array().unwrap().len(), 2);
    // A window that cuts a breaker's open interval clips it: 20 s .. 45 s.
    let clip = json(&run(&[
        "slo",
        "--db",
        db,
        "--since",
        "1796155220",
        "--until",
        "1796155245",
    ]));
    close(
        &adapter(&clip, "crossref")["slis"]["breaker_open_seconds"]["by_host"]["api.test"],
        20.0,
    );
    // The host filter.
    let host = json(&run(&[
        "slo", "--db", db, "--run", "r1", "--host", "b.test",
    ]));
    assert_eq!(adapter(&host, "crossref")["slis"]["wire_attempts"], 0);
}

#[test]
fn bad_input_is_one_line_and_exit_2() {
    let (d, db) = known();
    let db = db.to_str().unwrap();
    bad_input(
        &run(&["slo", "--db", "/nonexistent/x.sqlite"]),
        "does not exist",
    );
    let garbage = d.path().join("garbage.sqlite");
    std::fs::write(&garbage, vec![0x42u8; 8192]).unwrap();
    bad_input(&run(&["slo", "--db", garbage.to_str().unwrap()]), "not");
    let empty = d.path().join("empty.sqlite");
    rusqlite::Connection::open(&empty)
        .unwrap()
        .execute_batch("CREATE TABLE t (x)")
        .unwrap();
    bad_input(
        &run(&["slo", "--db", empty.to_str().unwrap()]),
        "not an event store",
    );
    bad_input(&run(&["slo", "--db", db, "--run", "nope"]), "unknown run");
    bad_input(
        &run(&["slo", "--db", db, "--since", "yesterday"]),
        "RFC 3339",
    );
    bad_input(
        &run(&[
            "slo",
            "--db",
            db,
            "--since",
            "1796155300",
            "--until",
            "1796155200",
        ]),
        "before",
    );
    bad_input(
        &run(&["slo", "--db", db, "--objective", "speed=1"]),
        "unknown objective",
    );
    bad_input(
        &run(&["slo", "--db", db, "--run", "r1", "--since", "1"]),
        "cannot be used",
    );
    bad_input(
        &run(&["export", "--db", db, "--format", "xml", "--out", "x"]),
        "xml",
    );
    // An unwritable output: below a regular file.
    let blocked = d.path().join("file");
    std::fs::write(&blocked, "x").unwrap();
    for cmd in ["rules", "dashboards"] {
        bad_input(
            &run(&[
                cmd,
                "--db",
                db,
                "--out",
                blocked.join("sub").to_str().unwrap(),
            ]),
            "cannot create",
        );
    }
    bad_input(
        &run(&[
            "export",
            "--db",
            db,
            "--format",
            "csv",
            "--out",
            blocked.join("sub").to_str().unwrap(),
        ]),
        "cannot create",
    );
    // The garbage file is untouched (the command never writes to a store).
    assert_eq!(std::fs::read(&garbage).unwrap(), vec![0x42u8; 8192]);
}

const TABLE_ROWS: &[(&str, usize)] = &[
    ("runs", 2),
    ("manifests", 3),
    ("http_events", 13),
    ("rate_limit_events", 4),
    ("breaker_transitions", 5),
    ("fallback_attempts", 6),
    ("custom_events", 0),
];

#[test]
fn export_csv_and_jsonl_write_one_file_per_table() {
    let (d, db) = known();
    for format in ["csv", "jsonl"] {
        let out_dir = d.path().join(format);
        let out = run(&[
            "export",
            "--db",
            db.to_str().unwrap(),
            "--format",
            format,
            "--out",
            out_dir.to_str().unwrap(),
        ]);
        exits(&out, 0);
        let mut expected: Vec<String> = TABLE_ROWS
            .iter()
            .map(|(t, _)| format!("{t}.{format}"))
            .collect();
        expected.sort();
        assert_eq!(files(&out_dir), expected);
        for (table, rows) in TABLE_ROWS {
            let text = std::fs::read_to_string(out_dir.join(format!("{table}.{format}"))).unwrap();
            if format == "csv" {
                let mut r = csv::Reader::from_reader(text.as_bytes());
                assert_eq!(r.records().count(), *rows, "{table}");
            } else {
                assert_eq!(text.lines().count(), *rows, "{table}");
                for l in text.lines() {
                    serde_json::from_str::<Value>(l).unwrap();
                }
            }
        }
    }
    // The manifest JSON (quotes, commas) survives CSV quoting.
    let mut r = csv::Reader::from_path(d.path().join("csv/manifests.csv")).unwrap();
    let rec = r.records().next().unwrap().unwrap();
    let m: Value = serde_json::from_str(&rec[2]).unwrap();
    assert_eq!(m["name"], "crossref");
    // Filters: one run, one adapter.
    let out_dir = d.path().join("r0");
    let out = run(&[
        "export",
        "--db",
        db.to_str().unwrap(),
        "--format",
        "jsonl",
        "--out",
        out_dir.to_str().unwrap(),
        "--run",
        "r0",
    ]);
    assert!(out.status.success());
    let http = std::fs::read_to_string(out_dir.join("http_events.jsonl")).unwrap();
    assert_eq!(http.lines().count(), 1);
    let row: Value = serde_json::from_str(http.lines().next().unwrap()).unwrap();
    assert_eq!(row["status"], 500);
    assert_eq!(row["error_type"], Value::Null);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("runs.jsonl"))
            .unwrap()
            .lines()
            .count(),
        1
    );
}

#[cfg(feature = "parquet")]
#[test]
fn export_parquet_is_zstd_with_every_row() {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    use parquet::record::RowAccessor;
    let (d, db) = known();
    let out_dir = d.path().join("pq");
    let out = run(&[
        "export",
        "--db",
        db.to_str().unwrap(),
        "--format",
        "parquet",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    exits(&out, 0);
    for (table, rows) in TABLE_ROWS {
        let f = std::fs::File::open(out_dir.join(format!("{table}.parquet"))).unwrap();
        let r = SerializedFileReader::new(f).unwrap();
        let meta = r.metadata();
        assert_eq!(meta.file_metadata().num_rows() as usize, *rows, "{table}");
        for rg in meta.row_groups() {
            for col in rg.columns() {
                assert!(
                    matches!(col.compression(), parquet::basic::Compression::ZSTD(_)),
                    "{table}: {:?}",
                    col.compression()
                );
            }
        }
    }
    let f = std::fs::File::open(out_dir.join("http_events.parquet")).unwrap();
    let r = SerializedFileReader::new(f).unwrap();
    let schema = r.metadata().file_metadata().schema_descr();
    let names: Vec<&str> = schema.columns().iter().map(|c| c.name()).collect();
    assert_eq!(names[..4], ["id", "run_id", "time_unix_nano", "adapter"]);
    let statuses: Vec<Option<i64>> = r
        .get_row_iter(None)
        .unwrap()
        .map(|row| {
            let row = row.unwrap();
            let i = names.iter().position(|n| *n == "status").unwrap();
            row.get_long(i).ok()
        })
        .collect();
    assert_eq!(statuses.iter().filter(|s| **s == Some(200)).count(), 6);
    assert_eq!(statuses.iter().filter(|s| s.is_none()).count(), 3);
}

#[test]
fn a_failed_rename_leaves_no_file_of_the_export() {
    let (d, db) = known();
    let out_dir = d.path().join("blocked");
    // A non-empty directory where http_events.csv must go: its rename fails
    // after runs.csv and manifests.csv were renamed.
    std::fs::create_dir_all(out_dir.join("http_events.csv/inside")).unwrap();
    let out = run(&[
        "export",
        "--db",
        db.to_str().unwrap(),
        "--format",
        "csv",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    bad_input(&out, "http_events.csv");
    assert_eq!(
        files(&out_dir),
        vec!["http_events.csv"],
        "only the blocking directory stays"
    );
}

#[cfg(unix)]
#[test]
fn a_write_failing_midway_leaves_no_file() {
    let d = tempfile::tempdir().unwrap();
    let db = d.path().join("bulk.sqlite");
    fixture::bulk(&db, 20_000);
    let out_dir = d.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    // Files may not grow past 64 KiB: the http_events file fails midway
    // (EFBIG; SIGXFSZ ignored so the write returns the error).
    let out = Command::new("bash")
        .arg("-c")
        .arg(r#"trap '' XFSZ; ulimit -f 64; exec "$0" "$@""#)
        .arg(env!("CARGO_BIN_EXE_adapter-telemetry"))
        .args([
            "export",
            "--db",
            db.to_str().unwrap(),
            "--format",
            "jsonl",
            "--out",
            out_dir.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    bad_input(&out, "http_events.jsonl");
    assert_eq!(files(&out_dir), Vec::<String>::new());
}

#[test]
fn rules_and_dashboards_come_from_the_stored_manifests() {
    let (d, db) = known();
    let out_dir = d.path().join("gen");
    let out = run(&[
        "rules",
        "--db",
        db.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    exits(&out, 0);
    let yaml = std::fs::read_to_string(out_dir.join("alerts.yml")).unwrap();
    assert!(
        yaml.contains("alert: CrossrefErrorBudgetBurnFast"),
        "{yaml}"
    );
    assert!(
        yaml.contains("alert: DoiResolverLatencyAboveObjective"),
        "{yaml}"
    );
    assert!(yaml.contains("histogram_quantile(0.95"), "{yaml}");
    // OpenTelemetry naming for doi_resolver, as its manifest says.
    assert!(
        yaml.contains("http_client_request_duration_seconds_bucket{adapter=\"doi_resolver\"}"),
        "{yaml}"
    );
    if let Some(promtool) = support::tools::require_tool("promtool") {
        let check = Command::new(promtool)
            .arg("check")
            .arg("rules")
            .arg(out_dir.join("alerts.yml"))
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stdout)
        );
    }
    let out = run(&[
        "dashboards",
        "--db",
        db.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    exits(&out, 0);
    assert_eq!(
        files(&out_dir),
        vec![
            "alerts.yml",
            "dashboard-crossref.json",
            "dashboard-doi_resolver.json"
        ]
    );
    let dash: Value = serde_json::from_str(
        &std::fs::read_to_string(out_dir.join("dashboard-crossref.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(dash["title"], "crossref: HTTP adapter");
    // One run's manifests only.
    let r0 = d.path().join("r0");
    assert!(run(&[
        "dashboards",
        "--db",
        db.to_str().unwrap(),
        "--out",
        r0.to_str().unwrap(),
        "--run",
        "r0"
    ])
    .status
    .success());
    assert_eq!(files(&r0), vec!["dashboard-crossref.json"]);
}

#[test]
fn serve_exposes_the_latest_run_of_each_job_and_passes_promtool() {
    use std::io::{BufRead as _, BufReader, Read as _, Write as _};
    let (_d, db) = known();
    let mut child = bin()
        .args([
            "serve",
            "--db",
            db.to_str().unwrap(),
            "--listen",
            "127.0.0.1:0",
            "--interval",
            "1",
        ])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("serving http://")
        .and_then(|s| s.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_owned();
    let mut s = std::net::TcpStream::connect(&addr).unwrap();
    write!(s, "GET /metrics HTTP/1.0\r\nHost: x\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let body = resp.split_once("\r\n\r\n").unwrap().1.to_owned();
    // r1 only (the latest run of job harvest), labelled by job and adapter.
    assert!(
        body.contains("adapter_telemetry_run_info{job=\"harvest\",run_id=\"r1\"} 1"),
        "{body}"
    );
    assert!(!body.contains("\"r0\""), "{body}");
    assert!(
        body.contains("adapter_telemetry_success_ratio{job=\"harvest\",adapter=\"crossref\"} 0.8"),
        "{body}"
    );
    assert!(body.contains("adapter_telemetry_latency_seconds{job=\"harvest\",adapter=\"crossref\",q=\"0.99\"} 0.975"), "{body}");
    assert!(
        body.contains(
            "adapter_telemetry_breaker_open_seconds{job=\"harvest\",adapter=\"crossref\"} 45"
        ),
        "{body}"
    );
    assert!(body.contains("adapter_telemetry_objective_holds{job=\"harvest\",adapter=\"crossref\",objective=\"success_percent\"} 0"), "{body}");
    assert!(
        body.contains("adapter_telemetry_read_errors_total 0"),
        "{body}"
    );
    if let Some(promtool) = support::tools::require_tool("promtool") {
        let mut p = Command::new(promtool)
            .args(["check", "metrics"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin.take().unwrap().write_all(body.as_bytes()).unwrap();
        let out = p.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}\n{body}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // A bad database is bad input for serve too.
    bad_input(
        &run(&["serve", "--db", "/nonexistent.sqlite", "--once"]),
        "does not exist",
    );
}

#[test]
fn k8s_objects_come_from_the_stored_manifests_and_bad_namespaces_are_refused() {
    let (d, db) = known();
    let out_dir = d.path().join("k8s");
    let db = db.to_str().unwrap();
    let out = run(&[
        "k8s",
        "--db",
        db,
        "--out",
        out_dir.to_str().unwrap(),
        "--namespace",
        "monitoring",
    ]);
    exits(&out, 0);
    assert_eq!(
        files(&out_dir),
        vec!["prometheus-rule.yaml", "service-monitor.yaml"]
    );
    let rule = std::fs::read_to_string(out_dir.join("prometheus-rule.yaml")).unwrap();
    assert!(rule.contains("kind: PrometheusRule"), "{rule}");
    assert!(rule.contains("namespace: \"monitoring\""), "{rule}");
    assert!(rule.contains("CrossrefErrorBudgetBurnFast"), "{rule}");
    let monitor = std::fs::read_to_string(out_dir.join("service-monitor.yaml")).unwrap();
    assert!(monitor.contains("kind: ServiceMonitor"), "{monitor}");

    let bad_dir = d.path().join("k8s-bad");
    let out = run(&[
        "k8s",
        "--db",
        db,
        "--out",
        bad_dir.to_str().unwrap(),
        "--namespace",
        "Not_A_Name",
    ]);
    exits(&out, 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("not a Kubernetes name"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(!bad_dir.join("prometheus-rule.yaml").exists());
}

/// `slo` reads a run's rows straight from their rowid range when they fill
/// it, and through the index when other runs' rows are interleaved (two
/// jobs writing one file): both ways give the report of the run alone.
#[test]
fn interleaved_runs_give_the_same_slos_as_each_run_alone() {
    let dir = tempfile::tempdir().unwrap();
    let paths = [
        dir.path().join("a.sqlite"),
        dir.path().join("b.sqlite"),
        dir.path().join("mixed.sqlite"),
    ];
    let conns: Vec<_> = paths.iter().map(|p| fixture::create(p)).collect();
    let (t0, sec) = (fixture::T0, fixture::SEC);
    for (i, c) in conns.iter().enumerate() {
        if i != 1 {
            fixture::run(c, "a", "job-a", t0, Some(t0 + 100 * sec));
            fixture::manifest(
                c,
                "a",
                &fixture::manifest_json("crossref", "prometheus", 99.0, 0.99, 0.5),
            );
        }
        if i != 0 {
            fixture::run(c, "b", "job-b", t0, Some(t0 + 100 * sec));
            fixture::manifest(
                c,
                "b",
                &fixture::manifest_json("crossref", "prometheus", 99.0, 0.99, 0.5),
            );
        }
    }
    let outcomes: &[(Option<i64>, Option<&str>, bool)] = &[
        (Some(200), None, true),
        (Some(503), None, true),
        (Some(429), None, true),
        (Some(200), None, true),
        (None, Some("timeout"), true),
        (None, Some("circuit_open"), false),
        (Some(404), None, true),
    ];
    // Run a: one row in six of the mixed file (sparse); run b: the rest.
    for i in 0..600i64 {
        let run = if i % 6 == 0 { "a" } else { "b" };
        let (status, error, wire) = outcomes[(i as usize * 7 / 3) % outcomes.len()];
        let e = fixture::Http {
            run,
            t: t0 + i * sec / 10,
            adapter: "crossref",
            host: ["x.test", "y.test"][(i % 4 / 2) as usize],
            attempt: 1 + i % 3,
            status,
            error,
            wire,
            elapsed: if wire { (i % 37) as f64 / 40.0 } else { 0.0 },
        };
        fixture::http(&conns[2], &e);
        fixture::http(&conns[usize::from(run == "b")], &e);
        let outcome = ["acquired", "waited", "rejected"][(i % 3) as usize];
        fixture::rate_limit(
            &conns[2],
            run,
            e.t,
            "crossref",
            outcome,
            (i % 11) as f64 / 10.0,
        );
        fixture::rate_limit(
            &conns[usize::from(run == "b")],
            run,
            e.t,
            "crossref",
            outcome,
            (i % 11) as f64 / 10.0,
        );
    }
    drop(conns);
    let slo = |db: &Path, extra: &[&str]| {
        let mut args = vec!["slo", "--db", db.to_str().unwrap()];
        args.extend_from_slice(extra);
        let out = run(&args);
        assert!(
            matches!(out.status.code(), Some(0 | 1)),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        json(&out)
    };
    for (run_id, alone) in [("a", &paths[0]), ("b", &paths[1])] {
        for extra in [&[][..], &["--host", "y.test"][..], &["--no-exact"][..]] {
            let mut args = vec!["--run", run_id];
            args.extend_from_slice(extra);
            let (mixed, alone) = (slo(&paths[2], &args), slo(alone, &args));
            assert_eq!(mixed, alone, "run {run_id} {extra:?}");
            let s = &adapter(&mixed, "crossref")["slis"];
            assert!(s["wire_attempts"].as_u64().unwrap() > 0, "{s}");
        }
    }
}
