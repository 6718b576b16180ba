//! The SQLite writer: the sink the queue's writer thread drives.
//!
//! One transaction per queue batch ([`EventSink::begin_batch`] /
//! [`EventSink::end_batch`]), cached prepared statements.
//!
//! **Joins into `http_events`.** One row per attempt outcome (a response, an
//! error, a refusal). Values that arrive in other events are joined by
//! correlation id and attempt, in a small table of recent requests (the last
//! 65 536 to 131 072 correlation ids; older ones are forgotten):
//!
//! - `limiter_delay_seconds`: the `wait` of the rate-limit event of the same
//!   correlation id and attempt, which comes before the attempt's outcome;
//! - `breaker_state`: the host's breaker state when the attempt's request
//!   event was emitted (the last breaker transition seen for that adapter
//!   and host, `closed` when none), or for a refusal, which has no request
//!   event, the host's state at the refusal;
//! - `retry_after_seconds`: the retry event with `delay_source =
//!   retry_after` for that attempt comes *after* its response, so the row
//!   already written is updated (`UPDATE ... WHERE id = ?`, in the retry
//!   event's batch). A process killed between the two leaves it NULL.
//!
//! Request, backoff and redirect events have no table of their own in
//! version 1 (they are in the JSONL file); retry events only fill
//! `retry_after_seconds`.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use rusqlite::{params, Connection};

use crate::core::dispatch::record_write_error;
use crate::core::events::*;
use crate::core::id::AdapterRef;
use crate::core::sink::EventSink;

/// Correlation ids remembered per generation (two generations are kept).
const RECENT: usize = 65_536;

#[derive(Debug, Clone, Copy, Default)]
struct Recent {
    attempt: u32,
    limiter_wait: Option<f64>,
    breaker: Option<BreakerState>,
    /// `http_events.id` of this attempt's row, once written.
    row: Option<i64>,
}

/// Recent requests in two generations: when the current one is full it
/// becomes the old one and the old one is forgotten.
#[derive(Default)]
struct RecentTable {
    current: HashMap<u64, Recent>,
    old: HashMap<u64, Recent>,
}

impl RecentTable {
    /// The entry of `cid` for `attempt` (a new attempt resets it).
    fn entry(&mut self, cid: u64, attempt: u32) -> &mut Recent {
        if !self.current.contains_key(&cid) {
            if self.current.len() >= RECENT {
                self.old = std::mem::take(&mut self.current);
            }
            let moved = self.old.remove(&cid).unwrap_or_default();
            self.current.insert(cid, moved);
        }
        let e = self.current.entry(cid).or_default();
        if e.attempt != attempt {
            *e = Recent {
                attempt,
                ..Recent::default()
            };
        }
        e
    }

    fn get(&self, cid: u64, attempt: u32) -> Option<&Recent> {
        self.current
            .get(&cid)
            .or_else(|| self.old.get(&cid))
            .filter(|e| e.attempt == attempt)
    }
}

struct State {
    conn: Connection,
    run_id: String,
    in_batch: bool,
    /// Statements of the open batch that failed (the batch is rolled back).
    failed: bool,
    batch_len: u64,
    recent: RecentTable,
    /// Last breaker state per (adapter id, host index).
    breakers: HashMap<(usize, usize), BreakerState>,
    /// Adapters whose manifest is stored, by adapter id.
    manifests: Vec<bool>,
}

/// The sink behind the queue (see the module docs).
pub(crate) struct SqliteSink {
    state: Mutex<State>,
}

impl fmt::Debug for SqliteSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteSink").finish_non_exhaustive()
    }
}

const INSERT_HTTP: &str = "INSERT INTO http_events (run_id, time_unix_nano, adapter, host, \
    correlation_id, attempt, method, status, error_type, reached_wire, elapsed_seconds, \
    body_size, retry_after_seconds, limiter_delay_seconds, breaker_state) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, NULL, ?13, ?14)";
const UPDATE_RETRY_AFTER: &str = "UPDATE http_events SET retry_after_seconds = ?1 WHERE id = ?2";
const UPDATE_BODY_SIZE: &str = "UPDATE http_events SET body_size = ?1 WHERE id = ?2";
const INSERT_RATE_LIMIT: &str = "INSERT INTO rate_limit_events (run_id, time_unix_nano, adapter, \
    host, correlation_id, attempt, outcome, wait_seconds, queue_depth, saturation) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)";
const INSERT_BREAKER: &str = "INSERT INTO breaker_transitions (run_id, time_unix_nano, adapter, \
    host, from_state, to_state, reason) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
const INSERT_FALLBACK: &str = "INSERT INTO fallback_attempts (run_id, time_unix_nano, adapter, \
    correlation_id, tier, source, outcome, reason, elapsed_seconds) \
    VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
const INSERT_CUSTOM: &str = "INSERT INTO custom_events (run_id, time_unix_nano, adapter, host, \
    correlation_id, event, label_1, label_2, label_3, label_4, label_5, label_6, label_7, \
    label_8, label_9, label_10, label_11, label_12, label_13, label_14, label_15, label_16, \
    payload_json) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, \
    ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)";
const INSERT_MANIFEST: &str =
    "INSERT OR IGNORE INTO manifests (run_id, adapter, manifest_json) VALUES (?1, ?2, ?3)";

fn nanos(meta: &EventMeta) -> i64 {
    i64::try_from(meta.time_unix_nano).unwrap_or(i64::MAX)
}

impl State {
    fn store_manifest(&mut self, adapter: AdapterRef) -> rusqlite::Result<()> {
        let idx = adapter.id().index();
        if self.manifests.get(idx).copied().unwrap_or(false) {
            return Ok(());
        }
        let json = serde_json::to_string(adapter.manifest())
            .map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        self.conn.prepare_cached(INSERT_MANIFEST)?.execute(params![
            self.run_id,
            adapter.name(),
            json
        ])?;
        if self.manifests.len() <= idx {
            self.manifests.resize(idx + 1, false);
        }
        self.manifests[idx] = true;
        Ok(())
    }

    fn host_state(&self, meta: &EventMeta) -> BreakerState {
        self.breakers
            .get(&(meta.adapter.id().index(), meta.host.index()))
            .copied()
            .unwrap_or(BreakerState::Closed)
    }

    /// One http_events row; `outcome` is `(status, error type, reached the
    /// wire, elapsed, body size)`.
    fn insert_http(
        &mut self,
        meta: &EventMeta,
        method: HttpMethod,
        outcome: (Option<u16>, Option<ErrorType>, bool, f64, Option<u64>),
    ) -> rusqlite::Result<()> {
        let cid = meta.correlation_id.0;
        let (limiter, breaker) = match self.recent.get(cid, meta.attempt) {
            Some(r) => (r.limiter_wait, r.breaker),
            None => (None, None),
        };
        let breaker = breaker.unwrap_or_else(|| self.host_state(meta));
        let (status, error_type, wire, elapsed, body) = outcome;
        self.conn.prepare_cached(INSERT_HTTP)?.execute(params![
            self.run_id,
            nanos(meta),
            meta.adapter_name(),
            meta.host.as_str(),
            meta.correlation_id.to_string(),
            meta.attempt,
            method.as_str(),
            status,
            error_type.map(|e| e.as_str()),
            wire,
            elapsed,
            body.map(|b| i64::try_from(b).unwrap_or(i64::MAX)),
            limiter,
            breaker.as_str(),
        ])?;
        let row = self.conn.last_insert_rowid();
        self.recent.entry(cid, meta.attempt).row = Some(row);
        Ok(())
    }

    fn write(&mut self, event: EventRef<'_>) -> rusqlite::Result<()> {
        let meta = event.meta();
        self.store_manifest(meta.adapter)?;
        match event {
            EventRef::Request(e) => {
                let state = self.host_state(&e.meta);
                self.recent
                    .entry(e.meta.correlation_id.0, e.meta.attempt)
                    .breaker = Some(state);
            }
            EventRef::Response(e) => self.insert_http(
                &e.meta,
                e.method,
                (
                    Some(e.status),
                    None,
                    true,
                    e.duration.as_secs_f64(),
                    e.body_size,
                ),
            )?,
            EventRef::Error(e) => self.insert_http(
                &e.meta,
                e.method,
                (
                    None,
                    Some(e.error_type),
                    e.reached_wire,
                    e.duration.as_secs_f64(),
                    None,
                ),
            )?,
            EventRef::Retry(e) => {
                if e.delay_source == DelaySource::RetryAfter {
                    let row = self
                        .recent
                        .get(e.meta.correlation_id.0, e.meta.attempt)
                        .and_then(|r| r.row);
                    if let Some(row) = row {
                        self.conn
                            .prepare_cached(UPDATE_RETRY_AFTER)?
                            .execute(params![e.delay.as_secs_f64(), row])?;
                    }
                }
            }
            // The bytes actually read replace the announced Content-Length
            // of the attempt's row, while the join window still holds it.
            EventRef::Body(e) => {
                let row = self
                    .recent
                    .get(e.meta.correlation_id.0, e.meta.attempt)
                    .and_then(|r| r.row);
                if let Some(row) = row {
                    self.conn
                        .prepare_cached(UPDATE_BODY_SIZE)?
                        .execute(params![i64::try_from(e.size).unwrap_or(i64::MAX), row])?;
                }
            }
            EventRef::Backoff(_) | EventRef::Redirect(_) => {}
            EventRef::RateLimit(e) => {
                let wait = e.wait.as_secs_f64();
                self.recent
                    .entry(e.meta.correlation_id.0, e.meta.attempt)
                    .limiter_wait = Some(wait);
                self.conn
                    .prepare_cached(INSERT_RATE_LIMIT)?
                    .execute(params![
                        self.run_id,
                        nanos(&e.meta),
                        e.meta.adapter_name(),
                        e.meta.host.as_str(),
                        e.meta.correlation_id.to_string(),
                        e.meta.attempt,
                        e.outcome.as_str(),
                        wait,
                        e.queue_depth,
                        e.saturation,
                    ])?;
            }
            EventRef::BreakerTransition(e) => {
                self.breakers
                    .insert((e.meta.adapter.id().index(), e.meta.host.index()), e.to);
                self.conn.prepare_cached(INSERT_BREAKER)?.execute(params![
                    self.run_id,
                    nanos(&e.meta),
                    e.meta.adapter_name(),
                    e.meta.host.as_str(),
                    e.from.as_str(),
                    e.to.as_str(),
                    e.reason,
                ])?;
            }
            EventRef::Fallback(e) => {
                self.conn.prepare_cached(INSERT_FALLBACK)?.execute(params![
                    self.run_id,
                    nanos(&e.meta),
                    e.meta.adapter_name(),
                    e.meta.correlation_id.to_string(),
                    e.tier,
                    e.source,
                    e.outcome.as_str(),
                    e.reason,
                    e.elapsed.as_secs_f64(),
                ])?;
            }
            EventRef::Custom(e) => {
                let mut labels: [Option<&'static str>; 16] = [None; 16];
                let mut n = 0;
                e.event.visit_labels(&mut |_, v| {
                    if let Some(slot) = labels.get_mut(n) {
                        *slot = Some(v.as_str());
                    }
                    n += 1;
                });
                let payload = serde_json::to_string(e.event.payload())
                    .map_err(|err| rusqlite::Error::ToSqlConversionFailure(Box::new(err)))?;
                let [l1, l2, l3, l4, l5, l6, l7, l8, l9, l10, l11, l12, l13, l14, l15, l16] =
                    labels;
                self.conn.prepare_cached(INSERT_CUSTOM)?.execute(params![
                    self.run_id,
                    nanos(&e.meta),
                    e.meta.adapter_name(),
                    e.meta.host.as_str(),
                    e.meta.correlation_id.to_string(),
                    e.event.name(),
                    l1,
                    l2,
                    l3,
                    l4,
                    l5,
                    l6,
                    l7,
                    l8,
                    l9,
                    l10,
                    l11,
                    l12,
                    l13,
                    l14,
                    l15,
                    l16,
                    payload,
                ])?;
            }
        }
        Ok(())
    }
}

impl SqliteSink {
    pub(crate) fn new(conn: Connection, run_id: String) -> Self {
        conn.set_prepared_statement_cache_capacity(32);
        SqliteSink {
            state: Mutex::new(State {
                conn,
                run_id,
                in_batch: false,
                failed: false,
                batch_len: 0,
                recent: RecentTable::default(),
                breakers: HashMap::new(),
                manifests: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Stores `adapter`'s manifest for this run (once).
    pub(crate) fn store_manifest(&mut self, adapter: AdapterRef) -> rusqlite::Result<()> {
        self.lock().store_manifest(adapter)
    }
}

impl EventSink for SqliteSink {
    fn name(&self) -> &'static str {
        "sqlite"
    }

    fn on_event(&self, event: EventRef<'_>) {
        let mut st = self.lock();
        if st.in_batch {
            st.batch_len += 1;
            if !st.failed && st.write(event).is_err() {
                st.failed = true;
            }
        } else {
            // Outside a batch (not driven by the queue): autocommit.
            if st.write(event).is_err() {
                record_write_error("sqlite", 1);
            }
        }
    }

    fn begin_batch(&self, _len: usize) {
        let mut st = self.lock();
        st.batch_len = 0;
        st.failed = st.conn.execute_batch("BEGIN").is_err();
        st.in_batch = true;
    }

    fn end_batch(&self) -> u64 {
        let mut st = self.lock();
        st.in_batch = false;
        let ok = !st.failed && st.conn.execute_batch("COMMIT").is_ok();
        if ok {
            return 0;
        }
        // One failed batch (BEGIN, an INSERT or COMMIT): one write error;
        // its events are counted as dropped by the queue.
        record_write_error("sqlite", 1);
        if !st.conn.is_autocommit() {
            let _ = st.conn.execute_batch("ROLLBACK");
        }
        // The rolled-back rows are gone; forget their ids.
        st.recent = RecentTable::default();
        st.failed = false;
        st.batch_len
    }
}
