//! Reading a Prometheus exposition, and `promtool check metrics` on one.

use std::process::{Command, Stdio};

/// The value of the sample line `series` (exact name and labels) in `text`.
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?;
        rest.strip_prefix(' ')?.trim().parse().ok()
    })
}

/// Runs `promtool check metrics` on `text`: `(success, combined output)`.
pub fn promtool_check_metrics(promtool: &std::path::Path, text: &str) -> (bool, String) {
    use std::io::Write as _;
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool starts");
    child
        .stdin
        .take()
        .expect("stdin is piped")
        .write_all(text.as_bytes())
        .expect("promtool reads stdin");
    let out = child.wait_with_output().expect("promtool finishes");
    let mut all = String::from_utf8_lossy(&out.stdout).into_owned();
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), all)
}

/// Every `# TYPE` family name, in order, with its type.
pub fn families(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| {
            let mut it = l.split(' ');
            Some((it.next()?.to_owned(), it.next()?.to_owned()))
        })
        .collect()
}
