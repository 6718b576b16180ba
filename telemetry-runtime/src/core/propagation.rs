//! Trace context on the wire: the hook through which a backend that knows
//! the OpenTelemetry context writes `traceparent` (and `tracestate`) into
//! each wire attempt's request.
//!
//! The client may import only the core, and only the `otlp` backend links
//! OpenTelemetry, so the core holds the seam: a [`HeaderInjector`] writes
//! the context of the *current* `tracing` span as header pairs. The client
//! enters each attempt's span, calls the injector, and inserts what it
//! writes. The `otlp` backend implements it with OpenTelemetry's
//! propagator API (`backends::otlp::OtelPropagation`) and installs one
//! globally when its pipeline starts; a client chooses per builder between
//! the global injector, its own, or none ([`Propagation`]).
//!
//! With no injector installed, the client's cost is one relaxed load per
//! attempt.
//!
//! ```
//! use telemetry_runtime::core::propagation::{self, HeaderInjector};
//! struct Fixed;
//! impl HeaderInjector for Fixed {
//!     fn inject_current(&self, set: &mut dyn FnMut(&str, &str)) {
//!         set("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");
//!     }
//! }
//! propagation::set_global_injector(Fixed);
//! let mut got = Vec::new();
//! propagation::with_global(|i| i.inject_current(&mut |k, v| got.push((k.to_owned(), v.to_owned()))));
//! assert_eq!(got[0].0, "traceparent");
//! propagation::clear_global_injector();
//! ```

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwapOption;

/// Writes the trace context of the current `tracing` span as HTTP headers.
pub trait HeaderInjector: Send + Sync + 'static {
    /// Calls `set(name, value)` once per header to send (lowercase names);
    /// nothing when the current span has no valid trace context.
    fn inject_current(&self, set: &mut dyn FnMut(&str, &str));
}

/// A boxed injector, sized for the global slot.
struct Installed(Box<dyn HeaderInjector>);

static GLOBAL: ArcSwapOption<Installed> = ArcSwapOption::const_empty();
/// Whether `GLOBAL` holds one: the client's fast path reads only this.
static ANY: AtomicBool = AtomicBool::new(false);

/// Installs `injector` for every client that uses the global one (the
/// default), replacing the previous.
///
/// ```
/// # use telemetry_runtime::core::propagation::{self, HeaderInjector};
/// # struct Nothing;
/// # impl HeaderInjector for Nothing { fn inject_current(&self, _: &mut dyn FnMut(&str, &str)) {} }
/// propagation::set_global_injector(Nothing);
/// assert!(propagation::has_global_injector());
/// # propagation::clear_global_injector();
/// ```
pub fn set_global_injector(injector: impl HeaderInjector) {
    GLOBAL.store(Some(Arc::new(Installed(Box::new(injector)))));
    ANY.store(true, Ordering::Release);
}

/// Removes the global injector: clients using it send no trace headers.
///
/// ```
/// telemetry_runtime::core::propagation::clear_global_injector();
/// assert!(!telemetry_runtime::core::propagation::has_global_injector());
/// ```
pub fn clear_global_injector() {
    ANY.store(false, Ordering::Release);
    GLOBAL.store(None);
}

/// Whether a global injector is installed.
///
/// ```
/// let _ = telemetry_runtime::core::propagation::has_global_injector();
/// ```
pub fn has_global_injector() -> bool {
    ANY.load(Ordering::Relaxed)
}

/// Calls `f` with the global injector, if one is installed.
///
/// ```
/// telemetry_runtime::core::propagation::with_global(|_| ());
/// ```
pub fn with_global(f: impl FnOnce(&dyn HeaderInjector)) {
    if !ANY.load(Ordering::Relaxed) {
        return;
    }
    if let Some(i) = GLOBAL.load().as_ref() {
        f(i.0.as_ref());
    }
}

/// Which injector a client uses for its wire attempts.
///
/// ```
/// use telemetry_runtime::core::propagation::Propagation;
/// assert!(matches!(Propagation::default(), Propagation::Global));
/// ```
#[derive(Clone, Default)]
pub enum Propagation {
    /// The global injector, if one is installed (the default).
    #[default]
    Global,
    /// No trace headers.
    Off,
    /// This injector, whatever the global one.
    Custom(Arc<dyn HeaderInjector>),
}

impl fmt::Debug for Propagation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Propagation::Global => "Global",
            Propagation::Off => "Off",
            Propagation::Custom(_) => "Custom",
        })
    }
}

impl Propagation {
    /// Whether an injector would run (cheap: no injector, no work).
    ///
    /// ```
    /// assert!(!telemetry_runtime::core::propagation::Propagation::Off.active());
    /// ```
    #[inline]
    pub fn active(&self) -> bool {
        match self {
            Propagation::Global => ANY.load(Ordering::Relaxed),
            Propagation::Off => false,
            Propagation::Custom(_) => true,
        }
    }

    /// Runs the chosen injector, if any, writing through `set`.
    ///
    /// ```
    /// telemetry_runtime::core::propagation::Propagation::Off.inject_current(&mut |_, _| unreachable!());
    /// ```
    pub fn inject_current(&self, set: &mut dyn FnMut(&str, &str)) {
        match self {
            Propagation::Global => with_global(|i| i.inject_current(set)),
            Propagation::Off => {}
            Propagation::Custom(i) => i.inject_current(set),
        }
    }
}
