//! Parses the attribute's tokens into typed [`Args`], recording every
//! malformed argument instead of stopping at the first.
//!
//! Grammar (each argument optional, any order, at most once):
//!
//! ```text
//! name = "crossref"
//! hosts(cap = 16)
//! labels(tenant(cap = 8), region(cap = 4))
//! events(resolved(tenant, doi: String, cached: bool), miss(key: String))
//! naming = "prometheus" | "opentelemetry"
//! slo(success = 99.5, latency_p99 = "500ms")
//! budget = 10000
//! crate = "::my_runtime_reexport"
//! ```

mod events;
mod labels;
mod lex;
mod slo;
mod unknown;
mod value;

use proc_macro2::TokenStream;
use syn::ext::IdentExt;
use syn::Ident;

use self::events::parse_events;
use self::labels::{parse_cap, parse_labels};
use self::lex::parse_list;
use self::slo::parse_slo;
use self::unknown::unknown;
use self::value::{expect_assign, expect_list, int_in, str_lit};
use crate::ast::{Args, Naming};
use crate::errors::Errors;
use crate::symbol::{
    self, ARGUMENTS, BUDGET, CRATE, EVENTS, HOSTS, LABELS, NAME, NAMING, OPENTELEMETRY, OTEL,
    PROMETHEUS, SLO,
};

/// Largest cardinality budget.
pub(crate) const MAX_BUDGET: u64 = 1_000_000;

/// Tracks that an argument appears at most once; one helper for every
/// argument, so none can forget the check.
pub(super) struct Seen {
    names: Vec<String>,
}

impl Seen {
    pub(super) fn new() -> Self {
        Seen { names: Vec::new() }
    }
    /// `true` the first time `key` is seen; records an error afterwards.
    pub(super) fn first(&mut self, key: &Ident, errors: &mut Errors) -> bool {
        let name = key.unraw().to_string();
        if self.names.contains(&name) {
            errors.spanned(key, format!("duplicate argument `{name}`"));
            false
        } else {
            self.names.push(name);
            true
        }
    }
}

/// Parses the whole attribute.
pub(crate) fn parse_args(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let mut seen = Seen::new();
    let expected = "an argument name, like `name = \"crossref\"` or `hosts(cap = 16)`";
    for arg in parse_list(tokens, expected, errors) {
        let key = arg.key.unraw().to_string();
        if !symbol::is_one_of(&arg.key, ARGUMENTS) {
            unknown(&arg.key, ARGUMENTS, errors);
            continue;
        }
        if !seen.first(&arg.key, errors) {
            continue;
        }
        match key.as_str() {
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
            LABELS => match expect_list(arg, "labels(tenant(cap = 8))", errors) {
                Some((_, g)) => args.labels = parse_labels(g, errors),
                None => args.labels_known = false,
            },
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
                    args.budget = int_in(&v, BUDGET, (1, MAX_BUDGET, 10_000), errors);
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
            // `ARGUMENTS` let no other name through.
            _ => {}
        }
    }
    args
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
}
