//! The reload triggers besides `POST /-/reload`: SIGHUP and file changes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use notify::Watcher as _;

use super::Controller;

/// Events closer together than this are one change (an editor writes a
/// file in several steps, or replaces it by a rename).
const DEBOUNCE: Duration = Duration::from_millis(250);

/// Watches the file while it lives; dropping it stops watching.
pub struct FileWatch {
    _watcher: notify::RecommendedWatcher,
    task: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for FileWatch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileWatch").finish_non_exhaustive()
    }
}

impl Drop for FileWatch {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Controller {
    /// Reloads on every SIGHUP, on the current tokio runtime, for as long
    /// as the returned task runs. Installing the handler replaces the
    /// default action of SIGHUP (terminating the process).
    ///
    /// ```no_run
    /// # async fn run() -> std::io::Result<()> {
    /// # use std::sync::Arc;
    /// let control = Arc::new(telemetry_runtime::control::Controller::new("adapter.toml"));
    /// let _task = control.watch_sighup()?;
    /// # Ok(()) }
    /// ```
    pub fn watch_sighup(self: &Arc<Self>) -> std::io::Result<tokio::task::JoinHandle<()>> {
        use tokio::signal::unix::{signal, SignalKind};
        let mut hup = signal(SignalKind::hangup())?;
        let me = Arc::clone(self);
        Ok(tokio::spawn(async move {
            while hup.recv().await.is_some() {
                // The result is logged and counted by `reload`.
                let _ = me.reload().await;
            }
        }))
    }

    /// Reloads when the file changes (written, replaced or renamed into
    /// place), debounced, on the current tokio runtime. The directory is
    /// watched, not the file, so a file replaced by a rename is still seen.
    ///
    /// ```no_run
    /// # async fn run() -> Result<(), notify::Error> {
    /// # use std::sync::Arc;
    /// let control = Arc::new(telemetry_runtime::control::Controller::new("adapter.toml"));
    /// let _watch = control.watch_file()?;
    /// # Ok(()) }
    /// ```
    pub fn watch_file(self: &Arc<Self>) -> Result<FileWatch, notify::Error> {
        let path = self.path.clone();
        let name = path.file_name().map(|n| n.to_owned());
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => std::path::PathBuf::from("."),
        };
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        let mut watcher =
            notify::recommended_watcher(move |event: notify::Result<notify::Event>| {
                let Ok(event) = event else { return };
                if matches!(event.kind, notify::EventKind::Access(_)) {
                    return;
                }
                if event
                    .paths
                    .iter()
                    .any(|p| p.file_name().map(|n| n.to_owned()) == name)
                {
                    let _ = tx.send(());
                }
            })?;
        watcher.watch(&dir, notify::RecursiveMode::NonRecursive)?;
        let me = Arc::clone(self);
        let task = tokio::spawn(async move {
            while rx.recv().await.is_some() {
                // Quiet for DEBOUNCE: then one reload for the burst.
                loop {
                    match tokio::time::timeout(DEBOUNCE, rx.recv()).await {
                        Ok(Some(())) => continue,
                        Ok(None) => return,
                        Err(_) => break,
                    }
                }
                let _ = me.reload().await;
            }
        });
        Ok(FileWatch {
            _watcher: watcher,
            task,
        })
    }
}
