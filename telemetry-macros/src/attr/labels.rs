//! `hosts(cap = 16)` and `labels(tenant(cap = 8), ...)`: bounded labels and
//! their caps.

use proc_macro2::Group;

use super::by_keyword;
use super::duplicates::Attrs;
use super::lex::parse_list;
use super::value::{expect_assign, expect_list, int_in, IntRange};
use crate::ast::{LabelArg, Spanned};
use crate::errors::Errors;
use crate::symbol::{CAP, CAP_ARGUMENTS};

/// `(cap = N)`.
pub(super) fn parse_cap(group: Group, owner: &str, errors: &mut Errors) -> Option<Spanned<u32>> {
    let mut cap = None;
    let items = parse_list(group.stream(), "`cap = 16`", errors);
    if items.is_empty() {
        errors.at(
            group.span(),
            format!("`{owner}` needs a cap: write `{owner}(cap = 16)`"),
        );
    }
    for arg in by_keyword(items, CAP_ARGUMENTS, errors) {
        if let Some((_, v)) = expect_assign(arg, "cap = 16", errors) {
            let range = IntRange {
                min: 1,
                max: u64::from(telemetry_vocab::MAX_CAP),
                example: 16,
                why: None,
            };
            cap = int_in(&v, CAP, &range, errors).and_then(|s| {
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
    let mut written = Attrs::new("label");
    let expected = "a label, like `tenant(cap = 8)`";
    for arg in parse_list(group.stream(), expected, errors) {
        let key = arg.key.clone();
        written.set(&key, arg, errors);
    }
    let mut out = Vec::new();
    for arg in written {
        let ident = arg.key.clone();
        // As written (`r#type`), so the example compiles.
        let name = ident.to_string();
        let example = format!("{name}(cap = 8)");
        // A label whose cap is wrong stays declared (with no cap), so events
        // that carry it do not also report "not a declared label".
        let cap = expect_list(arg, &example, errors).and_then(|(_, g)| parse_cap(g, &name, errors));
        out.push(LabelArg { ident, cap });
    }
    out
}
