//! The state every clone of an `AdapterClient` shares.

use std::time::Instant;

use reqwest::header::HeaderName;

use super::hosts::HostTable;
use super::retry::RetryBudget;
use crate::core::adapter::AdapterTelemetry;
use crate::core::id::AdapterRef;
use crate::core::live::{HostStateSource, LiveHostState};
use crate::core::redact::Redactor;

/// The client behind the `Arc`: the reqwest client, the host table (which
/// holds the policies), and what events need from the client.
pub(super) struct ClientInner {
    pub(super) http: reqwest::Client,
    pub(super) telemetry: &'static AdapterTelemetry,
    /// The handle events carry (manifest and id), resolved once at build.
    pub(super) adapter: AdapterRef,
    pub(super) budget: Option<RetryBudget>,
    pub(super) correlation_header: Option<HeaderName>,
    /// Timeout of each wire attempt: the reqwest client's own when
    /// `timeout_on_pool`, else set on each request that has none (a shared
    /// pool serves clients with other timeouts).
    pub(super) timeout: std::time::Duration,
    /// Whether the reqwest client was built with `timeout` (an own pool).
    pub(super) timeout_on_pool: bool,
    /// Whether this client opens request and attempt spans.
    pub(super) spans: bool,
    /// Which injector writes each attempt's trace context headers.
    pub(super) propagation: crate::core::propagation::Propagation,
    pub(super) redactor: Redactor,
    pub(super) epoch: Instant,
    /// Wall-clock time of `epoch`, nanoseconds since the Unix epoch: event
    /// timestamps are derived from the monotonic instants the client reads
    /// anyway, instead of one `SystemTime::now` per event.
    pub(super) epoch_unix_nanos: u64,
    /// Per-host state (limiters, breakers).
    pub(super) hosts: HostTable,
}

/// Health reads the client's breakers and limiters as they are now, not as
/// the last event left them (`build` registers every client).
impl HostStateSource for ClientInner {
    fn host_states(&self) -> Vec<LiveHostState> {
        self.hosts.live_states(Instant::now())
    }
}
