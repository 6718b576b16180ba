//! Custom-event counters of one event: a count per label combination seen.
//!
//! A combination is keyed by its mixed-radix number (each label's value
//! index, in `0..=cap`, a digit; the first label the least significant), so
//! the key of every combination fits a `u64` whenever the event's series
//! fit a budget. The all-`_OTHER` combination, the largest key, has its own
//! counter, which also takes every combination past the bound.
//!
//! Storage follows the combinations seen, never the product of `cap + 1`:
//!
//! - few seen: a `HashMap` from key to counter (hashbrown: a 16-byte entry
//!   and a control byte per bucket, at a load between 7/16 and 7/8, so at
//!   most 40 bytes per combination seen; 84 bytes for the first);
//! - once a quarter of all combinations are seen: one counter per
//!   combination (8 bytes each, so at most 32 bytes per combination seen);
//! - past the bound (the budget, at most `MAX_BUDGET`, which the macro's
//!   check already guarantees; it only binds a manifest written by hand),
//!   new combinations fold into the all-`_OTHER` one.
//!
//! So one event takes at most `40 × seen + 256` bytes, and `8 ×` its
//! combinations once dense (16 MB for the widest event the budget admits);
//! while the map grows or turns dense, old and new storage coexist for a
//! moment, at most `72 × seen + 256` bytes.
//! `tests/ui/pass/widest_event_memory.rs` measures these bounds with a
//! counting allocator. A seen combination is counted under a shared read
//! lock of this event only; a new one takes its write lock once.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasherDefault, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{PoisonError, RwLock};

use crate::core::events::CustomEvent;
use crate::core::labels::hash::mix64;

/// Hashes a key with one 64-bit mix: keys are dense small numbers, and
/// a plain multiply would leave the low bits of `k × 2^n` keys equal.
#[derive(Default)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix64(self.0 ^ u64::from(b));
        }
    }
    fn write_u64(&mut self, key: u64) {
        self.0 = mix64(key);
    }
}

type Sparse = HashMap<u64, AtomicU64, BuildHasherDefault<KeyHasher>>;

enum Seen {
    Sparse(Sparse),
    /// Indexed by key, the all-`_OTHER` key excluded.
    Dense(Box<[AtomicU64]>),
}

/// The counters of one event (see the module documentation).
pub(crate) struct EventCounts {
    /// `cap + 1` of each label the event carries, in declaration order.
    radices: Box<[u64]>,
    /// The all-`_OTHER` key (the product of the radices minus one, which
    /// is also how many other combinations there are); `None` when the
    /// product does not fit a `u64`, and every emission folds.
    all_other: Option<u64>,
    /// Most combinations kept apart from the all-`_OTHER` one.
    limit: u64,
    /// The all-`_OTHER` combination and every one folded into it.
    folded: AtomicU64,
    seen: RwLock<Seen>,
}

impl fmt::Debug for EventCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let seen = self.seen.read().unwrap_or_else(PoisonError::into_inner);
        let (storage, combinations) = match &*seen {
            Seen::Sparse(map) => ("sparse", map.len()),
            Seen::Dense(counts) => ("dense", counts.len()),
        };
        f.debug_struct("EventCounts")
            .field("radices", &self.radices)
            .field("limit", &self.limit)
            .field("storage", &storage)
            .field("combinations", &combinations)
            .field("folded", &self.folded.load(Ordering::Relaxed))
            .finish()
    }
}

impl EventCounts {
    /// Counters for an event whose labels have `radices` values each,
    /// under `budget` series (0, as in a manifest written by hand
    /// without one: the default budget). Allocates nothing but
    /// `radices`.
    pub(crate) fn new(radices: Box<[u64]>, budget: u64) -> Self {
        use telemetry_vocab::cardinality::{DEFAULT_BUDGET, MAX_BUDGET};
        let budget = if budget == 0 { DEFAULT_BUDGET } else { budget };
        let all_other = radices
            .iter()
            .try_fold(1u64, |p, &r| p.checked_mul(r.max(1)))
            .map(|p| p - 1);
        EventCounts {
            radices,
            all_other,
            limit: budget.min(MAX_BUDGET) - 1,
            folded: AtomicU64::new(0),
            seen: RwLock::new(Seen::Sparse(Sparse::default())),
        }
    }

    /// Counts `event`'s label combination.
    #[inline]
    pub(crate) fn count(&self, event: &dyn CustomEvent) {
        let mut key = 0u64;
        let mut stride = 1u64;
        let mut n = 0;
        event.visit_labels(&mut |_, v| {
            if let Some(&radix) = self.radices.get(n) {
                let digit = (v.index() as u64).min(radix.max(1) - 1);
                // Wraps only when the product does not fit, and then
                // every emission folds anyway.
                key = key.wrapping_add(digit.wrapping_mul(stride));
                stride = stride.wrapping_mul(radix);
            }
            n += 1;
        });
        self.add(key);
    }

    /// Counts the combination `key`.
    #[inline]
    pub(crate) fn add(&self, key: u64) {
        match self.all_other {
            Some(all_other) if key < all_other => {}
            // The all-`_OTHER` combination (or an event whose keys do
            // not fit): no lookup at all.
            _ => {
                self.folded.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        {
            let seen = self.seen.read().unwrap_or_else(PoisonError::into_inner);
            let counter = match &*seen {
                Seen::Sparse(map) => map.get(&key),
                Seen::Dense(counts) => usize::try_from(key).ok().and_then(|k| counts.get(k)),
            };
            if let Some(c) = counter {
                c.fetch_add(1, Ordering::Relaxed);
                return;
            }
        }
        self.add_new(key);
    }

    /// The first emission of `key` (or one racing with it): under the
    /// write lock.
    #[cold]
    #[inline(never)]
    fn add_new(&self, key: u64) {
        let mut seen = self.seen.write().unwrap_or_else(PoisonError::into_inner);
        let map = match &mut *seen {
            Seen::Dense(counts) => {
                match usize::try_from(key).ok().and_then(|k| counts.get(k)) {
                    Some(c) => c.fetch_add(1, Ordering::Relaxed),
                    None => self.folded.fetch_add(1, Ordering::Relaxed),
                };
                return;
            }
            Seen::Sparse(map) => map,
        };
        if let Some(c) = map.get(&key) {
            c.fetch_add(1, Ordering::Relaxed);
            return;
        }
        if map.len() as u64 >= self.limit {
            self.folded.fetch_add(1, Ordering::Relaxed);
            return;
        }
        map.insert(key, AtomicU64::new(1));
        // Dense once it is no bigger than the map: 8 bytes for each of
        // the `all_other` combinations against about 32 for each seen.
        let Some(all) = self.all_other.filter(|&all| all <= self.limit) else {
            return;
        };
        if (map.len() as u64).saturating_mul(4) >= all {
            if let Ok(len) = usize::try_from(all) {
                let dense: Box<[AtomicU64]> = (0..len).map(|_| AtomicU64::new(0)).collect();
                for (&k, c) in map.iter() {
                    if let Some(slot) = usize::try_from(k).ok().and_then(|k| dense.get(k)) {
                        slot.store(c.load(Ordering::Relaxed), Ordering::Relaxed);
                    }
                }
                *seen = Seen::Dense(dense);
            }
        }
    }

    /// The label digits (value indices) and count of every combination
    /// with a count, in key order.
    pub(crate) fn snapshot(&self) -> Vec<(Vec<usize>, u64)> {
        let mut keyed: Vec<(u64, u64)> = {
            let seen = self.seen.read().unwrap_or_else(PoisonError::into_inner);
            match &*seen {
                Seen::Sparse(map) => map
                    .iter()
                    .map(|(&k, c)| (k, c.load(Ordering::Relaxed)))
                    .collect(),
                Seen::Dense(counts) => (0u64..)
                    .zip(counts.iter())
                    .map(|(k, c)| (k, c.load(Ordering::Relaxed)))
                    .collect(),
            }
        };
        keyed.retain(|&(_, count)| count > 0);
        keyed.sort_unstable_by_key(|&(k, _)| k);
        let mut out: Vec<(Vec<usize>, u64)> = keyed
            .into_iter()
            .map(|(k, c)| (self.digits(k), c))
            .collect();
        let folded = self.folded.load(Ordering::Relaxed);
        if folded > 0 {
            // Every label at its `_OTHER` value, the last key.
            let all_other = self
                .radices
                .iter()
                .map(|&r| usize::try_from(r.max(1) - 1).unwrap_or(usize::MAX))
                .collect();
            out.push((all_other, folded));
        }
        out
    }

    fn digits(&self, mut key: u64) -> Vec<usize> {
        self.radices
            .iter()
            .map(|&radix| {
                let radix = radix.max(1);
                let digit = key % radix;
                key /= radix;
                usize::try_from(digit).unwrap_or(usize::MAX)
            })
            .collect()
    }

    /// Combinations kept apart, the all-`_OTHER` one not included.
    #[cfg(test)]
    fn combinations(&self) -> (&'static str, usize) {
        let seen = self.seen.read().unwrap_or_else(PoisonError::into_inner);
        match &*seen {
            Seen::Sparse(map) => ("sparse", map.len()),
            Seen::Dense(counts) => ("dense", counts.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_come_back_in_key_order() {
        // Two labels of cap 2 and 3: radices 3 and 4, keys 0..12.
        let c = EventCounts::new(vec![3, 4].into(), 10_000);
        for key in [7, 1, 7, 0, 11, 11, 11] {
            c.add(key);
        }
        assert_eq!(
            c.snapshot(),
            vec![
                (vec![0, 0], 1),
                (vec![1, 0], 1),
                (vec![1, 2], 2),
                // 11 = the all-`_OTHER` combination, in its own counter.
                (vec![2, 3], 3),
            ]
        );
        // 3 of the 11 other combinations seen: a quarter, so dense.
        assert_eq!(c.combinations(), ("dense", 11));
    }

    #[test]
    fn a_quarter_seen_turns_dense_and_keeps_every_count() {
        // 99 combinations besides the all-`_OTHER` one.
        let c = EventCounts::new(vec![10, 10].into(), 10_000);
        for key in 0..24 {
            c.add(key);
            c.add(key);
        }
        assert_eq!(c.combinations(), ("sparse", 24));
        c.add(24);
        assert_eq!(c.combinations(), ("dense", 99));
        c.add(24);
        let snapshot = c.snapshot();
        assert_eq!(snapshot.len(), 25);
        assert!(
            snapshot.iter().all(|(_, count)| *count == 2),
            "{snapshot:?}"
        );
        assert_eq!(snapshot[24], (vec![4, 2], 2));
    }

    #[test]
    fn past_the_budget_new_combinations_fold() {
        // A manifest written by hand: 1000 combinations, a budget of 10.
        let c = EventCounts::new(vec![10, 10, 10].into(), 10);
        for key in 0..20 {
            c.add(key);
        }
        c.add(3);
        assert_eq!(c.combinations(), ("sparse", 9));
        let snapshot = c.snapshot();
        assert_eq!(snapshot.len(), 10);
        assert_eq!(snapshot[3], (vec![3, 0, 0], 2));
        assert_eq!(snapshot[9], (vec![9, 9, 9], 11), "11 folded");
    }

    #[test]
    fn an_event_without_labels_is_one_counter() {
        let c = EventCounts::new(Vec::new().into(), 10_000);
        c.add(0);
        c.add(0);
        assert_eq!(c.snapshot(), vec![(vec![], 2)]);
        assert_eq!(c.combinations(), ("sparse", 0));
    }

    #[test]
    fn keys_that_cannot_fit_fold() {
        let c = EventCounts::new(vec![u64::MAX, 3].into(), 10_000);
        c.add(5);
        assert_eq!(c.snapshot(), vec![(vec![usize::MAX - 1, 2], 1)]);
    }
}
