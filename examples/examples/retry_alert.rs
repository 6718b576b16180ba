//! A retry-rate alert, checked by `promtool test rules` with a series that
//! trips it.
//!
//! The rule is written here from the metric catalogue's names
//! (`Family::Retries`, `Family::Requests`: `http_retries_total`,
//! `http_requests_total`): retries per wire attempt above 10 % for 5 minutes.
//! (The generated rule set, `backends::prometheus::rules::alert_rules`,
//! gains its own `RetryRateHigh` alert on the `alert` branch; this example
//! does not depend on it.) The unit test feeds a host that retries every
//! third attempt and expects the alert to fire, and a quiet host to stay
//! silent.
//!
//! Run: `cargo run -p telemetry-examples --example retry_alert -- [DIR]`
//! (needs `promtool`, from Debian's `prometheus` package)

use std::path::PathBuf;
use std::process::Command;

use telemetry_runtime::backends::prometheus::names::Family;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("telemetry-retry-alert"));
    std::fs::create_dir_all(&dir)?;
    let (retries, requests) = (
        Family::Retries.prometheus_name(),
        Family::Requests.prometheus_name(),
    );

    let rules = format!(
        r#"groups:
  - name: retry-rate
    rules:
      - alert: RetryRateHigh
        expr: |
          sum by (adapter, host) (rate({retries}[5m]))
          /
          (sum by (adapter, host) (rate({requests}[5m])) > 0)
          > 0.1
        for: 5m
        labels:
          severity: warning
        annotations:
          summary: "{{{{ $labels.adapter }}}}: more than 10% retries per attempt to {{{{ $labels.host }}}}"
"#
    );
    // One sample a minute for 20 minutes: `flaky` makes 30 attempts and 10
    // retries a minute (0.33 per attempt), `calm` 30 attempts and none.
    let test = format!(
        r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '{requests}{{adapter="demo",host="flaky.test",method="GET",status="200"}}'
        values: '0+30x20'
      - series: '{retries}{{adapter="demo",host="flaky.test",reason="status"}}'
        values: '0+10x20'
      - series: '{requests}{{adapter="demo",host="calm.test",method="GET",status="200"}}'
        values: '0+30x20'
      - series: '{retries}{{adapter="demo",host="calm.test",reason="status"}}'
        values: '0+0x20'
    alert_rule_test:
      - eval_time: 15m
        alertname: RetryRateHigh
        exp_alerts:
          - exp_labels: {{severity: warning, adapter: demo, host: flaky.test}}
            exp_annotations:
              summary: "demo: more than 10% retries per attempt to flaky.test"
"#
    );
    std::fs::write(dir.join("rules.yml"), &rules)?;
    std::fs::write(dir.join("rules_test.yml"), &test)?;
    println!("{rules}");
    let out = Command::new("promtool")
        .arg("test")
        .arg("rules")
        .arg("rules_test.yml")
        .current_dir(&dir)
        .output()
        .map_err(|e| format!("promtool not runnable ({e}); install Debian's `prometheus`"))?;
    print!("{}", String::from_utf8_lossy(&out.stdout));
    if !out.status.success() {
        return Err(format!(
            "promtool test rules failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}
