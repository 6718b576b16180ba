//! Every event kept in memory, in order: what tests assert on.

use std::fmt;
use std::sync::Mutex;

use crate::core::events::kinds::for_each_event_kind;
use crate::core::events::*;
use crate::core::sink::EventSink;

macro_rules! define_recorded_event {
    ( ; $( $variant:ident($ty:ident) $cb:ident $doc:literal; )* ) => {
        /// An owned copy of an event, as [`RecordingSink`] keeps it.
        #[derive(Debug, Clone)]
        pub enum RecordedEvent {
            $( #[doc = $doc] $variant($ty), )*
            /// A custom event: its name, labels and JSON payload.
            Custom {
                /// Adapter, correlation id, time.
                meta: EventMeta,
                /// The event's declared name.
                name: &'static str,
                /// Its bounded labels, `(name, value)`.
                labels: Vec<(&'static str, String)>,
                /// The whole event as JSON.
                payload: serde_json::Value,
            },
        }

        impl RecordedEvent {
            /// The kind name (`request`, `retry`, ..., or the custom event's name).
            pub fn kind(&self) -> &'static str {
                match self {
                    $(RecordedEvent::$variant(_) => $ty::KIND,)*
                    RecordedEvent::Custom { name, .. } => name,
                }
            }
            /// The shared meta.
            pub fn meta(&self) -> &EventMeta {
                match self {
                    $(RecordedEvent::$variant(e) => &e.meta,)*
                    RecordedEvent::Custom { meta, .. } => meta,
                }
            }
            /// An owned copy of `event`.
            pub fn from_ref(event: EventRef<'_>) -> Self {
                match event {
                    $(EventRef::$variant(e) => RecordedEvent::$variant(e.clone()),)*
                    EventRef::Custom(e) => RecordedEvent::Custom {
                        meta: e.meta,
                        name: e.event.name(),
                        labels: {
                            let mut labels = Vec::new();
                            e.event
                                .visit_labels(&mut |k, v| labels.push((k, v.as_str().to_owned())));
                            labels
                        },
                        payload: serde_json::to_value(e.event.payload())
                            .unwrap_or(serde_json::Value::Null),
                    },
                }
            }
        }
    };
}

for_each_event_kind!(define_recorded_event);

/// Keeps every event in memory, in order: for tests that assert the exact
/// sequence of events. Clones share the same buffer.
///
/// ```
/// use telemetry_runtime::sink::RecordingSink;
/// let rec = RecordingSink::new();
/// assert!(rec.events().is_empty());
/// assert_eq!(rec.kinds(), Vec::<&str>::new());
/// ```
#[derive(Clone, Default)]
pub struct RecordingSink {
    events: std::sync::Arc<Mutex<Vec<RecordedEvent>>>,
}

impl fmt::Debug for RecordingSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RecordingSink")
            .field("events", &self.lock().len())
            .finish()
    }
}

impl RecordingSink {
    /// An empty recorder.
    pub fn new() -> Self {
        Self::default()
    }
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<RecordedEvent>> {
        self.events.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// A copy of everything recorded so far.
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.lock().clone()
    }
    /// The kinds recorded so far, in order.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.lock().iter().map(RecordedEvent::kind).collect()
    }
    /// Takes everything recorded so far, leaving the recorder empty.
    pub fn take(&self) -> Vec<RecordedEvent> {
        std::mem::take(&mut *self.lock())
    }
}

impl EventSink for RecordingSink {
    fn name(&self) -> &'static str {
        "recording"
    }
    fn on_event(&self, event: EventRef<'_>) {
        let owned = RecordedEvent::from_ref(event);
        self.lock().push(owned);
    }
}
