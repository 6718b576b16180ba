//! Parses the attribute's tokens into typed [`Args`], recording every
//! malformed argument instead of stopping at the first.
//!
//! Grammar (each argument optional, any order, at most once):
//!
//! ```text
//! name = "crossref"
//! hosts(cap = 16)
//! labels(tenant(cap = 8), region(cap = 4))
//! events(resolved(tenant, doi: String, cached: bool), miss(key: String))
//! naming = "prometheus" | "opentelemetry"
//! slo(success = 99.5, latency_p99 = "500ms")
//! budget = 10000
//! crate = "::my_runtime_reexport"
//! ```

use proc_macro2::{Delimiter, Group, Span, TokenStream, TokenTree};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned as _;
use syn::{Expr, ExprLit, ExprUnary, Ident, Lit, LitStr, Token, UnOp};

use telemetry_vocab::duration::{self, DurationError};

use crate::ast::*;
use crate::errors::Errors;

/// Largest cardinality budget.
pub(crate) const MAX_BUDGET: u64 = 1_000_000;
/// Latency targets must fall inside the request duration buckets
/// (the runtime's `instruments::DURATION_BUCKETS_SECONDS`), or the quantile
/// could not be computed from the histogram.
const MIN_LATENCY_SECONDS: f64 = 0.001;
const MAX_LATENCY_SECONDS: f64 = 10.0;

const TOP_LEVEL: &[&str] = &[
    "name", "hosts", "labels", "events", "naming", "slo", "budget", "crate",
];

/// Tracks that an argument appears at most once; one helper for every
/// argument, so none can forget the check.
struct Seen {
    names: Vec<String>,
}

impl Seen {
    fn new() -> Self {
        Seen { names: Vec::new() }
    }
    /// `true` the first time `key` is seen; records an error afterwards.
    fn first(&mut self, key: &Ident, errors: &mut Errors) -> bool {
        let name = key.unraw().to_string();
        if self.names.contains(&name) {
            errors.spanned(key, format!("duplicate argument `{name}`"));
            false
        } else {
            self.names.push(name);
            true
        }
    }
}

/// One comma-separated argument: `key = value`, `key(...)` or `key`.
enum ArgValue {
    Assign(TokenStream),
    List(Group),
    Bare,
}

struct Arg {
    key: Ident,
    value: ArgValue,
}

/// Splits at top-level commas (commas inside groups stay inside them).
fn split_commas(tokens: TokenStream) -> Vec<Vec<TokenTree>> {
    let mut out = vec![Vec::new()];
    for tt in tokens {
        match &tt {
            TokenTree::Punct(p) if p.as_char() == ',' => out.push(Vec::new()),
            _ => out.last_mut().map_or((), |v| v.push(tt)),
        }
    }
    out.retain(|v| !v.is_empty());
    out
}

/// `expected` describes what the list holds, for the error when an item
/// does not start with a name (`"an argument name, like ..."`).
fn parse_arg(tokens: Vec<TokenTree>, expected: &str, errors: &mut Errors) -> Option<Arg> {
    let mut iter = tokens.into_iter();
    let key = match iter.next() {
        Some(TokenTree::Ident(i)) => i,
        Some(TokenTree::Literal(lit)) if lit.to_string().starts_with('"') => {
            errors.spanned(
                &lit,
                format!("expected {expected}; names are identifiers, written without quotes"),
            );
            return None;
        }
        Some(other) => {
            errors.spanned(&other, format!("expected {expected}"));
            return None;
        }
        None => return None,
    };
    let rest: Vec<TokenTree> = iter.collect();
    let value = match rest.first() {
        None => ArgValue::Bare,
        Some(TokenTree::Punct(p)) if p.as_char() == '=' => {
            let value: TokenStream = rest[1..].iter().cloned().collect();
            if value.is_empty() {
                errors.spanned(p, format!("expected a value after `{key} =`"));
                return None;
            }
            // Every value is one literal, or `-` and a literal. Anything after
            // it is the next argument with its comma forgotten:
            // `name = "a" hosts(cap = 4)`.
            let literal_len = match (rest.get(1), rest.get(2)) {
                (Some(TokenTree::Literal(_)), _) => Some(1),
                (Some(TokenTree::Punct(m)), Some(TokenTree::Literal(_))) if m.as_char() == '-' => {
                    Some(2)
                }
                _ => None,
            };
            if let Some(extra) = literal_len.and_then(|n| rest.get(1 + n)) {
                errors.spanned(
                    extra,
                    format!(
                        "expected `,` after the value of `{key}`: separate arguments with commas"
                    ),
                );
                return None;
            }
            ArgValue::Assign(value)
        }
        Some(TokenTree::Group(g)) if g.delimiter() == Delimiter::Parenthesis && rest.len() == 1 => {
            ArgValue::List(g.clone())
        }
        Some(_) => {
            let span_tokens: TokenStream = rest.iter().cloned().collect();
            errors.spanned(
                span_tokens,
                format!("expected `{key} = value` or `{key}(...)`; separate arguments with commas"),
            );
            return None;
        }
    };
    Some(Arg { key, value })
}

fn parse_list(tokens: TokenStream, expected: &str, errors: &mut Errors) -> Vec<Arg> {
    split_commas(tokens)
        .into_iter()
        .filter_map(|t| parse_arg(t, expected, errors))
        .collect()
}

/// Reads `value` as an integer literal in `min..=max`; `example` is a good
/// value for the error message.
fn int_in(
    value: &TokenStream,
    what: &str,
    (min, max, example): (u64, u64, u64),
    errors: &mut Errors,
) -> Option<Spanned<u64>> {
    let range = || format!("`{what}` must be between {min} and {max}");
    match syn::parse2::<Expr>(value.clone()) {
        Ok(Expr::Lit(ExprLit {
            lit: Lit::Int(i), ..
        })) => match i.base10_parse::<u64>() {
            Ok(v) if (min..=max).contains(&v) => Some(Spanned {
                value: v,
                span: i.span(),
            }),
            _ => {
                errors.spanned(&i, range());
                None
            }
        },
        Ok(
            e @ Expr::Unary(ExprUnary {
                op: UnOp::Neg(_), ..
            }),
        ) => {
            errors.spanned(e, range());
            None
        }
        _ => {
            errors.spanned(
                value,
                format!("`{what}` takes an integer, like `{what} = {example}`"),
            );
            None
        }
    }
}

fn str_lit(value: &TokenStream, what: &str, example: &str, errors: &mut Errors) -> Option<LitStr> {
    match syn::parse2::<Expr>(value.clone()) {
        Ok(Expr::Lit(ExprLit {
            lit: Lit::Str(s), ..
        })) => Some(s),
        _ => {
            errors.spanned(
                value,
                format!("`{what}` takes a string, like `{what} = \"{example}\"`"),
            );
            None
        }
    }
}

fn float_lit(
    value: &TokenStream,
    what: &str,
    example: &str,
    errors: &mut Errors,
) -> Option<(f64, Span)> {
    fn number(lit: &Lit) -> Option<f64> {
        match lit {
            Lit::Float(f) => f.base10_parse::<f64>().ok(),
            Lit::Int(i) => i.base10_parse::<f64>().ok(),
            _ => None,
        }
    }
    let parsed = syn::parse2::<Expr>(value.clone()).ok();
    let found = match &parsed {
        Some(Expr::Lit(ExprLit { lit, .. })) => number(lit).map(|v| (v, lit.span())),
        // Negative numbers parse, so the range check can name them.
        Some(
            e @ Expr::Unary(ExprUnary {
                op: UnOp::Neg(_),
                expr,
                ..
            }),
        ) => match &**expr {
            Expr::Lit(ExprLit { lit, .. }) => number(lit).map(|v| (-v, e.span())),
            _ => None,
        },
        _ => None,
    };
    if found.is_none() {
        errors.spanned(
            value,
            format!("`{what}` takes a number, like `{what} = {example}`"),
        );
    }
    found
}

fn unknown(key: &Ident, expected: &[&str], errors: &mut Errors) {
    let list = expected
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let written = key.unraw().to_string();
    let hint = expected
        .iter()
        .filter(|e| edit_distance(&written, e) <= 2)
        .min_by_key(|e| edit_distance(&written, e))
        .map_or_else(String::new, |e| format!(" (did you mean `{e}`?)"));
    let message = if expected.len() == 1 {
        format!("unknown argument `{written}`{hint}, expected {list}")
    } else {
        format!("unknown argument `{written}`{hint}, expected one of {list}")
    };
    errors.spanned(key, message);
}

/// Levenshtein distance, for "did you mean" hints on short argument names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let above = row[j + 1];
            row[j + 1] = if ca == *cb {
                diagonal
            } else {
                1 + diagonal.min(above).min(row[j])
            };
            diagonal = above;
        }
    }
    row[b.len()]
}

fn expect_assign(arg: Arg, example: &str, errors: &mut Errors) -> Option<(Ident, TokenStream)> {
    match arg.value {
        ArgValue::Assign(v) => Some((arg.key, v)),
        ArgValue::List(g) => {
            errors.at(
                g.span(),
                format!("`{}` takes a value, not a list: write `{example}`", arg.key),
            );
            None
        }
        ArgValue::Bare => {
            errors.spanned(
                &arg.key,
                format!("`{}` needs a value: write `{example}`", arg.key),
            );
            None
        }
    }
}

fn expect_list(arg: Arg, example: &str, errors: &mut Errors) -> Option<(Ident, Group)> {
    match arg.value {
        ArgValue::List(g) => Some((arg.key, g)),
        ArgValue::Assign(v) => {
            errors.spanned(
                v,
                format!("`{}` takes a list, not a value: write `{example}`", arg.key),
            );
            None
        }
        ArgValue::Bare => {
            errors.spanned(
                &arg.key,
                format!("`{}` needs a list: write `{example}`", arg.key),
            );
            None
        }
    }
}

/// Parses the whole attribute.
pub(crate) fn parse_args(tokens: TokenStream, errors: &mut Errors) -> Args {
    let mut args = Args::default();
    let mut seen = Seen::new();
    let expected = "an argument name, like `name = \"crossref\"` or `hosts(cap = 16)`";
    for arg in parse_list(tokens, expected, errors) {
        let key = arg.key.unraw().to_string();
        if !TOP_LEVEL.contains(&key.as_str()) {
            unknown(&arg.key, TOP_LEVEL, errors);
            continue;
        }
        if !seen.first(&arg.key, errors) {
            continue;
        }
        match key.as_str() {
            "name" => {
                if let Some((_, v)) = expect_assign(arg, "name = \"crossref\"", errors) {
                    args.name = str_lit(&v, "name", "crossref", errors);
                }
            }
            "hosts" => {
                if let Some((_, g)) = expect_list(arg, "hosts(cap = 16)", errors) {
                    args.host_cap = parse_cap(g, "hosts", errors);
                }
            }
            "labels" => match expect_list(arg, "labels(tenant(cap = 8))", errors) {
                Some((_, g)) => args.labels = parse_labels(g, errors),
                None => args.labels_known = false,
            },
            "events" => {
                if let Some((_, g)) = expect_list(arg, "events(resolved(doi: String))", errors) {
                    args.events = parse_events(g, errors);
                }
            }
            "naming" => {
                if let Some((_, v)) = expect_assign(arg, "naming = \"prometheus\"", errors) {
                    if let Some(s) = str_lit(&v, "naming", "prometheus", errors) {
                        args.naming = match s.value().as_str() {
                            "prometheus" => Some(Naming::Prometheus),
                            "opentelemetry" | "otel" => Some(Naming::OpenTelemetry),
                            other => {
                                errors.spanned(&s, format!("unknown naming `{other}`, expected `\"prometheus\"` or `\"opentelemetry\"`"));
                                None
                            }
                        };
                    }
                }
            }
            "slo" => {
                if let Some((_, g)) =
                    expect_list(arg, "slo(success = 99.5, latency_p99 = \"500ms\")", errors)
                {
                    args.slo = Some(parse_slo(g, errors));
                }
            }
            "budget" => {
                if let Some((_, v)) = expect_assign(arg, "budget = 10000", errors) {
                    args.budget = int_in(&v, "budget", (1, MAX_BUDGET, 10_000), errors);
                }
            }
            "crate" => {
                if let Some((_, v)) = expect_assign(arg, "crate = \"::telemetry_runtime\"", errors)
                {
                    if let Some(s) = str_lit(&v, "crate", "::telemetry_runtime", errors) {
                        match s.parse::<syn::Path>() {
                            Ok(p) => args.krate = Some(p),
                            Err(_) => errors.spanned(
                                &s,
                                "`crate` must be a path, like `\"::telemetry_runtime\"`",
                            ),
                        }
                    }
                }
            }
            _ => {}
        }
    }
    args
}

/// `(cap = N)`.
fn parse_cap(group: Group, owner: &str, errors: &mut Errors) -> Option<Spanned<u32>> {
    let mut seen = Seen::new();
    let mut cap = None;
    let items = parse_list(group.stream(), "`cap = 16`", errors);
    if items.is_empty() {
        errors.at(
            group.span(),
            format!("`{owner}` needs a cap: write `{owner}(cap = 16)`"),
        );
    }
    for arg in items {
        // Compared unraw, as every other argument name is: `r#cap` is `cap`.
        if arg.key.unraw() != "cap" {
            unknown(&arg.key, &["cap"], errors);
            continue;
        }
        if !seen.first(&arg.key, errors) {
            continue;
        }
        if let Some((_, v)) = expect_assign(arg, "cap = 16", errors) {
            let max = u64::from(telemetry_vocab::MAX_CAP);
            cap = int_in(&v, "cap", (1, max, 16), errors).and_then(|s| {
                Some(Spanned {
                    value: u32::try_from(s.value).ok()?,
                    span: s.span,
                })
            });
        }
    }
    cap
}

fn parse_labels(group: Group, errors: &mut Errors) -> Vec<LabelArg> {
    let mut out: Vec<LabelArg> = Vec::new();
    let expected = "a label, like `tenant(cap = 8)`";
    for arg in parse_list(group.stream(), expected, errors) {
        let ident = arg.key.clone();
        let name = ident.unraw().to_string();
        if out.iter().any(|l| l.ident.unraw() == name) {
            errors.spanned(&ident, format!("duplicate label `{name}`"));
            continue;
        }
        let example = format!("{name}(cap = 8)");
        // A label whose cap is wrong stays declared (with no cap), so events
        // that carry it do not also report "not a declared label".
        let cap = expect_list(arg, &example, errors).and_then(|(_, g)| parse_cap(g, &name, errors));
        out.push(LabelArg { ident, cap });
    }
    out
}

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

fn parse_events(group: Group, errors: &mut Errors) -> Vec<EventArg> {
    let mut out: Vec<EventArg> = Vec::new();
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
        if out.iter().any(|e| e.ident.unraw() == ident.unraw()) {
            errors.spanned(&ident, format!("duplicate event `{}`", ident.unraw()));
            continue;
        }
        out.push(EventArg { ident, fields });
    }
    out
}

fn parse_slo(group: Group, errors: &mut Errors) -> SloArg {
    let mut slo = SloArg::default();
    let mut seen = Seen::new();
    let mut latency_key: Option<Ident> = None;
    let items = parse_list(
        group.stream(),
        "an objective, like `success = 99.5` or `latency_p99 = \"500ms\"`",
        errors,
    );
    if items.is_empty() {
        errors.at(
            group.span(),
            "`slo` needs at least one objective: `slo(success = 99.5, latency_p99 = \"500ms\")`",
        );
    }
    for arg in items {
        let key = arg.key.unraw().to_string();
        if key == "success" {
            if !seen.first(&arg.key, errors) {
                continue;
            }
            let Some((_, v)) = expect_assign(arg, "success = 99.5", errors) else {
                continue;
            };
            if let Some((pct, span)) = float_lit(&v, "success", "99.5", errors) {
                if pct > 0.0 && pct < 100.0 {
                    slo.success_percent = Some(pct);
                } else {
                    errors.at(
                        span,
                        "`success` is a percentage strictly between 0 and 100, like `99.5`",
                    );
                }
            }
        } else if let Some(q) = key.strip_prefix("latency_p") {
            if let Some(first) = &latency_key {
                errors.spanned(
                    &arg.key,
                    format!(
                        "only one latency objective is allowed, and `{first}` is already declared"
                    ),
                );
                continue;
            }
            latency_key = Some(arg.key.clone());
            let quantile = parse_quantile(q);
            let key_ident = arg.key.clone();
            let Some((_, v)) = expect_assign(arg, "latency_p99 = \"500ms\"", errors) else {
                continue;
            };
            let target = str_lit(&v, &key, "500ms", errors);
            match quantile {
                None => errors.spanned(
                    &key_ident,
                    format!(
                        "`{key}` does not name a quantile between 0 and 1: write `latency_p` and \
                         the quantile's digits, like `latency_p50`, `latency_p99` or `latency_p999`"
                    ),
                ),
                Some(quantile) => {
                    if let Some(target) = target {
                        match duration::parse_secs_f64(&target.value()) {
                            Ok(secs)
                                if (MIN_LATENCY_SECONDS..=MAX_LATENCY_SECONDS).contains(&secs) =>
                            {
                                slo.latency = Some(LatencyArg {
                                    quantile,
                                    target_seconds: secs,
                                });
                            }
                            // Too many digits for an `f64` is out of range too.
                            Ok(_) | Err(DurationError::Overflow { .. }) => errors.spanned(
                                &target,
                                format!(
                                    "`{key}` must be between `\"1ms\"` and `\"10s\"` \
                                     (the range of the request duration buckets)"
                                ),
                            ),
                            Err(_) => errors.spanned(
                                &target,
                                format!(
                                    "`{key}` takes a duration with a unit, like `\"250ms\"`, \
                                     `\"1.5s\"` or `\"800us\"`"
                                ),
                            ),
                        }
                    }
                }
            }
        } else {
            unknown(
                &arg.key,
                &[
                    "success",
                    "latency_p50",
                    "latency_p90",
                    "latency_p95",
                    "latency_p99",
                    "latency_p999",
                ],
                errors,
            );
        }
    }
    slo
}

/// `"99"` -> 0.99, `"999"` -> 0.999, `"50"` -> 0.5.
fn parse_quantile(digits: &str) -> Option<f64> {
    if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    // `p100` would read as the 100th percentile but spell 0.100: ambiguous.
    if digits.len() > 2 && digits.ends_with('0') {
        return None;
    }
    let n: f64 = digits.parse().ok()?;
    // At most 4 digits, so the exponent always fits.
    let q = n / 10f64.powi(i32::try_from(digits.len()).ok()?);
    (q > 0.0 && q < 1.0).then_some(q)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles() {
        assert_eq!(parse_quantile("99"), Some(0.99));
        assert_eq!(parse_quantile("999"), Some(0.999));
        assert_eq!(parse_quantile("5"), Some(0.5));
        assert_eq!(parse_quantile("x"), None);
        assert_eq!(parse_quantile("0"), None);
        assert_eq!(parse_quantile("100"), None);
        assert_eq!(parse_quantile("05"), Some(0.05));
    }

    #[test]
    fn raw_cap_is_cap() {
        let mut errors = Errors::default();
        let args = parse_args(quote::quote!(hosts(r#cap = 4)), &mut errors);
        assert!(errors.finish().is_ok());
        assert_eq!(args.host_cap.map(|c| c.value), Some(4));
    }

    #[test]
    fn edit_distances_for_hints() {
        assert_eq!(edit_distance("host", "hosts"), 1);
        assert_eq!(edit_distance("sucess", "success"), 1);
        assert_eq!(edit_distance("lables", "labels"), 2);
        assert_eq!(edit_distance("colour", "name"), 6);
        assert_eq!(edit_distance("", "cap"), 3);
    }
}
