//! Runs: the events of one batch job, grouped under one id.
//!
//! A [`Run`] has an id, a job name, labels and a start time. The event
//! stores (`sink::jsonl`, `sink::sqlite`) write its id into every stored
//! event, and the Pushgateway push (`backends::prometheus::push`) groups the
//! pushed metrics by job and run id. The run id is never a label of the
//! process's own `/metrics`: a long-lived process would grow a series per
//! run.

use std::collections::BTreeMap;
use std::fmt;

use crate::core::events::{now_unix_nanos, CorrelationId};

/// One run of a batch job.
///
/// ```
/// use telemetry_runtime::run::Run;
/// let run = Run::start("harvest-nightly").label("env", "ci");
/// assert_eq!(run.job(), "harvest-nightly");
/// assert_eq!(run.id().len(), 32);
/// assert_eq!(run.labels_json(), r#"{"env":"ci"}"#);
/// assert_ne!(run.id(), Run::start("harvest-nightly").id());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct Run {
    id: String,
    job: String,
    labels: BTreeMap<String, String>,
    started_unix_nano: u64,
}

impl Run {
    /// Starts a run of `job` now, with a fresh id: 32 lower-case hex digits,
    /// the start time in nanoseconds then a per-process random part, so ids
    /// sort by start time.
    pub fn start(job: impl Into<String>) -> Run {
        let started = now_unix_nanos();
        let id = format!("{started:016x}{}", CorrelationId::next());
        Run::with_id(job, id, started)
    }

    /// A run with a given id and start (to resume or to replay one).
    ///
    /// ```
    /// use telemetry_runtime::run::Run;
    /// let run = Run::with_id("job", "r-1", 5);
    /// assert_eq!((run.id(), run.started_unix_nano()), ("r-1", 5));
    /// ```
    pub fn with_id(job: impl Into<String>, id: impl Into<String>, started_unix_nano: u64) -> Run {
        Run {
            id: id.into(),
            job: job.into(),
            labels: BTreeMap::new(),
            started_unix_nano,
        }
    }

    /// Adds (or replaces) a label of the run.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Run {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// The run id.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The job name.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// The labels, sorted by key.
    pub fn labels(&self) -> &BTreeMap<String, String> {
        &self.labels
    }

    /// When the run started, nanoseconds since the Unix epoch.
    pub fn started_unix_nano(&self) -> u64 {
        self.started_unix_nano
    }

    /// The labels as a JSON object of strings (the `runs.labels_json` column).
    pub fn labels_json(&self) -> String {
        serde_json::to_string(&self.labels).unwrap_or_else(|_| "{}".to_owned())
    }
}

impl fmt::Debug for Run {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Run")
            .field("id", &self.id)
            .field("job", &self.job)
            .field("labels", &self.labels)
            .field("started_unix_nano", &self.started_unix_nano)
            .finish()
    }
}
