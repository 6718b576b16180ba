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

mod body;
mod breaker;
mod builder;
mod emit;
mod error;
mod execute;
mod fallback;
mod hosts;
mod inner;
mod limiter;
mod policy;
mod pool;
mod redirect;
mod request;
pub mod retry;
mod span;

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

pub use breaker::BreakerPolicy;
pub use builder::AdapterClientBuilder;
pub use error::{ClientError, RateLimitRejection};
pub use fallback::{Fallback, FallbackHit};
pub use limiter::{LimiterSnapshot, RateLimit};
pub use policy::{ClientPolicies, HostOverride, HostPolicy, PolicyChange};
pub use pool::SharedPool;
pub use request::{RequestBuilder, Response};
pub use retry::{RetryBudget, RetryPolicy};

use crate::core::adapter::{AdapterTelemetry, InstrumentedAdapter};
pub use crate::core::events::{BreakerState, CorrelationId};
use inner::ClientInner;

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
            .field("policies", &self.inner.hosts.policies())
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

    /// A HEAD request (idempotent: retried like a GET).
    pub fn head(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(reqwest::Method::HEAD, url)
    }

    /// A PATCH request (not idempotent: not retried unless
    /// `.idempotent(true)`).
    pub fn patch(&self, url: impl reqwest::IntoUrl) -> RequestBuilder {
        self.request(reqwest::Method::PATCH, url)
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
    ) -> impl Future<Output = Result<Response, ClientError>> + Send + 'static {
        Arc::clone(&self.inner).start(Ok(request), None, None)
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

    /// The policies new requests get now (defaults and per-host overrides).
    ///
    /// ```
    /// # use telemetry_runtime::{instrumented_adapter, client::{AdapterClient, RetryPolicy}};
    /// # #[instrumented_adapter(name = "docs_policies_get")] struct Api {}
    /// let client = AdapterClient::builder::<Api>().retry(RetryPolicy::none()).build()?;
    /// assert_eq!(client.policies().retry, RetryPolicy::none());
    /// # Ok::<(), telemetry_runtime::client::ClientError>(())
    /// ```
    pub fn policies(&self) -> Arc<ClientPolicies> {
        self.inner.hosts.policies()
    }

    /// Replaces the policies while the client runs, for every clone of it.
    /// Validated first: an invalid value changes nothing. Requests in flight
    /// finish under the policy they started with; later ones use the new
    /// one. A host whose policy is unchanged keeps its limiter and breaker
    /// state; a host whose rate limit (or breaker policy) changed gets a
    /// fresh limiter (or breaker). What the pool and the builder's
    /// `connect_timeout`, `resolve`, `user_agent` set cannot change here.
    ///
    /// ```
    /// # use telemetry_runtime::{instrumented_adapter, client::{AdapterClient, ClientPolicies, RateLimit}};
    /// # #[instrumented_adapter(name = "docs_replace")] struct Api {}
    /// let client = AdapterClient::builder::<Api>().build()?;
    /// let faster = ClientPolicies { rate_limit: Some(RateLimit::per_second(50.0)), ..ClientPolicies::default() };
    /// let change = client.replace_policies(faster).map_err(telemetry_runtime::client::ClientError::InvalidConfig)?;
    /// assert!(change.renewed.is_empty(), "no host had state yet");
    /// # Ok::<(), telemetry_runtime::client::ClientError>(())
    /// ```
    pub fn replace_policies(&self, policies: ClientPolicies) -> Result<PolicyChange, String> {
        policies.validate()?;
        Ok(self.inner.hosts.replace_policies(policies))
    }

    /// Drops the state of hosts idle for longer than the idle TTL (this also
    /// happens by itself when new hosts arrive); returns how many went.
    pub fn evict_idle(&self) -> usize {
        self.inner.hosts.sweep(true)
    }
}

#[cfg(test)]
mod tests {
    use super::hosts::tests::TEST_TELEMETRY;
    use super::*;

    /// The future of `send()` stays as small as the tuning left it (see
    /// "The client's request future is kept small" in
    /// `docs/architecture.md`), and so does the attempt loop's, which the
    /// full path boxes: a regression here costs every request.
    #[test]
    fn send_future_does_not_grow() {
        let Ok(client) = AdapterClient::builder_for(&TEST_TELEMETRY).build() else {
            panic!("client builds")
        };
        let size = std::mem::size_of_val(&client.get("http://a.test/").send());
        let state = client.inner.hosts.state("a.test", 80, "http");
        let full = std::mem::size_of_val(&Arc::clone(&client.inner).execute(
            None,
            state,
            crate::core::events::HttpMethod::Get,
            80,
            true,
            crate::core::events::CorrelationId::next(),
        ));
        println!("send() future: {size} bytes; the attempt loop's: {full} bytes");
        assert!(
            size <= SEND_FUTURE_BYTES,
            "send() future grew to {size} bytes"
        );
        assert!(
            full <= FULL_PATH_BYTES,
            "the attempt loop's future grew to {full} bytes"
        );
    }

    /// Measured in the test profile (rustc 1.95, x86_64, default and all
    /// features alike), for the future `send()` returns: 1512 bytes before
    /// the client was split into files, 1264 since `settle`'s step is
    /// matched in place and the attempt loop takes one `Call` of
    /// references, 1296 since the wire future is polled with its attempt in
    /// scope for the redirect policy's hop events (the wrapper holds a
    /// closure over references the loop holds anyway), 1304 since the
    /// emitter carries the host's key before cap folding (8 bytes, for host
    /// filters that match folded hosts), 736 since `send()` returns the
    /// logical request's future itself instead of a block around it that
    /// held the client and the request a second time; since the direct path,
    /// `send()` returns either reqwest's future with what its end needs or
    /// the attempt loop's future boxed (`FULL_PATH_BYTES`: 696 bytes, 672
    /// since the attempt span moves into its wire future instead of a clone
    /// of it, 720 since the loop keeps a `Rebuild` (method, version,
    /// timeout) instead of copying a header-less request's URL). The
    /// release figure in `docs/architecture.md` is the
    /// benchmark's.
    const SEND_FUTURE_BYTES: usize = 72;
    /// The attempt loop's future, on the heap on the full path.
    const FULL_PATH_BYTES: usize = 720;
}
