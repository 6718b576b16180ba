//! Passing on the events of some hosts only.

use std::collections::HashSet;
use std::fmt;

use crate::core::events::EventRef;
use crate::core::labels::{normalized_host, HostKey};
use crate::core::sink::{deliver, EventSink};

/// Passes on only events whose host label is (or is not) in a set.
///
/// The hosts given are normalised as host labels are (`API.Example.com:443`
/// is `api.example.com`), so any spelling matches. The match is on the host
/// before cap folding (the event's [`HostKey`](crate::labels::HostKey)): a
/// host past its adapter's cap, whose label is `_OTHER`, still matches its
/// own name, and an explicit `_OTHER` entry matches every event whose label
/// is `_OTHER` (folded hosts, custom events outside a request's scope).
///
/// ```
/// use telemetry_runtime::sink::{HostFilterSink, RecordingSink};
/// let only_api = HostFilterSink::allow(["api.example.com"], RecordingSink::new());
/// let not_health = HostFilterSink::deny(["health.internal"], RecordingSink::new());
/// # let _ = (only_api, not_health);
/// ```
pub struct HostFilterSink<S> {
    hosts: HashSet<String>,
    keys: HashSet<HostKey>,
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
    /// Passes events of these hosts only.
    pub fn allow<I: IntoIterator<Item = H>, H: Into<String>>(hosts: I, inner: S) -> Self {
        let hosts = normalize_all(hosts);
        HostFilterSink {
            keys: keys_of(&hosts),
            hosts,
            allow: true,
            inner,
        }
    }
    /// Passes every event except those of these hosts.
    pub fn deny<I: IntoIterator<Item = H>, H: Into<String>>(hosts: I, inner: S) -> Self {
        let hosts = normalize_all(hosts);
        HostFilterSink {
            keys: keys_of(&hosts),
            hosts,
            allow: false,
            inner,
        }
    }
}

/// Each host as its label would be; an entry that cannot be a host is kept
/// as written (it then matches nothing but itself, `_OTHER` included).
fn normalize_all<I: IntoIterator<Item = H>, H: Into<String>>(hosts: I) -> HashSet<String> {
    hosts
        .into_iter()
        .map(Into::into)
        .map(|h| normalized_host(&h, None).unwrap_or(h))
        .collect()
}

fn keys_of(hosts: &HashSet<String>) -> HashSet<HostKey> {
    hosts.iter().map(|h| HostKey::of_label(h)).collect()
}

impl<S: EventSink> EventSink for HostFilterSink<S> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn on_event(&self, event: EventRef<'_>) {
        let meta = event.meta();
        let listed = self.hosts.contains(meta.host.as_str())
            || (!meta.host_key.is_unknown() && self.keys.contains(&meta.host_key));
        if listed == self.allow {
            deliver(&self.inner, event);
        }
    }
    fn flush(&self) {
        self.inner.flush()
    }
}
