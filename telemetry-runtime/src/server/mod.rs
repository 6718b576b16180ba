//! The metrics and health server (`server` feature): `/metrics`, `/health`,
//! `/health/ready` and `/health/detailed` over axum, with optional bcrypt
//! basic auth ([`auth`]), source networks ([`access`]) and TLS (rustls),
//! configured by [`ServerConfig`].
//!
//! Each request is checked in this order: the source address against
//! `allow_sources` (`403`), then the credentials unless the route is in
//! `auth_exempt` (`401`, or `429` past the failure limit). `/metrics` ends
//! with the server's own counter of refused requests,
//! `telemetry_server_refused_total{reason="source"|"unauthorized"|"rate_limited"}`.
//!
//! | path | answers |
//! |---|---|
//! | `/metrics` (configurable) | the Prometheus text exposition |
//! | `/health` | `200` while the process serves (liveness) |
//! | `/health/ready` | `200` or `503` by [`ReadinessCriteria`](crate::server::config::ReadinessCriteria) over the window |
//! | `/health/detailed` | `application/health+json`: pass / warn / fail per adapter and host, with reasons |
//! | `/dashboard` (unless `dashboard = false`) | the live dashboard page and its event stream ([`dashboard`]) |
//!
//! The health checks judge the health backend's own state
//! ([`crate::backends::health`]): [`router`] installs its sink as a dispatch
//! observer, so readiness works with or without the Prometheus sink, and
//! breaker and limiter state comes from the live client where one is
//! registered.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use telemetry_runtime::config::ServerConfig;
//! let mut config = ServerConfig::default();
//! config.listen = "127.0.0.1:0".parse()?;
//! let server = telemetry_runtime::server::serve(config).await?;
//! println!("metrics on http://{}/metrics", server.local_addr());
//! server.shutdown().await?;
//! # Ok(()) }
//! ```

pub mod access;
pub mod auth;
pub mod config;
pub mod dashboard;
pub mod health;
mod routes;

use std::fmt;
use std::fmt::Write as _;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::backends::prometheus::{self, PrometheusError};
use crate::server::config::{ConfigError, ServerConfig};
use access::SourceGuard;
use auth::{AuthLimits, BasicAuth};
use health::{HealthMonitor, Status};

/// The content type of the text exposition.
pub const METRICS_CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";
/// The content type of the health documents.
pub const HEALTH_CONTENT_TYPE: &str = "application/health+json";

#[derive(Clone)]
struct AppState {
    monitor: Arc<HealthMonitor>,
    auth: Option<BasicAuth>,
    sources: Arc<SourceGuard>,
}

// --- Runtime control hook (issue 12) -------------------------------------
// The server does not import the control layer: control implements this
// trait and installs itself with `ServerHandle::set_reload_hook`.

/// The path of the reload endpoint (`POST`).
pub const RELOAD_PATH: &str = "/-/reload";

/// What `POST /-/reload` runs: implemented by the runtime control
/// (`control::Controller`), or by the application.
///
/// ```
/// use std::future::Future;
/// use std::pin::Pin;
/// use telemetry_runtime::server::ReloadHook;
/// #[derive(Debug)]
/// struct Nothing;
/// impl ReloadHook for Nothing {
///     fn reload(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
///         Box::pin(async { Ok("nothing to reload".to_string()) })
///     }
/// }
/// ```
pub trait ReloadHook: fmt::Debug + Send + Sync + 'static {
    /// Reloads; `Ok` with a summary (answered `200`), `Err` with why nothing
    /// changed (answered `422`).
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>>;
}

/// The hook the route calls, installed after the router is built.
type ReloadSlot = Arc<std::sync::RwLock<Option<Arc<dyn ReloadHook>>>>;

/// Whether `/-/reload` may run without credentials.
#[derive(Clone)]
struct ReloadState {
    slot: ReloadSlot,
    /// No user configured and `allow_unauthenticated_reload` not set.
    refuse: bool,
}

async fn reload(State(s): State<ReloadState>) -> Response {
    if s.refuse {
        return (
            StatusCode::FORBIDDEN,
            "reload refused: no user is configured; set allow_unauthenticated_reload = true to allow it\n",
        )
            .into_response();
    }
    let hook = s.slot.read().unwrap_or_else(|e| e.into_inner()).clone();
    let Some(hook) = hook else {
        return (StatusCode::NOT_FOUND, "no reload hook is installed\n").into_response();
    };
    match hook.reload().await {
        Ok(summary) => (StatusCode::OK, format!("{summary}\n")).into_response(),
        Err(e) => (StatusCode::UNPROCESSABLE_ENTITY, format!("{e}\n")).into_response(),
    }
}
// --- end of the runtime control hook -------------------------------------

/// What [`router`] builds, and [`serve`] keeps for its handle.
struct Routes {
    router: Router,
    monitor: Arc<HealthMonitor>,
    dashboard: Option<Arc<dashboard::Dashboard>>,
    auth: Option<BasicAuth>,
    sources: Arc<SourceGuard>,
    reload: ReloadSlot,
}

/// The routes, without binding: for embedding into an application's own
/// axum server. Authentication and the source networks from `config`
/// apply as with [`serve`]. With `allow_sources` set, serve the router with
/// `into_make_service_with_connect_info::<SocketAddr>()`: without the peer
/// address every request is refused (`403`). The health monitor samples on
/// a thread of its own from the moment the router is built until the
/// monitor is dropped, so readiness over its window works for an embedded
/// router too.
///
/// # Panics
///
/// When `config` does not pass [`ServerConfig::validate`], with its error;
/// [`try_router`] returns it instead. Nothing that passes validation panics.
///
/// ```
/// use telemetry_runtime::config::ServerConfig;
/// let (router, monitor) = telemetry_runtime::server::router(&ServerConfig::default());
/// # let _ = (router, monitor);
/// ```
pub fn router(config: &ServerConfig) -> (Router, Arc<HealthMonitor>) {
    match try_router(config) {
        Ok(built) => built,
        Err(e) => panic!("invalid server configuration: {e}"),
    }
}

/// [`router`], or the configuration's error.
///
/// ```
/// use telemetry_runtime::config::ServerConfig;
/// let config = ServerConfig { metrics_path: "/{metrics}".into(), ..ServerConfig::default() };
/// assert!(telemetry_runtime::server::try_router(&config).is_err());
/// let config = ServerConfig { metrics_path: "/prom/metrics.txt".into(), ..ServerConfig::default() };
/// assert!(telemetry_runtime::server::try_router(&config).is_ok());
/// ```
pub fn try_router(config: &ServerConfig) -> Result<(Router, Arc<HealthMonitor>), ConfigError> {
    build(config).map(|r| (r.router, r.monitor))
}

/// Samples `monitor` every [`HealthMonitor::sample_interval`] on a thread
/// of its own until the monitor is dropped (the router and every handle to
/// it gone). A thread, not a task: `router()` may be called outside any
/// runtime, and sampling is a few atomic loads under a lock.
fn spawn_sampler(monitor: std::sync::Weak<HealthMonitor>) {
    // If the thread cannot be spawned, readiness still judges the traffic
    // since the start (the window then covers the process's life).
    let _ = std::thread::Builder::new()
        .name("telemetry-health-sampler".into())
        .spawn(move || loop {
            let Some(m) = monitor.upgrade() else {
                return;
            };
            m.sample();
            // Read each time: a reload may change the window.
            let interval = m.sample_interval();
            drop(m);
            std::thread::sleep(interval);
        });
}

fn build(config: &ServerConfig) -> Result<Routes, ConfigError> {
    config.validate()?;
    // Readiness judges the health backend's own state, fed by events.
    crate::backends::health::install();
    let monitor = Arc::new(HealthMonitor::new(config.health.clone()));
    // The sampler belongs to the monitor, not to `serve`: a router embedded
    // in the user's own app samples too.
    spawn_sampler(Arc::downgrade(&monitor));
    let auth = (!config.basic_auth_users.is_empty()).then(|| {
        BasicAuth::with_limits(
            config.basic_auth_users.clone(),
            AuthLimits {
                cache_ttl: config.auth_cache_ttl,
                failures_per_second: config.auth_failures_per_second,
            },
        )
    });
    let sources = Arc::new(SourceGuard::new(config.allow_sources.clone()));
    let reload_slot: ReloadSlot = Arc::default();
    let state = AppState {
        monitor: Arc::clone(&monitor),
        auth: auth.clone(),
        sources: Arc::clone(&sources),
    };
    // Behind the auth layer like every guarded route; without users it
    // refuses unless the configuration allows it.
    let reload_route = Router::new()
        .route(RELOAD_PATH, axum::routing::post(reload))
        .with_state(ReloadState {
            slot: Arc::clone(&reload_slot),
            refuse: auth.is_none() && !config.allow_unauthenticated_reload,
        });
    // Exempt routes go to a router of their own, without the auth layer:
    // exemption is by route, never by comparing request paths.
    let mut guarded = Router::new().route(&config.metrics_path, get(metrics));
    // The dashboard is guarded like the exposition (never exempt).
    let dashboard = config
        .dashboard
        .then(|| dashboard::Dashboard::new(Arc::clone(&monitor)));
    if let Some(d) = &dashboard {
        guarded = guarded.merge(d.router());
    }
    let mut exempt = Router::new();
    for (path, handler) in [
        (routes::LIVE_PATH, get(live)),
        (routes::READY_PATH, get(ready)),
        (routes::DETAILED_PATH, get(detailed)),
    ] {
        if config.auth_exempt.iter().any(|p| p == path) {
            exempt = exempt.route(path, handler);
        } else {
            guarded = guarded.route(path, handler);
        }
    }
    let router = guarded
        .with_state(state.clone())
        .merge(reload_route)
        .route_layer(axum::middleware::from_fn_with_state(
            auth.clone(),
            auth::require,
        ))
        .merge(exempt)
        .with_state(state)
        // Outermost: a refused source costs nothing, bcrypt least of all.
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&sources),
            access::require_allowed_source,
        ));
    Ok(Routes {
        router,
        monitor,
        dashboard,
        auth,
        sources,
        reload: reload_slot,
    })
}

/// The server's own counters, in the text exposition.
fn render_refusals(out: &mut String, auth: Option<&BasicAuth>, sources: &SourceGuard) {
    if !out.is_empty() && !out.ends_with('\n') {
        out.push('\n');
    }
    let (unauthorized, rate_limited) = auth.map_or((0, 0), |a| (a.refused(), a.rate_limited()));
    out.push_str(
        "# HELP telemetry_server_refused_total Requests the metrics and health server refused, by reason.\n\
         # TYPE telemetry_server_refused_total counter\n",
    );
    for (reason, n) in [
        ("source", sources.refused()),
        ("unauthorized", unauthorized),
        ("rate_limited", rate_limited),
    ] {
        // Writing to a String cannot fail.
        let _ = writeln!(
            out,
            "telemetry_server_refused_total{{reason=\"{reason}\"}} {n}"
        );
    }
}

async fn metrics(State(s): State<AppState>) -> Response {
    // Rendering reads atomics and formats text; it does not block on I/O, but
    // with many series it is CPU work, so keep it off the reactor threads.
    let mut body = tokio::task::spawn_blocking(prometheus::render)
        .await
        .unwrap_or_default();
    render_refusals(&mut body, s.auth.as_ref(), &s.sources);
    let mut r = body.into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(METRICS_CONTENT_TYPE),
    );
    r
}

fn health_response(code: StatusCode, body: String) -> Response {
    let mut r = (code, body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(HEALTH_CONTENT_TYPE),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    r
}

async fn live() -> Response {
    health_response(StatusCode::OK, r#"{"status":"pass"}"#.into())
}

async fn ready(State(s): State<AppState>) -> Response {
    let report = s.monitor.evaluate();
    let code = if report.status == Status::Fail {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    let body = serde_json::json!({
        "status": report.status,
        "window_seconds": report.window_seconds,
        "reasons": report.reasons(Status::Warn),
    });
    health_response(code, body.to_string())
}

async fn detailed(State(s): State<AppState>) -> Response {
    let report = s.monitor.evaluate();
    let code = if report.status == Status::Fail {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::OK
    };
    health_response(code, health::to_health_json(&report))
}

/// Why [`serve`] could not start.
#[derive(Debug)]
pub enum ServeError {
    /// The configuration is invalid.
    Config(ConfigError),
    /// The Prometheus options are invalid.
    Prometheus(PrometheusError),
    /// Binding the address failed.
    Bind(SocketAddr, io::Error),
    /// The certificate or key could not be loaded.
    Tls(io::Error),
}

impl fmt::Display for ServeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServeError::Config(e) => write!(f, "invalid server configuration: {e}"),
            ServeError::Prometheus(e) => write!(f, "invalid Prometheus options: {e}"),
            ServeError::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            ServeError::Tls(e) => write!(f, "cannot load the TLS certificate or key: {e}"),
        }
    }
}

impl std::error::Error for ServeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServeError::Config(e) => Some(e),
            ServeError::Prometheus(e) => Some(e),
            ServeError::Bind(_, e) | ServeError::Tls(e) => Some(e),
        }
    }
}

/// A running server. Dropping it leaves the server running for the life of
/// the runtime; [`shutdown`](Self::shutdown) stops it.
#[derive(Debug)]
pub struct ServerHandle {
    addr: SocketAddr,
    tls: bool,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<io::Result<()>>,
    monitor: Arc<HealthMonitor>,
    dashboard: Option<Arc<dashboard::Dashboard>>,
    auth: Option<BasicAuth>,
    sources: Arc<SourceGuard>,
    reload: ReloadSlot,
    rustls: Option<axum_server::tls_rustls::RustlsConfig>,
}

impl ServerHandle {
    /// The dashboard at `/dashboard`, unless the configuration turned it
    /// off: how many clients watch and how many samples it took.
    pub fn dashboard(&self) -> Option<&Arc<dashboard::Dashboard>> {
        self.dashboard.as_ref()
    }
    /// Installs what `POST /-/reload` runs (replacing any before).
    pub fn set_reload_hook(&self, hook: Arc<dyn ReloadHook>) {
        *self.reload.write().unwrap_or_else(|e| e.into_inner()) = Some(hook);
    }
    /// The TLS configuration the server serves with, when it serves HTTPS:
    /// [`RustlsConfig::reload_from_config`](axum_server::tls_rustls::RustlsConfig::reload_from_config)
    /// replaces the certificate for new connections.
    pub fn rustls_config(&self) -> Option<&axum_server::tls_rustls::RustlsConfig> {
        self.rustls.as_ref()
    }
    /// The bound address (the real port when the configuration said 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://addr` or `https://addr`.
    pub fn base_url(&self) -> String {
        format!(
            "{}://{}",
            if self.tls { "https" } else { "http" },
            self.addr
        )
    }
    /// The health monitor behind `/health/ready`.
    pub fn monitor(&self) -> &Arc<HealthMonitor> {
        &self.monitor
    }
    /// The basic authentication in front of the routes, when users are
    /// configured: its counters say how often bcrypt ran
    /// ([`BasicAuth::bcrypt_verifications`]) and how many requests it refused.
    pub fn basic_auth(&self) -> Option<&BasicAuth> {
        self.auth.as_ref()
    }
    /// Requests refused because their source is not in `allow_sources`.
    pub fn refused_sources(&self) -> u64 {
        self.sources.refused()
    }
    /// Stops accepting, lets open requests finish (up to 5 s), and waits.
    pub async fn shutdown(self) -> io::Result<()> {
        self.handle.graceful_shutdown(Some(Duration::from_secs(5)));
        match self.task.await {
            Ok(r) => r,
            Err(e) => Err(io::Error::other(e)),
        }
    }
}

/// Binds `config.listen`, starts serving on the current tokio runtime, and
/// returns once the socket is bound. Also applies `config.prometheus` (if the
/// exporter is not configured yet). The health sampler runs from the router
/// itself (see [`router`]).
pub async fn serve(config: ServerConfig) -> Result<ServerHandle, ServeError> {
    config.validate().map_err(ServeError::Config)?;
    match prometheus::configure(config.prometheus.clone()) {
        Ok(()) | Err(PrometheusError::AlreadyConfigured) => {}
        Err(e) => return Err(ServeError::Prometheus(e)),
    }
    let listener = std::net::TcpListener::bind(config.listen)
        .map_err(|e| ServeError::Bind(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| ServeError::Bind(config.listen, e))?;
    let Routes {
        router,
        monitor,
        dashboard,
        auth,
        sources,
        reload,
    } = build(&config).map_err(ServeError::Config)?;
    let mut rustls_config = None;
    let handle = axum_server::Handle::new();
    // The peer address, for `allow_sources`.
    let service = router.into_make_service_with_connect_info::<SocketAddr>();
    let task = match &config.tls {
        Some(tls) => {
            let rustls =
                axum_server::tls_rustls::RustlsConfig::from_pem_file(&tls.cert_file, &tls.key_file)
                    .await
                    .map_err(ServeError::Tls)?;
            rustls_config = Some(rustls.clone());
            let server = axum_server::from_tcp_rustls(listener, rustls)
                .map_err(|e| ServeError::Bind(addr, e))?
                .handle(handle.clone());
            tokio::spawn(server.serve(service))
        }
        None => {
            let server = axum_server::from_tcp(listener)
                .map_err(|e| ServeError::Bind(addr, e))?
                .handle(handle.clone());
            tokio::spawn(server.serve(service))
        }
    };
    Ok(ServerHandle {
        addr,
        tls: config.tls.is_some(),
        handle,
        task,
        monitor,
        dashboard,
        auth,
        sources,
        reload,
        rustls: rustls_config,
    })
}

/// [`serve`] with the defaults on `127.0.0.1:port` (0 for any free port).
pub async fn serve_loopback(port: u16) -> Result<ServerHandle, ServeError> {
    let config = ServerConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], port)),
        ..ServerConfig::default()
    };
    serve(config).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every path of up to four characters over an alphabet of route syntax
    /// and plain characters: whatever passes validation builds a router
    /// without panicking, and whatever axum would panic on is refused.
    #[test]
    fn no_metrics_path_that_passes_validation_panics_the_router() {
        const ALPHABET: [char; 10] = ['/', ':', '*', '{', '}', '.', 'm', 'h', '%', '-'];
        let mut candidates = vec![String::new()];
        let mut frontier = vec![String::new()];
        for _ in 0..4 {
            frontier = frontier
                .iter()
                .flat_map(|p| {
                    ALPHABET.iter().map(move |c| {
                        let mut next = p.clone();
                        next.push(*c);
                        next
                    })
                })
                .collect();
            candidates.extend(frontier.iter().cloned());
        }
        candidates.extend(
            [
                "/health",
                "/health/",
                "/health/ready",
                "/health/detailed",
                "/healthz",
                "/prom/metrics",
                "/metrics.txt",
                "/{*rest}",
                "/{{x}}",
                "/a/:b",
                "/a/*b",
            ]
            .map(String::from),
        );
        let (mut accepted, mut refused) = (0, 0);
        for path in &candidates {
            let config = ServerConfig {
                metrics_path: path.clone(),
                ..ServerConfig::default()
            };
            if config.validate().is_err() {
                refused += 1;
                assert!(try_router(&config).is_err(), "{path:?}");
                continue;
            }
            accepted += 1;
            let built = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                try_router(&config).is_ok()
            }));
            assert_eq!(
                built.ok(),
                Some(true),
                "router() on the valid path {path:?}"
            );
        }
        assert!(
            accepted > 50 && refused > 10_000,
            "{accepted} accepted, {refused} refused"
        );
    }

    #[test]
    #[should_panic(
        expected = "invalid server configuration: metrics_path: \"/:metrics\" is route syntax"
    )]
    fn router_names_the_invalid_key_when_it_panics() {
        let config = ServerConfig {
            metrics_path: "/:metrics".into(),
            ..ServerConfig::default()
        };
        let _ = router(&config);
    }

    #[test]
    fn the_refusal_counter_is_one_family_after_the_exposition() {
        let sources = SourceGuard::new(Vec::new());
        let mut out = String::from("# TYPE up gauge\nup 1");
        render_refusals(&mut out, None, &sources);
        assert_eq!(
            out,
            "# TYPE up gauge\nup 1\n\
             # HELP telemetry_server_refused_total Requests the metrics and health server refused, by reason.\n\
             # TYPE telemetry_server_refused_total counter\n\
             telemetry_server_refused_total{reason=\"source\"} 0\n\
             telemetry_server_refused_total{reason=\"unauthorized\"} 0\n\
             telemetry_server_refused_total{reason=\"rate_limited\"} 0\n"
        );
    }
}
