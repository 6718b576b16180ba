//! Passing on the events of some hosts only.

use std::collections::HashSet;
use std::fmt;

use crate::core::events::EventRef;
use crate::core::sink::{deliver, EventSink};

/// Passes on only events whose host label is (or is not) in a set.
///
/// ```
/// use telemetry_runtime::sink::{HostFilterSink, RecordingSink};
/// let only_api = HostFilterSink::allow(["api.example.com"], RecordingSink::new());
/// let not_health = HostFilterSink::deny(["health.internal"], RecordingSink::new());
/// # let _ = (only_api, not_health);
/// ```
pub struct HostFilterSink<S> {
    hosts: HashSet<String>,
    allow: bool,
    inner: S,
}

impl<S: EventSink> fmt::Debug for HostFilterSink<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HostFilterSink")
            .field("hosts", &self.hosts)
            .field("allow", &self.allow)
            .field("inner", &self.inner.name())
            .finish()
    }
}

impl<S: EventSink> HostFilterSink<S> {
    /// Passes events of these hosts only (compared with the normalised label,
    /// so give hosts lowercase, without default ports).
    pub fn allow<I: IntoIterator<Item = H>, H: Into<String>>(hosts: I, inner: S) -> Self {
        HostFilterSink {
            hosts: hosts.into_iter().map(Into::into).collect(),
            allow: true,
            inner,
        }
    }
    /// Passes every event except those of these hosts.
    pub fn deny<I: IntoIterator<Item = H>, H: Into<String>>(hosts: I, inner: S) -> Self {
        HostFilterSink {
            hosts: hosts.into_iter().map(Into::into).collect(),
            allow: false,
            inner,
        }
    }
}

impl<S: EventSink> EventSink for HostFilterSink<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn on_event(&self, event: EventRef<'_>) {
        let listed = self.hosts.contains(event.meta().host.as_str());
        if listed == self.allow {
            deliver(&self.inner, event);
        }
    }
    fn flush(&self) {
        self.inner.flush()
    }
}
