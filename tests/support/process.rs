//! Process-global state. The tests of one binary share a process and run on
//! parallel threads, so a test that needs the whole process to itself runs
//! again alone in a child process ([`run_alone!`]), and a test that must
//! change a process-wide hook changes it only for what it owns
//! ([`quiet_panics`]).
//!
//! What needs the process to itself:
//! - a one-shot, process-wide configuration (the Prometheus buckets, fixed at
//!   the first recording of any adapter);
//! - a judgement over every adapter of the process (the server's readiness),
//!   or a check that no sink is installed anywhere (`dispatch::interested`);
//! - an assertion on what a thread-local tracing subscriber (`set_default`)
//!   saw of the runtime's spans and events. `tracing-core` caches each
//!   callsite's interest process-wide, and while exactly one dispatcher is
//!   registered it computes that interest from the default of whichever
//!   thread hits the callsite first: a test on another thread, with no
//!   subscriber, caches "never" and the subscriber misses the spans
//!   (tokio-rs/tracing#3611, #2874). Seen here: the OTLP test lost its
//!   attempt spans in 7 of 20 runs of the merged binary at 8 threads. A test
//!   whose subscriber sees only callsites of its own code is not affected.
//!
//! [`run_alone!`]: crate::run_alone

use std::process::Command;

/// Set in the child process to the name of the one test it runs.
const CHILD: &str = "TELEMETRY_TESTS_ALONE";

/// Runs the calling test body only in a child process of its own.
///
/// In the test binary's own process, re-runs this test alone (`--exact`,
/// one thread) in a child process and returns from the test once the child
/// passed (panics with the child's output otherwise). In the child, nothing
/// else runs in the process, and the body continues.
///
/// ```ignore
/// #[test]
/// fn needs_the_process() {
///     telemetry_tests::run_alone!(needs_the_process);
///     // ... alone in its process from here on.
/// }
/// ```
#[macro_export]
macro_rules! run_alone {
    ($test:ident) => {
        if !$crate::support::process::alone(module_path!(), stringify!($test)) {
            return;
        }
    };
}

/// What [`run_alone!`] expands to: `true` in the child (run the body),
/// `false` in the parent once the child passed. `module_path` is the test's
/// `module_path!()` and `test` its function name.
pub fn alone(module_path: &str, test: &str) -> bool {
    // The harness names a test by its path below the crate root.
    let name = match module_path.split_once("::") {
        Some((_crate, path)) => format!("{path}::{test}"),
        None => test.to_owned(),
    };
    if std::env::var_os(CHILD).is_some_and(|v| v == name.as_str()) {
        return true;
    }
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args(["--exact", &name, "--test-threads=1"])
        .env(CHILD, &name)
        .output();
    let out = match out {
        Ok(out) => out,
        Err(e) => panic!("cannot re-run the test binary for {name}: {e}"),
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "child run of {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// Silences the panic message of every panic whose message contains
/// `needle`, for as long as the guard lives; it then restores the default
/// hook. The panic hook is process-wide: other panics, from the other tests
/// running in parallel, still print their message.
pub fn quiet_panics(needle: &'static str) -> QuietPanics {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if !message.contains(needle) {
            previous(info);
        }
    }));
    QuietPanics(())
}

/// Restores the default panic hook when dropped (see [`quiet_panics`]).
#[derive(Debug)]
#[must_use = "the hook is restored when the guard is dropped"]
pub struct QuietPanics(());

impl Drop for QuietPanics {
    fn drop(&mut self) {
        let _ = std::panic::take_hook();
    }
}
