//! The one fast hasher of the runtime: bounded labels, the client's host
//! table and sampling all use it (issue 9: three hand-written hashers did the
//! same job).
//!
//! FxHash-style multiply-rotate over 8-byte words, seeded per table, with a
//! final avalanche so low bits depend on every byte. Several times cheaper
//! than SipHash on short strings; the random seed keeps collisions
//! unpredictable to whoever chooses the inputs, and every table that uses it
//! is bounded (a label by its cap, the host table by its eviction), so a
//! collision flood is bounded too.

use std::hash::{BuildHasher, Hasher};

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// A random seed (from the standard library's per-process `RandomState`).
pub fn random_seed() -> u64 {
    std::collections::hash_map::RandomState::new().hash_one(0x5eed_u64)
}

/// Hash of a short byte string under `seed`.
///
/// ```
/// use telemetry_runtime::labels::hash::hash_bytes;
/// assert_eq!(hash_bytes(1, b"api.example.com"), hash_bytes(1, b"api.example.com"));
/// assert_ne!(hash_bytes(1, b"a.test"), hash_bytes(2, b"a.test"));
/// ```
#[inline]
pub fn hash_bytes(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for c in &mut chunks {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    let rest = chunks.remainder();
    if !rest.is_empty() {
        let mut w = [0u8; 8];
        w[..rest.len()].copy_from_slice(rest);
        h = (h ^ u64::from_le_bytes(w)).wrapping_mul(K).rotate_left(29);
    }
    avalanche(h)
}

/// The final avalanche (also a good 64-bit mixer on its own: splitmix64's).
///
/// ```
/// use telemetry_runtime::labels::hash::mix64;
/// assert_ne!(mix64(1), mix64(2));
/// ```
#[inline]
pub fn mix64(mut z: u64) -> u64 {
    z = z.wrapping_add(K);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

#[inline]
fn avalanche(mut h: u64) -> u64 {
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 29)
}

/// [`BuildHasher`] of the fast hash with a per-instance random seed, for
/// `HashMap`s keyed by short strings (the client's host table).
///
/// ```
/// use telemetry_runtime::labels::hash::FastHashBuilder;
/// let mut m = std::collections::HashMap::with_hasher(FastHashBuilder::new());
/// m.insert("api.example.com", 1);
/// assert_eq!(m.get("api.example.com"), Some(&1));
/// ```
#[derive(Debug, Clone, Copy)]
pub struct FastHashBuilder(u64);

impl FastHashBuilder {
    /// A builder with a random seed.
    pub fn new() -> Self {
        FastHashBuilder(random_seed())
    }
}

impl Default for FastHashBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BuildHasher for FastHashBuilder {
    type Hasher = FastHasher;
    fn build_hasher(&self) -> FastHasher {
        FastHasher(self.0)
    }
}

/// The streaming form of [`hash_bytes`].
#[derive(Debug)]
pub struct FastHasher(u64);

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        self.0 = hash_bytes(self.0, bytes);
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.0 = (self.0 ^ u64::from(i)).wrapping_mul(K).rotate_left(29);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}
