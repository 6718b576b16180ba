//! Live per-host state that a component owns and can report on demand (the
//! client's breakers and limiters), for layers that want the state now
//! rather than the last event about it (health, dashboards).
//!
//! The client registers a source per adapter when it is built; readers call
//! [`host_states`]. Sources are held weakly: a dropped client disappears.
//! Reading costs the request path nothing: the owner reports state it keeps
//! anyway (the client's per-host in-use count, its breakers and limiters).

use std::sync::{Arc, Mutex, Weak};

use crate::core::events::BreakerState;
use crate::core::id::AdapterId;

/// The state of one host now, as its owner sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct LiveHostState {
    /// The `host` label value.
    pub host: String,
    /// The circuit breaker's state, if the host has a breaker.
    pub breaker: Option<BreakerState>,
    /// Requests waiting in the host's limiter queue, if it has a limiter.
    pub limiter_queue_depth: Option<u32>,
    /// The limiter's saturation over its window, `0.0..=1.0`, if it has one.
    pub limiter_saturation: Option<f64>,
    /// Logical requests to the host in progress now (waiting in the
    /// limiter, on the wire or between retries), if the owner counts them.
    pub in_flight: Option<u32>,
}

/// Something that can say the current state of its hosts.
pub trait HostStateSource: Send + Sync + 'static {
    /// The current state of every host it tracks.
    fn host_states(&self) -> Vec<LiveHostState>;
}

type Sources = Vec<(AdapterId, Weak<dyn HostStateSource>)>;
static SOURCES: Mutex<Sources> = Mutex::new(Vec::new());

/// Registers `source` for `adapter` (held weakly).
pub fn add_source(adapter: AdapterId, source: Weak<dyn HostStateSource>) {
    let mut s = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
    s.retain(|(_, w)| w.strong_count() > 0);
    s.push((adapter, source));
}

/// The live state of `adapter`'s hosts from every source still alive, or
/// `None` when no source is registered for it.
///
/// ```
/// use telemetry_runtime::core::live;
/// use telemetry_runtime::AdapterId;
/// assert!(live::host_states(AdapterId::UNEXPORTED).is_none());
/// ```
pub fn host_states(adapter: AdapterId) -> Option<Vec<LiveHostState>> {
    let sources: Vec<Arc<dyn HostStateSource>> = {
        let s = SOURCES.lock().unwrap_or_else(|e| e.into_inner());
        s.iter()
            .filter(|(id, _)| *id == adapter)
            .filter_map(|(_, w)| w.upgrade())
            .collect()
    };
    if sources.is_empty() {
        return None;
    }
    Some(sources.iter().flat_map(|s| s.host_states()).collect())
}
