//! A retry-rate alert, checked by `promtool test rules` with a series that
//! trips it.
//!
//! The rule is the generated one: `alert_rules` writes a `…RetryRateHigh`
//! alert for every adapter (retries per wire attempt above 0.1 for 10
//! minutes, per host, severity `ticket`, with its `runbook_url`). The unit
//! test feeds a host that retries every third attempt and expects the alert
//! to fire with the host and the runbook link, and a quiet host to stay
//! silent.
//!
//! Run: `cargo run -p telemetry-examples --example retry_alert -- [DIR]`
//! (needs `promtool`, from Debian's `prometheus` package)

use std::path::PathBuf;
use std::process::Command;

use telemetry_runtime::backends::prometheus::rules::{alert_rules, default_runbook_base};
use telemetry_runtime::core::catalog::Family;
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};

/// The adapter whose generated rules are tested.
#[instrumented_adapter(name = "demo_retry", hosts(cap = 8))]
struct DemoRetry {}

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
    let rules = alert_rules(&[DemoRetry::MANIFEST]);
    let runbook = format!("{}#retryratehigh", default_runbook_base());

    // One sample a minute for 20 minutes: `flaky` makes 30 attempts and 10
    // retries a minute (0.33 per attempt), `calm` 30 attempts and none.
    let test = format!(
        r#"rule_files: [rules.yml]
evaluation_interval: 1m
tests:
  - interval: 1m
    input_series:
      - series: '{requests}{{adapter="demo_retry",host="flaky.test",method="GET",status="200"}}'
        values: '0+30x20'
      - series: '{retries}{{adapter="demo_retry",host="flaky.test",reason="status"}}'
        values: '0+10x20'
      - series: '{requests}{{adapter="demo_retry",host="calm.test",method="GET",status="200"}}'
        values: '0+30x20'
      - series: '{retries}{{adapter="demo_retry",host="calm.test",reason="status"}}'
        values: '0+0x20'
    alert_rule_test:
      # `for: 10m`: pending, not yet firing, after 5 minutes.
      - eval_time: 5m
        alertname: DemoRetryRetryRateHigh
        exp_alerts: []
      - eval_time: 15m
        alertname: DemoRetryRetryRateHigh
        exp_alerts:
          - exp_labels: {{severity: ticket, adapter: demo_retry, host: flaky.test}}
            exp_annotations:
              summary: "demo_retry: more than 0.1 retries per attempt to flaky.test"
              runbook_url: "{runbook}"
"#
    );
    std::fs::write(dir.join("rules.yml"), &rules)?;
    std::fs::write(dir.join("rules_test.yml"), &test)?;
    let alert: String = rules
        .lines()
        .skip_while(|l| !l.contains("RetryRateHigh"))
        .take_while(|l| !l.contains("CircuitBreakerOpen"))
        .collect::<Vec<_>>()
        .join("\n");
    println!("the generated retry-rate alert:\n{alert}\n");
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
            "promtool test rules failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}
