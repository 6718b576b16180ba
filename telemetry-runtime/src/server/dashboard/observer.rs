//! The dashboard's dispatch observer: the ring of recent errors, fed only
//! while someone watches.
//!
//! Cost on the request path: nothing while no dashboard client is connected.
//! The observer is added to the dispatch when the first client connects and
//! taken out when the last one leaves, so with nobody watching no event
//! reaches it (not even a call). The page's other numbers cost the request
//! path nothing of their own: rates, errors and latency come from the health
//! state, retries too, and in-flight requests and breaker and limiter state
//! from the client's live state (`core::live`), which the client keeps
//! anyway.

use std::collections::VecDeque;
use std::sync::Mutex;

use crate::core::dispatch::{self, ObserverId};
use crate::core::events::{ErrorEvent, EventMeta, EventRef};
use crate::core::redact;

/// Errors the ring keeps (the newest).
pub(crate) const ERROR_RING: usize = 50;
/// Longest error message kept, in characters.
const MESSAGE_CHARS: usize = 200;

/// Dashboard clients connected now, over every dashboard of the process,
/// and the observer installed while there is any.
struct Watchers {
    count: usize,
    observer: Option<ObserverId>,
}

static WATCHERS: Mutex<Watchers> = Mutex::new(Watchers {
    count: 0,
    observer: None,
});

fn watchers_lock() -> std::sync::MutexGuard<'static, Watchers> {
    WATCHERS.lock().unwrap_or_else(|e| e.into_inner())
}

/// Counts a client in (the first installs the observer); the count falls
/// again when the returned guard drops (the last takes the observer out).
pub(crate) fn watch() -> WatchGuard {
    let mut w = watchers_lock();
    w.count += 1;
    if w.observer.is_none() {
        w.observer = Some(dispatch::add_observer(DashboardSink));
    }
    WatchGuard(())
}

/// Held by each connected client (see [`watch`]).
#[derive(Debug)]
pub(crate) struct WatchGuard(());

impl Drop for WatchGuard {
    fn drop(&mut self) {
        let mut w = watchers_lock();
        w.count = w.count.saturating_sub(1);
        if w.count == 0 {
            if let Some(id) = w.observer.take() {
                dispatch::remove_observer(id);
            }
        }
    }
}

/// Clients connected now (for tests and the page's footer).
pub(crate) fn watchers() -> usize {
    watchers_lock().count
}

/// The dashboard's observer in the dispatch now, if any.
#[cfg(test)]
pub(crate) fn observing() -> Option<ObserverId> {
    watchers_lock().observer
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

/// Feeds the dashboard's error ring while someone watches: see the module
/// docs.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct DashboardSink;

fn on_error(e: &ErrorEvent) {
    push_error(
        &e.meta,
        e.error_type.as_str().to_owned(),
        &e.message,
        e.reached_wire,
    );
}

impl crate::core::sink::EventSink for DashboardSink {
    fn name(&self) -> &'static str {
        "dashboard"
    }
    // One exhaustive match: a new event kind is a compile error here.
    fn on_event(&self, event: EventRef<'_>) {
        match event {
            EventRef::Response(e) => {
                if e.status >= 500 {
                    push_error(&e.meta, format!("http_{}", e.status), "", true);
                }
            }
            EventRef::Error(e) => on_error(e),
            // A body that failed midway is a recent error too.
            EventRef::Body(e) => {
                if let Some(t) = e.error_type {
                    push_error(&e.meta, format!("body_{}", t.as_str()), "", true);
                }
            }
            EventRef::Request(_)
            | EventRef::Retry(_)
            | EventRef::Backoff(_)
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
