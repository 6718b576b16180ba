//! Host normalisation: what makes `API.Example.com:443` and
//! `api.example.com` one label value.

/// `OVERFLOW_VALUE`'s bytes, spelled here because `value.rs` imports this
/// file (no import circle); a test checks that the two agree.
pub(super) const OVERFLOW_SPELLING: &[u8] = b"_OTHER";

/// Longest host label (a DNS name is at most 253 bytes, plus `:65535`).
pub const MAX_HOST_LEN: usize = 253 + 6;

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
pub(super) fn normalize_host<'b>(
    raw: &str,
    scheme: Option<&str>,
    buf: &'b mut [u8],
) -> Option<&'b [u8]> {
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
    // Host names are case-insensitive: every spelling of the overflow value
    // (`_OTHER`, `_other`, `_OTHER.`, `_Other:443`) is the one host `_other`,
    // and it folds, so no real host is exported as, or next to, `_OTHER`
    // (#10). `leak_entry` calls this too: a value spelled so is never
    // marked normal, and the fast path of `intern_host` never returns it.
    if buf[..len].eq_ignore_ascii_case(OVERFLOW_SPELLING) {
        return None;
    }
    Some(&buf[..len])
}
