//! The SLIs of a scope, computed from the event store in one pass per table.
//!
//! The definitions follow the generated recording rules
//! (telemetry-runtime/src/backends/prometheus/rules.rs) and the families
//! the Prometheus backend exports; docs/adapter-telemetry.md has the table
//! of where each one matches which rule or family.

use std::collections::BTreeMap;

use rusqlite::types::ValueRef;
use rusqlite::Connection;
use telemetry_runtime::backends::prometheus::DURATION_BUCKETS_SECONDS;
use telemetry_runtime::manifest::Naming;

use crate::db::{Clause, Scope, Selection};
use crate::error::Result;
use crate::quantile::{exact_quantile, histogram_quantile, Buckets};

/// The latency quantiles every report carries.
pub(crate) const QUANTILES: &[(&str, f64)] = &[("p50", 0.5), ("p95", 0.95), ("p99", 0.99)];

/// Limiter answers of one adapter.
#[derive(Debug, Clone, Default)]
pub(crate) struct Limiter {
    pub(crate) acquired: u64,
    pub(crate) waited: u64,
    pub(crate) rejected: u64,
    pub(crate) waits: Vec<f64>,
}

/// Fallback attempts and calls of one adapter.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Fallback {
    pub(crate) success: u64,
    pub(crate) failure: u64,
    pub(crate) skipped: u64,
    pub(crate) calls: u64,
    pub(crate) calls_served: u64,
}

/// What the store says about one adapter in a scope.
#[derive(Debug, Clone)]
pub(crate) struct AdapterSlis {
    pub(crate) naming: Naming,
    pub(crate) wire_attempts: u64,
    /// Failed wire attempts as Prometheus naming's rule counts them
    /// (`status!~"[1-4].."`: every response outside 100..=499, every error).
    pub(crate) failed_prometheus: u64,
    /// As OpenTelemetry naming's rule counts them (a 5xx or an error).
    pub(crate) failed_otel: u64,
    pub(crate) retried: u64,
    pub(crate) status_429: u64,
    pub(crate) latency: Buckets,
    pub(crate) elapsed: Vec<f64>,
    pub(crate) refusals: BTreeMap<String, u64>,
    pub(crate) limiter: Limiter,
    pub(crate) breaker_open_seconds: BTreeMap<String, f64>,
    pub(crate) fallback: Fallback,
}

impl AdapterSlis {
    fn new(naming: Naming) -> Self {
        AdapterSlis {
            naming,
            wire_attempts: 0,
            failed_prometheus: 0,
            failed_otel: 0,
            retried: 0,
            status_429: 0,
            latency: Buckets::new(DURATION_BUCKETS_SECONDS),
            elapsed: Vec::new(),
            refusals: BTreeMap::new(),
            limiter: Limiter::default(),
            breaker_open_seconds: BTreeMap::new(),
            fallback: Fallback::default(),
        }
    }

    /// Failed wire attempts under the adapter's naming.
    pub(crate) fn failed(&self) -> u64 {
        match self.naming {
            Naming::Prometheus => self.failed_prometheus,
            Naming::OpenTelemetry => self.failed_otel,
        }
    }

    fn ratio(num: u64, den: u64) -> Option<f64> {
        (den > 0).then(|| num as f64 / den as f64)
    }

    /// `1 - failed / wire attempts`; `None` without wire attempts.
    pub(crate) fn success_ratio(&self) -> Option<f64> {
        Self::ratio(self.failed(), self.wire_attempts).map(|f| 1.0 - f)
    }

    pub(crate) fn retry_rate(&self) -> Option<f64> {
        Self::ratio(self.retried, self.wire_attempts)
    }

    pub(crate) fn status_429_ratio(&self) -> Option<f64> {
        Self::ratio(self.status_429, self.wire_attempts)
    }

    /// The bucket-interpolated latency quantile (what `histogram_quantile`
    /// gives over the exporter's default buckets).
    pub(crate) fn latency_histogram(&self, q: f64) -> Option<f64> {
        histogram_quantile(q, &self.latency)
    }

    pub(crate) fn latency_exact(&mut self, q: f64) -> Option<f64> {
        exact_quantile(q, &mut self.elapsed)
    }

    pub(crate) fn limiter_wait_p95(&mut self) -> Option<f64> {
        exact_quantile(0.95, &mut self.limiter.waits)
    }

    pub(crate) fn refusals_total(&self) -> u64 {
        self.refusals.values().sum()
    }

    pub(crate) fn breaker_open_total(&self) -> f64 {
        self.breaker_open_seconds.values().sum()
    }

    /// Successful fallback attempts over attempts that ran (skipped ones did not).
    pub(crate) fn fallback_success_ratio(&self) -> Option<f64> {
        let f = self.fallback;
        Self::ratio(f.success, f.success + f.failure)
    }

    pub(crate) fn fallback_call_success_ratio(&self) -> Option<f64> {
        let f = self.fallback;
        Self::ratio(f.calls_served, f.calls)
    }
}

fn count(v: ValueRef<'_>) -> u64 {
    match v {
        ValueRef::Integer(i) => u64::try_from(i).unwrap_or(0),
        ValueRef::Real(r) if r > 0.0 => r as u64,
        _ => 0,
    }
}

/// The SLIs of every adapter with events in `scope`, by adapter name;
/// `naming` gives an adapter's naming mode (from its stored manifest).
pub(crate) fn compute(
    conn: &Connection,
    scope: &Scope,
    naming: &dyn Fn(&str) -> Naming,
    exact: bool,
) -> Result<BTreeMap<String, AdapterSlis>> {
    let mut out: BTreeMap<String, AdapterSlis> = BTreeMap::new();
    http(conn, scope, &mut out, naming, exact)?;
    limiter(conn, scope, &mut out, naming)?;
    breaker(conn, scope, &mut out, naming)?;
    fallback(conn, scope, &mut out, naming)?;
    Ok(out)
}

fn slot<'a>(
    out: &'a mut BTreeMap<String, AdapterSlis>,
    adapter: &str,
    naming: &dyn Fn(&str) -> Naming,
) -> &'a mut AdapterSlis {
    out.entry(adapter.to_owned())
        .or_insert_with(|| AdapterSlis::new(naming(adapter)))
}

/// Where the rows of an event table in `scope` are read from: the `FROM`
/// and `WHERE` of the scan, with its parameters, or `None` when the scope
/// has no rows there.
///
/// The events of one run (or one time window) sit in a dense range of
/// rowids: one writer appends them in order. Reading that range straight
/// from the table (`NOT INDEXED`, a rowid range scan) is about five times
/// faster than following the `run_id` or time index, which costs a table
/// lookup per row. The range comes from one pass over the covering index
/// (`MIN(id), MAX(id), COUNT(*)`); when the scope's rows fill less than a
/// quarter of it (runs written side by side into one file), the index is
/// the cheaper way and the scan uses it.
fn source(conn: &Connection, table: &str, scope: &Scope, has_host: bool) -> Result<Option<Clause>> {
    let clause = scope.clause(has_host);
    if matches!(scope.selection, Selection::All) {
        return Ok(Some(Clause {
            sql: format!("{table} WHERE {}", clause.sql),
            params: clause.params,
        }));
    }
    // The selection alone (run or window) is what an index covers.
    let base = Scope {
        adapter: None,
        host: None,
        ..scope.clone()
    }
    .clause(false);
    let (min, max, n): (Option<i64>, Option<i64>, i64) = conn.query_row(
        &format!(
            "SELECT MIN(id), MAX(id), COUNT(*) FROM {table} WHERE {}",
            base.sql
        ),
        base.params(),
        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
    )?;
    let (Some(min), Some(max)) = (min, max) else {
        return Ok(None);
    };
    let span = max.saturating_sub(min).saturating_add(1);
    if n.saturating_mul(4) < span {
        return Ok(Some(Clause {
            sql: format!("{table} WHERE {}", clause.sql),
            params: clause.params,
        }));
    }
    let mut params = clause.params;
    let (a, b) = (params.len() + 1, params.len() + 2);
    params.push(rusqlite::types::Value::Integer(min));
    params.push(rusqlite::types::Value::Integer(max));
    Ok(Some(Clause {
        sql: format!(
            "{table} NOT INDEXED WHERE id BETWEEN ?{a} AND ?{b} AND {}",
            clause.sql
        ),
        params,
    }))
}

/// A stored number as SQLite compares it: integers and reals by value;
/// text (which SQLite orders above every number) and NULL apart.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Num {
    Null,
    Value(f64),
    Text,
}

fn num(v: ValueRef<'_>) -> Num {
    match v {
        ValueRef::Null => Num::Null,
        ValueRef::Integer(i) => Num::Value(i as f64),
        ValueRef::Real(r) => Num::Value(r),
        ValueRef::Text(_) | ValueRef::Blob(_) => Num::Text,
    }
}

/// The index of the accumulator of `adapter` in `acc`, added when new;
/// `last` remembers the previous row's, so rows of one adapter in a row
/// cost one comparison of bytes and no allocation.
fn acc_slot<'a>(
    acc: &'a mut Vec<(Vec<u8>, AdapterSlis)>,
    last: &mut usize,
    adapter: &[u8],
) -> &'a mut AdapterSlis {
    if acc.get(*last).is_none_or(|(a, _)| a.as_slice() != adapter) {
        *last = match acc.iter().position(|(a, _)| a.as_slice() == adapter) {
            Some(i) => i,
            None => {
                // The naming is filled in when merged into the output.
                acc.push((adapter.to_vec(), AdapterSlis::new(Naming::Prometheus)));
                acc.len() - 1
            }
        };
    }
    &mut acc[*last].1
}

/// One pass over the `http_events` of `scope`: counts, failures, retries,
/// 429s, the latency buckets and (with `exact`) the durations of wire
/// attempts, and refusals by reason. The conditions are those of the
/// generated rules, written as the SQL they replace
/// (`error_type IS NOT NULL OR status IS NULL OR status < 100 OR status > 499`
/// and so on, with SQLite's ordering of text above numbers).
fn http(
    conn: &Connection,
    scope: &Scope,
    out: &mut BTreeMap<String, AdapterSlis>,
    naming: &dyn Fn(&str) -> Naming,
    exact: bool,
) -> Result<()> {
    let Some(from) = source(conn, "http_events", scope, true)? else {
        return Ok(());
    };
    let sql = format!(
        "SELECT adapter, reached_wire, status, error_type, attempt, elapsed_seconds FROM {}",
        from.sql
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(from.params())?;
    let mut acc: Vec<(Vec<u8>, AdapterSlis)> = Vec::new();
    let mut last = 0usize;
    while let Some(row) = rows.next()? {
        let adapter = match row.get_ref(0)? {
            ValueRef::Text(t) => t,
            // What `row.get::<String>` says of a non-text adapter.
            _ => {
                row.get::<_, String>(0)?;
                continue;
            }
        };
        let s = acc_slot(&mut acc, &mut last, adapter);
        let error = row.get_ref(3)?;
        if num(row.get_ref(1)?) != Num::Value(1.0) {
            let reason = match error {
                ValueRef::Text(t) if !t.is_empty() => String::from_utf8_lossy(t),
                _ => "unknown".into(),
            };
            match s.refusals.get_mut(reason.as_ref()) {
                Some(c) => *c += 1,
                None => {
                    s.refusals.insert(reason.into_owned(), 1);
                }
            }
            continue;
        }
        s.wire_attempts += 1;
        let errored = !matches!(error, ValueRef::Null);
        let status = num(row.get_ref(2)?);
        let (prom, otel) = match status {
            Num::Null => (true, true),
            Num::Text => (true, false),
            Num::Value(v) => (!(100.0..=499.0).contains(&v), (500.0..=599.0).contains(&v)),
        };
        s.failed_prometheus += u64::from(errored || prom);
        s.failed_otel += u64::from(errored || otel);
        s.status_429 += u64::from(status == Num::Value(429.0));
        s.retried += u64::from(match num(row.get_ref(4)?) {
            Num::Value(v) => v > 1.0,
            Num::Text => true,
            Num::Null => false,
        });
        match num(row.get_ref(5)?) {
            Num::Value(v) => {
                let i = s.latency.index(v);
                s.latency.counts[i] += 1;
                if exact {
                    s.elapsed.push(v);
                }
            }
            // Above every bound, as `elapsed_seconds <= b` is for them.
            Num::Null | Num::Text => {
                let i = s.latency.bounds.len();
                s.latency.counts[i] += 1;
            }
        }
    }
    for (adapter, a) in acc {
        let adapter = String::from_utf8_lossy(&adapter);
        let s = slot(out, &adapter, naming);
        for (c, n) in s.latency.counts.iter_mut().zip(&a.latency.counts) {
            *c += n;
        }
        s.wire_attempts += a.wire_attempts;
        s.failed_prometheus += a.failed_prometheus;
        s.failed_otel += a.failed_otel;
        s.status_429 += a.status_429;
        s.retried += a.retried;
        s.elapsed.extend(a.elapsed);
        for (reason, n) in a.refusals {
            *s.refusals.entry(reason).or_insert(0) += n;
        }
    }
    Ok(())
}

fn limiter(
    conn: &Connection,
    scope: &Scope,
    out: &mut BTreeMap<String, AdapterSlis>,
    naming: &dyn Fn(&str) -> Naming,
) -> Result<()> {
    let Some(from) = source(conn, "rate_limit_events", scope, true)? else {
        return Ok(());
    };
    let sql = format!("SELECT adapter, outcome, wait_seconds FROM {}", from.sql);
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(from.params())?;
    let mut acc: Vec<(Vec<u8>, AdapterSlis)> = Vec::new();
    let mut last = 0usize;
    while let Some(row) = rows.next()? {
        let a = match row.get_ref(0)? {
            ValueRef::Text(t) => t,
            _ => continue,
        };
        let l = &mut acc_slot(&mut acc, &mut last, a).limiter;
        match row.get_ref(1)? {
            ValueRef::Text(b"acquired") => l.acquired += 1,
            ValueRef::Text(b"waited") => l.waited += 1,
            ValueRef::Text(b"rejected") => l.rejected += 1,
            _ => {}
        }
        match row.get_ref(2)? {
            ValueRef::Real(v) => l.waits.push(v),
            ValueRef::Integer(v) => l.waits.push(v as f64),
            _ => {}
        }
    }
    for (adapter, a) in acc {
        let s = slot(out, &String::from_utf8_lossy(&adapter), naming);
        s.limiter.acquired += a.limiter.acquired;
        s.limiter.waited += a.limiter.waited;
        s.limiter.rejected += a.limiter.rejected;
        s.limiter.waits.extend(a.limiter.waits);
    }
    Ok(())
}

/// Seconds with the breaker of each host open, from its transitions: an
/// open interval runs from a transition to `open` to the next transition
/// out of it, or to the end of the span; intervals are clipped to the span.
/// Within a run a host starts closed (the breaker lives in the process);
/// over a time window the state at its start is the last transition before
/// it, of any run.
fn breaker(
    conn: &Connection,
    scope: &Scope,
    out: &mut BTreeMap<String, AdapterSlis>,
    naming: &dyn Fn(&str) -> Naming,
) -> Result<()> {
    let (start, end) = scope.span;
    let mut clause = scope.clause(true);
    if let Selection::Window { until, .. } = scope.selection {
        // Transitions before the window tell its starting state.
        let mut c = Scope {
            selection: Selection::All,
            ..scope.clone()
        }
        .clause(true);
        c.sql = format!("{} AND time_unix_nano < ?{}", c.sql, c.params.len() + 1);
        c.params.push(rusqlite::types::Value::Integer(until));
        clause = c;
    }
    let sql = format!(
        "SELECT adapter, host, time_unix_nano, from_state, to_state FROM breaker_transitions \
         WHERE {} ORDER BY adapter, host, time_unix_nano, id",
        clause.sql
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(clause.params())?;
    // (adapter, host) -> (open since, seconds so far)
    let mut state: BTreeMap<(String, String), (Option<i64>, f64)> = BTreeMap::new();
    let clip = |from: i64, to: i64| -> f64 {
        let (a, b) = (from.max(start), to.min(end));
        if b > a {
            (b - a) as f64 / 1e9
        } else {
            0.0
        }
    };
    while let Some(row) = rows.next()? {
        let adapter: String = row.get(0)?;
        let host: String = row.get(1)?;
        let t: i64 = row.get(2)?;
        let from: String = row.get(3)?;
        let to: String = row.get(4)?;
        let e = state.entry((adapter, host)).or_insert((None, 0.0));
        // A first transition out of `open` (the window starts inside an
        // interval whose start is not stored) opened at the span's start.
        let open_since = e.0.take().or((from == "open").then_some(start.min(t)));
        if let Some(since) = open_since {
            if to != "open" {
                e.1 += clip(since, t);
            } else {
                e.0 = Some(since);
                continue;
            }
        }
        if to == "open" {
            e.0 = Some(t);
        }
    }
    for ((adapter, host), (open_since, mut secs)) in state {
        if let Some(since) = open_since {
            secs += clip(since, end);
        }
        *slot(out, &adapter, naming)
            .breaker_open_seconds
            .entry(host)
            .or_insert(0.0) += secs;
    }
    Ok(())
}

fn fallback(
    conn: &Connection,
    scope: &Scope,
    out: &mut BTreeMap<String, AdapterSlis>,
    naming: &dyn Fn(&str) -> Naming,
) -> Result<()> {
    let clause = scope.clause(false);
    let sql = format!(
        "SELECT adapter, \
           SUM(CASE WHEN outcome = 'success' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN outcome = 'failure' THEN 1 ELSE 0 END), \
           SUM(CASE WHEN outcome = 'skipped' THEN 1 ELSE 0 END), \
           COUNT(DISTINCT correlation_id), \
           COUNT(DISTINCT CASE WHEN outcome = 'success' THEN correlation_id END) \
         FROM fallback_attempts WHERE {} GROUP BY adapter",
        clause.sql
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(clause.params())?;
    while let Some(row) = rows.next()? {
        let adapter: String = row.get(0)?;
        let s = slot(out, &adapter, naming);
        s.fallback = Fallback {
            success: count(row.get_ref(1)?),
            failure: count(row.get_ref(2)?),
            skipped: count(row.get_ref(3)?),
            calls: count(row.get_ref(4)?),
            calls_served: count(row.get_ref(5)?),
        };
    }
    Ok(())
}

/// The SLIs of an adapter without events.
pub(crate) fn empty(naming: Naming) -> AdapterSlis {
    AdapterSlis::new(naming)
}
