//! Process metrics (`process` feature): CPU time, resident and virtual
//! memory, open and maximum file descriptors, start time, read through
//! [`sysinfo`] at render time and exposed under the names the Prometheus
//! client libraries use (`process_cpu_seconds_total`, ...), so existing
//! dashboards work unchanged.
//!
//! ```
//! let mut out = String::new();
//! telemetry_runtime::backends::process::render_into(&mut out);
//! assert!(out.contains("# TYPE process_resident_memory_bytes gauge"));
//! ```

use std::sync::Mutex;

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

use crate::core::catalog::Kind;

/// A point-in-time reading of this process.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSample {
    /// User and system CPU time, seconds.
    pub cpu_seconds: f64,
    /// Resident set size, bytes.
    pub resident_memory_bytes: u64,
    /// Virtual memory size, bytes.
    pub virtual_memory_bytes: u64,
    /// Open file descriptors, when the platform tells.
    pub open_fds: Option<u64>,
    /// The soft limit on file descriptors, when the platform tells.
    pub max_fds: Option<u64>,
    /// Start time, seconds since the Unix epoch.
    pub start_time_seconds: u64,
}

static SYSTEM: Mutex<Option<(System, Pid)>> = Mutex::new(None);

/// Reads this process's metrics; `None` where the platform offers none.
///
/// ```
/// let s = telemetry_runtime::backends::process::sample();
/// if cfg!(target_os = "linux") {
///     let s = s.expect("linux has /proc");
///     assert!(s.resident_memory_bytes > 0);
/// }
/// ```
pub fn sample() -> Option<ProcessSample> {
    let mut guard = SYSTEM.lock().unwrap_or_else(|e| e.into_inner());
    if guard.is_none() {
        let pid = sysinfo::get_current_pid().ok()?;
        let system = System::new().ok()?;
        *guard = Some((system, pid));
    }
    let (system, pid) = guard.as_mut()?;
    system.refresh_processes_specifics(
        ProcessesToUpdate::Some(&[*pid]),
        false,
        ProcessRefreshKind::nothing().with_cpu().with_memory(),
    );
    let p = system.process(*pid)?;
    Some(ProcessSample {
        // sysinfo reports accumulated CPU time in milliseconds.
        cpu_seconds: p.accumulated_cpu_time() as f64 / 1000.0,
        resident_memory_bytes: p.memory(),
        virtual_memory_bytes: p.virtual_memory(),
        open_fds: p.open_files().map(|n| n as u64),
        max_fds: p.open_files_limit().map(|n| n as u64),
        start_time_seconds: p.start_time(),
    })
}

/// Appends the process families to a text exposition (nothing when the
/// platform offers no reading).
pub fn render_into(out: &mut String) {
    use super::text::{header, sample_f64, sample_u64};
    let Some(s) = sample() else {
        return;
    };
    let metric =
        |out: &mut String, name: &str, help: &str, kind: Kind| header(out, name, help, kind);
    metric(
        out,
        "process_cpu_seconds_total",
        "Total user and system CPU time spent, seconds.",
        Kind::Counter,
    );
    sample_f64(out, "process_cpu_seconds_total", &[], s.cpu_seconds);
    metric(
        out,
        "process_resident_memory_bytes",
        "Resident memory size, bytes.",
        Kind::Gauge,
    );
    sample_u64(
        out,
        "process_resident_memory_bytes",
        &[],
        s.resident_memory_bytes,
    );
    metric(
        out,
        "process_virtual_memory_bytes",
        "Virtual memory size, bytes.",
        Kind::Gauge,
    );
    sample_u64(
        out,
        "process_virtual_memory_bytes",
        &[],
        s.virtual_memory_bytes,
    );
    if let Some(n) = s.open_fds {
        metric(
            out,
            "process_open_fds",
            "Open file descriptors.",
            Kind::Gauge,
        );
        sample_u64(out, "process_open_fds", &[], n);
    }
    if let Some(n) = s.max_fds {
        metric(
            out,
            "process_max_fds",
            "Maximum number of open file descriptors.",
            Kind::Gauge,
        );
        sample_u64(out, "process_max_fds", &[], n);
    }
    metric(
        out,
        "process_start_time_seconds",
        "Start time of the process since the Unix epoch, seconds.",
        Kind::Gauge,
    );
    sample_u64(out, "process_start_time_seconds", &[], s.start_time_seconds);
}
