//! Per-host rate limiting: a `governor` token bucket per host, in front of a
//! bounded wait queue.
//!
//! A request takes a token if one is there. If not, it joins the host's wait
//! queue, unless the queue is full or the wait it faces (the bucket's next
//! token plus one refill per request already queued) is above the maximum
//! wait: then it is rejected with
//! [`ClientError::RateLimited`](super::ClientError::RateLimited). Depth, wait
//! and saturation (the fraction of a sliding window during which the queue
//! was full) are reported in every `RateLimitEvent` and by
//! [`AdapterClient::limiter_snapshot`](super::AdapterClient::limiter_snapshot).

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{Quota, RateLimiter};

use super::error::RateLimitRejection;
use crate::core::events::RateLimitOutcome;

/// A host's token bucket and wait queue.
///
/// ```
/// use std::time::Duration;
/// use telemetry_runtime::client::RateLimit;
/// // 20 requests per second sustained, bursts of 5, at most 32 waiting, none
/// // waiting longer than 2 s, a warning when 24 are waiting.
/// let limit = RateLimit::per_second(20.0)
///     .burst(5)
///     .max_queue_depth(32)
///     .max_wait(Duration::from_secs(2))
///     .warn_depth(24);
/// assert_eq!(limit.refill_interval(), Duration::from_millis(50));
/// ```
// PartialEq: a reload compares a host's old and new policy (client/hosts.rs).
#[derive(Debug, Clone, PartialEq)]
pub struct RateLimit {
    pub(crate) capacity: u32,
    pub(crate) refill_interval: Duration,
    pub(crate) max_queue_depth: u32,
    pub(crate) max_wait: Duration,
    pub(crate) warn_depth: Option<u32>,
    pub(crate) saturation_window: Duration,
}

impl RateLimit {
    /// `rate` tokens per second (refilled one at a time), a burst capacity of
    /// `max(1, rate)` tokens, a queue of 64, a maximum wait of 5 s, a warning
    /// at 48 waiting, a 60 s saturation window.
    pub fn per_second(rate: f64) -> Self {
        let rate = if rate.is_finite() && rate > 0.0 {
            rate
        } else {
            1.0
        };
        RateLimit {
            capacity: (rate.ceil() as u32).max(1),
            // A rate so small that its interval overflows a `Duration` keeps
            // the largest one; `validate` (run by the client's `build`) then
            // refuses it instead of a request panicking on it.
            refill_interval: Duration::try_from_secs_f64(1.0 / rate)
                .unwrap_or(Duration::MAX)
                .max(Duration::from_nanos(1)),
            max_queue_depth: 64,
            max_wait: Duration::from_secs(5),
            warn_depth: Some(48),
            saturation_window: Duration::from_secs(60),
        }
    }

    /// The bucket's capacity: how many requests may go at once after a quiet
    /// spell (at least 1).
    pub fn burst(mut self, capacity: u32) -> Self {
        self.capacity = capacity.max(1);
        self
    }

    /// Requests allowed to wait for a token at once; 0 means never wait.
    pub fn max_queue_depth(mut self, depth: u32) -> Self {
        self.max_queue_depth = depth;
        self
    }

    /// The longest a request waits for a token.
    pub fn max_wait(mut self, d: Duration) -> Self {
        self.max_wait = d;
        self
    }

    /// Logs a `tracing` warning each time the queue depth reaches `depth`
    /// from below (once per crossing).
    pub fn warn_depth(mut self, depth: u32) -> Self {
        self.warn_depth = Some(depth.max(1));
        self
    }

    /// No depth warning.
    pub fn no_warning(mut self) -> Self {
        self.warn_depth = None;
        self
    }

    /// The window over which saturation is measured.
    pub fn saturation_window(mut self, d: Duration) -> Self {
        self.saturation_window = d.max(Duration::from_millis(1));
        self
    }

    /// Time between two refilled tokens.
    pub fn refill_interval(&self) -> Duration {
        self.refill_interval
    }

    /// Longest time any product of the policy may span: the token bucket
    /// (governor) keeps `refill interval × burst` in nanoseconds, and a
    /// queued request's wait is `refill interval × requests ahead`.
    pub const MAX_SPAN: Duration = Duration::from_secs(365 * 24 * 3600);

    /// Checks that every product of the policy (refill interval × burst,
    /// refill interval × queue depth) stays within [`RateLimit::MAX_SPAN`],
    /// so no request can overflow on them. The client's `build` runs it.
    ///
    /// ```
    /// use telemetry_runtime::client::RateLimit;
    /// assert!(RateLimit::per_second(20.0).burst(5).validate().is_ok());
    /// let err = RateLimit::per_second(0.001).burst(20_000_000).validate().unwrap_err();
    /// assert!(err.contains("burst"), "{err}");
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        let span = |n: u32| {
            self.refill_interval
                .checked_mul(n)
                .filter(|d| *d <= Self::MAX_SPAN)
        };
        if self.refill_interval > Self::MAX_SPAN {
            return Err(format!(
                "a rate limit refills one token every {:?}, more than a year: use a larger rate",
                self.refill_interval
            ));
        }
        if span(self.capacity).is_none() {
            return Err(format!(
                "a burst of {} tokens at one token every {:?} spans more than a year: lower the \
                 burst or raise the rate",
                self.capacity, self.refill_interval
            ));
        }
        if span(self.max_queue_depth.saturating_add(1)).is_none() {
            return Err(format!(
                "a queue of {} requests at one token every {:?} spans more than a year: lower \
                 `max_queue_depth` or raise the rate",
                self.max_queue_depth, self.refill_interval
            ));
        }
        Ok(())
    }
}

/// One host's limiter, as [`AdapterClient::limiter_snapshot`](super::AdapterClient::limiter_snapshot) reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct LimiterSnapshot {
    /// The host (normalised, as the `host` label has it).
    pub host: String,
    /// Requests waiting now.
    pub queue_depth: u32,
    /// The queue's maximum depth.
    pub max_queue_depth: u32,
    /// Fraction of the saturation window during which the queue was full.
    pub saturation: f64,
    /// Requests that got a token at once.
    pub acquired: u64,
    /// Requests that waited, then got a token.
    pub waited: u64,
    /// Requests rejected.
    pub rejected: u64,
    /// Total time requests spent waiting.
    pub total_wait: Duration,
    /// The deepest the queue has been.
    pub max_depth_seen: u32,
}

/// The result of an acquisition that went through.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Acquired {
    pub(crate) outcome: RateLimitOutcome,
    pub(crate) wait: Duration,
    pub(crate) depth_on_arrival: u32,
}

/// The result of a rejection, for the event.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rejected {
    pub(crate) reason: RateLimitRejection,
    pub(crate) depth_on_arrival: u32,
}

#[derive(Debug, Default)]
struct Saturation {
    full_since: Option<Instant>,
    /// Closed `(start, end)` intervals during which the queue was full.
    intervals: VecDeque<(Instant, Instant)>,
}

/// Intervals kept at most; older ones merge, so a flapping queue cannot grow
/// memory.
const MAX_INTERVALS: usize = 256;

pub(crate) struct HostLimiter {
    bucket: governor::DefaultDirectRateLimiter,
    clock: DefaultClock,
    policy: RateLimit,
    depth: AtomicU32,
    above_warn: AtomicBool,
    /// Set once the queue has been full: until then the saturation is 0
    /// without taking the lock (every `RateLimitEvent` asks for it).
    ever_full: AtomicBool,
    created: Instant,
    saturation: Mutex<Saturation>,
    acquired: AtomicU64,
    waited: AtomicU64,
    rejected: AtomicU64,
    total_wait_nanos: AtomicU64,
    max_depth_seen: AtomicU32,
}

impl std::fmt::Debug for HostLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostLimiter")
            .field("policy", &self.policy)
            .field("depth", &self.depth.load(Ordering::Relaxed))
            .finish()
    }
}

/// Decrements the depth when a waiting request leaves the queue, whether it
/// got a token, gave up, or its future was dropped.
struct QueueSlot<'a> {
    limiter: &'a HostLimiter,
}

impl Drop for QueueSlot<'_> {
    fn drop(&mut self) {
        let l = self.limiter;
        let before = l.depth.fetch_sub(1, Ordering::AcqRel);
        if before == l.policy.max_queue_depth {
            l.mark_not_full(Instant::now());
        }
        if let Some(warn) = l.policy.warn_depth {
            if before.saturating_sub(1) < warn {
                l.above_warn.store(false, Ordering::Relaxed);
            }
        }
    }
}

/// No token now: the first expected wait and the queue depth seen on
/// arrival (see [`HostLimiter::try_acquire`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queued {
    first: Duration,
    depth_on_arrival: u32,
}

impl HostLimiter {
    pub(crate) fn new(policy: RateLimit) -> Self {
        // Both are at least 1 by construction of `RateLimit`; the fallbacks
        // only keep this free of panics.
        let burst = NonZeroU32::new(policy.capacity).unwrap_or(NonZeroU32::MIN);
        let quota = Quota::with_period(policy.refill_interval)
            .unwrap_or_else(|| Quota::per_second(NonZeroU32::MAX))
            .allow_burst(burst);
        HostLimiter {
            bucket: RateLimiter::direct(quota),
            clock: DefaultClock::default(),
            policy,
            depth: AtomicU32::new(0),
            above_warn: AtomicBool::new(false),
            ever_full: AtomicBool::new(false),
            created: Instant::now(),
            saturation: Mutex::new(Saturation::default()),
            acquired: AtomicU64::new(0),
            waited: AtomicU64::new(0),
            rejected: AtomicU64::new(0),
            total_wait_nanos: AtomicU64::new(0),
            max_depth_seen: AtomicU32::new(0),
        }
    }

    /// Takes a token, waiting in the queue if allowed. `host` is only for the
    /// depth warning; `on_wait` is called once, with the first expected wait,
    /// when the request joins the queue.
    #[cfg(test)]
    pub(crate) async fn acquire(
        &self,
        host: &str,
        on_wait: impl FnOnce(Duration),
    ) -> Result<Acquired, Rejected> {
        match self.try_acquire() {
            Ok(got) => Ok(got),
            Err(queued) => self.wait_in_queue(host, queued, on_wait).await,
        }
    }

    /// A token if one is there now; otherwise what the queue needs to know.
    /// The synchronous half of [`acquire`](Self::acquire): the client calls
    /// it directly and boxes the waiting half, so the common path's future
    /// stays small.
    #[inline]
    pub(crate) fn try_acquire(&self) -> Result<Acquired, Queued> {
        let depth_on_arrival = self.depth.load(Ordering::Acquire);
        match self.bucket.check() {
            Ok(()) => {
                self.acquired.fetch_add(1, Ordering::Relaxed);
                Ok(Acquired {
                    outcome: RateLimitOutcome::Acquired,
                    wait: Duration::ZERO,
                    depth_on_arrival,
                })
            }
            Err(not_until) => Err(Queued {
                first: not_until.wait_time_from(self.clock.now()),
                depth_on_arrival,
            }),
        }
    }

    /// The waiting half of [`acquire`](Self::acquire), after
    /// [`try_acquire`](Self::try_acquire) found no token.
    pub(crate) async fn wait_in_queue(
        &self,
        host: &str,
        queued: Queued,
        on_wait: impl FnOnce(Duration),
    ) -> Result<Acquired, Rejected> {
        let Queued {
            first,
            depth_on_arrival,
        } = queued;
        let max = self.policy.max_queue_depth;
        // Requests already queued each need a refill before this one.
        // Validated policies keep this product within a year; saturate all
        // the same so no value can panic here.
        let needed = self
            .policy
            .refill_interval
            .checked_mul(depth_on_arrival)
            .and_then(|d| d.checked_add(first))
            .unwrap_or(Duration::MAX);
        if needed > self.policy.max_wait {
            return Err(self.reject(
                RateLimitRejection::WaitTooLong {
                    needed,
                    max_wait: self.policy.max_wait,
                },
                depth_on_arrival,
            ));
        }
        let joined = self
            .depth
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |d| {
                (d < max).then_some(d + 1)
            });
        let depth_now = match joined {
            Ok(before) => before + 1,
            Err(_) => {
                return Err(self.reject(
                    RateLimitRejection::QueueFull { max_depth: max },
                    depth_on_arrival,
                ))
            }
        };
        let _slot = QueueSlot { limiter: self };
        self.max_depth_seen.fetch_max(depth_now, Ordering::Relaxed);
        if depth_now == max {
            self.mark_full(Instant::now());
        }
        self.maybe_warn(host, depth_now);
        on_wait(first);

        let started = Instant::now();
        let mut sleep_for = first;
        loop {
            tokio::time::sleep(sleep_for).await;
            match self.bucket.check() {
                Ok(()) => break,
                Err(not_until) => {
                    let elapsed = started.elapsed();
                    let next = not_until.wait_time_from(self.clock.now());
                    if elapsed + next > self.policy.max_wait {
                        return Err(self.reject(
                            RateLimitRejection::WaitTooLong {
                                needed: elapsed + next,
                                max_wait: self.policy.max_wait,
                            },
                            depth_on_arrival,
                        ));
                    }
                    sleep_for = next;
                }
            }
        }
        let wait = started.elapsed();
        self.waited.fetch_add(1, Ordering::Relaxed);
        self.total_wait_nanos.fetch_add(
            u64::try_from(wait.as_nanos()).unwrap_or(u64::MAX),
            Ordering::Relaxed,
        );
        Ok(Acquired {
            outcome: RateLimitOutcome::Waited,
            wait,
            depth_on_arrival,
        })
    }

    fn reject(&self, reason: RateLimitRejection, depth_on_arrival: u32) -> Rejected {
        self.rejected.fetch_add(1, Ordering::Relaxed);
        Rejected {
            reason,
            depth_on_arrival,
        }
    }

    #[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
    fn maybe_warn(&self, host: &str, depth: u32) {
        let Some(warn) = self.policy.warn_depth else {
            return;
        };
        if depth >= warn && !self.above_warn.swap(true, Ordering::Relaxed) {
            #[cfg(feature = "tracing")]
            tracing::warn!(
                target: "telemetry_runtime::client::limiter",
                host = host,
                queue_depth = depth,
                warn_depth = warn,
                max_queue_depth = self.policy.max_queue_depth,
                "rate limiter queue depth crossed the warning threshold"
            );
        }
    }

    fn lock_saturation(&self) -> std::sync::MutexGuard<'_, Saturation> {
        self.saturation.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn mark_full(&self, now: Instant) {
        let mut s = self.lock_saturation();
        self.ever_full.store(true, Ordering::Release);
        if s.full_since.is_none() {
            s.full_since = Some(now);
        }
    }

    fn mark_not_full(&self, now: Instant) {
        let mut s = self.lock_saturation();
        if let Some(start) = s.full_since.take() {
            s.intervals.push_back((start, now));
            if s.intervals.len() > MAX_INTERVALS {
                // Merge the two oldest: the window only ever gets less
                // precise about the distant past.
                if let (Some((a, _)), Some((_, d))) =
                    (s.intervals.pop_front(), s.intervals.pop_front())
                {
                    s.intervals.push_front((a, d));
                }
            }
        }
    }

    /// Fraction of the window up to `now` during which the queue was full.
    pub(crate) fn saturation(&self, now: Instant) -> f64 {
        if !self.ever_full.load(Ordering::Acquire) {
            return 0.0;
        }
        let window = self
            .policy
            .saturation_window
            .min(now.saturating_duration_since(self.created));
        if window.is_zero() {
            return 0.0;
        }
        let from = now.checked_sub(window).unwrap_or(self.created);
        let mut s = self.lock_saturation();
        while s.intervals.front().is_some_and(|(_, end)| *end <= from) {
            s.intervals.pop_front();
        }
        let overlap = |start: Instant, end: Instant| -> Duration {
            end.min(now).saturating_duration_since(start.max(from))
        };
        let mut full: Duration = s.intervals.iter().map(|(a, b)| overlap(*a, *b)).sum();
        if let Some(start) = s.full_since {
            full += overlap(start, now);
        }
        (full.as_secs_f64() / window.as_secs_f64()).clamp(0.0, 1.0)
    }

    pub(crate) fn depth(&self) -> u32 {
        self.depth.load(Ordering::Acquire)
    }

    pub(crate) fn snapshot(&self, host: String, now: Instant) -> LimiterSnapshot {
        LimiterSnapshot {
            host,
            queue_depth: self.depth(),
            max_queue_depth: self.policy.max_queue_depth,
            saturation: self.saturation(now),
            acquired: self.acquired.load(Ordering::Relaxed),
            waited: self.waited.load(Ordering::Relaxed),
            rejected: self.rejected.load(Ordering::Relaxed),
            total_wait: Duration::from_nanos(self.total_wait_nanos.load(Ordering::Relaxed)),
            max_depth_seen: self.max_depth_seen.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests;
