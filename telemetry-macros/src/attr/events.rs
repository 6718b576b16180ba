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
use crate::names::{event_name_fix, is_snake_case};

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
            Ok(FieldSyntax(FieldArg {
                ident,
                ty: Some(Box::new(ty)),
            }))
        } else if input.is_empty() || input.peek(Token![,]) {
            Ok(FieldSyntax(FieldArg { ident, ty: None }))
        } else {
            Err(input.error(format!(
                "expected `:` and a type after `{ident}`, like `{ident}: String`, or `,` before the next field"
            )))
        }
    }
}

/// How to write the event `ident` in an example: as written when it is a
/// valid event name, else as its fix would be (`CacheMiss` -> `cache_miss`).
fn example_name(ident: &Ident) -> String {
    let name = ident.unraw().to_string();
    if is_snake_case(&name) {
        ident.to_string()
    } else {
        event_name_fix(&name, |_| true).unwrap_or_else(|| "resolved".to_owned())
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
                let name = example_name(&ident);
                errors.spanned(
                    v,
                    format!(
                        "events are declared as `{name}(doi: String)`, or `{name}` without fields, not with `=`"
                    ),
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
