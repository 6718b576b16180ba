//! The one duplicate tracker every argument goes through (serde_derive's
//! `Attr<T>`): no argument can forget the check, and every duplicate is
//! reported alike, at its second occurrence, without reading its value.

use syn::ext::IdentExt;
use syn::Ident;

use crate::errors::Errors;

/// How a second occurrence is reported.
#[derive(Clone, Copy)]
pub(super) enum Duplicate {
    /// ``duplicate {noun} `x` ``, for a name written twice: `argument`,
    /// `label`, `event`.
    Named(&'static str),
    /// ``only one {what} is allowed, and `x` is already declared``, for two
    /// names of one family (`latency_p50` and `latency_p99`).
    OneOf(&'static str),
}

impl Duplicate {
    fn message(self, first: &Ident, second: &Ident) -> String {
        match self {
            Duplicate::Named(noun) => format!("duplicate {noun} `{}`", second.unraw()),
            Duplicate::OneOf(what) => {
                format!("only one {what} is allowed, and `{first}` is already declared")
            }
        }
    }
}

/// A value that may be written once, with the key it was written at.
pub(super) struct Attr<T> {
    duplicate: Duplicate,
    first: Option<(Ident, T)>,
}

impl<T> Attr<T> {
    pub(super) fn new(duplicate: Duplicate) -> Self {
        Attr {
            duplicate,
            first: None,
        }
    }

    /// Keeps `value`, written at `key`, if nothing was written before;
    /// otherwise reports the duplicate at `key` and drops `value`.
    pub(super) fn set(&mut self, key: &Ident, value: T, errors: &mut Errors) {
        match &self.first {
            None => self.first = Some((key.clone(), value)),
            Some((first, _)) => errors.spanned(key, self.duplicate.message(first, key)),
        }
    }

    pub(super) fn get(self) -> Option<T> {
        self.first.map(|(_, value)| value)
    }

    fn is_named(&self, name: &Ident) -> bool {
        self.first
            .as_ref()
            .is_some_and(|(key, _)| key.unraw() == *name)
    }
}

/// The named values of one list (the attribute's arguments, `labels(...)`,
/// `events(...)`): one [`Attr`] per name, compared unraw (`r#type` is
/// `type`), in the order first written.
pub(super) struct Attrs<T> {
    noun: &'static str,
    list: Vec<Attr<T>>,
}

impl<T> Attrs<T> {
    /// Duplicates are reported as ``duplicate {noun} `x` ``.
    pub(super) fn new(noun: &'static str) -> Self {
        Attrs {
            noun,
            list: Vec::new(),
        }
    }

    /// [`Attr::set`] on the value named like `key`.
    pub(super) fn set(&mut self, key: &Ident, value: T, errors: &mut Errors) {
        let name = key.unraw();
        match self.list.iter_mut().find(|attr| attr.is_named(&name)) {
            Some(attr) => attr.set(key, value, errors),
            None => {
                let mut attr = Attr::new(Duplicate::Named(self.noun));
                attr.set(key, value, errors);
                self.list.push(attr);
            }
        }
    }
}

impl<T> IntoIterator for Attrs<T> {
    type Item = T;
    type IntoIter = std::iter::FilterMap<std::vec::IntoIter<Attr<T>>, fn(Attr<T>) -> Option<T>>;

    /// The first value of each name, in the order written.
    fn into_iter(self) -> Self::IntoIter {
        self.list.into_iter().filter_map(Attr::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn messages(errors: Errors) -> Vec<String> {
        match errors.finish() {
            Ok(()) => Vec::new(),
            Err(e) => e.into_iter().map(|e| e.to_string()).collect(),
        }
    }

    #[test]
    fn the_first_value_is_kept_and_the_second_reported() {
        let mut errors = Errors::default();
        let mut attrs = Attrs::new("label");
        let (a, b, raw_a): (Ident, Ident, Ident) = (
            syn::parse_quote!(a),
            syn::parse_quote!(b),
            syn::parse_quote!(r#a),
        );
        attrs.set(&a, 1, &mut errors);
        attrs.set(&b, 2, &mut errors);
        attrs.set(&raw_a, 3, &mut errors);
        assert_eq!(attrs.into_iter().collect::<Vec<_>>(), [1, 2]);
        assert_eq!(messages(errors), ["duplicate label `a`"]);
    }

    #[test]
    fn one_of_a_family_names_the_first() {
        let mut errors = Errors::default();
        let mut latency = Attr::new(Duplicate::OneOf("latency objective"));
        let (p50, p99): (Ident, Ident) = (
            syn::parse_quote!(latency_p50),
            syn::parse_quote!(latency_p99),
        );
        latency.set(&p50, 50, &mut errors);
        latency.set(&p99, 99, &mut errors);
        assert_eq!(latency.get(), Some(50));
        assert_eq!(
            messages(errors),
            ["only one latency objective is allowed, and `latency_p50` is already declared"]
        );
    }
}
