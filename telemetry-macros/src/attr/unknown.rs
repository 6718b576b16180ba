//! The error for an unknown argument name: the names that would be right,
//! and the closest of them when the name looks like a typo.

use syn::ext::IdentExt;
use syn::Ident;

use crate::errors::Errors;

/// Reports `key` as unknown, listing `expected`; the "did you mean" hint is
/// taken from `hints` only (the expected names not written yet).
pub(super) fn unknown(key: &Ident, expected: &[&str], hints: &[&str], errors: &mut Errors) {
    let list = expected
        .iter()
        .map(|e| format!("`{e}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let written = key.unraw().to_string();
    let hint = hints
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edit_distances_for_hints() {
        assert_eq!(edit_distance("host", "hosts"), 1);
        assert_eq!(edit_distance("sucess", "success"), 1);
        assert_eq!(edit_distance("lables", "labels"), 2);
        assert_eq!(edit_distance("colour", "name"), 6);
        assert_eq!(edit_distance("", "cap"), 3);
    }
}
