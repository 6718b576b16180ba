//! Runtime control (feature `control`): one TOML file, the server's
//! configuration file extended with `[client.<adapter>]`, `[events]` and
//! `[log]` sections, reloaded while the process runs: on SIGHUP
//! ([`Controller::watch_sighup`]), when the file changes
//! ([`Controller::watch_file`], debounced) and on an authenticated
//! `POST /-/reload` ([`Controller::attach`]).
//!
//! A reload reads and checks the whole file first ([`file::read`]), then
//! checks it against what is registered (adapters, sinks, log filter, the
//! server), then applies every part. An invalid file changes nothing: the
//! error is logged through `tracing` with the file's line and column, and
//! `telemetry_config_reloads_total{result="error"}` counts it. The top
//! layer of the crate: it may import every other (`tests/layers.rs`).
//! Every key, and what can and cannot change at run time: `docs/configuration.md`.
//!
//! ```
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use telemetry_runtime::control::Controller;
//! # use telemetry_runtime::{instrumented_adapter, client::AdapterClient};
//! # #[instrumented_adapter(name = "docs_control")] struct Api {}
//! let path = std::env::temp_dir().join("docs-control.toml");
//! std::fs::write(&path, "[client.docs_control]\nrate_limit = { per_second = 5.0 }\n")?;
//! let client = AdapterClient::builder::<Api>().build()?;
//! let control = Arc::new(Controller::new(&path));
//! control.add_client(&client);
//! control.reload().await?;
//! assert!(client.policies().rate_limit.is_some());
//! # Ok(()) }
//! # tokio::runtime::Runtime::new().unwrap().block_on(run()).unwrap();
//! ```

pub mod file;
mod watch;

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use crate::client::{AdapterClient, ClientPolicies};
use crate::core::reloads::record_config_reload;
use crate::server::auth::BasicAuth;
use crate::server::config::ServerConfig;
use crate::server::health::HealthMonitor;
use crate::server::{ReloadHook, ServerHandle};
use crate::sink::{RateLimitHandle, SamplingHandle};
use file::{ControlConfig, FileError};

pub use watch::FileWatch;

/// Applies a log filter directive string (checked by `EnvFilter` first).
type LogFilterSetter = Box<dyn Fn(&str) -> Result<(), String> + Send + Sync>;

/// A client and the policies its builder gave it (what a file without a
/// section for its adapter restores).
struct ClientEntry {
    client: AdapterClient,
    base: ClientPolicies,
}

/// The server's parts a reload may change, and what it started with.
struct ServerEntry {
    monitor: Arc<HealthMonitor>,
    auth: Option<BasicAuth>,
    rustls: Option<axum_server::tls_rustls::RustlsConfig>,
    started: ServerConfig,
}

#[derive(Default)]
struct Targets {
    clients: BTreeMap<String, Vec<ClientEntry>>,
    sampling: Option<(SamplingHandle, f64)>,
    event_rate_limit: Option<(RateLimitHandle, (f64, u32))>,
    log: Option<(LogFilterSetter, String)>,
    server: Option<ServerEntry>,
}

/// What a reload did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReloadOutcome {
    /// Per adapter: hosts whose state was kept and hosts renewed.
    pub clients: BTreeMap<String, crate::client::PolicyChange>,
    /// Keys that changed in the file but only take effect after a restart
    /// (`listen`, `metrics_path`, ...): logged as a warning.
    pub restart_required: Vec<String>,
}

impl fmt::Display for ReloadOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("configuration reloaded")?;
        for (a, c) in &self.clients {
            write!(
                f,
                "; {a}: {} hosts kept, {} renewed",
                c.kept.len(),
                c.renewed.len()
            )?;
        }
        if !self.restart_required.is_empty() {
            write!(f, "; needs a restart: {}", self.restart_required.join(", "))?;
        }
        Ok(())
    }
}

/// Why a reload changed nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReloadError {
    /// The file could not be read, or is invalid (with its position).
    File(FileError),
    /// The file is valid but cannot be applied to what is registered.
    Refused(String),
}

impl fmt::Display for ReloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReloadError::File(e) => e.fmt(f),
            ReloadError::Refused(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for ReloadError {}

/// Holds what a configuration file controls, and reloads it.
pub struct Controller {
    path: PathBuf,
    targets: Mutex<Targets>,
    /// One reload at a time, whatever triggered it.
    reloading: tokio::sync::Mutex<()>,
}

impl fmt::Debug for Controller {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Controller")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Controller {
    /// A controller of the file at `path`; nothing is read yet.
    pub fn new(path: impl AsRef<Path>) -> Self {
        Controller {
            path: path.as_ref().to_owned(),
            targets: Mutex::new(Targets::default()),
            reloading: tokio::sync::Mutex::new(()),
        }
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn targets(&self) -> std::sync::MutexGuard<'_, Targets> {
        self.targets.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Registers a client: `[client.<its adapter>]` applies to it. Its
    /// policies now are what the section changes, and what a file without
    /// the section restores.
    pub fn add_client(&self, client: &AdapterClient) {
        let name = client.telemetry().manifest().name.to_owned();
        let base = (*client.policies()).clone();
        self.targets()
            .clients
            .entry(name)
            .or_default()
            .push(ClientEntry {
                client: client.clone(),
                base,
            });
    }

    /// Registers the sampling sink `[events] sample_ratio` controls.
    pub fn set_sampling(&self, handle: SamplingHandle) {
        let initial = handle.ratio();
        self.targets().sampling = Some((handle, initial));
    }

    /// Registers the rate-limiting sink `[events] rate_limit_*` controls.
    pub fn set_event_rate_limit(&self, handle: RateLimitHandle) {
        let initial = handle.get();
        self.targets().event_rate_limit = Some((handle, initial));
    }

    /// Registers the log filter `[log] filter` controls: the handle of a
    /// `tracing_subscriber::reload::Layer` around an `EnvFilter`.
    pub fn set_log_filter<S: 'static>(
        &self,
        handle: tracing_subscriber::reload::Handle<tracing_subscriber::EnvFilter, S>,
    ) {
        let initial = handle.with_current(|f| f.to_string()).unwrap_or_default();
        let setter: LogFilterSetter = Box::new(move |directives: &str| {
            let filter = tracing_subscriber::EnvFilter::try_new(directives)
                .map_err(|e| format!("log.filter: {e}"))?;
            handle
                .reload(filter)
                .map_err(|e| format!("log.filter: {e}"))
        });
        self.targets().log = Some((setter, initial));
    }

    /// Registers a running server (its health criteria, users and
    /// certificate) and installs this controller as its `POST /-/reload`.
    /// `started` is the configuration it was started with.
    pub fn attach(self: &Arc<Self>, server: &ServerHandle, started: ServerConfig) {
        self.targets().server = Some(ServerEntry {
            monitor: Arc::clone(server.monitor()),
            auth: server.basic_auth().cloned(),
            rustls: server.rustls_config().cloned(),
            started,
        });
        server.set_reload_hook(Arc::clone(self) as Arc<dyn ReloadHook>);
    }

    /// Reads, checks and applies the file; counts the result in
    /// `telemetry_config_reloads_total{result}` and logs it.
    pub async fn reload(&self) -> Result<ReloadOutcome, ReloadError> {
        let _one = self.reloading.lock().await;
        let result = self.reload_locked().await;
        record_config_reload(result.is_ok());
        match &result {
            Ok(outcome) => {
                tracing::info!(target: "telemetry_runtime::control", file = %self.path.display(), "{outcome}");
                if !outcome.restart_required.is_empty() {
                    tracing::warn!(
                        target: "telemetry_runtime::control",
                        file = %self.path.display(),
                        keys = ?outcome.restart_required,
                        "configuration keys changed that only a restart applies"
                    );
                }
            }
            Err(e) => {
                let (line, column) = match e {
                    ReloadError::File(f) => f.position.unzip(),
                    ReloadError::Refused(_) => (None, None),
                };
                tracing::error!(
                    target: "telemetry_runtime::control",
                    file = %self.path.display(),
                    line,
                    column,
                    "configuration not reloaded, the old one stays: {e}"
                );
            }
        }
        result
    }

    async fn reload_locked(&self) -> Result<ReloadOutcome, ReloadError> {
        let path = self.path.clone();
        let config = tokio::task::spawn_blocking(move || file::read(&path))
            .await
            .map_err(|e| ReloadError::Refused(format!("the reader failed: {e}")))?
            .map_err(ReloadError::File)?;
        // The certificate is read and checked before anything changes.
        let rustls = self
            .targets()
            .server
            .as_ref()
            .and_then(|s| s.rustls.clone());
        let new_tls = match (&config.server.tls, rustls) {
            (Some(tls), Some(current)) => {
                let cert = tokio::fs::read(&tls.cert_file).await.map_err(|e| {
                    ReloadError::Refused(format!(
                        "tls_server_config.cert_file {}: {e}",
                        tls.cert_file.display()
                    ))
                })?;
                let key = tokio::fs::read(&tls.key_file).await.map_err(|e| {
                    ReloadError::Refused(format!(
                        "tls_server_config.key_file {}: {e}",
                        tls.key_file.display()
                    ))
                })?;
                let checked = axum_server::tls_rustls::RustlsConfig::from_pem(cert, key)
                    .await
                    .map_err(|e| ReloadError::Refused(format!("tls_server_config: {e}")))?;
                Some((current, checked))
            }
            _ => None,
        };
        let t = self.targets();
        let plan = plan(&t, &config)?;
        // Everything checked: apply.
        let mut outcome = ReloadOutcome {
            restart_required: plan.restart_required,
            ..ReloadOutcome::default()
        };
        for (adapter, policies) in plan.clients {
            for (entry, p) in t.clients[&adapter].iter().zip(policies) {
                // Validated in `plan`; an error here cannot happen.
                if let Ok(change) = entry.client.replace_policies(p) {
                    let total = outcome.clients.entry(adapter.clone()).or_default();
                    total.kept.extend(change.kept);
                    total.renewed.extend(change.renewed);
                }
            }
        }
        if let Some((h, initial)) = &t.sampling {
            h.set_ratio(config.sample_ratio.unwrap_or(*initial));
        }
        if let Some((h, initial)) = &t.event_rate_limit {
            let (rate, burst) = config.event_rate_limit.unwrap_or(*initial);
            h.set(rate, burst);
        }
        if let Some((set, initial)) = &t.log {
            // Checked in `file::parse` (and the initial one was in use).
            if let Err(e) = set(config.log_filter.as_deref().unwrap_or(initial)) {
                tracing::error!(target: "telemetry_runtime::control", "{e}");
            }
        }
        if let Some(s) = &t.server {
            s.monitor.set_criteria(config.server.health.clone());
            if let Some(auth) = &s.auth {
                auth.replace_users(config.server.basic_auth_users.clone());
            }
        }
        if let Some((current, checked)) = new_tls {
            current.reload_from_config(checked.get_inner());
        }
        Ok(outcome)
    }
}

/// The checked plan of a reload: each registered client's new policies.
struct Plan {
    clients: BTreeMap<String, Vec<ClientPolicies>>,
    restart_required: Vec<String>,
}

/// Checks `config` against what is registered; changes nothing.
fn plan(t: &Targets, config: &ControlConfig) -> Result<Plan, ReloadError> {
    let refuse = |m: String| Err(ReloadError::Refused(m));
    for adapter in config.clients.keys() {
        if !t.clients.contains_key(adapter) {
            let known: Vec<&str> = t.clients.keys().map(String::as_str).collect();
            return refuse(format!(
                "client.{adapter}: no client of adapter `{adapter}` is registered (registered: {})",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            ));
        }
    }
    if config.sample_ratio.is_some() && t.sampling.is_none() {
        return refuse("events.sample_ratio: no sampling sink is registered".into());
    }
    if config.event_rate_limit.is_some() && t.event_rate_limit.is_none() {
        return refuse("events.rate_limit_per_second: no rate-limiting sink is registered".into());
    }
    if config.log_filter.is_some() && t.log.is_none() {
        return refuse("log.filter: no reloadable log filter is registered".into());
    }
    let mut clients = BTreeMap::new();
    for (adapter, entries) in &t.clients {
        let mut all = Vec::new();
        for e in entries {
            let p = match config.clients.get(adapter) {
                Some(section) => section.apply_to(&e.base),
                None => e.base.clone(),
            };
            p.validate()
                .map_err(|m| ReloadError::Refused(format!("client.{adapter}: {m}")))?;
            all.push(p);
        }
        clients.insert(adapter.clone(), all);
    }
    let mut restart_required = Vec::new();
    if let Some(s) = &t.server {
        let (old, new) = (&s.started, &config.server);
        match (s.auth.is_some(), new.basic_auth_users.is_empty()) {
            (true, true) => {
                return refuse(
                    "basic_auth_users: the server started with users; removing them all would switch authentication off, which only a restart does".into(),
                )
            }
            (false, false) => {
                return refuse(
                    "basic_auth_users: the server started without users; switching authentication on needs a restart".into(),
                )
            }
            _ => {}
        }
        if old.tls.is_some() != new.tls.is_some() {
            return refuse(
                "tls_server_config: switching between HTTP and HTTPS needs a restart".into(),
            );
        }
        let mut differs = |key: &str, changed: bool| {
            if changed {
                restart_required.push(key.to_owned());
            }
        };
        differs("listen", old.listen != new.listen);
        differs("metrics_path", old.metrics_path != new.metrics_path);
        differs("auth_exempt", old.auth_exempt != new.auth_exempt);
        differs("auth_cache_ttl", old.auth_cache_ttl != new.auth_cache_ttl);
        differs(
            "auth_failures_per_second",
            old.auth_failures_per_second != new.auth_failures_per_second,
        );
        differs(
            "allow_sources",
            format!("{:?}", old.allow_sources) != format!("{:?}", new.allow_sources),
        );
        differs(
            "allow_unauthenticated_reload",
            old.allow_unauthenticated_reload != new.allow_unauthenticated_reload,
        );
        differs(
            "prometheus",
            format!("{:?}", old.prometheus) != format!("{:?}", new.prometheus),
        );
    }
    Ok(Plan {
        clients,
        restart_required,
    })
}

/// `POST /-/reload` runs [`Controller::reload`].
impl ReloadHook for Controller {
    fn reload(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            Controller::reload(self)
                .await
                .map(|o| o.to_string())
                .map_err(|e| e.to_string())
        })
    }
}
