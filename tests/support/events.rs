//! Lifecycle events emitted straight into an adapter, without a client.

use std::time::Duration;

use telemetry_runtime::events::*;
use telemetry_runtime::AdapterTelemetry;

/// Emits one of every lifecycle event for `host` of `adapter`, through the
/// adapter's installed sink, with fixed values the tests check:
/// two attempts (503 then 200), one timeout, one retry, one back-off, one
/// waited rate limit, closed → open breaker transition, two fallback tries.
pub fn drive(adapter: &'static AdapterTelemetry, host: &str) {
    let host = adapter.hosts().intern(host);
    let cid = CorrelationId::next();
    let m1 = EventMeta::new(adapter, host, cid, 1);
    let m2 = EventMeta::new(adapter, host, cid, 2);
    adapter.emit(EventRef::RateLimit(&RateLimitEvent {
        meta: m1,
        outcome: RateLimitOutcome::Waited,
        wait: Duration::from_millis(30),
        queue_depth: 3,
        saturation: 0.25,
    }));
    adapter.emit(EventRef::Request(&RequestEvent {
        meta: m1,
        method: HttpMethod::Get,
        url: format!("https://{}/works?rows=1", host.as_str()).into(),
        port: 443,
    }));
    adapter.emit(EventRef::Response(&ResponseEvent {
        meta: m1,
        method: HttpMethod::Get,
        status: 503,
        duration: Duration::from_millis(40),
        body_size: Some(100),
    }));
    adapter.emit(EventRef::Retry(&RetryEvent {
        meta: m1,
        reason: RetryReason::Status,
        status: Some(503),
        delay: Duration::from_millis(200),
        delay_source: DelaySource::RetryAfter,
    }));
    adapter.emit(EventRef::Backoff(&BackoffEvent {
        meta: m1,
        delay: Duration::from_millis(200),
        source: DelaySource::RetryAfter,
    }));
    adapter.emit(EventRef::Request(&RequestEvent {
        meta: m2,
        method: HttpMethod::Get,
        url: format!("https://{}/works?rows=1", host.as_str()).into(),
        port: 443,
    }));
    adapter.emit(EventRef::Response(&ResponseEvent {
        meta: m2,
        method: HttpMethod::Get,
        status: 200,
        duration: Duration::from_millis(20),
        body_size: Some(2048),
    }));
    let m3 = EventMeta::new(adapter, host, CorrelationId::next(), 1);
    adapter.emit(EventRef::Request(&RequestEvent {
        meta: m3,
        method: HttpMethod::Post,
        url: format!("https://{}/deposit", host.as_str()).into(),
        port: 443,
    }));
    adapter.emit(EventRef::Error(&ErrorEvent {
        meta: m3,
        method: HttpMethod::Post,
        error_type: ErrorType::Timeout,
        message: "timed out".into(),
        duration: Duration::from_secs(3),
        reached_wire: true,
    }));
    adapter.emit(EventRef::BreakerTransition(&BreakerTransitionEvent {
        meta: m3,
        from: BreakerState::Closed,
        to: BreakerState::Open,
        reason: "consecutive_failures",
    }));
    adapter.emit(EventRef::Fallback(&FallbackEvent {
        meta: m3,
        tier: 0,
        source: "primary",
        outcome: FallbackOutcome::Failure,
        reason: Some("circuit_open"),
        elapsed: Duration::from_millis(1),
    }));
    adapter.emit(EventRef::Fallback(&FallbackEvent {
        meta: m3,
        tier: 1,
        source: "mirror",
        outcome: FallbackOutcome::Success,
        reason: None,
        elapsed: Duration::from_millis(15),
    }));
}
