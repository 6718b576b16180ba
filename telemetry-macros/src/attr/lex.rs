//! The token lexer: splits a list at its top-level commas into raw
//! arguments, `key = value`, `key(...)` or `key`, before anything is typed.

use proc_macro2::{Delimiter, Group, TokenStream, TokenTree};
use syn::Ident;

use crate::errors::Errors;

/// One comma-separated argument: `key = value`, `key(...)` or `key`.
pub(super) enum ArgValue {
    Assign(TokenStream),
    List(Group),
    Bare,
}

pub(super) struct Arg {
    pub(super) key: Ident,
    pub(super) value: ArgValue,
}

/// Splits at top-level commas (commas inside groups stay inside them).
fn split_commas(tokens: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut out = vec![Vec::new()];
    for tt in tokens {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' => out.push(Vec::new()),
            _ => out.last_mut().map_or((), |v| v.push(tt)),
        }
    }
    out.retain(|v| !v.is_empty());
    out
}

/// `expected` describes what the list holds, for the error when an item
/// does not start with a name (`"an argument name, like ..."`).
fn parse_arg(tokens: Vec<TokenTree>, expected: &str, errors: &mut Errors) -> Option<Arg> {
    let mut iter = tokens.into_iter();
    let key = match iter.next() {
        Some(TokenTree::Ident(i)) => i,
        Some(TokenTree::Literal(lit)) if lit.to_string().starts_with('"') => {
            errors.spanned(
                &lit,
                format!("expected {expected}; names are identifiers, written without quotes"),
            );
            return None;
        }
        Some(other) => {
            errors.spanned(&other, format!("expected {expected}"));
            return None;
        }
        None => return None,
    };
    let rest: Vec<TokenTree> = iter.collect();
    let value = match rest.first() {
        None => ArgValue::Bare,
        Some(TokenTree::Punct(p)) if p.as_char() == '=' => {
            let value: TokenStream = rest[1..].iter().cloned().collect();
            if value.is_empty() {
                errors.spanned(p, format!("expected a value after `{key} =`"));
                return None;
            }
            // Every value is one literal, or `-` and a literal. Anything after
            // it is the next argument with its comma forgotten:
            // `name = "a" hosts(cap = 4)`.
            let literal_len = match (rest.get(1), rest.get(2)) {
                (Some(TokenTree::Literal(_)), _) => Some(1),
                (Some(TokenTree::Punct(m)), Some(TokenTree::Literal(_))) if m.as_char() == '-' => {
                    Some(2)
                }
                _ => None,
            };
            if let Some(extra) = literal_len.and_then(|n| rest.get(1 + n)) {
                errors.spanned(
                    extra,
                    format!(
                        "expected `,` after the value of `{key}`: separate arguments with commas"
                    ),
                );
                return None;
            }
            ArgValue::Assign(value)
        }
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis && rest.len() == 1 => {
            ArgValue::List(g.clone())
        }
        // `hosts(cap = 4) name = "a"`: a list, then the next argument with
        // its comma forgotten.
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis => {
            errors.spanned(
                &rest[1],
                format!("expected `,` after `{key}(...)`: separate arguments with commas"),
            );
            return None;
        }
        Some(_) => {
            let span_tokens: TokenStream = rest.iter().cloned().collect();
            errors.spanned(
                span_tokens,
                format!("expected `{key} = value` or `{key}(...)`; separate arguments with commas"),
            );
            return None;
        }
    };
    Some(Arg { key, value })
}

pub(super) fn parse_list(tokens: TokenStream, expected: &str, errors: &mut Errors) -> Vec<Arg> {
    split_commas(tokens)
        .into_iter()
        .filter_map(|t| parse_arg(t, expected, errors))
        .collect()
}
