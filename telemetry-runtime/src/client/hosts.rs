//! The host table: the state the client keeps per `host:port` (its rate
//! limiter and circuit breaker), created on first use and evicted once idle.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;

use super::breaker::HostBreaker;
use super::limiter::{HostLimiter, LimiterSnapshot};
use super::policy::{ClientPolicies, HostPolicy, PolicyChange};
use crate::core::adapter::AdapterTelemetry;
use crate::core::events::BreakerState;
use crate::core::labels::hash::FastHashBuilder;
use crate::core::labels::{HostKey, LabelValue};
use crate::core::live::LiveHostState;

/// Host name → per-port states.
/// The hasher is the runtime's one fast seeded hash (`labels::hash`):
/// several times cheaper than SipHash on short host names, and the random
/// seed keeps collisions unpredictable to whoever chooses the URLs.
type HostMap = HashMap<Box<str>, Vec<Arc<HostState>>, FastHashBuilder>;

/// What the client keeps for one `host:port`.
pub(super) struct HostState {
    pub(super) host: Box<str>,
    port: u16,
    /// The `host` label value (`host`, or `host:port` off the default port).
    pub(super) label: LabelValue,
    /// The host before cap folding, for host filters (`HostKey`).
    pub(super) key: HostKey,
    /// The policy this state was made for: a request keeps the state it
    /// started with, so it finishes under this policy whatever a reload
    /// does meanwhile.
    pub(super) policy: HostPolicy,
    /// Shared with the state that replaces this one when a reload changes
    /// the host's policy but not its rate limit (likewise the breaker).
    pub(super) limiter: Option<Arc<HostLimiter>>,
    pub(super) breaker: Option<Arc<HostBreaker>>,
    /// Milliseconds since the client's epoch of the last use.
    last_used_ms: AtomicU64,
    /// Logical requests using this state now.
    active: AtomicU32,
}

impl HostState {
    /// The host as errors and snapshots name it (the `host` label value).
    pub(super) fn display(&self) -> String {
        self.label.as_str().to_owned()
    }

    /// Stamps the last use, `ms` after the client's epoch.
    #[inline]
    pub(super) fn mark_used(&self, ms: u64) {
        self.last_used_ms.store(ms, Ordering::Relaxed);
    }
}

/// Marks a host state in use for the life of a logical request. The
/// state's `last_used_ms` is stamped when the request starts and after every
/// wire attempt (from instants read anyway), so the guard reads no clock.
pub(super) struct ActiveGuard<'a> {
    state: &'a HostState,
}

impl<'a> ActiveGuard<'a> {
    /// Counts `state` in use until the guard drops.
    #[inline]
    pub(super) fn enter(state: &'a HostState) -> Self {
        state.active.fetch_add(1, Ordering::AcqRel);
        ActiveGuard { state }
    }
}

impl Drop for ActiveGuard<'_> {
    fn drop(&mut self) {
        self.state.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// [`ActiveGuard`] over an owned state: what the direct path's future holds
/// (it owns the state rather than borrowing it from a future around it).
pub(super) struct OwnedActive(Arc<HostState>);

impl OwnedActive {
    /// Counts `state` in use until the guard drops.
    #[inline]
    pub(super) fn enter(state: Arc<HostState>) -> Self {
        state.active.fetch_add(1, Ordering::AcqRel);
        OwnedActive(state)
    }
}

impl std::ops::Deref for OwnedActive {
    type Target = HostState;
    fn deref(&self) -> &HostState {
        &self.0
    }
}

impl Drop for OwnedActive {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Every host's state, and the policies a new host gets.
pub(super) struct HostTable {
    /// For the `host` label of a new host.
    telemetry: &'static AdapterTelemetry,
    /// The policies a new host gets. Read only when a host is added (under
    /// the map's write lock) and replaced under the same lock, so a host is
    /// never added under the old policies after a replacement renewed the
    /// others (see [`replace_policies`](Self::replace_policies)).
    policies: ArcSwap<ClientPolicies>,
    idle_ttl: Duration,
    /// The client's epoch: idle times are milliseconds since it.
    epoch: Instant,
    /// Read-locked once per logical request (one atomic read-modify-write
    /// each way, uncontended: about a fifth of the instructions of an
    /// `ArcSwap` load, measured with callgrind); write-locked only when a
    /// host is added or evicted, which is rare.
    map: RwLock<HostMap>,
    last_sweep_ms: AtomicU64,
}

impl HostTable {
    /// An empty table.
    pub(super) fn new(
        telemetry: &'static AdapterTelemetry,
        policies: ClientPolicies,
        idle_ttl: Duration,
        epoch: Instant,
    ) -> Self {
        HostTable {
            telemetry,
            policies: ArcSwap::from_pointee(policies),
            idle_ttl,
            epoch,
            map: RwLock::new(HashMap::with_hasher(FastHashBuilder::new())),
            last_sweep_ms: AtomicU64::new(0),
        }
    }

    pub(super) fn now_ms(&self) -> u64 {
        self.ms_at(Instant::now())
    }

    /// Milliseconds from the epoch to `t`.
    pub(super) fn ms_at(&self, t: Instant) -> u64 {
        Self::ms_of(t.saturating_duration_since(self.epoch))
    }

    /// Milliseconds of `since`, a time after the epoch (the client's epoch
    /// is the table's).
    pub(super) fn ms_of(since: Duration) -> u64 {
        u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
    }

    /// The rate limit of `host:port`: an override for `host:port`, else one
    /// for `host`, else the default.
    #[cfg(test)]
    pub(super) fn limit_for(&self, host: &str, port: u16) -> Option<super::limiter::RateLimit> {
        self.policies.load().policy_for(host, port).rate_limit
    }

    /// The policies new hosts get now.
    pub(super) fn policies(&self) -> Arc<ClientPolicies> {
        self.policies.load_full()
    }

    /// Replaces the policies (the caller validated them). Every host with
    /// state whose policy is unchanged keeps its state as it is; a host
    /// whose policy changed gets a new state, with a fresh limiter if its
    /// rate limit changed and a fresh breaker if its breaker policy changed
    /// (the other one is carried over). Requests in flight hold the old
    /// state and finish under it; the next request of the host finds the
    /// new one. All under the write lock, so no request sees half of it.
    pub(super) fn replace_policies(&self, policies: ClientPolicies) -> PolicyChange {
        let mut map = self.write();
        let mut change = PolicyChange::default();
        for states in map.values_mut() {
            for s in states.iter_mut() {
                let policy = policies.policy_for(&s.host, s.port);
                if policy == s.policy {
                    change.kept.push(s.display());
                    continue;
                }
                change.renewed.push(s.display());
                let limiter = if policy.rate_limit == s.policy.rate_limit {
                    s.limiter.clone()
                } else {
                    policy
                        .rate_limit
                        .clone()
                        .map(|l| Arc::new(HostLimiter::new(l)))
                };
                let breaker = if policy.breaker == s.policy.breaker {
                    s.breaker.clone()
                } else {
                    policy
                        .breaker
                        .clone()
                        .map(|b| Arc::new(HostBreaker::new(b)))
                };
                *s = Arc::new(HostState {
                    host: s.host.clone(),
                    port: s.port,
                    label: s.label,
                    key: s.key,
                    policy,
                    limiter,
                    breaker,
                    last_used_ms: AtomicU64::new(s.last_used_ms.load(Ordering::Relaxed)),
                    active: AtomicU32::new(0),
                });
            }
        }
        self.policies.store(Arc::new(policies));
        change.kept.sort();
        change.renewed.sort();
        change
    }

    /// The map, read-locked. A panic while it was write-locked cannot leave
    /// it half-changed (writers only insert and `retain`), so a poisoned lock
    /// is used as it is.
    fn read(&self) -> RwLockReadGuard<'_, HostMap> {
        self.map.read().unwrap_or_else(|e| e.into_inner())
    }

    /// The map, write-locked (see [`read`](Self::read)).
    fn write(&self) -> RwLockWriteGuard<'_, HostMap> {
        self.map.write().unwrap_or_else(|e| e.into_inner())
    }

    /// The state of `host:port`, created on first use.
    pub(super) fn state(&self, host: &str, port: u16, scheme: &str) -> Arc<HostState> {
        if let Some(s) = self
            .read()
            .get(host)
            .and_then(|v| v.iter().find(|s| s.port == port))
        {
            return s.clone();
        }
        self.add(host, port, scheme)
    }

    #[cold]
    fn add(&self, host: &str, port: u16, scheme: &str) -> Arc<HostState> {
        let mut map = self.write();
        if let Some(s) = map
            .get(host)
            .and_then(|v| v.iter().find(|s| s.port == port))
        {
            return s.clone();
        }
        let default_port = match scheme {
            "https" => 443,
            "http" => 80,
            _ => 0,
        };
        let label = self.telemetry.hosts().intern_host_port(
            host,
            (port != default_port).then_some(port),
            scheme,
        );
        let key = if port != default_port {
            HostKey::of_label(&format!("{host}:{port}"))
        } else {
            HostKey::of_label(host)
        };
        let policy = self.policies.load().policy_for(host, port);
        let state = Arc::new(HostState {
            host: host.into(),
            port,
            label,
            key,
            limiter: policy
                .rate_limit
                .clone()
                .map(|l| Arc::new(HostLimiter::new(l))),
            breaker: policy
                .breaker
                .clone()
                .map(|b| Arc::new(HostBreaker::new(b))),
            policy,
            last_used_ms: AtomicU64::new(self.now_ms()),
            active: AtomicU32::new(0),
        });
        self.evict_from(&mut map);
        map.entry(host.into()).or_default().push(state.clone());
        state
    }

    /// Removes idle entries from `map`; returns how many.
    fn evict_from(&self, map: &mut HostMap) -> usize {
        let now = self.now_ms();
        let ttl = u64::try_from(self.idle_ttl.as_millis()).unwrap_or(u64::MAX);
        self.last_sweep_ms.store(now, Ordering::Relaxed);
        let mut evicted = 0;
        map.retain(|_, states| {
            states.retain(|s| {
                let idle = now.saturating_sub(s.last_used_ms.load(Ordering::Relaxed));
                let keep = s.active.load(Ordering::Acquire) > 0 || idle < ttl;
                if !keep {
                    evicted += 1;
                }
                keep
            });
            !states.is_empty()
        });
        evicted
    }

    /// Evicts idle hosts; unless `force`, only when half a TTL has passed
    /// since the last sweep.
    pub(super) fn sweep(&self, force: bool) -> usize {
        self.sweep_at(self.now_ms(), force)
    }

    /// [`sweep`](Self::sweep) with the time already read.
    pub(super) fn sweep_at(&self, now: u64, force: bool) -> usize {
        let half_ttl = u64::try_from(self.idle_ttl.as_millis() / 2).unwrap_or(u64::MAX);
        if !force && now.saturating_sub(self.last_sweep_ms.load(Ordering::Relaxed)) < half_ttl {
            return 0;
        }
        self.evict_from(&mut self.write())
    }

    /// Hosts with state held now.
    pub(super) fn len(&self) -> usize {
        self.read().values().map(Vec::len).sum()
    }

    /// One snapshot per host that has a rate limiter, sorted by host.
    pub(super) fn limiter_snapshots(&self, now: Instant) -> Vec<LimiterSnapshot> {
        let mut out: Vec<LimiterSnapshot> = self
            .read()
            .values()
            .flatten()
            .filter_map(|s| s.limiter.as_ref().map(|l| l.snapshot(s.display(), now)))
            .collect();
        out.sort_by(|a, b| a.host.cmp(&b.host));
        out
    }

    /// The breaker state of every host that has a breaker, sorted by host.
    pub(super) fn breaker_states(&self) -> Vec<(String, BreakerState)> {
        let mut out: Vec<_> = self
            .read()
            .values()
            .flatten()
            .filter_map(|s| s.breaker.as_ref().map(|b| (s.display(), b.state())))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// Every host's breaker, limiter and in-use count as of `now`, sorted
    /// by host: what health reports instead of the last event about them.
    /// An open breaker whose open interval ran out shows as half-open.
    /// Requests still running under a state that a reload replaced are not
    /// in its successor's count.
    pub(super) fn live_states(&self, now: Instant) -> Vec<LiveHostState> {
        let mut out: Vec<LiveHostState> = self
            .read()
            .values()
            .flatten()
            .map(|s| LiveHostState {
                host: s.display(),
                breaker: s.breaker.as_ref().map(|b| b.state_at(now)),
                limiter_queue_depth: s.limiter.as_ref().map(|l| l.depth()),
                limiter_saturation: s.limiter.as_ref().map(|l| l.saturation(now)),
                in_flight: Some(s.active.load(Ordering::Relaxed)),
            })
            .collect();
        out.sort_by(|a, b| a.host.cmp(&b.host));
        out
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    use super::super::breaker::BreakerPolicy;
    use super::super::limiter::RateLimit;
    use super::super::policy::HostOverride;

    /// A table with the client's defaults but `idle_ttl`.
    fn table(idle_ttl: Duration) -> HostTable {
        HostTable::new(
            &TEST_TELEMETRY,
            ClientPolicies::default(),
            idle_ttl,
            Instant::now(),
        )
    }

    #[test]
    fn host_hasher_spreads_similar_names() {
        use std::hash::BuildHasher;
        let b = FastHashBuilder::new();
        let hashes: std::collections::HashSet<u64> = (0..1000)
            .map(|i| b.hash_one(format!("h{i}.test").as_str()))
            .collect();
        assert_eq!(hashes.len(), 1000);
        // Same input, same builder, same hash; another seed, another hash.
        assert_eq!(b.hash_one("a.test"), b.hash_one("a.test"));
        assert_ne!(
            b.hash_one("a.test"),
            FastHashBuilder::new().hash_one("a.test")
        );
    }

    #[test]
    fn idle_hosts_are_evicted_but_active_ones_kept() {
        let t = table(Duration::ZERO);
        let a = t.state("a.test", 80, "http");
        let active = ActiveGuard::enter(&a);
        for i in 0..50 {
            t.state(&format!("h{i}.test"), 80, "http");
        }
        // Each insertion swept the previous idle ones (TTL zero).
        assert!(t.len() <= 2, "{}", t.len());
        t.sweep(true);
        assert_eq!(t.len(), 1, "the active host stays");
        drop(active);
        assert_eq!(t.sweep(true), 1);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn live_states_read_breaker_and_limiter_now() {
        let t = HostTable::new(
            &TEST_TELEMETRY,
            ClientPolicies {
                rate_limit: Some(RateLimit::per_second(5.0)),
                breaker: Some(
                    BreakerPolicy::default()
                        .consecutive_failures(1)
                        .open_timeout(Duration::from_secs(10)),
                ),
                ..ClientPolicies::default()
            },
            Duration::from_secs(300),
            Instant::now(),
        );
        let a = t.state("live-a.test", 80, "http");
        let t0 = Instant::now();
        if let Some(b) = &a.breaker {
            b.record(t0, false, true, |_| {});
        }
        let seen = |now: Instant| {
            t.live_states(now)
                .into_iter()
                .find(|s| s.host == a.display())
        };
        let open = LiveHostState {
            host: a.display(),
            breaker: Some(BreakerState::Open),
            limiter_queue_depth: Some(0),
            limiter_saturation: Some(0.0),
            in_flight: Some(0),
        };
        assert_eq!(seen(t0), Some(open.clone()));
        // Once the open interval ran out the next call would probe; reading
        // does not make the transition.
        let half_open = LiveHostState {
            breaker: Some(BreakerState::HalfOpen),
            ..open.clone()
        };
        assert_eq!(seen(t0 + Duration::from_secs(10)), Some(half_open));
        assert_eq!(seen(t0), Some(open));
    }

    /// Opens `host`'s breaker (one failure is enough under `policies`).
    fn open_breaker(t: &HostTable, host: &str) -> Arc<HostState> {
        let s = t.state(host, 80, "http");
        if let Some(b) = &s.breaker {
            b.record(Instant::now(), false, true, |_| {});
        }
        s
    }

    fn one_failure_opens() -> ClientPolicies {
        ClientPolicies {
            rate_limit: Some(RateLimit::per_second(5.0)),
            breaker: Some(BreakerPolicy::default().consecutive_failures(1)),
            ..ClientPolicies::default()
        }
    }

    #[test]
    fn replacing_policies_keeps_the_state_of_unchanged_hosts() {
        let t = HostTable::new(
            &TEST_TELEMETRY,
            one_failure_opens(),
            Duration::from_secs(300),
            Instant::now(),
        );
        let a = open_breaker(&t, "keep-a.test");
        let b = open_breaker(&t, "renew-b.test");
        let new = one_failure_opens().with_host(
            "renew-b.test",
            HostOverride {
                rate_limit: Some(Some(RateLimit::per_second(50.0))),
                ..HostOverride::default()
            },
        );
        let change = t.replace_policies(new);
        assert_eq!(change.kept, vec![a.display()]);
        assert_eq!(change.renewed, vec![b.display()]);
        let a2 = t.state("keep-a.test", 80, "http");
        assert!(Arc::ptr_eq(&a, &a2), "unchanged host: the same state");
        let b2 = t.state("renew-b.test", 80, "http");
        assert!(!Arc::ptr_eq(&b, &b2), "changed host: a new state");
        // Only the rate limit changed: the breaker (open) is carried over,
        // the limiter is new and has the new rate.
        assert_eq!(
            b2.breaker.as_ref().map(|x| x.state()),
            Some(BreakerState::Open)
        );
        assert_eq!(
            b2.limiter
                .as_ref()
                .map(|l| l.snapshot(b2.display(), Instant::now()).acquired),
            Some(0)
        );
        assert_eq!(
            t.limit_for("renew-b.test", 80).map(|l| l.refill_interval()),
            Some(Duration::from_millis(20))
        );
        // The old state, which a request in flight would hold, is untouched.
        assert_eq!(b.policy.rate_limit, Some(RateLimit::per_second(5.0)));
    }

    #[test]
    fn a_changed_breaker_policy_starts_a_closed_breaker() {
        let t = HostTable::new(
            &TEST_TELEMETRY,
            one_failure_opens(),
            Duration::from_secs(300),
            Instant::now(),
        );
        let a = open_breaker(&t, "breaker-a.test");
        let new = ClientPolicies {
            breaker: Some(BreakerPolicy::default().consecutive_failures(2)),
            ..one_failure_opens()
        };
        assert_eq!(t.replace_policies(new).renewed, vec![a.display()]);
        let a2 = t.state("breaker-a.test", 80, "http");
        assert_eq!(
            a2.breaker.as_ref().map(|x| x.state()),
            Some(BreakerState::Closed)
        );
        assert!(
            matches!((&a.limiter, &a2.limiter), (Some(x), Some(y)) if Arc::ptr_eq(x, y)),
            "the rate limit did not change: the limiter is carried over"
        );
        // A host first seen after the replacement gets the new policy.
        let n = t.state("new-host.test", 80, "http");
        assert_eq!(
            n.policy.breaker,
            Some(BreakerPolicy::default().consecutive_failures(2))
        );
    }

    static TEST_MANIFEST: crate::core::manifest::AdapterManifest =
        crate::core::manifest::AdapterManifest {
            name: "client_unit",
            type_name: "ClientUnit",
            naming: crate::core::manifest::Naming::Prometheus,
            host_cap: 8,
            labels: &[],
            events: &[],
            slo: None,
            cardinality_budget: 0,
        };
    /// The adapter of the client's unit tests (the other files' tests use
    /// it too).
    pub(crate) static TEST_TELEMETRY: AdapterTelemetry = AdapterTelemetry::new(&TEST_MANIFEST);
}
