//! The exporter's settings and the catalogue's split between the hot-path
//! atomics and the `metrics` facade.

use std::fmt;
use std::time::Duration;

use crate::core::catalog::{self, Family};
use crate::core::instruments::DURATION_BUCKETS_SECONDS;
use crate::core::manifest::Naming;

/// Exporter settings, applied once with [`configure`](super::configure) before the first event.
///
/// ```
/// use telemetry_runtime::backends::prometheus::PrometheusOptions;
/// let opts = PrometheusOptions::default()
///     .with_buckets("http_backoff_duration_seconds", vec![0.1, 1.0, 10.0]);
/// assert!(opts.validate().is_ok());
/// ```
#[derive(Debug, Clone)]
pub struct PrometheusOptions {
    /// Overrides every adapter's `naming` (its manifest's otherwise).
    pub naming: Option<Naming>,
    /// Bucket bounds per facade histogram, by any of its names (Prometheus
    /// name, OpenTelemetry name, or its Prometheus translation).
    pub buckets: Vec<(String, Vec<f64>)>,
    /// How often the exporter's upkeep folds buffered histogram samples into
    /// buckets (default 5 s). Bounds the memory held between scrapes.
    pub upkeep_interval: Duration,
}

impl Default for PrometheusOptions {
    fn default() -> Self {
        PrometheusOptions {
            naming: None,
            buckets: Vec::new(),
            upkeep_interval: Duration::from_secs(5),
        }
    }
}

impl PrometheusOptions {
    /// Sets the buckets of one histogram.
    pub fn with_buckets(mut self, metric: impl Into<String>, bounds: Vec<f64>) -> Self {
        self.buckets.push((metric.into(), bounds));
        self
    }

    /// Checks metric names and bucket lists.
    pub fn validate(&self) -> Result<(), PrometheusError> {
        for (name, bounds) in &self.buckets {
            let family = Family::ALL.iter().copied().find(|f| {
                f.prometheus_name() == name
                    || f.otel_prometheus_name() == name
                    || f.otel_name() == name
            });
            match family {
                None => return Err(PrometheusError::UnknownMetric(name.clone())),
                Some(f) if f.kind() != catalog::Kind::Histogram => {
                    return Err(PrometheusError::NotAHistogram(name.clone()))
                }
                Some(_) => {}
            }
            if bounds.is_empty() {
                return Err(PrometheusError::BadBuckets(
                    name.clone(),
                    "the list is empty".into(),
                ));
            }
            if bounds.iter().any(|b| !b.is_finite()) {
                return Err(PrometheusError::BadBuckets(
                    name.clone(),
                    "bounds must be finite numbers (+Inf is implicit)".into(),
                ));
            }
            if bounds.windows(2).any(|w| w[0] >= w[1]) {
                return Err(PrometheusError::BadBuckets(
                    name.clone(),
                    "bounds must be strictly increasing".into(),
                ));
            }
        }
        Ok(())
    }
}

/// A rejected [`PrometheusOptions`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PrometheusError {
    /// No metric of the catalogue has this name.
    UnknownMetric(String),
    /// Buckets were given for a counter or gauge.
    NotAHistogram(String),
    /// Buckets of a hot-path histogram (`http_request_duration_seconds`,
    /// `http_response_size_bytes`) were given after adapters started
    /// recording with the previous ones.
    FixedBuckets(String),
    /// The bucket list is unusable.
    BadBuckets(String, String),
    /// [`configure`](super::configure) ran after the exporter was already set up.
    AlreadyConfigured,
}

impl fmt::Display for PrometheusError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PrometheusError::UnknownMetric(n) => write!(
                f,
                "unknown metric `{n}` in buckets, expected a histogram of the catalogue such as `http_backoff_duration_seconds` or `http_limiter_wait_seconds`"
            ),
            PrometheusError::NotAHistogram(n) => {
                write!(f, "metric `{n}` is not a histogram, buckets apply to histograms only")
            }
            PrometheusError::FixedBuckets(n) => write!(
                f,
                "metric `{n}` is already recording with its buckets (an adapter was used before `configure`); configure the exporter at start-up, before the first request"
            ),
            PrometheusError::BadBuckets(n, why) => write!(f, "bad buckets for `{n}`: {why}"),
            PrometheusError::AlreadyConfigured => write!(
                f,
                "the Prometheus exporter is already configured (configure it once, before the first event)"
            ),
        }
    }
}

impl std::error::Error for PrometheusError {}

/// Default buckets of the facade histograms: OpenTelemetry's advised
/// duration buckets, extended to a minute for back-off delays.
pub fn default_buckets(family: Family) -> &'static [f64] {
    match family {
        Family::Backoff => catalog::BACKOFF_BUCKETS_SECONDS,
        _ => DURATION_BUCKETS_SECONDS,
    }
}

/// Families recorded in the lock-free instruments.
pub(crate) fn is_hot(f: Family) -> bool {
    matches!(
        f,
        Family::Requests
            | Family::RequestDuration
            | Family::ResponseSize
            | Family::InFlight
            | Family::BodyDuration
    )
}

/// Families rendered from runtime counters rather than the facade.
pub(crate) fn is_text_rendered(f: Family) -> bool {
    matches!(
        f,
        Family::AdapterEvents
            | Family::LabelOverflow
            | Family::SinkPanics
            | Family::EventsDropped
            | Family::SinkWriteErrors
            | Family::EventsSampledOut
            | Family::EventsSuppressed
            | Family::ConfigReloads
    )
}
