//! One logical request: `execute` sets it up, the attempt loop makes the
//! wire attempts (breaker, limiter, exchange, back-off) and the synchronous
//! `settle` decides after each one what comes next.
//!
//! The shape of these futures is tuned ("The client's request future is kept
//! small" in `docs/architecture.md`): plain `fn`s returning `async move`
//! blocks, one request slot, the rare paths boxed, everything between two
//! awaits in synchronous code.

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderValue, RETRY_AFTER};

use super::body::BodyWatch;
use super::breaker::{Admission, HostBreaker};
use super::emit::Emitter;
use super::error::{self, ClientError};
use super::hosts::{ActiveGuard, HostState, HostTable, OwnedActive};
use super::inner::ClientInner;
use super::limiter::{HostLimiter, Rejected};
use super::request::Response;
use super::retry::{is_retryable_error, is_retryable_status, parse_retry_after, RetryAfter};
use super::span::{AttemptRecord, AttemptSpan, RequestSpan, SpanFields};
use crate::core::events::{
    BreakerState, CorrelationId, DelaySource, ErrorType, HttpMethod, RateLimitOutcome, RetryReason,
};
use crate::core::redact::Redactor;
use crate::core::scope::RequestContext;

/// What every attempt of one logical request shares, borrowed from
/// `execute`'s future: the attempt loop's future holds these references and
/// nothing more (owning the emitter and the span fields here instead made
/// the `send()` future 56 bytes larger).
struct Call<'a> {
    client: &'a ClientInner,
    state: &'a HostState,
    emitter: &'a Emitter,
    /// The spans' fields; also the method, port and redacted URL of the
    /// events.
    fields: &'a SpanFields<'a>,
    /// Whether the method (or the caller) allows a retry.
    retry_method: bool,
}

/// What the retry loop does after a wire attempt.
enum Step {
    /// The logical request is over.
    Done(Result<Response, ClientError>),
    /// Sleep `delay`, then send the spare the retry loop kept.
    Retry { delay: Duration },
}

/// What rebuilds the next attempt's request from the logical request's
/// redacted URL, when that URL is the request's own verbatim (it had no
/// userinfo, query or fragment to redact: the events' `Arc<str>`) and the
/// request has no body and no headers (a request with headers takes a
/// copy: their clone allocates either way, and keeping them here would
/// grow every attempt loop's future by a header map). The retry loop keeps
/// one while an attempt is on the wire, in case a retry follows, instead of
/// a copy of the request: most attempts are not retried, and this one
/// costs no copy of the URL (an allocation) until a retry parses the URL
/// again, on the path that sleeps next.
struct Rebuild {
    method: reqwest::Method,
    version: reqwest::Version,
    timeout: Option<Duration>,
}

impl Rebuild {
    /// Keeps what the attempt after `request` is sent from: a `Rebuild` in
    /// `rebuild` when `url` (the logical request's redacted URL, when it
    /// was built) is its URL verbatim and it has no body or headers, else a
    /// copy in `slot`; neither when its body cannot be sent twice (a
    /// stream).
    fn keep(
        request: &reqwest::Request,
        url: Option<&Arc<str>>,
        slot: &mut Option<reqwest::Request>,
        rebuild: &mut Option<Rebuild>,
    ) {
        let verbatim = url.is_some_and(|u| **u == *request.url().as_str());
        if !verbatim || request.body().is_some() || !request.headers().is_empty() {
            *slot = copy_request(request);
            return;
        }
        *rebuild = Some(Rebuild {
            method: request.method().clone(),
            version: request.version(),
            timeout: request.timeout().copied(),
        });
    }

    /// The request, `url` being the one [`keep`](Self::keep) was given.
    /// `None` only if the URL did not parse again, which a URL that came
    /// out of the parser does not do.
    fn into_request(self, url: Option<&Arc<str>>) -> Option<reqwest::Request> {
        let url = reqwest::Url::parse(url?).ok()?;
        let mut r = reqwest::Request::new(self.method, url);
        *r.version_mut() = self.version;
        *r.timeout_mut() = self.timeout;
        Some(r)
    }
}

/// Facts of one wire attempt, for [`Call::settle`].
#[derive(Clone, Copy)]
struct Wire {
    attempt: u32,
    started: Instant,
    ended: Instant,
    /// Whether it was the breaker's half-open probe.
    probe: bool,
}

/// How one wire attempt ended, for the retry decision.
enum AttemptOutcome {
    Response(reqwest::Response),
    Failed(reqwest::Error, ErrorType),
}

impl ClientInner {
    /// Starts one logical request: what `send()` returns. The set-up is
    /// synchronous (host state, correlation id, attempt timeout, correlation
    /// header); then either the direct path, when nothing can happen but
    /// the exchange (no sink or observer, no span, no breaker, no limiter,
    /// no retry possible: reqwest's own future and a stamp at its end), or
    /// the full path, the attempt loop's future, boxed so that the future
    /// the caller moves around stays small either way.
    #[inline]
    pub(super) fn start(
        self: Arc<Self>,
        request: Result<reqwest::Request, reqwest::Error>,
        idempotent: Option<bool>,
        correlation_id: Option<CorrelationId>,
    ) -> impl Future<Output = Result<Response, ClientError>> + Send + 'static {
        let mut request = match request {
            Ok(r) => r,
            Err(e) => return SendFuture::Failed(Some(ClientError::Request(e.without_url()))),
        };
        let correlation_id = correlation_id.unwrap_or_else(CorrelationId::next);
        let url = request.url();
        let port = url.port_or_known_default().unwrap_or(0);
        // The URL parser already lowercases domain names of http(s) URLs.
        let state = self
            .hosts
            .state(url.host_str().unwrap_or_default(), port, url.scheme());
        let method = HttpMethod::parse(request.method().as_str());
        let retry_method = idempotent.unwrap_or_else(|| method.is_idempotent());
        // The attempt timeout, per request (the reqwest client may be a
        // pool shared with other adapters, with their own timeouts): the
        // request's own, else the host's policy (fixed for this logical
        // request even across a reload), else the client's. An own pool
        // already applies the client's timeout: a request under it is left
        // alone (no extensions map to build).
        if request.timeout().is_none() {
            let timeout = match state.policy.timeout {
                Some(t) if !(self.timeout_on_pool && t == self.timeout) => Some(t),
                None if !self.timeout_on_pool => Some(self.timeout),
                _ => None,
            };
            if timeout.is_some() {
                *request.timeout_mut() = timeout;
            }
        }
        if let Some(name) = &self.correlation_header {
            if let Ok(v) = HeaderValue::try_from(correlation_id.to_string()) {
                request.headers_mut().insert(name.clone(), v);
            }
        }
        if let Some(b) = &self.budget {
            b.deposit();
        }
        if self.direct_path(&state, retry_method) {
            let wire = self.http.execute(request);
            return SendFuture::Direct(Direct {
                wire,
                state: OwnedActive::enter(state),
                client: self,
                correlation_id,
            });
        }
        SendFuture::Full(Box::pin(self.execute(
            Some(request),
            state,
            method,
            port,
            retry_method,
            correlation_id,
        )))
    }

    /// Whether a request to `state`'s host can take the direct path: one
    /// wire attempt with nothing to observe around it. No breaker and no
    /// limiter on the host, no retry possible (`retry_method` is whether
    /// the method or the caller allows one), no sink or observer listening
    /// (decided at the start: a sink set meanwhile is served from the next
    /// request on, as a URL not built for events is not built later), and
    /// no span wanted.
    #[inline]
    fn direct_path(&self, state: &HostState, retry_method: bool) -> bool {
        state.breaker.is_none()
            && state.limiter.is_none()
            && !(retry_method && state.policy.retry.attempts() > 1)
            && !self.telemetry.interested()
            && !(self.spans && RequestSpan::enabled())
    }

    /// The full path of one logical request. A plain `fn` returning an
    /// `async move` block, not an `async fn`: an `async fn` copies each
    /// argument into a second slot of its future, and a `reqwest::Request`
    /// is 264 bytes; the block uses its captures in place. It owns the
    /// client and `request` is the one slot of the request: the retry loop
    /// borrows it for the request to send and, while an attempt is on the
    /// wire, for its copy when the loop keeps a copy rather than a
    /// `Rebuild` (so the 264-byte request is stored once, not once per
    /// future layer).
    #[allow(clippy::manual_async_fn)]
    pub(super) fn execute(
        self: Arc<Self>,
        mut request: Option<reqwest::Request>,
        state: Arc<HostState>,
        method: HttpMethod,
        port: u16,
        retry_method: bool,
        correlation_id: CorrelationId,
    ) -> impl Future<Output = Result<Response, ClientError>> + Send + 'static {
        async move {
            let Some(first) = request.as_ref() else {
                return Err(request_missing());
            };
            // In use from here on: the guard keeps the host's state from
            // eviction; the use is stamped (and idle hosts swept) from the
            // instants the attempts read anyway, no clock read here.
            let _active = ActiveGuard::enter(&state);

            let emitter = Emitter::new(&self, state.label, state.key, correlation_id);
            let want_url = emitter.on() || (self.spans && RequestSpan::enabled());
            let url_full = want_url.then(|| redacted_url(&self.redactor, first.url()));
            let fields = SpanFields {
                method,
                host: &state.host,
                port,
                url_full: url_full.as_ref(),
                correlation_id,
            };
            let span = if self.spans {
                RequestSpan::new(&fields)
            } else {
                RequestSpan::none()
            };
            let call = Call {
                client: &self,
                state: &state,
                emitter: &emitter,
                fields: &fields,
                retry_method,
            };
            let run = call.attempts(&mut request);
            // The span moves into the wrapper (no clone of it); the pinned
            // wrapper still lends it to `finish`.
            let mut run = std::pin::pin!(span.instrument(run));
            let result = run.as_mut().await;
            let run = run.as_ref().get_ref();
            match &result {
                Ok(r) => RequestSpan::finish(run, r.attempts, Some(r.status_code()), None),
                Err(e) => RequestSpan::finish(run, e_attempts(e), None, Some(e.error_type())),
            }
            result
        }
    }
}

/// The future `send()` returns. Small whichever path the request takes
/// (the full path's state machine is on the heap), so the caller's own
/// future moves a few words, not the attempt loop.
enum SendFuture<W> {
    /// Nothing to observe, limit, break or retry: reqwest's future.
    Direct(Direct<W>),
    /// The attempt loop.
    Full(std::pin::Pin<Box<dyn Future<Output = Result<Response, ClientError>> + Send>>),
    /// The request could not be built; its error, returned at the first
    /// poll.
    Failed(Option<ClientError>),
    /// Returned its output.
    Done,
}

/// The direct path: the one wire attempt, and what its end needs.
struct Direct<W> {
    wire: W,
    /// In use until the future completes or drops.
    state: OwnedActive,
    client: Arc<ClientInner>,
    correlation_id: CorrelationId,
}

impl<W> Direct<W> {
    /// The logical request's result: the host's use stamped (and idle
    /// hosts swept), the response wrapped or the error classified, as the
    /// full path's single attempt would.
    fn finish(
        &self,
        result: Result<reqwest::Response, reqwest::Error>,
    ) -> Result<Response, ClientError> {
        let (client, state) = (&*self.client, &*self.state);
        let now_ms = client.hosts.now_ms();
        state.mark_used(now_ms);
        client.hosts.sweep_at(now_ms, false);
        match result {
            Ok(inner) => Ok(response(client, state, self.correlation_id, inner, 1, None)),
            Err(err) => {
                let kind = error::classify(&err);
                Err(transport_error(
                    state,
                    self.correlation_id,
                    kind,
                    1,
                    err.without_url(),
                ))
            }
        }
    }
}

impl<W> Future for SendFuture<W>
where
    W: Future<Output = Result<reqwest::Response, reqwest::Error>> + Unpin,
{
    type Output = Result<Response, ClientError>;

    fn poll(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let out = match this {
            SendFuture::Direct(d) => {
                let result = std::task::ready!(std::pin::Pin::new(&mut d.wire).poll(cx));
                d.finish(result)
            }
            SendFuture::Full(f) => return f.as_mut().poll(cx),
            SendFuture::Failed(e) => Err(e.take().unwrap_or_else(polled_again)),
            SendFuture::Done => Err(polled_again()),
        };
        // Drops the direct path's state guard: the host is no longer in use.
        *this = SendFuture::Done;
        Poll::Ready(out)
    }
}

impl<'a> Call<'a> {
    /// The attempts of one logical request (see `execute` for why not an
    /// `async fn`).
    #[allow(clippy::manual_async_fn)]
    fn attempts(
        self,
        slot: &'a mut Option<reqwest::Request>,
    ) -> impl Future<Output = Result<Response, ClientError>> + 'a {
        async move {
            let mut attempt: u32 = 1;
            // The spare when it is not a copy in `slot` (see `Rebuild`).
            let mut rebuild: Option<Rebuild> = None;
            loop {
                // One clock read for the breaker, the limiter and the rate-limit
                // event of this attempt; none when the host has neither.
                let t0 = (self.state.breaker.is_some() || self.state.limiter.is_some())
                    .then(Instant::now);

                // 1. Breaker.
                let probe = match (&self.state.breaker, t0) {
                    (Some(b), Some(t0)) => {
                        match b.admit(t0, |t| self.emitter.transition(attempt, t)) {
                            Admission::Allowed { probe } => probe,
                            Admission::Rejected => return Err(self.circuit_open(attempt, t0)),
                        }
                    }
                    _ => false,
                };
                let probe_guard = ProbeGuard {
                    breaker: if probe {
                        self.state.breaker.as_deref()
                    } else {
                        None
                    },
                };

                // 2. Limiter.
                if let (Some(limiter), Some(t0)) = (&self.state.limiter, t0) {
                    let on_wait = |first: Duration| {
                        self.emitter.backoff(attempt, first, DelaySource::Limiter);
                    };
                    // Waiting is the rare path: its future (timer included) is
                    // boxed so it does not enlarge every request's future.
                    let acquired = match limiter.try_acquire() {
                        Ok(got) => Ok(got),
                        Err(queued) => {
                            Box::pin(limiter.wait_in_queue(&self.state.host, queued, on_wait)).await
                        }
                    };
                    match acquired {
                        // A token taken at once was taken at `t0`.
                        Ok(got) => self.emitter.rate_limit(
                            attempt,
                            got.wait.is_zero().then_some(t0),
                            got.outcome,
                            got.wait,
                            got.depth_on_arrival,
                            limiter,
                        ),
                        Err(rejected) => {
                            return Err(self.rate_limited(attempt, t0, limiter, &rejected))
                        }
                    }
                }

                // 3. The wire attempt.
                // The request goes on the wire; `slot` (a copy) or `rebuild`
                // keeps a spare for the next attempt, only when there can be
                // one (`settle` checks the same two conditions first). In a
                // block, so the moved request and span take no room in this
                // future while it waits.
                let (started, wire) = {
                    let attempt_span = if self.client.spans {
                        RequestSpan::attempt(self.fields, attempt)
                    } else {
                        AttemptSpan::none()
                    };
                    // The attempt's time starts once its span is open.
                    let started = Instant::now();
                    self.emitter.request(
                        attempt,
                        started,
                        self.fields.method,
                        self.fields.url_full,
                        self.fields.port,
                    );
                    let url = self.fields.url_full;
                    let this = match slot.take() {
                        Some(r) => Some(r),
                        None => rebuild.take().and_then(|r| r.into_request(url)),
                    };
                    let Some(mut this) = this else {
                        return Err(request_missing());
                    };
                    if self.retry_method && attempt < self.state.policy.retry.attempts() {
                        Rebuild::keep(&this, url, slot, &mut rebuild);
                    }
                    attempt_span.propagate(&self.client.propagation, this.headers_mut());
                    // Polled with this attempt in scope, so the redirect
                    // policy's hop events name their request; not on a poll
                    // when nobody listens to them.
                    // (The scope is built per poll from what the future
                    // holds anyway, so it takes little room across the
                    // await.)
                    let wire = RequestContext::scoped_when(self.client.http.execute(this), || {
                        self.emitter.on().then(|| {
                            RequestContext::new(
                                self.client.telemetry,
                                self.state.label,
                                self.emitter.correlation_id(),
                                attempt,
                            )
                            .with_host_key(self.state.key)
                        })
                    });
                    // The span moves into the wrapper (no clone of it).
                    (started, attempt_span.instrument(wire))
                };
                // The pinned wire future lends the attempt span back to
                // `settle`, and is gone (in a block) before the back-off.
                let delay = {
                    let mut wire = std::pin::pin!(wire);
                    let result = wire.as_mut().await;
                    let ended = Instant::now();
                    // Everything up to the back-off is synchronous
                    // (`settle`), so the response, the error and the retry
                    // bookkeeping take no room in this future while it
                    // sleeps.
                    let facts = Wire {
                        attempt,
                        started,
                        ended,
                        probe,
                    };
                    let span = AttemptSpan::record(wire.as_ref().get_ref());
                    // Matched in place, not bound: a `Step` local stayed in
                    // this future across the back-off (232 bytes of the
                    // `send()` future).
                    let spare = slot.is_some() || rebuild.is_some();
                    match self.settle(result, facts, span, spare, probe_guard) {
                        Step::Done(r) => return r,
                        Step::Retry { delay } => delay,
                    }
                };
                // Boxed: the back-off timer is only needed on this rare path.
                Box::pin(tokio::time::sleep(delay)).await;
                attempt += 1;
            }
        }
    }

    /// The breaker turned attempt `attempt` away at `t0`: its error, and
    /// the event. The host was in use (a host whose every request is refused
    /// keeps its breaker: it is not idle).
    fn circuit_open(&self, attempt: u32, t0: Instant) -> ClientError {
        self.state.mark_used(self.client.hosts.ms_at(t0));
        let label = self.state.label;
        self.emitter.error(
            attempt,
            None,
            self.fields.method,
            ErrorType::CircuitOpen,
            Duration::ZERO,
            || format!("circuit breaker for {label} is open"),
        );
        ClientError::CircuitOpen {
            host: self.state.display(),
            correlation_id: self.emitter.correlation_id(),
        }
    }

    /// The limiter turned attempt `attempt` away: its error, and the events.
    fn rate_limited(
        &self,
        attempt: u32,
        t0: Instant,
        limiter: &HostLimiter,
        rejected: &Rejected,
    ) -> ClientError {
        self.state.mark_used(self.client.hosts.ms_at(t0));
        self.emitter.rate_limit(
            attempt,
            None,
            RateLimitOutcome::Rejected,
            Duration::ZERO,
            rejected.depth_on_arrival,
            limiter,
        );
        let err = ClientError::RateLimited {
            host: self.state.display(),
            correlation_id: self.emitter.correlation_id(),
            reason: rejected.reason,
        };
        self.emitter.error(
            attempt,
            None,
            self.fields.method,
            ErrorType::RateLimited,
            Duration::ZERO,
            || err.to_string(),
        );
        err
    }

    /// What follows a wire attempt, up to the back-off: events, the span,
    /// the breaker, the retry decision and the retry events.
    fn settle(
        &self,
        result: Result<reqwest::Response, reqwest::Error>,
        wire: Wire,
        attempt_span: AttemptRecord<'_>,
        spare: bool,
        probe_guard: ProbeGuard<'_>,
    ) -> Step {
        let Wire {
            attempt,
            started,
            ended,
            probe,
        } = wire;
        let (state, emitter, method) = (self.state, self.emitter, self.fields.method);
        let retry = &state.policy.retry;
        // The attempt's end after the epoch, once: the use stamp, the
        // response event and the body's start derive from it.
        let ended_since = emitter.since(ended);
        let ended_ms = HostTable::ms_of(ended_since);
        state.mark_used(ended_ms);
        self.client.hosts.sweep_at(ended_ms, false);
        let outcome = match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                attempt_span.status(status);
                emitter.response(
                    attempt,
                    started,
                    ended,
                    ended_since,
                    method,
                    status,
                    resp.content_length(),
                );
                AttemptOutcome::Response(resp)
            }
            Err(err) => {
                let kind = error::classify(&err);
                attempt_span.error(kind);
                let err = err.without_url();
                let elapsed = ended.saturating_duration_since(started);
                emitter.error(attempt, Some(ended), method, kind, elapsed, || {
                    error::error_chain(&err)
                });
                AttemptOutcome::Failed(err, kind)
            }
        };

        // 4. Breaker bookkeeping.
        let failed = match &outcome {
            AttemptOutcome::Response(r) => {
                let s = r.status().as_u16();
                s >= 500 || s == 408
            }
            AttemptOutcome::Failed(_, kind) => is_retryable_error(*kind),
        };
        probe_guard.disarm();
        if let Some(b) = &state.breaker {
            b.record(ended, probe, failed, |t| emitter.transition(attempt, t));
        }

        // 5. Retry?
        let (reason, status) = match &outcome {
            AttemptOutcome::Response(r) if is_retryable_status(r.status().as_u16()) => {
                (RetryReason::Status, Some(r.status().as_u16()))
            }
            AttemptOutcome::Failed(_, kind) if is_retryable_error(*kind) => (
                match kind {
                    ErrorType::Timeout => RetryReason::Timeout,
                    ErrorType::Connect => RetryReason::Connect,
                    _ => RetryReason::ConnectionReset,
                },
                None,
            ),
            _ => return Step::Done(self.finish(outcome, attempt, ended_since)),
        };
        let breaker_open = state
            .breaker
            .as_ref()
            .is_some_and(|b| b.state() == BreakerState::Open);
        if attempt >= retry.attempts() || !self.retry_method || breaker_open {
            return Step::Done(self.finish(outcome, attempt, ended_since));
        }
        // A streamed body cannot be sent twice: no spare was kept.
        if !spare {
            return Step::Done(self.finish(outcome, attempt, ended_since));
        }
        let retry_after = match &outcome {
            AttemptOutcome::Response(r) => r
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
            AttemptOutcome::Failed(..) => None,
        };
        let (delay, source) = match retry_after {
            Some(RetryAfter::Delay(d)) if d > retry.cap() => {
                // The next attempt is refused before the wire: a rejection,
                // not an attempt.
                emitter.error(
                    attempt + 1,
                    Some(ended),
                    self.fields.method,
                    ErrorType::RetryAfterTooLong,
                    Duration::ZERO,
                    || format!("Retry-After of {d:?} is above the cap of {:?}", retry.cap()),
                );
                return Step::Done(Err(ClientError::RetryAfterTooLong {
                    host: state.display(),
                    correlation_id: emitter.correlation_id(),
                    status: status.unwrap_or(0),
                    retry_after: d,
                    cap: retry.cap(),
                    attempts: attempt,
                }));
            }
            Some(RetryAfter::Delay(d)) => (d, DelaySource::RetryAfter),
            Some(RetryAfter::Past) | None => (retry.policy_delay(attempt), DelaySource::Policy),
        };
        if let Some(budget) = &self.client.budget {
            if !budget.try_withdraw() {
                // The retry is refused before the wire: a rejection event;
                // the call ends with the last attempt's outcome.
                emitter.error(
                    attempt + 1,
                    Some(ended),
                    self.fields.method,
                    ErrorType::RetryBudgetExhausted,
                    Duration::ZERO,
                    || "the retry budget has no retry left".to_owned(),
                );
                return Step::Done(self.finish(outcome, attempt, ended_since));
            }
        }
        emitter.retry(attempt, reason, status, delay, source);
        emitter.backoff(attempt, delay, source);
        Step::Retry { delay }
    }

    /// The logical request's result, after `attempt` attempts, the last of
    /// which ended (its response headers arrived) `ended_since` after the
    /// client's epoch.
    fn finish(
        &self,
        outcome: AttemptOutcome,
        attempt: u32,
        ended_since: Duration,
    ) -> Result<Response, ClientError> {
        match outcome {
            AttemptOutcome::Response(inner) => {
                // Watched only when a sink listens: no box otherwise.
                let watch = self.emitter.on().then(|| {
                    Box::new(BodyWatch {
                        emitter: *self.emitter,
                        attempt,
                        method: self.fields.method,
                        status: inner.status().as_u16(),
                        content_length: inner.content_length(),
                        // The body's time runs from the headers' arrival:
                        // the instant the attempt already read.
                        started: ended_since,
                        read: 0,
                    })
                });
                let id = self.emitter.correlation_id();
                Ok(response(self.client, self.state, id, inner, attempt, watch))
            }
            AttemptOutcome::Failed(source, kind) => Err(transport_error(
                self.state,
                self.emitter.correlation_id(),
                kind,
                attempt,
                source,
            )),
        }
    }
}

/// What `send()` hands back for reqwest's `inner`, on either path: the
/// attempts it took and the logical request's context.
fn response(
    client: &ClientInner,
    state: &HostState,
    correlation_id: CorrelationId,
    inner: reqwest::Response,
    attempts: u32,
    watch: Option<Box<BodyWatch>>,
) -> Response {
    Response {
        inner,
        attempts,
        context: RequestContext::new(client.telemetry, state.label, correlation_id, 0)
            .with_host_key(state.key),
        watch,
    }
}

/// The error of a logical request whose last attempt got no response
/// (`source` already without its URL), on either path.
fn transport_error(
    state: &HostState,
    correlation_id: CorrelationId,
    kind: ErrorType,
    attempts: u32,
    source: reqwest::Error,
) -> ClientError {
    ClientError::Transport {
        host: state.display(),
        correlation_id,
        kind,
        attempts,
        source,
    }
}

/// Gives a half-open probe slot back if the attempt never completes (the
/// limiter rejected it, or the caller dropped the future).
struct ProbeGuard<'a> {
    breaker: Option<&'a HostBreaker>,
}

impl ProbeGuard<'_> {
    /// The attempt completed: its outcome settles the probe.
    fn disarm(mut self) {
        self.breaker = None;
    }
}

impl Drop for ProbeGuard<'_> {
    fn drop(&mut self) {
        if let Some(b) = self.breaker {
            b.release_probe();
        }
    }
}

/// `url` as events, spans and errors show it. `Redactor::url` rewrites
/// only the userinfo, the query and the fragment, so a URL with none of
/// them is copied as it is, without the scan (the parsed URL knows where
/// its parts are).
fn redacted_url(redactor: &Redactor, url: &reqwest::Url) -> Arc<str> {
    if url.username().is_empty()
        && url.password().is_none()
        && url.query().is_none()
        && url.fragment().is_none()
    {
        Arc::from(url.as_str())
    } else {
        Arc::from(redactor.url(url.as_str()))
    }
}

/// The error of a request slot found empty, which the client never lets
/// happen (the slot is filled before every attempt); an error rather than a
/// panic all the same.
#[cold]
fn request_missing() -> ClientError {
    ClientError::InvalidConfig("internal error: no request to send".into())
}

/// The error of a `send()` future polled after it completed (a caller's
/// bug; an error rather than a panic).
#[cold]
fn polled_again() -> ClientError {
    ClientError::InvalidConfig("internal error: request future polled after it completed".into())
}

/// Wire attempts made before the logical request ended in `e`.
fn e_attempts(e: &ClientError) -> u32 {
    match e {
        ClientError::Transport { attempts, .. }
        | ClientError::RetryAfterTooLong { attempts, .. } => *attempts,
        _ => 1,
    }
}

/// A copy of `request` for the next attempt, or `None` when its body cannot
/// be sent twice (a stream). Without a body this is reqwest's
/// `Request::try_clone` minus its waste: that one writes the timeout into a
/// fresh extensions map (an allocation and a hash insert) even when there is
/// none, then replaces the map with a clone of the original's. A body-less
/// request from reqwest's public builder has no extension but the timeout
/// (one converted from an `http::Request`, which may carry others, always
/// has a body, and goes through `try_clone`).
fn copy_request(request: &reqwest::Request) -> Option<reqwest::Request> {
    if request.body().is_some() {
        return request.try_clone();
    }
    let mut copy = reqwest::Request::new(request.method().clone(), request.url().clone());
    if !request.headers().is_empty() {
        copy.headers_mut().clone_from(request.headers());
    }
    *copy.version_mut() = request.version();
    if let Some(t) = request.timeout() {
        *copy.timeout_mut() = Some(*t);
    }
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    static DIRECT_MANIFEST: crate::core::manifest::AdapterManifest =
        crate::core::manifest::AdapterManifest {
            name: "client_unit_direct",
            type_name: "DirectUnit",
            naming: crate::core::manifest::Naming::Prometheus,
            host_cap: 4,
            labels: &[],
            events: &[],
            slo: None,
            cardinality_budget: 10_000,
        };
    static DIRECT_TELEMETRY: crate::core::adapter::AdapterTelemetry =
        crate::core::adapter::AdapterTelemetry::new(&DIRECT_MANIFEST);

    #[test]
    fn the_direct_path_is_taken_only_when_everything_is_off() {
        use super::super::{BreakerPolicy, RateLimit, RetryPolicy};
        use crate::client::AdapterClient;
        let build =
            |f: fn(super::super::AdapterClientBuilder) -> super::super::AdapterClientBuilder| {
                let b = AdapterClient::builder_for(&DIRECT_TELEMETRY)
                    .retry(RetryPolicy::none())
                    .no_breaker()
                    .spans(false);
                match f(b).build() {
                    Ok(c) => c.inner,
                    Err(e) => panic!("client builds: {e}"),
                }
            };
        let direct = |client: &ClientInner, retry_method: bool| {
            let state = client.hosts.state("a.test", 80, "http");
            client.direct_path(&state, retry_method)
        };
        assert!(!DIRECT_TELEMETRY.interested(), "no sink in this test");
        assert!(direct(&build(|b| b), true), "everything off");
        assert!(
            !direct(&build(|b| b.breaker(BreakerPolicy::default())), true),
            "a breaker"
        );
        assert!(
            !direct(&build(|b| b.rate_limit(RateLimit::per_second(10.0))), true),
            "a limiter"
        );
        let retrying = build(|b| b.retry(RetryPolicy::default()));
        assert!(!direct(&retrying, true), "a retry can follow");
        assert!(direct(&retrying, false), "the method allows no retry");
        // Spans on: the direct path only when no subscriber wants them (the
        // test runs without one, unless another test of this binary set a
        // global one).
        assert_eq!(
            direct(&build(|b| b.spans(true)), true),
            !RequestSpan::enabled(),
            "spans on"
        );
        // A sink: events to build, the full path from the next request on.
        struct Quiet;
        impl crate::core::sink::EventSink for Quiet {
            fn name(&self) -> &'static str {
                "quiet"
            }
        }
        let client = build(|b| b);
        DIRECT_TELEMETRY.set_sink(Some(Box::new(Quiet)));
        assert!(!direct(&client, true), "a sink listens");
        DIRECT_TELEMETRY.set_sink(None);
        assert!(direct(&client, true), "no sink again");
    }

    /// `next` sends what `original` sent: method, URL, headers, version,
    /// timeout and body.
    fn assert_same_request(next: &reqwest::Request, original: &reqwest::Request) {
        assert_eq!(next.method(), original.method());
        assert_eq!(next.url(), original.url());
        assert_eq!(next.headers(), original.headers());
        assert_eq!(next.version(), original.version());
        assert_eq!(next.timeout(), original.timeout());
        assert_eq!(
            next.body().and_then(|b| b.as_bytes()),
            original.body().and_then(|b| b.as_bytes())
        );
    }

    #[test]
    fn a_copied_request_is_the_same_request() {
        let client = reqwest::Client::new();
        let plain = client
            .get("http://a.test/x?q=1")
            .header("x-one", "1")
            .header("x-two", "2")
            .version(reqwest::Version::HTTP_11)
            .build()
            .expect("request");
        let timed = client
            .delete("http://b.test/")
            .timeout(Duration::from_secs(7))
            .build()
            .expect("request");
        let with_body = client
            .put("http://c.test/")
            .body("payload")
            .timeout(Duration::from_secs(3))
            .build()
            .expect("request");
        for original in [plain, timed, with_body] {
            let copy = copy_request(&original).expect("clonable");
            assert_same_request(&copy, &original);
        }
    }

    #[test]
    fn a_spare_sends_the_same_request_whether_copied_or_rebuilt() {
        let client = reqwest::Client::new();
        let redactor = Redactor::new();
        let build = |b: reqwest::RequestBuilder| b.build().expect("request");
        let cases = [
            // Verbatim URLs, no body, no headers: rebuilt on a retry.
            (build(client.get("http://a.test/x/y")), true),
            (
                build(
                    client
                        .delete("http://b.test:8080/")
                        .version(reqwest::Version::HTTP_11)
                        .timeout(Duration::from_secs(7)),
                ),
                true,
            ),
            // Headers, a query the events show redacted, a body: copied.
            (
                build(client.get("http://a.test/").header("x-one", "1")),
                false,
            ),
            (build(client.get("http://c.test/x?api_key=secret")), false),
            (build(client.put("http://d.test/").body("payload")), false),
        ];
        for (original, rebuilt) in cases {
            let url = redacted_url(&redactor, original.url());
            let (mut slot, mut rebuild) = (None, None);
            Rebuild::keep(&original, Some(&url), &mut slot, &mut rebuild);
            assert_eq!(rebuild.is_some(), rebuilt, "{}", original.url());
            assert_eq!(slot.is_some(), !rebuilt, "{}", original.url());
            let next = match slot {
                Some(copy) => copy,
                None => rebuild
                    .and_then(|r| r.into_request(Some(&url)))
                    .expect("rebuilt"),
            };
            assert_same_request(&next, &original);
        }
        // Without a redacted URL (no sink, no span) the spare is a copy.
        let original = build(client.get("http://a.test/"));
        let (mut slot, mut rebuild) = (None, None);
        Rebuild::keep(&original, None, &mut slot, &mut rebuild);
        assert!(slot.is_some() && rebuild.is_none());
    }

    #[test]
    fn redacted_url_fast_path_matches_the_redactor() {
        let redactor = Redactor::new();
        for raw in [
            "https://api.test/works/10.1000/182",
            "http://api.test:8080/a/b",
            "https://user:secret@api.test/x",
            "https://user@api.test/x",
            "https://api.test/x?api_key=secret&q=1",
            "https://api.test/x#access_token=secret",
        ] {
            let Ok(url) = reqwest::Url::parse(raw) else {
                panic!("{raw} parses")
            };
            let got = redacted_url(&redactor, &url);
            assert_eq!(&*got, redactor.url(url.as_str()), "{raw}");
            assert!(!got.contains("secret"), "{got}");
        }
    }
}
