//! The SLIs of a scope, computed by SQL aggregation over the event store.
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

use crate::db::{Scope, Selection};
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

/// One pass over `http_events`: counts, failures, retries, 429s and the
/// latency buckets of wire attempts, refusals by reason; a second pass
/// reads the wire attempts' durations when exact quantiles are asked for.
fn http(
    conn: &Connection,
    scope: &Scope,
    out: &mut BTreeMap<String, AdapterSlis>,
    naming: &dyn Fn(&str) -> Naming,
    exact: bool,
) -> Result<()> {
    let clause = scope.clause(true);
    let bucket = Buckets::new(DURATION_BUCKETS_SECONDS).sql_index("elapsed_seconds");
    let sql = format!(
        "SELECT adapter, reached_wire, \
           CASE WHEN reached_wire = 1 THEN {bucket} ELSE COALESCE(error_type, '') END AS k, \
           COUNT(*), \
           SUM(CASE WHEN error_type IS NOT NULL OR status IS NULL OR status < 100 OR status > 499 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN error_type IS NOT NULL OR status IS NULL OR status BETWEEN 500 AND 599 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN status = 429 THEN 1 ELSE 0 END), \
           SUM(CASE WHEN attempt > 1 THEN 1 ELSE 0 END) \
         FROM http_events WHERE {} GROUP BY 1, 2, 3",
        clause.sql
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(clause.params())?;
    while let Some(row) = rows.next()? {
        let adapter: String = row.get(0)?;
        let wire: i64 = row.get(1)?;
        let n = count(row.get_ref(3)?);
        let s = slot(out, &adapter, naming);
        if wire == 1 {
            let k = count(row.get_ref(2)?) as usize;
            if let Some(c) = s.latency.counts.get_mut(k) {
                *c += n;
            }
            s.wire_attempts += n;
            s.failed_prometheus += count(row.get_ref(4)?);
            s.failed_otel += count(row.get_ref(5)?);
            s.status_429 += count(row.get_ref(6)?);
            s.retried += count(row.get_ref(7)?);
        } else {
            let reason = match row.get_ref(2)? {
                ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                _ => String::new(),
            };
            let reason = if reason.is_empty() {
                "unknown".to_owned()
            } else {
                reason
            };
            *s.refusals.entry(reason).or_insert(0) += n;
        }
    }
    if exact {
        let sql = format!(
            "SELECT adapter, elapsed_seconds FROM http_events WHERE reached_wire = 1 AND {}",
            clause.sql
        );
        let mut st = conn.prepare(&sql)?;
        let mut rows = st.query(clause.params())?;
        let mut current: Option<String> = None;
        let mut buf: Vec<f64> = Vec::new();
        while let Some(row) = rows.next()? {
            let a = match row.get_ref(0)? {
                ValueRef::Text(t) => t,
                _ => continue,
            };
            if current.as_deref().map(str::as_bytes) != Some(a) {
                if let Some(prev) = current.take() {
                    slot(out, &prev, naming).elapsed.append(&mut buf);
                }
                current = Some(String::from_utf8_lossy(a).into_owned());
            }
            if let ValueRef::Real(v) = row.get_ref(1)? {
                buf.push(v);
            } else if let ValueRef::Integer(v) = row.get_ref(1)? {
                buf.push(v as f64);
            }
        }
        if let Some(prev) = current {
            slot(out, &prev, naming).elapsed.append(&mut buf);
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
    let clause = scope.clause(true);
    let sql = format!(
        "SELECT adapter, outcome, wait_seconds FROM rate_limit_events WHERE {} ORDER BY adapter",
        clause.sql
    );
    let mut st = conn.prepare(&sql)?;
    let mut rows = st.query(clause.params())?;
    let mut current: Option<String> = None;
    let mut acc = Limiter::default();
    let flush = |out: &mut BTreeMap<String, AdapterSlis>, a: &str, acc: &mut Limiter| {
        let s = slot(out, a, naming);
        s.limiter.acquired += acc.acquired;
        s.limiter.waited += acc.waited;
        s.limiter.rejected += acc.rejected;
        s.limiter.waits.append(&mut acc.waits);
        *acc = Limiter::default();
    };
    while let Some(row) = rows.next()? {
        let a = match row.get_ref(0)? {
            ValueRef::Text(t) => t,
            _ => continue,
        };
        if current.as_deref().map(str::as_bytes) != Some(a) {
            if let Some(prev) = current.take() {
                flush(out, &prev, &mut acc);
            }
            current = Some(String::from_utf8_lossy(a).into_owned());
        }
        match row.get_ref(1)? {
            ValueRef::Text(b"acquired") => acc.acquired += 1,
            ValueRef::Text(b"waited") => acc.waited += 1,
            ValueRef::Text(b"rejected") => acc.rejected += 1,
            _ => {}
        }
        match row.get_ref(2)? {
            ValueRef::Real(v) => acc.waits.push(v),
            ValueRef::Integer(v) => acc.waits.push(v as f64),
            _ => {}
        }
    }
    if let Some(prev) = current {
        flush(out, &prev, &mut acc);
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
