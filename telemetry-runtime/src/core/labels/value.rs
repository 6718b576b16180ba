//! The interned value type and the label limits.

use std::fmt;

use serde::{Serialize, Serializer};

use super::host::{normalize_host, MAX_HOST_LEN};

/// The value every folded input becomes.
pub const OVERFLOW_VALUE: &str = "_OTHER";

/// The hard maximum of any cap, enforced by the macro at compile time (the
/// one definition is `telemetry_vocab::MAX_CAP`).
pub const MAX_CAP: u32 = telemetry_vocab::MAX_CAP;

/// Longest label value kept as is (bytes); longer values fold.
pub const MAX_VALUE_LEN: usize = 128;

#[derive(Debug)]
/// One interned label value.
pub struct LabelEntry {
    pub(super) value: Box<str>,
    pub(super) index: u32,
    pub(super) hash: u64,
    /// Whether host normalisation leaves this value unchanged whatever the
    /// scheme: then an input spelled exactly like it needs no normalising.
    pub(super) normal_host: bool,
}

/// An interned, bounded label value: a `&'static` reference, `Copy`, compared by
/// address.
///
/// ```
/// use telemetry_runtime::labels::BoundedLabel;
/// let tenants = BoundedLabel::new("tenant", 1);
/// let a = tenants.intern("acme");
/// let b = tenants.intern("globex"); // cap reached: folds
/// assert_eq!(a.as_str(), "acme");
/// assert!(b.is_overflow());
/// assert_eq!(tenants.overflow_count(), 1);
/// ```
#[derive(Clone, Copy)]
pub struct LabelValue(pub(super) &'static LabelEntry);

impl LabelValue {
    /// The label value as exported.
    pub fn as_str(self) -> &'static str {
        &self.0.value
    }

    /// Dense index in `0..=cap`; the overflow value has index `cap`.
    pub fn index(self) -> usize {
        self.0.index as usize
    }

    /// Whether this is the shared overflow value `_OTHER`.
    pub fn is_overflow(self) -> bool {
        &*self.0.value == OVERFLOW_VALUE
    }
}

impl PartialEq for LabelValue {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self.0, other.0)
    }
}
impl Eq for LabelValue {}

impl fmt::Debug for LabelValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for LabelValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LabelValue {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

pub(super) fn leak_entry(value: &str, index: u32, hash: u64) -> LabelValue {
    // With no scheme both default ports are dropped; a value that survives
    // that unchanged has no default port, no trailing dot and nothing to
    // lowercase, so every scheme leaves it unchanged.
    let mut buf = [0u8; MAX_HOST_LEN];
    let normal_host = normalize_host(value, None, &mut buf) == Some(value.as_bytes());
    // Bounded leak: at most cap + 1 entries per label, for the life of the
    // process, which is what lets every user hold a plain `&'static`.
    LabelValue(Box::leak(Box::new(LabelEntry {
        value: value.into(),
        index,
        hash,
        normal_host,
    })))
}
