//! Per-host circuit breaker: closed, open, half-open.
//!
//! The state machine is synchronous and takes the current time as an
//! argument, so it is tested without clocks; the client calls it around each
//! wire attempt and turns the transitions it reports into
//! `BreakerTransitionEvent`s.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU32, AtomicU8, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::core::events::BreakerState;

/// When a host's breaker opens, and how it recovers.
///
/// Closed → open after `consecutive_failures` failed attempts in a row, or
/// when at least `min_requests` attempts in the last `window` failed at
/// `failure_ratio` or more. Open → half-open once `open_timeout` has passed
/// (on the next call). Half-open lets `half_open_probes` attempts through at a
/// time; that many successes close the breaker, one failure opens it again.
///
/// A failure is a connect error, timeout or reset, or a 5xx or 408 status. A
/// 429 is not: the host is alive and asking to slow down, which the rate
/// limiter and `Retry-After` handle.
///
/// ```
/// use std::time::Duration;
/// use telemetry_runtime::client::BreakerPolicy;
/// let p = BreakerPolicy::default()
///     .consecutive_failures(3)
///     .failure_ratio(0.5, 20, Duration::from_secs(10))
///     .open_timeout(Duration::from_secs(5))
///     .half_open_probes(2);
/// # let _ = p;
/// ```
// PartialEq: a reload compares a host's old and new policy (client/hosts.rs).
#[derive(Debug, Clone, PartialEq)]
pub struct BreakerPolicy {
    pub(crate) consecutive_failures: u32,
    pub(crate) failure_ratio: Option<(f64, u32, Duration)>,
    pub(crate) open_timeout: Duration,
    pub(crate) half_open_probes: u32,
}

impl Default for BreakerPolicy {
    /// 5 consecutive failures, no ratio rule, 30 s open, 1 probe.
    fn default() -> Self {
        BreakerPolicy {
            consecutive_failures: 5,
            failure_ratio: None,
            open_timeout: Duration::from_secs(30),
            half_open_probes: 1,
        }
    }
}

impl BreakerPolicy {
    /// Opens after `n` failed attempts in a row (at least 1).
    pub fn consecutive_failures(mut self, n: u32) -> Self {
        self.consecutive_failures = n.max(1);
        self
    }

    /// Also opens when, over the last `window`, at least `min_requests`
    /// attempts were made and the failed fraction is `ratio` or more.
    pub fn failure_ratio(mut self, ratio: f64, min_requests: u32, window: Duration) -> Self {
        // NaN stays NaN through `clamp`: `validate` refuses it.
        self.failure_ratio = Some((ratio.clamp(0.0, 1.0), min_requests.max(1), window));
        self
    }

    /// How long the breaker stays open before letting probes through.
    pub fn open_timeout(mut self, d: Duration) -> Self {
        self.open_timeout = d;
        self
    }

    /// Concurrent probes allowed while half-open, and successes needed to
    /// close (at least 1).
    pub fn half_open_probes(mut self, n: u32) -> Self {
        self.half_open_probes = n.max(1);
        self
    }

    /// Checks the policy: a failure ratio must be a number in `0.0..=1.0`
    /// with a non-zero window. The client's `build` runs it.
    ///
    /// ```
    /// use telemetry_runtime::client::BreakerPolicy;
    /// use std::time::Duration;
    /// assert!(BreakerPolicy::default().validate().is_ok());
    /// let nan = BreakerPolicy::default().failure_ratio(f64::NAN, 10, Duration::from_secs(1));
    /// assert!(nan.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), String> {
        if let Some((ratio, _, window)) = self.failure_ratio {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(format!(
                    "a breaker's failure ratio must be between 0.0 and 1.0, got {ratio}"
                ));
            }
            if window.is_zero() {
                return Err("a breaker's failure-ratio window must be longer than zero".into());
            }
        }
        Ok(())
    }
}

/// A state change, with what caused it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Transition {
    /// Previous state.
    pub(crate) from: BreakerState,
    /// New state.
    pub(crate) to: BreakerState,
    /// `consecutive_failures`, `failure_ratio`, `open_timeout_elapsed`,
    /// `probe_failed`, `probes_succeeded`.
    pub(crate) reason: &'static str,
}

/// The answer to "may this attempt go out?".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admission {
    /// Yes; `probe` says whether it is a half-open probe (its outcome decides
    /// the state).
    Allowed {
        /// A half-open probe.
        probe: bool,
    },
    /// No: the breaker is open (or every probe slot is taken).
    Rejected,
}

#[derive(Debug)]
struct Inner {
    opened_at: Option<Instant>,
    probes_in_flight: u32,
    probe_successes: u32,
    /// `(when, failed)` per attempt in the ratio window, oldest first.
    window: VecDeque<(Instant, bool)>,
}

/// One host's breaker.
///
/// A closed breaker answers the common case without its lock: admitting an
/// attempt, and a success that ends (or continues) no failure streak while
/// no ratio rule keeps a window, read the state (an atomic, written only
/// under the lock) and touch only the streak counter. Everything else (a
/// failure, a probe, an open breaker) takes the lock. So the host's
/// requests do not serialise on one mutex twice each (and a closed-breaker
/// request costs no lock at all).
#[derive(Debug)]
pub(crate) struct HostBreaker {
    policy: BreakerPolicy,
    /// The state ([`BreakerState::code`]): written only under `inner`'s lock, read
    /// without it by the closed fast paths.
    state: AtomicU8,
    /// Failed attempts in a row while closed; a success resets it without
    /// the lock, a failure counts it under the lock.
    consecutive: AtomicU32,
    inner: Mutex<Inner>,
}

/// The closed state's code ([`BreakerState::code`]), for the fast paths.
const CLOSED: u8 = 0;

/// Entries kept for the ratio rule at most, whatever the traffic: the ratio
/// over the newest 4096 attempts is as good a signal, and memory stays bounded.
const MAX_WINDOW_ENTRIES: usize = 4096;

impl HostBreaker {
    pub(crate) fn new(policy: BreakerPolicy) -> Self {
        HostBreaker {
            policy,
            state: AtomicU8::new(BreakerState::Closed.code()),
            consecutive: AtomicU32::new(0),
            inner: Mutex::new(Inner {
                opened_at: None,
                probes_in_flight: 0,
                probe_successes: 0,
                window: VecDeque::new(),
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes the state; only under the lock (`_g` is its guard), so
    /// the lock's holders see the state they change.
    fn set_state(&self, _g: &mut Inner, state: BreakerState) {
        self.state.store(state.code(), Ordering::Release);
    }

    pub(crate) fn state(&self) -> BreakerState {
        BreakerState::from_code(self.state.load(Ordering::Acquire))
    }

    /// The state as a call at `now` would find it, without changing it: an
    /// open breaker whose open interval has run out reports half-open (the
    /// next call is a probe; [`admit`](Self::admit) makes the transition).
    pub(crate) fn state_at(&self, now: Instant) -> BreakerState {
        let g = self.lock();
        match self.state() {
            BreakerState::Open if self.open_timeout_elapsed(&g, now) => BreakerState::HalfOpen,
            state => state,
        }
    }

    /// Whether an open breaker may let a probe through at `now`.
    fn open_timeout_elapsed(&self, g: &Inner, now: Instant) -> bool {
        let elapsed = g
            .opened_at
            .map_or(Duration::MAX, |t| now.saturating_duration_since(t));
        elapsed >= self.policy.open_timeout
    }

    /// Asks to send an attempt at `now`; a transition to half-open is
    /// reported through `on_transition`.
    pub(crate) fn admit(&self, now: Instant, on_transition: impl FnOnce(Transition)) -> Admission {
        if self.state.load(Ordering::Acquire) == CLOSED {
            return Admission::Allowed { probe: false };
        }
        let mut g = self.lock();
        match self.state() {
            BreakerState::Closed => Admission::Allowed { probe: false },
            BreakerState::Open => {
                if !self.open_timeout_elapsed(&g, now) {
                    return Admission::Rejected;
                }
                self.set_state(&mut g, BreakerState::HalfOpen);
                g.probes_in_flight = 1;
                g.probe_successes = 0;
                drop(g);
                on_transition(Transition {
                    from: BreakerState::Open,
                    to: BreakerState::HalfOpen,
                    reason: "open_timeout_elapsed",
                });
                Admission::Allowed { probe: true }
            }
            BreakerState::HalfOpen => {
                if g.probes_in_flight < self.policy.half_open_probes {
                    g.probes_in_flight += 1;
                    Admission::Allowed { probe: true }
                } else {
                    Admission::Rejected
                }
            }
        }
    }

    /// Gives back a probe slot whose attempt never reached the host (the
    /// limiter rejected it, or the call was dropped).
    pub(crate) fn release_probe(&self) {
        let mut g = self.lock();
        if self.state() == BreakerState::HalfOpen {
            g.probes_in_flight = g.probes_in_flight.saturating_sub(1);
        }
    }

    /// Records the outcome of an admitted attempt.
    pub(crate) fn record(
        &self,
        now: Instant,
        probe: bool,
        failed: bool,
        on_transition: impl FnOnce(Transition),
    ) {
        // A success of a closed breaker with no ratio window: the streak
        // ends, nothing else can change.
        if !failed
            && !probe
            && self.policy.failure_ratio.is_none()
            && self.state.load(Ordering::Acquire) == CLOSED
        {
            if self.consecutive.load(Ordering::Relaxed) != 0 {
                self.consecutive.store(0, Ordering::Relaxed);
            }
            return;
        }
        let mut g = self.lock();
        let transition = match self.state() {
            BreakerState::HalfOpen if probe => {
                g.probes_in_flight = g.probes_in_flight.saturating_sub(1);
                if failed {
                    Some(self.open(&mut g, now, BreakerState::HalfOpen, "probe_failed"))
                } else {
                    g.probe_successes += 1;
                    if g.probe_successes >= self.policy.half_open_probes {
                        self.set_state(&mut g, BreakerState::Closed);
                        self.consecutive.store(0, Ordering::Relaxed);
                        g.window.clear();
                        Some(Transition {
                            from: BreakerState::HalfOpen,
                            to: BreakerState::Closed,
                            reason: "probes_succeeded",
                        })
                    } else {
                        None
                    }
                }
            }
            // A straggler admitted before the breaker opened: its outcome is
            // stale, the state already reflects the failures.
            BreakerState::HalfOpen | BreakerState::Open => None,
            BreakerState::Closed => {
                let consecutive = if failed {
                    self.consecutive.fetch_add(1, Ordering::Relaxed) + 1
                } else {
                    self.consecutive.store(0, Ordering::Relaxed);
                    0
                };
                if let Some((_, _, window)) = self.policy.failure_ratio {
                    while g
                        .window
                        .front()
                        .is_some_and(|(t, _)| now.saturating_duration_since(*t) > window)
                        || g.window.len() >= MAX_WINDOW_ENTRIES
                    {
                        g.window.pop_front();
                    }
                    g.window.push_back((now, failed));
                }
                if failed && consecutive >= self.policy.consecutive_failures {
                    Some(self.open(&mut g, now, BreakerState::Closed, "consecutive_failures"))
                } else if failed && self.ratio_tripped(&g) {
                    Some(self.open(&mut g, now, BreakerState::Closed, "failure_ratio"))
                } else {
                    None
                }
            }
        };
        drop(g);
        if let Some(t) = transition {
            on_transition(t);
        }
    }

    fn ratio_tripped(&self, g: &Inner) -> bool {
        let Some((ratio, min_requests, _)) = self.policy.failure_ratio else {
            return false;
        };
        let total = g.window.len();
        if total < min_requests as usize {
            return false;
        }
        let failed = g.window.iter().filter(|(_, f)| *f).count();
        failed as f64 / total as f64 >= ratio
    }

    fn open(
        &self,
        g: &mut Inner,
        now: Instant,
        from: BreakerState,
        reason: &'static str,
    ) -> Transition {
        self.set_state(g, BreakerState::Open);
        g.opened_at = Some(now);
        g.probes_in_flight = 0;
        g.probe_successes = 0;
        self.consecutive.store(0, Ordering::Relaxed);
        g.window.clear();
        Transition {
            from,
            to: BreakerState::Open,
            reason,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect() -> (std::cell::RefCell<Vec<Transition>>,) {
        (std::cell::RefCell::new(Vec::new()),)
    }

    #[test]
    fn opens_probes_and_closes() {
        let b = HostBreaker::new(
            BreakerPolicy::default()
                .consecutive_failures(2)
                .open_timeout(Duration::from_secs(10)),
        );
        let (seen,) = collect();
        let t0 = Instant::now();
        let push = |t: Transition| seen.borrow_mut().push(t);
        assert_eq!(b.admit(t0, push), Admission::Allowed { probe: false });
        b.record(t0, false, true, push);
        b.record(t0, false, true, push);
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(
            b.admit(t0 + Duration::from_secs(1), push),
            Admission::Rejected
        );
        let later = t0 + Duration::from_secs(11);
        assert_eq!(b.admit(later, push), Admission::Allowed { probe: true });
        // Only one probe at a time.
        assert_eq!(b.admit(later, push), Admission::Rejected);
        b.record(later, true, false, push);
        assert_eq!(b.state(), BreakerState::Closed);
        let reasons: Vec<_> = seen
            .borrow()
            .iter()
            .map(|t| (t.from, t.to, t.reason))
            .collect();
        assert_eq!(
            reasons,
            vec![
                (
                    BreakerState::Closed,
                    BreakerState::Open,
                    "consecutive_failures"
                ),
                (
                    BreakerState::Open,
                    BreakerState::HalfOpen,
                    "open_timeout_elapsed"
                ),
                (
                    BreakerState::HalfOpen,
                    BreakerState::Closed,
                    "probes_succeeded"
                ),
            ]
        );
    }

    #[test]
    fn failed_probe_reopens_and_success_resets_the_streak() {
        let b = HostBreaker::new(
            BreakerPolicy::default()
                .consecutive_failures(2)
                .open_timeout(Duration::ZERO),
        );
        let t0 = Instant::now();
        b.record(t0, false, true, |_| {});
        b.record(t0, false, false, |_| {});
        b.record(t0, false, true, |_| {});
        assert_eq!(b.state(), BreakerState::Closed, "the streak was broken");
        b.record(t0, false, true, |_| {});
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(t0, |_| {}), Admission::Allowed { probe: true });
        let mut last = None;
        b.record(t0, true, true, |t| last = Some(t.reason));
        assert_eq!(last, Some("probe_failed"));
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn ratio_rule_needs_min_requests() {
        let b = HostBreaker::new(
            BreakerPolicy::default()
                .consecutive_failures(100)
                .failure_ratio(0.5, 4, Duration::from_secs(60)),
        );
        let t0 = Instant::now();
        b.record(t0, false, true, |_| {});
        b.record(t0, false, false, |_| {});
        b.record(t0, false, true, |_| {});
        assert_eq!(b.state(), BreakerState::Closed, "3 < min_requests");
        let mut reason = None;
        b.record(t0, false, true, |t| reason = Some(t.reason));
        assert_eq!(reason, Some("failure_ratio"));
    }

    #[test]
    fn state_at_reports_half_open_once_the_open_interval_ran_out() {
        let b = HostBreaker::new(
            BreakerPolicy::default()
                .consecutive_failures(1)
                .open_timeout(Duration::from_secs(10)),
        );
        let t0 = Instant::now();
        assert_eq!(b.state_at(t0), BreakerState::Closed);
        b.record(t0, false, true, |_| {});
        assert_eq!(b.state_at(t0 + Duration::from_secs(9)), BreakerState::Open);
        let later = t0 + Duration::from_secs(10);
        assert_eq!(b.state_at(later), BreakerState::HalfOpen);
        // Reading changed nothing: the breaker is still open until a call.
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.admit(later, |_| {}), Admission::Allowed { probe: true });
    }

    #[test]
    fn concurrent_failures_open_the_breaker_once_and_successes_need_no_lock() {
        let b = HostBreaker::new(
            BreakerPolicy::default()
                .consecutive_failures(50)
                .open_timeout(Duration::from_secs(60)),
        );
        let now = Instant::now();
        assert_eq!(CLOSED, BreakerState::Closed.code(), "the fast paths' code");
        let opened = AtomicU32::new(0);
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..100 {
                        b.record(now, false, true, |t| {
                            assert_eq!((t.from, t.to), (BreakerState::Closed, BreakerState::Open));
                            opened.fetch_add(1, Ordering::Relaxed);
                        });
                    }
                });
            }
        });
        assert_eq!(opened.load(Ordering::Relaxed), 1, "one transition");
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(
            b.admit(now, |_| panic!("no transition")),
            Admission::Rejected
        );

        // Closed again: successes from many threads keep it closed and the
        // streak at zero, so the next failures count from one.
        let b = HostBreaker::new(BreakerPolicy::default().consecutive_failures(3));
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..1000 {
                        assert_eq!(
                            b.admit(now, |_| panic!()),
                            Admission::Allowed { probe: false }
                        );
                        b.record(now, false, false, |_| panic!("no transition"));
                    }
                });
            }
        });
        b.record(now, false, true, |_| panic!("1 of 3"));
        b.record(now, false, true, |_| panic!("2 of 3"));
        b.record(now, false, false, |_| panic!("the success resets"));
        b.record(now, false, true, |_| panic!("1 of 3 again"));
        b.record(now, false, true, |_| panic!("2 of 3 again"));
        let mut opened = false;
        b.record(now, false, true, |_| opened = true);
        assert!(opened, "the third failure in a row opens it");
    }

    #[test]
    fn released_probe_frees_the_slot() {
        let b = HostBreaker::new(
            BreakerPolicy::default()
                .consecutive_failures(1)
                .open_timeout(Duration::ZERO),
        );
        let t0 = Instant::now();
        b.record(t0, false, true, |_| {});
        assert_eq!(b.admit(t0, |_| {}), Admission::Allowed { probe: true });
        assert_eq!(b.admit(t0, |_| {}), Admission::Rejected);
        b.release_probe();
        assert_eq!(b.admit(t0, |_| {}), Admission::Allowed { probe: true });
    }
}
