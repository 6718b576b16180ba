//! The policies a client applies per host: rate limit, breaker, retry and
//! request timeout, as one value that can be replaced while the client runs
//! ([`AdapterClient::replace_policies`](super::AdapterClient::replace_policies)).

use std::time::Duration;

use super::breaker::BreakerPolicy;
use super::limiter::RateLimit;
use super::retry::RetryPolicy;

/// What one `host:port` gets: the defaults of [`ClientPolicies`] with the
/// most specific override applied.
///
/// ```
/// use telemetry_runtime::client::{ClientPolicies, HostOverride, RateLimit};
/// let p = ClientPolicies::default()
///     .with_host("api.test", HostOverride { rate_limit: Some(Some(RateLimit::per_second(2.0))), ..HostOverride::default() });
/// let host = p.policy_for("api.test", 443);
/// assert_eq!(host.rate_limit, Some(RateLimit::per_second(2.0)));
/// assert_eq!(p.policy_for("other.test", 443).rate_limit, None);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct HostPolicy {
    /// The token bucket and wait queue (`None`: unlimited).
    pub rate_limit: Option<RateLimit>,
    /// The circuit breaker (`None`: no breaker).
    pub breaker: Option<BreakerPolicy>,
    /// Attempts and back-off.
    pub retry: RetryPolicy,
    /// Timeout of each wire attempt of a request that sets none itself
    /// (`None`: the builder's `timeout`, 30 s by default).
    pub timeout: Option<Duration>,
}

/// What an override changes; every `None` keeps the default.
///
/// ```
/// use telemetry_runtime::client::HostOverride;
/// // `Some(None)`: this host has no rate limit, whatever the default.
/// let unlimited = HostOverride { rate_limit: Some(None), ..HostOverride::default() };
/// # let _ = unlimited;
/// ```
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostOverride {
    /// `Some(limit)`: this limit (`Some(None)`: none).
    pub rate_limit: Option<Option<RateLimit>>,
    /// `Some(policy)`: this breaker (`Some(None)`: none).
    pub breaker: Option<Option<BreakerPolicy>>,
    /// Another retry policy.
    pub retry: Option<RetryPolicy>,
    /// Another attempt timeout.
    pub timeout: Option<Duration>,
}

/// Every host's policies: the defaults, and overrides per `host` or
/// `host:port` (lowercase; `host:port` wins over `host`, and of two
/// overrides of one name the later wins).
///
/// ```
/// use std::time::Duration;
/// use telemetry_runtime::client::{ClientPolicies, HostOverride, RetryPolicy};
/// let p = ClientPolicies { timeout: Some(Duration::from_secs(5)), ..ClientPolicies::default() }
///     .with_host("slow.test:8080", HostOverride { timeout: Some(Duration::from_secs(60)), ..HostOverride::default() });
/// assert_eq!(p.policy_for("slow.test", 8080).timeout, Some(Duration::from_secs(60)));
/// assert_eq!(p.policy_for("slow.test", 80).timeout, Some(Duration::from_secs(5)));
/// assert!(p.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct ClientPolicies {
    /// The rate limit of every host without an override (default none).
    pub rate_limit: Option<RateLimit>,
    /// The breaker of every host without an override (default
    /// [`BreakerPolicy::default`]).
    pub breaker: Option<BreakerPolicy>,
    /// The retry policy (default [`RetryPolicy::default`]).
    pub retry: RetryPolicy,
    /// The attempt timeout (default none: the builder's).
    pub timeout: Option<Duration>,
    /// `(host or host:port, override)`, in the order given.
    pub hosts: Vec<(String, HostOverride)>,
}

impl Default for ClientPolicies {
    fn default() -> Self {
        ClientPolicies {
            rate_limit: None,
            breaker: Some(BreakerPolicy::default()),
            retry: RetryPolicy::default(),
            timeout: None,
            hosts: Vec::new(),
        }
    }
}

impl ClientPolicies {
    /// Adds an override for `host` (`host` or `host:port`, any case).
    pub fn with_host(mut self, host: &str, policy: HostOverride) -> Self {
        self.hosts.push((host.to_ascii_lowercase(), policy));
        self
    }

    /// The policy of `host:port` (`host` lowercase, as URLs have it).
    pub fn policy_for(&self, host: &str, port: u16) -> HostPolicy {
        let mut p = HostPolicy {
            rate_limit: self.rate_limit.clone(),
            breaker: self.breaker.clone(),
            retry: self.retry.clone(),
            timeout: self.timeout,
        };
        let with_port = format!("{host}:{port}");
        // `host` overrides first, then `host:port` ones over them; within
        // each, in order, so the later given wins.
        let by_host = self.hosts.iter().filter(|(h, _)| h == host);
        let by_host_port = self.hosts.iter().filter(|(h, _)| *h == with_port);
        for (_, o) in by_host.chain(by_host_port) {
            if let Some(l) = &o.rate_limit {
                p.rate_limit = l.clone();
            }
            if let Some(b) = &o.breaker {
                p.breaker = b.clone();
            }
            if let Some(r) = &o.retry {
                p.retry = r.clone();
            }
            if let Some(t) = o.timeout {
                p.timeout = Some(t);
            }
        }
        p
    }

    /// Checks every rate limit and breaker policy (what the client's `build`
    /// checks), naming the host of an override that fails.
    pub fn validate(&self) -> Result<(), String> {
        let check = |what: &str, l: Option<&RateLimit>, b: Option<&BreakerPolicy>| {
            if let Some(l) = l {
                l.validate().map_err(|e| format!("{what}: {e}"))?;
            }
            if let Some(b) = b {
                b.validate().map_err(|e| format!("{what}: {e}"))?;
            }
            Ok::<(), String>(())
        };
        check(
            "default policy",
            self.rate_limit.as_ref(),
            self.breaker.as_ref(),
        )?;
        for (host, o) in &self.hosts {
            check(
                &format!("host {host:?}"),
                o.rate_limit.as_ref().and_then(Option::as_ref),
                o.breaker.as_ref().and_then(Option::as_ref),
            )?;
            if o.timeout == Some(Duration::ZERO) {
                return Err(format!("host {host:?}: a zero timeout fails every request"));
            }
        }
        if self.timeout == Some(Duration::ZERO) {
            return Err("default policy: a zero timeout fails every request".into());
        }
        Ok(())
    }
}

/// What [`AdapterClient::replace_policies`](super::AdapterClient::replace_policies) did to the hosts that had
/// state: each is named (as its `host` label) in one list.
///
/// ```
/// use telemetry_runtime::client::PolicyChange;
/// let c = PolicyChange::default();
/// assert!(c.kept.is_empty() && c.renewed.is_empty());
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PolicyChange {
    /// Hosts whose policy is the same: limiter and breaker kept as they are.
    pub kept: Vec<String>,
    /// Hosts whose policy changed: a fresh limiter (when its rate limit
    /// changed) and a fresh breaker (when its breaker policy changed); the
    /// other part is kept. Requests in flight finish under the old one.
    pub renewed: Vec<String>,
}
