//! Redirects: the same-origin policy the client installs in reqwest, and
//! the redirect events it emits per hop.
//!
//! reqwest follows redirects inside one `execute` future and asks the
//! policy about each hop synchronously, from within a poll of that future.
//! The attempt loop polls the wire future with its attempt's
//! [`RequestContext`] in scope (`core::scope`), so the policy knows whose
//! hop it is judging (adapter, host, correlation id, attempt) and emits the
//! event with them. Everything in the scope is `Copy` and `'static`: no
//! pointer into the request's future is kept.

use crate::core::events::{EventMeta, EventRef, RedirectEvent};
use crate::core::redact::redact_url;
use crate::core::scope::RequestContext;

/// Redirects followed by default.
pub(super) const DEFAULT_REDIRECTS: usize = 10;

/// The redirect event of a followed hop, if a wire attempt is in scope and
/// its adapter has a listener.
fn emit_hop(status: u16, next: &reqwest::Url, hop: usize) {
    let Some(h) = RequestContext::current() else {
        return;
    };
    let telemetry = h.telemetry();
    if !telemetry.interested() {
        return;
    }
    let mut meta = EventMeta::new(telemetry, h.host_label(), h.correlation_id(), h.attempt());
    meta.host_key = h.host_key();
    let e = RedirectEvent {
        meta,
        status,
        location: redact_url(next.as_str()),
        hop: u32::try_from(hop).unwrap_or(u32::MAX),
    };
    telemetry.emit(EventRef::Redirect(&e));
}

/// Follows at most `max` redirects, and only to the same origin (scheme,
/// host, port): a cross-origin redirect stops, and its 3xx is the response.
/// Every hop followed is a redirect event.
pub(super) fn same_origin_redirects(max: usize) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        if max == 0 {
            return attempt.stop();
        }
        // `previous` holds the original URL and every hop so far.
        let hops = attempt.previous().len();
        if hops > max {
            return attempt.error(format!("more than {max} redirects"));
        }
        let next = attempt.url();
        let same_origin = attempt.previous().last().is_some_and(|prev| {
            prev.scheme() == next.scheme()
                && prev.host_str() == next.host_str()
                && prev.port_or_known_default() == next.port_or_known_default()
        });
        if same_origin {
            emit_hop(attempt.status().as_u16(), next, hops);
            attempt.follow()
        } else {
            attempt.stop()
        }
    })
}
