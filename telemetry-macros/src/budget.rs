//! The cardinality budget (`budget = N`): no metric family of the adapter may
//! reach more series than the budget. The per-family formulas are
//! `telemetry_vocab::cardinality`'s; this module applies them to the
//! declaration, words the errors, and finds the fixes they suggest.
//!
//! A fix is offered only when applying it makes that error go away: the
//! lower cap is the largest that fits (found by evaluating the formulas
//! again), the higher budget is within `MAX_BUDGET`. Lowering a cap or
//! raising the budget never breaks another family, so a fix cannot cause a
//! new budget error either.

use proc_macro2::Span;
use syn::Ident;
use telemetry_vocab::cardinality::{label_overflow_series, HostFamily, HOST_FAMILIES, MAX_BUDGET};
use telemetry_vocab::MAX_EVENT_LABELS;

use crate::ast::Naming;
use crate::errors::Errors;

/// The declaration as the budget sees it: caps and which labels each event
/// carries. Cheap to clone, so a suggested change can be tried first.
#[derive(Clone)]
pub(crate) struct Cardinality {
    pub(crate) host_cap: u32,
    pub(crate) budget: u64,
    /// Caps by label index (`Args::labels` order).
    pub(crate) label_caps: Vec<u32>,
    /// Label indices of each event, in `Args::events` order.
    pub(crate) events: Vec<Vec<usize>>,
}

impl Cardinality {
    /// Series event `e` adds to `adapter_events_total`: the product of
    /// `cap + 1` over its labels.
    fn event_series(&self, e: usize) -> u64 {
        let caps: Vec<u32> = self.events[e].iter().map(|&l| self.label_caps[l]).collect();
        telemetry_vocab::cardinality::event_series(&caps)
    }

    /// Series of `adapter_events_total`: every event's, added up.
    fn events_series(&self) -> u64 {
        (0..self.events.len())
            .map(|e| self.event_series(e))
            .fold(0, u64::saturating_add)
    }

    /// Whether `adapter_events_total` fits the budget and no event carries
    /// more labels than the runtime's per-event buffer.
    pub(crate) fn events_fit(&self) -> bool {
        self.events_series() <= self.budget
            && self.events.iter().all(|e| e.len() <= MAX_EVENT_LABELS)
    }

    /// `self` with one more label of cap `cap`, carried by the events in
    /// `carried_by`: what declaring an undeclared label would make.
    pub(crate) fn with_label(&self, cap: u32, carried_by: &[usize]) -> Cardinality {
        let mut next = self.clone();
        let label = next.label_caps.len();
        next.label_caps.push(cap);
        for &e in carried_by {
            if let Some(labels) = next.events.get_mut(e) {
                labels.push(label);
            }
        }
        next
    }

    /// `self` with event `e` carrying label `label` too.
    pub(crate) fn with_event_label(&self, e: usize, label: usize) -> Cardinality {
        let mut next = self.clone();
        if let Some(labels) = next.events.get_mut(e) {
            labels.push(label);
        }
        next
    }

    /// The largest cap up to `most` at which `make(cap)` still fits, if any.
    pub(crate) fn largest_fitting_cap(most: u32, make: impl Fn(u32) -> Cardinality) -> Option<u32> {
        if most == 0 || !make(1).events_fit() {
            return None;
        }
        // `fits` is monotone in the cap: binary search for the last `true`.
        let (mut lo, mut hi) = (1u32, most);
        while lo < hi {
            let mid = lo + (hi - lo).div_ceil(2);
            if make(mid).events_fit() {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        Some(lo)
    }
}

/// `51170` -> `51,170`, for the numbers in prose (code keeps the plain form).
pub(crate) fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// What applies to the whole declaration; the spans errors point at.
pub(crate) struct Declaration<'a> {
    pub(crate) naming: Naming,
    /// The host cap's token, else the budget's.
    pub(crate) host_span: Span,
    pub(crate) label_idents: &'a [&'a Ident],
    pub(crate) event_idents: &'a [&'a Ident],
}

/// Checks every family against the budget, recording one error per family
/// group that is over it.
pub(crate) fn check(model: &Cardinality, decl: &Declaration<'_>, errors: &mut Errors) {
    check_host_families(model, decl, errors);
    check_events(model, decl, errors);
    // `http_fallback_attempts_total` (195 series) is within every budget
    // (`MIN_BUDGET` is 340); `telemetry_label_overflow_total` is one series
    // per label and one for `host`.
    let overflow = label_overflow_series(model.label_caps.len());
    if overflow > model.budget {
        errors.at(
            decl.host_span,
            format!(
                "`telemetry_label_overflow_total` alone can reach {} labels + `host` = {} series, over the budget of {}; raise the budget with `budget = {overflow}`",
                model.label_caps.len(),
                thousands(overflow),
                model.budget
            ),
        );
    }
}

/// `(300 hosts + 1) × 10 methods × 17 lines`.
fn host_product(f: &HostFamily, host_cap: u32) -> String {
    let mut out = format!("({host_cap} hosts + 1)");
    for factor in f.per_host {
        if factor.overflow {
            out.push_str(&format!(" × ({} {} + 1)", factor.count - 1, factor.what));
        } else {
            out.push_str(&format!(" × {} {}", factor.count, factor.what));
        }
    }
    out
}

/// `http_requests_total` and the other families with a series set per host:
/// rejects `hosts(cap = 300)` with the default budget of 10000, since
/// `http_request_duration_seconds` could then reach 301 × 10 × 17 series.
fn check_host_families(model: &Cardinality, decl: &Declaration<'_>, errors: &mut Errors) {
    let name = |f: &HostFamily| match decl.naming {
        Naming::Prometheus => f.name,
        Naming::OpenTelemetry => f.otel_name,
    };
    let mut over: Vec<(&HostFamily, u64)> = HOST_FAMILIES
        .iter()
        .map(|f| (f, f.series(model.host_cap)))
        .filter(|(_, series)| *series > model.budget)
        .collect();
    over.sort_by_key(|(_, series)| std::cmp::Reverse(*series));
    let Some(&(largest, series)) = over.first() else {
        return;
    };
    let also = match &over[1..] {
        [] => String::new(),
        rest => format!(
            ", as can {}",
            rest.iter()
                .map(|(f, s)| format!("`{}` with {}", name(f), thousands(*s)))
                .collect::<Vec<_>>()
                .join(" and ")
        ),
    };
    // The largest family is the one that needs the most; so what fits it
    // fits every family.
    let cap = telemetry_vocab::cardinality::max_host_cap(model.budget);
    let mut fixes = Vec::new();
    if cap >= 1 {
        fixes.push(format!("lower the host cap with `hosts(cap = {cap})`"));
    }
    if series <= MAX_BUDGET {
        fixes.push(format!("raise the budget with `budget = {series}`"));
    }
    errors.at(
        decl.host_span,
        format!(
            "`{}` alone can reach {} = {} series, over the budget of {}{also}; {}",
            name(largest),
            host_product(largest, model.host_cap),
            thousands(series),
            model.budget,
            fixes.join(" or ")
        ),
    );
}

/// `adapter_events_total`: every event's label combinations, the `_OTHER`
/// value of each label included, added over the events. Rejects
/// `labels(tenant(cap = 500), region(cap = 40))` on one event with the
/// default budget: (500 + 1) × (40 + 1) = 20,541 series.
fn check_events(model: &Cardinality, decl: &Declaration<'_>, errors: &mut Errors) {
    let total = model.events_series();
    if total <= model.budget || model.events.is_empty() {
        return;
    }
    let largest = (0..model.events.len())
        .max_by_key(|&e| (model.event_series(e), std::cmp::Reverse(e)))
        .unwrap_or(0);
    let largest_series = model.event_series(largest);
    let event_name = |e: usize| {
        decl.event_idents
            .get(e)
            .map_or_else(String::new, |i| syn::ext::IdentExt::unraw(*i).to_string())
    };
    let label_name = |l: usize| {
        decl.label_idents
            .get(l)
            .map_or_else(String::new, |i| syn::ext::IdentExt::unraw(*i).to_string())
    };
    let what = if largest_series > model.budget {
        let product = model.events[largest]
            .iter()
            .map(|&l| format!("({} `{}` values + 1)", model.label_caps[l], label_name(l)))
            .collect::<Vec<_>>()
            .join(" × ");
        let with_others = if total > largest_series {
            format!(" ({} with the other events)", thousands(total))
        } else {
            String::new()
        };
        format!(
            "`adapter_events_total` for event `{}` alone can reach {product} = {} series{with_others}",
            event_name(largest),
            thousands(largest_series),
        )
    } else {
        let terms = (0..model.events.len())
            .map(|e| format!("{} (`{}`)", thousands(model.event_series(e)), event_name(e)))
            .collect::<Vec<_>>()
            .join(" + ");
        format!(
            "`adapter_events_total` can reach {terms} = {} series over its events",
            thousands(total)
        )
    };

    let mut fixes = Vec::new();
    // Lower the largest cap of the largest event that can fix it alone.
    let mut labels = model.events[largest].clone();
    labels.sort_by_key(|&l| std::cmp::Reverse(model.label_caps[l]));
    labels.dedup();
    let written = |l: usize| {
        decl.label_idents
            .get(l)
            .map_or_else(String::new, ToString::to_string)
    };
    let single = labels.iter().find_map(|&l| {
        let lowered = Cardinality::largest_fitting_cap(model.label_caps[l] - 1, |c| {
            let mut next = model.clone();
            next.label_caps[l] = c;
            next
        });
        lowered.map(|c| format!("lower the cap with `{}(cap = {c})`", written(l)))
    });
    // No one cap is enough: lower every label of the event to one cap.
    let uniform = || {
        let most = labels.first().map_or(0, |&l| model.label_caps[l]);
        let lowered = Cardinality::largest_fitting_cap(most.saturating_sub(1), |c| {
            let mut next = model.clone();
            for &l in &labels {
                next.label_caps[l] = next.label_caps[l].min(c);
            }
            next
        })?;
        let first = written(*labels.first()?);
        Some(format!(
            "lower the cap of each of its labels to at most {lowered}, like `{first}(cap = {lowered})`"
        ))
    };
    if let Some(fix) = single.or_else(uniform) {
        fixes.push(fix);
    }
    if total <= MAX_BUDGET {
        fixes.push(format!("raise the budget with `budget = {total}`"));
    }
    if fixes.is_empty() {
        fixes.push("carry fewer labels on the event".to_owned());
    }
    let span = decl
        .event_idents
        .get(largest)
        .map_or(decl.host_span, |i| i.span());
    errors.at(
        span,
        format!(
            "{what}, over the budget of {}; {}",
            model.budget,
            fixes.join(" or ")
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(51_170), "51,170");
        assert_eq!(thousands(1_700_170), "1,700,170");
    }

    #[test]
    fn the_largest_fitting_cap_is_the_boundary() {
        let model = Cardinality {
            host_cap: 16,
            budget: 10_000,
            label_caps: vec![500, 40, 3],
            events: vec![vec![0, 1], vec![0, 2]],
        };
        assert!(!model.events_fit());
        let lowered = Cardinality::largest_fitting_cap(499, |c| {
            let mut next = model.clone();
            next.label_caps[0] = c;
            next
        });
        // (c + 1) × 41 + (c + 1) × 4 <= 10000: c + 1 <= 222.
        assert_eq!(lowered, Some(221));
    }
}
