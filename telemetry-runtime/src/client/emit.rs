//! The client's events: one method per kind it emits, each building its
//! event only when the adapter has a sink.

use std::time::{Duration, Instant};

use super::breaker::Transition;
use super::inner::ClientInner;
use super::limiter::HostLimiter;
use crate::core::adapter::AdapterTelemetry;
use crate::core::events::{
    BackoffEvent, BodyEvent, BreakerTransitionEvent, CorrelationId, DelaySource, ErrorEvent,
    ErrorType, EventMeta, EventRef, FallbackEvent, FallbackOutcome, HttpMethod, RateLimitEvent,
    RateLimitOutcome, RequestEvent, ResponseEvent, RetryEvent, RetryReason,
};
use crate::core::id::AdapterRef;
use crate::core::labels::{HostKey, LabelValue};

/// Context shared by the events of one logical request (or one source of a
/// fallback chain): adapter, host, correlation id, clock. `Copy`: a
/// response's body watch keeps one.
#[derive(Clone, Copy)]
pub(super) struct Emitter {
    telemetry: &'static AdapterTelemetry,
    adapter: AdapterRef,
    host: LabelValue,
    host_key: HostKey,
    correlation_id: CorrelationId,
    /// The client's epoch and its wall-clock time (see `meta_at`).
    epoch: Instant,
    epoch_unix_nanos: u64,
}

impl Emitter {
    /// The events of `client` about `host` (`host_key` before folding),
    /// under `correlation_id`.
    #[inline]
    pub(super) fn new(
        client: &ClientInner,
        host: LabelValue,
        host_key: HostKey,
        correlation_id: CorrelationId,
    ) -> Self {
        Emitter {
            telemetry: client.telemetry,
            adapter: client.adapter,
            host,
            host_key,
            correlation_id,
            epoch: client.epoch,
            epoch_unix_nanos: client.epoch_unix_nanos,
        }
    }

    /// Whether this adapter has a sink (its own or the global one): events
    /// are built only then.
    #[inline]
    pub(super) fn on(&self) -> bool {
        self.telemetry.interested()
    }

    /// The logical request's correlation id.
    pub(super) fn correlation_id(&self) -> CorrelationId {
        self.correlation_id
    }

    /// Meta of an event that happened at `at` (an instant the client read
    /// for its own bookkeeping): wall time = the client's epoch in wall time
    /// + the monotonic time since, so no extra clock read per event.
    #[inline]
    fn meta_at(&self, attempt: u32, at: Instant) -> EventMeta {
        self.meta_since(attempt, self.since(at))
    }

    /// How long after the client's epoch `at` is: what events, the host's
    /// use stamp and the body's duration derive from, so an instant read
    /// once is subtracted from the epoch once.
    #[inline]
    pub(super) fn since(&self, at: Instant) -> Duration {
        at.saturating_duration_since(self.epoch)
    }

    /// Meta of an event that happened `since` after the client's epoch.
    #[inline]
    fn meta_since(&self, attempt: u32, since: Duration) -> EventMeta {
        let since = u64::try_from(since.as_nanos()).unwrap_or(u64::MAX);
        EventMeta {
            adapter: self.adapter,
            host: self.host,
            host_key: self.host_key,
            correlation_id: self.correlation_id,
            attempt,
            time_unix_nano: self.epoch_unix_nanos.saturating_add(since),
        }
    }

    /// Meta of an event happening now (rare paths: breaker transitions,
    /// errors, retries).
    fn meta(&self, attempt: u32) -> EventMeta {
        self.meta_at(attempt, Instant::now())
    }

    /// `RequestEvent`: attempt `attempt` goes on the wire at `at`.
    #[inline]
    pub(super) fn request(
        &self,
        attempt: u32,
        at: Instant,
        method: HttpMethod,
        url: Option<&std::sync::Arc<str>>,
        port: u16,
    ) {
        if self.on() {
            let e = RequestEvent {
                meta: self.meta_at(attempt, at),
                method,
                // `None` only when a sink arrived after the request began:
                // its URL was not built.
                url: url.map_or_else(|| std::sync::Arc::from(""), std::sync::Arc::clone),
                port,
            };
            self.telemetry.emit(EventRef::Request(&e));
        }
    }

    /// `ResponseEvent`: attempt `attempt`, sent at `started`, got `status`
    /// at `ended`, `ended_since` after the epoch (the duration is computed
    /// only when the event is built).
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(super) fn response(
        &self,
        attempt: u32,
        started: Instant,
        ended: Instant,
        ended_since: Duration,
        method: HttpMethod,
        status: u16,
        body_size: Option<u64>,
    ) {
        if self.on() {
            let e = ResponseEvent {
                meta: self.meta_since(attempt, ended_since),
                method,
                status,
                duration: ended.saturating_duration_since(started),
                body_size,
            };
            self.telemetry.emit(EventRef::Response(&e));
        }
    }

    /// `BodyEvent`: the body of attempt `attempt`'s response ended `since`
    /// after the epoch (read to its end, or failed with `error_type`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn body(
        &self,
        attempt: u32,
        since: Duration,
        method: HttpMethod,
        status: u16,
        size: u64,
        content_length: Option<u64>,
        duration: Duration,
        error_type: Option<ErrorType>,
    ) {
        if self.on() {
            let e = BodyEvent {
                meta: self.meta_since(attempt, since),
                method,
                status,
                size,
                content_length,
                duration,
                error_type,
            };
            self.telemetry.emit(EventRef::Body(&e));
        }
    }

    /// `ErrorEvent`: attempt `attempt` failed with `kind` at `at` (`None`:
    /// now), `duration` after it started. `message` is only called when the
    /// event is built.
    pub(super) fn error(
        &self,
        attempt: u32,
        at: Option<Instant>,
        method: HttpMethod,
        kind: ErrorType,
        duration: Duration,
        message: impl FnOnce() -> String,
    ) {
        if self.on() {
            let e = ErrorEvent {
                meta: self.meta_at(attempt, at.unwrap_or_else(Instant::now)),
                method,
                error_type: kind,
                message: message(),
                duration,
                // Refusals never touch the wire.
                reached_wire: !kind.is_refusal(),
            };
            self.telemetry.emit(EventRef::Error(&e));
        }
    }

    /// `RetryEvent`: attempt `attempt` is retried after `delay`.
    pub(super) fn retry(
        &self,
        attempt: u32,
        reason: RetryReason,
        status: Option<u16>,
        delay: Duration,
        delay_source: DelaySource,
    ) {
        if self.on() {
            let e = RetryEvent {
                meta: self.meta(attempt),
                reason,
                status,
                delay,
                delay_source,
            };
            self.telemetry.emit(EventRef::Retry(&e));
        }
    }

    /// `BackoffEvent`: a wait of `delay` starts (a retry's back-off, or a
    /// place in the limiter's queue).
    pub(super) fn backoff(&self, attempt: u32, delay: Duration, source: DelaySource) {
        if self.on() {
            let e = BackoffEvent {
                meta: self.meta(attempt),
                delay,
                source,
            };
            self.telemetry.emit(EventRef::Backoff(&e));
        }
    }

    /// `RateLimitEvent`: the limiter decided at `at` (`None`: now), with the
    /// saturation `limiter` reports then.
    pub(super) fn rate_limit(
        &self,
        attempt: u32,
        at: Option<Instant>,
        outcome: RateLimitOutcome,
        wait: Duration,
        queue_depth: u32,
        limiter: &HostLimiter,
    ) {
        if self.on() {
            let at = at.unwrap_or_else(Instant::now);
            let e = RateLimitEvent {
                meta: self.meta_at(attempt, at),
                outcome,
                wait,
                queue_depth,
                saturation: limiter.saturation(at),
            };
            self.telemetry.emit(EventRef::RateLimit(&e));
        }
    }

    /// `BreakerTransitionEvent`: the host's breaker changed state.
    pub(super) fn transition(&self, attempt: u32, t: Transition) {
        if self.on() {
            let e = BreakerTransitionEvent {
                meta: self.meta(attempt),
                from: t.from,
                to: t.to,
                reason: t.reason,
            };
            self.telemetry.emit(EventRef::BreakerTransition(&e));
        }
    }

    /// `FallbackEvent`: source `source`, tier `tier` of a fallback chain,
    /// ended with `outcome` after `elapsed`.
    pub(super) fn fallback(
        &self,
        tier: u32,
        source: &'static str,
        outcome: FallbackOutcome,
        reason: Option<&'static str>,
        elapsed: Duration,
    ) {
        if self.on() {
            let e = FallbackEvent {
                meta: self.meta(tier.saturating_add(1)),
                tier,
                source,
                outcome,
                reason,
                elapsed,
            };
            self.telemetry.emit(EventRef::Fallback(&e));
        }
    }
}
