//! Every generated alert carries a `runbook_url` pointing at a section of
//! `docs/runbook.md` that exists, and the runbook has a section for every
//! kind of alert the generator writes.

use std::collections::BTreeSet;
use std::path::Path;

use serde_yaml::Value;
use telemetry_runtime::backends::prometheus::rules::{alert_rules_with, RuleOptions, ALERT_KINDS};
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

#[instrumented_adapter(name = "runbook_full", slo(success = 99.9, latency_p99 = "1s"))]
struct Full {}

#[instrumented_adapter(
    name = "runbook_otel",
    naming = "opentelemetry",
    slo(success = 99.0, latency_p95 = "200ms")
)]
struct Otel {}

#[instrumented_adapter(name = "runbook_plain")]
struct Plain {}

/// GitHub's anchor of a heading: lower case, punctuation dropped, spaces
/// as dashes.
fn anchor(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn runbook_anchors() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/runbook.md");
    let text = std::fs::read_to_string(&path).expect("docs/runbook.md");
    text.lines()
        .filter_map(|l| l.strip_prefix("## "))
        .map(anchor)
        .collect()
}

#[test]
fn every_generated_alert_has_a_runbook_section() {
    let anchors = runbook_anchors();
    let base = "https://runbooks.example/adapters.md";
    let opts = RuleOptions {
        runbook_base: base.into(),
        ..RuleOptions::default()
    };
    let yaml = alert_rules_with(&[Full::MANIFEST, Otel::MANIFEST, Plain::MANIFEST], &opts);
    let rules: Value = serde_yaml::from_str(&yaml).expect("rules are YAML");
    let mut kinds_seen = BTreeSet::new();
    let mut alerts = 0;
    for group in rules["groups"].as_sequence().expect("groups") {
        for rule in group["rules"].as_sequence().expect("rules") {
            let Some(name) = rule["alert"].as_str() else {
                continue;
            };
            alerts += 1;
            let kind = ALERT_KINDS
                .iter()
                .find(|k| name.ends_with(**k))
                .unwrap_or_else(|| panic!("{name}: not one of ALERT_KINDS"));
            kinds_seen.insert(*kind);
            let url = rule["annotations"]["runbook_url"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: no runbook_url"));
            let fragment = url
                .strip_prefix(&format!("{base}#"))
                .unwrap_or_else(|| panic!("{name}: {url} is not under the configured base"));
            assert!(
                anchors.contains(fragment),
                "{name}: docs/runbook.md has no section #{fragment} (sections: {anchors:?})"
            );
        }
    }
    assert!(alerts >= 14, "only {alerts} alerts in\n{yaml}");
    let all: BTreeSet<&str> = ALERT_KINDS.iter().copied().collect();
    assert_eq!(kinds_seen, all, "every kind is generated and listed");
    for kind in ALERT_KINDS {
        assert!(
            anchors.contains(&kind.to_lowercase()),
            "docs/runbook.md: no `## {kind}` section"
        );
    }
}

#[test]
fn the_anchor_follows_github() {
    assert_eq!(anchor("ErrorBudgetBurnFast"), "errorbudgetburnfast");
    assert_eq!(anchor("What to do, now"), "what-to-do-now");
}
