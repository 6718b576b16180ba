//! Bounded label interning: hard cardinality caps whatever the input.
//!
//! A [`BoundedLabel`] hands out at most `cap` distinct [`LabelValue`]s; every
//! further distinct value, and every value that is not safe to export (too long,
//! control characters, characters a host name cannot have), folds into the one
//! overflow value `_OTHER` and is counted. Interned values live for the rest of
//! the process (at most `cap + 1` per label), so a `LabelValue` is a plain
//! `&'static` reference: copying it costs nothing and metrics can be indexed by
//! [`LabelValue::index`].
//!
//! The read path is lock-free and allocation-free: a fixed open-addressing
//! table of write-once slots, sized for the cap when the label is created
//! (load factor at most 2/3), probed with a per-label seeded hash. A value is
//! admitted under a mutex, at most `cap` times in the life of the process;
//! once the cap is reached, new values fold without touching the lock. (The
//! previous design, a `HashMap` snapshot behind an `ArcSwap`, cost about
//! 100 ns per lookup: SipHash plus the `ArcSwap` debt protocol; see
//! docs/performance.md.)

use std::fmt;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use serde::{Serialize, Serializer};

/// The value every folded input becomes.
pub const OVERFLOW_VALUE: &str = "_OTHER";

/// The hard maximum of any cap, enforced by the macro at compile time.
pub const MAX_CAP: u32 = 10_000;

/// Longest label value kept as is (bytes); longer values fold.
pub const MAX_VALUE_LEN: usize = 128;

/// Longest host label (a DNS name is at most 253 bytes, plus `:65535`).
pub const MAX_HOST_LEN: usize = 253 + 6;

/// One interned label value.
#[derive(Debug)]
pub struct LabelEntry {
    value: Box<str>,
    index: u32,
    hash: u64,
    /// Whether host normalisation leaves this value unchanged whatever the
    /// scheme: then an input spelled exactly like it needs no normalising.
    normal_host: bool,
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
pub struct LabelValue(&'static LabelEntry);

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

/// A label with a hard cap on its distinct values.
pub struct BoundedLabel {
    name: &'static str,
    cap: u32,
    /// Open addressing, linear probing; a slot is written once, under
    /// `in_order`'s lock, and never cleared. Its length is a power of two of
    /// at least `cap * 3 / 2`, so a probe always meets an empty slot.
    slots: Box<[OnceLock<LabelValue>]>,
    mask: usize,
    seed: u64,
    /// Number of admitted values (what a lookup miss checks before locking).
    admitted: AtomicU32,
    /// Admitted values in admission order (excludes the overflow value); its
    /// lock serialises admissions.
    in_order: Mutex<Vec<LabelValue>>,
    overflow: LabelValue,
    folded: AtomicU64,
}

impl fmt::Debug for BoundedLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedLabel")
            .field("name", &self.name)
            .field("cap", &self.cap)
            .field("admitted", &self.admitted.load(Ordering::Relaxed))
            .field("folded", &self.overflow_count())
            .finish()
    }
}

fn leak_entry(value: &str, index: u32, hash: u64) -> LabelValue {
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

/// Byte equality, inlined: label values are short, and after a 64-bit hash
/// match the call to `memcmp` costs more than the comparison itself.
#[inline]
fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut ca = a.chunks_exact(8);
    let mut cb = b.chunks_exact(8);
    for (x, y) in (&mut ca).zip(&mut cb) {
        let (mut wx, mut wy) = ([0u8; 8], [0u8; 8]);
        wx.copy_from_slice(x);
        wy.copy_from_slice(y);
        if wx != wy {
            return false;
        }
    }
    ca.remainder()
        .iter()
        .zip(cb.remainder())
        .all(|(x, y)| x == y)
}

/// A fast seeded hash of a short string (label values are at most a few
/// hundred bytes), in the style of FxHash with a final avalanche. The seed is
/// random per label, and an attacker can place at most `cap` values in a
/// table, so a collision flood is bounded by the cap.
#[inline]
fn hash_value(seed: u64, bytes: &[u8]) -> u64 {
    const K: u64 = 0x9E37_79B9_7F4A_7C15;
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
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 29)
}

impl BoundedLabel {
    /// A label named `name` admitting at most `cap` distinct values
    /// (`cap` is clamped to `1..=MAX_CAP`).
    pub fn new(name: &'static str, cap: u32) -> Self {
        let cap = cap.clamp(1, MAX_CAP);
        let len = (cap as usize + cap as usize / 2 + 1).next_power_of_two();
        BoundedLabel {
            name,
            cap,
            slots: (0..len).map(|_| OnceLock::new()).collect(),
            mask: len - 1,
            seed: std::collections::hash_map::RandomState::new().hash_one(name),
            admitted: AtomicU32::new(0),
            in_order: Mutex::new(Vec::new()),
            overflow: leak_entry(OVERFLOW_VALUE, cap, 0),
            folded: AtomicU64::new(0),
        }
    }

    /// The label name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The cap.
    pub fn cap(&self) -> u32 {
        self.cap
    }

    /// The shared overflow value.
    pub fn overflow(&self) -> LabelValue {
        self.overflow
    }

    /// How many inputs were folded into the overflow value so far.
    pub fn overflow_count(&self) -> u64 {
        self.folded.load(Ordering::Relaxed)
    }

    /// The admitted values, in admission order, followed by nothing else (the
    /// overflow value is reported by [`BoundedLabel::overflow`]).
    pub fn values(&self) -> Vec<LabelValue> {
        self.in_order
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Number of distinct series this label can produce right now: admitted
    /// values plus one if anything was folded.
    pub fn series_count(&self) -> usize {
        self.admitted.load(Ordering::Acquire) as usize + usize::from(self.overflow_count() > 0)
    }

    /// Interns a generic label value. Values that are empty, longer than
    /// [`MAX_VALUE_LEN`] bytes, or contain control characters fold into
    /// `_OTHER`, as does every distinct value past the cap.
    pub fn intern(&self, raw: &str) -> LabelValue {
        if raw.is_empty() || raw.len() > MAX_VALUE_LEN || raw.chars().any(char::is_control) {
            return self.fold();
        }
        self.lookup_or_admit(raw.as_bytes())
    }

    /// Interns bytes that may not be UTF-8 (a header value, say): invalid
    /// UTF-8 folds into `_OTHER`.
    pub fn intern_bytes(&self, raw: &[u8]) -> LabelValue {
        match std::str::from_utf8(raw) {
            Ok(s) => self.intern(s),
            Err(_) => self.fold(),
        }
    }

    /// Interns a host, normalised: ASCII lowercase, a trailing dot removed, the
    /// scheme's default port dropped (`:80` for `http`, `:443` for `https`; with
    /// no scheme both are dropped). Anything a host cannot contain folds.
    ///
    /// ```
    /// use telemetry_runtime::labels::BoundedLabel;
    /// let hosts = BoundedLabel::new("host", 8);
    /// assert_eq!(hosts.intern_host("API.Example.com:443", None).as_str(), "api.example.com");
    /// assert_eq!(hosts.intern_host("example.com:8080", Some("http")).as_str(), "example.com:8080");
    /// assert!(hosts.intern_host("evil\r\nhost", None).is_overflow());
    /// ```
    pub fn intern_host(&self, raw: &str, scheme: Option<&str>) -> LabelValue {
        // Fast path: the input is spelled exactly like a known, already
        // normal host (the common case: a URL's host, asked again and
        // again): one hash and one probe, no copy.
        if raw.len() <= MAX_HOST_LEN {
            let hash = hash_value(self.seed, raw.as_bytes());
            if let Ok(v) = self.probe(raw.as_bytes(), hash) {
                if v.0.normal_host {
                    return v;
                }
            }
        }
        let mut buf = [0u8; MAX_HOST_LEN];
        match normalize_host(raw, scheme, &mut buf) {
            Some(host) => self.lookup_or_admit(host),
            None => self.fold(),
        }
    }

    /// Interns `host` and an explicit port (as from a parsed URL).
    pub fn intern_host_port(&self, host: &str, port: Option<u16>, scheme: &str) -> LabelValue {
        match port {
            None => self.intern_host(host, Some(scheme)),
            Some(p) => {
                use std::io::Write;
                let mut buf = [0u8; MAX_HOST_LEN + 8];
                let mut cursor = std::io::Cursor::new(&mut buf[..]);
                if write!(cursor, "{host}:{p}").is_err() {
                    return self.fold();
                }
                let len = cursor.position() as usize;
                match std::str::from_utf8(&buf[..len]) {
                    Ok(joined) => self.intern_host(joined, Some(scheme)),
                    Err(_) => self.fold(),
                }
            }
        }
    }

    fn fold(&self) -> LabelValue {
        self.folded.fetch_add(1, Ordering::Relaxed);
        self.overflow
    }

    /// The slot holding `value`, or the empty slot where it would go.
    #[inline]
    fn probe(&self, value: &[u8], hash: u64) -> Result<LabelValue, usize> {
        let mut i = hash as usize & self.mask;
        loop {
            // Slots are never cleared and at least a third stay empty, so
            // this ends within a short probe sequence.
            match self.slots[i].get() {
                None => return Err(i),
                Some(v) if v.0.hash == hash && bytes_eq(v.0.value.as_bytes(), value) => {
                    return Ok(*v)
                }
                Some(_) => i = (i + 1) & self.mask,
            }
        }
    }

    #[inline]
    fn lookup_or_admit(&self, value: &[u8]) -> LabelValue {
        let hash = hash_value(self.seed, value);
        match self.probe(value, hash) {
            Ok(v) => v,
            // Full: fold without taking the lock, so a flood of new values
            // costs a lookup each, not a lock each. The second probe sees
            // every slot written before `admitted` reached the cap (its
            // Release store), so a value admitted concurrently is not folded.
            Err(_) if self.admitted.load(Ordering::Acquire) >= self.cap => {
                self.probe(value, hash).unwrap_or_else(|_| self.fold())
            }
            Err(_) if value == OVERFLOW_VALUE.as_bytes() => self.fold(),
            Err(_) => self.admit_slow(value, hash),
        }
    }

    #[cold]
    fn admit_slow(&self, value: &[u8], hash: u64) -> LabelValue {
        // Callers pass validated UTF-8 (a `&str`, or a normalised host, which
        // is ASCII); checked here, off the hot path, all the same.
        let Ok(value_str) = std::str::from_utf8(value) else {
            return self.fold();
        };
        // A poisoned lock only means another thread panicked while admitting;
        // every slot is written once and completely, so the table is sound.
        let mut in_order = self.in_order.lock().unwrap_or_else(|e| e.into_inner());
        // Only lock holders write slots: this probe sees every admission.
        let slot = match self.probe(value, hash) {
            Ok(v) => return v,
            Err(slot) => slot,
        };
        if in_order.len() >= self.cap as usize {
            drop(in_order);
            return self.fold();
        }
        let entry = leak_entry(value_str, in_order.len() as u32, hash);
        // The slot was empty under the lock and only lock holders write.
        let _ = self.slots[slot].set(entry);
        in_order.push(entry);
        self.admitted
            .store(in_order.len() as u32, Ordering::Release);
        entry
    }
}

/// Each byte a host may contain, lowercased; 0 for every other byte. One
/// table lookup per byte replaces a chain of comparisons (the hot loop of
/// `intern_host`).
static HOST_BYTES: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let lower = (b as u8).to_ascii_lowercase();
        if lower.is_ascii_lowercase()
            || lower.is_ascii_digit()
            || matches!(lower, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        {
            t[b] = lower;
        }
        b += 1;
    }
    t
};

/// Normalises a host into `buf`; `None` when it cannot be a host. The result
/// is ASCII.
fn normalize_host<'b>(raw: &str, scheme: Option<&str>, buf: &'b mut [u8]) -> Option<&'b [u8]> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > buf.len() {
        return None;
    }
    let bytes = raw.as_bytes();
    let mut last_colon = None;
    let mut has_bracket = false;
    for (i, (dst, &b)) in buf.iter_mut().zip(bytes).enumerate() {
        let lower = HOST_BYTES[usize::from(b)];
        if lower == 0 {
            return None;
        }
        *dst = lower;
        if lower == b':' {
            last_colon = Some(i);
        } else if lower == b']' {
            has_bracket = true;
        }
    }
    let mut len = bytes.len();
    // Split a trailing `:port` (IPv6 literals keep their brackets).
    let host_end = match last_colon {
        Some(i) if !has_bracket || (i > 0 && buf[i - 1] == b']') => {
            let port = &buf[i + 1..len];
            let valid_port = !port.is_empty()
                && port.len() <= 5
                && port.iter().all(u8::is_ascii_digit)
                && std::str::from_utf8(port).ok()?.parse::<u16>().is_ok();
            if !valid_port {
                // `a:b:c` without brackets, or a port that is not a u16.
                return None;
            }
            let is_default = match scheme {
                Some("http") | Some("ws") => port == b"80",
                Some("https") | Some("wss") => port == b"443",
                Some(_) => false,
                None => port == b"80" || port == b"443",
            };
            if is_default {
                len = i;
            }
            i
        }
        _ => len,
    };
    // Strip a trailing dot of the host part (`example.com.` is `example.com`).
    if host_end > 0 && buf[host_end - 1] == b'.' {
        buf.copy_within(host_end..len, host_end - 1);
        len -= 1;
    }
    if len == 0 || buf[0] == b':' || buf[0] == b'.' {
        return None;
    }
    Some(&buf[..len])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_folds() {
        let l = BoundedLabel::new("host", 3);
        let vals: Vec<_> = ["a", "b", "c", "d", "e", "a"]
            .iter()
            .map(|v| l.intern_host(v, None))
            .collect();
        assert_eq!(vals[0].as_str(), "a");
        assert_eq!(vals[2].index(), 2);
        assert!(vals[3].is_overflow());
        assert!(vals[4].is_overflow());
        assert_eq!(vals[5], vals[0]);
        assert_eq!(l.overflow_count(), 2);
        assert_eq!(l.series_count(), 4);
        assert_eq!(vals[3].index(), 3);
    }

    #[test]
    fn normalises_hosts() {
        let l = BoundedLabel::new("host", 100);
        let cases = [
            ("Example.COM", None, "example.com"),
            ("example.com:443", Some("https"), "example.com"),
            ("example.com:443", Some("http"), "example.com:443"),
            ("example.com:80", None, "example.com"),
            ("example.com.", None, "example.com"),
            ("example.com.:8443", None, "example.com:8443"),
            ("[::1]:443", Some("https"), "[::1]"),
            ("[::1]:8080", Some("https"), "[::1]:8080"),
            ("127.0.0.1:9000", None, "127.0.0.1:9000"),
        ];
        for (raw, scheme, want) in cases {
            assert_eq!(l.intern_host(raw, scheme).as_str(), want, "{raw}");
        }
    }

    #[test]
    fn hostile_values_fold_without_panicking() {
        let l = BoundedLabel::new("host", 100);
        let long = "a".repeat(10_000);
        let hostile = [
            "",
            ":443",
            "a:b:c",
            "host:99999999",
            "evil\nhost",
            "ex ample.com",
            "exämple.com",
            long.as_str(),
            "\u{0}",
        ];
        for h in hostile {
            assert!(l.intern_host(h, None).is_overflow(), "{h:?}");
        }
        let t = BoundedLabel::new("tenant", 100);
        assert!(t.intern("a\u{7}b").is_overflow());
        // A value spelled like the overflow value cannot pose as a real one.
        assert!(t.intern("_OTHER").is_overflow());
        assert!(t.intern(&long).is_overflow());
        assert!(t.intern_bytes(b"\xff\xfe").is_overflow());
        assert_eq!(t.intern_bytes("ünïcode".as_bytes()).as_str(), "ünïcode");
    }

    #[test]
    fn known_spelling_fast_path_agrees_with_normalising() {
        let l = BoundedLabel::new("host", 100);
        // Stored values that a second normalisation would still change must
        // not be returned as they are by the fast path.
        assert_eq!(l.intern_host("x.org..", None).as_str(), "x.org.");
        assert_eq!(l.intern_host("x.org.", None).as_str(), "x.org");
        assert_eq!(
            l.intern_host("y.org:443", Some("http")).as_str(),
            "y.org:443"
        );
        assert_eq!(l.intern_host("y.org:443", Some("https")).as_str(), "y.org");
        assert_eq!(l.intern_host("y.org:443", None).as_str(), "y.org");
        assert_eq!(l.intern_host("z.org:8080", None).as_str(), "z.org:8080");
        assert_eq!(
            l.intern_host("z.org:8080", Some("https")).as_str(),
            "z.org:8080"
        );
        let a = l.intern_host("API.example.com", None);
        assert_eq!(l.intern_host("api.example.com", Some("https")), a);
        assert_eq!(l.intern_host(" api.example.com ", None), a);
    }

    #[test]
    fn host_and_port_join() {
        let l = BoundedLabel::new("host", 10);
        assert_eq!(
            l.intern_host_port("Api.X", Some(443), "https").as_str(),
            "api.x"
        );
        assert_eq!(
            l.intern_host_port("api.x", Some(8443), "https").as_str(),
            "api.x:8443"
        );
        assert_eq!(l.intern_host_port("api.x", None, "https").as_str(), "api.x");
    }

    #[test]
    fn million_distinct_values_stay_bounded() {
        let l = BoundedLabel::new("host", 16);
        for i in 0..1_000_000u32 {
            let mut buf = itoa_buf(i);
            buf.push_str(".example.com");
            l.intern_host(&buf, None);
        }
        assert_eq!(l.values().len(), 16);
        assert_eq!(l.series_count(), 17);
        assert_eq!(l.overflow_count(), 1_000_000 - 16);
    }

    fn itoa_buf(i: u32) -> String {
        format!("h{i}")
    }

    #[test]
    fn concurrent_interning_never_exceeds_cap() {
        let l = std::sync::Arc::new(BoundedLabel::new("host", 50));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        l.intern_host(&format!("h{}-{}", t, i % 40), None);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let vals = l.values();
        assert_eq!(vals.len(), 50);
        let mut idx: Vec<_> = vals.iter().map(|v| v.index()).collect();
        idx.sort_unstable();
        assert_eq!(idx, (0..50).collect::<Vec<_>>());
    }
}
