//! The lifecycle events of a request, one struct per step. The list of kinds
//! that dispatch, sinks and backends handle is in [`super::kinds`].

use std::time::Duration;

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::meta::EventMeta;
use super::vocab::{
    BreakerState, DelaySource, ErrorType, FallbackOutcome, HttpMethod, RateLimitOutcome,
    RetryReason,
};

fn secs(d: &Duration) -> f64 {
    d.as_secs_f64()
}

macro_rules! event_struct {
    (
        $(#[$m:meta])* $name:ident = $kind:literal {
            $( $(#[$fm:meta])* $field:ident : $ty:ty => $wire:literal $(via $conv:expr)? ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone)]
        pub struct $name {
            /// Adapter, host, correlation id, attempt, timestamp.
            pub meta: EventMeta,
            $( $(#[$fm])* pub $field: $ty, )*
        }
        impl $name {
            /// Event kind name, the `event` field in serialised form.
            pub const KIND: &'static str = $kind;
        }
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut st = s.serialize_struct(stringify!($name), 7 + [$($wire),*].len())?;
                st.serialize_field("event", Self::KIND)?;
                self.meta.serialize_into(&mut st)?;
                $( event_struct!(@field st, self, $field, $wire $(, $conv)?); )*
                st.end()
            }
        }
    };
    (@field $st:ident, $self:ident, $field:ident, $wire:literal) => {
        $st.serialize_field($wire, &$self.$field)?
    };
    (@field $st:ident, $self:ident, $field:ident, $wire:literal, $conv:expr) => {
        $st.serialize_field($wire, &($conv)(&$self.$field))?
    };
}

event_struct! {
    /// A wire attempt is about to be sent.
    RequestEvent = "request" {
        /// `http.request.method`.
        method: HttpMethod => "http.request.method",
        /// `url.full`, with userinfo and sensitive query values redacted.
        /// Shared by the attempts of one logical request (built once).
        url: std::sync::Arc<str> => "url.full",
        /// `server.port`.
        port: u16 => "server.port",
    }
}

event_struct! {
    /// A wire attempt got a response (any status).
    ResponseEvent = "response" {
        /// `http.request.method`.
        method: HttpMethod => "http.request.method",
        /// `http.response.status_code`.
        status: u16 => "http.response.status_code",
        /// Time from send to response headers.
        duration: Duration => "duration_seconds" via secs,
        /// `http.response.body.size`, when known.
        body_size: Option<u64> => "http.response.body.size",
    }
}

event_struct! {
    /// A wire attempt failed without a usable response, or the client
    /// refused the request before the wire (`reached_wire` is then false).
    ErrorEvent = "error" {
        /// `http.request.method`.
        method: HttpMethod => "http.request.method",
        /// `error.type`.
        error_type: ErrorType => "error.type",
        /// Human-readable, redacted description.
        message: String => "error.message",
        /// Time from send to failure (zero for a refusal).
        duration: Duration => "duration_seconds" via secs,
        /// Whether the request went on the wire. `false` for a refusal
        /// before it (circuit open, rate-limit rejection, `Retry-After`
        /// above the cap): not a wire attempt, so it is counted in
        /// `http_client_rejections_total`, never in the request counter or
        /// the duration histogram.
        reached_wire: bool => "reached_wire",
    }
}

event_struct! {
    /// The attempt `meta.attempt` failed and will be retried.
    RetryEvent = "retry" {
        /// Why it is retried.
        reason: RetryReason => "reason",
        /// The status that caused it, if any.
        status: Option<u16> => "http.response.status_code",
        /// The delay before the next attempt.
        delay: Duration => "delay_seconds" via secs,
        /// Where that delay came from.
        delay_source: DelaySource => "delay_source",
    }
}

event_struct! {
    /// The client sleeps before the next attempt.
    BackoffEvent = "backoff" {
        /// How long.
        delay: Duration => "delay_seconds" via secs,
        /// Why this long.
        source: DelaySource => "source",
    }
}

event_struct! {
    /// The per-host rate limiter answered.
    RateLimitEvent = "rate_limit" {
        /// Acquired at once, waited, or rejected.
        outcome: RateLimitOutcome => "outcome",
        /// Time spent waiting for a token.
        wait: Duration => "wait_seconds" via secs,
        /// Requests waiting for this host when this one arrived.
        queue_depth: u32 => "queue_depth",
        /// How saturated the host's limiter is after this answer, in `0.0..=1.0`
        /// (`http_limiter_saturation_ratio`): the fraction of the limiter's
        /// sliding window during which the host's wait queue was full (the
        /// instrumented client's definition, see `docs/client.md`).
        saturation: f64 => "saturation",
    }
}

event_struct! {
    /// A host's circuit breaker changed state.
    BreakerTransitionEvent = "breaker_transition" {
        /// Previous state.
        from: BreakerState => "from",
        /// New state.
        to: BreakerState => "to",
        /// What triggered it (for example `consecutive_failures`).
        reason: &'static str => "reason",
    }
}

event_struct! {
    /// One source of a fallback chain was tried.
    FallbackEvent = "fallback" {
        /// Position in the chain, starting at 0.
        tier: u32 => "tier",
        /// The source's name (bounded: sources are declared in code).
        source: &'static str => "source",
        /// Success, failure or skipped.
        outcome: FallbackOutcome => "outcome",
        /// Why it failed or was skipped.
        reason: Option<&'static str> => "reason",
        /// Time spent on this source.
        elapsed: Duration => "elapsed_seconds" via secs,
    }
}

event_struct! {
    /// A response body ended while the caller read it through the client's
    /// `Response` (`bytes`, `text`, `json`, `chunk`): read to its end, or
    /// failed midway. Its size is the bytes actually read, so chunked,
    /// compressed and streamed bodies count.
    BodyEvent = "body" {
        /// `http.request.method`.
        method: HttpMethod => "http.request.method",
        /// `http.response.status_code` of the response the body belongs to.
        status: u16 => "http.response.status_code",
        /// Bytes read (after decoding), up to the end or the failure.
        size: u64 => "http.response.body.size",
        /// The `Content-Length` the response announced, if any.
        content_length: Option<u64> => "content_length",
        /// Time from the response headers to the end of the body (or the
        /// failure).
        duration: Duration => "duration_seconds" via secs,
        /// `None` when the body was read to its end; the failure's type
        /// when it failed midway.
        error_type: Option<ErrorType> => "error.type",
    }
}

event_struct! {
    /// A wire attempt's response was a redirect the client follows (same
    /// origin only): one event per hop, before the next hop is sent.
    RedirectEvent = "redirect" {
        /// The redirect's status (301, 302, 303, 307, 308).
        status: u16 => "http.response.status_code",
        /// Where it leads, redacted.
        location: String => "url.full",
        /// Hops so far, this one included (1 for the first redirect).
        hop: u32 => "hop",
    }
}
