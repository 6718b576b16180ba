//! Interleaved timing: every case runs one batch per round, in a rotating
//! order, and the report gives the median over rounds with the spread, so a
//! noisy neighbour on a shared machine shows up as spread instead of as a
//! wrong median.

use std::time::Instant;

/// One benchmark case: `run(n)` performs `n` iterations of the measured work.
pub struct Case {
    /// Short name shown in the report.
    pub name: String,
    /// The work; called with the number of iterations to perform.
    pub run: Box<dyn FnMut(u64)>,
}

impl Case {
    /// A case named `name`.
    pub fn new(name: impl Into<String>, run: impl FnMut(u64) + 'static) -> Self {
        Case {
            name: name.into(),
            run: Box::new(run),
        }
    }
}

impl std::fmt::Debug for Case {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Case").field("name", &self.name).finish()
    }
}

/// Summary of one case over all rounds, nanoseconds per iteration.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Case name.
    pub name: String,
    /// Median over rounds.
    pub median: f64,
    /// Fastest round.
    pub min: f64,
    /// Slowest round.
    pub max: f64,
    /// 25th and 75th percentile over rounds.
    pub q1: f64,
    /// See `q1`.
    pub q3: f64,
    /// Iterations per batch.
    pub iterations: u64,
    /// Rounds measured.
    pub rounds: usize,
}

/// Median of a sample (sorted copy).
pub fn median(xs: &[f64]) -> f64 {
    quantile(xs, 0.5)
}

/// Linear-interpolated quantile of a sample.
pub fn quantile(xs: &[f64], q: f64) -> f64 {
    if xs.is_empty() {
        return f64::NAN;
    }
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let pos = q * (v.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    v[lo] + (v[hi] - v[lo]) * (pos - lo as f64)
}

fn time_batch(case: &mut Case, n: u64) -> f64 {
    let start = Instant::now();
    (case.run)(n);
    start.elapsed().as_nanos() as f64 / n as f64
}

/// Runs every case for `rounds` rounds of about `batch_ms` milliseconds
/// each, interleaved, after a warm-up that also calibrates the batch size.
pub fn run_interleaved(cases: &mut [Case], rounds: usize, batch_ms: f64) -> Vec<Stats> {
    let iterations: Vec<u64> = cases
        .iter_mut()
        .map(|c| {
            // Warm up (first registrations, caches), then calibrate.
            time_batch(c, 1_000);
            let per = time_batch(c, 10_000).max(0.1);
            ((batch_ms * 1e6 / per) as u64).clamp(1_000, 50_000_000)
        })
        .collect();
    let mut samples = vec![Vec::with_capacity(rounds); cases.len()];
    let k = cases.len();
    for round in 0..rounds {
        for j in 0..k {
            // Rotate the order so no case always runs right after another.
            let i = (round + j) % k;
            let ns = time_batch(&mut cases[i], iterations[i]);
            samples[i].push(ns);
        }
    }
    cases
        .iter()
        .zip(samples)
        .zip(iterations)
        .map(|((c, s), n)| Stats {
            name: c.name.clone(),
            median: median(&s),
            min: s.iter().copied().fold(f64::INFINITY, f64::min),
            max: s.iter().copied().fold(0.0, f64::max),
            q1: quantile(&s, 0.25),
            q3: quantile(&s, 0.75),
            iterations: n,
            rounds,
        })
        .collect()
}

/// Resident set size of this process, bytes (Linux `/proc/self/status`).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

/// CPU time (user + system) consumed by this process so far, nanoseconds.
pub fn process_cpu_ns() -> u64 {
    // SAFETY: `clock_gettime` writes into the timespec we pass and reads
    // nothing else; CLOCK_PROCESS_CPUTIME_ID is always available on Linux.
    let mut ts = Timespec { sec: 0, nsec: 0 };
    let rc = unsafe { clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &mut ts) };
    if rc != 0 {
        return 0;
    }
    ts.sec as u64 * 1_000_000_000 + ts.nsec as u64
}

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

const CLOCK_PROCESS_CPUTIME_ID: i32 = 2;

extern "C" {
    fn clock_gettime(clock: i32, ts: *mut Timespec) -> i32;
}
