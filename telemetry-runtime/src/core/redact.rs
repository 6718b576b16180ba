//! Redaction of secrets before anything reaches a label, a span, a log line or
//! a stored event.
//!
//! Two things are redacted:
//! - in URLs, the userinfo (`user:password@`) and the values of sensitive
//!   query parameters (pre-signed URL signatures and credentials, plus a
//!   configurable list);
//! - secret headers (`Authorization`, `Cookie`, `X-Api-Key`, ...), whose values
//!   are replaced wholesale.
//!
//! Names compare case-insensitively. Redacted values become
//! [`REDACTED`]; the parameter or header name stays, so a reader still sees
//! *that* a credential was sent.
//!
//! ```
//! use telemetry_runtime::redact::{redact_url, is_secret_header};
//! assert_eq!(
//!     redact_url("https://bob:hunter2@s3.test/b/k?X-Amz-Signature=abc&part=1"),
//!     "https://REDACTED:REDACTED@s3.test/b/k?X-Amz-Signature=REDACTED&part=1",
//! );
//! assert!(is_secret_header("authorization"));
//! assert!(!is_secret_header("accept"));
//! ```

use std::borrow::Cow;

/// What a redacted value becomes.
pub const REDACTED: &str = "REDACTED";

/// Query parameters whose values are always redacted (case-insensitive):
/// pre-signed URL signatures and credentials of the common clouds.
pub const SENSITIVE_QUERY_PARAMS: &[&str] = &[
    "sig",
    "signature",
    "x-amz-signature",
    "x-amz-credential",
    "x-amz-security-token",
    "awsaccesskeyid",
    "x-goog-signature",
    "x-goog-credential",
    "access_token",
    "api_key",
    "apikey",
    "token",
    "password",
    "client_secret",
];

/// Headers whose values are always redacted (case-insensitive).
pub const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "x-api-key",
    "x-auth-token",
    "x-amz-security-token",
    "x-goog-api-key",
    "x-csrf-token",
];

/// A redaction policy: the built-in lists plus extra query parameters and
/// headers.
///
/// ```
/// use telemetry_runtime::redact::Redactor;
/// let r = Redactor::new().with_query_param("session").with_header("X-Tenant-Secret");
/// assert_eq!(r.url("http://a.test/?session=s3cr3t&q=1"), "http://a.test/?session=REDACTED&q=1");
/// assert!(r.is_secret_header("x-tenant-secret"));
/// ```
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    extra_query: Vec<String>,
    extra_headers: Vec<String>,
}

impl Redactor {
    /// The built-in lists only.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also redacts the query parameter `name` (case-insensitive).
    pub fn with_query_param(mut self, name: impl Into<String>) -> Self {
        self.extra_query.push(name.into().to_ascii_lowercase());
        self
    }

    /// Also redacts the header `name` (case-insensitive).
    pub fn with_header(mut self, name: impl Into<String>) -> Self {
        self.extra_headers.push(name.into().to_ascii_lowercase());
        self
    }

    /// Whether the value of query parameter `name` is redacted.
    pub fn is_sensitive_query_param(&self, name: &str) -> bool {
        SENSITIVE_QUERY_PARAMS
            .iter()
            .any(|p| p.eq_ignore_ascii_case(name))
            || self
                .extra_query
                .iter()
                .any(|p| p.eq_ignore_ascii_case(name))
    }

    /// Whether the value of header `name` is redacted.
    pub fn is_secret_header(&self, name: &str) -> bool {
        SECRET_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
            || self
                .extra_headers
                .iter()
                .any(|h| h.eq_ignore_ascii_case(name))
    }

    /// `value`, or [`REDACTED`] when header `name` is secret.
    pub fn header_value<'a>(&self, name: &str, value: &'a str) -> &'a str {
        if self.is_secret_header(name) {
            REDACTED
        } else {
            value
        }
    }

    /// The URL with userinfo and sensitive query values redacted. Works on
    /// any string that looks like a URL (absolute or not); the fragment is
    /// dropped, as OpenTelemetry's `url.full` asks.
    pub fn url(&self, url: &str) -> String {
        // The fragment never goes on the wire and may hold tokens (OAuth
        // implicit flow), so it is dropped rather than kept.
        let url = url.split_once('#').map_or(url, |(u, _)| u);
        let (before_query, query) = match url.split_once('?') {
            Some((b, q)) => (b, Some(q)),
            None => (url, None),
        };
        let mut out = String::with_capacity(url.len() + 16);
        out.push_str(&redact_userinfo(before_query));
        if let Some(query) = query {
            out.push('?');
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match pair.split_once('=') {
                    Some((name, _)) if self.is_sensitive_query_param(&percent_decode(name)) => {
                        out.push_str(name);
                        out.push('=');
                        out.push_str(REDACTED);
                    }
                    _ => out.push_str(pair),
                }
            }
        }
        out
    }
}

/// Replaces `user[:password]@` in the authority with `REDACTED[:REDACTED]@`.
fn redact_userinfo(s: &str) -> Cow<'_, str> {
    let Some(scheme_end) = s.find("://") else {
        return Cow::Borrowed(s);
    };
    let authority_start = scheme_end + 3;
    let rest = &s[authority_start..];
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    // The last '@' ends the userinfo: a password may contain '@' unescaped.
    let Some(at) = authority.rfind('@') else {
        return Cow::Borrowed(s);
    };
    let userinfo = &authority[..at];
    let masked = if userinfo.contains(':') {
        "REDACTED:REDACTED"
    } else {
        REDACTED
    };
    Cow::Owned(format!(
        "{}{}{}",
        &s[..authority_start],
        masked,
        &s[authority_start + at..]
    ))
}

/// Decodes `%XX` escapes and `+` so `X%2DAmz%2DSignature` is recognised.
fn percent_decode(s: &str) -> Cow<'_, str> {
    if !s.contains(['%', '+']) {
        return Cow::Borrowed(s);
    }
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(b) => {
                        out.push(b);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    Cow::Owned(String::from_utf8_lossy(&out).into_owned())
}

/// [`Redactor::url`] with the built-in lists.
pub fn redact_url(url: &str) -> String {
    Redactor::new().url(url)
}

/// [`Redactor::is_secret_header`] with the built-in list.
pub fn is_secret_header(name: &str) -> bool {
    Redactor::new().is_secret_header(name)
}

/// [`Redactor::header_value`] with the built-in list.
///
/// ```
/// use telemetry_runtime::redact::redact_header;
/// assert_eq!(redact_header("Cookie", "session=1"), "REDACTED");
/// assert_eq!(redact_header("Accept", "text/plain"), "text/plain");
/// ```
pub fn redact_header<'a>(name: &str, value: &'a str) -> &'a str {
    if is_secret_header(name) {
        REDACTED
    } else {
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn userinfo_is_redacted() {
        assert_eq!(
            redact_url("http://user@a.test/x"),
            "http://REDACTED@a.test/x"
        );
        assert_eq!(
            redact_url("http://u:p@ss@a.test:8080/x?y=1"),
            "http://REDACTED:REDACTED@a.test:8080/x?y=1"
        );
        // An '@' in the path is not userinfo.
        assert_eq!(
            redact_url("http://a.test/users/@me"),
            "http://a.test/users/@me"
        );
    }

    #[test]
    fn every_builtin_query_param_is_redacted_case_insensitively() {
        for name in [
            "sig",
            "Signature",
            "X-Amz-Signature",
            "X-Amz-Credential",
            "X-Amz-Security-Token",
            "AWSAccessKeyId",
            "X-Goog-Signature",
            "x-amz-signature",
            "SIG",
        ] {
            let url = format!("https://h.test/p?a=1&{name}=secret-value&b=2");
            let red = redact_url(&url);
            assert!(!red.contains("secret-value"), "{name}: {red}");
            assert_eq!(red, format!("https://h.test/p?a=1&{name}=REDACTED&b=2"));
        }
    }

    #[test]
    fn percent_encoded_names_are_recognised() {
        assert_eq!(
            redact_url("https://h.test/?X%2DAmz%2DSignature=zzz"),
            "https://h.test/?X%2DAmz%2DSignature=REDACTED"
        );
        // A malformed escape does not panic.
        assert_eq!(
            redact_url("https://h.test/?a%=1&b%4=2"),
            "https://h.test/?a%=1&b%4=2"
        );
    }

    #[test]
    fn fragment_is_dropped_and_plain_urls_untouched() {
        assert_eq!(
            redact_url("https://h.test/cb#access_token=x"),
            "https://h.test/cb"
        );
        assert_eq!(redact_url("https://h.test/a?b=c"), "https://h.test/a?b=c");
        assert_eq!(redact_url("not a url"), "not a url");
    }

    #[test]
    fn configurable_lists() {
        let r = Redactor::new()
            .with_query_param("Session")
            .with_header("X-Secret");
        assert_eq!(
            r.url("http://h.test/?SESSION=1"),
            "http://h.test/?SESSION=REDACTED"
        );
        assert_eq!(r.header_value("x-secret", "v"), REDACTED);
        assert_eq!(r.header_value("x-other", "v"), "v");
        for h in [
            "Authorization",
            "Proxy-Authorization",
            "Cookie",
            "Set-Cookie",
            "X-Api-Key",
            "AUTHORIZATION",
        ] {
            assert!(is_secret_header(h), "{h}");
        }
    }
}
