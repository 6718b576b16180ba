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
