//! A test-fixture writer for the event store: creates a database from the
//! committed schema (telemetry-runtime/src/sink/sqlite/schema_v1.sql, the
//! contract with the SQLite sink) and inserts rows directly.

#![allow(dead_code, clippy::unwrap_used, clippy::too_many_arguments)] // a test fixture may unwrap

use std::path::Path;

use rusqlite::{params, Connection};

/// The schema the SQLite sink writes.
pub const SCHEMA_V1: &str =
    include_str!("../../../telemetry-runtime/src/sink/sqlite/schema_v1.sql");

/// 2026-12-01T20:00:00Z in Unix nanoseconds.
pub const T0: i64 = 1_796_155_200_000_000_000;
pub const SEC: i64 = 1_000_000_000;

pub fn create(path: &Path) -> Connection {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(SCHEMA_V1).unwrap();
    conn
}

pub fn run(c: &Connection, id: &str, job: &str, started: i64, ended: Option<i64>) {
    c.execute(
        "INSERT INTO runs (run_id, job, started_unix_nano, ended_unix_nano) VALUES (?1, ?2, ?3, ?4)",
        params![id, job, started, ended],
    )
    .unwrap();
}

pub fn manifest(c: &Connection, run: &str, json: &str) {
    let v: serde_json::Value = serde_json::from_str(json).unwrap();
    c.execute(
        "INSERT INTO manifests (run_id, adapter, manifest_json) VALUES (?1, ?2, ?3)",
        params![run, v["name"].as_str().unwrap(), json],
    )
    .unwrap();
}

pub fn manifest_json(name: &str, naming: &str, success: f64, q: f64, target: f64) -> String {
    format!(
        r#"{{"name":"{name}","type_name":"T","naming":"{naming}","host_cap":16,"labels":[],"events":[],"slo":{{"success_percent":{success:?},"latency":{{"quantile":{q:?},"target_seconds":{target:?}}}}},"cardinality_budget":10000}}"#
    )
}

/// One `http_events` row.
#[derive(Debug, Clone)]
pub struct Http<'a> {
    pub run: &'a str,
    pub t: i64,
    pub adapter: &'a str,
    pub host: &'a str,
    pub attempt: i64,
    pub status: Option<i64>,
    pub error: Option<&'a str>,
    pub wire: bool,
    pub elapsed: f64,
}

pub fn http(c: &Connection, e: &Http<'_>) {
    c.execute(
        "INSERT INTO http_events (run_id, time_unix_nano, adapter, host, correlation_id, attempt, method, \
         status, error_type, reached_wire, elapsed_seconds, body_size, retry_after_seconds, \
         limiter_delay_seconds, breaker_state) VALUES (?1, ?2, ?3, ?4, '00000000000000ab', ?5, 'GET', ?6, ?7, ?8, ?9, 10, NULL, 0.0, 'closed')",
        params![e.run, e.t, e.adapter, e.host, e.attempt, e.status, e.error, e.wire as i64, e.elapsed],
    )
    .unwrap();
}

pub fn rate_limit(c: &Connection, run: &str, t: i64, adapter: &str, outcome: &str, wait: f64) {
    c.execute(
        "INSERT INTO rate_limit_events (run_id, time_unix_nano, adapter, host, correlation_id, attempt, outcome, wait_seconds, queue_depth, saturation) \
         VALUES (?1, ?2, ?3, 'api.test', '00000000000000ab', 1, ?4, ?5, 0, 0.5)",
        params![run, t, adapter, outcome, wait],
    )
    .unwrap();
}

pub fn transition(
    c: &Connection,
    run: &str,
    t: i64,
    adapter: &str,
    host: &str,
    from: &str,
    to: &str,
) {
    c.execute(
        "INSERT INTO breaker_transitions (run_id, time_unix_nano, adapter, host, from_state, to_state, reason) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'test')",
        params![run, t, adapter, host, from, to],
    )
    .unwrap();
}

pub fn fallback(
    c: &Connection,
    run: &str,
    t: i64,
    adapter: &str,
    call: &str,
    tier: i64,
    source: &str,
    outcome: &str,
) {
    c.execute(
        "INSERT INTO fallback_attempts (run_id, time_unix_nano, adapter, correlation_id, tier, source, outcome, reason, elapsed_seconds) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, NULL, 0.01)",
        params![run, t, adapter, call, tier, source, outcome],
    )
    .unwrap();
}

/// The fixture with known answers (docs in tests/cli.rs, `known_answers`):
/// run `r1` (T0 .. T0+100 s) with `crossref` (Prometheus naming,
/// success 99.5 %, p99 500 ms) and `doi_resolver` (OpenTelemetry naming,
/// success 99 %, p95 250 ms); an earlier run `r0` with one 500.
pub fn known(path: &Path) -> Connection {
    let c = create(path);
    run(&c, "r0", "harvest", T0 - 1000 * SEC, Some(T0 - 900 * SEC));
    run(&c, "r1", "harvest", T0, Some(T0 + 100 * SEC));
    manifest(
        &c,
        "r0",
        &manifest_json("crossref", "prometheus", 99.5, 0.99, 0.5),
    );
    manifest(
        &c,
        "r1",
        &manifest_json("crossref", "prometheus", 99.5, 0.99, 0.5),
    );
    manifest(
        &c,
        "r1",
        &manifest_json("doi_resolver", "open_telemetry", 99.0, 0.95, 0.25),
    );
    let base = Http {
        run: "r1",
        t: T0 + SEC,
        adapter: "crossref",
        host: "api.test",
        attempt: 1,
        status: Some(200),
        error: None,
        wire: true,
        elapsed: 0.0,
    };
    let rows: &[(Option<i64>, Option<&str>, i64, f64)] = &[
        (Some(200), None, 1, 0.01),
        (Some(200), None, 1, 0.02),
        (Some(200), None, 1, 0.03),
        (Some(200), None, 1, 0.04),
        (Some(200), None, 2, 0.2),
        (Some(200), None, 1, 0.3),
        (Some(429), None, 1, 0.005),
        (Some(503), None, 1, 0.6),
        (None, Some("timeout"), 2, 1.0),
        (Some(404), None, 1, 0.07),
    ];
    for (i, (status, error, attempt, elapsed)) in rows.iter().enumerate() {
        http(
            &c,
            &Http {
                t: T0 + (i as i64 + 1) * SEC,
                status: *status,
                error: *error,
                attempt: *attempt,
                elapsed: *elapsed,
                ..base.clone()
            },
        );
    }
    for reason in ["circuit_open", "rate_limited"] {
        http(
            &c,
            &Http {
                t: T0 + 20 * SEC,
                status: None,
                error: Some(reason),
                wire: false,
                ..base.clone()
            },
        );
    }
    // The earlier run: one 500.
    http(
        &c,
        &Http {
            run: "r0",
            t: T0 - 950 * SEC,
            status: Some(500),
            elapsed: 0.1,
            ..base.clone()
        },
    );
    for (outcome, wait) in [
        ("acquired", 0.0),
        ("waited", 0.1),
        ("waited", 0.3),
        ("rejected", 0.0),
    ] {
        rate_limit(&c, "r1", T0 + 5 * SEC, "crossref", outcome, wait);
    }
    transition(
        &c,
        "r1",
        T0 + 10 * SEC,
        "crossref",
        "api.test",
        "closed",
        "open",
    );
    transition(
        &c,
        "r1",
        T0 + 40 * SEC,
        "crossref",
        "api.test",
        "open",
        "half_open",
    );
    transition(
        &c,
        "r1",
        T0 + 45 * SEC,
        "crossref",
        "api.test",
        "half_open",
        "open",
    );
    transition(
        &c,
        "r1",
        T0 + 50 * SEC,
        "crossref",
        "api.test",
        "open",
        "closed",
    );
    transition(
        &c,
        "r1",
        T0 + 90 * SEC,
        "crossref",
        "b.test",
        "closed",
        "open",
    );
    for (call, tier, source, outcome) in [
        ("c1", 0, "primary", "failure"),
        ("c1", 1, "mirror", "success"),
        ("c2", 0, "primary", "failure"),
        ("c2", 1, "mirror", "failure"),
        ("c3", 0, "primary", "skipped"),
        ("c3", 1, "mirror", "success"),
    ] {
        fallback(
            &c,
            "r1",
            T0 + 30 * SEC,
            "doi_resolver",
            call,
            tier,
            source,
            outcome,
        );
    }
    c
}

/// A run `bulk` with `n` http events (a mix of statuses, attempts, hosts
/// and durations), a tenth as many limiter events, a few hundred breaker
/// transitions and fallback attempts: the benchmark's store.
pub fn bulk(path: &Path, n: usize) -> Connection {
    let mut c = create(path);
    run(&c, "bulk", "bench", T0, Some(T0 + 3600 * SEC));
    manifest(
        &c,
        "bulk",
        &manifest_json("crossref", "prometheus", 99.5, 0.99, 0.5),
    );
    let tx = c.transaction().unwrap();
    {
        let mut st = tx
            .prepare(
                "INSERT INTO http_events (run_id, time_unix_nano, adapter, host, correlation_id, attempt, method, \
                 status, error_type, reached_wire, elapsed_seconds, body_size, retry_after_seconds, \
                 limiter_delay_seconds, breaker_state) VALUES ('bulk', ?1, 'crossref', ?2, ?3, ?4, 'GET', ?5, ?6, ?7, ?8, 2048, NULL, 0.0, 'closed')",
            )
            .unwrap();
        let hosts = [
            "a.test", "b.test", "c.test", "d.test", "e.test", "f.test", "g.test",
        ];
        let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
        for i in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let r = x % 1000;
            let (status, error, wire): (Option<i64>, Option<&str>, i64) = match r {
                0..=949 => (Some(200), None, 1),
                950..=969 => (Some(503), None, 1),
                970..=984 => (Some(429), None, 1),
                985..=994 => (None, Some("timeout"), 1),
                _ => (None, Some("circuit_open"), 0),
            };
            let elapsed = if wire == 1 {
                (x >> 20) as f64 % 2000.0 / 1000.0
            } else {
                0.0
            };
            let t = T0 + (i as i64) * (3600 * SEC / n.max(1) as i64);
            st.execute(params![
                t,
                hosts[i % hosts.len()],
                format!("{:016x}", i / 2),
                1 + (i % 2) as i64,
                status,
                error,
                wire,
                elapsed
            ])
            .unwrap();
        }
        let mut st = tx
            .prepare(
                "INSERT INTO rate_limit_events (run_id, time_unix_nano, adapter, host, correlation_id, attempt, outcome, wait_seconds, queue_depth, saturation) \
                 VALUES ('bulk', ?1, 'crossref', 'a.test', '0000000000000001', 1, ?2, ?3, 1, 0.5)",
            )
            .unwrap();
        for i in 0..n / 10 {
            let outcome = ["acquired", "waited", "waited", "rejected"][i % 4];
            st.execute(params![
                T0 + i as i64 * SEC / 100,
                outcome,
                (i % 100) as f64 / 100.0
            ])
            .unwrap();
        }
        for i in 0..200 {
            let (from, to) = if i % 2 == 0 {
                ("closed", "open")
            } else {
                ("open", "closed")
            };
            transition(
                &tx,
                "bulk",
                T0 + i * 10 * SEC,
                "crossref",
                "a.test",
                from,
                to,
            );
        }
        for i in 0..300 {
            fallback(
                &tx,
                "bulk",
                T0 + i * SEC,
                "crossref",
                &format!("{i:016x}"),
                0,
                "primary",
                ["success", "failure", "skipped"][i as usize % 3],
            );
        }
    }
    tx.commit().unwrap();
    c
}
