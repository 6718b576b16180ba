//! Rules across arguments and the annotated item. Each rule says what it
//! rejects; every violation is recorded, none stops the others.

use proc_macro2::{Span, TokenTree};
use quote::{quote, ToTokens};
use syn::ext::IdentExt;
use syn::{Data, DeriveInput, Fields, GenericParam, Generics, Ident, Type};

// `RESERVED_LABELS` rejects `labels(host(cap = 4))`, `BUILTIN_EVENTS`
// `events(retry(n: u32))` (logs could not tell it from the built-in event),
// `MAX_EVENT_LABELS` an event with more labels than the runtime's per-event
// label buffer holds.
use telemetry_vocab::{BUILTIN_EVENTS, MAX_EVENT_LABELS, RESERVED_LABELS};

use crate::ast::*;
use crate::errors::Errors;

/// Default cardinality budget: the most series any one metric may have.
pub(crate) const DEFAULT_BUDGET: u64 = 10_000;

/// Per-host `(method, status)` pairs the runtime keeps for `http_requests_total`.
const STATUS_PAIRS_PER_HOST: u64 = telemetry_vocab::STATUS_SLOTS as u64;

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

    // Adapter name: a Prometheus-safe identifier. Rejects `name = "my-api"`.
    let name = match &args.name {
        Some(lit) => {
            let v = lit.value();
            if let Err(why) = prometheus_name(&v) {
                let suggestion = v
                    .replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                    .to_ascii_lowercase();
                errors.spanned(
                    lit,
                    format!("adapter name `{v}` {why}; try `name = \"{suggestion}\"`"),
                );
            }
            v
        }
        None => snake_case(&input.ident.unraw().to_string()),
    };

    for label in &args.labels {
        check_label_name(&label.ident, errors);
    }

    let events = check_events(&args, &input.generics, errors);
    let host_cap = args.host_cap.as_ref().map_or(16, |c| c.value);
    let budget = args.budget.as_ref().map_or(DEFAULT_BUDGET, |b| b.value);
    check_budget(&args, &events, host_cap, budget, errors);

    if !item_ok {
        return None;
    }
    Some(Adapter {
        input,
        name,
        host_cap,
        labels: args.labels,
        events,
        naming: args.naming.unwrap_or(Naming::Prometheus),
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
    match &input.data {
        Data::Struct(s) => match &s.fields {
            Fields::Named(_) => return true,
            Fields::Unnamed(f) => errors.spanned(
                f,
                format!(
                    "{WHAT}, not a tuple struct: write `struct {} {{ field: Type }}`",
                    input.ident
                ),
            ),
            Fields::Unit => errors.spanned(
                &input.ident,
                format!(
                    "{WHAT}, not a unit struct: write `struct {} {{}}`",
                    input.ident
                ),
            ),
        },
        Data::Enum(e) => errors.spanned(e.enum_token, format!("{WHAT}, not an enum")),
        Data::Union(u) => errors.spanned(u.union_token, format!("{WHAT}, not a union")),
    }
    false
}

/// Prometheus metric/label name rules: `[a-zA-Z_][a-zA-Z0-9_]*`, and names
/// starting with `__` are reserved.
fn prometheus_name(v: &str) -> Result<(), &'static str> {
    let mut chars = v.chars();
    match chars.next() {
        None => return Err("is empty"),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err("must start with a letter or `_` (Prometheus naming rules)")
        }
        _ => {}
    }
    if !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err("may only contain ASCII letters, digits and `_` (Prometheus naming rules)");
    }
    if v.starts_with("__") {
        return Err("must not start with `__`, which Prometheus reserves");
    }
    Ok(())
}

/// Rust keywords that a raw identifier (`r#type`) cannot spell either.
const NOT_RAW: &[&str] = &["self", "Self", "super", "crate", "_"];

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
    if written == name && syn::parse_str::<Ident>(&name).is_err() {
        errors.spanned(
            ident,
            format!("{what} `{name}` is a Rust keyword: write `r#{name}` or pick another name"),
        );
        return false;
    }
    true
}

fn check_label_name(ident: &Ident, errors: &mut Errors) {
    let name = ident.unraw().to_string();
    if !check_rust_ident(ident, "label name", errors) {
        return;
    }
    if let Err(why) = prometheus_name(&name) {
        errors.spanned(ident, format!("label name `{name}` {why}"));
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

/// Event names are snake_case ASCII: `[a-z][a-z0-9]*(_[a-z0-9]+)*`. They name
/// emitter methods, enum variants and the `event` label value.
fn is_snake_case(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.split('_').all(|part| {
            !part.is_empty()
                && part
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

fn check_events(args: &Args, generics: &Generics, errors: &mut Errors) -> Vec<Event> {
    let mut out: Vec<Event> = Vec::new();
    for ev in &args.events {
        let name = ev.ident.unraw().to_string();
        // Rejects `events(CacheMiss(...))`, `events(cache__miss)`.
        let valid_ident = check_rust_ident(&ev.ident, "event name", errors);
        if valid_ident && !is_snake_case(&name) {
            errors.spanned(
                &ev.ident,
                format!(
                    "event name `{name}` must be snake_case ASCII, like `{}`",
                    snake_case(&name)
                ),
            );
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
        let mut seen: Vec<String> = Vec::new();
        let mut label_count = 0;
        for f in &ev.fields {
            let fname = f.ident().unraw().to_string();
            // What the emitter takes in place of a field that is rejected.
            let rejected = || Field::Rejected {
                param: match f {
                    FieldArg::Label(_) => quote!(&str),
                    FieldArg::Typed(_, ty) => quote!(#ty),
                },
            };
            if seen.contains(&fname) {
                errors.spanned(
                    f.ident(),
                    format!("duplicate field `{fname}` in event `{name}`"),
                );
                fields.push(rejected());
                continue;
            }
            seen.push(fname.clone());
            if !check_rust_ident(f.ident(), "field name", errors) {
                fields.push(rejected());
                continue;
            }
            // `event` is the tag of the serialised enum; `__` names are ours.
            // Rejects `events(resolved(event: String))`.
            if fname == "event" || fname.starts_with("__") {
                errors.spanned(
                    f.ident(),
                    format!(
                        "field name `{fname}` is reserved (`event` tags the serialised event, `__` names belong to generated code); pick another name"
                    ),
                );
                fields.push(rejected());
                continue;
            }
            let label = args.labels.iter().position(|l| l.ident.unraw() == fname);
            match (f, label) {
                (FieldArg::Label(ident), Some(label)) => {
                    label_count += 1;
                    fields.push(Field::Label {
                        ident: ident.clone(),
                        label,
                    });
                }
                // When `labels(...)` itself was malformed its error is enough.
                (FieldArg::Label(_), None) if !args.labels_known => fields.push(rejected()),
                (FieldArg::Label(ident), None) => {
                    errors.spanned(
                        ident,
                        format!("`{fname}` is not a declared label: declare it with `labels({fname}(cap = 8))` or give it a type, like `{fname}: String`"),
                    );
                    fields.push(rejected());
                }
                (FieldArg::Typed(ident, _), Some(_)) => {
                    errors.spanned(
                        ident,
                        format!("`{fname}` is a declared label, so it takes no type here: write it bare, `{fname}`, or rename the field"),
                    );
                    fields.push(rejected());
                }
                (FieldArg::Typed(ident, ty), None) => {
                    if check_static_type(ty, generics, &fname, errors) {
                        fields.push(Field::Payload {
                            ident: ident.clone(),
                            ty: ty.clone(),
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
        if label_count > MAX_EVENT_LABELS {
            errors.spanned(
                &ev.ident,
                format!("event `{name}` carries {label_count} labels; at most {MAX_EVENT_LABELS} are allowed"),
            );
        }
        if !usable {
            continue;
        }
        out.push(Event {
            variant,
            ident: ev.ident.clone(),
            fields,
        });
    }
    out
}

/// Payload types live in the adapter's one event enum, shared by every
/// instantiation of a generic adapter, and sinks keep events as
/// `dyn Any + 'static`. Rejects `events(seen(item: T))` on `struct A<T>` and
/// `events(seen(name: &'a str))`.
fn check_static_type(ty: &Type, generics: &Generics, field: &str, errors: &mut Errors) -> bool {
    fn walk(
        tokens: proc_macro2::TokenStream,
        params: &[String],
        found: &mut Option<(proc_macro2::Span, String)>,
    ) {
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

/// The cardinality budget: no metric may have more potential series than the
/// budget. Rejects `hosts(cap = 1000)` with the default budget of 10000,
/// since `http_requests_total` could then reach 1000 × 32 series.
fn check_budget(args: &Args, events: &[Event], host_cap: u32, budget: u64, errors: &mut Errors) {
    // Point at the host cap, or else at the budget that is too small.
    let host_span = args
        .host_cap
        .as_ref()
        .map(|c| c.span)
        .or_else(|| args.budget.as_ref().map(|b| b.span))
        .unwrap_or_else(Span::call_site);
    let hint = |needed: u64| {
        if needed <= crate::attr::MAX_BUDGET {
            format!("lower a cap or raise the budget with `budget = {needed}`")
        } else {
            "lower a cap".to_string()
        }
    };
    let host = u64::from(host_cap);
    let requests = host * STATUS_PAIRS_PER_HOST;
    if requests > budget {
        errors.at(
            host_span,
            format!(
                "metric `http_requests_total` could have {requests} series (`host` cap {host} × {STATUS_PAIRS_PER_HOST} method/status pairs), above the cardinality budget of {budget}; {}",
                hint(requests)
            ),
        );
    }
    for ev in events {
        let mut product: u64 = 1;
        let mut parts = Vec::new();
        for f in &ev.fields {
            if let Field::Label { label, .. } = f {
                let l = &args.labels[*label];
                product = product.saturating_mul(u64::from(l.cap_value()));
                parts.push(format!("`{}` cap {}", l.ident.unraw(), l.cap_value()));
            }
        }
        if product > budget {
            // The event is what combines the labels, so point at it; the
            // message names each label and its cap.
            errors.spanned(
                &ev.ident,
                format!(
                    "metric `adapter_events_total` for event `{}` could have {product} series ({}), above the cardinality budget of {budget}; {}",
                    ev.ident.unraw(),
                    parts.join(" × "),
                    hint(product)
                ),
            );
        }
    }
}

/// `CrossrefAPI` -> `crossref_api`, `HTTPClient` -> `http_client`.
pub(crate) fn snake_case(s: &str) -> String {
    let chars: Vec<char> = s.chars().collect();
    let mut out = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_uppercase() {
            let prev_lower =
                i > 0 && (chars[i - 1].is_lowercase() || chars[i - 1].is_ascii_digit());
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let prev_upper = i > 0 && chars[i - 1].is_uppercase();
            if i > 0 && (prev_lower || (prev_upper && next_lower)) && !out.ends_with('_') {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

/// `cache_miss` -> `CacheMiss`.
pub(crate) fn upper_camel(s: &str) -> String {
    s.split('_')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map_or_else(String::new, |f| f.to_uppercase().chain(c).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_conversions() {
        assert_eq!(snake_case("Crossref"), "crossref");
        assert_eq!(snake_case("CrossrefAPI"), "crossref_api");
        assert_eq!(snake_case("HTTPClient"), "http_client");
        assert_eq!(snake_case("S3Store"), "s3_store");
        assert_eq!(upper_camel("cache_miss"), "CacheMiss");
        assert_eq!(upper_camel("resolved"), "Resolved");
    }

    #[test]
    fn snake_case_event_names() {
        assert!(is_snake_case("resolved"));
        assert!(is_snake_case("cache_miss_v2"));
        assert!(!is_snake_case("CacheMiss"));
        assert!(!is_snake_case("cache__miss"));
        assert!(!is_snake_case("cache_"));
        assert!(!is_snake_case("_cache"));
        assert!(!is_snake_case("2xx"));
        assert!(!is_snake_case(""));
    }

    #[test]
    fn prometheus_names() {
        assert!(prometheus_name("crossref_v2").is_ok());
        assert!(prometheus_name("my-api").is_err());
        assert!(prometheus_name("2fast").is_err());
        assert!(prometheus_name("__meta").is_err());
        assert!(prometheus_name("").is_err());
    }
}
