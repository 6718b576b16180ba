//! `events(resolved(tenant, doi: String), ...)`: custom events and their
//! fields.

use proc_macro2::Group;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Ident, Token};

use super::duplicates::Attrs;
use super::lex::{parse_list, ArgValue};
use crate::ast::{EventArg, FieldArg};
use crate::errors::Errors;

/// One field of an event: `name` or `name: Type`.
struct FieldSyntax(FieldArg);

impl Parse for FieldSyntax {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let ident = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected an event field: a declared label, like `tenant`, or a typed field, like `doi: String`",
            )
        })?;
        if input.peek(Token![:]) {
            input.parse::<Token![:]>()?;
            let ty: syn::Type = input.parse()?;
            Ok(FieldSyntax(FieldArg::Typed(ident, Box::new(ty))))
        } else if input.is_empty() || input.peek(Token![,]) {
            Ok(FieldSyntax(FieldArg::Label(ident)))
        } else {
            Err(input.error(format!(
                "expected `:` and a type after `{ident}`, like `{ident}: String`, or `,` before the next field"
            )))
        }
    }
}

pub(super) fn parse_events(group: Group, errors: &mut Errors) -> Vec<EventArg> {
    let mut written = Attrs::new("event");
    let expected = "an event, like `resolved(doi: String)`";
    for arg in parse_list(group.stream(), expected, errors) {
        let ident = arg.key;
        let fields = match arg.value {
            ArgValue::List(g) => {
                let parser = Punctuated::<FieldSyntax, Token![,]>::parse_terminated;
                match syn::parse::Parser::parse2(parser, g.stream()) {
                    Ok(p) => p.into_iter().map(|f| f.0).collect(),
                    Err(e) => {
                        errors.push(e);
                        continue;
                    }
                }
            }
            ArgValue::Bare => Vec::new(),
            ArgValue::Assign(v) => {
                errors.spanned(
                    v,
                    format!("events are declared as `{ident}(field: Type, ...)`, not with `=`"),
                );
                continue;
            }
        };
        // After the fields: an event whose fields are malformed is not
        // declared, and a later one of the same name is no duplicate.
        let key = ident.clone();
        written.set(&key, EventArg { ident, fields }, errors);
    }
    written.into_iter().collect()
}
