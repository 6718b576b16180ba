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
    let input = match syn::parse2::<syn::DeriveInput>(item.clone()) {
        Ok(input) => Some(input),
        Err(e) => {
            errors.push(e);
            None
        }
    };
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
