//! Parses the attribute's tokens into typed [`Args`], recording every
//! malformed argument instead of stopping at the first.
//!
//! `lex` splits a list into raw arguments; [`by_keyword`] sorts those of a
//! list of fixed names (the names are `crate::symbol`'s), reporting unknown
//! names (`unknown`) and repeated ones (`duplicates`, the tracker every
//! argument goes through); the handlers read each argument into its typed
//! form with `value`'s readers: the top-level arguments here, `hosts` and
//! `labels` in `labels`, `events` and `slo` in their own modules.
//!
//! Grammar (each argument optional, any order, at most once):
//!
//! ```text
//! name = "crossref"
//! hosts(cap = 16)
//! labels(tenant(cap = 8), region(cap = 4))
//! events(resolved(tenant, doi: String, cached: bool), login(user: String, #[secret] token: String))
//! naming = "prometheus" | "opentelemetry"
//! slo(success = 99.5, latency_p99 = "500ms")
//! budget = 10000                        (340 ..= 2000000)
//! crate = "::my_runtime_reexport"
//! ```

mod duplicates;
mod events;
mod labels;
mod lex;
mod slo;
mod unknown;
mod value;

use proc_macro2::TokenStream;
use syn::ext::IdentExt;

use self::duplicates::Attrs;
use self::events::parse_events;
use self::labels::{parse_cap, parse_labels};
use self::lex::{parse_list, Arg};
use self::slo::parse_slo;
use self::unknown::unknown;
use self::value::{expect_assign, expect_list, int_in, str_lit, IntRange};
use crate::ast::{Args, Naming};
use crate::errors::Errors;
use telemetry_vocab::cardinality::{DEFAULT_BUDGET, MAX_BUDGET, MIN_BUDGET};

use crate::symbol::{
    self, ARGUMENTS, BUDGET, CRATE, EVENTS, HOSTS, LABELS, NAME, NAMING, OPENTELEMETRY, OTEL,
    PROMETHEUS, SLO,
};

/// Why the budget starts at `MIN_BUDGET`.
const BUDGET_RANGE_WHY: &str =
    "`http_request_duration_seconds` alone has 340 series with one host and `_OTHER`";

/// Parses the whole attribute.
pub(crate) fn parse_args(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let expected = "an argument name, like `name = \"crossref\"` or `hosts(cap = 16)`";
    for arg in by_keyword(parse_list(tokens, expected, errors), ARGUMENTS, errors) {
        match arg.key.unraw().to_string().as_str() {
            NAME => {
                if let Some((_, v)) = expect_assign(arg, "name = \"crossref\"", errors) {
                    args.name = str_lit(&v, NAME, "crossref", errors);
                }
            }
            HOSTS => {
                if let Some((_, g)) = expect_list(arg, "hosts(cap = 16)", errors) {
                    args.host_cap = parse_cap(g, HOSTS, errors);
                }
            }
            LABELS => {
                args.labels_written = true;
                match expect_list(arg, "labels(tenant(cap = 8))", errors) {
                    Some((_, g)) => args.labels = parse_labels(g, errors),
                    None => args.labels_known = false,
                }
            }
            EVENTS => {
                if let Some((_, g)) = expect_list(arg, "events(resolved(doi: String))", errors) {
                    args.events = parse_events(g, errors);
                }
            }
            NAMING => {
                if let Some((_, v)) = expect_assign(arg, "naming = \"prometheus\"", errors) {
                    if let Some(s) = str_lit(&v, NAMING, PROMETHEUS, errors) {
                        args.naming = match s.value().as_str() {
                            PROMETHEUS => Some(Naming::Prometheus),
                            OPENTELEMETRY | OTEL => Some(Naming::OpenTelemetry),
                            other => {
                                errors.spanned(&s, format!("unknown naming `{other}`, expected `\"{PROMETHEUS}\"` or `\"{OPENTELEMETRY}\"`"));
                                None
                            }
                        };
                    }
                }
            }
            SLO => {
                if let Some((_, g)) =
                    expect_list(arg, "slo(success = 99.5, latency_p99 = \"500ms\")", errors)
                {
                    args.slo = Some(parse_slo(g, errors));
                }
            }
            BUDGET => {
                if let Some((_, v)) = expect_assign(arg, "budget = 10000", errors) {
                    // Below `MIN_BUDGET` not even `hosts(cap = 1)` fits: the
                    // range says what can compile.
                    let range = IntRange {
                        min: MIN_BUDGET,
                        max: MAX_BUDGET,
                        example: DEFAULT_BUDGET,
                        why: Some(BUDGET_RANGE_WHY),
                    };
                    args.budget = int_in(&v, BUDGET, &range, errors);
                }
            }
            CRATE => {
                if let Some((_, v)) = expect_assign(arg, "crate = \"::telemetry_runtime\"", errors)
                {
                    if let Some(s) = str_lit(&v, CRATE, "::telemetry_runtime", errors) {
                        match s.parse::<syn::Path>() {
                            Ok(p) => args.krate = Some(p),
                            Err(_) => errors.spanned(
                                &s,
                                "`crate` must be a path, like `\"::telemetry_runtime\"`",
                            ),
                        }
                    }
                }
            }
            // `by_keyword` lets no other name through.
            _ => {}
        }
    }
    args
}

/// The arguments of a list of fixed names, `keywords` (from `symbol`), each
/// at most once: an unknown name is reported with the names that would be
/// right, a repeated one as a duplicate.
fn by_keyword(args: Vec<Arg>, keywords: &[&str], errors: &mut Errors) -> Attrs<Arg> {
    let mut known = Attrs::new("argument");
    // "Did you mean" offers no name that is written already: following it
    // would only make a duplicate.
    let written: Vec<String> = args.iter().map(|a| a.key.unraw().to_string()).collect();
    let free: Vec<&str> = keywords
        .iter()
        .copied()
        .filter(|k| !written.iter().any(|w| w == k))
        .collect();
    for arg in args {
        if symbol::is_one_of(&arg.key, keywords) {
            let key = arg.key.clone();
            known.set(&key, arg, errors);
        } else {
            unknown(&arg.key, keywords, &free, errors);
        }
    }
    known
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_cap_is_cap() {
        let mut errors = Errors::default();
        let args = parse_args(quote::quote!(hosts(r#cap = 4)), &mut errors);
        assert!(errors.finish().is_ok());
        assert_eq!(args.host_cap.map(|c| c.value), Some(4));
    }

    /// Messages of `parse_args` on `text` (parsed from text, so errors carry
    /// positions and come out in source order).
    fn messages(text: &str) -> Vec<String> {
        let tokens: TokenStream = match text.parse() {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        let mut errors = Errors::default();
        parse_args(tokens, &mut errors);
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn duplicates_are_reported_once_without_reading_their_value() {
        assert_eq!(
            messages("name = 1, name = 2, hosts(cap = 0), hosts(cap = 0)"),
            [
                "`name` takes a string, like `name = \"crossref\"`",
                "duplicate argument `name`",
                "`cap` must be between 1 and 10000",
                "duplicate argument `hosts`",
            ]
        );
        assert_eq!(
            messages("hosts(cap = 4, r#cap = 5)"),
            ["duplicate argument `cap`"]
        );
        assert_eq!(
            messages("labels(a(cap = 0), a(cap = 0), r#b(cap = 1), b)"),
            [
                "`cap` must be between 1 and 10000",
                "duplicate label `a`",
                "duplicate label `b`",
            ]
        );
        // A malformed event is not declared, so the next of its name is kept.
        assert_eq!(
            messages("events(a = 1, a(x: u8), a)"),
            [
                "events are declared as `a(doi: String)`, or `a` without fields, not with `=`",
                "duplicate event `a`",
            ]
        );
        assert_eq!(
            messages(
                "slo(success = 120, latency_p99 = \"soon\", success = 1, latency_p50 = 3, latency_p99)"
            ),
            [
                "`success` is a percentage strictly between 0 and 100, like `99.5`",
                "`latency_p99` takes a duration with a unit, like `\"250ms\"`, `\"1.5s\"` or `\"800us\"`",
                "duplicate argument `success`",
                "only one latency objective is allowed, and `latency_p99` is already declared",
                "only one latency objective is allowed, and `latency_p99` is already declared",
            ]
        );
        assert_eq!(
            messages("slo(latency_p = \"1s\", latency_p5 = 1, nope = 2)"),
            [
                "`latency_p` does not name a quantile between 0 and 1: write `latency_p` and the quantile's digits, like `latency_p50`, `latency_p99` or `latency_p999`",
                "only one latency objective is allowed, and `latency_p` is already declared",
                "unknown argument `nope`, expected one of `success`, `latency_p50`, `latency_p90`, `latency_p95`, `latency_p99`, `latency_p999`",
            ]
        );
        assert_eq!(
            messages("colour = 1, r#name = \"a\", name = \"b\""),
            [
                "unknown argument `colour`, expected one of `name`, `hosts`, `labels`, `events`, `naming`, `slo`, `budget`, `crate`",
                "duplicate argument `name`",
            ]
        );
    }
}
