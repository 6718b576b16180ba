//! The one table of built-in event kinds.
//!
//! [`for_each_event_kind!`] lists every lifecycle event kind once, as
//! `Variant(Type) callback "doc";`. Everything that must know the whole list
//! is generated from it: [`EventRef`] and its accessors, [`EventKind`], the
//! sink trait's callbacks with their no-op defaults and `deliver`
//! (`core::sink`), and the recording sink's owned copy (`sink::recording`).
//! Adding a kind is one entry here plus its struct in `lifecycle.rs`; every
//! backend matches [`EventRef`] without a wildcard, so the compiler points at
//! each one that must handle it. The macro's list of reserved names
//! (`telemetry_vocab::BUILTIN_EVENTS`) is checked against [`EventKind::ALL`]
//! by a test.

use super::custom::CustomEventRecord;
use super::lifecycle::{
    BackoffEvent, BodyEvent, BreakerTransitionEvent, ErrorEvent, FallbackEvent, RateLimitEvent,
    RedirectEvent, RequestEvent, ResponseEvent, RetryEvent,
};
use super::meta::EventMeta;

/// Calls `$m! { $($prefix)* ; <the table> }`. Each entry is
/// `Variant(EventType) on_callback "what happened";`.
macro_rules! for_each_event_kind {
    ($m:ident $(, $prefix:tt)*) => {
        $m! {
            $($prefix)* ;
            Request(RequestEvent) on_request "A wire attempt is about to be sent.";
            Response(ResponseEvent) on_response "A wire attempt got a response.";
            Error(ErrorEvent) on_error "A wire attempt failed without a response.";
            Retry(RetryEvent) on_retry "An attempt will be retried.";
            Backoff(BackoffEvent) on_backoff "The client sleeps before the next attempt.";
            RateLimit(RateLimitEvent) on_rate_limit "The rate limiter answered.";
            BreakerTransition(BreakerTransitionEvent) on_breaker_transition "A circuit breaker changed state.";
            Fallback(FallbackEvent) on_fallback "A fallback source was tried.";
            Redirect(RedirectEvent) on_redirect "A redirect was followed.";
            Body(BodyEvent) on_body "A response body was read to its end, or failed midway.";
        }
    };
}
pub(crate) use for_each_event_kind;

macro_rules! define_event_ref {
    ( ; $( $variant:ident($ty:ident) $cb:ident $doc:literal; )* ) => {
        /// Any event, borrowed: what generic sinks (logging, recording,
        /// queues) handle. Match it without a wildcard arm so a new kind is a
        /// compile error where it is not handled.
        #[derive(Debug, Clone, Copy)]
        pub enum EventRef<'a> {
            $( #[doc = $doc] $variant(&'a $ty), )*
            /// An adapter's own event.
            Custom(&'a CustomEventRecord<'a>),
        }

        /// The kind of a built-in event, without its data.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventKind {
            $( #[doc = $doc] $variant, )*
        }

        impl EventKind {
            /// Every built-in kind, in table order.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant),*];
            /// The kind name (`request`, `rate_limit`, ...): the `event`
            /// field of serialised events.
            pub fn as_str(self) -> &'static str {
                match self { $(EventKind::$variant => $ty::KIND),* }
            }
        }

        impl EventRef<'_> {
            /// The shared meta.
            pub fn meta(&self) -> &EventMeta {
                match self {
                    $(EventRef::$variant(e) => &e.meta,)*
                    EventRef::Custom(e) => &e.meta,
                }
            }

            /// The built-in kind, or `None` for a custom event.
            pub fn builtin_kind(&self) -> Option<EventKind> {
                match self {
                    $(EventRef::$variant(_) => Some(EventKind::$variant),)*
                    EventRef::Custom(_) => None,
                }
            }

            /// The event kind (`request`, `response`, ..., or the custom
            /// event's name).
            pub fn kind(&self) -> &'static str {
                match self {
                    $(EventRef::$variant(_) => $ty::KIND,)*
                    EventRef::Custom(e) => e.event.name(),
                }
            }

            /// Serialises the event as one JSON object.
            pub fn to_json(&self) -> serde_json::Result<String> {
                match self {
                    $(EventRef::$variant(e) => serde_json::to_string(e),)*
                    EventRef::Custom(e) => serde_json::to_string(e),
                }
            }
        }
    };
}

for_each_event_kind!(define_event_ref);

#[cfg(test)]
mod tests {
    use super::EventKind;

    #[test]
    fn the_macro_reserves_exactly_the_runtime_kinds() {
        let kinds: Vec<&str> = EventKind::ALL.iter().map(|k| k.as_str()).collect();
        assert_eq!(
            kinds,
            telemetry_vocab::BUILTIN_EVENTS,
            "telemetry-vocab's BUILTIN_EVENTS (the names the macro reserves) drifted from \
             the runtime's event kinds (core/events/kinds.rs)"
        );
    }
}
