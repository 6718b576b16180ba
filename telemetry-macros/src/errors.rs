//! Error collection: every stage adds to one list, so one build reports every
//! mistake (serde_derive's `Ctxt`).

use std::fmt::Display;

use proc_macro2::Span;

#[derive(Default)]
pub(crate) struct Errors {
    list: Vec<syn::Error>,
}

impl Errors {
    pub(crate) fn push(&mut self, error: syn::Error) {
        self.list.push(error);
    }

    pub(crate) fn spanned<T: quote::ToTokens>(&mut self, tokens: T, message: impl Display) {
        self.push(syn::Error::new_spanned(tokens, message));
    }

    pub(crate) fn at(&mut self, span: Span, message: impl Display) {
        self.push(syn::Error::new(span, message));
    }

    /// All errors as one, in source order: parsing and cross-argument checks
    /// find them in different passes, but a reader goes top to bottom. (Where
    /// the compiler cannot report span locations every position is 0:0 and the
    /// stable sort keeps the order they were found in.)
    pub(crate) fn finish(mut self) -> syn::Result<()> {
        self.list.sort_by_key(|e| {
            let start = e.span().start();
            (start.line, start.column)
        });
        let mut list = self.list.into_iter();
        match list.next() {
            Some(mut first) => {
                first.extend(list);
                Err(first)
            }
            None => Ok(()),
        }
    }
}
