//! External tools the tests run (`promtool`, `prometheus`), found on `PATH`.
//!
//! A test that needs a missing tool must not pass as if it had checked
//! something (#10, item 13). So a missing tool is a test failure, with the
//! command that installs it, whenever the tools are required:
//!
//! - `TELEMETRY_REQUIRE_TOOLS=1` (`scripts/test.sh` exports it: it installs
//!   the tools first, so a missing one there is a broken install);
//! - or `CI` set (not empty, `false` or `0`), unless
//!   `TELEMETRY_REQUIRE_TOOLS=0` says otherwise.
//!
//! Only when neither asks for them (a developer without the tools running
//! `cargo test` directly), or with `TELEMETRY_REQUIRE_TOOLS=0`, does the
//! test skip the part that needs the tool, and it says so on the terminal:
//! the notice goes straight to the process's stderr, because the test
//! harness swallows `eprintln!` of a passing test.

use std::io::Write as _;
use std::path::PathBuf;

/// The variable that requires (`1`) or excuses (`0`) the external tools.
pub const REQUIRE_TOOLS: &str = "TELEMETRY_REQUIRE_TOOLS";

/// Whether a variable's value means "on" (set, not empty, `false` or `0`).
fn truthy(v: &str) -> bool {
    let v = v.trim();
    !v.is_empty() && !v.eq_ignore_ascii_case("false") && v != "0"
}

/// Whether the tests run in CI (`CI` set and not empty, `false` or `0`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| truthy(&v))
}

/// Whether a missing tool fails the test (see the module docs), and why.
pub fn tools_required() -> Option<&'static str> {
    match std::env::var(REQUIRE_TOOLS) {
        Ok(v) if truthy(&v) => Some("TELEMETRY_REQUIRE_TOOLS is set"),
        Ok(v) if !v.trim().is_empty() => None,
        _ if in_ci() => Some("CI is set"),
        _ => None,
    }
}

/// `tool` on `PATH`: an executable file of that name.
pub fn find_tool(tool: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|p| p.join(tool))
        .find(|p| is_executable(p))
}

#[cfg(unix)]
fn is_executable(p: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &std::path::Path) -> bool {
    p.is_file()
}

/// Finds `tool` on `PATH`. When it is missing: panics (a test failure) if
/// the tools are required, else prints a skip notice on the terminal and
/// returns `None`, and the caller skips what needs the tool.
pub fn require_tool(tool: &str) -> Option<PathBuf> {
    require_any_tool(
        &[tool],
        "run `bash scripts/install-prometheus.sh` (Debian package `prometheus`)",
    )
}

/// [`require_tool`] for a tool that `install` (the hint in the message,
/// `apt-get install prometheus-pushgateway`, say) provides.
pub fn require_tool_installed_by(tool: &str, install: &str) -> Option<PathBuf> {
    require_any_tool(&[tool], install)
}

/// The first of `names` found on `PATH` (one tool under its possible names,
/// such as `prometheus-alertmanager` and `alertmanager`); missing, as
/// [`require_tool`], with `install` saying how to get it.
pub fn require_any_tool(names: &[&str], install: &str) -> Option<PathBuf> {
    let found = names.iter().find_map(|t| find_tool(t));
    let tool = names.join("` or `");
    if found.is_none() {
        let msg = format!("`{tool}` is not on PATH: {install}");
        if let Some(why) = tools_required() {
            panic!(
                "{msg}. {why}, so a missing tool fails the test; \
                 set {REQUIRE_TOOLS}=0 to skip instead"
            );
        }
        let thread = std::thread::current();
        let test = thread.name().unwrap_or("a test");
        let why = if std::env::var_os(REQUIRE_TOOLS).is_some() {
            format!("{REQUIRE_TOOLS}=0 allows the skip")
        } else {
            format!("set {REQUIRE_TOOLS}=1 (or CI=true) to make this a failure, as scripts/test.sh does")
        };
        // Not `eprintln!`: the harness captures it and shows it only for a
        // failing test, and a skipped check must be seen.
        let _ = writeln!(
            std::io::stderr(),
            "\n!!!!!!!! SKIPPED in {test}: {msg}; {why} !!!!!!!!\n"
        );
    }
    found
}
