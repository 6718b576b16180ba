//! Typed lifecycle events: one struct per step of a request's life.
//!
//! Every event carries an [`EventMeta`] (adapter, host, correlation id, attempt,
//! timestamp). Field names follow the OpenTelemetry HTTP semantic conventions
//! where one exists; the serialised names are the convention's
//! (`http.request.method`, `server.address`, `http.response.status_code`,
//! `error.type`, `http.request.resend_count`).

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::labels::LabelValue;
use crate::telemetry::AdapterTelemetry;

/// Identifies one logical request (all its attempts) across events, spans and logs.
///
/// ```
/// use telemetry_runtime::events::CorrelationId;
/// let a = CorrelationId::next();
/// let b = CorrelationId::next();
/// assert_ne!(a, b);
/// assert_eq!(a.to_string().len(), 16);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CorrelationId(pub u64);

impl CorrelationId {
    /// A new id, unique within the process and unlikely to repeat across
    /// processes (a per-process random seed, mixed).
    pub fn next() -> Self {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
        let seed = *SEED.get_or_init(|| {
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(now_unix_nanos() as u128);
            h.write_u32(std::process::id());
            h.finish()
        });
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        CorrelationId(splitmix64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}
impl fmt::Debug for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CorrelationId({self})")
    }
}
impl Serialize for CorrelationId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Nanoseconds since the Unix epoch (0 if the clock is before it).
pub fn now_unix_nanos() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

/// What every event carries.
#[derive(Clone, Copy)]
pub struct EventMeta {
    /// The adapter's telemetry (name, labels, metric handles).
    pub adapter: &'static AdapterTelemetry,
    /// The bounded, normalised host label (`server.address`).
    pub host: LabelValue,
    /// The logical request this event belongs to.
    pub correlation_id: CorrelationId,
    /// Wire attempt, starting at 1 (`http.request.resend_count` is `attempt - 1`);
    /// 0 for custom events, which belong to no attempt.
    pub attempt: u32,
    /// When the event happened, nanoseconds since the Unix epoch.
    pub time_unix_nano: u64,
}

impl EventMeta {
    /// Meta for `adapter` and `host` now.
    pub fn new(
        adapter: &'static AdapterTelemetry,
        host: LabelValue,
        correlation_id: CorrelationId,
        attempt: u32,
    ) -> Self {
        EventMeta {
            adapter,
            host,
            correlation_id,
            attempt,
            time_unix_nano: now_unix_nanos(),
        }
    }

    /// The adapter name (`adapter` label).
    pub fn adapter_name(&self) -> &'static str {
        self.adapter.manifest().name
    }

    /// `http.request.resend_count`: retries before this attempt.
    pub fn resend_count(&self) -> u32 {
        self.attempt.saturating_sub(1)
    }
}

impl fmt::Debug for EventMeta {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EventMeta")
            .field("adapter", &self.adapter_name())
            .field("host", &self.host)
            .field("correlation_id", &self.correlation_id)
            .field("attempt", &self.attempt)
            .field("time_unix_nano", &self.time_unix_nano)
            .finish()
    }
}

impl EventMeta {
    fn serialize_into<S: SerializeStruct>(&self, st: &mut S) -> Result<(), S::Error> {
        st.serialize_field("adapter", self.adapter_name())?;
        st.serialize_field("server.address", &self.host)?;
        st.serialize_field("correlation_id", &self.correlation_id)?;
        st.serialize_field("attempt", &self.attempt)?;
        st.serialize_field("http.request.resend_count", &self.resend_count())?;
        st.serialize_field("time_unix_nano", &self.time_unix_nano)?;
        Ok(())
    }
}

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
    /// The value of the `http_circuit_breaker_state` gauge: 0 closed, 1 open, 2 half-open.
    pub fn gauge_value(self) -> f64 {
        match self {
            BreakerState::Closed => 0.0,
            BreakerState::Open => 1.0,
            BreakerState::HalfOpen => 2.0,
        }
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

fn secs(d: &Duration) -> f64 {
    d.as_secs_f64()
}

macro_rules! event_struct {
    (
        $(#[$m:meta])* $name:ident {
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
    RequestEvent {
        /// `http.request.method`.
        method: HttpMethod => "http.request.method",
        /// `url.full`, with userinfo and sensitive query values redacted.
        url: String => "url.full",
        /// `server.port`.
        port: u16 => "server.port",
    }
}

event_struct! {
    /// A wire attempt got a response (any status).
    ResponseEvent {
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
    /// A wire attempt failed without a usable response.
    ErrorEvent {
        /// `http.request.method`.
        method: HttpMethod => "http.request.method",
        /// `error.type`.
        error_type: ErrorType => "error.type",
        /// Human-readable, redacted description.
        message: String => "error.message",
        /// Time from send to failure.
        duration: Duration => "duration_seconds" via secs,
    }
}

event_struct! {
    /// The attempt `meta.attempt` failed and will be retried.
    RetryEvent {
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
    BackoffEvent {
        /// How long.
        delay: Duration => "delay_seconds" via secs,
        /// Why this long.
        source: DelaySource => "source",
    }
}

event_struct! {
    /// The per-host rate limiter answered.
    RateLimitEvent {
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
    BreakerTransitionEvent {
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
    FallbackEvent {
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

impl RequestEvent {
    /// Event kind name, the `event` field in serialised form.
    pub const KIND: &'static str = "request";
}
impl ResponseEvent {
    /// Event kind name.
    pub const KIND: &'static str = "response";
}
impl ErrorEvent {
    /// Event kind name.
    pub const KIND: &'static str = "error";
}
impl RetryEvent {
    /// Event kind name.
    pub const KIND: &'static str = "retry";
}
impl BackoffEvent {
    /// Event kind name.
    pub const KIND: &'static str = "backoff";
}
impl RateLimitEvent {
    /// Event kind name.
    pub const KIND: &'static str = "rate_limit";
}
impl BreakerTransitionEvent {
    /// Event kind name.
    pub const KIND: &'static str = "breaker_transition";
}
impl FallbackEvent {
    /// Event kind name.
    pub const KIND: &'static str = "fallback";
}

/// Implemented by the event enum `#[instrumented_adapter]` generates.
///
/// Sinks see custom events as `&dyn CustomEvent`: they can serialise them
/// (through [`erased_serde`]), read their bounded labels, or downcast them to
/// the generated enum with [`CustomEvent::as_any`].
pub trait CustomEvent: fmt::Debug + Send + Sync + 'static {
    /// The event name, as declared (`resolved`).
    fn name(&self) -> &'static str;
    /// Calls `f` with each bounded label of the event, `(label name, value)`,
    /// in declaration order.
    fn visit_labels(&self, f: &mut dyn FnMut(&'static str, LabelValue));
    /// The whole event (labels and payload) as a serde value.
    fn payload(&self) -> &dyn erased_serde::Serialize;
    /// For downcasting to the generated enum.
    fn as_any(&self) -> &dyn Any;
}

/// A custom event as sinks receive it.
#[derive(Debug, Clone, Copy)]
pub struct CustomEventRecord<'a> {
    /// Adapter, a fresh correlation id and the timestamp. Custom events are
    /// not tied to a host: `meta.host` is the host label's `_OTHER` value.
    pub meta: EventMeta,
    /// The event itself.
    pub event: &'a dyn CustomEvent,
}

impl Serialize for CustomEventRecord<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut st = s.serialize_struct("CustomEvent", 7)?;
        st.serialize_field("event", self.event.name())?;
        st.serialize_field("adapter", self.meta.adapter_name())?;
        st.serialize_field("correlation_id", &self.meta.correlation_id)?;
        st.serialize_field("time_unix_nano", &self.meta.time_unix_nano)?;
        st.serialize_field("fields", self.event.payload())?;
        st.end()
    }
}

/// Any event, borrowed: what generic sinks (logging, recording, queues) handle.
#[derive(Debug, Clone, Copy)]
#[allow(missing_docs)]
pub enum EventRef<'a> {
    Request(&'a RequestEvent),
    Response(&'a ResponseEvent),
    Error(&'a ErrorEvent),
    Retry(&'a RetryEvent),
    Backoff(&'a BackoffEvent),
    RateLimit(&'a RateLimitEvent),
    BreakerTransition(&'a BreakerTransitionEvent),
    Fallback(&'a FallbackEvent),
    Custom(&'a CustomEventRecord<'a>),
}

impl EventRef<'_> {
    /// The shared meta.
    pub fn meta(&self) -> &EventMeta {
        match self {
            EventRef::Request(e) => &e.meta,
            EventRef::Response(e) => &e.meta,
            EventRef::Error(e) => &e.meta,
            EventRef::Retry(e) => &e.meta,
            EventRef::Backoff(e) => &e.meta,
            EventRef::RateLimit(e) => &e.meta,
            EventRef::BreakerTransition(e) => &e.meta,
            EventRef::Fallback(e) => &e.meta,
            EventRef::Custom(e) => &e.meta,
        }
    }

    /// The event kind (`request`, `response`, ..., or the custom event's name).
    pub fn kind(&self) -> &'static str {
        match self {
            EventRef::Request(_) => RequestEvent::KIND,
            EventRef::Response(_) => ResponseEvent::KIND,
            EventRef::Error(_) => ErrorEvent::KIND,
            EventRef::Retry(_) => RetryEvent::KIND,
            EventRef::Backoff(_) => BackoffEvent::KIND,
            EventRef::RateLimit(_) => RateLimitEvent::KIND,
            EventRef::BreakerTransition(_) => BreakerTransitionEvent::KIND,
            EventRef::Fallback(_) => FallbackEvent::KIND,
            EventRef::Custom(e) => e.event.name(),
        }
    }

    /// Serialises the event as one JSON object.
    pub fn to_json(&self) -> serde_json::Result<String> {
        match self {
            EventRef::Request(e) => serde_json::to_string(e),
            EventRef::Response(e) => serde_json::to_string(e),
            EventRef::Error(e) => serde_json::to_string(e),
            EventRef::Retry(e) => serde_json::to_string(e),
            EventRef::Backoff(e) => serde_json::to_string(e),
            EventRef::RateLimit(e) => serde_json::to_string(e),
            EventRef::BreakerTransition(e) => serde_json::to_string(e),
            EventRef::Fallback(e) => serde_json::to_string(e),
            EventRef::Custom(e) => serde_json::to_string(e),
        }
    }
}
