//! The client's builder: reqwest settings, policies, and `build`.

use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use reqwest::header::HeaderName;

use super::breaker::BreakerPolicy;
use super::error::ClientError;
use super::hosts::HostTable;
use super::inner::ClientInner;
use super::limiter::RateLimit;
use super::policy::{ClientPolicies, HostOverride};
use super::pool::SharedPool;
use super::redirect::{same_origin_redirects, DEFAULT_REDIRECTS};
use super::retry::{RetryBudget, RetryPolicy};
use super::AdapterClient;
use crate::core::adapter::AdapterTelemetry;
use crate::core::live::{self, HostStateSource};
use crate::core::propagation::{HeaderInjector, Propagation};
use crate::core::redact::Redactor;

/// Configures an [`AdapterClient`].
///
/// Defaults: reqwest's defaults (rustls, connection pool) with a 30 s
/// timeout per attempt; [`RetryPolicy::default`]; no retry budget; no rate
/// limit; [`BreakerPolicy::default`]; idle per-host state evicted after
/// 5 minutes; no correlation header; the built-in redaction lists.
#[must_use]
pub struct AdapterClientBuilder {
    telemetry: &'static AdapterTelemetry,
    http: reqwest::ClientBuilder,
    budget: Option<RetryBudget>,
    /// Retry, rate limits, breaker, attempt timeout: what a reload may
    /// replace later (`AdapterClient::replace_policies`).
    policies: ClientPolicies,
    idle_ttl: Duration,
    correlation_header: Option<String>,
    redactor: Redactor,
    // --- shared pool (issue 14) ---
    /// Timeout of each wire attempt: the own pool's, or set per request on
    /// a shared pool.
    timeout: Duration,
    /// The pool shared with other adapters' clients, if any.
    pool: Option<SharedPool>,
    /// The first setting given that belongs to the reqwest client (the
    /// pool): refused at `build` when the pool is shared.
    pool_setting: Option<&'static str>,
    // --- end shared pool ---
    propagation: Propagation,
    /// Whether this client opens request and attempt spans.
    spans: bool,
}

impl fmt::Debug for AdapterClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AdapterClientBuilder")
            .field("adapter", &self.telemetry.manifest().name)
            .field("policies", &self.policies)
            .finish_non_exhaustive()
    }
}

impl AdapterClientBuilder {
    /// The defaults listed on the type.
    pub(super) fn new(telemetry: &'static AdapterTelemetry) -> Self {
        AdapterClientBuilder {
            telemetry,
            // No `Referer` ever (it would carry the previous URL's query,
            // secrets included, to the next host), and only same-origin
            // redirects followed (see `max_redirects`).
            http: reqwest::Client::builder()
                .referer(false)
                .redirect(same_origin_redirects(DEFAULT_REDIRECTS)),
            budget: None,
            policies: ClientPolicies::default(),
            idle_ttl: Duration::from_secs(300),
            correlation_header: None,
            redactor: Redactor::new(),
            timeout: Duration::from_secs(30),
            pool: None,
            pool_setting: None,
            propagation: Propagation::Global,
            spans: true,
        }
    }

    /// Applies a setting of the reqwest client; `setting` names it in the
    /// error `build` returns when the pool is shared.
    fn map_http(
        mut self,
        setting: &'static str,
        f: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Self {
        self.http = f(self.http);
        self.pool_setting.get_or_insert(setting);
        self
    }

    /// Timeout of each wire attempt (default 30 s), from sending to the end
    /// of the body; a request's own
    /// [`timeout`](super::RequestBuilder::timeout) wins, then a host
    /// policy's. On the client's own pool it is the reqwest client's
    /// timeout (nothing to set per request); on a
    /// [`shared_pool`](Self::shared_pool) it is set on each request, so it
    /// is this client's there too.
    pub fn timeout(mut self, d: Duration) -> Self {
        self.timeout = d;
        self
    }

    /// Sends through `pool`, a connection pool shared with other adapters'
    /// clients, instead of a pool of this client's own. The limiter, retry
    /// policy, breaker, timeout, correlation header, redaction and telemetry
    /// stay this client's. Settings of the reqwest client itself
    /// (`connect_timeout`, `resolve`, `user_agent`, `max_redirects`,
    /// `pool_*`, `configure_reqwest`) are the pool's: given here as well,
    /// `build` fails with [`ClientError::InvalidConfig`] naming the first.
    ///
    /// ```
    /// use telemetry_runtime::client::SharedPool;
    /// use telemetry_runtime::{instrumented_adapter, AdapterClient};
    /// #[instrumented_adapter(name = "orcid")]
    /// struct Orcid {}
    /// let pool = SharedPool::new()?;
    /// let orcid = AdapterClient::builder::<Orcid>().shared_pool(&pool).build()?;
    /// assert!(AdapterClient::builder::<Orcid>()
    ///     .shared_pool(&pool)
    ///     .user_agent("x")
    ///     .build()
    ///     .is_err());
    /// # let _ = orcid;
    /// # Ok::<(), telemetry_runtime::client::ClientError>(())
    /// ```
    pub fn shared_pool(mut self, pool: &SharedPool) -> Self {
        self.pool = Some(pool.clone());
        self
    }

    /// Connect timeout.
    pub fn connect_timeout(self, d: Duration) -> Self {
        self.map_http("connect_timeout", |b| b.connect_timeout(d))
    }

    /// How long idle pooled connections are kept.
    pub fn pool_idle_timeout(self, d: Duration) -> Self {
        self.map_http("pool_idle_timeout", |b| b.pool_idle_timeout(d))
    }

    /// Idle pooled connections kept per host.
    pub fn pool_max_idle_per_host(self, n: usize) -> Self {
        self.map_http("pool_max_idle_per_host", |b| b.pool_max_idle_per_host(n))
    }

    /// The `User-Agent` header.
    pub fn user_agent(self, ua: &str) -> Self {
        let ua = ua.to_owned();
        self.map_http("user_agent", |b| b.user_agent(ua))
    }

    /// Resolves `domain` to `addr` instead of asking DNS (the port of `addr`
    /// is ignored when the URL names one): how many host names map onto one
    /// local simulator.
    pub fn resolve(self, domain: &str, addr: SocketAddr) -> Self {
        let domain = domain.to_owned();
        self.map_http("resolve", |b| b.resolve(&domain, addr))
    }

    /// Follows at most `n` redirects (default 10; 0 returns every 3xx to the
    /// caller). Only same-origin redirects (same scheme, host and port) are
    /// followed: a redirect to another origin comes back as the 3xx
    /// response itself, so no header of the request (an API key, a token)
    /// and no URL secret reaches a host the caller did not name. No
    /// `Referer` is ever sent.
    pub fn max_redirects(self, n: usize) -> Self {
        self.map_http("max_redirects", |b| b.redirect(same_origin_redirects(n)))
    }

    /// Any other reqwest setting (a `redirect` policy given here replaces
    /// the same-origin one: then reqwest's own rules apply, which strip
    /// `Authorization` and `Cookie` on a cross-host hop but not other secret
    /// headers such as `X-Api-Key`).
    pub fn configure_reqwest(
        self,
        f: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Self {
        self.map_http("configure_reqwest", f)
    }

    /// The retry policy.
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.policies.retry = policy;
        self
    }

    /// Every policy at once (retry, rate limits, breaker, attempt timeout,
    /// per-host overrides), replacing what `retry`, `rate_limit`,
    /// `host_rate_limit`, `host_unlimited`, `breaker` and `no_breaker` set
    /// before. The same value [`AdapterClient::replace_policies`] takes
    /// while the client runs.
    ///
    /// ```
    /// use telemetry_runtime::client::{AdapterClient, ClientPolicies, RateLimit};
    /// # use telemetry_runtime::instrumented_adapter;
    /// # #[instrumented_adapter(name = "docs_policies")] struct Api {}
    /// let client = AdapterClient::builder::<Api>()
    ///     .policies(ClientPolicies { rate_limit: Some(RateLimit::per_second(5.0)), ..ClientPolicies::default() })
    ///     .build()?;
    /// assert_eq!(client.policies().rate_limit, Some(RateLimit::per_second(5.0)));
    /// # Ok::<(), telemetry_runtime::client::ClientError>(())
    /// ```
    pub fn policies(mut self, policies: ClientPolicies) -> Self {
        self.policies = policies;
        self
    }

    /// A retry budget shared by all this client's requests.
    pub fn retry_budget(mut self, budget: RetryBudget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// The rate limit of every host without an override.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.policies.rate_limit = Some(limit);
        self
    }

    /// The rate limit of `host` (a host name, or `host:port`; the more
    /// specific wins).
    pub fn host_rate_limit(mut self, host: &str, limit: RateLimit) -> Self {
        self.policies = self.policies.with_host(
            host,
            HostOverride {
                rate_limit: Some(Some(limit)),
                ..HostOverride::default()
            },
        );
        self
    }

    /// No rate limit for `host`, whatever the default.
    pub fn host_unlimited(mut self, host: &str) -> Self {
        self.policies = self.policies.with_host(
            host,
            HostOverride {
                rate_limit: Some(None),
                ..HostOverride::default()
            },
        );
        self
    }

    /// The circuit breaker of every host.
    pub fn breaker(mut self, policy: BreakerPolicy) -> Self {
        self.policies.breaker = Some(policy);
        self
    }

    /// No circuit breaker.
    pub fn no_breaker(mut self) -> Self {
        self.policies.breaker = None;
        self
    }

    /// How long a host's state (limiter, breaker) is kept after its last use.
    pub fn idle_host_ttl(mut self, ttl: Duration) -> Self {
        self.idle_ttl = ttl;
        self
    }

    /// Sends each logical request's correlation id in this header.
    pub fn correlation_header(mut self, name: &str) -> Self {
        self.correlation_header = Some(name.to_owned());
        self
    }

    /// How each wire attempt's trace context is sent (`traceparent`,
    /// `tracestate` of its attempt span): [`Propagation::Global`] (the
    /// default: the injector installed with
    /// [`set_global_injector`](crate::core::propagation::set_global_injector),
    /// which the `otlp` pipeline installs), [`Propagation::Off`], or a
    /// [`Propagation::Custom`] injector.
    ///
    /// ```
    /// use telemetry_runtime::core::propagation::Propagation;
    /// # use telemetry_runtime::{instrumented_adapter, AdapterClient};
    /// # #[instrumented_adapter(name = "quiet")] struct Quiet {}
    /// let client = AdapterClient::builder::<Quiet>().propagation(Propagation::Off).build()?;
    /// # let _ = client;
    /// # Ok::<(), telemetry_runtime::client::ClientError>(())
    /// ```
    pub fn propagation(mut self, propagation: Propagation) -> Self {
        self.propagation = propagation;
        self
    }

    /// This client's own trace context injector (shorthand for
    /// `propagation(Propagation::Custom(..))`).
    ///
    /// ```
    /// use telemetry_runtime::core::propagation::HeaderInjector;
    /// # use telemetry_runtime::{instrumented_adapter, AdapterClient};
    /// # #[instrumented_adapter(name = "b3")] struct B3 {}
    /// struct Constant;
    /// impl HeaderInjector for Constant {
    ///     fn inject_current(&self, set: &mut dyn FnMut(&str, &str)) { set("x-trace", "1") }
    /// }
    /// let client = AdapterClient::builder::<B3>().propagator(Constant).build()?;
    /// # let _ = client;
    /// # Ok::<(), telemetry_runtime::client::ClientError>(())
    /// ```
    pub fn propagator(self, injector: impl HeaderInjector) -> Self {
        self.propagation(Propagation::Custom(std::sync::Arc::new(injector)))
    }

    /// Whether this client opens its request span and attempt spans
    /// (default `true`; the subscriber's filter still decides whether an
    /// opened span is recorded). `false` switches them off for this client
    /// only, at no cost on the request path, whatever the subscriber: no
    /// span, no span fields, no redacted URL unless an event needs it, and
    /// no trace context sent (there is no span to carry one). Events and
    /// metrics are unchanged.
    ///
    /// ```
    /// # use telemetry_runtime::{instrumented_adapter, AdapterClient};
    /// # #[instrumented_adapter(name = "spanless")] struct Spanless {}
    /// let client = AdapterClient::builder::<Spanless>().spans(false).build()?;
    /// # let _ = client;
    /// # Ok::<(), telemetry_runtime::client::ClientError>(())
    /// ```
    pub fn spans(mut self, on: bool) -> Self {
        self.spans = on;
        self
    }

    /// The redaction lists for URLs in events, spans and errors.
    pub fn redactor(mut self, redactor: Redactor) -> Self {
        self.redactor = redactor;
        self
    }

    /// Builds the client, and registers its per-host state as the adapter's
    /// live host state (held weakly: dropping the client unregisters it).
    pub fn build(self) -> Result<AdapterClient, ClientError> {
        // Every value that passes is one no request can panic on.
        self.policies
            .validate()
            .map_err(ClientError::InvalidConfig)?;
        let correlation_header = match self.correlation_header {
            Some(name) => Some(HeaderName::try_from(name.as_str()).map_err(|_| {
                ClientError::InvalidConfig(format!("`{name}` is not a valid header name"))
            })?),
            None => None,
        };
        // --- shared pool (issue 14) ---
        let timeout_on_pool = self.pool.is_none();
        let http = match (self.pool, self.pool_setting) {
            (Some(_), Some(setting)) => {
                return Err(ClientError::InvalidConfig(format!(
                "`{setting}` is a setting of the shared pool: give it to `SharedPool::configure`"
            )))
            }
            (Some(pool), None) => pool.reqwest().clone(),
            // An own pool carries this client's attempt timeout itself, so
            // a request under it needs no per-request timeout (which reqwest
            // keeps in the request's extensions map: an allocation and a
            // hash insert per request).
            (None, _) => self
                .http
                .timeout(self.timeout)
                .build()
                .map_err(ClientError::Request)?,
        };
        // --- end shared pool ---
        let epoch = Instant::now();
        let epoch_unix_nanos = crate::core::events::now_unix_nanos();
        let inner = Arc::new(ClientInner {
            http,
            telemetry: self.telemetry,
            adapter: self.telemetry.handle(),
            budget: self.budget,
            correlation_header,
            redactor: self.redactor,
            timeout: self.timeout,
            timeout_on_pool,
            spans: self.spans,
            propagation: self.propagation,
            epoch,
            epoch_unix_nanos,
            hosts: HostTable::new(self.telemetry, self.policies, self.idle_ttl, epoch),
        });
        live::add_source(
            self.telemetry.id(),
            Arc::downgrade(&inner) as Weak<dyn HostStateSource>,
        );
        Ok(AdapterClient { inner })
    }
}

#[cfg(test)]
mod tests {
    use super::super::hosts::tests::TEST_TELEMETRY;
    use super::*;

    #[test]
    fn limit_overrides_prefer_host_port_then_host() {
        let inner = AdapterClient::builder_for(&TEST_TELEMETRY)
            .rate_limit(RateLimit::per_second(1.0))
            .host_rate_limit("A.test", RateLimit::per_second(2.0))
            .host_rate_limit("a.test:8080", RateLimit::per_second(4.0))
            .host_unlimited("b.test")
            .build();
        let Ok(client) = inner else {
            panic!("client builds")
        };
        let i = &client.inner.hosts;
        let every = |h: &str, p: u16| i.limit_for(h, p).map(|l| l.refill_interval());
        assert_eq!(every("a.test", 8080), Some(Duration::from_millis(250)));
        assert_eq!(every("a.test", 80), Some(Duration::from_millis(500)));
        assert_eq!(every("b.test", 80), None);
        assert_eq!(every("c.test", 80), Some(Duration::from_secs(1)));
    }

    #[test]
    fn a_built_client_is_its_adapters_live_host_state_until_dropped() {
        let Ok(client) = AdapterClient::builder_for(&LIVE_TELEMETRY)
            .rate_limit(RateLimit::per_second(5.0))
            .breaker(BreakerPolicy::default().consecutive_failures(1))
            .build()
        else {
            panic!("client builds")
        };
        let state = client.inner.hosts.state("live.test", 8080, "http");
        if let Some(b) = &state.breaker {
            b.record(Instant::now(), false, true, |_| {});
        }
        let ours = || {
            live::host_states(LIVE_TELEMETRY.id())
                .unwrap_or_default()
                .into_iter()
                .find(|s| s.host == "live.test:8080")
        };
        assert_eq!(
            ours(),
            Some(live::LiveHostState {
                host: "live.test:8080".into(),
                breaker: Some(crate::core::events::BreakerState::Open),
                limiter_queue_depth: Some(0),
                limiter_saturation: Some(0.0),
                in_flight: Some(0),
            })
        );
        drop(state);
        drop(client);
        assert_eq!(ours(), None, "a dropped client reports nothing");
    }

    // An adapter of its own, so that no other test's hosts or clients show.
    static LIVE_MANIFEST: crate::core::manifest::AdapterManifest =
        crate::core::manifest::AdapterManifest {
            name: "client_unit_live",
            type_name: "ClientUnitLive",
            naming: crate::core::manifest::Naming::Prometheus,
            host_cap: 8,
            labels: &[],
            events: &[],
            slo: None,
            cardinality_budget: 0,
        };
    static LIVE_TELEMETRY: AdapterTelemetry = AdapterTelemetry::new(&LIVE_MANIFEST);
}
