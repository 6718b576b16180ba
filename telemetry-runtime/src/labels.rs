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
//! The read path is lock-free: the table is an immutable snapshot behind an
//! `ArcSwap`, replaced (copy on write) only when a new value is admitted, which
//! happens at most `cap` times in the life of the process.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use arc_swap::ArcSwap;
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

struct Snapshot {
    by_value: HashMap<Box<str>, LabelValue>,
    /// Admitted values in admission order (excludes the overflow value).
    in_order: Vec<LabelValue>,
}

/// A label with a hard cap on its distinct values.
pub struct BoundedLabel {
    name: &'static str,
    cap: u32,
    snapshot: ArcSwap<Snapshot>,
    admit: Mutex<()>,
    overflow: LabelValue,
    folded: AtomicU64,
}

impl fmt::Debug for BoundedLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BoundedLabel")
            .field("name", &self.name)
            .field("cap", &self.cap)
            .field("admitted", &self.snapshot.load().in_order.len())
            .field("folded", &self.overflow_count())
            .finish()
    }
}

fn leak_entry(value: &str, index: u32) -> LabelValue {
    // Bounded leak: at most cap + 1 entries per label, for the life of the
    // process, which is what lets every user hold a plain `&'static`.
    LabelValue(Box::leak(Box::new(LabelEntry {
        value: value.into(),
        index,
    })))
}

impl BoundedLabel {
    /// A label named `name` admitting at most `cap` distinct values
    /// (`cap` is clamped to `1..=MAX_CAP`).
    pub fn new(name: &'static str, cap: u32) -> Self {
        let cap = cap.clamp(1, MAX_CAP);
        BoundedLabel {
            name,
            cap,
            snapshot: ArcSwap::from_pointee(Snapshot {
                by_value: HashMap::new(),
                in_order: Vec::new(),
            }),
            admit: Mutex::new(()),
            overflow: leak_entry(OVERFLOW_VALUE, cap),
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
        self.snapshot.load().in_order.clone()
    }

    /// Number of distinct series this label can produce right now: admitted
    /// values plus one if anything was folded.
    pub fn series_count(&self) -> usize {
        self.snapshot.load().in_order.len() + usize::from(self.overflow_count() > 0)
    }

    /// Interns a generic label value. Values that are empty, longer than
    /// [`MAX_VALUE_LEN`] bytes, or contain control characters fold into
    /// `_OTHER`, as does every distinct value past the cap.
    pub fn intern(&self, raw: &str) -> LabelValue {
        if raw.is_empty() || raw.len() > MAX_VALUE_LEN || raw.chars().any(char::is_control) {
            return self.fold();
        }
        self.lookup_or_admit(raw)
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

    fn lookup_or_admit(&self, value: &str) -> LabelValue {
        if let Some(v) = self.snapshot.load().by_value.get(value) {
            return *v;
        }
        if value == OVERFLOW_VALUE {
            return self.fold();
        }
        self.admit_slow(value)
    }

    #[cold]
    fn admit_slow(&self, value: &str) -> LabelValue {
        // A poisoned lock only means another thread panicked while admitting;
        // the snapshot it guards is replaced atomically, so it is still sound.
        let _guard = self.admit.lock().unwrap_or_else(|e| e.into_inner());
        let current = self.snapshot.load_full();
        if let Some(v) = current.by_value.get(value) {
            return *v;
        }
        if current.in_order.len() >= self.cap as usize {
            drop(_guard);
            return self.fold();
        }
        let entry = leak_entry(value, current.in_order.len() as u32);
        let mut by_value = current.by_value.clone();
        by_value.insert(value.into(), entry);
        let mut in_order = current.in_order.clone();
        in_order.push(entry);
        self.snapshot
            .store(Arc::new(Snapshot { by_value, in_order }));
        entry
    }
}

/// Normalises a host into `buf`; `None` when it cannot be a host.
fn normalize_host<'b>(raw: &str, scheme: Option<&str>, buf: &'b mut [u8]) -> Option<&'b str> {
    let raw = raw.trim();
    if raw.is_empty() || raw.len() > buf.len() {
        return None;
    }
    let bytes = raw.as_bytes();
    for (dst, &b) in buf.iter_mut().zip(bytes) {
        let lower = b.to_ascii_lowercase();
        let ok = lower.is_ascii_lowercase()
            || lower.is_ascii_digit()
            || matches!(lower, b'.' | b'-' | b'_' | b':' | b'[' | b']');
        if !ok {
            return None;
        }
        *dst = lower;
    }
    let mut len = bytes.len();
    // Split a trailing `:port` (IPv6 literals keep their brackets).
    let host_end = match buf[..len].iter().rposition(|&b| b == b':') {
        Some(i) if !buf[..len].contains(&b']') || (i > 0 && buf[i - 1] == b']') => {
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
    std::str::from_utf8(&buf[..len]).ok()
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
