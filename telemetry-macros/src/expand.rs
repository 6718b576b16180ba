//! Code generation. Works from a checked [`Adapter`]; validates nothing.
//!
//! Generated code names the runtime by an absolute path (`::telemetry_runtime`
//! or the `crate = "..."` argument) and std items through `::core`, so it
//! compiles under `#![no_implicit_prelude]` and next to a local module called
//! `telemetry_runtime`.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote};
use syn::ext::IdentExt;
use syn::Ident;

use crate::ast::*;

pub(crate) fn expand(adapter: &Adapter<'_>) -> TokenStream {
    let input = adapter.input;
    let krate = &adapter.krate;
    let p = quote!(#krate::__private);
    let vis = &input.vis;
    let ident = &input.ident;
    let (impl_generics, ty_generics, where_clause) = input.generics.split_for_impl();
    let event_enum = format_ident!("{}Event", ident.unraw());
    let emitter = format_ident!("{}Emit", ident.unraw());
    let serde_path = syn::LitStr::new(
        &quote!(#p::serde).to_string().replace(' ', ""),
        proc_macro2::Span::call_site(),
    );

    // `#[secret]` fields serialise as `REDACTED` (JSON logs, recorded
    // payloads, tracing and stored events all read the serialisation).
    let redacted_path = syn::LitStr::new(
        &quote!(#p::serialize_redacted).to_string().replace(' ', ""),
        proc_macro2::Span::call_site(),
    );

    let manifest = manifest(adapter, &p);

    let variants = adapter.events.iter().map(|ev| {
        let variant = &ev.variant;
        let doc = format!("The `{}` event.", ev.ident);
        let fields = ev.fields.iter().filter_map(|f| match f {
            Field::Label { ident, .. } => {
                let doc = format!("Bounded label `{}`.", ident.unraw());
                Some(quote!(#[doc = #doc] #ident: #p::LabelValue))
            }
            Field::Payload {
                ident,
                ty,
                secret: false,
            } => {
                let doc = format!("Payload field `{}`.", ident.unraw());
                Some(quote!(#[doc = #doc] #ident: #ty))
            }
            Field::Payload {
                ident,
                ty,
                secret: true,
            } => {
                let doc = format!(
                    "Secret payload field `{}`: serialised and debug-printed as `REDACTED`.",
                    ident.unraw()
                );
                Some(quote!(#[doc = #doc] #[serde(serialize_with = #redacted_path)] #ident: #ty))
            }
            Field::Rejected { .. } => None,
        });
        quote!(#[doc = #doc] #variant { #(#fields),* })
    });

    // With a secret field, `Debug` is written out so the field prints as
    // `REDACTED`; otherwise it is derived.
    let has_secret = adapter.events.iter().any(|ev| {
        ev.fields
            .iter()
            .any(|f| matches!(f, Field::Payload { secret: true, .. }))
    });
    let formatter = Ident::new("formatter", Span::mixed_site());
    let (derive_debug, debug_impl) = if has_secret {
        let arms = adapter.events.iter().map(|ev| {
            let variant = &ev.variant;
            let vname = variant.to_string();
            let mut bindings = Vec::new();
            let mut entries = Vec::new();
            for f in &ev.fields {
                let (ident, value) = match f {
                    Field::Label { ident, .. }
                    | Field::Payload {
                        ident,
                        secret: false,
                        ..
                    } => {
                        bindings.push(quote!(#ident));
                        (ident, quote!(#ident))
                    }
                    Field::Payload {
                        ident,
                        secret: true,
                        ..
                    } => {
                        bindings.push(quote!(#ident: _));
                        (ident, quote!(&#p::REDACTED))
                    }
                    Field::Rejected { .. } => continue,
                };
                let fname = ident.unraw().to_string();
                entries.push(quote!(.field(#fname, #value)));
            }
            quote!(Self::#variant { #(#bindings),* } => #formatter.debug_struct(#vname) #(#entries)* .finish())
        });
        (
            quote!(),
            quote! {
                #[automatically_derived]
                impl ::core::fmt::Debug for #event_enum {
                    fn fmt(&self, #formatter: &mut ::core::fmt::Formatter<'_>) -> ::core::fmt::Result {
                        match self { #(#arms,)* }
                    }
                }
            },
        )
    } else {
        (quote!(::core::fmt::Debug,), quote!())
    };

    let name_arms = adapter.events.iter().map(|ev| {
        let variant = &ev.variant;
        let name = ev.ident.unraw().to_string();
        quote!(Self::#variant { .. } => #name)
    });

    let label_arms = adapter.events.iter().map(|ev| {
        let variant = &ev.variant;
        let labels: Vec<_> = ev
            .fields
            .iter()
            .filter_map(|f| match f {
                Field::Label { ident, .. } => Some(ident),
                Field::Payload { .. } | Field::Rejected { .. } => None,
            })
            .collect();
        let names = labels.iter().map(|i| i.unraw().to_string());
        quote!(Self::#variant { #(#labels,)* .. } => { #( visit(#names, *#labels); )* })
    });

    // Uninhabited when there are no custom events: `match *self {}`.
    let (name_body, labels_body) = if adapter.events.is_empty() {
        (quote!(match *self {}), quote!(match *self {}))
    } else {
        (
            quote!(match self { #(#name_arms,)* }),
            quote!(match self { #(#label_arms,)* }),
        )
    };

    // Locals at mixed-site hygiene: a payload field called `telemetry` or
    // `event` cannot capture or shadow them.
    let telemetry = Ident::new("telemetry", Span::mixed_site());
    let event = Ident::new("event", Span::mixed_site());
    let emitter_methods = adapter.events.iter().map(|ev| {
        let method = &ev.ident;
        let variant = &ev.variant;
        let params = ev.fields.iter().enumerate().map(|(i, f)| match f {
            Field::Label { ident, .. } => quote!(#ident: &str),
            Field::Payload { ident, ty, .. } => quote!(#ident: #ty),
            Field::Rejected { param } => {
                let ident = format_ident!("_rejected_{}", i, span = Span::mixed_site());
                quote!(#ident: #param)
            }
        });
        let inits = ev.fields.iter().filter_map(|f| match f {
            Field::Label { ident, label } => {
                Some(quote!(#ident: #telemetry.label(#label).intern(#ident)))
            }
            Field::Payload { ident, .. } => Some(quote!(#ident)),
            Field::Rejected { .. } => None,
        });
        let doc = format!(
            "Emits the `{}` event. Compiles to nothing when the runtime is built without backends; use `emit!` to skip evaluating the arguments too.",
            ev.ident.unraw()
        );
        quote! {
            #[doc = #doc]
            #[inline]
            #vis fn #method(self, #(#params),*) {
                if #p::interested() {
                    let #telemetry: &'static #p::AdapterTelemetry = &TELEMETRY;
                    let #event = #event_enum::#variant { #(#inits,)* };
                    #p::emit_custom(#telemetry, &#event);
                }
            }
        }
    });

    let enum_doc = format!("Custom events of [`{ident}`], generated by `#[instrumented_adapter]`.");
    let emitter_doc =
        format!("Emitters of [`{ident}`]'s custom events; get one with `{ident}::emit`.");

    quote! {
        #input

        #[doc = #enum_doc]
        #[derive(#derive_debug ::core::clone::Clone, #p::serde::Serialize)]
        #[serde(crate = #serde_path, tag = "event", rename_all = "snake_case")]
        #[allow(dead_code)]
        #vis enum #event_enum {
            #(#variants,)*
        }

        #[doc = #emitter_doc]
        #[derive(::core::fmt::Debug, ::core::clone::Clone, ::core::marker::Copy)]
        #[allow(dead_code)]
        #vis struct #emitter {
            _private: (),
        }

        #[allow(dead_code)]
        impl #impl_generics #ident #ty_generics #where_clause {
            /// Emitters of this adapter's custom events.
            #[inline]
            #[must_use]
            #vis fn emit(&self) -> #emitter {
                #emitter { _private: () }
            }
        }

        const _: () = {
            static MANIFEST: #p::AdapterManifest = #manifest;
            static TELEMETRY: #p::AdapterTelemetry = #p::AdapterTelemetry::new(&MANIFEST);

            #[automatically_derived]
            impl #impl_generics #p::InstrumentedAdapter for #ident #ty_generics #where_clause {
                type Event = #event_enum;
                const MANIFEST: &'static #p::AdapterManifest = &MANIFEST;
                #[inline]
                fn telemetry() -> &'static #p::AdapterTelemetry {
                    &TELEMETRY
                }
            }

            #debug_impl

            #[automatically_derived]
            impl #p::CustomEvent for #event_enum {
                fn name(&self) -> &'static str {
                    #name_body
                }
                #[allow(unused_variables)]
                fn visit_labels(&self, visit: &mut dyn ::core::ops::FnMut(&'static str, #p::LabelValue)) {
                    #labels_body
                }
                fn payload(&self) -> &dyn #p::erased_serde::Serialize {
                    self
                }
                fn as_any(&self) -> &dyn ::core::any::Any {
                    self
                }
            }

            // `non_snake_case`: checked names are snake_case; the allow only
            // matters while an event-name error is being reported, when the
            // rest of the expansion is still generated (see `lib.rs`).
            #[allow(dead_code, non_snake_case)]
            impl #emitter {
                #(#emitter_methods)*
            }
        };
    }
}

fn manifest(adapter: &Adapter<'_>, p: &TokenStream) -> TokenStream {
    let name = &adapter.name;
    let type_name = adapter.input.ident.unraw().to_string();
    let naming = match adapter.naming {
        Naming::Prometheus => quote!(#p::Naming::Prometheus),
        Naming::OpenTelemetry => quote!(#p::Naming::OpenTelemetry),
    };
    let host_cap = adapter.host_cap;
    let labels = adapter.labels.iter().map(|l| {
        let n = l.ident.unraw().to_string();
        let cap = l.cap_value();
        quote!(#p::LabelSpec { name: #n, cap: #cap })
    });
    let events = adapter.events.iter().map(|ev| {
        let n = ev.ident.unraw().to_string();
        let labels = ev.fields.iter().filter_map(|f| match f {
            Field::Label { ident, .. } => Some(ident.unraw().to_string()),
            Field::Payload { .. } | Field::Rejected { .. } => None,
        });
        let fields = ev.fields.iter().filter_map(|f| match f {
            Field::Payload { ident, ty, secret } => {
                let n = ident.unraw().to_string();
                let t = quote!(#ty).to_string().replace(' ', "");
                Some(quote!(#p::FieldSpec { name: #n, ty: #t, secret: #secret }))
            }
            Field::Label { .. } | Field::Rejected { .. } => None,
        });
        quote!(#p::EventSpec { name: #n, labels: &[#(#labels),*], fields: &[#(#fields),*] })
    });
    let slo = match &adapter.slo {
        None => quote!(::core::option::Option::None),
        Some(slo) => {
            let success = match slo.success_percent {
                Some(v) => quote!(::core::option::Option::Some(#v)),
                None => quote!(::core::option::Option::None),
            };
            let latency = match &slo.latency {
                Some(l) => {
                    let q = l.quantile;
                    let t = l.target_seconds;
                    quote!(::core::option::Option::Some(#p::LatencyObjective { quantile: #q, target_seconds: #t }))
                }
                None => quote!(::core::option::Option::None),
            };
            quote!(::core::option::Option::Some(#p::SloSpec { success_percent: #success, latency: #latency }))
        }
    };
    let budget = adapter.budget;
    quote! {
        #p::AdapterManifest {
            name: #name,
            type_name: #type_name,
            naming: #naming,
            host_cap: #host_cap,
            labels: &[#(#labels),*],
            events: &[#(#events),*],
            slo: #slo,
            cardinality_budget: #budget,
        }
    }
}
