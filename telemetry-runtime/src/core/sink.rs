//! The sink trait: one optional callback per event kind, generated from the
//! table of kinds (`core::events::kinds`).

use crate::core::events::kinds::for_each_event_kind;
use crate::core::events::*;

macro_rules! define_sink_trait {
    ( ; $( $variant:ident($ty:ident) $cb:ident $doc:literal; )* ) => {
        /// Receives events. Every callback is optional: each defaults to
        /// [`EventSink::on_event`], which defaults to doing nothing.
        ///
        /// Callbacks run synchronously on the thread that emits the event
        /// (the request's task for client events): keep them short, or put
        /// the sink behind a queue.
        ///
        /// ```
        /// use telemetry_runtime::events::{EventRef, ResponseEvent};
        /// use telemetry_runtime::sink::EventSink;
        /// use std::sync::atomic::{AtomicU64, Ordering};
        ///
        /// #[derive(Default)]
        /// struct CountServerErrors(AtomicU64);
        /// impl EventSink for CountServerErrors {
        ///     fn name(&self) -> &'static str { "count_5xx" }
        ///     fn on_response(&self, e: &ResponseEvent) {
        ///         if e.status >= 500 { self.0.fetch_add(1, Ordering::Relaxed); }
        ///     }
        /// }
        /// ```
        pub trait EventSink: Send + Sync + 'static {
            /// The `sink` label value of this sink's self-metrics. Keep it
            /// short and constant: it is a label.
            fn name(&self) -> &'static str;

            /// Fallback for every kind not overridden.
            fn on_event(&self, event: EventRef<'_>) {
                let _ = event;
            }
            $(
                #[doc = $doc]
                fn $cb(&self, event: &$ty) {
                    self.on_event(EventRef::$variant(event))
                }
            )*
            /// An adapter's own event.
            fn on_custom(&self, event: &CustomEventRecord<'_>) {
                self.on_event(EventRef::Custom(event))
            }
            /// Flush buffered output (called on shutdown).
            fn flush(&self) {}

            /// A queue's writer is about to deliver a batch of `len` events
            /// ([`crate::sink::queue`] calls it; direct dispatch never does).
            /// A batched writer opens its transaction here.
            fn begin_batch(&self, len: usize) {
                let _ = len;
            }

            /// The batch begun by [`EventSink::begin_batch`] was delivered:
            /// commit it. Returns how many of its events could not be
            /// written (an I/O error, a full disk); the queue counts them as
            /// dropped in `telemetry_events_dropped_total{sink}` and as a
            /// write error. The default writes nothing and loses nothing.
            ///
            /// ```
            /// use telemetry_runtime::sink::EventSink;
            /// struct Plain;
            /// impl EventSink for Plain { fn name(&self) -> &'static str { "plain" } }
            /// Plain.begin_batch(3);
            /// assert_eq!(Plain.end_batch(), 0);
            /// ```
            fn end_batch(&self) -> u64 {
                0
            }
        }

        /// Delivers `event` to the callback of its kind.
        #[inline]
        pub fn deliver(sink: &dyn EventSink, event: EventRef<'_>) {
            match event {
                $(EventRef::$variant(e) => sink.$cb(e),)*
                EventRef::Custom(e) => sink.on_custom(e),
            }
        }
    };
}

for_each_event_kind!(define_sink_trait);
