//! Every name the attribute's grammar knows, defined once (serde_derive's
//! `symbol.rs`): the parser matches on these constants and the "expected one
//! of ..." messages list them, so what is accepted and what an error offers
//! cannot drift apart.
//!
//! Plain `&str` constants rather than serde's `Symbol` newtype: names are
//! compared unraw (`r#name` is `name`) as strings, and a `&str` constant
//! can be a `match` pattern.

use syn::ext::IdentExt;
use syn::Ident;

// The attribute's arguments.
pub(crate) const NAME: &str = "name";
pub(crate) const HOSTS: &str = "hosts";
pub(crate) const LABELS: &str = "labels";
pub(crate) const EVENTS: &str = "events";
pub(crate) const NAMING: &str = "naming";
pub(crate) const SLO: &str = "slo";
pub(crate) const BUDGET: &str = "budget";
pub(crate) const CRATE: &str = "crate";

/// The attribute's arguments, in the order messages list them.
pub(crate) const ARGUMENTS: &[&str] = &[NAME, HOSTS, LABELS, EVENTS, NAMING, SLO, BUDGET, CRATE];

/// The one argument of `hosts(...)` and of each label, `tenant(...)`.
pub(crate) const CAP: &str = "cap";
pub(crate) const CAP_ARGUMENTS: &[&str] = &[CAP];

/// The one attribute of an event field: `#[secret] token: String`.
pub(crate) const SECRET: &str = "secret";

// Objectives of `slo(...)`.
pub(crate) const SUCCESS: &str = "success";
/// `latency_p` and a quantile's digits (`latency_p99`) name a latency
/// objective.
pub(crate) const LATENCY_PREFIX: &str = "latency_p";
/// The objectives messages offer; any `latency_p` and digits is accepted.
pub(crate) const SLO_OBJECTIVES: &[&str] = &[
    SUCCESS,
    "latency_p50",
    "latency_p90",
    "latency_p95",
    "latency_p99",
    "latency_p999",
];

// Values of `naming = "..."`.
pub(crate) const PROMETHEUS: &str = "prometheus";
pub(crate) const OPENTELEMETRY: &str = "opentelemetry";
/// Accepted for `opentelemetry`; messages do not offer it.
pub(crate) const OTEL: &str = "otel";

/// Whether `key`, unraw, is one of `names`.
pub(crate) fn is_one_of(key: &Ident, names: &[&str]) -> bool {
    let key = key.unraw();
    names.iter().any(|name| key == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offered_latency_objectives_are_latency_objectives() {
        for objective in &SLO_OBJECTIVES[1..] {
            assert!(objective.starts_with(LATENCY_PREFIX), "{objective}");
        }
    }

    #[test]
    fn names_compare_unraw() {
        let raw: Ident = syn::parse_quote!(r#name);
        assert!(is_one_of(&raw, ARGUMENTS));
        let cap: Ident = syn::parse_quote!(cap);
        assert!(!is_one_of(&cap, ARGUMENTS));
    }
}
