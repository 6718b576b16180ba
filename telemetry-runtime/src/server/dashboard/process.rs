//! This process's CPU time and resident memory for the dashboard: from
//! `/proc/self` on Linux (no dependency), else through the `process`
//! feature's sysinfo reading, else unknown.

/// One reading; `None` where the platform does not tell.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Reading {
    /// User and system CPU time so far, seconds.
    pub(crate) cpu_seconds: Option<f64>,
    /// Resident set size, bytes.
    pub(crate) rss_bytes: Option<u64>,
}

#[cfg(target_os = "linux")]
pub(crate) fn read() -> Reading {
    // `schedstat`'s first field is the time spent on a CPU in nanoseconds
    // (no clock-tick guess); `status`'s VmRSS is in kB.
    let cpu_seconds = std::fs::read_to_string("/proc/self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .map(|ns| ns as f64 / 1e9)
        .or_else(stat_cpu_seconds);
    let rss_bytes = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            let line = s.lines().find(|l| l.starts_with("VmRSS:"))?;
            line.split_whitespace().nth(1)?.parse::<u64>().ok()
        })
        .map(|kb| kb * 1024);
    Reading {
        cpu_seconds,
        rss_bytes,
    }
}

/// utime + stime of `/proc/self/stat`, in USER_HZ (100 on every Linux ABI).
#[cfg(target_os = "linux")]
fn stat_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name, which may hold spaces: state is
    // field 3, utime 14 and stime 15.
    let rest = s.rsplit_once(')')?.1;
    let mut f = rest.split_whitespace().skip(11);
    let utime: u64 = f.next()?.parse().ok()?;
    let stime: u64 = f.next()?.parse().ok()?;
    Some((utime + stime) as f64 / 100.0)
}

#[cfg(all(not(target_os = "linux"), feature = "process"))]
pub(crate) fn read() -> Reading {
    match crate::backends::process::sample() {
        Some(s) => Reading {
            cpu_seconds: Some(s.cpu_seconds),
            rss_bytes: Some(s.resident_memory_bytes),
        },
        None => Reading::default(),
    }
}

#[cfg(all(not(target_os = "linux"), not(feature = "process")))]
pub(crate) fn read() -> Reading {
    Reading::default()
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #[test]
    fn linux_tells_cpu_and_memory() {
        let r = super::read();
        assert!(r.rss_bytes.is_some_and(|b| b > 0), "{r:?}");
        assert!(r.cpu_seconds.is_some(), "{r:?}");
    }
}
