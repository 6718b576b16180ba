//! The closed vocabularies of event fields: methods, error types, retry
//! reasons, delay sources, limiter outcomes, breaker states, fallback
//! outcomes. Each is a bounded label value.

use std::fmt;

use serde::{Serialize, Serializer};

/// HTTP request methods as bounded label values (OpenTelemetry's list; anything
/// else is `_OTHER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u8)]
pub enum HttpMethod {
    /// GET
    Get,
    /// HEAD
    Head,
    /// POST
    Post,
    /// PUT
    Put,
    /// DELETE
    Delete,
    /// CONNECT
    Connect,
    /// OPTIONS
    Options,
    /// TRACE
    Trace,
    /// PATCH
    Patch,
    /// Any other method.
    Other,
}

impl HttpMethod {
    /// Number of variants (the method label's cap).
    pub const COUNT: usize = 10;
    /// All variants in index order.
    pub const ALL: [HttpMethod; Self::COUNT] = [
        HttpMethod::Get,
        HttpMethod::Head,
        HttpMethod::Post,
        HttpMethod::Put,
        HttpMethod::Delete,
        HttpMethod::Connect,
        HttpMethod::Options,
        HttpMethod::Trace,
        HttpMethod::Patch,
        HttpMethod::Other,
    ];

    /// Parses a method name (case-sensitive, as HTTP says).
    ///
    /// ```
    /// use telemetry_runtime::events::HttpMethod;
    /// assert_eq!(HttpMethod::parse("GET"), HttpMethod::Get);
    /// assert_eq!(HttpMethod::parse("PURGE").as_str(), "_OTHER");
    /// ```
    pub fn parse(s: &str) -> Self {
        match s {
            "GET" => HttpMethod::Get,
            "HEAD" => HttpMethod::Head,
            "POST" => HttpMethod::Post,
            "PUT" => HttpMethod::Put,
            "DELETE" => HttpMethod::Delete,
            "CONNECT" => HttpMethod::Connect,
            "OPTIONS" => HttpMethod::Options,
            "TRACE" => HttpMethod::Trace,
            "PATCH" => HttpMethod::Patch,
            _ => HttpMethod::Other,
        }
    }

    /// The label value.
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Head => "HEAD",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
            HttpMethod::Connect => "CONNECT",
            HttpMethod::Options => "OPTIONS",
            HttpMethod::Trace => "TRACE",
            HttpMethod::Patch => "PATCH",
            HttpMethod::Other => "_OTHER",
        }
    }

    /// Dense index in `0..COUNT`.
    pub fn index(self) -> usize {
        self as usize
    }

    /// Whether RFC 9110 calls the method idempotent (safe to retry).
    pub fn is_idempotent(self) -> bool {
        !matches!(
            self,
            HttpMethod::Post | HttpMethod::Patch | HttpMethod::Connect | HttpMethod::Other
        )
    }
}

impl Serialize for HttpMethod {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

macro_rules! str_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $v:ident => $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($(#[$vm])* $v),+ }
        impl $name {
            /// All variants.
            pub const ALL: &'static [$name] = &[$($name::$v),+];
            /// The label / attribute value.
            pub fn as_str(self) -> &'static str { match self { $($name::$v => $s),+ } }
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result { f.write_str(self.as_str()) }
        }
    };
}

str_enum! {
    /// `error.type` of a request that got no usable response.
    ErrorType {
        /// The request or a phase of it timed out.
        Timeout => "timeout",
        /// The connection could not be established.
        Connect => "connect_error",
        /// The peer reset or closed the connection mid-exchange.
        ConnectionReset => "connection_reset",
        /// The host's circuit breaker is open; no request was sent.
        CircuitOpen => "circuit_open",
        /// The per-host rate limiter rejected the request (queue full or wait too long).
        RateLimited => "rate_limited",
        /// The server asked to retry later than the configured cap allows.
        RetryAfterTooLong => "retry_after_too_long",
        /// The client's retry budget had no retry left for this attempt.
        RetryBudgetExhausted => "retry_budget_exhausted",
        /// Reading or decoding the body failed.
        Body => "body_error",
        /// Too many redirects or a bad redirect.
        Redirect => "redirect_error",
        /// The request could not be built (bad URL, bad header).
        Request => "request_error",
        /// Anything else.
        Other => "_OTHER",
    }
}

impl ErrorType {
    /// Whether this error is the client's own refusal before the wire
    /// (circuit open, rate limited, `Retry-After` above the cap, retry
    /// budget exhausted): no wire attempt, counted as a rejection.
    ///
    /// ```
    /// use telemetry_runtime::events::ErrorType;
    /// assert!(ErrorType::CircuitOpen.is_refusal());
    /// assert!(!ErrorType::Timeout.is_refusal());
    /// ```
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            ErrorType::CircuitOpen
                | ErrorType::RateLimited
                | ErrorType::RetryAfterTooLong
                | ErrorType::RetryBudgetExhausted
        )
    }
}

str_enum! {
    /// Why an attempt is retried.
    RetryReason {
        /// A retryable status (408, 429, 5xx).
        Status => "status",
        /// A timeout.
        Timeout => "timeout",
        /// A connect error.
        Connect => "connect_error",
        /// A connection reset.
        ConnectionReset => "connection_reset",
    }
}

str_enum! {
    /// Where a back-off delay came from (`source` label).
    DelaySource {
        /// The retry policy's exponential back-off with jitter.
        Policy => "policy",
        /// The server's `Retry-After` header.
        RetryAfter => "retry_after",
        /// The per-host rate limiter.
        Limiter => "limiter",
    }
}

str_enum! {
    /// Outcome of a rate-limit acquisition.
    RateLimitOutcome {
        /// A token was available at once.
        Acquired => "acquired",
        /// The request waited in the queue, then got a token.
        Waited => "waited",
        /// The queue was full or the wait would exceed the maximum.
        Rejected => "rejected",
    }
}

str_enum! {
    /// Circuit-breaker states.
    BreakerState {
        /// Requests flow.
        Closed => "closed",
        /// Requests are rejected without being sent.
        Open => "open",
        /// A limited number of probe requests are let through.
        HalfOpen => "half_open",
    }
}

impl BreakerState {
    /// The state as a small number: 0 closed, 1 open, 2 half-open (what
    /// backends keep in an atomic and the gauge exports).
    ///
    /// ```
    /// use telemetry_runtime::events::BreakerState;
    /// for s in BreakerState::ALL {
    ///     assert_eq!(BreakerState::from_code(s.code()), *s);
    /// }
    /// ```
    pub fn code(self) -> u8 {
        match self {
            BreakerState::Closed => 0,
            BreakerState::Open => 1,
            BreakerState::HalfOpen => 2,
        }
    }

    /// The state of [`BreakerState::code`]; any other number is closed.
    pub fn from_code(code: u8) -> Self {
        match code {
            1 => BreakerState::Open,
            2 => BreakerState::HalfOpen,
            _ => BreakerState::Closed,
        }
    }

    /// The value of the `http_circuit_breaker_state` gauge: 0 closed, 1 open, 2 half-open.
    pub fn gauge_value(self) -> f64 {
        f64::from(self.code())
    }
}

str_enum! {
    /// Outcome of one fallback attempt.
    FallbackOutcome {
        /// This source answered.
        Success => "success",
        /// This source failed; the next one is tried.
        Failure => "failure",
        /// This source was skipped (its breaker is open, say).
        Skipped => "skipped",
    }
}
