//! The instrumented HTTP client: per-host rate limits, retries that honour
//! `Retry-After`, circuit breakers and fallbacks, every step observed.
//!
//! [`AdapterClient`] wraps one pooled reqwest client (rustls). Each call is a
//! *logical request* with a [`CorrelationId`]; under it, the retry loop makes
//! one or more *wire attempts*. Per attempt, in order:
//!
//! 1. the host's circuit breaker admits it, or the call ends with
//!    [`ClientError::CircuitOpen`] (an `ErrorEvent` with `error.type =
//!    circuit_open`);
//! 2. the host's rate limiter hands out a token, possibly after queueing (a
//!    `BackoffEvent` with source `limiter` when it queues, then a
//!    `RateLimitEvent`), or rejects it ([`ClientError::RateLimited`], a
//!    `RateLimitEvent` with outcome `rejected` then an `ErrorEvent`);
//! 3. `RequestEvent`, the exchange, then `ResponseEvent` or `ErrorEvent`;
//! 4. the breaker records the outcome (`BreakerTransitionEvent` on a change);
//! 5. if the failure is retried: `RetryEvent`, then `BackoffEvent`, then the
//!    sleep.
//!
//! Events go to the adapter's sinks through `T::telemetry().emit(..)`; spans
//! (feature `tracing`) wrap the logical request and each attempt. URLs are
//! redacted ([`crate::redact`]) before they reach an event, a span or an
//! error. See `docs/client.md` for the policies and their defaults.
//!
//! ```no_run
//! use std::time::Duration;
//! use telemetry_runtime::client::{BreakerPolicy, RateLimit, RetryPolicy};
//! use telemetry_runtime::{instrumented_adapter, AdapterClient};
//!
//! #[instrumented_adapter(name = "crossref", hosts(cap = 16))]
//! pub struct Crossref {
//!     http: AdapterClient,
//! }
//!
//! impl Crossref {
//!     pub fn new() -> Result<Self, telemetry_runtime::client::ClientError> {
//!         let http = AdapterClient::builder::<Crossref>()
//!             .timeout(Duration::from_secs(5))
//!             .retry(RetryPolicy::default().max_attempts(4))
//!             .rate_limit(RateLimit::per_second(50.0).burst(10))
//!             .breaker(BreakerPolicy::default().consecutive_failures(5))
//!             .correlation_header("x-correlation-id")
//!             .build()?;
//!         Ok(Crossref { http })
//!     }
//!
//!     pub async fn work(&self, doi: &str) -> Result<String, telemetry_runtime::client::ClientError> {
//!         let resp = self.http.get(format!("https://api.crossref.org/works/{doi}")).send().await?;
//!         Ok(resp.text().await.unwrap_or_default())
//!     }
//! }
//! ```

mod breaker;
mod builder;
mod emit;
mod error;
mod fallback;
mod hosts;
mod inner;
mod limiter;
mod request;
pub mod retry;
mod span;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use reqwest::header::{HeaderValue, RETRY_AFTER};

pub use breaker::BreakerPolicy;
pub use builder::AdapterClientBuilder;
pub use error::{ClientError, RateLimitRejection};
pub use fallback::{Fallback, FallbackHit};
pub use limiter::{LimiterSnapshot, RateLimit};
pub use request::{RequestBuilder, Response};
pub use retry::{RetryBudget, RetryPolicy};

use crate::core::adapter::{AdapterTelemetry, InstrumentedAdapter};
pub use crate::core::events::{BreakerState, CorrelationId};
use crate::core::events::{DelaySource, ErrorType, HttpMethod, RateLimitOutcome, RetryReason};
use breaker::{Admission, HostBreaker};
use emit::Emitter;
use hosts::{ActiveGuard, HostState};
use inner::ClientInner;
use retry::{is_retryable_error, is_retryable_status, parse_retry_after, RetryAfter};
use span::{AttemptSpan, RequestSpan, SpanFields};

/// A shared, pooled HTTP client whose every request is observed through an
/// adapter's telemetry. Cheap to clone (an `Arc`).
///
/// Build it with [`AdapterClient::builder`]; see the [module docs](self).
#[derive(Clone)]
pub struct AdapterClient {
    inner: Arc<ClientInner>,
}

impl fmt::Debug for AdapterClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterClient")
            .field("adapter", &self.inner.telemetry.manifest().name)
            .field("retry", &self.inner.retry)
            .field("rate_limit", &self.inner.hosts.rate_limit)
            .field("breaker", &self.inner.hosts.breaker)
            .field("tracked_hosts", &self.tracked_hosts())
            .finish_non_exhaustive()
    }
}

impl AdapterClient {
    /// A builder whose telemetry is `T`'s (the adapter's labels, sinks and
    /// metric handles).
    pub fn builder<T: InstrumentedAdapter>() -> AdapterClientBuilder {
        Self::builder_for(T::telemetry())
    }

    /// A builder for an explicit telemetry static (what [`builder`](Self::builder) calls).
    pub fn builder_for(telemetry: &'static AdapterTelemetry) -> AdapterClientBuilder {
        AdapterClientBuilder::new(telemetry)
    }

    /// A GET request.
    pub fn get(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(reqwest::Method::GET, url)
    }

    /// A POST request (not retried unless marked [`idempotent`](RequestBuilder::idempotent)).
    pub fn post(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(reqwest::Method::POST, url)
    }

    /// A PUT request.
    pub fn put(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(reqwest::Method::PUT, url)
    }

    /// A DELETE request.
    pub fn delete(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(reqwest::Method::DELETE, url)
    }

    /// A request with any method.
    pub fn request(&self, method: reqwest::Method, url: impl reqwest::IntoUrl) -> RequestBuilder {
        RequestBuilder {
            client: self.clone(),
            inner: self.inner.http.request(method, url),
            idempotent: None,
            correlation_id: None,
        }
    }

    /// Sends a prebuilt reqwest request (retried per its method). Used like
    /// an `async fn`: `client.execute(request).await`.
    pub fn execute(
        &self,
        request: reqwest::Request,
    ) -> impl Future<Output = Result<Response, ClientError>> + Send + '_ {
        self.execute_with(request, None, None)
    }

    /// A fallback chain: sources tried in order until one answers.
    pub fn fallback(&self) -> Fallback<'_> {
        Fallback::new(self)
    }

    /// The adapter telemetry this client reports to.
    pub fn telemetry(&self) -> &'static AdapterTelemetry {
        self.inner.telemetry
    }

    /// The underlying reqwest client (requests sent through it directly are
    /// not observed).
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// One snapshot per host that has a rate limiter, sorted by host.
    pub fn limiter_snapshot(&self) -> Vec<LimiterSnapshot> {
        self.inner.hosts.limiter_snapshots(Instant::now())
    }

    /// The rate limiter snapshot of one host (`host` or `host:port` as the
    /// `host` label spells it).
    pub fn limiter_snapshot_for(&self, host: &str) -> Option<LimiterSnapshot> {
        self.limiter_snapshot().into_iter().find(|s| s.host == host)
    }

    /// The breaker state of every tracked host, sorted by host.
    pub fn breaker_states(&self) -> Vec<(String, BreakerState)> {
        self.inner.hosts.breaker_states()
    }

    /// Hosts with per-host state (limiter, breaker) held now.
    pub fn tracked_hosts(&self) -> usize {
        self.inner.hosts.len()
    }

    /// Drops the state of hosts idle for longer than the idle TTL (this also
    /// happens by itself when new hosts arrive); returns how many went.
    pub fn evict_idle(&self) -> usize {
        self.inner.hosts.sweep(true)
    }

    /// The logical request's future (not an `async fn`, which would store
    /// the inner future a second time).
    pub(crate) fn execute_with(
        &self,
        request: reqwest::Request,
        idempotent: Option<bool>,
        correlation_id: Option<CorrelationId>,
    ) -> impl Future<Output = Result<Response, ClientError>> + Send + '_ {
        self.inner
            .execute(Some(request), idempotent, correlation_id)
    }
}

/// What the retry loop does after a wire attempt.
enum Step {
    /// The logical request is over.
    Done(Result<Response, ClientError>),
    /// Sleep `delay`, then send `next`.
    Retry {
        delay: Duration,
        next: reqwest::Request,
    },
}

/// Facts of one wire attempt, for [`ClientInner::settle`].
#[derive(Clone, Copy)]
struct Wire {
    attempt: u32,
    started: Instant,
    ended: Instant,
    /// Whether it was the breaker's half-open probe.
    probe: bool,
    /// Whether the method (or the caller) allows a retry.
    retry_method: bool,
    method: HttpMethod,
}

/// How one wire attempt ended, for the retry decision.
enum AttemptOutcome {
    Response(reqwest::Response),
    Failed(reqwest::Error, ErrorType),
}

impl ClientInner {
    /// `url` as events, spans and errors show it. `Redactor::url` rewrites
    /// only the userinfo, the query and the fragment, so a URL with none of
    /// them is copied as it is, without the scan (the parsed URL knows where
    /// its parts are).
    fn redacted_url(&self, url: &reqwest::Url) -> String {
        if url.username().is_empty()
            && url.password().is_none()
            && url.query().is_none()
            && url.fragment().is_none()
        {
            url.as_str().to_owned()
        } else {
            self.redactor.url(url.as_str())
        }
    }

    /// One logical request. A plain `fn` returning an `async move` block,
    /// not an `async fn`: an `async fn` copies each argument into a second
    /// slot of its future, and a `reqwest::Request` is 264 bytes; the block
    /// uses its captures in place. `request` is `Some`: the retry loop
    /// borrows this one slot for the request to send and, while an attempt
    /// is on the wire, for its copy (so the 264-byte request is stored
    /// once, not once per future layer).
    #[allow(clippy::manual_async_fn)]
    fn execute(
        &self,
        mut request: Option<reqwest::Request>,
        idempotent: Option<bool>,
        correlation_id: Option<CorrelationId>,
    ) -> impl Future<Output = Result<Response, ClientError>> + Send + '_ {
        async move {
            let Some(first) = request.as_mut() else {
                return Err(request_missing());
            };
            let correlation_id = correlation_id.unwrap_or_else(CorrelationId::next);
            let url = first.url();
            let port = url.port_or_known_default().unwrap_or(0);
            // The URL parser already lowercases domain names of http(s) URLs.
            let state = self
                .hosts
                .state(url.host_str().unwrap_or_default(), port, url.scheme());
            let method = HttpMethod::parse(first.method().as_str());
            let _active = ActiveGuard::enter(&state);
            let now_ms = self.hosts.now_ms();
            state.mark_used(now_ms);
            self.hosts.sweep_at(now_ms, false);

            let emitter = Emitter::new(self, state.label, correlation_id);
            let want_url = emitter.on() || RequestSpan::enabled();
            let url_full = if want_url {
                self.redacted_url(first.url())
            } else {
                String::new()
            };
            if let Some(name) = &self.correlation_header {
                if let Ok(v) = HeaderValue::try_from(correlation_id.to_string()) {
                    first.headers_mut().insert(name.clone(), v);
                }
            }
            let fields = SpanFields {
                method,
                host: &state.host,
                port,
                url_full: &url_full,
                correlation_id,
            };
            let span = RequestSpan::new(&fields);
            let retry_method = idempotent.unwrap_or_else(|| method.is_idempotent());
            if let Some(b) = &self.budget {
                b.deposit();
            }
            let run = self.attempts(
                &mut request,
                &state,
                &emitter,
                &fields,
                method,
                retry_method,
                &url_full,
            );
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

    /// The attempts of one logical request (see `execute` for why not an
    /// `async fn`).
    #[allow(clippy::too_many_arguments, clippy::manual_async_fn)]
    fn attempts<'a>(
        &'a self,
        slot: &'a mut Option<reqwest::Request>,
        state: &'a HostState,
        emitter: &'a Emitter,
        fields: &'a SpanFields<'a>,
        method: HttpMethod,
        retry_method: bool,
        url_full: &'a str,
    ) -> impl Future<Output = Result<Response, ClientError>> + 'a {
        async move {
            let mut attempt: u32 = 1;
            loop {
                // One clock read for the breaker, the limiter and the rate-limit
                // event of this attempt.
                let t0 = Instant::now();

                // 1. Breaker.
                let probe = match &state.breaker {
                    Some(b) => match b.admit(t0, |t| emitter.transition(attempt, t)) {
                        Admission::Allowed { probe } => probe,
                        Admission::Rejected => {
                            emitter.error(
                                attempt,
                                None,
                                method,
                                ErrorType::CircuitOpen,
                                Duration::ZERO,
                                || format!("circuit breaker for {} is open", state.label),
                            );
                            return Err(ClientError::CircuitOpen {
                                host: state.display(),
                            });
                        }
                    },
                    None => false,
                };
                let probe_guard = ProbeGuard {
                    breaker: if probe { state.breaker.as_ref() } else { None },
                };

                // 2. Limiter.
                if let Some(limiter) = &state.limiter {
                    let on_wait =
                        |first: Duration| emitter.backoff(attempt, first, DelaySource::Limiter);
                    // Waiting is the rare path: its future (timer included) is
                    // boxed so it does not enlarge every request's future.
                    let acquired = match limiter.try_acquire() {
                        Ok(got) => Ok(got),
                        Err(queued) => {
                            Box::pin(limiter.wait_in_queue(&state.host, queued, on_wait)).await
                        }
                    };
                    match acquired {
                        // A token taken at once was taken at `t0`.
                        Ok(got) => emitter.rate_limit(
                            attempt,
                            got.wait.is_zero().then_some(t0),
                            got.outcome,
                            got.wait,
                            got.depth_on_arrival,
                            limiter,
                        ),
                        Err(rejected) => {
                            emitter.rate_limit(
                                attempt,
                                None,
                                RateLimitOutcome::Rejected,
                                Duration::ZERO,
                                rejected.depth_on_arrival,
                                limiter,
                            );
                            let err = ClientError::RateLimited {
                                host: state.display(),
                                reason: rejected.reason,
                            };
                            emitter.error(
                                attempt,
                                None,
                                method,
                                ErrorType::RateLimited,
                                Duration::ZERO,
                                || err.to_string(),
                            );
                            return Err(err);
                        }
                    }
                }

                // 3. The wire attempt.
                let attempt_span = RequestSpan::attempt(fields, attempt);
                let started = Instant::now();
                emitter.request(attempt, started, method, url_full, fields.port);
                // The request goes on the wire; `slot` keeps a copy for the
                // next attempt, only when there can be one (`settle` checks
                // the same two conditions first). In a block, so the moved
                // request takes no room in this future while it waits.
                let wire = {
                    let Some(this) = slot.take() else {
                        return Err(request_missing());
                    };
                    if retry_method && attempt < self.retry.attempts() {
                        *slot = this.try_clone();
                    }
                    attempt_span.instrument(self.http.execute(this))
                };
                let result = wire.await;
                let ended = Instant::now();
                // Everything up to the back-off is synchronous (`settle`), so
                // the response, the error and the retry bookkeeping take no
                // room in this future while it sleeps.
                let wire = Wire {
                    attempt,
                    started,
                    ended,
                    probe,
                    retry_method,
                    method,
                };
                let step = self.settle(
                    result,
                    wire,
                    &attempt_span,
                    slot.take(),
                    probe_guard,
                    state,
                    emitter,
                );
                let delay = match step {
                    Step::Done(r) => return r,
                    Step::Retry { delay, next } => {
                        *slot = Some(next);
                        delay
                    }
                };
                // Boxed: the back-off timer is only needed on this rare path.
                Box::pin(tokio::time::sleep(delay)).await;
                attempt += 1;
            }
        }
    }

    /// What follows a wire attempt, up to the back-off: events, the span,
    /// the breaker, the retry decision and the retry events.
    #[allow(clippy::too_many_arguments)]
    fn settle(
        &self,
        result: Result<reqwest::Response, reqwest::Error>,
        wire: Wire,
        attempt_span: &AttemptSpan,
        next: Option<reqwest::Request>,
        probe_guard: ProbeGuard<'_>,
        state: &HostState,
        emitter: &Emitter,
    ) -> Step {
        let Wire {
            attempt,
            started,
            ended,
            probe,
            retry_method,
            method,
        } = wire;
        let elapsed = ended.saturating_duration_since(started);
        state.mark_used(self.hosts.ms_at(ended));
        let outcome = match result {
            Ok(resp) => {
                let status = resp.status().as_u16();
                attempt_span.status(status);
                emitter.response(
                    attempt,
                    ended,
                    method,
                    status,
                    elapsed,
                    resp.content_length(),
                );
                AttemptOutcome::Response(resp)
            }
            Err(err) => {
                let kind = error::classify(&err);
                attempt_span.error(kind);
                let err = err.without_url();
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
            _ => return Step::Done(finish(outcome, attempt, state, emitter)),
        };
        let breaker_open = state
            .breaker
            .as_ref()
            .is_some_and(|b| b.state() == BreakerState::Open);
        if attempt >= self.retry.attempts() || !retry_method || breaker_open {
            return Step::Done(finish(outcome, attempt, state, emitter));
        }
        // A streamed body cannot be sent twice.
        let Some(next) = next else {
            return Step::Done(finish(outcome, attempt, state, emitter));
        };
        let retry_after = match &outcome {
            AttemptOutcome::Response(r) => r
                .headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| parse_retry_after(v, SystemTime::now())),
            AttemptOutcome::Failed(..) => None,
        };
        let (delay, source) = match retry_after {
            Some(RetryAfter::Delay(d)) if d > self.retry.cap() => {
                return Step::Done(Err(ClientError::RetryAfterTooLong {
                    host: state.display(),
                    status: status.unwrap_or(0),
                    retry_after: d,
                    cap: self.retry.cap(),
                    attempts: attempt,
                }));
            }
            Some(RetryAfter::Delay(d)) => (d, DelaySource::RetryAfter),
            Some(RetryAfter::Past) | None => {
                (self.retry.policy_delay(attempt), DelaySource::Policy)
            }
        };
        if let Some(budget) = &self.budget {
            if !budget.try_withdraw() {
                return Step::Done(finish(outcome, attempt, state, emitter));
            }
        }
        emitter.retry(attempt, reason, status, delay, source);
        emitter.backoff(attempt, delay, source);
        Step::Retry { delay, next }
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

fn finish(
    outcome: AttemptOutcome,
    attempt: u32,
    state: &HostState,
    emitter: &Emitter,
) -> Result<Response, ClientError> {
    match outcome {
        AttemptOutcome::Response(inner) => Ok(Response {
            inner,
            attempts: attempt,
            correlation_id: emitter.correlation_id(),
        }),
        AttemptOutcome::Failed(source, kind) => Err(ClientError::Transport {
            host: state.display(),
            kind,
            attempts: attempt,
            source,
        }),
    }
}

/// The error of a request slot found empty, which the client never lets
/// happen (the slot is filled before every attempt); an error rather than a
/// panic all the same.
#[cold]
fn request_missing() -> ClientError {
    ClientError::InvalidConfig("internal error: no request to send".into())
}

fn e_attempts(e: &ClientError) -> u32 {
    match e {
        ClientError::Transport { attempts, .. }
        | ClientError::RetryAfterTooLong { attempts, .. } => *attempts,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::hosts::tests::TEST_TELEMETRY;
    use super::*;

    #[test]
    fn redacted_url_fast_path_matches_the_redactor() {
        let Ok(client) = AdapterClient::builder_for(&TEST_TELEMETRY).build() else {
            panic!("client builds")
        };
        let i = &client.inner;
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
            let got = i.redacted_url(&url);
            assert_eq!(got, i.redactor.url(url.as_str()), "{raw}");
            assert!(!got.contains("secret"), "{got}");
        }
    }

    /// The future of `send()` stays as small as the tuning left it (see
    /// "The client's request future is kept small" in
    /// `docs/architecture.md`): a regression here costs every request.
    #[test]
    fn send_future_does_not_grow() {
        let Ok(client) = AdapterClient::builder_for(&TEST_TELEMETRY).build() else {
            panic!("client builds")
        };
        let size = std::mem::size_of_val(&client.get("http://a.test/").send());
        println!("send() future: {size} bytes");
        assert!(
            size <= SEND_FUTURE_BYTES,
            "send() future grew to {size} bytes"
        );
    }

    /// Measured in the test profile (rustc 1.95, x86_64, default and all
    /// features alike) before the client was split into files; the release
    /// figure in `docs/architecture.md` is the benchmark's.
    const SEND_FUTURE_BYTES: usize = 1512;
}
