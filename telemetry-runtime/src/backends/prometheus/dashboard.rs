//! Grafana dashboards generated from adapter manifests.
//!
//! [`grafana_dashboard`] builds one dashboard per adapter (JSON model,
//! `schemaVersion` 39, a `datasource` template variable of type
//! `prometheus`): request rate by host, failed-attempt ratio, p50/p99
//! latency (with the objective as a threshold line when `slo(latency_…)` is
//! declared), retries by reason, back-off by source, limiter queue depth and
//! saturation, breaker state, fallback outcomes, response sizes and label
//! overflow. Every query uses the adapter's naming mode; [`queries`] lists
//! them so tests can run each against a real Prometheus.
//!
//! ```
//! use telemetry_runtime::backends::prometheus::dashboard::grafana_dashboard;
//! use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
//! #[instrumented_adapter(name = "doc_dash")]
//! struct Api {}
//! let d = grafana_dashboard(Api::MANIFEST);
//! assert_eq!(d["title"], "doc_dash: HTTP adapter");
//! assert!(d["panels"].as_array().unwrap().len() >= 8);
//! ```

use serde_json::{json, Value};

use super::rules::{failed_rate, total_rate};
use crate::core::catalog::{Family, LabelNames};
use crate::core::manifest::AdapterManifest;

/// One panel: title, unit, and `(PromQL, legend)` queries.
#[derive(Debug, Clone)]
pub struct PanelSpec {
    /// The panel title.
    pub title: String,
    /// Grafana unit (`reqps`, `s`, `percentunit`, `bytes`, `short`).
    pub unit: &'static str,
    /// `(expression, legend format)` pairs.
    pub queries: Vec<(String, String)>,
}

/// The panels of `m`'s dashboard, with their queries.
pub fn queries(m: &AdapterManifest) -> Vec<PanelSpec> {
    let n = m.naming;
    let ln = LabelNames::of(n);
    let a = m.name;
    let h = ln.host;
    let sel = format!(r#"adapter="{a}""#);
    let name = |f: Family| f.name(n);
    let panel = |title: &str, unit: &'static str, queries: Vec<(String, String)>| PanelSpec {
        title: title.to_owned(),
        unit,
        queries,
    };
    vec![
        panel(
            "Request rate by host",
            "reqps",
            vec![(
                format!(
                    "sum by ({h}) (rate({}{{{sel}}}[5m]))",
                    name(Family::Requests)
                ),
                format!("{{{{{h}}}}}"),
            )],
        ),
        panel(
            "Failed attempts (5xx or no response)",
            "percentunit",
            vec![(
                format!(
                    "({}) / ({} > 0)",
                    failed_rate(m, n, "5m"),
                    total_rate(m, n, "5m")
                ),
                "failed ratio".into(),
            )],
        ),
        panel(
            "Attempt latency p50 / p99 by host",
            "s",
            vec![
                (
                    format!(
                        "histogram_quantile(0.5, sum by ({h}, le) (rate({}_bucket{{{sel}}}[5m])))",
                        name(Family::RequestDuration)
                    ),
                    format!("p50 {{{{{h}}}}}"),
                ),
                (
                    format!(
                        "histogram_quantile(0.99, sum by ({h}, le) (rate({}_bucket{{{sel}}}[5m])))",
                        name(Family::RequestDuration)
                    ),
                    format!("p99 {{{{{h}}}}}"),
                ),
            ],
        ),
        panel(
            "Retries by reason",
            "short",
            vec![(
                format!(
                    "sum by (reason) (rate({}{{{sel}}}[5m]))",
                    name(Family::Retries)
                ),
                "{{reason}}".into(),
            )],
        ),
        panel(
            "Back-off time by source",
            "s",
            vec![(
                format!(
                    "sum by (source) (rate({}_sum{{{sel}}}[5m]))",
                    name(Family::Backoff)
                ),
                "{{source}}".into(),
            )],
        ),
        panel(
            "Limiter queue depth and saturation",
            "short",
            vec![
                (
                    format!(
                        "max by ({h}) ({}{{{sel}}})",
                        name(Family::LimiterQueueDepth)
                    ),
                    format!("queue {{{{{h}}}}}"),
                ),
                (
                    format!(
                        "max by ({h}) ({}{{{sel}}})",
                        name(Family::LimiterSaturation)
                    ),
                    format!("saturation {{{{{h}}}}}"),
                ),
            ],
        ),
        panel(
            "Limiter wait p99",
            "s",
            vec![(
                format!(
                    "histogram_quantile(0.99, sum by ({h}, le) (rate({}_bucket{{{sel}}}[5m])))",
                    name(Family::LimiterWait)
                ),
                format!("{{{{{h}}}}}"),
            )],
        ),
        panel(
            "Circuit breaker state (0 closed, 1 open, 2 half-open)",
            "short",
            vec![(
                format!("max by ({h}) ({}{{{sel}}})", name(Family::BreakerState)),
                format!("{{{{{h}}}}}"),
            )],
        ),
        panel(
            "Fallback attempts by source and outcome",
            "short",
            vec![(
                format!(
                    "sum by (source, outcome) (rate({}{{{sel}}}[5m]))",
                    name(Family::FallbackAttempts)
                ),
                "{{source}} {{outcome}}".into(),
            )],
        ),
        panel(
            "Response size p50",
            "bytes",
            vec![(
                format!(
                    "histogram_quantile(0.5, sum by ({h}, le) (rate({}_bucket{{{sel}}}[5m])))",
                    name(Family::ResponseSize)
                ),
                format!("{{{{{h}}}}}"),
            )],
        ),
        panel(
            "Label values folded into _OTHER",
            "short",
            vec![(
                format!("sum by (label) (increase(telemetry_label_overflow_total{{{sel}}}[1h]))"),
                "{{label}}".into(),
            )],
        ),
    ]
}

/// The Grafana dashboard JSON model of `m`.
pub fn grafana_dashboard(m: &AdapterManifest) -> Value {
    let latency_target = m.slo.and_then(|s| s.latency).map(|l| l.target_seconds);
    let panels: Vec<Value> = queries(m)
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let targets: Vec<Value> = p
                .queries
                .iter()
                .enumerate()
                .map(|(j, (expr, legend))| {
                    json!({
                        "refId": char::from(b'A' + (j as u8 % 26)).to_string(),
                        "datasource": {"type": "prometheus", "uid": "${datasource}"},
                        "expr": expr,
                        "legendFormat": legend,
                    })
                })
                .collect();
            let mut defaults = json!({"unit": p.unit});
            if p.title.starts_with("Attempt latency") {
                if let Some(t) = latency_target {
                    defaults["thresholds"] = json!({
                        "mode": "absolute",
                        "steps": [{"color": "green", "value": null}, {"color": "red", "value": t}],
                    });
                    defaults["custom"] = json!({"thresholdsStyle": {"mode": "line"}});
                }
            }
            json!({
                "id": i + 1,
                "type": "timeseries",
                "title": p.title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": (i % 2) * 12, "y": (i / 2) * 8},
                "fieldConfig": {"defaults": defaults, "overrides": []},
                "targets": targets,
            })
        })
        .collect();
    json!({
        "title": format!("{}: HTTP adapter", m.name),
        "uid": format!("telemetry-{}", m.name),
        "tags": ["telemetry-runtime", m.name],
        "schemaVersion": 39,
        "timezone": "utc",
        "refresh": "30s",
        "time": {"from": "now-6h", "to": "now"},
        "templating": {"list": [{
            "name": "datasource",
            "type": "datasource",
            "query": "prometheus",
            "label": "Prometheus",
        }]},
        "panels": panels,
    })
}
