//! `hosts(cap = 16)` and `labels(tenant(cap = 8), ...)`: bounded labels and
//! their caps.

use proc_macro2::Group;
use syn::ext::IdentExt;

use super::lex::parse_list;
use super::unknown::unknown;
use super::value::{expect_assign, expect_list, int_in};
use super::Seen;
use crate::ast::{LabelArg, Spanned};
use crate::errors::Errors;
use crate::symbol::{self, CAP, CAP_ARGUMENTS};

/// `(cap = N)`.
pub(super) fn parse_cap(group: Group, owner: &str, errors: &mut Errors) -> Option<Spanned<u32>> {
    let mut seen = Seen::new();
    let mut cap = None;
    let items = parse_list(group.stream(), "`cap = 16`", errors);
    if items.is_empty() {
        errors.at(
            group.span(),
            format!("`{owner}` needs a cap: write `{owner}(cap = 16)`"),
        );
    }
    for arg in items {
        // Compared unraw, as every other argument name is: `r#cap` is `cap`.
        if !symbol::is_one_of(&arg.key, CAP_ARGUMENTS) {
            unknown(&arg.key, CAP_ARGUMENTS, errors);
            continue;
        }
        if !seen.first(&arg.key, errors) {
            continue;
        }
        if let Some((_, v)) = expect_assign(arg, "cap = 16", errors) {
            let max = u64::from(telemetry_vocab::MAX_CAP);
            cap = int_in(&v, CAP, (1, max, 16), errors).and_then(|s| {
                Some(Spanned {
                    value: u32::try_from(s.value).ok()?,
                    span: s.span,
                })
            });
        }
    }
    cap
}

pub(super) fn parse_labels(group: Group, errors: &mut Errors) -> Vec<LabelArg> {
    let mut out: Vec<LabelArg> = Vec::new();
    let expected = "a label, like `tenant(cap = 8)`";
    for arg in parse_list(group.stream(), expected, errors) {
        let ident = arg.key.clone();
        let name = ident.unraw().to_string();
        if out.iter().any(|l| l.ident.unraw() == name) {
            errors.spanned(&ident, format!("duplicate label `{name}`"));
            continue;
        }
        let example = format!("{name}(cap = 8)");
        // A label whose cap is wrong stays declared (with no cap), so events
        // that carry it do not also report "not a declared label".
        let cap = expect_list(arg, &example, errors).and_then(|(_, g)| parse_cap(g, &name, errors));
        out.push(LabelArg { ident, cap });
    }
    out
}
