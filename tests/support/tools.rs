//! External tools the tests run (`promtool`, `prometheus`): found on `PATH`,
//! skipped loudly when missing, a failure in CI.

/// Whether the tests must not skip for a missing tool (`CI` set and not
/// `false`/`0`).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Finds `tool` on `PATH`; `None` means skip (loudly), and panics in CI.
pub fn require_tool(tool: &str) -> Option<std::path::PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(tool))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        let msg = format!(
            "`{tool}` is not installed: run `bash scripts/install-prometheus.sh` (Debian package `prometheus`)"
        );
        if in_ci() {
            panic!("{msg} (CI is set, so this is a failure, not a skip)");
        }
        eprintln!("\n!!!!!!!! SKIPPED: {msg} !!!!!!!!\n");
    }
    found
}
