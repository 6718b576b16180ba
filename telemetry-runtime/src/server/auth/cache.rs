//! The credential cache and the failure bucket of basic authentication.

use std::collections::hash_map::RandomState;
use std::collections::{HashMap, VecDeque};
use std::hash::BuildHasher;
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;

/// Most credentials the cache holds; past it the oldest is evicted.
pub const CACHE_CAPACITY: usize = 1024;

/// Overwrites secret bytes before their memory is freed. Best effort without
/// `unsafe` (no volatile write): `black_box` keeps the compiler from
/// dropping the writes as dead stores.
pub(super) fn wipe(bytes: &mut [u8]) {
    bytes.fill(0);
    std::hint::black_box(bytes);
}

/// Verified `Authorization` values, bounded, oldest first out, each for the
/// TTL. All entries share one TTL, so insertion order is expiry order.
pub(super) struct CredentialCache {
    ttl: Duration,
    pub(super) keys: RandomState,
    pub(super) entries: HashMap<u64, CachedHeader>,
    /// The keys of `entries`, oldest first.
    pub(super) order: VecDeque<u64>,
}

pub(super) struct CachedHeader {
    pub(super) value: Box<[u8]>,
    pub(super) expires: Instant,
}

impl Drop for CachedHeader {
    fn drop(&mut self) {
        wipe(&mut self.value);
    }
}

impl CredentialCache {
    pub(super) fn new(ttl: Duration) -> Self {
        CredentialCache {
            ttl,
            keys: RandomState::new(),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(super) fn contains(&self, header_value: &[u8], now: Instant) -> bool {
        self.entries
            .get(&self.keys.hash_one(header_value))
            .is_some_and(|e| now < e.expires && bool::from(e.value.ct_eq(header_value)))
    }

    /// Forgets every entry (the users changed).
    pub(super) fn clear(&mut self) {
        self.entries.clear();
        self.order.clear();
    }

    pub(super) fn insert(&mut self, header_value: &[u8], now: Instant) {
        let Some(expires) = now.checked_add(self.ttl).filter(|_| !self.ttl.is_zero()) else {
            return;
        };
        // Expired entries are at the front.
        while let Some(key) = self.order.front().copied() {
            if self.entries.get(&key).is_some_and(|e| e.expires > now) {
                break;
            }
            self.order.pop_front();
            self.entries.remove(&key);
        }
        let key = self.keys.hash_one(header_value);
        if self.entries.remove(&key).is_some() {
            // A re-verified value or a hash collision: the new one replaces it.
            self.order.retain(|k| *k != key);
        }
        while self.entries.len() >= CACHE_CAPACITY {
            let Some(oldest) = self.order.pop_front() else {
                break;
            };
            self.entries.remove(&oldest);
        }
        self.entries.insert(
            key,
            CachedHeader {
                value: header_value.into(),
                expires,
            },
        );
        self.order.push_back(key);
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.entries.len()
    }
}

/// A token bucket of failed verifications: `rate` tokens, refilled at
/// `rate` per second. f64 arithmetic, so no rate or elapsed time overflows.
pub(super) struct FailureBucket {
    rate: f64,
    tokens: f64,
    last: Instant,
}

impl FailureBucket {
    pub(super) fn new(per_second: u32, now: Instant) -> Self {
        let rate = f64::from(per_second);
        FailureBucket {
            rate,
            tokens: rate,
            last: now,
        }
    }

    pub(super) fn take(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.rate).min(self.rate);
        self.last = self.last.max(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    pub(super) fn give_back(&mut self) {
        self.tokens = (self.tokens + 1.0).min(self.rate);
    }
}
