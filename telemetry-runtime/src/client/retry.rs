//! Retry policy: which failures are retried, how long to wait, and the
//! optional retry budget.

use std::sync::Mutex;
use std::time::{Duration, SystemTime};

use rand::Rng;

use crate::core::events::ErrorType;

/// How the client retries transient failures.
///
/// Retried: statuses 408, 429 and 5xx, connect errors, timeouts and connection
/// resets; only for idempotent methods (GET, HEAD, PUT, DELETE, OPTIONS,
/// TRACE) unless the call opts in with
/// [`RequestBuilder::idempotent`](super::RequestBuilder::idempotent); never
/// when the body cannot be cloned (a stream).
///
/// The delay before retry `n` (1-based) is drawn uniformly from
/// `0..=min(max_delay, base_delay * 2^(n-1))` ("full jitter"), unless the
/// response carries `Retry-After`: then that is the delay, if it is not above
/// `retry_after_cap` (above it, the call fails with
/// [`ClientError::RetryAfterTooLong`](super::ClientError::RetryAfterTooLong));
/// a `Retry-After` date in the past falls back to the policy's delay.
///
/// ```
/// use std::time::Duration;
/// use telemetry_runtime::client::RetryPolicy;
/// let p = RetryPolicy::default()
///     .max_attempts(4)
///     .base_delay(Duration::from_millis(50))
///     .max_delay(Duration::from_secs(2));
/// assert!(p.policy_delay(3) <= Duration::from_millis(200));
/// assert_eq!(RetryPolicy::none().attempts(), 1);
/// ```
// PartialEq: a reload compares a host's old and new policy (client/hosts.rs).
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    max_attempts: u32,
    base_delay: Duration,
    max_delay: Duration,
    retry_after_cap: Duration,
}

impl Default for RetryPolicy {
    /// 3 attempts, 100 ms base delay, 10 s maximum delay, 900 s `Retry-After` cap.
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(10),
            retry_after_cap: Duration::from_secs(900),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn none() -> Self {
        RetryPolicy::default().max_attempts(1)
    }

    /// Wire attempts per logical request, including the first (at least 1).
    pub fn max_attempts(mut self, n: u32) -> Self {
        self.max_attempts = n.max(1);
        self
    }

    /// The back-off scale: retry 1 waits up to this long.
    pub fn base_delay(mut self, d: Duration) -> Self {
        self.base_delay = d;
        self
    }

    /// The largest policy delay (before jitter).
    pub fn max_delay(mut self, d: Duration) -> Self {
        self.max_delay = d;
        self
    }

    /// The longest `Retry-After` the client honours; longer ones end the call
    /// with `RetryAfterTooLong`.
    pub fn retry_after_cap(mut self, d: Duration) -> Self {
        self.retry_after_cap = d;
        self
    }

    /// Configured wire attempts.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The configured `Retry-After` cap.
    pub fn cap(&self) -> Duration {
        self.retry_after_cap
    }

    /// The exponential ceiling before retry `retry` (1-based), without jitter.
    pub fn ceiling(&self, retry: u32) -> Duration {
        let shift = retry.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << shift)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }

    /// A full-jitter delay before retry `retry` (1-based).
    pub fn policy_delay(&self, retry: u32) -> Duration {
        let ceiling = self.ceiling(retry);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }
}

/// Whether a status is worth retrying: 408, 429 and every 5xx.
///
/// ```
/// use telemetry_runtime::client::retry::is_retryable_status;
/// assert!(is_retryable_status(503) && is_retryable_status(429) && is_retryable_status(408));
/// assert!(!is_retryable_status(404) && !is_retryable_status(200));
/// ```
pub fn is_retryable_status(status: u16) -> bool {
    status == 408 || status == 429 || (500..=599).contains(&status)
}

/// Whether a transport failure is worth retrying.
pub fn is_retryable_error(kind: ErrorType) -> bool {
    matches!(
        kind,
        ErrorType::Timeout | ErrorType::Connect | ErrorType::ConnectionReset
    )
}

/// A parsed `Retry-After` header (RFC 9110 section 10.2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Wait this long (delay-seconds form, or an HTTP date in the future).
    Delay(Duration),
    /// An HTTP date that has already passed: fall back to the policy.
    Past,
}

/// Parses a `Retry-After` value, in seconds or as an HTTP date, relative to
/// `now`. Anything else (negative, fractional, garbage) is `None`.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use telemetry_runtime::client::retry::{parse_retry_after, RetryAfter};
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert_eq!(parse_retry_after("120", now), Some(RetryAfter::Delay(Duration::from_secs(120))));
/// let later = httpdate::fmt_http_date(now + Duration::from_secs(30));
/// assert_eq!(parse_retry_after(&later, now), Some(RetryAfter::Delay(Duration::from_secs(30))));
/// let earlier = httpdate::fmt_http_date(now - Duration::from_secs(30));
/// assert_eq!(parse_retry_after(&earlier, now), Some(RetryAfter::Past));
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<RetryAfter> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // Absurdly long digit strings saturate rather than fail: they are
        // "longer than any cap" either way.
        let secs = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(RetryAfter::Delay(Duration::from_secs(secs)));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    match date.duration_since(now) {
        Ok(d) if !d.is_zero() => Some(RetryAfter::Delay(d)),
        _ => Some(RetryAfter::Past),
    }
}

/// A retry budget shared by every request of a client, so a struggling
/// upstream is not hit with `max_attempts` times its normal load.
///
/// A token bucket (the shape of gRPC's retry throttling): it starts full at
/// `max_tokens`; every logical request deposits `deposit_per_request` tokens
/// (up to the maximum); every retry withdraws one. With less than one token
/// left, failures are not retried.
///
/// ```
/// use telemetry_runtime::client::RetryBudget;
/// let b = RetryBudget::new(2, 0.5);
/// assert!(b.try_withdraw() && b.try_withdraw());
/// assert!(!b.try_withdraw());
/// b.deposit(); b.deposit();
/// assert!(b.try_withdraw());
/// ```
#[derive(Debug)]
pub struct RetryBudget {
    max_tokens: f64,
    deposit: f64,
    tokens: Mutex<f64>,
}

impl RetryBudget {
    /// A budget of `max_tokens` retries, refilled by `deposit_per_request`
    /// (for example 0.1: one retry per ten requests) per request.
    pub fn new(max_tokens: u32, deposit_per_request: f64) -> Self {
        let max_tokens = f64::from(max_tokens);
        RetryBudget {
            max_tokens,
            deposit: deposit_per_request.max(0.0),
            tokens: Mutex::new(max_tokens),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, f64> {
        self.tokens.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a logical request.
    pub fn deposit(&self) {
        let mut t = self.lock();
        *t = (*t + self.deposit).min(self.max_tokens);
    }

    /// Takes one retry from the budget; `false` when it is spent.
    pub fn try_withdraw(&self) -> bool {
        let mut t = self.lock();
        if *t >= 1.0 {
            *t -= 1.0;
            true
        } else {
            false
        }
    }

    /// Tokens left.
    pub fn remaining(&self) -> f64 {
        *self.lock()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let p = RetryPolicy::default()
            .base_delay(Duration::from_millis(100))
            .max_delay(Duration::from_millis(350));
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(3), Duration::from_millis(350));
        assert_eq!(p.ceiling(100), Duration::from_millis(350));
        for r in 1..10 {
            assert!(p.policy_delay(r) <= p.ceiling(r));
        }
    }

    #[test]
    fn jitter_spreads_delays() {
        let p = RetryPolicy::default().base_delay(Duration::from_secs(1));
        let delays: std::collections::HashSet<Duration> =
            (0..20).map(|_| p.policy_delay(1)).collect();
        assert!(delays.len() > 1, "full jitter gives different delays");
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            parse_retry_after(" 7 ", now),
            Some(RetryAfter::Delay(Duration::from_secs(7)))
        );
        assert_eq!(
            parse_retry_after("0", now),
            Some(RetryAfter::Delay(Duration::ZERO))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(RetryAfter::Delay(Duration::from_secs(u64::MAX)))
        );
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("1.5", now), None);
        assert_eq!(parse_retry_after("", now), None);
        let same = httpdate::fmt_http_date(now);
        assert_eq!(parse_retry_after(&same, now), Some(RetryAfter::Past));
    }

    #[test]
    fn retryable_classes() {
        assert!(is_retryable_error(ErrorType::ConnectionReset));
        assert!(!is_retryable_error(ErrorType::Body));
        assert!(!is_retryable_status(501 - 100));
        assert!(is_retryable_status(599));
    }

    #[test]
    fn budget_refills_up_to_max() {
        let b = RetryBudget::new(1, 1.0);
        for _ in 0..5 {
            b.deposit();
        }
        assert_eq!(b.remaining(), 1.0);
        assert!(b.try_withdraw());
        assert!(!b.try_withdraw());
    }
}
