//! Procedural macros of `telemetry-runtime`. Depend on `telemetry-runtime`,
//! which re-exports them; this crate's only API is the attribute below.
//!
//! The pipeline: `attr` parses the attribute's tokens into typed arguments,
//! `check` applies the rules that span several arguments and the item and
//! builds the checked form of `ast`, and `expand` writes the code. Errors from
//! every stage are collected and reported together; the user's item is always
//! emitted, so the rest of their crate keeps type-checking.

mod ast;
mod attr;
mod check;
mod errors;
mod expand;

use proc_macro::TokenStream;

/// Makes an adapter struct observable. See the `telemetry_runtime` crate
/// documentation for the grammar.
#[proc_macro_attribute]
pub fn instrumented_adapter(args: TokenStream, item: TokenStream) -> TokenStream {
    expand_attribute(args.into(), item.into()).into()
}

fn expand_attribute(
    args: proc_macro2::TokenStream,
    item: proc_macro2::TokenStream,
) -> proc_macro2::TokenStream {
    let mut errors = errors::Errors::default();
    let args = attr::parse_args(args, &mut errors);
    let input = parse_item(item.clone(), &mut errors);
    let adapter = input
        .as_ref()
        .and_then(|input| check::check(args, input, &mut errors));
    match (errors.finish(), adapter) {
        (Ok(()), Some(adapter)) => expand::expand(&adapter),
        (result, _) => {
            // Keep the user's item next to the errors (thiserror's fallback):
            // their other code still type-checks and the IDE stays useful.
            let compile_errors = result.err().map(|e| e.to_compile_error());
            quote::quote! { #item #compile_errors }
        }
    }
}

/// The annotated item as a `DeriveInput`, or `None` (with an error) when it is
/// not a struct, enum or union: `#[instrumented_adapter] fn f() {}` says what
/// goes where instead of syn's "expected `struct`".
fn parse_item(
    item: proc_macro2::TokenStream,
    errors: &mut errors::Errors,
) -> Option<syn::DeriveInput> {
    use quote::ToTokens;
    const WHAT: &str = "`#[instrumented_adapter]` goes on a struct with named fields";
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(_) | syn::Item::Enum(_) | syn::Item::Union(_)) => {
            match syn::parse2::<syn::DeriveInput>(item) {
                Ok(input) => Some(input),
                Err(e) => {
                    errors.push(e);
                    None
                }
            }
        }
        Ok(other) => {
            let (span, kind) = match &other {
                syn::Item::Fn(f) => (f.sig.fn_token.to_token_stream(), "a function"),
                syn::Item::Impl(i) => (i.impl_token.to_token_stream(), "an impl block"),
                syn::Item::Trait(t) => (t.trait_token.to_token_stream(), "a trait"),
                syn::Item::Mod(m) => (m.mod_token.to_token_stream(), "a module"),
                syn::Item::Type(t) => (t.type_token.to_token_stream(), "a type alias"),
                _ => (other.to_token_stream(), "this item"),
            };
            errors.spanned(span, format!("{WHAT}, not {kind}"));
            None
        }
        Err(e) => {
            errors.push(e);
            None
        }
    }
}
