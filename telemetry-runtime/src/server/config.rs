//! Configuration of the metrics and health server, from TOML.
//!
//! Every key is optional; unknown keys are errors (a typo must not silently
//! switch a protection off). Errors name the file, the key and what would be
//! right.
//!
//! ```
//! use telemetry_runtime::config::ServerConfig;
//! // The user's value is the bcrypt hash of "secret" (`htpasswd -nbB prometheus secret`).
//! let config = ServerConfig::from_toml_str(r#"
//!     listen = "127.0.0.1:9464"
//!     allow_sources = ["127.0.0.0/8", "::1/128"]
//!     auth_exempt = ["/health"]
//!
//!     [basic_auth_users]
//!     prometheus = "$2b$04$P7x.CJFlxyRHxdfVyjnqz.Quc6PvwAom2AFJb57EHYKwT8zAZH0nK"
//!
//!     [health]
//!     window = "60s"
//!     max_error_ratio = 0.05
//!     max_p99_latency = "500ms"
//! "#).unwrap();
//! assert_eq!(config.listen.port(), 9464);
//! assert!(config.allow_sources[0].contains("127.0.0.1".parse().unwrap()));
//! assert_eq!(config.health.max_p99_latency, Some(std::time::Duration::from_millis(500)));
//!
//! let err = ServerConfig::from_toml_str("[health]\nmax_error_ratio = 1.5").unwrap_err();
//! assert_eq!(err.to_string(), "health.max_error_ratio: must be between 0 and 1, got 1.5");
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::backends::prometheus::PrometheusOptions;
use crate::core::manifest::Naming;
use crate::server::access::SourceNetwork;
use crate::server::auth::{self, HashError};
use crate::server::routes;

/// Where `/metrics` and the health endpoints listen, and how they are guarded.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Address to bind (default `127.0.0.1:9464`, loopback only; port 0 picks a
    /// free port, which [`crate::server::serve`] reports).
    pub listen: SocketAddr,
    /// Path of the exposition (default `/metrics`): a plain absolute path
    /// (letters, digits, `-`, `.`, `_`, `~` between slashes), not route
    /// syntax such as `/:metrics` or `/{metrics}`, not under `/health`.
    pub metrics_path: String,
    /// User name → bcrypt hash. Empty: no authentication.
    pub basic_auth_users: BTreeMap<String, String>,
    /// Health routes served without authentication, for probes that cannot
    /// send credentials: any of `/health`, `/health/ready` and
    /// `/health/detailed` (default none: every route needs credentials once
    /// a user is configured). The source check still applies.
    pub auth_exempt: Vec<String>,
    /// How long a credential bcrypt accepted is accepted again without
    /// bcrypt (default 5 minutes; zero: no cache, at most 24 hours).
    pub auth_cache_ttl: Duration,
    /// Failed bcrypt verifications allowed per second, and in a burst
    /// (default 10, at least 1). Past it, credentials that are not cached
    /// are answered `429` without running bcrypt.
    pub auth_failures_per_second: u32,
    /// The source networks that may connect (CIDR, IPv4 and IPv6). Empty
    /// (the default): any source. A request from elsewhere gets `403`.
    pub allow_sources: Vec<SourceNetwork>,
    /// Serve HTTPS with this certificate and key.
    pub tls: Option<TlsConfig>,
    /// What `/health/ready` and `/health/detailed` judge.
    pub health: ReadinessCriteria,
    /// Exporter settings.
    pub prometheus: PrometheusOptions,
    /// Serve the live dashboard at `/dashboard` (default true), behind the
    /// same authentication as `/metrics`. See `docs/dashboard.md`.
    pub dashboard: bool,
    /// Accept `POST /-/reload` without credentials when no user is
    /// configured (default false: then the endpoint answers `403`). With
    /// users, the endpoint always needs credentials.
    pub allow_unauthenticated_reload: bool,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 9464)),
            metrics_path: "/metrics".into(),
            basic_auth_users: BTreeMap::new(),
            auth_exempt: Vec::new(),
            auth_cache_ttl: auth::DEFAULT_CACHE_TTL,
            auth_failures_per_second: auth::DEFAULT_FAILURES_PER_SECOND,
            allow_sources: Vec::new(),
            tls: None,
            health: ReadinessCriteria::default(),
            prometheus: PrometheusOptions::default(),
            dashboard: true,
            allow_unauthenticated_reload: false,
        }
    }
}

/// Certificate and key (PEM files) for HTTPS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// Certificate chain, PEM.
    pub cert_file: PathBuf,
    /// Private key, PEM (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

/// The checks behind `/health/ready` (503 when any fails) and
/// `/health/detailed` (pass / warn / fail per adapter and host).
///
/// Ratios and latencies are computed over the last [`window`](Self::window) of
/// traffic; a check is skipped when the window holds fewer than
/// [`min_requests`](Self::min_requests) requests. A value beyond
/// `warn_fraction` of its limit is a warning (reported, still ready).
#[derive(Debug, Clone, PartialEq)]
pub struct ReadinessCriteria {
    /// How far back the checks look (default 60 s).
    pub window: Duration,
    /// Fewest requests in the window for the ratio and latency checks (default 10).
    pub min_requests: u64,
    /// Largest share of failed attempts (5xx or no response) (default 0.5).
    pub max_error_ratio: Option<f64>,
    /// Not ready while any host's circuit breaker is open (default true).
    pub fail_on_breaker_open: bool,
    /// Largest limiter saturation of any host (default none).
    pub max_limiter_saturation: Option<f64>,
    /// Largest p99 attempt latency (default none).
    pub max_p99_latency: Option<Duration>,
    /// Largest share of requests the client itself refused before the wire
    /// (open breaker, limiter rejection, `Retry-After` above the cap), of
    /// attempts plus refusals (default none: a client throttling itself is
    /// doing its job, and the breaker check already covers an open breaker).
    pub max_rejection_ratio: Option<f64>,
    /// Fraction of a limit beyond which a value is a warning (default 0.8).
    pub warn_fraction: f64,
}

impl Default for ReadinessCriteria {
    fn default() -> Self {
        ReadinessCriteria {
            window: Duration::from_secs(60),
            min_requests: 10,
            max_error_ratio: Some(0.5),
            fail_on_breaker_open: true,
            max_limiter_saturation: None,
            max_p99_latency: None,
            max_rejection_ratio: None,
            warn_fraction: 0.8,
        }
    }
}

/// A configuration that could not be read or is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    file: Option<PathBuf>,
    key: Option<String>,
    message: String,
}

impl ConfigError {
    fn at(key: &str, message: impl Into<String>) -> Self {
        ConfigError {
            file: None,
            key: Some(key.to_owned()),
            message: message.into(),
        }
    }
    fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_owned());
        self
    }
    /// The offending key (`health.window`), when one is to blame.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }
    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for ConfigError {}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    listen: Option<String>,
    metrics_path: Option<String>,
    #[serde(default)]
    basic_auth_users: BTreeMap<String, String>,
    auth_exempt: Option<Vec<String>>,
    auth_cache_ttl: Option<String>,
    auth_failures_per_second: Option<i64>,
    allow_sources: Option<Vec<String>>,
    tls_server_config: Option<RawTls>,
    #[serde(default)]
    health: RawHealth,
    #[serde(default)]
    prometheus: RawPrometheus,
    dashboard: Option<bool>,
    allow_unauthenticated_reload: Option<bool>,
    // The sections of the runtime-control layer (`control/`, feature
    // `control`), in the same file: read there, only accepted here.
    client: Option<toml::Value>,
    events: Option<toml::Value>,
    log: Option<toml::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTls {
    cert_file: PathBuf,
    key_file: PathBuf,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawHealth {
    window: Option<String>,
    min_requests: Option<i64>,
    max_error_ratio: Option<f64>,
    fail_on_breaker_open: Option<bool>,
    max_limiter_saturation: Option<f64>,
    max_p99_latency: Option<String>,
    max_rejection_ratio: Option<f64>,
    warn_fraction: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPrometheus {
    naming: Option<String>,
    upkeep_interval: Option<String>,
    #[serde(default)]
    buckets: BTreeMap<String, Vec<f64>>,
}

/// Parses `"800us"`, `"250ms"`, `"1.5s"`, `"2m"`, `"1h"`: the grammar of
/// [`telemetry_vocab::duration`], which the macro's SLO latency targets use
/// too. The error is its message, ready to follow a key
/// (`health.window: ...`).
///
/// ```
/// use telemetry_runtime::config::parse_duration;
/// use std::time::Duration;
/// assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
/// assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
/// assert!(parse_duration("5 parsecs").is_err());
/// ```
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    telemetry_vocab::duration::parse(s).map_err(|e| e.to_string())
}

fn duration_at(key: &str, s: &str) -> Result<Duration, ConfigError> {
    parse_duration(s).map_err(|m| ConfigError::at(key, m))
}

fn ratio_at(key: &str, v: f64) -> Result<f64, ConfigError> {
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(ConfigError::at(
            key,
            format!("must be between 0 and 1, got {v}"),
        ))
    }
}

impl ServerConfig {
    /// Reads and validates a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Self, ConfigError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|e| ConfigError {
            file: Some(path.to_owned()),
            key: None,
            message: format!("cannot read the configuration: {e}"),
        })?;
        Self::from_toml_str(&text).map_err(|e| e.in_file(path))
    }

    /// Parses and validates TOML text.
    pub fn from_toml_str(text: &str) -> Result<Self, ConfigError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ConfigError {
            file: None,
            key: None,
            message: e.to_string().trim_end().to_owned(),
        })?;
        let mut c = ServerConfig::default();
        if let Some(listen) = raw.listen {
            c.listen = listen.parse().map_err(|_| {
                ConfigError::at(
                    "listen",
                    format!("expected an address with a port such as \"127.0.0.1:9464\", got {listen:?}"),
                )
            })?;
        }
        if let Some(path) = raw.metrics_path {
            c.metrics_path = path;
        }
        c.basic_auth_users = raw.basic_auth_users;
        if let Some(paths) = raw.auth_exempt {
            c.auth_exempt = paths;
        }
        if let Some(ttl) = raw.auth_cache_ttl {
            c.auth_cache_ttl = duration_at("auth_cache_ttl", &ttl)?;
        }
        if let Some(n) = raw.auth_failures_per_second {
            c.auth_failures_per_second = u32::try_from(n).map_err(|_| {
                ConfigError::at(
                    "auth_failures_per_second",
                    format!("must be between 1 and {}, got {n}", u32::MAX),
                )
            })?;
        }
        if let Some(sources) = raw.allow_sources {
            if sources.is_empty() {
                return Err(ConfigError::at(
                    "allow_sources",
                    "an empty list would refuse every source; leave the key out to allow any source, or list networks such as \"127.0.0.0/8\"",
                ));
            }
            c.allow_sources = sources
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    s.parse::<SourceNetwork>()
                        .map_err(|e| ConfigError::at(&format!("allow_sources[{i}]"), e.to_string()))
                })
                .collect::<Result<_, _>>()?;
        }
        c.tls = raw.tls_server_config.map(|t| TlsConfig {
            cert_file: t.cert_file,
            key_file: t.key_file,
        });
        let h = raw.health;
        if let Some(w) = h.window {
            c.health.window = duration_at("health.window", &w)?;
        }
        if let Some(n) = h.min_requests {
            c.health.min_requests = u64::try_from(n).map_err(|_| {
                ConfigError::at(
                    "health.min_requests",
                    format!("must not be negative, got {n}"),
                )
            })?;
        }
        if let Some(v) = h.max_error_ratio {
            c.health.max_error_ratio = Some(ratio_at("health.max_error_ratio", v)?);
        }
        if let Some(v) = h.fail_on_breaker_open {
            c.health.fail_on_breaker_open = v;
        }
        if let Some(v) = h.max_limiter_saturation {
            c.health.max_limiter_saturation = Some(ratio_at("health.max_limiter_saturation", v)?);
        }
        if let Some(v) = h.max_rejection_ratio {
            c.health.max_rejection_ratio = Some(ratio_at("health.max_rejection_ratio", v)?);
        }
        if let Some(v) = h.max_p99_latency {
            c.health.max_p99_latency = Some(duration_at("health.max_p99_latency", &v)?);
        }
        if let Some(v) = h.warn_fraction {
            c.health.warn_fraction = ratio_at("health.warn_fraction", v)?;
        }
        let p = raw.prometheus;
        if let Some(n) = p.naming {
            c.prometheus.naming = Some(match n.as_str() {
                "prometheus" => Naming::Prometheus,
                "opentelemetry" => Naming::OpenTelemetry,
                other => {
                    return Err(ConfigError::at(
                        "prometheus.naming",
                        format!("expected \"prometheus\" or \"opentelemetry\", got {other:?}"),
                    ))
                }
            });
        }
        if let Some(u) = p.upkeep_interval {
            c.prometheus.upkeep_interval = duration_at("prometheus.upkeep_interval", &u)?;
        }
        c.prometheus.buckets = p.buckets.into_iter().collect();
        if let Some(on) = raw.dashboard {
            c.dashboard = on;
        }
        c.allow_unauthenticated_reload = raw.allow_unauthenticated_reload.unwrap_or(false);
        if !cfg!(feature = "control") {
            for (key, present) in [
                ("client", raw.client.is_some()),
                ("events", raw.events.is_some()),
                ("log", raw.log.is_some()),
            ] {
                if present {
                    return Err(ConfigError::at(
                        key,
                        "this section is read by the runtime control (feature `control`), which is not built in",
                    ));
                }
            }
        }
        c.validate()?;
        Ok(c)
    }

    /// Checks values that the parser cannot: the metrics path, window and
    /// interval ranges, bcrypt hashes (form and cost), authentication
    /// exemptions and limits, bucket lists, TLS files. A configuration that
    /// passes is accepted by [`router`](crate::server::router) and
    /// [`serve`](crate::server::serve), which never panic on it.
    ///
    /// ```
    /// use telemetry_runtime::config::ServerConfig;
    /// let mut config = ServerConfig::default();
    /// config.metrics_path = "/:metrics".into();
    /// assert_eq!(
    ///     config.validate().unwrap_err().to_string(),
    ///     "metrics_path: \"/:metrics\" is route syntax (a parameter or wildcard), not a path; expected a plain path such as \"/metrics\""
    /// );
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        routes::check_metrics_path(&self.metrics_path)
            .map_err(|m| ConfigError::at("metrics_path", m))?;
        if self.health.window < Duration::from_secs(1) {
            return Err(ConfigError::at(
                "health.window",
                format!("must be at least 1s, got {:?}", self.health.window),
            ));
        }
        if self.prometheus.upkeep_interval < Duration::from_millis(100) {
            return Err(ConfigError::at(
                "prometheus.upkeep_interval",
                format!(
                    "must be at least 100ms, got {:?}",
                    self.prometheus.upkeep_interval
                ),
            ));
        }
        for (user, hash) in &self.basic_auth_users {
            let key = format!("basic_auth_users.{user}");
            if user.is_empty() || user.contains(':') {
                return Err(ConfigError::at(
                    &key,
                    "user names must be non-empty and contain no ':'",
                ));
            }
            let again = format!(
                "hash the password again, for example with `htpasswd -nbBC 10 {user} PASSWORD` (the part after \"{user}:\")"
            );
            match auth::bcrypt_cost(hash) {
                Ok(_) => {}
                Err(HashError::NotBcrypt) => {
                    return Err(ConfigError::at(&key, HashError::NotBcrypt.to_string()))
                }
                Err(HashError::ImpossibleCost(cost)) => {
                    return Err(ConfigError::at(
                        &key,
                        format!("the bcrypt hash of user {user:?} has cost {cost:?}, but bcrypt allows 04 to 31 (the two digits after \"$2b$\"); {again}"),
                    ))
                }
                Err(HashError::Malformed(why)) => {
                    return Err(ConfigError::at(
                        &key,
                        format!("the bcrypt hash of user {user:?} is malformed ({why}); {again}"),
                    ))
                }
            }
        }
        for path in &self.auth_exempt {
            if routes::HEALTH_PATHS.contains(&path.as_str()) {
                continue;
            }
            let why = if *path == self.metrics_path {
                "the exposition cannot be exempt (to serve it without authentication, configure no users)".to_owned()
            } else {
                format!(
                    "{path:?} is not a health route, expected any of {}",
                    routes::HEALTH_PATHS.map(|p| format!("{p:?}")).join(", ")
                )
            };
            return Err(ConfigError::at("auth_exempt", why));
        }
        const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
        if self.auth_cache_ttl > MAX_TTL {
            return Err(ConfigError::at(
                "auth_cache_ttl",
                format!("must be at most 24h, got {:?}", self.auth_cache_ttl),
            ));
        }
        if self.auth_failures_per_second == 0 {
            return Err(ConfigError::at(
                "auth_failures_per_second",
                "must be at least 1: 0 would refuse every login",
            ));
        }
        self.prometheus
            .validate()
            .map_err(|e| ConfigError::at("prometheus.buckets", e.to_string()))?;
        if let Some(tls) = &self.tls {
            for (key, path) in [
                ("tls_server_config.cert_file", &tls.cert_file),
                ("tls_server_config.key_file", &tls.key_file),
            ] {
                if !path.is_file() {
                    return Err(ConfigError::at(
                        key,
                        format!("{} is not a readable file", path.display()),
                    ));
                }
            }
        }
        Ok(())
    }
}
