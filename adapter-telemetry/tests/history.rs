//! `adapter-telemetry history` against a real Prometheus holding 90 days of
//! backfilled series (`promtool tsdb create-blocks-from openmetrics`):
//! 7 days exported to CSV and 90 days to JSON (in chunks), values checked
//! against what the series were built to say; bad input refused with
//! exit code 2 and no file.

use std::path::Path;
use std::process::Command;

use telemetry_tests::support::free_port;

#[path = "common/backfill.rs"]
mod backfill;
use backfill::{start, DAY};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_adapter-telemetry"))
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 * b.abs().max(1.0)
}

#[test]
fn history_exports_7_days_to_csv_and_90_days_to_json_with_the_stored_values() {
    let t0 = backfill::data_end();
    let Some(prom) = start(t0) else { return };
    let dir = prom.dir.join("out");
    std::fs::create_dir_all(&dir).expect("out dir");

    // 7 days, hourly, to CSV. The credentials in the URL are used for basic
    // auth (Prometheus ignores them) and never written out.
    let csv = dir.join("week.csv");
    let url = prom.base.replace("http://", "http://analyst:hunter2@");
    let (from, to) = ((t0 - 8 * DAY).to_string(), (t0 - DAY).to_string());
    let (code, _, err) = run(&[
        "history",
        "--prometheus",
        &url,
        "--from",
        &from,
        "--to",
        &to,
        "--step",
        "1h",
        "--window",
        "30m",
        "--format",
        "csv",
        "--out",
        path(&csv),
        "--requested-by",
        "capacity-team",
    ]);
    assert_eq!(code, 0, "{err}");
    let text = std::fs::read_to_string(&csv).expect("csv written");
    assert!(!text.contains("hunter2"), "no credentials in the output");
    assert!(
        text.contains("# requested_by: capacity-team"),
        "{}",
        &text[..400.min(text.len())]
    );
    assert!(text.contains(&format!("# prometheus: {}/", prom.base)));
    let rows: Vec<Vec<&str>> = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .skip(1)
        .map(|l| l.split(',').collect())
        .collect();
    let values = |series: &str, host: &str| -> Vec<f64> {
        rows.iter()
            .filter(|r| r[0] == series && r[2] == host)
            .map(|r| r[5].parse::<f64>().expect("a value"))
            .collect()
    };
    // 7 days hourly, both ends included, every series at its built value.
    for (series, host, want) in [
        ("request_rate", "a.test", 2.5),
        ("request_rate", "b.test", 1.0),
        ("error_ratio", "a.test", 0.2),
        ("error_ratio", "b.test", 0.0),
        ("latency_p50", "a.test", 0.0625),
        ("retry_rate", "a.test", 0.1),
        ("limiter_queue_depth", "a.test", 3.0),
        ("breaker_state", "a.test", 0.0),
    ] {
        let got = values(series, host);
        assert_eq!(got.len(), 7 * 24 + 1, "{series} of {host}");
        assert!(
            got.iter().all(|v| close(*v, want)),
            "{series} of {host}: {got:?}"
        );
    }

    // 90 days every 6 hours to JSON, in chunks of 50 points (so 8 chunks
    // per series), only host a.test.
    let json = dir.join("quarter.json");
    let (from, to) = ((t0 - 90 * DAY + 3_600).to_string(), t0.to_string());
    let (code, stdout, err) = run(&[
        "history",
        "--prometheus",
        &prom.base,
        "--from",
        &from,
        "--to",
        &to,
        "--step",
        "6h",
        "--window",
        "30m",
        "--host",
        "a.test",
        "--series",
        "error_ratio,breaker_state",
        "--max-points",
        "50",
        "--format",
        "json",
        "--out",
        path(&json),
    ]);
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("summary JSON");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json written")).expect("JSON");
    assert_eq!(v["metadata"]["export_id"], summary["export_id"]);
    assert_eq!(v["metadata"]["hosts"], serde_json::json!(["a.test"]));
    let points_per_series = (90 * DAY - 3_600) / (6 * 3_600) + 1;
    let chunks = (points_per_series + 49) / 50;
    assert_eq!(v["metadata"]["queries"], 2 * chunks);
    let series = v["series"].as_array().expect("series");
    assert_eq!(series.len(), 2, "two series of one host");
    for s in series {
        assert_eq!(s["host"], "a.test");
        let pts = s["points"].as_array().expect("points");
        assert_eq!(
            pts.len() as i64,
            points_per_series,
            "every step once, across chunks"
        );
        let ts: Vec<f64> = pts.iter().map(|p| p[0].as_f64().expect("ts")).collect();
        assert!(
            ts.windows(2).all(|w| close(w[1] - w[0], 21_600.0)),
            "no gap, no duplicate"
        );
        for p in pts {
            let (t, val) = (
                p[0].as_f64().unwrap_or(0.0) as i64,
                p[1].as_f64().unwrap_or(-1.0),
            );
            match s["series"].as_str() {
                Some("error_ratio") => {
                    let want = if t - 1_800 >= t0 - 45 * DAY {
                        0.2
                    } else if t < t0 - 45 * DAY {
                        0.0
                    } else {
                        val
                    };
                    assert!(close(val, want), "error ratio at {t}: {val}");
                }
                Some("breaker_state") => {
                    let open = t >= t0 - 80 * DAY && t < t0 - 79 * DAY + 1_800;
                    assert_eq!(val, f64::from(u8::from(open)), "breaker at {t}");
                }
                other => panic!("unexpected series {other:?}"),
            }
        }
    }
    let opened = series
        .iter()
        .find(|s| s["series"] == "breaker_state")
        .and_then(|s| s["points"].as_array())
        .map(|p| p.iter().filter(|p| p[1] == 1.0).count());
    assert!(
        opened.is_some_and(|n| n >= 3),
        "the open day is in the export: {opened:?}"
    );

    // 90 days at the default 5-minute step (a 30-minute window: the series
    // are 10 minutes apart), every series, to Parquet: the
    // rows are the points the summary counts, and the metadata rides in the
    // file's key-value metadata.
    let pq = dir.join("quarter.parquet");
    let (from, to) = ((t0 - 90 * DAY).to_string(), t0.to_string());
    let (code, stdout, err) = run(&[
        "history",
        "--prometheus",
        &prom.base,
        "--from",
        &from,
        "--to",
        &to,
        "--window",
        "30m",
        "--format",
        "parquet",
        "--out",
        path(&pq),
    ]);
    assert_eq!(code, 0, "{err}");
    let summary: serde_json::Value = serde_json::from_str(&stdout).expect("summary JSON");
    let file = std::fs::File::open(&pq).expect("parquet written");
    let reader = parquet::file::reader::SerializedFileReader::new(file).expect("valid parquet");
    use parquet::file::reader::FileReader;
    let meta = reader.metadata().file_metadata();
    assert_eq!(Some(meta.num_rows()), summary["points"].as_i64());
    // 8 series of a.test and 2 of b.test (request rate, error ratio), each
    // point every 5 minutes over 90 days (the first window has no rate yet).
    assert!(meta.num_rows() > 10 * 25_000, "{}", meta.num_rows());
    let kv = meta.key_value_metadata().expect("key-value metadata");
    assert!(kv.iter().any(|k| k.key == "adapter_telemetry.history"
        && k.value
            .as_deref()
            .is_some_and(|v| v.contains(summary["export_id"].as_str().unwrap_or("?")))));

    // Bad input: exit code 2, one line, no file.
    for (args, needle) in [
        (vec!["--from", "now-400d"], "longer than 365 days"),
        (vec!["--from", "last tuesday"], "malformed time"),
        (
            vec!["--from", "now-1d", "--step", "5 parsecs"],
            "malformed duration",
        ),
    ] {
        let out = dir.join("refused.csv");
        let mut a = vec![
            "history",
            "--prometheus",
            prom.base.as_str(),
            "--out",
            path(&out),
        ];
        a.extend(args);
        let (code, _, err) = run(&a);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains(needle), "{err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
        assert!(!out.exists());
    }
    // A Prometheus that is not there: retried, then refused, no file.
    let out = dir.join("unreachable.csv");
    let dead = format!("http://127.0.0.1:{}", free_port());
    let (code, _, err) = run(&[
        "history",
        "--prometheus",
        &dead,
        "--from",
        "now-1h",
        "--out",
        path(&out),
    ]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("after 4 tries"), "{err}");
    assert!(!out.exists());
    let leftovers: Vec<_> = std::fs::read_dir(&dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".tmp-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}
