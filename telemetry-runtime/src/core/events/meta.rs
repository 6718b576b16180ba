//! What every event carries: adapter, host, correlation id, attempt, time.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use crate::core::id::AdapterRef;
use crate::core::labels::hash::mix64;
use crate::core::labels::{HostKey, LabelValue};

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
        CorrelationId(mix64(seed ^ n.wrapping_mul(0x9E37_79B9_7F4A_7C15)))
    }
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
    /// The adapter: its manifest and its dense id (what backends index
    /// their per-adapter state by).
    pub adapter: AdapterRef,
    /// The bounded, normalised host label (`server.address`).
    pub host: LabelValue,
    /// The host before cap folding ([`HostKey::UNKNOWN`] when not a wire
    /// host): what host filters match, also for hosts folded into `_OTHER`.
    pub host_key: HostKey,
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
        adapter: impl Into<AdapterRef>,
        host: LabelValue,
        correlation_id: CorrelationId,
        attempt: u32,
    ) -> Self {
        EventMeta {
            adapter: adapter.into(),
            host,
            host_key: HostKey::UNKNOWN,
            correlation_id,
            attempt,
            time_unix_nano: now_unix_nanos(),
        }
    }

    /// The adapter name (`adapter` label).
    pub fn adapter_name(&self) -> &'static str {
        self.adapter.name()
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
    pub(crate) fn serialize_into<S: SerializeStruct>(&self, st: &mut S) -> Result<(), S::Error> {
        st.serialize_field("adapter", self.adapter_name())?;
        st.serialize_field("server.address", &self.host)?;
        st.serialize_field("correlation_id", &self.correlation_id)?;
        st.serialize_field("attempt", &self.attempt)?;
        st.serialize_field("http.request.resend_count", &self.resend_count())?;
        st.serialize_field("time_unix_nano", &self.time_unix_nano)?;
        Ok(())
    }
}
