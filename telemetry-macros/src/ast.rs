//! The annotated item as parsed (`parse_item`), the attribute's arguments as
//! parsed (`Args`) and the checked model of the adapter (`Adapter`) that
//! expansion works from. Every node keeps the tokens or spans it came from, so
//! later stages can point at them.

use proc_macro2::{Span, TokenStream};
use quote::ToTokens;
use syn::{DeriveInput, Ident, LitStr, Path, Type};

use crate::errors::Errors;

/// A value and the span of the token that gave it.
#[derive(Clone)]
pub(crate) struct Spanned<T> {
    pub(crate) value: T,
    pub(crate) span: Span,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Naming {
    Prometheus,
    OpenTelemetry,
}

pub(crate) struct LabelArg {
    pub(crate) ident: Ident,
    /// `None` when the cap was missing or malformed (an error says so); the
    /// label stays declared so events naming it raise no second error.
    pub(crate) cap: Option<Spanned<u32>>,
}

impl LabelArg {
    /// The cap, or 1 when it was malformed (only used after an error).
    pub(crate) fn cap_value(&self) -> u32 {
        self.cap.as_ref().map_or(1, |c| c.value)
    }
}

/// One field of an event as written: `tenant` (a declared bounded label)
/// or `doi: String` (a payload field), either after an optional `#[secret]`.
pub(crate) struct FieldArg {
    pub(crate) ident: Ident,
    /// The type of a payload field; `None` for a bare label.
    pub(crate) ty: Option<Box<Type>>,
    /// The span of `#[secret]`, if written.
    pub(crate) secret: Option<Span>,
}

pub(crate) struct EventArg {
    pub(crate) ident: Ident,
    pub(crate) fields: Vec<FieldArg>,
}

pub(crate) struct LatencyArg {
    pub(crate) quantile: f64,
    pub(crate) target_seconds: f64,
}

#[derive(Default)]
pub(crate) struct SloArg {
    pub(crate) success_percent: Option<f64>,
    pub(crate) latency: Option<LatencyArg>,
}

/// Arguments as written; each `Option` is `None` when the argument is absent
/// (or was malformed, in which case an error was recorded).
pub(crate) struct Args {
    pub(crate) name: Option<LitStr>,
    pub(crate) host_cap: Option<Spanned<u32>>,
    pub(crate) labels: Vec<LabelArg>,
    /// `false` when `labels` itself was malformed, so the declared labels
    /// are unknown and "not a declared label" errors would be noise.
    pub(crate) labels_known: bool,
    /// Whether `labels(...)` was written, so a message says "add it to
    /// `labels(...)`" rather than offering a second `labels`.
    pub(crate) labels_written: bool,
    pub(crate) events: Vec<EventArg>,
    pub(crate) naming: Option<Naming>,
    pub(crate) slo: Option<SloArg>,
    pub(crate) budget: Option<Spanned<u64>>,
    pub(crate) krate: Option<Path>,
}

impl Default for Args {
    fn default() -> Self {
        Args {
            name: None,
            host_cap: None,
            labels: Vec::new(),
            labels_known: true,
            labels_written: false,
            events: Vec::new(),
            naming: None,
            slo: None,
            budget: None,
            krate: None,
        }
    }
}

/// One field of a checked custom event, in declaration order.
pub(crate) enum Field {
    /// Index into `Adapter::labels`.
    Label { ident: Ident, label: usize },
    Payload {
        ident: Ident,
        ty: Box<Type>,
        /// `#[secret]`: serialised and debug-printed as `REDACTED`.
        secret: bool,
    },
    /// A field that failed a check (an error says why). Only exists when the
    /// build fails anyway: the emitter keeps a parameter of type `param` in
    /// its place, so calls written for the intended signature still
    /// type-check and report nothing extra; the event does not carry it.
    Rejected { param: TokenStream },
}

pub(crate) struct Event {
    /// snake_case name, as declared.
    pub(crate) ident: Ident,
    /// UpperCamelCase variant of the generated enum.
    pub(crate) variant: Ident,
    pub(crate) fields: Vec<Field>,
}

/// The checked adapter: everything expansion needs, nothing it must validate.
pub(crate) struct Adapter<'a> {
    pub(crate) input: &'a DeriveInput,
    pub(crate) name: String,
    pub(crate) host_cap: u32,
    pub(crate) labels: Vec<LabelArg>,
    pub(crate) events: Vec<Event>,
    pub(crate) naming: Naming,
    pub(crate) slo: Option<SloArg>,
    pub(crate) budget: u64,
    pub(crate) krate: Path,
}

/// The annotated item as a `DeriveInput`, or `None` (with an error) when it is
/// not a struct, enum or union: `#[instrumented_adapter] fn f() {}` says what
/// goes where instead of syn's "expected `struct`".
pub(crate) fn parse_item(item: TokenStream, errors: &mut Errors) -> Option<DeriveInput> {
    const WHAT: &str = "`#[instrumented_adapter]` goes on a struct with named fields";
    match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(_) | syn::Item::Enum(_) | syn::Item::Union(_)) => {
            match syn::parse2::<DeriveInput>(item) {
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
