//! The count of configuration reloads, `telemetry_config_reloads_total{result}`:
//! the control layer records, the Prometheus backend renders. In the core
//! so that neither has to import the other.

use std::sync::atomic::{AtomicU64, Ordering};

static SUCCESS: AtomicU64 = AtomicU64::new(0);
static ERROR: AtomicU64 = AtomicU64::new(0);

/// Counts one reload: applied (`true`) or refused as invalid (`false`).
///
/// ```
/// use telemetry_runtime::core::reloads;
/// let (ok, _) = reloads::config_reloads();
/// reloads::record_config_reload(true);
/// assert!(reloads::config_reloads().0 > ok);
/// ```
pub fn record_config_reload(applied: bool) {
    let c = if applied { &SUCCESS } else { &ERROR };
    c.fetch_add(1, Ordering::Relaxed);
}

/// `(success, error)` reloads so far in this process.
pub fn config_reloads() -> (u64, u64) {
    (
        SUCCESS.load(Ordering::Relaxed),
        ERROR.load(Ordering::Relaxed),
    )
}
