//! Redirects: the same-origin policy the client installs in reqwest, and
//! the redirect events it emits per hop.
//!
//! reqwest follows redirects inside one `execute` future and asks the
//! policy about each hop synchronously, from within a poll of that future.
//! The attempt loop polls the wire future with [`Hop::scope`] set in a
//! thread-local for the duration of each poll, so the policy knows whose
//! hop it is judging (adapter, host, correlation id, attempt) and emits the
//! event with them. Everything in the scope is `Copy` and `'static`: no
//! pointer into the request's future is kept.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::core::adapter::AdapterTelemetry;
use crate::core::events::{CorrelationId, EventMeta, EventRef, RedirectEvent};
use crate::core::id::AdapterRef;
use crate::core::labels::LabelValue;
use crate::core::redact::redact_url;

/// Redirects followed by default.
pub(super) const DEFAULT_REDIRECTS: usize = 10;

/// Whose wire attempt is being polled.
#[derive(Clone, Copy)]
pub(super) struct Hop {
    pub(super) telemetry: &'static AdapterTelemetry,
    pub(super) adapter: AdapterRef,
    pub(super) host: LabelValue,
    pub(super) correlation_id: CorrelationId,
    pub(super) attempt: u32,
}

thread_local! {
    static CURRENT: Cell<Option<Hop>> = const { Cell::new(None) };
}

impl Hop {
    /// Runs `f` (one poll of the wire future) with this hop in scope.
    #[inline]
    pub(super) fn scope<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<Hop>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(Some(self))));
        f()
    }
}

pin_project_lite::pin_project! {
    /// `inner` polled with the hop that `hop` builds in scope. Holds a
    /// closure (references the caller holds anyway) rather than the hop
    /// itself, to keep the request's future small.
    pub(super) struct InScope<F, H> {
        #[pin]
        inner: F,
        hop: H,
    }
}

impl<F, H> InScope<F, H> {
    /// `inner`, polled with `hop()` in scope.
    pub(super) fn new(inner: F, hop: H) -> Self {
        InScope { inner, hop }
    }
}

impl<F: Future, H: Fn() -> Hop> Future for InScope<F, H> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let hop = (this.hop)();
        hop.scope(|| this.inner.poll(cx))
    }
}

/// The redirect event of a followed hop, if a wire attempt is in scope and
/// its adapter has a listener.
fn emit_hop(status: u16, next: &reqwest::Url, hop: usize) {
    let Some(h) = CURRENT.with(Cell::get) else {
        return;
    };
    if !h.telemetry.interested() {
        return;
    }
    let e = RedirectEvent {
        meta: EventMeta::new(h.adapter, h.host, h.correlation_id, h.attempt),
        status,
        location: redact_url(next.as_str()),
        hop: u32::try_from(hop).unwrap_or(u32::MAX),
    };
    h.telemetry.emit(EventRef::Redirect(&e));
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
