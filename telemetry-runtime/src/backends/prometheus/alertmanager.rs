//! An Alertmanager configuration for the generated alert rules
//! ([`super::rules`]).
//!
//! [`alertmanager_config`] writes a `alertmanager.yml` that:
//!
//! - groups notifications by `adapter` and `alertname` (one notification per
//!   alert of an adapter, whichever hosts it fires for);
//! - routes by the rules' `severity` label to three receivers, `page`,
//!   `ticket` and `info`, each a webhook (`send_resolved: true`, so the
//!   receiver hears when an alert clears);
//! - inhibits a `ticket` alert of an adapter while a `page` alert of the same
//!   adapter fires (the slow burn, the breaker, the retry rate all follow
//!   from the fast burn the pager already reports);
//! - mutes the adapters of each [`MuteInterval`] during its time interval
//!   (a maintenance window), through `time_intervals` and a route per
//!   severity carrying `mute_time_intervals`.
//!
//! `amtool check-config` accepts the output, and
//! `tests/backends/alerting.rs` runs it in a real Alertmanager behind a real
//! Prometheus loading the generated rules.
//!
//! ```
//! use std::time::Duration;
//! use telemetry_runtime::backends::prometheus::alertmanager::{
//!     alertmanager_config, AlertmanagerOptions, MuteInterval,
//! };
//! let opts = AlertmanagerOptions {
//!     webhook_url: "http://alerts.internal:9099/hook".into(),
//!     mute: vec![MuteInterval {
//!         name: "maintenance".into(),
//!         adapters: vec!["crossref".into()],
//!         weekdays: vec!["saturday".into(), "sunday".into()],
//!         times: vec![("02:00".into(), "04:00".into())],
//!     }],
//!     ..AlertmanagerOptions::default()
//! };
//! let yaml = alertmanager_config(&opts);
//! assert!(yaml.contains("group_by: [adapter, alertname]"));
//! assert!(yaml.contains("mute_time_intervals: [\"maintenance\"]"));
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use super::rules::prom_duration;

/// The severities the generated rules use, each routed to the receiver of
/// the same name.
///
/// ```
/// use telemetry_runtime::backends::prometheus::alertmanager::SEVERITIES;
/// assert_eq!(SEVERITIES, ["page", "ticket", "info"]);
/// ```
pub const SEVERITIES: &[&str] = &["page", "ticket", "info"];

/// A time interval during which some adapters' alerts are not notified
/// (Alertmanager's `time_intervals` + `mute_time_intervals`).
///
/// ```
/// use telemetry_runtime::backends::prometheus::alertmanager::MuteInterval;
/// let weekend = MuteInterval {
///     name: "weekend".into(),
///     adapters: vec!["batch_import".into()],
///     weekdays: vec!["saturday:sunday".into()],
///     times: vec![],
/// };
/// assert_eq!(weekend.adapters.len(), 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MuteInterval {
    /// The interval's name in the configuration.
    pub name: String,
    /// The adapters (the `adapter` label) muted during it.
    pub adapters: Vec<String>,
    /// Days of the week (`monday`, or ranges such as `monday:friday`); empty:
    /// every day.
    pub weekdays: Vec<String>,
    /// Times of day (`HH:MM`, UTC), start inclusive and end exclusive
    /// (`("00:00", "24:00")` is the whole day); empty: all day.
    pub times: Vec<(String, String)>,
}

/// What [`alertmanager_config`] writes.
///
/// ```
/// use std::time::Duration;
/// use telemetry_runtime::backends::prometheus::alertmanager::AlertmanagerOptions;
/// let o = AlertmanagerOptions::default();
/// assert_eq!(o.repeat_interval, Duration::from_secs(4 * 3600));
/// assert!(o.send_resolved);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertmanagerOptions {
    /// Where every receiver posts (Alertmanager's webhook format).
    pub webhook_url: String,
    /// How long a new group waits for more alerts before its first
    /// notification (30 s).
    pub group_wait: Duration,
    /// How long before a group's next notification when its alerts change
    /// (5 min).
    pub group_interval: Duration,
    /// How long before an unchanged group is notified again (4 h).
    pub repeat_interval: Duration,
    /// Whether receivers hear of resolved alerts (true).
    pub send_resolved: bool,
    /// The mute intervals (none).
    pub mute: Vec<MuteInterval>,
}

impl Default for AlertmanagerOptions {
    fn default() -> Self {
        AlertmanagerOptions {
            webhook_url: "http://127.0.0.1:9099/alerts".into(),
            group_wait: Duration::from_secs(30),
            group_interval: Duration::from_secs(300),
            repeat_interval: Duration::from_secs(4 * 3600),
            send_resolved: true,
            mute: Vec::new(),
        }
    }
}

/// `s` as a double-quoted YAML scalar.
fn q(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// A matcher `name op "value"`, as a YAML scalar.
fn matcher(name: &str, op: &str, value: &str) -> String {
    // The matcher's own quoting first (Alertmanager's label matcher syntax),
    // then YAML's around it.
    let inner = format!("{name}{op}{}", q(value));
    q(&inner)
}

/// `d` as an Alertmanager duration, at least one second.
fn dur(d: Duration) -> String {
    prom_duration(d.as_secs().max(1))
}

/// An alternation of literal adapter names for a `=~` matcher.
fn alternation(names: &[String]) -> String {
    names
        .iter()
        .map(|n| {
            n.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || c == '_' {
                        c.to_string()
                    } else {
                        format!("\\{c}")
                    }
                })
                .collect::<String>()
        })
        .collect::<Vec<_>>()
        .join("|")
}

/// An Alertmanager configuration (YAML) for the generated rules, written as
/// `options` say (see the module docs).
///
/// ```
/// use telemetry_runtime::backends::prometheus::alertmanager::{alertmanager_config, AlertmanagerOptions};
/// let yaml = alertmanager_config(&AlertmanagerOptions::default());
/// assert!(yaml.contains("equal: [adapter]"));
/// assert!(yaml.contains("send_resolved: true"));
/// ```
pub fn alertmanager_config(options: &AlertmanagerOptions) -> String {
    let mut out = String::with_capacity(2048);
    out.push_str(
        "# Generated by telemetry_runtime::backends::prometheus::alertmanager::alertmanager_config.\n",
    );
    out.push_str("route:\n");
    let _ = writeln!(out, "  receiver: {}", q("ticket"));
    out.push_str("  group_by: [adapter, alertname]\n");
    let _ = writeln!(out, "  group_wait: {}", dur(options.group_wait));
    let _ = writeln!(out, "  group_interval: {}", dur(options.group_interval));
    let _ = writeln!(out, "  repeat_interval: {}", dur(options.repeat_interval));
    out.push_str("  routes:\n");
    // Muted adapters first: the first matching route wins, and a route's
    // `mute_time_intervals` are not inherited by its children, so each
    // (mute, severity) pair is a leaf of its own.
    for m in options.mute.iter().filter(|m| !m.adapters.is_empty()) {
        for sev in SEVERITIES {
            let _ = writeln!(out, "    - receiver: {}", q(sev));
            let _ = writeln!(
                out,
                "      matchers: [{}, {}]",
                matcher("severity", "=", sev),
                matcher("adapter", "=~", &alternation(&m.adapters))
            );
            let _ = writeln!(out, "      mute_time_intervals: [{}]", q(&m.name));
        }
    }
    for sev in SEVERITIES {
        let _ = writeln!(out, "    - receiver: {}", q(sev));
        let _ = writeln!(out, "      matchers: [{}]", matcher("severity", "=", sev));
    }
    out.push_str("inhibit_rules:\n");
    let _ = writeln!(
        out,
        "  - source_matchers: [{}]\n    target_matchers: [{}]\n    equal: [adapter]",
        matcher("severity", "=", "page"),
        matcher("severity", "=", "ticket")
    );
    out.push_str("receivers:\n");
    for sev in SEVERITIES {
        let _ = writeln!(out, "  - name: {}", q(sev));
        out.push_str("    webhook_configs:\n");
        let _ = writeln!(out, "      - url: {}", q(&options.webhook_url));
        let _ = writeln!(out, "        send_resolved: {}", options.send_resolved);
    }
    if !options.mute.is_empty() {
        out.push_str("time_intervals:\n");
        for m in &options.mute {
            let _ = writeln!(out, "  - name: {}", q(&m.name));
            out.push_str("    time_intervals:\n");
            let mut first = true;
            let mut item = |out: &mut String| {
                out.push_str(if first { "      - " } else { "        " });
                first = false;
            };
            if !m.weekdays.is_empty() {
                item(&mut out);
                let days: Vec<String> = m.weekdays.iter().map(|d| q(d)).collect();
                let _ = writeln!(out, "weekdays: [{}]", days.join(", "));
            }
            if !m.times.is_empty() {
                item(&mut out);
                out.push_str("times:\n");
                for (start, end) in &m.times {
                    let _ = writeln!(
                        out,
                        "          - start_time: {}\n            end_time: {}",
                        q(start),
                        q(end)
                    );
                }
            }
            if first {
                // Neither days nor times: the whole time, every day.
                out.push_str("      - times:\n          - start_time: \"00:00\"\n            end_time: \"24:00\"\n");
            }
        }
    }
    out
}
