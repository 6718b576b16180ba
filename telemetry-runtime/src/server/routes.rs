//! The server's fixed routes and the rule for the configurable one.
//!
//! Shared by the configuration (which refuses a `metrics_path` that axum
//! would read as route syntax or that takes a health route) and the router
//! (which mounts the routes), so the two cannot disagree.

/// Liveness.
pub(crate) const LIVE_PATH: &str = "/health";
/// Readiness by the criteria.
pub(crate) const READY_PATH: &str = "/health/ready";
/// The detailed health document.
pub(crate) const DETAILED_PATH: &str = "/health/detailed";
/// The dashboard page; its assets and event stream are under it.
pub(crate) const DASHBOARD_PATH: &str = "/dashboard";
/// The health routes, the only ones `auth_exempt` may name.
pub(crate) const HEALTH_PATHS: [&str; 3] = [LIVE_PATH, READY_PATH, DETAILED_PATH];

/// Checks that `path` is a plain absolute path that axum mounts as written:
/// `/` or `/`-separated segments of letters, digits, `-`, `.`, `_` and `~`
/// (RFC 3986's unreserved characters), none empty, none `.` or `..`, and not
/// `/health` or under it.
///
/// The narrow alphabet is deliberate: axum 0.8 panics on segments that start
/// with `:` or `*` (its 0.7 syntax) and reads `{...}` as a parameter or
/// wildcard; `%`, `?` and `#` would never match what a scraper sends; empty
/// and dot segments are rewritten by clients. Anything this accepts is a
/// literal route that cannot collide with the health routes, so
/// [`router`](super::router) cannot panic on it.
///
/// The error is a message that follows the key (`metrics_path: ...`).
pub(crate) fn check_metrics_path(path: &str) -> Result<(), String> {
    const EXAMPLE: &str = "expected a plain path such as \"/metrics\"";
    if !path.starts_with('/') {
        return Err(format!(
            "must be an absolute path starting with \"/\", got {path:?}; {EXAMPLE}"
        ));
    }
    if path == "/" {
        return Ok(());
    }
    for segment in path[1..].split('/') {
        if segment.starts_with(':') || segment.starts_with('*') || segment.contains(['{', '}']) {
            return Err(format!(
                "{path:?} is route syntax (a parameter or wildcard), not a path; {EXAMPLE}"
            ));
        }
        if segment.is_empty() {
            return Err(format!(
                "{path:?} has an empty segment (\"//\" or a trailing \"/\"); {EXAMPLE}"
            ));
        }
        if segment == "." || segment == ".." {
            return Err(format!(
                "{path:?} has a {segment:?} segment, which clients rewrite; {EXAMPLE}"
            ));
        }
        if let Some(c) = segment
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '~')))
        {
            return Err(format!(
                "character {c:?} is not allowed in {path:?}: use letters, digits, \"-\", \".\", \"_\" and \"~\" between slashes"
            ));
        }
    }
    if path == LIVE_PATH || path.starts_with("/health/") {
        return Err(format!(
            "must not be /health or under it (the health endpoints), got {path:?}"
        ));
    }
    if path == DASHBOARD_PATH || path.starts_with("/dashboard/") {
        return Err(format!(
            "must not be /dashboard or under it (the dashboard), got {path:?}"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_metrics_path;

    #[test]
    fn plain_paths_are_accepted() {
        for path in [
            "/metrics",
            "/",
            "/prom/metrics",
            "/metrics.txt",
            "/a-b_c~d.e",
            "/healthz",
            "/Health",
            "/v1/metrics/x",
            "/...",
        ] {
            assert_eq!(check_metrics_path(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn route_syntax_and_odd_paths_are_refused() {
        for (path, expected) in [
            (":metrics", "must be an absolute path starting with \"/\", got \":metrics\"; expected a plain path such as \"/metrics\""),
            ("", "must be an absolute path starting with \"/\", got \"\"; expected a plain path such as \"/metrics\""),
            ("/:metrics", "\"/:metrics\" is route syntax (a parameter or wildcard), not a path; expected a plain path such as \"/metrics\""),
            ("/*metrics", "\"/*metrics\" is route syntax (a parameter or wildcard), not a path; expected a plain path such as \"/metrics\""),
            ("/{metrics}", "\"/{metrics}\" is route syntax (a parameter or wildcard), not a path; expected a plain path such as \"/metrics\""),
            ("/{*rest}", "\"/{*rest}\" is route syntax (a parameter or wildcard), not a path; expected a plain path such as \"/metrics\""),
            ("/a/{{b}}", "\"/a/{{b}}\" is route syntax (a parameter or wildcard), not a path; expected a plain path such as \"/metrics\""),
            ("/m/x:y", "character ':' is not allowed in \"/m/x:y\": use letters, digits, \"-\", \".\", \"_\" and \"~\" between slashes"),
            ("//metrics", "\"//metrics\" has an empty segment (\"//\" or a trailing \"/\"); expected a plain path such as \"/metrics\""),
            ("/metrics/", "\"/metrics/\" has an empty segment (\"//\" or a trailing \"/\"); expected a plain path such as \"/metrics\""),
            ("/a/../metrics", "\"/a/../metrics\" has a \"..\" segment, which clients rewrite; expected a plain path such as \"/metrics\""),
            ("/metrics?x=1", "character '?' is not allowed in \"/metrics?x=1\": use letters, digits, \"-\", \".\", \"_\" and \"~\" between slashes"),
            ("/m%65trics", "character '%' is not allowed in \"/m%65trics\": use letters, digits, \"-\", \".\", \"_\" and \"~\" between slashes"),
            ("/mé", "character 'é' is not allowed in \"/mé\": use letters, digits, \"-\", \".\", \"_\" and \"~\" between slashes"),
            ("/health", "must not be /health or under it (the health endpoints), got \"/health\""),
            ("/health/ready", "must not be /health or under it (the health endpoints), got \"/health/ready\""),
            ("/health/metrics", "must not be /health or under it (the health endpoints), got \"/health/metrics\""),
            ("/dashboard", "must not be /dashboard or under it (the dashboard), got \"/dashboard\""),
            ("/dashboard/events", "must not be /dashboard or under it (the dashboard), got \"/dashboard/events\""),
        ] {
            assert_eq!(check_metrics_path(path), Err(expected.to_owned()), "{path}");
        }
    }
}
