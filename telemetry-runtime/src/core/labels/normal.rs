//! Host normalisation as a value: what a host label would be, for code that
//! compares with labels (a host filter's list, a configuration file).

use super::host::{normalize_host, MAX_HOST_LEN};

/// The host label `raw` would get (ASCII lowercase, a trailing dot removed,
/// the scheme's default port dropped; with no scheme both `:80` and `:443`
/// are dropped), or `None` when it cannot be a host.
///
/// ```
/// use telemetry_runtime::labels::normalized_host;
/// assert_eq!(normalized_host("API.Example.com.:443", None).as_deref(), Some("api.example.com"));
/// assert_eq!(normalized_host("a.test:8080", Some("http")).as_deref(), Some("a.test:8080"));
/// assert_eq!(normalized_host("bad host", None), None);
/// ```
pub fn normalized_host(raw: &str, scheme: Option<&str>) -> Option<String> {
    let mut buf = [0u8; MAX_HOST_LEN];
    let bytes = normalize_host(raw, scheme, &mut buf)?;
    std::str::from_utf8(bytes).ok().map(str::to_owned)
}

/// A host as it was before its label was folded into `_OTHER`: a hash of
/// its normalised label value. Events carry it ([`crate::events::EventMeta`])
/// so a host filter can match a host past its adapter's cap, whose label is
/// `_OTHER`. The hash is seeded per process; [`HostKey::UNKNOWN`] (what
/// events not tied to a wire host carry) never equals a host's key.
///
/// ```
/// use telemetry_runtime::labels::HostKey;
/// assert_eq!(HostKey::of("API.Example.com:443"), HostKey::of("api.example.com"));
/// assert_ne!(HostKey::of("a.test"), HostKey::of("b.test"));
/// assert_ne!(HostKey::of("a.test"), HostKey::UNKNOWN);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct HostKey(u64);

impl HostKey {
    /// No host known (custom events, or events built by hand).
    pub const UNKNOWN: HostKey = HostKey(0);

    /// The key of `raw`, normalised as [`normalized_host`] does (with no
    /// scheme); an entry that cannot be a host is hashed as written.
    pub fn of(raw: &str) -> HostKey {
        match normalized_host(raw, None) {
            Some(n) => HostKey::of_label(&n),
            None => HostKey::of_label(raw),
        }
    }

    /// The key of an already normalised host label value.
    pub fn of_label(label: &str) -> HostKey {
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let seed = *SEED.get_or_init(super::hash::random_seed);
        // 0 is UNKNOWN; a host whose hash is 0 takes 1 instead.
        HostKey(super::hash::hash_bytes(seed, label.as_bytes()).max(1))
    }

    /// Whether this is [`HostKey::UNKNOWN`].
    pub fn is_unknown(self) -> bool {
        self.0 == 0
    }
}
