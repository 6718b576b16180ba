//! The request that code runs on behalf of.
//!
//! While the instrumented client polls a request, that request's
//! [`RequestContext`] (adapter, host, correlation id, attempt) is in scope
//! on the polling thread. A user carries it further with
//! [`RequestContext::scope`] or [`RequestContext::in_scope`], typically
//! around the code that handles a response (`response.context()`). Custom
//! events emitted in scope belong to that request: they carry its
//! correlation id, and, when they are the same adapter's events, its host.
//!
//! The scope is one thread-local cell, set for the duration of a closure or
//! of each poll of a future, and restored afterwards (also on a panic).
//! Everything in it is `Copy` and `'static`.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::core::adapter::AdapterTelemetry;
use crate::core::events::{CorrelationId, CustomEvent, CustomEventRecord, EventMeta, EventRef};
use crate::core::labels::{HostKey, LabelValue};

/// One request of one adapter: what events emitted on its behalf carry.
///
/// ```
/// use telemetry_runtime::scope::RequestContext;
/// // Outside any request (and outside any `scope`), there is none.
/// assert!(RequestContext::current().is_none());
/// ```
#[derive(Clone, Copy)]
pub struct RequestContext {
    telemetry: &'static AdapterTelemetry,
    host: LabelValue,
    host_key: HostKey,
    correlation_id: CorrelationId,
    attempt: u32,
}

thread_local! {
    static CURRENT: Cell<Option<RequestContext>> = const { Cell::new(None) };
}

impl fmt::Debug for RequestContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestContext")
            .field("adapter", &self.adapter())
            .field("host", &self.host())
            .field("correlation_id", &self.correlation_id)
            .field("attempt", &self.attempt)
            .finish()
    }
}

impl RequestContext {
    /// The context of `telemetry`'s request to `host`, attempt `attempt`
    /// (0 when it names the logical request rather than one attempt).
    ///
    /// ```
    /// use telemetry_runtime::scope::RequestContext;
    /// use telemetry_runtime::events::CorrelationId;
    /// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
    ///
    /// #[instrumented_adapter(name = "doc_scope_new", hosts(cap = 4))]
    /// struct Api {}
    ///
    /// let t = Api::telemetry();
    /// let ctx = RequestContext::new(t, t.hosts().intern("api.test"), CorrelationId(7), 1);
    /// assert_eq!((ctx.adapter(), ctx.host(), ctx.attempt()), ("doc_scope_new", "api.test", 1));
    /// ```
    pub fn new(
        telemetry: &'static AdapterTelemetry,
        host: LabelValue,
        correlation_id: CorrelationId,
        attempt: u32,
    ) -> Self {
        RequestContext {
            telemetry,
            host,
            host_key: HostKey::UNKNOWN,
            correlation_id,
            attempt,
        }
    }

    /// The same context, with the host before cap folding (what the
    /// client knows, for host filters).
    pub fn with_host_key(mut self, key: HostKey) -> Self {
        self.host_key = key;
        self
    }

    /// The context in scope on this thread, if any.
    #[inline]
    pub fn current() -> Option<RequestContext> {
        CURRENT.with(Cell::get)
    }

    /// The adapter's telemetry.
    pub fn telemetry(&self) -> &'static AdapterTelemetry {
        self.telemetry
    }

    /// The adapter name.
    pub fn adapter(&self) -> &'static str {
        self.telemetry.manifest().name
    }

    /// The bounded host label value.
    pub fn host(&self) -> &'static str {
        self.host.as_str()
    }

    /// The host label value, as events carry it.
    pub fn host_label(&self) -> LabelValue {
        self.host
    }

    /// The host before cap folding ([`HostKey::UNKNOWN`] when not given).
    pub fn host_key(&self) -> HostKey {
        self.host_key
    }

    /// The logical request's correlation id.
    pub fn correlation_id(&self) -> CorrelationId {
        self.correlation_id
    }

    /// The wire attempt (0 for the logical request as a whole).
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Runs `f` with this context in scope, then restores what was there
    /// (also when `f` panics).
    ///
    /// ```
    /// use telemetry_runtime::scope::RequestContext;
    /// use telemetry_runtime::events::CorrelationId;
    /// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
    ///
    /// #[instrumented_adapter(name = "doc_scope_run", hosts(cap = 4))]
    /// struct Api {}
    ///
    /// let t = Api::telemetry();
    /// let ctx = RequestContext::new(t, t.hosts().intern("api.test"), CorrelationId(42), 0);
    /// let seen = ctx.scope(|| RequestContext::current().map(|c| c.correlation_id()));
    /// assert_eq!(seen, Some(CorrelationId(42)));
    /// assert!(RequestContext::current().is_none());
    /// ```
    #[inline]
    pub fn scope<R>(self, f: impl FnOnce() -> R) -> R {
        struct Restore(Option<RequestContext>);
        impl Drop for Restore {
            fn drop(&mut self) {
                CURRENT.with(|c| c.set(self.0));
            }
        }
        let _restore = Restore(CURRENT.with(|c| c.replace(Some(self))));
        f()
    }

    /// `fut`, polled with this context in scope: for async code that
    /// handles the request's response.
    ///
    /// ```
    /// use telemetry_runtime::scope::RequestContext;
    /// use telemetry_runtime::events::CorrelationId;
    /// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
    /// use std::future::Future;
    /// use std::pin::pin;
    /// use std::task::{Context, Poll, Waker};
    ///
    /// #[instrumented_adapter(name = "doc_scope_fut", hosts(cap = 4))]
    /// struct Api {}
    ///
    /// let t = Api::telemetry();
    /// let ctx = RequestContext::new(t, t.hosts().intern("api.test"), CorrelationId(9), 0);
    /// let fut = pin!(ctx.in_scope(async { RequestContext::current().map(|c| c.host()) }));
    /// let got = fut.poll(&mut Context::from_waker(Waker::noop()));
    /// assert_eq!(got, Poll::Ready(Some("api.test")));
    /// ```
    pub fn in_scope<F: Future>(self, fut: F) -> InRequest<F> {
        InRequest {
            inner: fut,
            context: self,
        }
    }

    /// Polls `inner` with the context `context()` builds in scope. Building
    /// the context per poll from references the caller holds anyway keeps
    /// the wrapped future small (the client's wire future uses a variant of
    /// this that builds none while nobody listens).
    pub fn scoped_by<F, C>(inner: F, context: C) -> ScopedBy<F, C>
    where
        F: Future,
        C: Fn() -> RequestContext,
    {
        ScopedBy { inner, context }
    }
}

pin_project_lite::pin_project! {
    /// A future polled with a [`RequestContext`] in scope
    /// ([`RequestContext::in_scope`]).
    #[derive(Debug)]
    pub struct InRequest<F> {
        #[pin]
        inner: F,
        context: RequestContext,
    }
}

impl<F: Future> Future for InRequest<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.context.scope(|| this.inner.poll(cx))
    }
}

pin_project_lite::pin_project! {
    /// A future polled with the context a closure builds in scope
    /// ([`RequestContext::scoped_by`]).
    pub struct ScopedBy<F, C> {
        #[pin]
        inner: F,
        context: C,
    }
}

impl<F, C> fmt::Debug for ScopedBy<F, C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ScopedBy").finish_non_exhaustive()
    }
}

/// A future polled with the context a closure builds in scope, or without
/// one on the polls where the closure builds none: what the client wraps
/// its wire future in, so that a request nobody listens to sets no
/// thread-local (and the wrapper stores nothing more than the closure).
/// Both parts are `Unpin` (reqwest's future is, and a closure over
/// references), so there is no pin projection.
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) struct ScopedWhen<F, C> {
    inner: F,
    context: C,
}

#[cfg_attr(not(feature = "client"), allow(dead_code))]
impl RequestContext {
    /// Polls `inner` with the context `context()` builds in scope, or
    /// without one when it builds `None`.
    pub(crate) fn scoped_when<F, C>(inner: F, context: C) -> ScopedWhen<F, C>
    where
        F: Future + Unpin,
        C: Fn() -> Option<RequestContext>,
    {
        ScopedWhen { inner, context }
    }
}

impl<F, C> Future for ScopedWhen<F, C>
where
    F: Future + Unpin,
    C: Fn() -> Option<RequestContext> + Unpin,
{
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.get_mut();
        match (this.context)() {
            Some(context) => context.scope(|| Pin::new(&mut this.inner).poll(cx)),
            None => Pin::new(&mut this.inner).poll(cx),
        }
    }
}

impl<F: Future, C: Fn() -> RequestContext> Future for ScopedBy<F, C> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        (this.context)().scope(|| this.inner.poll(cx))
    }
}

/// Delivers `telemetry`'s custom event `event`: what the emitters that
/// `#[instrumented_adapter]` generates call.
///
/// In the scope of a request of the same adapter, the event carries that
/// request's host, correlation id and attempt; in the scope of another
/// adapter's request, its correlation id only (host labels are per adapter,
/// so the host stays the overflow value); outside any request, a fresh
/// correlation id.
pub fn emit_custom(telemetry: &'static AdapterTelemetry, event: &dyn CustomEvent) {
    let overflow = telemetry.hosts().overflow();
    let (host, host_key, correlation_id, attempt) = match RequestContext::current() {
        Some(c) if std::ptr::eq(c.telemetry, telemetry) => {
            (c.host, c.host_key, c.correlation_id, c.attempt)
        }
        Some(c) => (overflow, HostKey::UNKNOWN, c.correlation_id, 0),
        None => (overflow, HostKey::UNKNOWN, CorrelationId::next(), 0),
    };
    let mut meta = EventMeta::new(telemetry, host, correlation_id, attempt);
    meta.host_key = host_key;
    let record = CustomEventRecord { meta, event };
    telemetry.emit(EventRef::Custom(&record));
}
