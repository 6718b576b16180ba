//! The default scenario of the main job: several hosts, each with its own
//! fault, a client configured to face them, and a per-host summary built from
//! the client's events.
//!
//! ```no_run
//! use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
//! use telemetry_runtime::sink::FanoutSink;
//! use telemetry_sim::{scenario::{Scenario, SummarySink}, Simulator};
//!
//! #[instrumented_adapter(name = "demo", hosts(cap = 16))]
//! struct Demo {}
//!
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sim = Simulator::start().await?;
//! let scenario = Scenario::default_scenario();
//! scenario.install(&sim);
//! let summary = SummarySink::new();
//! Demo::telemetry().set_sink(Some(Box::new(FanoutSink::new().with(summary.clone()))));
//! let client = scenario.client_builder::<Demo>(&sim).build()?;
//! scenario.drive(&client, &sim, 20).await;
//! println!("{}", summary.render(&client));
//! sim.shutdown().await;
//! # Ok(()) }
//! ```

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use telemetry_runtime::client::{
    AdapterClientBuilder, BreakerPolicy, BreakerState, RateLimit, RetryPolicy,
};
use telemetry_runtime::events::{EventRef, RateLimitOutcome};
use telemetry_runtime::sink::EventSink;
use telemetry_runtime::{AdapterClient, InstrumentedAdapter};

use crate::{RetryAfter, Route, Script, Simulator, Step};

/// One simulated host of a scenario.
#[derive(Debug, Clone)]
pub struct HostPlan {
    /// The host name (resolved to the simulator).
    pub host: &'static str,
    /// The path the scenario calls.
    pub path: &'static str,
    /// What the host does.
    pub script: Script,
    /// A rate limit for this host, if it differs from the scenario's.
    pub rate_limit: Option<RateLimit>,
    /// One line for humans.
    pub description: &'static str,
}

/// Hosts, their behaviour and the client policies that face them.
#[derive(Debug, Clone)]
pub struct Scenario {
    /// The hosts.
    pub hosts: Vec<HostPlan>,
    /// The retry policy of the scenario's client.
    pub retry: RetryPolicy,
    /// The default per-host rate limit.
    pub rate_limit: RateLimit,
    /// The breaker policy.
    pub breaker: BreakerPolicy,
    /// Concurrent callers per host in [`drive`](Self::drive).
    pub concurrency: usize,
}

impl Scenario {
    /// Seven hosts, one behaviour each, with millisecond-scale delays so a run
    /// of a few dozen rounds takes a few seconds:
    ///
    /// | host | behaviour |
    /// |---|---|
    /// | `api-a.test` | healthy, 2 ms |
    /// | `api-b.test` | slow, 40 ms |
    /// | `api-c.test` | flaky: 503, 200, 200, ... cycling |
    /// | `api-d.test` | throttled: every fourth answer is 429 with `Retry-After` as a past HTTP date; client side 40/s, burst 2, queue of 2 (so callers queue, and some are rejected) |
    /// | `api-e.test` | down: always 500 (its breaker opens) |
    /// | `api-f.test` | resets one connection in three |
    /// | `api-g.test` | large bodies (256 KiB) |
    pub fn default_scenario() -> Self {
        let ms = Duration::from_millis;
        Scenario {
            hosts: vec![
                HostPlan {
                    host: "api-a.test",
                    path: "/works",
                    script: Script::always(Step::ok().delay(ms(2))),
                    rate_limit: None,
                    description: "healthy",
                },
                HostPlan {
                    host: "api-b.test",
                    path: "/slow",
                    script: Script::always(Step::ok().delay(ms(40))),
                    rate_limit: None,
                    description: "slow (40 ms)",
                },
                HostPlan {
                    host: "api-c.test",
                    path: "/flaky",
                    script: Script::sequence([Step::status(503), Step::ok(), Step::ok()]).cycle(),
                    rate_limit: None,
                    description: "flaky (503 one in three)",
                },
                HostPlan {
                    host: "api-d.test",
                    path: "/throttled",
                    script: Script::sequence([
                        Step::ok(),
                        Step::ok(),
                        Step::ok(),
                        Step::retry_after(429, RetryAfter::DateAgo(Duration::from_secs(5))),
                    ])
                    .cycle(),
                    rate_limit: Some(
                        RateLimit::per_second(40.0)
                            .burst(2)
                            .max_queue_depth(2)
                            .max_wait(Duration::from_millis(250))
                            .warn_depth(2),
                    ),
                    description: "throttled (429 + Retry-After date; 40/s, queue of 2 client side)",
                },
                HostPlan {
                    host: "api-e.test",
                    path: "/down",
                    script: Script::always(Step::status(500)),
                    rate_limit: None,
                    description: "down (500; breaker opens)",
                },
                HostPlan {
                    host: "api-f.test",
                    path: "/resets",
                    script: Script::sequence([Step::reset(), Step::ok(), Step::ok()]).cycle(),
                    rate_limit: None,
                    description: "resets one connection in three",
                },
                HostPlan {
                    host: "api-g.test",
                    path: "/large",
                    script: Script::always(Step::large_body(256 * 1024)),
                    rate_limit: None,
                    description: "large bodies (256 KiB)",
                },
            ],
            retry: RetryPolicy::default()
                .max_attempts(3)
                .base_delay(ms(5))
                .max_delay(ms(50))
                .retry_after_cap(Duration::from_secs(2)),
            rate_limit: RateLimit::per_second(500.0)
                .burst(50)
                .max_queue_depth(64)
                .max_wait(Duration::from_secs(1)),
            breaker: BreakerPolicy::default()
                .consecutive_failures(4)
                .open_timeout(ms(200))
                .half_open_probes(1),
            concurrency: 3,
        }
    }

    /// Routes every host's script on `sim`.
    pub fn install(&self, sim: &Simulator) {
        for h in &self.hosts {
            sim.route(Route::host(h.host), h.script.clone());
        }
    }

    /// A client builder for adapter `T` with every host resolved to `sim`
    /// and the scenario's policies; add your own settings, then `build()`.
    pub fn client_builder<T: InstrumentedAdapter>(&self, sim: &Simulator) -> AdapterClientBuilder {
        let mut b = AdapterClient::builder::<T>()
            .timeout(Duration::from_secs(2))
            .retry(self.retry.clone())
            .rate_limit(self.rate_limit.clone())
            .breaker(self.breaker.clone())
            .correlation_header("x-correlation-id");
        for h in &self.hosts {
            b = b.resolve(h.host, sim.addr());
            if let Some(limit) = &h.rate_limit {
                b = b.host_rate_limit(h.host, limit.clone());
            }
        }
        b
    }

    /// Every host's URL on `sim`.
    pub fn urls(&self, sim: &Simulator) -> Vec<String> {
        self.hosts.iter().map(|h| sim.url(h.host, h.path)).collect()
    }

    /// Sends `rounds` GETs to every host from each of the scenario's
    /// `concurrency` callers, all hosts and callers at once; returns
    /// `(successes, failures)`.
    pub async fn drive(
        &self,
        client: &AdapterClient,
        sim: &Simulator,
        rounds: usize,
    ) -> (u64, u64) {
        let mut tasks = tokio::task::JoinSet::new();
        let callers: Vec<String> = self
            .urls(sim)
            .into_iter()
            .flat_map(|u| std::iter::repeat_n(u, self.concurrency.max(1)))
            .collect();
        for url in callers {
            let client = client.clone();
            tasks.spawn(async move {
                let (mut ok, mut failed) = (0u64, 0u64);
                for _ in 0..rounds {
                    match client.get(&url).send().await {
                        Ok(r) if r.status().is_success() => {
                            // Read the body so large bodies really cross the wire.
                            if r.bytes().await.is_ok() {
                                ok += 1;
                            } else {
                                failed += 1;
                            }
                        }
                        _ => failed += 1,
                    }
                }
                (ok, failed)
            });
        }
        let (mut ok, mut failed) = (0, 0);
        while let Some(done) = tasks.join_next().await {
            if let Ok((o, f)) = done {
                ok += o;
                failed += f;
            }
        }
        (ok, failed)
    }
}

/// Per-host counts gathered from events.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HostSummary {
    /// Wire attempts (request events).
    pub requests: u64,
    /// Outcomes per attempt: the status code, or `error.type`.
    pub statuses: BTreeMap<String, u64>,
    /// Retries.
    pub retries: u64,
    /// Requests that waited in the limiter queue.
    pub limiter_waits: u64,
    /// Total limiter wait.
    pub limiter_wait: Duration,
    /// Requests the limiter rejected.
    pub limiter_rejections: u64,
    /// Breaker transitions.
    pub breaker_transitions: u64,
    /// The state after the last transition seen.
    pub breaker_state: Option<BreakerState>,
}

/// An [`EventSink`] that keeps a [`HostSummary`] per host. Cheap to clone;
/// clones share the counts.
#[derive(Debug, Clone, Default)]
pub struct SummarySink {
    hosts: Arc<Mutex<BTreeMap<String, HostSummary>>>,
}

impl SummarySink {
    /// An empty summary.
    pub fn new() -> Self {
        Self::default()
    }

    /// The summaries, by host.
    pub fn summaries(&self) -> BTreeMap<String, HostSummary> {
        self.hosts.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// A table: one row per host with requests, statuses, retries, limiter
    /// waits and the breaker state (from `client` when it tracks the host).
    pub fn render(&self, client: &AdapterClient) -> String {
        let breakers: BTreeMap<String, BreakerState> =
            client.breaker_states().into_iter().collect();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{:<22} {:>8} {:>8} {:>9} {:>10} {:>9}  {:<9} statuses",
            "host", "attempts", "retries", "lim.waits", "lim.wait_ms", "lim.rej", "breaker"
        );
        for (host, s) in self.summaries() {
            let statuses: Vec<String> =
                s.statuses.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let breaker = breakers
                .get(&host)
                .copied()
                .or(s.breaker_state)
                .map_or("-", BreakerState::as_str);
            let _ = writeln!(
                out,
                "{:<22} {:>8} {:>8} {:>9} {:>10.1} {:>9}  {:<9} {}",
                host,
                s.requests,
                s.retries,
                s.limiter_waits,
                s.limiter_wait.as_secs_f64() * 1e3,
                s.limiter_rejections,
                breaker,
                statuses.join(" ")
            );
        }
        out
    }
}

impl EventSink for SummarySink {
    fn name(&self) -> &'static str {
        "scenario_summary"
    }

    fn on_event(&self, event: EventRef<'_>) {
        // Custom events belong to no host (their meta carries `_OTHER`).
        if matches!(event, EventRef::Custom(_)) {
            return;
        }
        let host = event.meta().host.as_str().to_owned();
        let mut all = self.hosts.lock().unwrap_or_else(|e| e.into_inner());
        let s = all.entry(host).or_default();
        match event {
            EventRef::Request(_) => s.requests += 1,
            EventRef::Response(e) => *s.statuses.entry(e.status.to_string()).or_default() += 1,
            EventRef::Error(e) => {
                *s.statuses
                    .entry(e.error_type.as_str().to_owned())
                    .or_default() += 1
            }
            EventRef::Retry(_) => s.retries += 1,
            EventRef::RateLimit(e) => match e.outcome {
                RateLimitOutcome::Waited => {
                    s.limiter_waits += 1;
                    s.limiter_wait += e.wait;
                }
                RateLimitOutcome::Rejected => s.limiter_rejections += 1,
                RateLimitOutcome::Acquired => {}
            },
            EventRef::BreakerTransition(e) => {
                s.breaker_transitions += 1;
                s.breaker_state = Some(e.to);
            }
            _ => {}
        }
    }
}
