//! Alert rules generated from adapter manifests: what `slo(...)` feeds.
//!
//! For each adapter, [`alert_rules`] writes a Prometheus rule group with:
//!
//! - recording rules for the adapter's failed-attempt ratio over 5m, 30m, 1h
//!   and 6h (a failed attempt is a 5xx or an attempt without a response);
//! - with `slo(success = P)`: multi-window, multi-burn-rate alerts on the error
//!   budget `1 - P/100` (Google SRE workbook, chapter 5): *fast* when the 1h
//!   and 5m ratios both burn 14.4× the budget, *slow* when the 6h and 30m
//!   ratios both burn 6×;
//! - with `slo(latency_p99 = "…")` (any quantile): an alert when that
//!   quantile of attempt durations stays above the target for 10 minutes;
//! - always: an open circuit breaker for 5 minutes, and label values folded
//!   into `_OTHER` (a cap too small, or unbounded input).
//!
//! Names follow the adapter's naming mode. The output passes
//! `promtool check rules`, and `promtool test rules` checks that the alerts
//! fire and stay quiet when they should (`tests/backends/rules.rs`).
//!
//! ```
//! use telemetry_runtime::backends::prometheus::rules::alert_rules;
//! use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
//! #[instrumented_adapter(name = "doc_rules", slo(success = 99.5, latency_p99 = "500ms"))]
//! struct Api {}
//! let yaml = alert_rules(&[Api::MANIFEST]);
//! assert!(yaml.contains("alert: DocRulesErrorBudgetBurnFast"));
//! ```

use std::fmt::Write as _;

use crate::core::catalog::{Family, LabelNames};
use crate::core::manifest::{AdapterManifest, Naming};

/// Multi-window burn-rate alert parameters: (name suffix, long window, short
/// window, burn factor, `for`, severity).
const BURN_ALERTS: &[(&str, &str, &str, f64, &str, &str)] = &[
    ("Fast", "1h", "5m", 14.4, "2m", "page"),
    ("Slow", "6h", "30m", 6.0, "15m", "ticket"),
];

/// The windows recorded for the error ratio.
const WINDOWS: &[&str] = &["5m", "30m", "1h", "6h"];

/// `crossref_api` → `CrossrefApi`.
fn camel(name: &str) -> String {
    name.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// The PromQL rate of failed attempts of `adapter` over `window`.
pub fn failed_rate(m: &AdapterManifest, naming: Naming, window: &str) -> String {
    let requests = Family::Requests.name(naming);
    let a = m.name;
    match naming {
        // Everything but 1xx-4xx: 5xx, error types, and the folded `_OTHER`.
        Naming::Prometheus => {
            format!(r#"sum(rate({requests}{{adapter="{a}",status!~"[1-4].."}}[{window}]))"#)
        }
        Naming::OpenTelemetry => {
            let ln = LabelNames::of(naming);
            format!(
                r#"(sum(rate({requests}{{adapter="{a}",{s}=~"5.."}}[{window}])) or vector(0)) + (sum(rate({requests}{{adapter="{a}",{e}!=""}}[{window}])) or vector(0))"#,
                s = ln.status,
                e = ln.error
            )
        }
    }
}

/// The PromQL rate of all attempts of `adapter` over `window`.
pub fn total_rate(m: &AdapterManifest, naming: Naming, window: &str) -> String {
    format!(
        r#"sum(rate({}{{adapter="{}"}}[{window}]))"#,
        Family::Requests.name(naming),
        m.name
    )
}

/// The recording rule name of the failed-attempt ratio over `window`.
pub fn ratio_record(m: &AdapterManifest, window: &str) -> String {
    format!("adapter:http_failed_attempts:ratio_rate{window}:{}", m.name)
}

fn quote(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

struct Rule<'a> {
    kind: &'a str,
    name: String,
    expr: String,
    for_: Option<&'a str>,
    labels: Vec<(&'a str, String)>,
    annotations: Vec<(&'a str, String)>,
}

fn write_rule(out: &mut String, r: &Rule<'_>) {
    let _ = writeln!(out, "      - {}: {}", r.kind, r.name);
    out.push_str("        expr: |-\n");
    for line in r.expr.lines() {
        let _ = writeln!(out, "          {line}");
    }
    if let Some(f) = r.for_ {
        let _ = writeln!(out, "        for: {f}");
    }
    for (section, pairs) in [("labels", &r.labels), ("annotations", &r.annotations)] {
        if pairs.is_empty() {
            continue;
        }
        let _ = writeln!(out, "        {section}:");
        for (k, v) in pairs.iter() {
            let _ = write!(out, "          {k}: ");
            quote(out, v);
            out.push('\n');
        }
    }
}

/// The naming each manifest's metrics use (the manifest's own: rules are
/// generated at build time, before any runtime override).
fn rules_for(m: &AdapterManifest, naming: Naming, out: &mut String) {
    let a = m.name;
    let title = camel(a);
    let ln = LabelNames::of(naming);
    let _ = writeln!(out, "  - name: telemetry-{a}");
    out.push_str("    rules:\n");
    for w in WINDOWS {
        write_rule(
            out,
            &Rule {
                kind: "record",
                name: ratio_record(m, w),
                expr: format!(
                    "({})\n/\n({} > 0)",
                    failed_rate(m, naming, w),
                    total_rate(m, naming, w)
                ),
                for_: None,
                labels: vec![("adapter", a.to_owned())],
                annotations: vec![],
            },
        );
    }
    if let Some(success) = m.slo.and_then(|s| s.success_percent) {
        let budget = (100.0 - success) / 100.0;
        for (suffix, long, short, factor, for_, severity) in BURN_ALERTS {
            let threshold = factor * budget;
            write_rule(
                out,
                &Rule {
                    kind: "alert",
                    name: format!("{title}ErrorBudgetBurn{suffix}"),
                    expr: format!(
                        "{} > {threshold}\nand\n{} > {threshold}",
                        ratio_record(m, long),
                        ratio_record(m, short)
                    ),
                    for_: Some(for_),
                    labels: vec![
                        ("severity", (*severity).to_owned()),
                        ("adapter", a.to_owned()),
                    ],
                    annotations: vec![
                        (
                            "summary",
                            format!(
                                "{a}: error budget of the {success}% success objective burning {factor}x too fast"
                            ),
                        ),
                        (
                            "description",
                            format!(
                                "Failed attempts over {long} and {short} are both above {threshold:.4} ({factor} x the {budget:.4} budget)."
                            ),
                        ),
                    ],
                },
            );
        }
    }
    if let Some(lat) = m.slo.and_then(|s| s.latency) {
        let duration = Family::RequestDuration.name(naming);
        let q = lat.quantile;
        let target = lat.target_seconds;
        let pct = (q * 100.0).round();
        write_rule(
            out,
            &Rule {
                kind: "alert",
                name: format!("{title}LatencyAboveObjective"),
                expr: format!(
                    r#"histogram_quantile({q}, sum by (le) (rate({duration}_bucket{{adapter="{a}"}}[5m]))) > {target}"#
                ),
                for_: Some("10m"),
                labels: vec![("severity", "ticket".into()), ("adapter", a.to_owned())],
                annotations: vec![(
                    "summary",
                    format!("{a}: p{pct} attempt latency above the {target}s objective"),
                )],
            },
        );
    }
    write_rule(
        out,
        &Rule {
            kind: "alert",
            name: format!("{title}CircuitBreakerOpen"),
            expr: format!(
                r#"max by ({host}) ({}{{adapter="{a}"}}) == 1"#,
                Family::BreakerState.name(naming),
                host = ln.host
            ),
            for_: Some("5m"),
            labels: vec![("severity", "ticket".into()), ("adapter", a.to_owned())],
            annotations: vec![(
                "summary",
                format!(
                    "{a}: circuit breaker open for {{{{ $labels.{} }}}}",
                    ln.host
                ),
            )],
        },
    );
    write_rule(
        out,
        &Rule {
            kind: "alert",
            name: format!("{title}LabelOverflow"),
            expr: format!(
                r#"sum by (label) (increase(telemetry_label_overflow_total{{adapter="{a}"}}[1h])) > 0"#
            ),
            for_: None,
            labels: vec![("severity", "info".into()), ("adapter", a.to_owned())],
            annotations: vec![(
                "summary",
                format!("{a}: values of label {{{{ $labels.label }}}} folded into _OTHER (cap reached or unsafe input)"),
            )],
        },
    );
}

/// A Prometheus rule file (YAML) for `manifests`, one group per adapter.
pub fn alert_rules(manifests: &[&AdapterManifest]) -> String {
    let mut out = String::with_capacity(4096 * manifests.len().max(1));
    out.push_str("# Generated by telemetry_runtime::backends::prometheus::rules::alert_rules.\n");
    out.push_str("groups:\n");
    for m in manifests {
        rules_for(m, m.naming, &mut out);
    }
    out
}
