//! Pushes the Prometheus exposition to a Pushgateway, grouped by job and
//! run (feature `push`).
//!
//! A batch run that ends between two scrapes is otherwise lost to
//! Prometheus. [`Pushgateway::push_run`] sends what [`super::render`]
//! renders to `<url>/metrics/job/<job>/run_id/<run id>` with `PUT`, which
//! replaces that group: push at the end of the run, and, with
//! [`Pushgateway::every`], every N seconds while it runs. The run id is a
//! grouping key of the push, never a label of the process's own
//! `/metrics`.
//!
//! The HTTP call is reqwest's blocking client, on a thread of its own so a
//! push from inside an async runtime is safe; it is an ordinary client, not
//! the instrumented one, so a push makes no events.

use std::fmt;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::core::run::Run;

/// Why a push failed.
#[derive(Debug)]
pub enum PushError {
    /// The request failed (connect, timeout, bad URL).
    Http(String),
    /// The Pushgateway answered with this status and body.
    Status(u16, String),
}

impl fmt::Display for PushError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PushError::Http(e) => write!(f, "push to the Pushgateway failed: {e}"),
            PushError::Status(s, body) => {
                write!(f, "the Pushgateway answered {s}: {}", body.trim())
            }
        }
    }
}

impl std::error::Error for PushError {}

/// A Pushgateway to push runs to.
///
/// ```
/// use telemetry_runtime::backends::prometheus::push::Pushgateway;
/// use telemetry_runtime::run::Run;
/// let run = Run::with_id("harvest", "r1", 0);
/// let gw = Pushgateway::new("http://127.0.0.1:9091/");
/// assert_eq!(gw.group_url(&run), "http://127.0.0.1:9091/metrics/job/harvest/run_id/r1");
/// ```
#[derive(Debug, Clone)]
pub struct Pushgateway {
    url: String,
    timeout: Duration,
}

/// Whether `v` can be a path segment as it is.
fn plain_segment(v: &str) -> bool {
    !v.is_empty()
        && v.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
        && v != "."
        && v != ".."
}

/// RFC 4648 URL-safe base64 with `=` padding, which the Pushgateway decodes
/// in a `<label>@base64/<value>` path.
fn base64_url(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(A[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `name/value`, or `name@base64/...` when the value is not a plain segment
/// (the Pushgateway's encoding for slashes and other characters).
fn grouping_pair(name: &str, value: &str) -> String {
    if plain_segment(value) {
        format!("{name}/{value}")
    } else if value.is_empty() {
        format!("{name}@base64/=")
    } else {
        format!("{name}@base64/{}", base64_url(value.as_bytes()))
    }
}

impl Pushgateway {
    /// The Pushgateway at `url` (`http://host:9091`), with a 10 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Pushgateway {
            url: url.into(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Sets the timeout of one push.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The URL of `run`'s group: `<url>/metrics/job/<job>/run_id/<id>`.
    pub fn group_url(&self, run: &Run) -> String {
        format!(
            "{}/metrics/{}/{}",
            self.url.trim_end_matches('/'),
            grouping_pair("job", run.job()),
            grouping_pair("run_id", run.id())
        )
    }

    /// Pushes the current exposition ([`super::render`]) as `run`'s group,
    /// replacing what that group held.
    pub fn push_run(&self, run: &Run) -> Result<(), PushError> {
        self.push_text(run, super::render())
    }

    /// Pushes `body` (Prometheus text format) as `run`'s group.
    pub fn push_text(&self, run: &Run, body: String) -> Result<(), PushError> {
        let url = self.group_url(run);
        let timeout = self.timeout;
        // reqwest's blocking client must not run on an async runtime's
        // thread: give it a thread of its own.
        let call = std::thread::Builder::new()
            .name("telemetry-push".into())
            .spawn(move || -> Result<(), PushError> {
                let client = reqwest::blocking::Client::builder()
                    .timeout(timeout)
                    .build()
                    .map_err(|e| PushError::Http(e.to_string()))?;
                let resp = client
                    .put(&url)
                    .header("content-type", "text/plain; version=0.0.4")
                    .body(body)
                    .send()
                    .map_err(|e| PushError::Http(e.to_string()))?;
                let status = resp.status();
                if status.is_success() {
                    Ok(())
                } else {
                    let text = resp.text().unwrap_or_default();
                    Err(PushError::Status(status.as_u16(), text))
                }
            })
            .map_err(|e| PushError::Http(e.to_string()))?;
        call.join()
            .unwrap_or_else(|_| Err(PushError::Http("the push thread panicked".into())))
    }

    /// Pushes `run` every `interval` on a thread of its own until the
    /// returned handle is stopped or dropped; the final push is the
    /// caller's [`Pushgateway::push_run`] at the end of the run (or
    /// [`PeriodicPush::stop`], which makes one).
    pub fn every(&self, run: &Run, interval: Duration) -> PeriodicPush {
        let (tx, rx) = mpsc::channel::<()>();
        let gw = self.clone();
        let run_of_thread = run.clone();
        let thread = std::thread::Builder::new()
            .name("telemetry-push-every".into())
            .spawn(move || {
                let mut failures = 0u64;
                loop {
                    match rx.recv_timeout(interval) {
                        Err(RecvTimeoutError::Timeout) => {
                            if let Err(e) = gw.push_run(&run_of_thread) {
                                failures += 1;
                                #[cfg(feature = "tracing")]
                                tracing::warn!(error = %e, failures, "periodic push failed");
                                #[cfg(not(feature = "tracing"))]
                                let _ = (e, failures);
                            }
                        }
                        _ => return,
                    }
                }
            })
            .ok();
        PeriodicPush {
            stop: Some(tx),
            thread,
            gateway: self.clone(),
            run: run.clone(),
        }
    }
}

/// The periodic pusher of [`Pushgateway::every`].
#[derive(Debug)]
pub struct PeriodicPush {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
    gateway: Pushgateway,
    run: Run,
}

impl PeriodicPush {
    /// Stops the periodic pushes and makes the final one.
    pub fn stop(mut self) -> Result<(), PushError> {
        self.halt();
        self.gateway.push_run(&self.run)
    }

    fn halt(&mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for PeriodicPush {
    fn drop(&mut self) {
        self.halt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_values_outside_the_plain_set_are_base64() {
        assert_eq!(grouping_pair("job", "a/b"), "job@base64/YS9i");
        assert_eq!(grouping_pair("job", "ab"), "job/ab");
        assert_eq!(base64_url(b"\xfb\xff"), "-_8=");
        assert_eq!(grouping_pair("job", ""), "job@base64/=");
    }
}
