//! `events(resolved(tenant, doi: String), ...)`: custom events and their
//! fields, a field optionally marked `#[secret]`.

use proc_macro2::Group;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Attribute, Ident, Meta, Token};

use super::duplicates::{Attr, Attrs, Duplicate};
use super::lex::{parse_list, ArgValue};
use crate::ast::{EventArg, FieldArg};
use crate::errors::Errors;
use crate::names::{event_name_fix, is_snake_case};
use crate::symbol::SECRET;

/// One field of an event: `name` or `name: Type`, after its attributes.
struct FieldSyntax {
    attrs: Vec<Attribute>,
    ident: Ident,
    ty: Option<Box<syn::Type>>,
}

impl Parse for FieldSyntax {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let attrs = input.call(Attribute::parse_outer)?;
        let ident = Ident::parse_any(input).map_err(|e| {
            syn::Error::new(
                e.span(),
                "expected an event field: a declared label, like `tenant`, or a typed field, like `doi: String`",
            )
        })?;
        if input.peek(Token![:]) {
            input.parse::<Token![:]>()?;
            let ty: syn::Type = input.parse()?;
            Ok(FieldSyntax {
                attrs,
                ident,
                ty: Some(Box::new(ty)),
            })
        } else if input.is_empty() || input.peek(Token![,]) {
            Ok(FieldSyntax {
                attrs,
                ident,
                ty: None,
            })
        } else {
            Err(input.error(format!(
                "expected `:` and a type after `{ident}`, like `{ident}: String`, or `,` before the next field"
            )))
        }
    }
}

/// The field's attributes: `#[secret]` is the only one. Rejects
/// `#[redact]`, `#[secret = true]` and a second `#[secret]`.
fn field_attributes(field: FieldSyntax, errors: &mut Errors) -> FieldArg {
    let mut secret = Attr::new(Duplicate::Named("attribute"));
    for attr in &field.attrs {
        let Some(key) = attr.path().get_ident().filter(|i| i.unraw() == SECRET) else {
            errors.spanned(
                attr,
                format!(
                    "unknown field attribute `#[{}]`, expected `#[{SECRET}]`",
                    quote::ToTokens::to_token_stream(attr.path())
                        .to_string()
                        .replace(' ', "")
                ),
            );
            continue;
        };
        if !matches!(attr.meta, Meta::Path(_)) {
            errors.spanned(
                &attr.meta,
                format!("`#[{SECRET}]` takes no value: write `#[{SECRET}]`"),
            );
        }
        secret.set(key, key.span(), errors);
    }
    FieldArg {
        ident: field.ident,
        ty: field.ty,
        secret: secret.get(),
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
                    Ok(p) => p.into_iter().map(|f| field_attributes(f, errors)).collect(),
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
