//! The main job's configuration file (issue 12): `--config FILE` reads the
//! runtime control's TOML file (the server's keys plus `[client.<adapter>]`
//! and `[log]`, `docs/configuration.md`), starts the server from it, applies
//! its control sections to both adapters' clients, and reloads it on
//! SIGHUP, when the file changes and on `POST /-/reload`.
//!
//! `[events]` samples and rate-limits the job's event log (`--log-events`,
//! [`EventLog`]); the metrics, the summary and the event store see every
//! event. A file that cannot be read, does not parse, or does not fit what
//! the job registers (an adapter it does not run, an `[events]` section
//! without `--log-events`) stops the job before any traffic with one line
//! on stderr and exit code 2. Reload errors while it runs are logged to
//! stderr (tracing) and change nothing.

use std::fmt;
use std::io::IsTerminal as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use telemetry_runtime::config::ServerConfig;
use telemetry_runtime::control::{file, Controller, FileWatch, ReloadError};
use telemetry_runtime::server::ServerHandle;
use telemetry_runtime::sink::{
    EventSink, JsonLogSink, RateLimitHandle, RateLimitSink, SamplingHandle, SamplingSink,
};
use telemetry_runtime::AdapterClient;

use crate::store::Shared;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;
use tracing_subscriber::{fmt as log_fmt, reload, EnvFilter, Registry};

/// The log filter until the file's `[log] filter` (or `RUST_LOG`) says
/// otherwise: the control's own messages (reloaded, refused, needs a
/// restart) and nothing else, so a file does not change the job's output
/// unless it asks for logs.
const DEFAULT_FILTER: &str = "telemetry_runtime::control=info";

/// Why the job did not start: one line, for stderr.
#[derive(Debug)]
pub struct ConfigError(String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

impl ConfigError {
    fn new(e: impl fmt::Display) -> Self {
        // One line whatever the error's own text.
        let text = e.to_string();
        let parts: Vec<&str> = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        ConfigError(parts.join(" "))
    }
}

/// The server's configuration: from the file when there is one (its
/// `listen` unless `--listen` overrides it), else the job's defaults
/// (loopback, port 0, no auth).
pub fn server_config(
    path: Option<&Path>,
    listen: Option<SocketAddr>,
) -> Result<ServerConfig, ConfigError> {
    let mut config = match path {
        Some(p) => {
            file::read(p)
                .map_err(|e| ConfigError::new(format!("invalid configuration: {e}")))?
                .server
        }
        None => ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            ..ServerConfig::default()
        },
    };
    if let Some(addr) = listen {
        config.listen = addr;
    }
    Ok(config)
}

/// What keeps the reload triggers alive; dropped at the end of the run.
pub struct Control {
    _controller: Arc<Controller>,
    _sighup: tokio::task::JoinHandle<()>,
    _watch: FileWatch,
}

/// The job's event log: JSON lines on stderr behind a rate limit and a
/// sampler, one chain shared by both adapters, so the file's `[events]`
/// controls it through one pair of handles. Until a file says otherwise it
/// keeps every request and lets a million events a second through.
pub struct EventLog {
    chain: Arc<dyn EventSink>,
    sampling: SamplingHandle,
    rate_limit: RateLimitHandle,
}

impl EventLog {
    /// Every event, as JSON lines on stderr.
    pub fn stderr() -> Self {
        let sampled = SamplingSink::new(1.0, JsonLogSink::stderr());
        let sampling = sampled.handle();
        let limited = RateLimitSink::new(1_000_000.0, 1_000_000, sampled);
        let rate_limit = limited.handle();
        EventLog {
            chain: Arc::new(limited),
            sampling,
            rate_limit,
        }
    }

    /// The log, for an adapter's fan-out.
    pub fn sink(&self) -> Shared {
        Shared(Arc::clone(&self.chain))
    }
}

/// Registers the clients, the log filter and the server with a controller
/// of `path`, applies the file once (an error stops the job), then installs
/// the log subscriber and the triggers. Prints where the configuration
/// came from.
pub async fn start(
    path: &Path,
    server: &ServerHandle,
    started: ServerConfig,
    clients: &[&AdapterClient],
    event_log: Option<&EventLog>,
) -> Result<Control, ConfigError> {
    let initial = std::env::var("RUST_LOG").unwrap_or_else(|_| DEFAULT_FILTER.to_owned());
    let filter =
        EnvFilter::try_new(&initial).map_err(|e| ConfigError::new(format!("RUST_LOG: {e}")))?;
    let (filter, handle) = reload::Layer::<EnvFilter, Registry>::new(filter);
    let controller = Arc::new(Controller::new(path));
    for c in clients {
        controller.add_client(c);
    }
    controller.set_log_filter(handle);
    if let Some(log) = event_log {
        controller.set_sampling(log.sampling.clone());
        controller.set_event_rate_limit(log.rate_limit.clone());
    }
    controller.attach(server, started);
    // Before the subscriber: a refused file is reported once, below.
    controller.reload().await.map_err(|e| match e {
        // Names the file and the position already.
        ReloadError::File(e) => ConfigError::new(format!("invalid configuration: {e}")),
        ReloadError::Refused(why) => {
            ConfigError::new(format!("invalid configuration: {}: {why}", path.display()))
        }
    })?;
    // Reload results (and errors, with the file position) go to stderr.
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(
            log_fmt::layer()
                .with_writer(std::io::stderr)
                .with_ansi(std::io::stderr().is_terminal()),
        )
        .try_init();
    let sighup = controller
        .watch_sighup()
        .map_err(|e| ConfigError::new(format!("cannot handle SIGHUP: {e}")))?;
    let watch = controller
        .watch_file()
        .map_err(|e| ConfigError::new(format!("cannot watch {}: {e}", path.display())))?;
    println!(
        "configuration from {} (reloaded on SIGHUP to pid {}, when the file changes, and on POST {}/-/reload)",
        absolute(path).display(),
        std::process::id(),
        server.base_url()
    );
    Ok(Control {
        _controller: controller,
        _sighup: sighup,
        _watch: watch,
    })
}

fn absolute(path: &Path) -> PathBuf {
    std::path::absolute(path).unwrap_or_else(|_| path.to_owned())
}
