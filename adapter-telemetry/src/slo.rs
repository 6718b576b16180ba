//! `adapter-telemetry slo`: the SLIs of a scope as JSON, checked against
//! objectives.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};
use telemetry_runtime::manifest::Naming;

use crate::db::{self, Filter, Scope, Selection};
use crate::error::{Failure, Result};
use crate::manifest::StoredManifest;
use crate::sli::{self, AdapterSlis, QUANTILES};
use crate::timearg::format_time;

/// Which way an objective points.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Bound {
    /// The SLI must be at least the target.
    AtLeast,
    /// The SLI must be at most the target.
    AtMost,
}

/// What an objective measures.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Measure {
    SuccessPercent,
    /// A wire-attempt latency quantile (bucket-interpolated, as the
    /// generated alert's `histogram_quantile`), seconds.
    Latency(f64),
    RetryRate,
    Status429Ratio,
    LimiterWaitP95,
    LimiterRejections,
    Refusals,
    BreakerOpenSeconds,
    FallbackSuccessPercent,
}

/// An objective: a measure, its bound and target, and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Objective {
    pub(crate) key: String,
    pub(crate) measure: Measure,
    pub(crate) bound: Bound,
    pub(crate) target: f64,
    pub(crate) source: &'static str,
}

fn seconds(v: &str) -> std::result::Result<f64, String> {
    if let Ok(x) = v.trim().parse::<f64>() {
        if x.is_finite() && x >= 0.0 {
            return Ok(x);
        }
    }
    telemetry_vocab::duration::parse_secs_f64(v).map_err(|e| e.to_string())
}

fn number(v: &str) -> std::result::Result<f64, String> {
    match v.trim().parse::<f64>() {
        Ok(x) if x.is_finite() && x >= 0.0 => Ok(x),
        _ => Err(format!("expected a non-negative number, got {v:?}")),
    }
}

/// The quantile of `latency_pNN`: `p99` is 0.99, `p999` 0.999, `p50` 0.5.
fn quantile_of(key: &str) -> Option<f64> {
    let digits = key.strip_prefix("latency_p")?;
    if digits.is_empty() || digits.len() > 4 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let q: f64 = format!("0.{digits}").parse().ok()?;
    (q > 0.0).then_some(q)
}

/// The key of a latency objective on quantile `q` (`0.99` -> `latency_p99`).
pub(crate) fn latency_key(q: f64) -> String {
    let digits = format!("{q}");
    let digits = digits.strip_prefix("0.").unwrap_or(&digits);
    format!("latency_p{digits}")
}

/// Parses `--objective KEY=VALUE` (the clap value parser).
pub(crate) fn parse_objective(s: &str) -> std::result::Result<Objective, String> {
    let (key, value) = s
        .split_once('=')
        .ok_or_else(|| format!("expected KEY=VALUE, got {s:?}"))?;
    let key = key.trim();
    let (measure, bound, target) = match key {
        "success_percent" => {
            let t = number(value)?;
            if t > 100.0 {
                return Err(format!(
                    "success_percent must be at most 100, got {value:?}"
                ));
            }
            (Measure::SuccessPercent, Bound::AtLeast, t)
        }
        "fallback_success_percent" => {
            let t = number(value)?;
            if t > 100.0 {
                return Err(format!(
                    "fallback_success_percent must be at most 100, got {value:?}"
                ));
            }
            (Measure::FallbackSuccessPercent, Bound::AtLeast, t)
        }
        "retry_rate" => (Measure::RetryRate, Bound::AtMost, number(value)?),
        "status_429_ratio" => (Measure::Status429Ratio, Bound::AtMost, number(value)?),
        "limiter_wait_p95" => (Measure::LimiterWaitP95, Bound::AtMost, seconds(value)?),
        "limiter_rejections" => (Measure::LimiterRejections, Bound::AtMost, number(value)?),
        "refusals" => (Measure::Refusals, Bound::AtMost, number(value)?),
        "breaker_open_seconds" => (Measure::BreakerOpenSeconds, Bound::AtMost, seconds(value)?),
        k => match quantile_of(k) {
            Some(q) => (Measure::Latency(q), Bound::AtMost, seconds(value)?),
            None => {
                return Err(format!(
                    "unknown objective {k:?}, expected one of success_percent, latency_pNN, \
                     retry_rate, status_429_ratio, limiter_wait_p95, limiter_rejections, \
                     refusals, breaker_open_seconds, fallback_success_percent"
                ))
            }
        },
    };
    Ok(Objective {
        key: key.to_owned(),
        measure,
        bound,
        target,
        source: "command line",
    })
}

/// The objectives of `manifest`'s `slo(...)`.
pub(crate) fn manifest_objectives(m: &StoredManifest) -> Vec<Objective> {
    let mut out = Vec::new();
    if let Some(slo) = m.slo {
        if let Some(p) = slo.success_percent {
            out.push(Objective {
                key: "success_percent".into(),
                measure: Measure::SuccessPercent,
                bound: Bound::AtLeast,
                target: p,
                source: "manifest",
            });
        }
        if let Some(l) = slo.latency {
            out.push(Objective {
                key: latency_key(l.quantile),
                measure: Measure::Latency(l.quantile),
                bound: Bound::AtMost,
                target: l.target_seconds,
                source: "manifest",
            });
        }
    }
    out
}

/// The value of `measure` for `s` (`None`: no data).
pub(crate) fn actual(s: &mut AdapterSlis, measure: Measure) -> Option<f64> {
    match measure {
        Measure::SuccessPercent => s.success_ratio().map(|r| r * 100.0),
        Measure::Latency(q) => s.latency_histogram(q),
        Measure::RetryRate => s.retry_rate(),
        Measure::Status429Ratio => s.status_429_ratio(),
        Measure::LimiterWaitP95 => s.limiter_wait_p95(),
        Measure::LimiterRejections => Some(s.limiter.rejected as f64),
        Measure::Refusals => Some(s.refusals_total() as f64),
        Measure::BreakerOpenSeconds => Some(s.breaker_open_total()),
        Measure::FallbackSuccessPercent => s.fallback_success_ratio().map(|r| r * 100.0),
    }
}

fn num(v: Option<f64>) -> Value {
    v.filter(|x| x.is_finite())
        .map_or(Value::Null, |x| json!(x))
}

/// The JSON of one adapter's SLIs.
pub(crate) fn slis_json(s: &mut AdapterSlis, exact: bool) -> Value {
    let mut latency = Map::new();
    for (name, q) in QUANTILES {
        let mut l = Map::new();
        l.insert("histogram".into(), num(s.latency_histogram(*q)));
        if exact {
            l.insert("exact".into(), num(s.latency_exact(*q)));
        }
        latency.insert((*name).into(), Value::Object(l));
    }
    let f = s.fallback;
    json!({
        "wire_attempts": s.wire_attempts,
        "failed_attempts": s.failed(),
        "success_ratio": num(s.success_ratio()),
        "latency_seconds": latency,
        "retried_attempts": s.retried,
        "retry_rate": num(s.retry_rate()),
        "status_429": s.status_429,
        "status_429_ratio": num(s.status_429_ratio()),
        "limiter": {
            "acquired": s.limiter.acquired,
            "waited": s.limiter.waited,
            "rejected": s.limiter.rejected,
            "wait_p95_seconds": num(s.limiter_wait_p95()),
        },
        "refusals": {
            "total": s.refusals_total(),
            "by_reason": s.refusals,
        },
        "breaker_open_seconds": {
            "total": s.breaker_open_total(),
            "by_host": s.breaker_open_seconds,
        },
        "fallback": {
            "success": f.success,
            "failure": f.failure,
            "skipped": f.skipped,
            "success_ratio": num(s.fallback_success_ratio()),
            "calls": f.calls,
            "calls_served": f.calls_served,
            "call_success_ratio": num(s.fallback_call_success_ratio()),
        },
    })
}

/// The report of `slo`, and whether every objective holds.
pub(crate) fn report(
    conn: &rusqlite::Connection,
    scope: &Scope,
    cli: &[Objective],
    exact: bool,
) -> Result<(Value, bool)> {
    let manifests: BTreeMap<String, StoredManifest> =
        db::manifests(conn, scope)?.into_iter().collect();
    let naming = |a: &str| {
        manifests
            .get(a)
            .map_or(Naming::Prometheus, |m| m.naming.into())
    };
    let mut slis = sli::compute(conn, scope, &naming, exact)?;
    // An adapter with a manifest but no events still has objectives to report.
    for a in manifests.keys() {
        slis.entry(a.clone())
            .or_insert_with(|| sli::empty(naming(a)));
    }
    let mut all_hold = true;
    let mut adapters = Vec::new();
    for (name, s) in slis.iter_mut() {
        let mut objectives = manifests
            .get(name)
            .map(manifest_objectives)
            .unwrap_or_default();
        for o in cli {
            objectives.retain(|m| m.key != o.key);
            objectives.push(o.clone());
        }
        let mut checked = Vec::new();
        for o in &objectives {
            let value = actual(s, o.measure);
            let holds = match (value, o.bound) {
                // No data: like an alert over an empty series, nothing fires.
                (None, _) => true,
                (Some(v), Bound::AtLeast) => v >= o.target,
                (Some(v), Bound::AtMost) => v <= o.target,
            };
            all_hold &= holds;
            checked.push(json!({
                "objective": o.key,
                "source": o.source,
                "bound": match o.bound { Bound::AtLeast => ">=", Bound::AtMost => "<=" },
                "target": o.target,
                "actual": num(value),
                "no_data": value.is_none(),
                "holds": holds,
            }));
        }
        adapters.push(json!({
            "adapter": name,
            "naming": match s.naming { Naming::Prometheus => "prometheus", Naming::OpenTelemetry => "open_telemetry" },
            "slis": slis_json(s, exact),
            "objectives": checked,
        }));
    }
    let runs: Vec<Value> = scope
        .runs
        .iter()
        .map(|r| json!({"run_id": r.run_id, "job": r.job, "started": format_time(r.started), "ended": r.ended.map(format_time)}))
        .collect();
    let (start, end) = scope.span;
    let selection = match &scope.selection {
        Selection::Run(r) => json!({"run": r.run_id}),
        Selection::Window { since, until } => {
            json!({"since": format_time(*since), "until": format_time(*until)})
        }
        Selection::All => json!({}),
    };
    Ok((
        json!({
            "schema": "adapter-telemetry/slo/v1",
            "selection": selection,
            "adapter": scope.adapter,
            "host": scope.host,
            "span": {"start": format_time(start), "end": format_time(end), "seconds": (end - start) as f64 / 1e9},
            "runs": runs,
            "adapters": adapters,
            "ok": all_hold,
        }),
        all_hold,
    ))
}

/// `slo` arguments.
#[derive(Debug, clap::Args)]
pub(crate) struct SloArgs {
    /// The event store (SQLite, schema version 1).
    #[arg(long, value_name = "FILE")]
    pub(crate) db: std::path::PathBuf,
    #[command(flatten)]
    pub(crate) filter: Filter,
    /// An objective that replaces or adds to the stored manifests' (repeatable):
    /// success_percent=99.5, latency_p99=500ms, retry_rate=0.1,
    /// status_429_ratio=0.01, limiter_wait_p95=1s, limiter_rejections=0,
    /// refusals=0, breaker_open_seconds=60, fallback_success_percent=99.
    #[arg(long = "objective", value_name = "KEY=VALUE", value_parser = parse_objective)]
    pub(crate) objectives: Vec<Objective>,
    /// Skip the exact (nearest-rank) latency quantiles: bucket-interpolated
    /// ones only, without keeping every wire attempt's duration in memory.
    #[arg(long)]
    pub(crate) no_exact: bool,
    /// Indent the JSON.
    #[arg(long)]
    pub(crate) pretty: bool,
}

/// Runs `slo`: `Ok(true)` when every objective holds.
pub(crate) fn run(args: &SloArgs) -> Result<bool> {
    let conn = db::open(&args.db)?;
    let scope = db::scope(&conn, &args.filter, true)?;
    let (report, ok) = report(&conn, &scope, &args.objectives, !args.no_exact)?;
    let text = if args.pretty {
        serde_json::to_string_pretty(&report)
    } else {
        serde_json::to_string(&report)
    }
    .map_err(|e| Failure::new(format!("cannot write the report: {e}")))?;
    println!("{text}");
    Ok(ok)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // tests may unwrap
mod tests {
    use super::*;

    #[test]
    fn objectives_parse() {
        let o = parse_objective("latency_p99=500ms").unwrap();
        assert_eq!(o.measure, Measure::Latency(0.99));
        assert_eq!(o.target, 0.5);
        assert_eq!(parse_objective("latency_p95=0.25").unwrap().target, 0.25);
        assert_eq!(
            parse_objective("success_percent=99.5").unwrap().bound,
            Bound::AtLeast
        );
        assert_eq!(latency_key(0.99), "latency_p99");
        assert_eq!(latency_key(0.5), "latency_p5");
        assert_eq!(quantile_of("latency_p5"), Some(0.5));
        for bad in [
            "success_percent",
            "success_percent=101",
            "nope=1",
            "retry_rate=-1",
            "latency_p=1s",
            "latency_p99=fast",
        ] {
            assert!(parse_objective(bad).is_err(), "{bad}");
        }
    }
}
