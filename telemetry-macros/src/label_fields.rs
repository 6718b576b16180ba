//! Errors on event fields whose fix would change the labels: a bare field
//! that names no declared label (declare it?) and a typed field named like
//! one (write it bare?). They are reported after the budget model exists, so
//! that a fix is offered only when it fits the budget.

use syn::ext::IdentExt;
use syn::Ident;
use telemetry_vocab::{MAX_EVENT_LABELS, RESERVED_LABELS};

use crate::ast::Args;
use crate::budget::Cardinality;
use crate::check::is_label_name;
use crate::errors::Errors;

/// The cap an undeclared label is offered with, `labels(region(cap = 8))`,
/// unless a smaller one is all the budget leaves.
const SUGGESTED_LABEL_CAP: u32 = 8;

/// A field whose fix would make it a label, or keep it one.
pub(crate) struct LabelField {
    pub(crate) ident: Ident,
    /// Index into `Args::events`.
    pub(crate) event: usize,
    pub(crate) secret: bool,
    pub(crate) problem: LabelFieldProblem,
}

pub(crate) enum LabelFieldProblem {
    /// `region` is bare but no declared label.
    Undeclared,
    /// `tenant: String` where `tenant` is a declared label (its index).
    TypedLikeLabel(usize),
}

impl LabelField {
    /// Rejects `events(resolved(region))` without `labels(region(...))`,
    /// offering to declare it (with a cap the budget leaves room for) or to
    /// give it a type; rejects `events(resolved(tenant: String))` when
    /// `tenant` is a declared label, offering to write it bare if the
    /// budget allows.
    pub(crate) fn report(
        &self,
        args: &Args,
        model: &Cardinality,
        all: &[LabelField],
        errors: &mut Errors,
    ) {
        let fname = self.ident.unraw().to_string();
        let written = self.ident.to_string();
        let message = match self.problem {
            LabelFieldProblem::Undeclared if self.secret => format!(
                "`{fname}` is not a declared label, and labels cannot be secret: give it a type, like `#[secret] {written}: String`"
            ),
            LabelFieldProblem::Undeclared => {
                // Every event that names it bare would carry the new label.
                let mut carried_by: Vec<usize> = all
                    .iter()
                    .filter(|f| {
                        matches!(f.problem, LabelFieldProblem::Undeclared)
                            && f.ident.unraw() == fname
                    })
                    .map(|f| f.event)
                    .collect();
                carried_by.dedup();
                let cap = if is_label_name(&fname) {
                    Cardinality::largest_fitting_cap(SUGGESTED_LABEL_CAP, |cap| {
                        model.with_label(cap, &carried_by)
                    })
                } else {
                    None
                };
                match cap {
                    Some(cap) if args.labels_written => format!(
                        "`{fname}` is not a declared label: add `{written}(cap = {cap})` to `labels(...)` or give it a type, like `{written}: String`"
                    ),
                    Some(cap) => format!(
                        "`{fname}` is not a declared label: declare it with `labels({written}(cap = {cap}))` or give it a type, like `{written}: String`"
                    ),
                    None => {
                        let why = if RESERVED_LABELS.contains(&fname.as_str()) {
                            format!(" (`{fname}` is a built-in label, so it cannot be declared)")
                        } else if !is_label_name(&fname) {
                            format!(" (`{fname}` is not a valid label name)")
                        } else {
                            format!(
                                " (as a label it would take `adapter_events_total` over the budget of {})",
                                model.budget
                            )
                        };
                        format!(
                            "`{fname}` is not a declared label: give it a type, like `{written}: String`{why}"
                        )
                    }
                }
            }
            LabelFieldProblem::TypedLikeLabel(_) if self.secret => format!(
                "`{fname}` is a declared label, and labels cannot be secret: rename the field"
            ),
            LabelFieldProblem::TypedLikeLabel(label) => {
                let bare = model.with_event_label(self.event, label);
                if bare.events_fit() {
                    format!(
                        "`{fname}` is a declared label, so it takes no type here: write it bare, `{written}`, or rename the field"
                    )
                } else {
                    let why = if bare.events[self.event].len() > MAX_EVENT_LABELS {
                        format!("the event would carry more than {MAX_EVENT_LABELS} labels")
                    } else {
                        format!(
                            "`adapter_events_total` would go over the budget of {}",
                            model.budget
                        )
                    };
                    format!(
                        "`{fname}` is a declared label, so it takes no type here: rename the field (written bare, as a label, {why})"
                    )
                }
            }
        };
        errors.spanned(&self.ident, message);
    }
}
