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
/// window, burn factor, `for`, severity); durations in seconds at scale 1.
const BURN_ALERTS: &[(&str, u64, u64, f64, u64, &str)] = &[
    ("Fast", 3600, 300, 14.4, 120, "page"),
    ("Slow", 21600, 1800, 6.0, 900, "ticket"),
];

/// The windows recorded for the error ratio, in seconds at scale 1.
const WINDOWS: &[u64] = &[300, 1800, 3600, 21600];

/// The kinds of alert the generator writes: the part of an alert's name
/// after the adapter's (`CrossrefErrorBudgetBurnFast`). Each has a section
/// of `docs/runbook.md` whose anchor is the kind in lower case, which the
/// alert's `runbook_url` annotation names.
///
/// ```
/// use telemetry_runtime::backends::prometheus::rules::ALERT_KINDS;
/// assert!(ALERT_KINDS.contains(&"RetryRateHigh"));
/// ```
pub const ALERT_KINDS: &[&str] = &[
    "ErrorBudgetBurnFast",
    "ErrorBudgetBurnSlow",
    "LatencyAboveObjective",
    "RetryRateHigh",
    "CircuitBreakerOpen",
    "LabelOverflow",
];

/// The runbook the `runbook_url` annotations point at by default: the
/// workspace's `repository` (Cargo.toml) followed by `/blob/main/docs/runbook.md`,
/// or the relative `docs/runbook.md` when the package names no repository.
///
/// ```
/// use telemetry_runtime::backends::prometheus::rules::default_runbook_base;
/// assert!(default_runbook_base().ends_with("docs/runbook.md"));
/// ```
pub fn default_runbook_base() -> String {
    let repo = env!("CARGO_PKG_REPOSITORY").trim_end_matches('/');
    if repo.is_empty() {
        "docs/runbook.md".to_owned()
    } else {
        format!("{repo}/blob/main/docs/runbook.md")
    }
}

/// How [`alert_rules_with`] writes the rules.
///
/// The defaults are the production rules. `time_scale` multiplies every
/// window and `for:` duration (rounded to whole seconds, at least 1 s): a
/// test against a real Prometheus uses `1.0 / 60.0` so the 1 h / 5 m
/// burn-rate windows become 1 m / 5 s and `for: 2m` becomes 2 s. Recording
/// rule names carry the scaled window (`ratio_rate5s`).
///
/// ```
/// use telemetry_runtime::backends::prometheus::rules::{alert_rules_with, RuleOptions};
/// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
/// #[instrumented_adapter(name = "doc_rule_opts", slo(success = 99.0))]
/// struct Api {}
/// let opts = RuleOptions { time_scale: 1.0 / 60.0, ..RuleOptions::default() };
/// let yaml = alert_rules_with(&[Api::MANIFEST], &opts);
/// assert!(yaml.contains("ratio_rate5s"));
/// assert!(yaml.contains("runbook.md#errorbudgetburnfast"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOptions {
    /// Multiplies every window and `for:` duration (1.0 in production).
    pub time_scale: f64,
    /// The runbook the `runbook_url` annotations point at, without the
    /// `#anchor` (default [`default_runbook_base`]).
    pub runbook_base: String,
    /// Retries per wire attempt above which `…RetryRateHigh` fires (0.1:
    /// one attempt in ten is retried).
    pub retry_ratio: f64,
}

impl Default for RuleOptions {
    fn default() -> Self {
        RuleOptions {
            time_scale: 1.0,
            runbook_base: default_runbook_base(),
            retry_ratio: 0.1,
        }
    }
}

impl RuleOptions {
    /// `secs` (a duration at scale 1) scaled, as a Prometheus duration.
    fn dur(&self, secs: u64) -> String {
        let scale = if self.time_scale.is_finite() && self.time_scale > 0.0 {
            self.time_scale
        } else {
            1.0
        };
        // Saturating float-to-int conversion; at least one second.
        let s = ((secs as f64) * scale).round().max(1.0) as u64;
        prom_duration(s)
    }

    /// The `runbook_url` of an alert kind.
    fn runbook(&self, kind: &str) -> String {
        format!("{}#{}", self.runbook_base, kind.to_ascii_lowercase())
    }
}

/// Seconds as the shortest exact Prometheus duration: `3600` → `1h`.
pub(crate) fn prom_duration(s: u64) -> String {
    if s % 3600 == 0 {
        format!("{}h", s / 3600)
    } else if s % 60 == 0 {
        format!("{}m", s / 60)
    } else {
        format!("{s}s")
    }
}

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

/// The PromQL rate of failed attempts of `adapter` over `window`, summed
/// over everything.
pub fn failed_rate(m: &AdapterManifest, naming: Naming, window: &str) -> String {
    failed_rate_by(m, naming, window, &[])
}

/// ` by (a, b) ` for a `sum`, or a single space for none.
fn by_clause(by: &[&str]) -> String {
    if by.is_empty() {
        String::new()
    } else {
        format!(" by ({}) ", by.join(", "))
    }
}

/// The PromQL rate of failed attempts of `adapter` over `window`, summed
/// by the labels `by` (none: one series).
///
/// ```
/// use telemetry_runtime::backends::prometheus::rules::failed_rate_by;
/// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
/// #[instrumented_adapter(name = "doc_failed")]
/// struct Api {}
/// let q = failed_rate_by(Api::MANIFEST, Api::MANIFEST.naming, "5m", &["host"]);
/// assert!(q.starts_with("sum by (host) (rate(http_requests_total{"));
/// ```
pub fn failed_rate_by(m: &AdapterManifest, naming: Naming, window: &str, by: &[&str]) -> String {
    let requests = Family::Requests.name(naming);
    let a = m.name;
    let by = by_clause(by);
    match naming {
        // Everything but 1xx-4xx: 5xx, error types, and the folded `_OTHER`.
        Naming::Prometheus => {
            format!(r#"sum{by}(rate({requests}{{adapter="{a}",status!~"[1-4].."}}[{window}]))"#)
        }
        // A 5xx response has a status code, a failure without a response an
        // `error_type` and no code: two disjoint sets of series, so `or`
        // keeps both before the sum.
        Naming::OpenTelemetry => {
            let ln = LabelNames::of(naming);
            format!(
                r#"sum{by}(rate({requests}{{adapter="{a}",{s}=~"5.."}}[{window}]) or rate({requests}{{adapter="{a}",{e}!=""}}[{window}]))"#,
                s = ln.status,
                e = ln.error
            )
        }
    }
}

/// The PromQL rate of all attempts of `adapter` over `window`.
pub fn total_rate(m: &AdapterManifest, naming: Naming, window: &str) -> String {
    total_rate_by(m, naming, window, &[])
}

/// The PromQL rate of all attempts of `adapter` over `window`, summed by
/// the labels `by`.
///
/// ```
/// use telemetry_runtime::backends::prometheus::rules::total_rate_by;
/// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
/// #[instrumented_adapter(name = "doc_total")]
/// struct Api {}
/// let q = total_rate_by(Api::MANIFEST, Api::MANIFEST.naming, "5m", &["host"]);
/// assert_eq!(q, r#"sum by (host) (rate(http_requests_total{adapter="doc_total"}[5m]))"#);
/// ```
pub fn total_rate_by(m: &AdapterManifest, naming: Naming, window: &str, by: &[&str]) -> String {
    format!(
        r#"sum{}(rate({}{{adapter="{}"}}[{window}]))"#,
        by_clause(by),
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
    for_: Option<String>,
    labels: Vec<(&'a str, String)>,
    annotations: Vec<(&'a str, String)>,
}

fn write_rule(out: &mut String, r: &Rule<'_>) {
    let _ = writeln!(out, "      - {}: {}", r.kind, r.name);
    out.push_str("        expr: |-\n");
    for line in r.expr.lines() {
        let _ = writeln!(out, "          {line}");
    }
    if let Some(f) = &r.for_ {
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

/// The rule group of one adapter. Rules are generated at build time from
/// the manifest's own naming, before any runtime override.
///
/// Every ratio and alert keeps the host label (`host`, `server_address` in
/// OpenTelemetry naming) in its `by (...)`, so a notification names the
/// adapter (a rule label) and the upstream host that burns the budget.
fn rules_for(m: &AdapterManifest, naming: Naming, o: &RuleOptions, out: &mut String) {
    let a = m.name;
    let title = camel(a);
    let ln = LabelNames::of(naming);
    let host = ln.host;
    let runbook = |kind: &str| ("runbook_url", o.runbook(kind));
    let _ = writeln!(out, "  - name: telemetry-{a}");
    out.push_str("    rules:\n");
    for w in WINDOWS {
        let w = o.dur(*w);
        write_rule(
            out,
            &Rule {
                kind: "record",
                name: ratio_record(m, &w),
                expr: format!(
                    "({})\n/\n({} > 0)",
                    failed_rate_by(m, naming, &w, &[host]),
                    total_rate_by(m, naming, &w, &[host])
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
            let (long, short) = (o.dur(*long), o.dur(*short));
            let kind = format!("ErrorBudgetBurn{suffix}");
            write_rule(
                out,
                &Rule {
                    kind: "alert",
                    name: format!("{title}{kind}"),
                    expr: format!(
                        "{} > {threshold}\nand\n{} > {threshold}",
                        ratio_record(m, &long),
                        ratio_record(m, &short)
                    ),
                    for_: Some(o.dur(*for_)),
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
                        runbook(&kind),
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
        let w = o.dur(300);
        write_rule(
            out,
            &Rule {
                kind: "alert",
                name: format!("{title}LatencyAboveObjective"),
                expr: format!(
                    r#"histogram_quantile({q}, sum by ({host}, le) (rate({duration}_bucket{{adapter="{a}"}}[{w}]))) > {target}"#
                ),
                for_: Some(o.dur(600)),
                labels: vec![("severity", "ticket".into()), ("adapter", a.to_owned())],
                annotations: vec![
                    (
                        "summary",
                        format!("{a}: p{pct} attempt latency above the {target}s objective"),
                    ),
                    runbook("LatencyAboveObjective"),
                ],
            },
        );
    }
    let w = o.dur(300);
    let retry_ratio = o.retry_ratio;
    write_rule(
        out,
        &Rule {
            kind: "alert",
            name: format!("{title}RetryRateHigh"),
            expr: format!(
                "{}\n/\n({} > 0)\n> {retry_ratio}",
                format_args!(
                    r#"sum by ({host}) (rate({}{{adapter="{a}"}}[{w}]))"#,
                    Family::Retries.name(naming)
                ),
                total_rate_by(m, naming, &w, &[host])
            ),
            for_: Some(o.dur(600)),
            labels: vec![("severity", "ticket".into()), ("adapter", a.to_owned())],
            annotations: vec![
                (
                    "summary",
                    format!(
                        "{a}: more than {retry_ratio} retries per attempt to {{{{ $labels.{host} }}}}"
                    ),
                ),
                runbook("RetryRateHigh"),
            ],
        },
    );
    write_rule(
        out,
        &Rule {
            kind: "alert",
            name: format!("{title}CircuitBreakerOpen"),
            expr: format!(
                r#"max by ({host}) ({}{{adapter="{a}"}}) == 1"#,
                Family::BreakerState.name(naming),
            ),
            for_: Some(o.dur(300)),
            labels: vec![("severity", "ticket".into()), ("adapter", a.to_owned())],
            annotations: vec![
                (
                    "summary",
                    format!("{a}: circuit breaker open for {{{{ $labels.{host} }}}}"),
                ),
                runbook("CircuitBreakerOpen"),
            ],
        },
    );
    write_rule(
        out,
        &Rule {
            kind: "alert",
            name: format!("{title}LabelOverflow"),
            expr: format!(
                r#"sum by (label) (increase({}{{adapter="{a}"}}[{}])) > 0"#,
                Family::LabelOverflow.name(naming),
                o.dur(3600)
            ),
            for_: None,
            labels: vec![("severity", "info".into()), ("adapter", a.to_owned())],
            annotations: vec![
                (
                    "summary",
                    format!("{a}: values of label {{{{ $labels.label }}}} folded into _OTHER (cap reached or unsafe input)"),
                ),
                runbook("LabelOverflow"),
            ],
        },
    );
}

/// A Prometheus rule file (YAML) for `manifests`, one group per adapter,
/// with the production defaults of [`RuleOptions`].
pub fn alert_rules(manifests: &[&AdapterManifest]) -> String {
    alert_rules_with(manifests, &RuleOptions::default())
}

/// A Prometheus rule file (YAML) for `manifests`, one group per adapter,
/// written as `options` say (see [`RuleOptions`]).
///
/// ```
/// use telemetry_runtime::backends::prometheus::rules::{alert_rules_with, RuleOptions};
/// use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
/// #[instrumented_adapter(name = "doc_rules_with")]
/// struct Api {}
/// let opts = RuleOptions { runbook_base: "https://wiki.example/rb".into(), ..RuleOptions::default() };
/// let yaml = alert_rules_with(&[Api::MANIFEST], &opts);
/// assert!(yaml.contains("https://wiki.example/rb#circuitbreakeropen"));
/// ```
pub fn alert_rules_with(manifests: &[&AdapterManifest], options: &RuleOptions) -> String {
    let mut out = String::with_capacity(4096 * manifests.len().max(1));
    out.push_str("# Generated by telemetry_runtime::backends::prometheus::rules::alert_rules.\n");
    out.push_str("groups:\n");
    for m in manifests {
        rules_for(m, m.naming, options, &mut out);
    }
    out
}
