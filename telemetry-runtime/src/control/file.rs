//! The control sections of the configuration file (`[client.*]`,
//! `[events]`, `[log]`) and the whole file read and checked at once.
//! See `docs/configuration.md` for every key.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::client::{BreakerPolicy, ClientPolicies, HostOverride, RateLimit, RetryPolicy};
use crate::server::config::{parse_duration, ServerConfig};

/// Every section of one configuration file, checked.
#[derive(Debug, Clone)]
pub struct ControlConfig {
    /// The server's keys (listen, users, TLS, health, ...).
    pub server: ServerConfig,
    /// `[client.<adapter>]`: what each adapter's client changes over the
    /// policies its builder gave it.
    pub clients: BTreeMap<String, ClientSection>,
    /// `[events] sample_ratio`.
    pub sample_ratio: Option<f64>,
    /// `[events] rate_limit_per_second` and `rate_limit_burst`.
    pub event_rate_limit: Option<(f64, u32)>,
    /// `[log] filter`, an `EnvFilter` directive string.
    pub log_filter: Option<String>,
}

/// One adapter's section: the defaults it changes and its host overrides.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClientSection {
    /// Changes to the adapter-wide defaults.
    pub defaults: HostOverride,
    /// `[client.<adapter>.hosts."host"]`, in file order.
    pub hosts: Vec<(String, HostOverride)>,
}

impl ClientSection {
    /// `base` (the builder's policies) with this section applied.
    pub fn apply_to(&self, base: &ClientPolicies) -> ClientPolicies {
        let mut p = base.clone();
        let d = &self.defaults;
        if let Some(l) = &d.rate_limit {
            p.rate_limit = l.clone();
        }
        if let Some(b) = &d.breaker {
            p.breaker = b.clone();
        }
        if let Some(r) = &d.retry {
            p.retry = r.clone();
        }
        if d.timeout.is_some() {
            p.timeout = d.timeout;
        }
        for (h, o) in &self.hosts {
            p = p.with_host(h, o.clone());
        }
        p
    }
}

/// A file that could not be read or is invalid: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    /// The file.
    pub file: PathBuf,
    /// 1-based line and column of the offending key or value, when known.
    pub position: Option<(usize, usize)>,
    /// The offending key (`client.crossref.rate_limit.burst`), when known.
    pub key: Option<String>,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        f.write_str(": ")?;
        if let Some(key) = &self.key {
            write!(f, "{key}: ")?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for FileError {}

#[derive(Deserialize, Default)]
struct RawFile {
    #[serde(default)]
    client: BTreeMap<String, RawClient>,
    #[serde(default)]
    events: RawEvents,
    #[serde(default)]
    log: RawLog,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawEvents {
    sample_ratio: Option<f64>,
    rate_limit_per_second: Option<f64>,
    rate_limit_burst: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawLog {
    filter: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    timeout: Option<String>,
    rate_limit: Option<RawRateLimit>,
    retry: Option<RawRetry>,
    breaker: Option<RawBreaker>,
}

// The policy's keys spelt out rather than a `#[serde(flatten)]` of
// `RawPolicy`: flatten buffers the table, and toml's errors inside it
// (a wrong type, an unknown key) would lose their position.
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawClient {
    timeout: Option<String>,
    rate_limit: Option<RawRateLimit>,
    retry: Option<RawRetry>,
    breaker: Option<RawBreaker>,
    #[serde(default)]
    hosts: BTreeMap<String, RawPolicy>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRateLimit {
    enabled: Option<bool>,
    per_second: Option<f64>,
    burst: Option<i64>,
    max_queue_depth: Option<i64>,
    max_wait: Option<String>,
    warn_depth: Option<i64>,
    saturation_window: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawRetry {
    max_attempts: Option<i64>,
    base_delay: Option<String>,
    max_delay: Option<String>,
    retry_after_cap: Option<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawBreaker {
    enabled: Option<bool>,
    consecutive_failures: Option<i64>,
    open_timeout: Option<String>,
    half_open_probes: Option<i64>,
    failure_ratio: Option<f64>,
    min_requests: Option<i64>,
    window: Option<String>,
}

/// A key path and what is wrong with it.
type KeyError = (Vec<String>, String);

fn at(path: &[&str], extra: &str, message: impl Into<String>) -> KeyError {
    let mut p: Vec<String> = path.iter().map(|s| (*s).to_owned()).collect();
    p.push(extra.to_owned());
    (p, message.into())
}

fn duration(path: &[&str], key: &str, v: &str) -> Result<Duration, KeyError> {
    parse_duration(v).map_err(|m| at(path, key, m))
}

fn count(path: &[&str], key: &str, v: i64, min: i64) -> Result<u32, KeyError> {
    u32::try_from(v)
        .ok()
        .filter(|n| i64::from(*n) >= min)
        .ok_or_else(|| {
            at(
                path,
                key,
                format!("must be between {min} and {}, got {v}", u32::MAX),
            )
        })
}

fn rate_limit(path: &[&str], r: &RawRateLimit) -> Result<Option<RateLimit>, KeyError> {
    let path = [path, &["rate_limit"]].concat();
    if r.enabled == Some(false) {
        return Ok(None);
    }
    let Some(rate) = r.per_second else {
        return Err(at(
            &path,
            "per_second",
            "is required unless `enabled = false`",
        ));
    };
    if !(rate.is_finite() && rate > 0.0) {
        return Err(at(
            &path,
            "per_second",
            format!("must be a positive number, got {rate}"),
        ));
    }
    let mut l = RateLimit::per_second(rate);
    if let Some(b) = r.burst {
        l = l.burst(count(&path, "burst", b, 1)?);
    }
    if let Some(d) = r.max_queue_depth {
        l = l.max_queue_depth(count(&path, "max_queue_depth", d, 0)?);
    }
    if let Some(w) = &r.max_wait {
        l = l.max_wait(duration(&path, "max_wait", w)?);
    }
    if let Some(w) = r.warn_depth {
        l = if w == 0 {
            l.no_warning()
        } else {
            l.warn_depth(count(&path, "warn_depth", w, 1)?)
        };
    }
    if let Some(w) = &r.saturation_window {
        l = l.saturation_window(duration(&path, "saturation_window", w)?);
    }
    l.validate()
        .map_err(|m| (path.iter().map(|s| (*s).to_owned()).collect(), m))?;
    Ok(Some(l))
}

fn retry(path: &[&str], r: &RawRetry) -> Result<RetryPolicy, KeyError> {
    let path = [path, &["retry"]].concat();
    let mut p = RetryPolicy::default();
    if let Some(n) = r.max_attempts {
        p = p.max_attempts(count(&path, "max_attempts", n, 1)?);
    }
    if let Some(d) = &r.base_delay {
        p = p.base_delay(duration(&path, "base_delay", d)?);
    }
    if let Some(d) = &r.max_delay {
        p = p.max_delay(duration(&path, "max_delay", d)?);
    }
    if let Some(d) = &r.retry_after_cap {
        p = p.retry_after_cap(duration(&path, "retry_after_cap", d)?);
    }
    Ok(p)
}

fn breaker(path: &[&str], r: &RawBreaker) -> Result<Option<BreakerPolicy>, KeyError> {
    let path = [path, &["breaker"]].concat();
    if r.enabled == Some(false) {
        return Ok(None);
    }
    let mut b = BreakerPolicy::default();
    if let Some(n) = r.consecutive_failures {
        b = b.consecutive_failures(count(&path, "consecutive_failures", n, 1)?);
    }
    if let Some(d) = &r.open_timeout {
        b = b.open_timeout(duration(&path, "open_timeout", d)?);
    }
    if let Some(n) = r.half_open_probes {
        b = b.half_open_probes(count(&path, "half_open_probes", n, 1)?);
    }
    match (r.failure_ratio, r.min_requests, &r.window) {
        (None, None, None) => {}
        (Some(ratio), min, window) => {
            if !(0.0..=1.0).contains(&ratio) {
                return Err(at(
                    &path,
                    "failure_ratio",
                    format!("must be between 0 and 1, got {ratio}"),
                ));
            }
            let min = count(&path, "min_requests", min.unwrap_or(20), 1)?;
            let window = match window {
                Some(w) => duration(&path, "window", w)?,
                None => Duration::from_secs(10),
            };
            if window.is_zero() {
                return Err(at(&path, "window", "must not be zero"));
            }
            b = b.failure_ratio(ratio, min, window);
        }
        (None, _, _) => {
            return Err(at(
                &path,
                "failure_ratio",
                "is required with `min_requests` or `window`",
            ))
        }
    }
    b.validate()
        .map_err(|m| (path.iter().map(|s| (*s).to_owned()).collect(), m))?;
    Ok(Some(b))
}

fn policy(
    path: &[&str],
    timeout: &Option<String>,
    rl: &Option<RawRateLimit>,
    rt: &Option<RawRetry>,
    br: &Option<RawBreaker>,
) -> Result<HostOverride, KeyError> {
    let timeout = match timeout {
        Some(t) => {
            let d = duration(path, "timeout", t)?;
            if d.is_zero() {
                return Err(at(path, "timeout", "a zero timeout fails every request"));
            }
            Some(d)
        }
        None => None,
    };
    Ok(HostOverride {
        rate_limit: rl.as_ref().map(|r| rate_limit(path, r)).transpose()?,
        breaker: br.as_ref().map(|b| breaker(path, b)).transpose()?,
        retry: rt.as_ref().map(|r| retry(path, r)).transpose()?,
        timeout,
    })
}

/// The control sections, checked: clients, sample ratio, event rate limit,
/// log filter.
type Sections = (
    BTreeMap<String, ClientSection>,
    Option<f64>,
    Option<(f64, u32)>,
    Option<String>,
);

fn sections(raw: RawFile) -> Result<Sections, KeyError> {
    let mut clients = BTreeMap::new();
    for (adapter, c) in &raw.client {
        let path = ["client", adapter.as_str()];
        let defaults = policy(&path, &c.timeout, &c.rate_limit, &c.retry, &c.breaker)?;
        let mut hosts = Vec::new();
        for (host, h) in &c.hosts {
            let hp = ["client", adapter.as_str(), "hosts", host.as_str()];
            if host.is_empty() || host.chars().any(|c| c.is_whitespace() || c == '/') {
                return Err(at(&hp[..3], host, "expected a host name or `host:port`"));
            }
            hosts.push((
                host.to_ascii_lowercase(),
                policy(&hp, &h.timeout, &h.rate_limit, &h.retry, &h.breaker)?,
            ));
        }
        clients.insert(adapter.clone(), ClientSection { defaults, hosts });
    }
    let e = &raw.events;
    if let Some(r) = e.sample_ratio {
        if !(0.0..=1.0).contains(&r) {
            return Err(at(
                &["events"],
                "sample_ratio",
                format!("must be between 0 and 1, got {r}"),
            ));
        }
    }
    let rate = match (e.rate_limit_per_second, e.rate_limit_burst) {
        (None, None) => None,
        (Some(r), burst) => {
            if !(r.is_finite() && r >= 0.0) {
                return Err(at(
                    &["events"],
                    "rate_limit_per_second",
                    format!("must not be negative, got {r}"),
                ));
            }
            let burst = match burst {
                Some(b) => count(&["events"], "rate_limit_burst", b, 1)?,
                None => (r.ceil() as u32).max(1),
            };
            Some((r, burst))
        }
        (None, Some(_)) => {
            return Err(at(
                &["events"],
                "rate_limit_burst",
                "needs `rate_limit_per_second`",
            ))
        }
    };
    if let Some(f) = &raw.log.filter {
        tracing_subscriber::EnvFilter::try_new(f)
            .map_err(|e| at(&["log"], "filter", format!("not a valid filter: {e}")))?;
    }
    Ok((clients, e.sample_ratio, rate, raw.log.filter))
}

/// 1-based line and column of byte `offset` in `text`.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// `(line, column)` from toml's "... at line L, column C" message.
fn position_in_message(message: &str) -> Option<(usize, usize)> {
    let rest = &message[message.find("line ")? + 5..];
    let (line, rest) = rest.split_once(", column ")?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

/// The byte span of the value at `path` (keys, `name[i]` for arrays), as
/// far as it exists in the document.
fn span_of(text: &str, path: &[String]) -> Option<std::ops::Range<usize>> {
    use toml::de::{DeTable, DeValue};
    let doc = DeTable::parse(text).ok()?;
    let mut table = doc.get_ref();
    let mut span = None;
    for (i, seg) in path.iter().enumerate() {
        let (name, index) = match seg.strip_suffix(']').and_then(|s| s.split_once('[')) {
            Some((n, idx)) => (n, idx.parse::<usize>().ok()),
            None => (seg.as_str(), None),
        };
        let (key, value) = table.iter().find(|(k, _)| k.get_ref().as_ref() == name)?;
        span = Some(key.span());
        let mut value = value;
        if let (Some(idx), DeValue::Array(a)) = (index, value.get_ref()) {
            value = a.get(idx)?;
            span = Some(value.span());
        }
        match value.get_ref() {
            DeValue::Table(t) if i + 1 < path.len() => table = t,
            _ if i + 1 < path.len() => return span,
            _ => {}
        }
    }
    span
}

/// Reads and checks the whole file. Nothing is applied here.
pub fn read(path: &Path) -> Result<ControlConfig, FileError> {
    let text = std::fs::read_to_string(path).map_err(|e| FileError {
        file: path.to_owned(),
        position: None,
        key: None,
        message: format!("cannot read the configuration: {e}"),
    })?;
    parse(path, &text)
}

/// [`read`] of a text already read (`path` names it in errors).
///
/// ```
/// use std::path::Path;
/// use telemetry_runtime::control::file::parse;
/// let c = parse(Path::new("adapter.toml"), "[client.crossref.hosts.\"api.test\"]\nrate_limit = { per_second = 5.0, burst = 2 }\n").unwrap();
/// assert_eq!(c.clients["crossref"].hosts[0].0, "api.test");
/// let err = parse(Path::new("adapter.toml"), "[client.crossref]\nrate_limit = { per_second = -1.0 }\n").unwrap_err();
/// assert_eq!(err.position, Some((2, 16)), "the key `per_second`");
/// assert!(err.to_string().starts_with("adapter.toml:2:16: client.crossref.rate_limit.per_second: "), "{err}");
/// ```
pub fn parse(path: &Path, text: &str) -> Result<ControlConfig, FileError> {
    let file = path.to_owned();
    // Syntax and type errors: toml's span gives the position.
    let syntax = |e: toml::de::Error| FileError {
        file: file.clone(),
        position: e.span().map(|s| line_col(text, s.start)),
        key: None,
        message: e.message().trim_end().to_owned(),
    };
    let raw: RawFile = toml::from_str(text).map_err(syntax)?;
    // The server's keys, by the server's own reader (which rejects unknown
    // top-level keys); its errors name a key, located here.
    let server = ServerConfig::from_toml_str(text).map_err(|e| {
        let key = e.key().map(str::to_owned);
        let path: Vec<String> = key
            .as_deref()
            .map(|k| k.split('.').map(str::to_owned).collect())
            .unwrap_or_default();
        match key {
            Some(_) => FileError {
                file: file.clone(),
                position: span_of(text, &path).map(|s| line_col(text, s.start)),
                key,
                message: e.message().to_owned(),
            },
            // A type error of toml's in the server's keys: its message
            // holds the position ("TOML parse error at line 1, column 10",
            // a snippet, then what is wrong).
            None => FileError {
                file: file.clone(),
                position: position_in_message(e.message()),
                key: None,
                message: e
                    .message()
                    .lines()
                    .last()
                    .unwrap_or_default()
                    .trim()
                    .to_owned(),
            },
        }
    })?;
    let (clients, sample_ratio, event_rate_limit, log_filter) =
        sections(raw).map_err(|(path, message)| FileError {
            file: file.clone(),
            position: span_of(text, &path).map(|s| line_col(text, s.start)),
            key: Some(
                path.iter()
                    .map(|s| {
                        if s.contains('.') {
                            format!("{s:?}")
                        } else {
                            s.clone()
                        }
                    })
                    .collect::<Vec<_>>()
                    .join("."),
            ),
            message,
        })?;
    Ok(ControlConfig {
        server,
        clients,
        sample_ratio,
        event_rate_limit,
        log_filter,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> Result<ControlConfig, FileError> {
        parse(Path::new("t.toml"), text)
    }

    #[test]
    fn every_section_is_read() {
        let c = p(r#"
allow_unauthenticated_reload = true
[health]
max_error_ratio = 0.2
[log]
filter = "info,telemetry_runtime=debug"
[events]
sample_ratio = 0.25
rate_limit_per_second = 3.0
[client.a]
timeout = "5s"
retry = { max_attempts = 2, base_delay = "10ms" }
breaker = { consecutive_failures = 3, failure_ratio = 0.5, min_requests = 4, window = "2s" }
[client.a.hosts."API.test:8080"]
rate_limit = { enabled = false }
breaker = { enabled = false }
"#)
        .expect("valid");
        assert!(c.server.allow_unauthenticated_reload);
        assert_eq!(c.server.health.max_error_ratio, Some(0.2));
        assert_eq!(c.sample_ratio, Some(0.25));
        assert_eq!(c.event_rate_limit, Some((3.0, 3)));
        assert_eq!(
            c.log_filter.as_deref(),
            Some("info,telemetry_runtime=debug")
        );
        let a = &c.clients["a"];
        assert_eq!(a.defaults.timeout, Some(Duration::from_secs(5)));
        assert_eq!(a.defaults.retry.as_ref().map(|r| r.attempts()), Some(2));
        assert_eq!(
            a.defaults.breaker,
            Some(Some(
                BreakerPolicy::default()
                    .consecutive_failures(3)
                    .failure_ratio(0.5, 4, Duration::from_secs(2))
            ))
        );
        assert_eq!(a.hosts[0].0, "api.test:8080");
        assert_eq!(a.hosts[0].1.rate_limit, Some(None));
        assert_eq!(a.hosts[0].1.breaker, Some(None));
        let applied = a.apply_to(&ClientPolicies::default());
        assert_eq!(applied.policy_for("api.test", 8080).breaker, None);
        assert!(applied.policy_for("api.test", 80).breaker.is_some());
    }

    #[test]
    fn errors_carry_line_column_and_key() {
        let cases = [
            // (text, line, key or message part)
            (
                "[client.a]\n\ntimeout = \"5 parsecs\"\n",
                3,
                "client.a.timeout",
            ),
            (
                "[client.a.hosts.\"x.test\"]\nretry = { max_attempts = 0 }\n",
                2,
                "client.a.hosts.\"x.test\".retry.max_attempts",
            ),
            ("[events]\nsample_ratio = 2.0\n", 2, "events.sample_ratio"),
            ("[log]\nfilter = \"=[\"\n", 2, "log.filter"),
            (
                "[health]\nmax_error_ratio = 1.5\n",
                2,
                "health.max_error_ratio",
            ),
            (
                "[client.a]\nbogus = 1\n",
                2,
                "unknown field `bogus`, expected one of `timeout`, `rate_limit`, `retry`, `breaker`, `hosts`",
            ),
            // Type errors in an adapter's section point at the value.
            ("[client.a]\ntimeout = 3\n", 2, "invalid type: integer `3`"),
            (
                "[client.a]\n\nretry = { max_attempts = \"x\" }\n",
                3,
                "invalid type: string \"x\"",
            ),
            (
                "[client.a.hosts.\"x.test\"]\nbreaker = { enabled = 1 }\n",
                2,
                "invalid type",
            ),
            ("listen = 3\n", 1, "invalid type"),
            ("[client.a\n", 1, ""),
        ];
        for (text, line, part) in cases {
            let e = p(text).expect_err(text);
            assert_eq!(e.position.map(|p| p.0), Some(line), "{text:?}: {e}");
            assert!(e.to_string().contains(part), "{text:?}: {e}");
            assert!(e.to_string().starts_with(&format!("t.toml:{line}:")), "{e}");
        }
    }

    #[test]
    fn a_burst_without_a_rate_and_impossible_limits_are_refused() {
        assert!(p("[events]\nrate_limit_burst = 3\n").is_err());
        let e = p("[client.a]\nrate_limit = { per_second = 0.000001, burst = 4000000000 }\n")
            .expect_err("spans more than a year");
        assert!(e.message.contains("year"), "{e}");
        assert!(p("[client.a]\nrate_limit = { burst = 3 }\n").is_err());
    }
}
