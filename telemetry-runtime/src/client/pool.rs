//! One connection pool for many adapters: [`SharedPool`] wraps a
//! `reqwest::Client` that several [`AdapterClient`](super::AdapterClient)s
//! send through, each with its own limiter, retry policy, breaker, timeout
//! and telemetry.

use std::fmt;

use super::error::ClientError;
use super::redirect::{same_origin_redirects, DEFAULT_REDIRECTS};

/// A pooled reqwest client shared by several adapters' clients (cheap to
/// clone: reqwest's client is an `Arc`).
///
/// Connection settings (DNS overrides, connect timeout, idle pool limits,
/// TLS, user agent, redirects) belong to the pool: set them with
/// [`SharedPool::configure`]. Everything else stays per adapter: give the
/// pool to each [`AdapterClientBuilder::shared_pool`](super::AdapterClientBuilder::shared_pool)
/// and set the limiter, retry, breaker and timeout there (the timeout is
/// applied to each request, not to the shared client).
///
/// ```
/// use telemetry_runtime::client::SharedPool;
/// use telemetry_runtime::{instrumented_adapter, AdapterClient};
///
/// #[instrumented_adapter(name = "crossref")]
/// struct Crossref {}
/// #[instrumented_adapter(name = "datacite")]
/// struct Datacite {}
///
/// let pool = SharedPool::new()?;
/// let crossref = AdapterClient::builder::<Crossref>().shared_pool(&pool).build()?;
/// let datacite = AdapterClient::builder::<Datacite>()
///     .shared_pool(&pool)
///     .timeout(std::time::Duration::from_secs(2))
///     .build()?;
/// # let _ = (crossref, datacite);
/// # Ok::<(), telemetry_runtime::client::ClientError>(())
/// ```
#[derive(Clone)]
pub struct SharedPool {
    http: reqwest::Client,
}

impl fmt::Debug for SharedPool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SharedPool").finish_non_exhaustive()
    }
}

impl SharedPool {
    /// A pool with the client's defaults: reqwest's (rustls, pooling), no
    /// `Referer`, only same-origin redirects (at most 10).
    ///
    /// ```
    /// let pool = telemetry_runtime::client::SharedPool::new()?;
    /// # let _ = pool;
    /// # Ok::<(), telemetry_runtime::client::ClientError>(())
    /// ```
    pub fn new() -> Result<Self, ClientError> {
        Self::configure(|b| b)
    }

    /// A pool with the defaults of [`new`](Self::new), then `f`'s settings
    /// (DNS overrides, connect timeout, pool limits, ...). A timeout set
    /// here bounds every request of every adapter on the pool; prefer the
    /// per-adapter [`timeout`](super::AdapterClientBuilder::timeout).
    ///
    /// ```
    /// use std::time::Duration;
    /// let pool = telemetry_runtime::client::SharedPool::configure(|b| {
    ///     b.connect_timeout(Duration::from_secs(2)).pool_max_idle_per_host(8)
    /// })?;
    /// # let _ = pool;
    /// # Ok::<(), telemetry_runtime::client::ClientError>(())
    /// ```
    pub fn configure(
        f: impl FnOnce(reqwest::ClientBuilder) -> reqwest::ClientBuilder,
    ) -> Result<Self, ClientError> {
        let builder = reqwest::Client::builder()
            .referer(false)
            .redirect(same_origin_redirects(DEFAULT_REDIRECTS));
        let http = f(builder).build().map_err(ClientError::Request)?;
        Ok(SharedPool { http })
    }

    /// A pool over a reqwest client built elsewhere. Its redirect policy is
    /// its own: without the client's same-origin policy, no redirect events
    /// are emitted and reqwest's rules decide which headers cross hosts.
    ///
    /// ```
    /// let pool = telemetry_runtime::client::SharedPool::from_reqwest(reqwest::Client::new());
    /// # let _ = pool;
    /// ```
    pub fn from_reqwest(client: reqwest::Client) -> Self {
        SharedPool { http: client }
    }

    /// The reqwest client (requests sent through it directly are not
    /// observed).
    pub fn reqwest(&self) -> &reqwest::Client {
        &self.http
    }
}
