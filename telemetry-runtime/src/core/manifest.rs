//! The `'static` description of an annotated adapter.
//!
//! `#[instrumented_adapter]` writes one [`AdapterManifest`] per adapter into the
//! user's crate. Tools read it (it serialises to JSON) to generate dashboards and
//! alert rules; the runtime reads it to size label tables and name metrics.

use serde::Serialize;

/// How metric names are spelled when exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Naming {
    /// Prometheus conventions: `http_requests_total`, `http_request_duration_seconds`.
    Prometheus,
    /// OpenTelemetry semantic conventions: `http.client.request.duration`, ...
    OpenTelemetry,
}

/// A bounded label declared with `labels(name(cap = N))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LabelSpec {
    /// The Prometheus label name.
    pub name: &'static str,
    /// How many distinct values get their own series; the rest fold into `_OTHER`.
    pub cap: u32,
}

/// A payload field of a custom event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct FieldSpec {
    /// Field name as written in the attribute.
    pub name: &'static str,
    /// The Rust type as written in the attribute, for documentation tools.
    pub ty: &'static str,
    /// Declared `#[secret]`: every sink sees `REDACTED` instead of the
    /// value, and tools (stores, exports) must not keep it either.
    pub secret: bool,
}

/// A custom event declared with `events(name(...))`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct EventSpec {
    /// The event name (snake_case), also the `event` label value.
    pub name: &'static str,
    /// Declared bounded labels this event carries, in declaration order.
    pub labels: &'static [&'static str],
    /// Typed payload fields (never used as labels).
    pub fields: &'static [FieldSpec],
}

/// A latency objective: `quantile` of request durations stays below `target_seconds`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LatencyObjective {
    /// The quantile, in (0, 1), for example `0.99`.
    pub quantile: f64,
    /// The latency target in seconds.
    pub target_seconds: f64,
}

/// Service-level objectives declared with `slo(...)`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct SloSpec {
    /// Success objective in percent, in (0, 100), for example `99.5`.
    pub success_percent: Option<f64>,
    /// Latency objective.
    pub latency: Option<LatencyObjective>,
}

/// Everything the macro knows about one adapter, as a `'static` value.
///
/// ```
/// use telemetry_runtime::manifest::{AdapterManifest, Naming};
/// static M: AdapterManifest = AdapterManifest {
///     name: "crossref",
///     type_name: "Crossref",
///     naming: Naming::Prometheus,
///     host_cap: 16,
///     labels: &[],
///     events: &[],
///     slo: None,
///     cardinality_budget: 10_000,
/// };
/// assert_eq!(serde_json::to_value(&M).unwrap()["host_cap"], 16);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct AdapterManifest {
    /// The `adapter` label value.
    pub name: &'static str,
    /// The Rust type the attribute was placed on.
    pub type_name: &'static str,
    /// Metric naming mode.
    pub naming: Naming,
    /// Cap of the `host` label.
    pub host_cap: u32,
    /// Further bounded labels.
    pub labels: &'static [LabelSpec],
    /// Custom events.
    pub events: &'static [EventSpec],
    /// Service-level objectives, if declared.
    pub slo: Option<SloSpec>,
    /// The largest number of series any one metric of this adapter may have.
    pub cardinality_budget: u64,
}

impl AdapterManifest {
    /// The declared label named `name`, if any.
    ///
    /// ```
    /// # use telemetry_runtime::manifest::*;
    /// # static M: AdapterManifest = AdapterManifest { name: "a", type_name: "A",
    /// #   naming: Naming::Prometheus, host_cap: 4,
    /// #   labels: &[LabelSpec { name: "tenant", cap: 8 }], events: &[], slo: None,
    /// #   cardinality_budget: 100 };
    /// assert_eq!(M.label("tenant").map(|l| l.cap), Some(8));
    /// ```
    pub fn label(&self, name: &str) -> Option<&'static LabelSpec> {
        self.labels.iter().find(|l| l.name == name)
    }

    /// The declared event named `name`, if any.
    pub fn event(&self, name: &str) -> Option<&'static EventSpec> {
        self.events.iter().find(|e| e.name == name)
    }
}
