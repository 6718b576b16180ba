//! Rules across arguments and the annotated item. Each rule says what it
//! rejects; every violation is recorded, none stops the others. A message
//! that suggests a fix suggests one that passes these rules (`names` finds
//! valid spellings, `budget` caps and budgets that fit; `label_fields`
//! reports the field errors whose fix depends on the budget).

use proc_macro2::{Delimiter, Spacing, Span, TokenStream, TokenTree};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, GenericParam, Generics, Ident, Type};

// `RESERVED_LABELS` rejects `labels(host(cap = 4))`, `BUILTIN_EVENTS`
// `events(retry(n: u32))` (logs could not tell it from the built-in event),
// `MAX_EVENT_LABELS` an event with more labels than the runtime's per-event
// label buffer holds.
use telemetry_vocab::cardinality::DEFAULT_BUDGET;
use telemetry_vocab::{BUILTIN_EVENTS, MAX_EVENT_LABELS, RESERVED_LABELS};

use crate::ast::*;
use crate::budget::{self, Cardinality, Declaration};
use crate::errors::Errors;
use crate::label_fields::{LabelField, LabelFieldProblem};
use crate::names::{
    adapter_name_fix, event_name_candidate, event_name_fix, is_keyword, is_snake_case,
    label_name_fix, prometheus_name, snake_case, upper_camel, NOT_RAW,
};

/// Checks `args` against each other and against `input`, recording every
/// violation. Returns the adapter model whenever `input` is a struct with
/// named fields, even if other errors were recorded: expansion then works from
/// the valid parts (rejected fields become `Field::Rejected`, unusable events
/// are left out), so the generated items the user's code names keep existing
/// next to the errors. `None` when the item itself is wrong.
pub(crate) fn check<'a>(
    args: Args,
    input: &'a DeriveInput,
    errors: &mut Errors,
) -> Option<Adapter<'a>> {
    let item_ok = check_item(input, errors);
    let type_name = input.ident.unraw().to_string();

    // Adapter name: a Prometheus-safe identifier, written or derived from
    // the type. Rejects `name = "my-api"`, and `struct __Hidden {}` without
    // a `name`.
    let name = match &args.name {
        Some(lit) => {
            let v = lit.value();
            if let Err(why) = prometheus_name(&v) {
                let fix = adapter_name_fix(&v, &type_name);
                let what = if v.is_empty() {
                    "the adapter name".to_owned()
                } else {
                    format!("adapter name `{v}`")
                };
                errors.spanned(lit, format!("{what} {why}; try `name = \"{fix}\"`"));
            }
            v
        }
        None => {
            let v = snake_case(&type_name);
            if let (true, Err(why)) = (item_ok, prometheus_name(&v)) {
                let fix = adapter_name_fix(&v, &type_name);
                errors.spanned(
                    &input.ident,
                    format!(
                        "adapter name `{v}` (the type name `{type_name}` in snake_case, the default) {why}; add `name = \"{fix}\"` to the attribute"
                    ),
                );
            }
            v
        }
    };

    for label in &args.labels {
        check_label_name(&label.ident, &args.labels, errors);
    }

    let checked = check_events(&args, &input.generics, errors);
    let host_cap = args.host_cap.as_ref().map_or(16, |c| c.value);
    let budget = args.budget.as_ref().map_or(DEFAULT_BUDGET, |b| b.value);
    let model = Cardinality {
        host_cap,
        budget,
        label_caps: args.labels.iter().map(LabelArg::cap_value).collect(),
        events: checked.event_labels,
    };
    let label_idents: Vec<&Ident> = args.labels.iter().map(|l| &l.ident).collect();
    let event_idents: Vec<&Ident> = args.events.iter().map(|e| &e.ident).collect();
    // Point at the host cap, or else at the budget that is too small.
    let host_span = args
        .host_cap
        .as_ref()
        .map(|c| c.span)
        .or_else(|| args.budget.as_ref().map(|b| b.span))
        .unwrap_or_else(Span::call_site);
    let naming = args.naming.unwrap_or(Naming::Prometheus);
    budget::check(
        &model,
        &Declaration {
            naming,
            host_span,
            label_idents: &label_idents,
            event_idents: &event_idents,
        },
        errors,
    );
    for field in &checked.label_fields {
        field.report(&args, &model, &checked.label_fields, errors);
    }

    if !item_ok {
        return None;
    }
    Some(Adapter {
        input,
        name,
        host_cap,
        labels: args.labels,
        events: checked.events,
        naming,
        slo: args.slo,
        budget,
        krate: args
            .krate
            .unwrap_or_else(|| syn::parse_quote!(::telemetry_runtime)),
    })
}

/// The attribute goes on a struct with named fields. Rejects enums, unions,
/// tuple structs and unit structs.
fn check_item(input: &DeriveInput, errors: &mut Errors) -> bool {
    const WHAT: &str = "`#[instrumented_adapter]` goes on a struct with named fields";
    // `struct Crossref<T> where T: Copy { ... }`, as the fix writes it.
    let head = || {
        let generics = &input.generics;
        let mut head = format!("struct {}{}", input.ident, compact(quote!(#generics)));
        if let Some(w) = &input.generics.where_clause {
            head.push(' ');
            head.push_str(&compact(w.to_token_stream()));
        }
        head
    };
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(_) => return true,
            Fields::Unnamed(f) => {
                let fields = f
                    .unnamed
                    .iter()
                    .enumerate()
                    .map(|(i, field)| {
                        let vis = compact(field.vis.to_token_stream());
                        let vis = if vis.is_empty() { vis } else { vis + " " };
                        format!("{vis}field_{i}: {}", compact(field.ty.to_token_stream()))
                    })
                    .collect::<Vec<_>>()
                    .join(", ");
                errors.spanned(
                    f,
                    format!(
                        "{WHAT}, not a tuple struct: name its fields, like `{} {{ {fields} }}`",
                        head()
                    ),
                );
            }
            Fields::Unit => errors.spanned(
                &input.ident,
                format!("{WHAT}, not a unit struct: write `{} {{}}`", head()),
            ),
        },
        Data::Enum(e) => errors.spanned(e.enum_token, format!("{WHAT}, not an enum")),
        Data::Union(u) => errors.spanned(u.union_token, format!("{WHAT}, not a union")),
    }
    false
}

/// Tokens as a person writes them (`Vec<u8>`, `&'a str`, `T: Copy`), for
/// code inside messages; `to_string()` spaces every token apart.
fn compact(tokens: TokenStream) -> String {
    fn walk(tokens: TokenStream, out: &mut String) {
        // Whether a word written next needs a space before it.
        let mut space = false;
        let mut joint_colon = false;
        for tt in tokens {
            let was_joint_colon = std::mem::take(&mut joint_colon);
            match tt {
                TokenTree::Ident(_) | TokenTree::Literal(_) => {
                    if space {
                        out.push(' ');
                    }
                    out.push_str(&tt.to_string());
                    space = true;
                }
                TokenTree::Group(g) => {
                    let (open, close) = match g.delimiter() {
                        Delimiter::Parenthesis => ("(", ")"),
                        Delimiter::Bracket => ("[", "]"),
                        Delimiter::Brace => (" {", "}"),
                        Delimiter::None => ("", ""),
                    };
                    out.push_str(open);
                    walk(g.stream(), out);
                    out.push_str(close);
                    space = true;
                }
                TokenTree::Punct(p) => {
                    let c = p.as_char();
                    let joint = p.spacing() == Spacing::Joint;
                    match c {
                        ':' if joint => {
                            out.push(':');
                            joint_colon = true;
                            space = false;
                        }
                        ':' if was_joint_colon => {
                            out.push(':');
                            space = false;
                        }
                        ',' | ';' | ':' => {
                            out.push(c);
                            space = true;
                        }
                        '+' | '=' => {
                            out.push(' ');
                            out.push(c);
                            space = true;
                        }
                        '-' if joint => out.push_str(" -"),
                        '>' if out.ends_with(" -") => {
                            out.push('>');
                            space = true;
                        }
                        _ => {
                            out.push(c);
                            space = false;
                        }
                    }
                }
            }
        }
    }
    let mut out = String::new();
    walk(tokens, &mut out);
    out
}

/// Label, event and field names become Rust parameters, methods and fields.
/// Rejects `labels(type(cap = 4))` (write `r#type`) and `events(self)`.
fn check_rust_ident(ident: &Ident, what: &str, errors: &mut Errors) -> bool {
    let written = ident.to_string();
    let name = ident.unraw().to_string();
    if NOT_RAW.contains(&name.as_str()) {
        errors.spanned(
            ident,
            format!("{what} `{name}` is a Rust keyword that cannot be a name; pick another name"),
        );
        return false;
    }
    // `r#name` passes every other rule for each keyword (a test in `names`
    // shows it), so the suggestion is one that compiles.
    if written == name && is_keyword(&name) {
        errors.spanned(
            ident,
            format!("{what} `{name}` is a Rust keyword: write `r#{name}` or pick another name"),
        );
        return false;
    }
    true
}

/// Whether `name` may be declared as a label: a Prometheus label name that
/// is none of the runtime's own.
pub(crate) fn is_label_name(name: &str) -> bool {
    prometheus_name(name).is_ok() && !RESERVED_LABELS.contains(&name)
}

/// Label names follow Prometheus rules and are none of the runtime's own.
/// Rejects `labels(__tenant(cap = 8))`, `labels(région(cap = 8))`,
/// `labels(host(cap = 8))`.
fn check_label_name(ident: &Ident, labels: &[LabelArg], errors: &mut Errors) {
    let name = ident.unraw().to_string();
    if !check_rust_ident(ident, "label name", errors) {
        return;
    }
    if let Err(why) = prometheus_name(&name) {
        let free = |n: &str| is_label_name(n) && !labels.iter().any(|l| l.ident.unraw() == n);
        let fix = label_name_fix(&name, free)
            .map_or_else(String::new, |fix| format!("; rename it, like `{fix}`"));
        errors.spanned(ident, format!("label name `{name}` {why}{fix}"));
    } else if RESERVED_LABELS.contains(&name.as_str()) {
        errors.spanned(
            ident,
            format!(
                "label `{name}` collides with the built-in label of the same name; pick another name (built-in labels are {})",
                quoted(RESERVED_LABELS)
            ),
        );
    }
}

fn quoted(list: &[&str]) -> String {
    list.iter()
        .map(|s| format!("`{s}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// What `check_events` found.
struct CheckedEvents {
    /// The events that can be generated.
    events: Vec<Event>,
    /// Label indices each event carries, for every event of `Args::events`
    /// (the budget counts them whether or not the event can be generated).
    event_labels: Vec<Vec<usize>>,
    /// Fields whose error suggests a change to the labels: reported once
    /// the budget model exists, so the change is one that fits.
    label_fields: Vec<LabelField>,
}

fn check_events(args: &Args, generics: &Generics, errors: &mut Errors) -> CheckedEvents {
    let mut out: Vec<Event> = Vec::new();
    let mut event_labels = Vec::new();
    let mut label_fields = Vec::new();
    for (event_index, ev) in args.events.iter().enumerate() {
        let name = ev.ident.unraw().to_string();
        // Rejects `events(CacheMiss(...))`, `events(cache__miss)`.
        let valid_ident = check_rust_ident(&ev.ident, "event name", errors);
        if valid_ident && !is_snake_case(&name) {
            // A fix that is no built-in event and no other event's name or
            // variant.
            let free = |n: &str| {
                !BUILTIN_EVENTS.contains(&n)
                    && args.events.iter().all(|other| {
                        std::ptr::eq(other, ev)
                            || (other.ident.unraw() != n
                                && upper_camel(&other.ident.unraw().to_string()) != upper_camel(n))
                    })
            };
            let candidate = event_name_candidate(&name);
            let message = match event_name_fix(&name, free) {
                Some(fix) => format!("event name `{name}` must be snake_case ASCII, like `{fix}`"),
                // `Retry`: its snake_case is taken.
                None if BUILTIN_EVENTS.contains(&candidate.as_str()) => format!(
                    "event name `{name}` must be snake_case ASCII, and `{candidate}` is a built-in event: pick another name"
                ),
                None if is_snake_case(&candidate) && !NOT_RAW.contains(&candidate.as_str()) => format!(
                    "event name `{name}` must be snake_case ASCII, and `{candidate}` is declared already: pick another name"
                ),
                None => format!(
                    "event name `{name}` must be snake_case ASCII: lowercase letters and digits, in words joined by single `_`, starting with a letter"
                ),
            };
            errors.spanned(&ev.ident, message);
        } else if valid_ident && BUILTIN_EVENTS.contains(&name.as_str()) {
            // Rejects `events(retry(n: u32))`: logs could not tell it from
            // the client's own retry event.
            errors.spanned(
                &ev.ident,
                format!(
                    "event `{name}` collides with the built-in event of the same name; pick another name (built-in events are {})",
                    quoted(BUILTIN_EVENTS)
                ),
            );
        }
        let variant = Ident::new(&upper_camel(&name), ev.ident.span());
        // Rejects `events(a1, a_1)`: both would be the variant `A1`.
        let collides = out.iter().find(|e| e.variant == variant);
        if let Some(other) = collides {
            errors.spanned(
                &ev.ident,
                format!(
                    "events `{}` and `{name}` would both generate the enum variant `{variant}`; rename one",
                    other.ident.unraw()
                ),
            );
        }
        // Such an event cannot be generated at all (the build fails anyway).
        let usable = valid_ident && collides.is_none();
        let mut fields = Vec::new();
        let mut labels = Vec::new();
        let mut seen: Vec<String> = Vec::new();
        for f in &ev.fields {
            let fname = f.ident.unraw().to_string();
            // What the emitter takes in place of a field that is rejected.
            let rejected = || Field::Rejected {
                param: match &f.ty {
                    None => quote!(&str),
                    Some(ty) => quote!(#ty),
                },
            };
            if seen.contains(&fname) {
                errors.spanned(
                    &f.ident,
                    format!("duplicate field `{fname}` in event `{name}`"),
                );
                fields.push(rejected());
                continue;
            }
            seen.push(fname.clone());
            if !check_rust_ident(&f.ident, "field name", errors) {
                fields.push(rejected());
                continue;
            }
            // `event` is the tag of the serialised enum; `__` names are ours.
            // Rejects `events(resolved(event: String))`.
            if fname == "event" || fname.starts_with("__") {
                errors.spanned(
                    &f.ident,
                    format!(
                        "field name `{fname}` is reserved (`event` tags the serialised event, `__` names belong to generated code); pick another name"
                    ),
                );
                fields.push(rejected());
                continue;
            }
            let label = args.labels.iter().position(|l| l.ident.unraw() == fname);
            let label_field = |problem| LabelField {
                ident: f.ident.clone(),
                event: event_index,
                secret: f.secret.is_some(),
                problem,
            };
            match (&f.ty, label) {
                (None, Some(label)) => {
                    // Rejects `events(login(#[secret] tenant))`: label values
                    // are exported in every metric line.
                    if let Some(span) = f.secret {
                        errors.at(
                            span,
                            format!("label `{fname}` cannot be secret: its values are exported as metric labels; remove `#[secret]`"),
                        );
                    }
                    labels.push(label);
                    fields.push(Field::Label {
                        ident: f.ident.clone(),
                        label,
                    });
                }
                // When `labels(...)` itself was malformed its error is enough.
                (None, None) if !args.labels_known => fields.push(rejected()),
                (None, None) => {
                    label_fields.push(label_field(LabelFieldProblem::Undeclared));
                    fields.push(rejected());
                }
                (Some(_), Some(label)) => {
                    label_fields.push(label_field(LabelFieldProblem::TypedLikeLabel(label)));
                    fields.push(rejected());
                }
                (Some(ty), None) => {
                    if check_static_type(ty, generics, &fname, errors) {
                        fields.push(Field::Payload {
                            ident: f.ident.clone(),
                            ty: ty.clone(),
                            secret: f.secret.is_some(),
                        });
                    } else {
                        // The type names something the emitter cannot see
                        // (a generic parameter, a lifetime): accept anything.
                        fields.push(Field::Rejected {
                            param: quote!(impl ::core::marker::Sized),
                        });
                    }
                }
            }
        }
        if labels.len() > MAX_EVENT_LABELS {
            errors.spanned(
                &ev.ident,
                format!(
                    "event `{name}` carries {} labels; at most {MAX_EVENT_LABELS} are allowed",
                    labels.len()
                ),
            );
        }
        event_labels.push(labels);
        if !usable {
            continue;
        }
        out.push(Event {
            variant,
            ident: ev.ident.clone(),
            fields,
        });
    }
    CheckedEvents {
        events: out,
        event_labels,
        label_fields,
    }
}

/// Payload types live in the adapter's one event enum, shared by every
/// instantiation of a generic adapter, and sinks keep events as
/// `dyn Any + 'static`. Rejects `events(seen(item: T))` on `struct A<T>` and
/// `events(seen(name: &'a str))`.
fn check_static_type(ty: &Type, generics: &Generics, field: &str, errors: &mut Errors) -> bool {
    fn walk(tokens: TokenStream, params: &[String], found: &mut Option<(Span, String)>) {
        let mut previous_quote = false;
        for tt in tokens {
            if found.is_some() {
                return;
            }
            match tt {
                TokenTree::Group(g) => walk(g.stream(), params, found),
                TokenTree::Punct(p) => {
                    previous_quote = p.as_char() == '\'';
                    continue;
                }
                TokenTree::Ident(i) => {
                    let name = i.to_string();
                    if previous_quote && name != "static" {
                        *found = Some((i.span(), format!("'{name}")));
                    } else if !previous_quote && params.contains(&name) {
                        *found = Some((i.span(), name));
                    }
                }
                TokenTree::Literal(_) => {}
            }
            previous_quote = false;
        }
    }
    let params: Vec<String> = generics
        .params
        .iter()
        .filter_map(|p| match p {
            GenericParam::Type(t) => Some(t.ident.to_string()),
            GenericParam::Const(c) => Some(c.ident.to_string()),
            GenericParam::Lifetime(_) => None,
        })
        .collect();
    let mut found = None;
    walk(ty.to_token_stream(), &params, &mut found);
    match found {
        None => true,
        Some((span, name)) if name.starts_with('\'') => {
            errors.at(
                span,
                format!("field `{field}` borrows with lifetime `{name}`, but events must own their data: use an owned type, like `String` for `&str`"),
            );
            false
        }
        Some((span, name)) => {
            errors.at(
                span,
                format!("field `{field}` uses the adapter's generic parameter `{name}`, but events are shared by every instantiation of the adapter: use a concrete type"),
            );
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compact_writes_types_as_people_do() {
        for (tokens, text) in [
            (quote!(Vec<u8>), "Vec<u8>"),
            (quote!(&'a str), "&'a str"),
            (quote!(&mut T), "&mut T"),
            (
                quote!(std::collections::HashMap<String, u8>),
                "std::collections::HashMap<String, u8>",
            ),
            (quote!(<T: Clone + Copy>), "<T: Clone + Copy>"),
            (quote!(where T: Copy), "where T: Copy"),
            (quote!(Box<dyn Fn(u8) -> u8>), "Box<dyn Fn(u8) -> u8>"),
            (quote!([u8; 4]), "[u8; 4]"),
            (quote!(pub(crate)), "pub(crate)"),
            (quote!(Option<&'static str>), "Option<&'static str>"),
        ] {
            assert_eq!(compact(tokens), text);
        }
    }
}
