//! The SLO grammar: `slo(success = 99.5, latency_p99 = "500ms")`. Latency
//! targets are read by the duration grammar the runtime's configuration
//! file shares (`telemetry_vocab::duration`).

use proc_macro2::Group;
use syn::ext::IdentExt;
use telemetry_vocab::duration::{self, DurationError};

use super::duplicates::{Attr, Duplicate};
use super::lex::{parse_list, Arg};
use super::unknown::unknown;
use super::value::{expect_assign, float_lit, str_lit};
use crate::ast::{LatencyArg, SloArg};
use crate::errors::Errors;
use crate::symbol::{LATENCY_PREFIX, SLO_OBJECTIVES, SUCCESS};

/// Latency targets must fall inside the request duration buckets
/// (the runtime's `instruments::DURATION_BUCKETS_SECONDS`), or the quantile
/// could not be computed from the histogram.
const MIN_LATENCY_SECONDS: f64 = 0.001;
const MAX_LATENCY_SECONDS: f64 = 10.0;

pub(super) fn parse_slo(group: Group, errors: &mut Errors) -> SloArg {
    let items = parse_list(
        group.stream(),
        "an objective, like `success = 99.5` or `latency_p99 = \"500ms\"`",
        errors,
    );
    if items.is_empty() {
        errors.at(
            group.span(),
            "`slo` needs at least one objective: `slo(success = 99.5, latency_p99 = \"500ms\")`",
        );
    }
    // "Did you mean" offers no objective that is written already.
    let written: Vec<String> = items.iter().map(|a| a.key.unraw().to_string()).collect();
    let hints: Vec<&str> = SLO_OBJECTIVES
        .iter()
        .copied()
        .filter(|o| {
            !written
                .iter()
                .any(|w| w == o || (o.starts_with(LATENCY_PREFIX) && w.starts_with(LATENCY_PREFIX)))
        })
        .collect();
    let mut success = Attr::new(Duplicate::Named("argument"));
    // Every `latency_pQ` is one objective: the runtime keeps one target.
    let mut latency = Attr::new(Duplicate::OneOf("latency objective"));
    for arg in items {
        let key = arg.key.unraw().to_string();
        let objective = if key == SUCCESS {
            &mut success
        } else if key.starts_with(LATENCY_PREFIX) {
            &mut latency
        } else {
            unknown(&arg.key, SLO_OBJECTIVES, &hints, errors);
            continue;
        };
        let key = arg.key.clone();
        objective.set(&key, arg, errors);
    }
    SloArg {
        success_percent: success.get().and_then(|arg| success_percent(arg, errors)),
        latency: latency.get().and_then(|arg| latency_objective(arg, errors)),
    }
}

/// `success = 99.5`.
fn success_percent(arg: Arg, errors: &mut Errors) -> Option<f64> {
    let (_, v) = expect_assign(arg, "success = 99.5", errors)?;
    let (pct, span) = float_lit(&v, SUCCESS, "99.5", errors)?;
    if pct > 0.0 && pct < 100.0 {
        Some(pct)
    } else {
        errors.at(
            span,
            "`success` is a percentage strictly between 0 and 100, like `99.5`",
        );
        None
    }
}

/// `latency_p99 = "500ms"`.
fn latency_objective(arg: Arg, errors: &mut Errors) -> Option<LatencyArg> {
    let key_ident = arg.key.clone();
    let key = key_ident.unraw().to_string();
    let quantile = key.strip_prefix(LATENCY_PREFIX).and_then(parse_quantile);
    let (_, v) = expect_assign(arg, "latency_p99 = \"500ms\"", errors)?;
    let target = str_lit(&v, &key, "500ms", errors);
    let Some(quantile) = quantile else {
        errors.spanned(
            &key_ident,
            format!(
                "`{key}` does not name a quantile between 0 and 1: write `latency_p` and \
                 the quantile's digits, like `latency_p50`, `latency_p99` or `latency_p999`"
            ),
        );
        return None;
    };
    let target = target?;
    match duration::parse_secs_f64(&target.value()) {
        Ok(secs) if (MIN_LATENCY_SECONDS..=MAX_LATENCY_SECONDS).contains(&secs) => {
            Some(LatencyArg {
                quantile,
                target_seconds: secs,
            })
        }
        // Too many digits for an `f64` is out of range too.
        Ok(_) | Err(DurationError::Overflow { .. }) => {
            errors.spanned(
                &target,
                format!(
                    "`{key}` must be between `\"1ms\"` and `\"10s\"` \
                     (the range of the request duration buckets)"
                ),
            );
            None
        }
        Err(_) => {
            errors.spanned(
                &target,
                format!(
                    "`{key}` takes a duration with a unit, like `\"250ms\"`, \
                     `\"1.5s\"` or `\"800us\"`"
                ),
            );
            None
        }
    }
}

/// `"99"` -> 0.99, `"999"` -> 0.999, `"50"` -> 0.5.
fn parse_quantile(digits: &str) -> Option<f64> {
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // `p100` would read as the 100th percentile but spell 0.100: ambiguous.
    if digits.len() > 2 && digits.ends_with('0') {
        return None;
    }
    let n: f64 = digits.parse().ok()?;
    // At most 4 digits, so the exponent always fits.
    let q = n / 10f64.powi(i32::try_from(digits.len()).ok()?);
    (q > 0.0 && q < 1.0).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        assert_eq!(parse_quantile("99"), Some(0.99));
        assert_eq!(parse_quantile("999"), Some(0.999));
        assert_eq!(parse_quantile("5"), Some(0.5));
        assert_eq!(parse_quantile("x"), None);
        assert_eq!(parse_quantile("0"), None);
        assert_eq!(parse_quantile("100"), None);
        assert_eq!(parse_quantile("05"), Some(0.05));
    }
}
