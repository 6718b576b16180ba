//! What a logical request can end in besides a response.

use std::error::Error as StdError;
use std::fmt;
use std::time::Duration;

use crate::core::events::{CorrelationId, ErrorType};

/// Why the rate limiter turned a request away.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateLimitRejection {
    /// The host's wait queue already held its maximum number of requests.
    QueueFull {
        /// The queue's maximum depth.
        max_depth: u32,
    },
    /// Getting a token would have taken longer than the maximum wait.
    WaitTooLong {
        /// How long the request would (at least) have had to wait in total.
        needed: Duration,
        /// The configured maximum.
        max_wait: Duration,
    },
}

/// Why a logical request failed without a response to return.
///
/// Every variant names the host (normalised, as in the `host` label) and none
/// contains a URL: errors end up in logs, and URLs can carry secrets.
///
/// ```
/// use telemetry_runtime::client::{ClientError, CorrelationId};
/// let id = CorrelationId::next();
/// let e = ClientError::CircuitOpen { host: "api.test".into(), correlation_id: id };
/// assert_eq!(e.to_string(), "circuit breaker for api.test is open; request not sent");
/// assert_eq!(e.error_type().as_str(), "circuit_open");
/// assert_eq!(e.correlation_id(), Some(id));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum ClientError {
    /// The per-host rate limiter rejected the request (queue full or wait too long).
    RateLimited {
        /// The host.
        host: String,
        /// The logical request (the id its events, spans and logs carry).
        correlation_id: CorrelationId,
        /// Why.
        reason: RateLimitRejection,
    },
    /// The host's circuit breaker is open (or half-open with every probe slot
    /// taken); the request was not sent.
    CircuitOpen {
        /// The host.
        host: String,
        /// The logical request (the id its events, spans and logs carry).
        correlation_id: CorrelationId,
    },
    /// The server asked to retry after longer than the retry policy's
    /// `retry_after_cap`; the client stopped instead of waiting.
    RetryAfterTooLong {
        /// The host.
        host: String,
        /// The logical request (the id its events, spans and logs carry).
        correlation_id: CorrelationId,
        /// The status that carried `Retry-After` (429 or 503, usually).
        status: u16,
        /// What the server asked for.
        retry_after: Duration,
        /// The cap.
        cap: Duration,
        /// Wire attempts made.
        attempts: u32,
    },
    /// The last wire attempt failed without a response (connect error, timeout,
    /// reset, ...), and it was not retried further.
    Transport {
        /// The host.
        host: String,
        /// The logical request (the id its events, spans and logs carry).
        correlation_id: CorrelationId,
        /// `error.type` of the failure.
        kind: ErrorType,
        /// Wire attempts made.
        attempts: u32,
        /// The underlying error, with its URL removed.
        source: reqwest::Error,
    },
    /// The request could not be built (bad URL, bad header value, body that
    /// failed to serialise).
    Request(reqwest::Error),
    /// A fallback source answered with a failure status (5xx, 408, 429).
    Status {
        /// The host.
        host: String,
        /// The logical request (the id its events, spans and logs carry).
        correlation_id: CorrelationId,
        /// The status.
        status: u16,
        /// Wire attempts made.
        attempts: u32,
    },
    /// The client's configuration is invalid (a bad correlation header name).
    InvalidConfig(String),
    /// Every source of a fallback chain failed; one entry per source tried,
    /// in order.
    FallbackExhausted(Vec<(&'static str, ClientError)>),
}

impl ClientError {
    /// The logical request this error ends, as its events, spans and logs
    /// carry it; `None` for errors raised before a request existed (a bad
    /// URL, an invalid configuration) and for an exhausted fallback chain
    /// (each of its entries has its own).
    pub fn correlation_id(&self) -> Option<CorrelationId> {
        match self {
            ClientError::RateLimited { correlation_id, .. }
            | ClientError::CircuitOpen { correlation_id, .. }
            | ClientError::RetryAfterTooLong { correlation_id, .. }
            | ClientError::Transport { correlation_id, .. }
            | ClientError::Status { correlation_id, .. } => Some(*correlation_id),
            ClientError::Request(_)
            | ClientError::InvalidConfig(_)
            | ClientError::FallbackExhausted(_) => None,
        }
    }

    /// The `error.type` this error is reported as.
    pub fn error_type(&self) -> ErrorType {
        match self {
            ClientError::RateLimited { .. } => ErrorType::RateLimited,
            ClientError::CircuitOpen { .. } => ErrorType::CircuitOpen,
            ClientError::RetryAfterTooLong { .. } => ErrorType::RetryAfterTooLong,
            ClientError::Transport { kind, .. } => *kind,
            ClientError::Request(_) | ClientError::InvalidConfig(_) => ErrorType::Request,
            ClientError::Status { .. } => ErrorType::Other,
            ClientError::FallbackExhausted(all) => {
                all.last().map_or(ErrorType::Other, |(_, e)| e.error_type())
            }
        }
    }

    /// Whether the error is transient (a later call may succeed).
    pub fn is_transient(&self) -> bool {
        !matches!(
            self,
            ClientError::Request(_) | ClientError::InvalidConfig(_)
        )
    }
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::RateLimited {
                host,
                reason: RateLimitRejection::QueueFull { max_depth },
                ..
            } => write!(
                f,
                "rate limited: the wait queue for {host} is full ({max_depth} requests)"
            ),
            ClientError::RateLimited {
                host,
                reason: RateLimitRejection::WaitTooLong { needed, max_wait },
                ..
            } => write!(
                f,
                "rate limited: a token for {host} needs {needed:?}, above the maximum wait of {max_wait:?}"
            ),
            ClientError::CircuitOpen { host, .. } => {
                write!(f, "circuit breaker for {host} is open; request not sent")
            }
            ClientError::RetryAfterTooLong {
                host,
                status,
                retry_after,
                cap,
                attempts,
                ..
            } => write!(
                f,
                "{host} answered {status} with Retry-After {}s, above the cap of {}s; gave up after {attempts} attempt(s)",
                retry_after.as_secs(),
                cap.as_secs()
            ),
            ClientError::Transport {
                host,
                kind,
                attempts,
                source,
                ..
            } => write!(
                f,
                "{kind} talking to {host} after {attempts} attempt(s): {}",
                error_chain(source)
            ),
            ClientError::Request(e) => write!(f, "invalid request: {}", error_chain(e)),
            ClientError::Status {
                host,
                status,
                attempts,
                ..
            } => write!(f, "{host} answered {status} after {attempts} attempt(s)"),
            ClientError::InvalidConfig(why) => write!(f, "invalid client configuration: {why}"),
            ClientError::FallbackExhausted(all) => {
                write!(f, "every fallback source failed")?;
                for (source, e) in all {
                    write!(f, "; {source}: {e}")?;
                }
                Ok(())
            }
        }
    }
}

impl StdError for ClientError {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        match self {
            ClientError::Transport { source, .. } => Some(source),
            ClientError::Request(e) => Some(e),
            _ => None,
        }
    }
}

/// `error` and its sources joined with `: ` (reqwest's own message is terse).
pub(crate) fn error_chain(error: &(dyn StdError + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    let mut depth = 0;
    while let Some(e) = next {
        let msg = e.to_string();
        if !out.ends_with(&msg) {
            out.push_str(": ");
            out.push_str(&msg);
        }
        next = e.source();
        depth += 1;
        if depth > 8 {
            break;
        }
    }
    out
}

/// Maps a reqwest error onto `error.type`.
pub(crate) fn classify(error: &reqwest::Error) -> ErrorType {
    if error.is_timeout() {
        return ErrorType::Timeout;
    }
    if is_reset(error) {
        return ErrorType::ConnectionReset;
    }
    if error.is_connect() {
        return ErrorType::Connect;
    }
    if error.is_builder() {
        return ErrorType::Request;
    }
    if error.is_redirect() {
        return ErrorType::Redirect;
    }
    if error.is_body() || error.is_decode() {
        return ErrorType::Body;
    }
    ErrorType::Other
}

/// A reset or a close in the middle of an exchange, seen through the source
/// chain: an `io::Error` of a reset kind, or hyper's "connection closed before
/// message completed".
fn is_reset(error: &reqwest::Error) -> bool {
    let mut next: Option<&(dyn StdError + 'static)> = error.source();
    while let Some(e) = next {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            use std::io::ErrorKind::*;
            if matches!(
                io.kind(),
                ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof
            ) {
                return true;
            }
        }
        if let Some(h) = e.downcast_ref::<hyper::Error>() {
            if h.is_incomplete_message() || h.is_canceled() {
                return true;
            }
        }
        next = e.source();
    }
    false
}
