//! Recording an adapter's events, and compact descriptions of what was
//! recorded for asserting exact sequences.

use telemetry_runtime::events::CorrelationId;
use telemetry_runtime::sink::{RecordedEvent, RecordingSink};
use telemetry_runtime::InstrumentedAdapter;

/// Installs a fresh recorder as `T`'s own sink and returns it. Sinks are
/// per adapter, so tests on parallel threads never see each other's events
/// as long as each uses its own adapter type.
pub fn record<T: InstrumentedAdapter>() -> RecordingSink {
    let rec = RecordingSink::new();
    T::telemetry().set_sink(Some(Box::new(rec.clone())));
    rec
}

/// One line per event: kind, attempt and the fields that matter for the
/// sequence (delays are random or clock-bound, so they are checked apart).
pub fn describe(e: &RecordedEvent) -> String {
    let a = e.meta().attempt;
    match e {
        RecordedEvent::Request(r) => format!("request#{a} {}", r.method.as_str()),
        RecordedEvent::Response(r) => format!("response#{a} {}", r.status),
        RecordedEvent::Error(r) => format!("error#{a} {}", r.error_type),
        RecordedEvent::Retry(r) => format!("retry#{a} {}/{}", r.reason, r.delay_source),
        RecordedEvent::Backoff(r) => format!("backoff#{a} {}", r.source),
        RecordedEvent::RateLimit(r) => format!("rate_limit#{a} {}", r.outcome),
        RecordedEvent::BreakerTransition(r) => format!("breaker#{a} {}->{}", r.from, r.to),
        RecordedEvent::Fallback(r) => format!("fallback {} {} {}", r.tier, r.source, r.outcome),
        RecordedEvent::Redirect(r) => format!("redirect#{a} {} hop {}", r.status, r.hop),
        RecordedEvent::Body(r) => match r.error_type {
            None => format!("body#{a} complete"),
            Some(t) => format!("body#{a} failed {t}"),
        },
        other => format!("custom {}", other.kind()),
    }
}

/// [`describe`] of every event.
pub fn describe_all(events: &[RecordedEvent]) -> Vec<String> {
    events.iter().map(describe).collect()
}

/// The events of one logical request, in order.
pub fn of(events: &[RecordedEvent], id: CorrelationId) -> Vec<RecordedEvent> {
    events
        .iter()
        .filter(|e| e.meta().correlation_id == id)
        .cloned()
        .collect()
}

/// Asserts every event carries `id` and a consistent resend count.
pub fn assert_one_request(events: &[RecordedEvent], id: CorrelationId) {
    for e in events {
        assert_eq!(e.meta().correlation_id, id, "{e:?}");
        assert_eq!(e.meta().resend_count(), e.meta().attempt.saturating_sub(1));
    }
}
