//! The dashboard's dispatch observer: what the health state does not keep
//! (in-flight attempts and retries per host) and the ring of recent errors.
//!
//! Cost on the request path, once the dashboard is enabled (installed with
//! the router): for a request, a response, a wire error or a retry event, one
//! indexed table load and one relaxed atomic add on the host's cell;
//! nothing for the other kinds. The error ring is written only while at
//! least one dashboard client is connected ([`watching`] is one relaxed
//! load); with none, an error costs the same single atomic add as a
//! response.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};

use crate::core::adapter::PerAdapter;
use crate::core::dispatch;
use crate::core::events::{ErrorEvent, EventMeta, EventRef};
use crate::core::id::AdapterRef;
use crate::core::labels::{LabelValue, MAX_CAP};
use crate::core::redact;

/// Errors the ring keeps (the newest).
pub(crate) const ERROR_RING: usize = 50;
/// Longest error message kept, in characters.
const MESSAGE_CHARS: usize = 200;

/// Dashboard clients connected now, over every dashboard of the process.
static WATCHERS: AtomicUsize = AtomicUsize::new(0);

/// Whether any dashboard client is connected: one relaxed load.
#[inline]
pub(crate) fn watching() -> bool {
    WATCHERS.load(Ordering::Relaxed) != 0
}

/// Counts a client in; the count falls again when the returned guard drops.
pub(crate) fn watch() -> WatchGuard {
    WATCHERS.fetch_add(1, Ordering::Relaxed);
    WatchGuard(())
}

/// Held by each connected client (see [`watch`]).
#[derive(Debug)]
pub(crate) struct WatchGuard(());

impl Drop for WatchGuard {
    fn drop(&mut self) {
        WATCHERS.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Clients connected now (for tests and the page's footer).
pub(crate) fn watchers() -> usize {
    WATCHERS.load(Ordering::Relaxed)
}

#[derive(Debug, Default)]
struct HostCell {
    in_flight: AtomicI64,
    retries: AtomicU64,
}

#[derive(Debug)]
struct AdapterCells {
    hosts: Box<[OnceLock<HostCell>]>,
}

static ADAPTERS: PerAdapter<AdapterCells> = PerAdapter::new();

fn cell(adapter: AdapterRef, host: LabelValue) -> Option<&'static HostCell> {
    let id = adapter.id();
    if !id.is_exported() {
        return None;
    }
    let cells = ADAPTERS.get_or_init(id, || AdapterCells {
        hosts: (0..=adapter.manifest().host_cap.clamp(1, MAX_CAP))
            .map(|_| OnceLock::new())
            .collect(),
    });
    let slot = cells.hosts.get(host.index().min(cells.hosts.len() - 1))?;
    Some(slot.get_or_init(HostCell::default))
}

/// In-flight wire attempts and retries so far of one host, as the observer
/// counted them since it was installed.
pub(crate) fn host_counts(adapter: AdapterRef, host: LabelValue) -> (i64, u64) {
    let Some(cells) = ADAPTERS.get(adapter.id()) else {
        return (0, 0);
    };
    match cells.hosts.get(host.index()).and_then(OnceLock::get) {
        Some(c) => (
            c.in_flight.load(Ordering::Relaxed).max(0),
            c.retries.load(Ordering::Relaxed),
        ),
        None => (0, 0),
    }
}

/// One failed attempt or refusal, as the page lists it. Every field is
/// bounded or redacted: the host is the bounded label, the message went
/// through the client's redaction and is redacted again here (any URL in it)
/// and cut to 200 characters.
#[derive(Debug, Clone, serde::Serialize)]
pub(crate) struct ErrorEntry {
    /// Increasing number, for "what is new since the last frame".
    pub(crate) seq: u64,
    /// Milliseconds since the Unix epoch.
    pub(crate) t: u64,
    pub(crate) adapter: &'static str,
    pub(crate) host: &'static str,
    /// `error.type`, or `http_<status>` for a 5xx response.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    pub(crate) correlation_id: String,
    pub(crate) attempt: u32,
    pub(crate) message: String,
    /// Whether the request reached the wire (false: the client refused it).
    pub(crate) wire: bool,
}

#[derive(Debug, Default)]
struct Ring {
    next_seq: u64,
    entries: VecDeque<ErrorEntry>,
}

static RING: Mutex<Ring> = Mutex::new(Ring {
    next_seq: 1,
    entries: VecDeque::new(),
});

fn push_error(meta: &EventMeta, kind: String, message: &str, wire: bool) {
    let entry = |seq| ErrorEntry {
        seq,
        t: meta.time_unix_nano / 1_000_000,
        adapter: meta.adapter_name(),
        host: meta.host.as_str(),
        kind,
        correlation_id: meta.correlation_id.to_string(),
        attempt: meta.attempt,
        message: redact_message(message),
        wire,
    };
    // Never wait on the request path: a contended ring drops the entry.
    let Ok(mut ring) = RING.try_lock() else {
        return;
    };
    let seq = ring.next_seq;
    ring.next_seq += 1;
    if ring.entries.len() == ERROR_RING {
        ring.entries.pop_front();
    }
    ring.entries.push_back(entry(seq));
}

/// Redacts every URL-looking word of `message` (userinfo, sensitive query
/// values) and cuts it to [`MESSAGE_CHARS`].
pub(crate) fn redact_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len().min(MESSAGE_CHARS + 8));
    for (i, word) in message.split(' ').enumerate() {
        if i > 0 {
            out.push(' ');
        }
        if word.contains("://") {
            out.push_str(&redact::redact_url(word));
        } else {
            out.push_str(word);
        }
    }
    if out.chars().count() > MESSAGE_CHARS {
        out = out.chars().take(MESSAGE_CHARS).collect();
        out.push('…');
    }
    out
}

/// The ring's entries with a sequence number above `after`, oldest first.
pub(crate) fn errors_after(after: u64) -> Vec<ErrorEntry> {
    let ring = RING.lock().unwrap_or_else(|e| e.into_inner());
    ring.entries
        .iter()
        .filter(|e| e.seq > after)
        .cloned()
        .collect()
}

/// Feeds the dashboard: see the module docs for what it costs.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DashboardSink;

/// Adds [`DashboardSink`] as a dispatch observer, once per process.
pub(crate) fn install() {
    static INSTALLED: AtomicBool = AtomicBool::new(false);
    if !INSTALLED.swap(true, Ordering::AcqRel) {
        dispatch::add_observer(DashboardSink);
    }
}

fn on_error(e: &ErrorEvent) {
    if e.reached_wire {
        if let Some(c) = cell(e.meta.adapter, e.meta.host) {
            c.in_flight.fetch_sub(1, Ordering::Relaxed);
        }
    }
    if watching() {
        push_error(
            &e.meta,
            e.error_type.as_str().to_owned(),
            &e.message,
            e.reached_wire,
        );
    }
}

impl crate::core::sink::EventSink for DashboardSink {
    fn name(&self) -> &'static str {
        "dashboard"
    }
    // One exhaustive match: a new event kind is a compile error here.
    fn on_event(&self, event: EventRef<'_>) {
        match event {
            EventRef::Request(e) => {
                if let Some(c) = cell(e.meta.adapter, e.meta.host) {
                    c.in_flight.fetch_add(1, Ordering::Relaxed);
                }
            }
            EventRef::Response(e) => {
                if let Some(c) = cell(e.meta.adapter, e.meta.host) {
                    c.in_flight.fetch_sub(1, Ordering::Relaxed);
                }
                if e.status >= 500 && watching() {
                    push_error(&e.meta, format!("http_{}", e.status), "", true);
                }
            }
            EventRef::Error(e) => on_error(e),
            EventRef::Retry(e) => {
                if let Some(c) = cell(e.meta.adapter, e.meta.host) {
                    c.retries.fetch_add(1, Ordering::Relaxed);
                }
            }
            // A body that failed midway is a recent error too.
            EventRef::Body(e) => {
                if let (Some(t), true) = (e.error_type, watching()) {
                    push_error(&e.meta, format!("body_{}", t.as_str()), "", true);
                }
            }
            EventRef::Backoff(_)
            | EventRef::RateLimit(_)
            | EventRef::BreakerTransition(_)
            | EventRef::Fallback(_)
            | EventRef::Redirect(_)
            | EventRef::Custom(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_are_redacted_and_cut() {
        let m = redact_message("GET https://user:pw@api.test/x?token=abc failed");
        assert!(!m.contains("pw@"), "{m}");
        assert!(!m.contains("abc"), "{m}");
        assert!(m.ends_with(" failed"), "{m}");
        let long = "x".repeat(500);
        assert_eq!(redact_message(&long).chars().count(), MESSAGE_CHARS + 1);
    }
}
