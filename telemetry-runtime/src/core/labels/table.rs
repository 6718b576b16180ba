//! The bounded table: at most `cap` admitted values per label, lock-free
//! reads.

use std::fmt;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use super::hash::{hash_bytes, random_seed};
use super::host::{normalize_host, MAX_HOST_LEN};
use super::value::{leak_entry, LabelValue, MAX_CAP, MAX_VALUE_LEN, OVERFLOW_VALUE};

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
            seed: random_seed() ^ hash_bytes(0, name.as_bytes()),
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
            let hash = hash_bytes(self.seed, raw.as_bytes());
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
        let hash = hash_bytes(self.seed, value);
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
