//! Procedural macros of `telemetry-runtime`. Depend on `telemetry-runtime`,
//! which re-exports them; this crate's only API is the attribute below.
//!
//! The pipeline: `ast::parse_item` reads the annotated item, `attr` parses
//! the attribute's tokens into typed arguments, `check` applies the rules that
//! span several arguments and the item and builds the checked form of `ast`,
//! and `expand` writes the code. Errors from every stage are collected and
//! reported together, in source order. The user's item is always emitted, and
//! when it is a struct with named fields so is the expansion of whatever was
//! right, so the rest of their crate keeps type-checking and only the
//! attribute's own mistakes are reported.

mod ast;
mod attr;
mod budget;
mod check;
mod errors;
mod expand;
mod label_fields;
mod names;
mod symbol;

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
    let input = ast::parse_item(item.clone(), &mut errors);
    let adapter = input
        .as_ref()
        .and_then(|input| check::check(args, input, &mut errors));
    let compile_errors = errors.finish().err().map(|e| e.to_compile_error());
    match adapter {
        // With errors, the expansion is still generated from the arguments
        // that were right (thiserror's fallback, tracing's speculative path):
        // the user's code that names the struct, its `emit()` emitters, its
        // event enum or `MANIFEST` keeps type-checking, so the build shows the
        // attribute's mistakes and nothing else.
        Some(adapter) => {
            let expansion = expand::expand(&adapter);
            quote::quote! { #expansion #compile_errors }
        }
        // The item itself is wrong (an enum, a function, ...): emit it as
        // written next to the errors.
        None => quote::quote! { #item #compile_errors },
    }
}

#[cfg(test)]
mod tests {
    use quote::quote;

    use super::expand_attribute;

    /// The messages of every `compile_error!` in `output`, in order.
    fn errors(output: &proc_macro2::TokenStream) -> Vec<String> {
        let file: syn::File = match syn::parse2(output.clone()) {
            Ok(f) => f,
            Err(e) => panic!("expansion is not valid Rust: {e}\n{output}"),
        };
        file.items
            .iter()
            .filter_map(|item| match item {
                syn::Item::Macro(m)
                    if m.mac
                        .path
                        .segments
                        .last()
                        .is_some_and(|s| s.ident == "compile_error") =>
                {
                    syn::parse2::<syn::LitStr>(m.mac.tokens.clone())
                        .ok()
                        .map(|s| s.value())
                }
                _ => None,
            })
            .collect()
    }

    fn has_struct(output: &proc_macro2::TokenStream, name: &str) -> bool {
        syn::parse2::<syn::File>(output.clone()).is_ok_and(|f| {
            f.items
                .iter()
                .any(|i| matches!(i, syn::Item::Struct(s) if s.ident == name))
        })
    }

    #[test]
    fn valid_attribute_expands_without_errors() {
        let out = expand_attribute(
            quote!(
                name = "crossref",
                hosts(cap = 16),
                labels(tenant(cap = 8)),
                events(resolved(tenant, doi: String)),
                slo(success = 99.5, latency_p99 = "500ms"),
            ),
            quote!(
                pub struct Crossref<'a, T: Clone>
                where
                    T: Copy,
                {
                    base: &'a T,
                }
            ),
        );
        assert_eq!(errors(&out), Vec::<String>::new());
        assert!(has_struct(&out, "Crossref"));
        assert!(has_struct(&out, "CrossrefEmit"));
        let text = out.to_string();
        assert!(text.contains("enum CrossrefEvent"), "{text}");
        assert!(
            text.contains("InstrumentedAdapter for Crossref < 'a , T >"),
            "{text}"
        );
    }

    #[test]
    fn every_mistake_is_reported_and_the_struct_survives() {
        // Parsed from text, so the tokens carry line/column positions and the
        // errors come out in source order (as in a real build).
        let args: proc_macro2::TokenStream =
            match "name = \"my-api\", hosts(cap = 0), events(Bad), colour = 1".parse() {
                Ok(t) => t,
                Err(e) => panic!("{e}"),
            };
        let out = expand_attribute(
            args,
            quote!(
                #[derive(Debug)]
                pub struct Kept {
                    x: u8,
                }
            ),
        );
        let messages = errors(&out);
        assert_eq!(messages.len(), 4, "{messages:#?}");
        assert!(
            messages[0].starts_with("adapter name `my-api`"),
            "{messages:#?}"
        );
        assert!(messages[1].starts_with("`cap` must be between 1 and 10000"));
        assert!(messages[2].starts_with("event name `Bad` must be snake_case"));
        assert!(messages[3].starts_with("unknown argument `colour`"));
        assert!(has_struct(&out, "Kept"));
        // What was right is still generated, so code using it type-checks.
        assert!(has_struct(&out, "KeptEmit"));
        assert!(out.to_string().contains("enum KeptEvent"));
    }

    #[test]
    fn wrong_items_are_named() {
        let out = expand_attribute(
            quote!(),
            quote!(
                fn f() {}
            ),
        );
        assert_eq!(
            errors(&out),
            ["`#[instrumented_adapter]` goes on a struct with named fields, not a function"]
        );
        let out = expand_attribute(
            quote!(),
            quote!(
                struct T(u8);
            ),
        );
        assert_eq!(errors(&out).len(), 1);
        assert!(has_struct(&out, "T"));
    }

    #[test]
    fn a_malformed_label_cap_does_not_cascade() {
        // `tenant` keeps its declaration, so `resolved(tenant)` is not also
        // reported as "not a declared label".
        let out = expand_attribute(
            quote!(labels(tenant(cap = 0)), events(resolved(tenant))),
            quote!(
                struct A {}
            ),
        );
        assert_eq!(errors(&out), ["`cap` must be between 1 and 10000"]);
        let out = expand_attribute(
            quote!(labels = 3, events(resolved(tenant))),
            quote!(
                struct A {}
            ),
        );
        assert_eq!(
            errors(&out),
            ["`labels` takes a list, not a value: write `labels(tenant(cap = 8))`"]
        );
    }

    /// The messages of expanding `args` (parsed from text) on `struct A {}`.
    fn messages_of(args: &str) -> Vec<String> {
        let args: proc_macro2::TokenStream = match args.parse() {
            Ok(t) => t,
            Err(e) => panic!("{e}"),
        };
        errors(&expand_attribute(
            args,
            quote!(
                struct A {}
            ),
        ))
    }

    #[test]
    fn budget_errors_name_labels_and_product() {
        assert_eq!(
            messages_of("labels(a(cap = 100), b(cap = 200)), events(x(a, b)), budget = 19999"),
            ["`adapter_events_total` for event `x` alone can reach (100 `a` values + 1) × (200 `b` values + 1) = 20,301 series, over the budget of 19999; lower the cap with `b(cap = 197)` or raise the budget with `budget = 20301`"]
        );
        // Both fixes compile: 101 × 198 = 19,998.
        assert!(
            messages_of("labels(a(cap = 100), b(cap = 197)), events(x(a, b)), budget = 19999")
                .is_empty()
        );
        assert!(
            messages_of("labels(a(cap = 100), b(cap = 200)), events(x(a, b)), budget = 20301")
                .is_empty()
        );
    }

    #[test]
    fn the_budget_counts_histogram_lines_and_the_other_slot() {
        assert_eq!(
            messages_of("hosts(cap = 300)"),
            ["`http_request_duration_seconds` alone can reach (300 hosts + 1) × 10 methods × 17 lines = 51,170 series, over the budget of 10000, as can `http_backoff_duration_seconds` with 17,157; lower the host cap with `hosts(cap = 57)` or raise the budget with `budget = 51170`"]
        );
        assert!(messages_of("hosts(cap = 57)").is_empty());
        assert!(messages_of("hosts(cap = 300), budget = 51170").is_empty());
        // OpenTelemetry naming names the family as it is exported.
        assert_eq!(
            messages_of("hosts(cap = 58), naming = \"otel\"")[0],
            "`http_client_request_duration_seconds` alone can reach (58 hosts + 1) × 10 methods × 17 lines = 10,030 series, over the budget of 10000; lower the host cap with `hosts(cap = 57)` or raise the budget with `budget = 10030`"
        );
        // Without `hosts(...)`, the default cap of 16 and a small budget.
        assert_eq!(
            messages_of("budget = 2000"),
            ["`http_request_duration_seconds` alone can reach (16 hosts + 1) × 10 methods × 17 lines = 2,890 series, over the budget of 2000; lower the host cap with `hosts(cap = 10)` or raise the budget with `budget = 2890`"]
        );
        assert!(messages_of("budget = 2000, hosts(cap = 10)").is_empty());
        // The largest host cap has a budget that fits.
        assert_eq!(
            messages_of("hosts(cap = 10000), budget = 2000000"),
            Vec::<String>::new()
        );
    }

    #[test]
    fn the_events_budget_adds_up_every_event() {
        // Each event fits alone; together they do not.
        let messages = messages_of(
            "labels(a(cap = 99), b(cap = 49)), events(x(a), y(a, b), z), budget = 5000",
        );
        assert_eq!(
            messages,
            ["`adapter_events_total` can reach 100 (`x`) + 5,000 (`y`) + 1 (`z`) = 5,101 series over its events, over the budget of 5000; lower the cap with `a(cap = 97)` or raise the budget with `budget = 5101`"]
        );
        assert!(messages_of(
            "labels(a(cap = 97), b(cap = 49)), events(x(a), y(a, b), z), budget = 5000"
        )
        .is_empty());
        let messages =
            messages_of("labels(a(cap = 2999), b(cap = 2999)), events(x(a), y(b)), budget = 5000");
        assert_eq!(
            messages,
            ["`adapter_events_total` can reach 3,000 (`x`) + 3,000 (`y`) = 6,000 series over its events, over the budget of 5000; lower the cap with `a(cap = 1999)` or raise the budget with `budget = 6000`"]
        );
        // 16 labels of cap 2: 3^16 = 43,046,721 series, past any budget.
        let labels: Vec<String> = (0..16).map(|i| format!("l{i}(cap = 2)")).collect();
        let names: Vec<String> = (0..16).map(|i| format!("l{i}")).collect();
        let messages = messages_of(&format!(
            "labels({}), events(wide({})), budget = 1000000",
            labels.join(", "),
            names.join(", ")
        ));
        assert_eq!(messages.len(), 1, "{messages:#?}");
        assert!(
            messages[0].ends_with("= 43,046,721 series, over the budget of 1000000; lower the cap of each of its labels to at most 1, like `l0(cap = 1)`"),
            "{messages:#?}"
        );
    }
}
