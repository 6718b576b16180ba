//! The hand-written alert rule examples of `docs/monitoring.md` (its
//! ```` ```yaml ```` blocks that are rule files, starting with `groups:`)
//! pass `promtool check rules`.

use std::path::Path;
use std::process::Command;

use telemetry_tests::support::{require_tool, temp_dir};

/// The `yaml` fenced blocks of a Markdown text.
fn yaml_blocks(text: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in text.lines() {
        let fence = line.trim_start();
        match &mut current {
            None if fence.starts_with("```yaml") || fence.starts_with("```yml") => {
                current = Some(String::new())
            }
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

#[test]
fn the_extractor_finds_yaml_blocks() {
    let md = "a\n```yaml\ngroups: []\n```\n```toml\nx = 1\n```\n```yaml\nb: 1\n```\n";
    assert_eq!(yaml_blocks(md), vec!["groups: []\n", "b: 1\n"]);
}

#[test]
fn the_alert_examples_of_monitoring_md_pass_promtool() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/monitoring.md");
    let text = std::fs::read_to_string(&path).expect("docs/monitoring.md");
    let rule_files: Vec<String> = yaml_blocks(&text)
        .into_iter()
        .filter(|b| b.trim_start().starts_with("groups:"))
        .collect();
    assert!(
        !rule_files.is_empty(),
        "docs/monitoring.md has no alert rule example (a ```yaml block starting with `groups:`)"
    );
    let Some(promtool) = require_tool("promtool") else {
        return;
    };
    let dir = temp_dir("docs-rules");
    for (i, block) in rule_files.iter().enumerate() {
        let file = dir.join(format!("example-{i}.yml"));
        std::fs::write(&file, block).expect("write");
        let out = Command::new(&promtool)
            .args(["check", "rules"])
            .arg(&file)
            .output()
            .expect("promtool runs");
        let report = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            out.status.success() && report.contains("SUCCESS"),
            "docs/monitoring.md alert example {i} fails promtool:\n{report}\n{block}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
