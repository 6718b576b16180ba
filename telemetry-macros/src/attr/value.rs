//! Typed readers of raw arguments: the shape (`key = value` or `key(...)`)
//! and the literal (integer in a range, string, number) each argument takes,
//! with an error that shows the right form.

use proc_macro2::{Group, Span, TokenStream};
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, UnOp};

use super::lex::{Arg, ArgValue};
use crate::ast::Spanned;
use crate::errors::Errors;

/// The integers an argument takes.
pub(super) struct IntRange {
    pub(super) min: u64,
    pub(super) max: u64,
    /// A good value for the error message.
    pub(super) example: u64,
    /// Why the range starts where it does, when that is not obvious.
    pub(super) why: Option<&'static str>,
}

/// Reads `value` as an integer literal in `range`.
pub(super) fn int_in(
    value: &TokenStream,
    what: &str,
    range: &IntRange,
    errors: &mut Errors,
) -> Option<Spanned<u64>> {
    let IntRange {
        min,
        max,
        example,
        why,
    } = *range;
    let range = || match why {
        Some(why) => format!("`{what}` must be between {min} and {max} ({why})"),
        None => format!("`{what}` must be between {min} and {max}"),
    };
    match syn::parse2::<Expr>(value.clone()) {
        Ok(Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        })) => match i.base10_parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Some(Spanned {
                value: v,
                span: i.span(),
            }),
            _ => {
                errors.spanned(&i, range());
                None
            }
        },
        Ok(
            e @ Expr::Unary(ExprUnary {
                op: UnOp::Neg(_), ..
            }),
        ) => {
            errors.spanned(e, range());
            None
        }
        _ => {
            errors.spanned(
                value,
                format!("`{what}` takes an integer, like `{what} = {example}`"),
            );
            None
        }
    }
}

pub(super) fn str_lit(
    value: &TokenStream,
    what: &str,
    example: &str,
    errors: &mut Errors,
) -> Option<LitStr> {
    match syn::parse2::<Expr>(value.clone()) {
        Ok(Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        })) => Some(s),
        _ => {
            errors.spanned(
                value,
                format!("`{what}` takes a string, like `{what} = \"{example}\"`"),
            );
            None
        }
    }
}

pub(super) fn float_lit(
    value: &TokenStream,
    what: &str,
    example: &str,
    errors: &mut Errors,
) -> Option<(f64, Span)> {
    fn number(lit: &Lit) -> Option<f64> {
        match lit {
            Lit::Float(f) => f.base10_parse::<f64>().ok(),
            Lit::Int(i) => i.base10_parse::<f64>().ok(),
            _ => None,
        }
    }
    let parsed = syn::parse2::<Expr>(value.clone()).ok();
    let found = match &parsed {
        Some(Expr::Lit(ExprLit { lit, .. })) => number(lit).map(|v| (v, lit.span())),
        // Negative numbers parse, so the range check can name them.
        Some(
            e @ Expr::Unary(ExprUnary {
                op: UnOp::Neg(_),
                expr,
                ..
            }),
        ) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => number(lit).map(|v| (-v, e.span())),
            _ => None,
        },
        _ => None,
    };
    if found.is_none() {
        errors.spanned(
            value,
            format!("`{what}` takes a number, like `{what} = {example}`"),
        );
    }
    found
}

pub(super) fn expect_assign(
    arg: Arg,
    example: &str,
    errors: &mut Errors,
) -> Option<(Ident, TokenStream)> {
    match arg.value {
        ArgValue::Assign(v) => Some((arg.key, v)),
        ArgValue::List(g) => {
            errors.at(
                g.span(),
                format!("`{}` takes a value, not a list: write `{example}`", arg.key),
            );
            None
        }
        ArgValue::Bare => {
            errors.spanned(
                &arg.key,
                format!("`{}` needs a value: write `{example}`", arg.key),
            );
            None
        }
    }
}

pub(super) fn expect_list(arg: Arg, example: &str, errors: &mut Errors) -> Option<(Ident, Group)> {
    match arg.value {
        ArgValue::List(g) => Some((arg.key, g)),
        ArgValue::Assign(v) => {
            errors.spanned(
                v,
                format!("`{}` takes a list, not a value: write `{example}`", arg.key),
            );
            None
        }
        ArgValue::Bare => {
            errors.spanned(
                &arg.key,
                format!("`{}` needs a list: write `{example}`", arg.key),
            );
            None
        }
    }
}
