//! Generated alert rules and dashboards: `promtool check rules` accepts the
//! rules, `promtool test rules` shows each alert firing on bad series and
//! staying quiet on good ones, in both naming modes; the dashboards use the
//! adapter's metric names.

use std::process::Command;

use serde_json::json;
use telemetry_runtime::backends::prometheus::dashboard::{grafana_dashboard, queries};
use telemetry_runtime::backends::prometheus::rules::{alert_rules, default_runbook_base};
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
use telemetry_tests::support::{require_tool, temp_dir};

#[instrumented_adapter(name = "rules_slo", slo(success = 99.5, latency_p99 = "500ms"))]
struct WithSlo {}

#[instrumented_adapter(name = "rules_ok", slo(success = 99.5))]
struct Healthy {}

#[instrumented_adapter(name = "rules_otel", naming = "opentelemetry", slo(success = 99.0))]
struct OtelNamed {}

#[instrumented_adapter(name = "rules_plain")]
struct NoSlo {}

fn run(promtool: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = Command::new(promtool)
        .args(args)
        .output()
        .expect("promtool runs");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

fn rules_yaml() -> String {
    alert_rules(&[
        WithSlo::MANIFEST,
        Healthy::MANIFEST,
        OtelNamed::MANIFEST,
        NoSlo::MANIFEST,
    ])
}

#[test]
fn rules_have_the_expected_alerts() {
    let yaml = rules_yaml();
    for alert in [
        "alert: RulesSloErrorBudgetBurnFast",
        "alert: RulesSloErrorBudgetBurnSlow",
        "alert: RulesSloLatencyAboveObjective",
        "alert: RulesSloCircuitBreakerOpen",
        "alert: RulesOtelErrorBudgetBurnFast",
        "alert: RulesPlainCircuitBreakerOpen",
        "alert: RulesPlainLabelOverflow",
        "alert: RulesSloRetryRateHigh",
        "alert: RulesPlainRetryRateHigh",
    ] {
        assert!(yaml.contains(alert), "{alert} in\n{yaml}");
    }
    assert!(
        !yaml.contains("RulesPlainErrorBudget"),
        "no SLO, no budget alert"
    );
    assert!(
        !yaml.contains("RulesOkLatency"),
        "no latency objective, no latency alert"
    );
    assert!(yaml.contains("http_client_requests_total{adapter=\"rules_otel\""));
}

#[test]
fn promtool_checks_and_unit_tests_the_rules() {
    let Some(promtool) = require_tool("promtool") else {
        return;
    };
    let dir = temp_dir("rules");
    let rules = dir.join("rules.yml");
    std::fs::write(&rules, rules_yaml()).expect("write rules");
    let (ok, out) = run(
        &promtool,
        &["check", "rules", rules.to_str().expect("utf-8")],
    );
    assert!(ok, "promtool check rules:\n{out}");

    let runbook = default_runbook_base();
    let req = |labels: &str, series: &str| json!({"series": format!("http_requests_total{{{labels}}}"), "values": series});
    // Minute samples: rules_slo fails 10% of attempts, rules_ok none,
    // rules_otel 50% (by error_type); rules_slo's p99 is near 1 s.
    let test = json!({
        "rule_files": ["rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [
                req(r#"adapter="rules_slo",host="a",method="GET",status="200""#, "0+90x120"),
                req(r#"adapter="rules_slo",host="a",method="GET",status="503""#, "0+10x120"),
                req(r#"adapter="rules_ok",host="a",method="GET",status="200""#, "0+100x120"),
                req(r#"adapter="rules_ok",host="a",method="GET",status="404""#, "0+5x120"),
                {"series": r#"http_client_requests_total{adapter="rules_otel",server_address="b",http_request_method="GET",http_response_status_code="200"}"#, "values": "0+50x120"},
                {"series": r#"http_client_requests_total{adapter="rules_otel",server_address="b",http_request_method="GET",error_type="timeout"}"#, "values": "0+50x120"},
                {"series": r#"http_request_duration_seconds_bucket{adapter="rules_slo",host="a",method="GET",le="0.5"}"#, "values": "0+10x120"},
                {"series": r#"http_request_duration_seconds_bucket{adapter="rules_slo",host="a",method="GET",le="1"}"#, "values": "0+100x120"},
                {"series": r#"http_request_duration_seconds_bucket{adapter="rules_slo",host="a",method="GET",le="+Inf"}"#, "values": "0+100x120"},
                {"series": r#"http_circuit_breaker_state{adapter="rules_slo",host="a"}"#, "values": "1+0x120"},
                // Retries: rules_slo retries 20 of its 100 attempts a minute
                // (0.2 > 0.1), rules_ok 5 of 105.
                {"series": r#"http_retries_total{adapter="rules_slo",host="a",reason="status"}"#, "values": "0+20x120"},
                {"series": r#"http_retries_total{adapter="rules_ok",host="a",reason="status"}"#, "values": "0+5x120"},
                {"series": r#"http_circuit_breaker_state{adapter="rules_ok",host="a"}"#, "values": "0+0x120"},
            ],
            "alert_rule_test": [
                {"eval_time": "30m", "alertname": "RulesSloErrorBudgetBurnFast", "exp_alerts": [{
                    "exp_labels": {"severity": "page", "adapter": "rules_slo", "host": "a"},
                    "exp_annotations": {
                        "summary": "rules_slo: error budget of the 99.5% success objective burning 14.4x too fast",
                        "description": "Failed attempts over 1h and 5m are both above 0.0720 (14.4 x the 0.0050 budget).",
                        "runbook_url": format!("{runbook}#errorbudgetburnfast")
                    }
                }]},
                {"eval_time": "30m", "alertname": "RulesSloErrorBudgetBurnSlow", "exp_alerts": [{
                    "exp_labels": {"severity": "ticket", "adapter": "rules_slo", "host": "a"},
                    "exp_annotations": {
                        "summary": "rules_slo: error budget of the 99.5% success objective burning 6x too fast",
                        "description": "Failed attempts over 6h and 30m are both above 0.0300 (6 x the 0.0050 budget).",
                        "runbook_url": format!("{runbook}#errorbudgetburnslow")
                    }
                }]},
                {"eval_time": "1m", "alertname": "RulesSloErrorBudgetBurnFast", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "RulesOkErrorBudgetBurnFast", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "RulesOkErrorBudgetBurnSlow", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "RulesOtelErrorBudgetBurnFast", "exp_alerts": [{
                    "exp_labels": {"severity": "page", "adapter": "rules_otel", "server_address": "b"},
                    "exp_annotations": {
                        "summary": "rules_otel: error budget of the 99% success objective burning 14.4x too fast",
                        "description": "Failed attempts over 1h and 5m are both above 0.1440 (14.4 x the 0.0100 budget).",
                        "runbook_url": format!("{runbook}#errorbudgetburnfast")
                    }
                }]},
                {"eval_time": "30m", "alertname": "RulesSloLatencyAboveObjective", "exp_alerts": [{
                    "exp_labels": {"severity": "ticket", "adapter": "rules_slo", "host": "a"},
                    "exp_annotations": {
                        "summary": "rules_slo: p99 attempt latency above the 0.5s objective",
                        "runbook_url": format!("{runbook}#latencyaboveobjective")
                    }
                }]},
                {"eval_time": "30m", "alertname": "RulesSloCircuitBreakerOpen", "exp_alerts": [{
                    "exp_labels": {"severity": "ticket", "adapter": "rules_slo", "host": "a"},
                    "exp_annotations": {
                        "summary": "rules_slo: circuit breaker open for a",
                        "runbook_url": format!("{runbook}#circuitbreakeropen")
                    }
                }]},
                {"eval_time": "3m", "alertname": "RulesSloCircuitBreakerOpen", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "RulesOkCircuitBreakerOpen", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "RulesSloRetryRateHigh", "exp_alerts": [{
                    "exp_labels": {"severity": "ticket", "adapter": "rules_slo", "host": "a"},
                    "exp_annotations": {
                        "summary": "rules_slo: more than 0.1 retries per attempt to a",
                        "runbook_url": format!("{runbook}#retryratehigh")
                    }
                }]},
                // `for: 10m`: not yet after 5 minutes.
                {"eval_time": "5m", "alertname": "RulesSloRetryRateHigh", "exp_alerts": []},
                {"eval_time": "30m", "alertname": "RulesOkRetryRateHigh", "exp_alerts": []},
            ],
        }],
    });
    let test_file = dir.join("rules_test.yml");
    std::fs::write(
        &test_file,
        serde_json::to_string_pretty(&test).expect("json"),
    )
    .expect("write test");
    let (ok, out) = run(
        &promtool,
        &["test", "rules", test_file.to_str().expect("utf-8")],
    );
    assert!(
        ok,
        "promtool test rules:\n{out}\n--- rules ---\n{}",
        rules_yaml()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn dashboards_use_the_adapters_names() {
    let d = grafana_dashboard(WithSlo::MANIFEST);
    assert_eq!(d["uid"], "telemetry-rules_slo");
    let panels = d["panels"].as_array().expect("panels");
    assert_eq!(panels.len(), queries(WithSlo::MANIFEST).len());
    let latency = panels
        .iter()
        .find(|p| {
            p["title"]
                .as_str()
                .is_some_and(|t| t.starts_with("Attempt latency"))
        })
        .expect("latency panel");
    assert_eq!(
        latency["fieldConfig"]["defaults"]["thresholds"]["steps"][1]["value"],
        0.5
    );
    let exprs: Vec<String> = queries(OtelNamed::MANIFEST)
        .into_iter()
        .flat_map(|p| p.queries.into_iter().map(|(e, _)| e))
        .collect();
    assert!(exprs
        .iter()
        .any(|e| e.contains("http_client_request_duration_seconds_bucket")));
    assert!(
        exprs.iter().all(|e| !e.contains("http_requests_total")),
        "{exprs:#?}"
    );
    assert!(
        exprs.iter().all(|e| e.contains(r#"adapter="rules_otel""#)),
        "{exprs:#?}"
    );
}

/// Runs `promtool_checks_and_unit_tests_the_rules` in a child process with
/// no tool on `PATH` and the given environment: `(passed, stderr)`.
fn without_tools(env: &[(&str, &str)]) -> (bool, String) {
    let exe = std::env::current_exe().expect("the test binary's path");
    let mut cmd = Command::new(exe);
    cmd.args([
        "--exact",
        "rules::promtool_checks_and_unit_tests_the_rules",
        "--test-threads=1",
    ])
    .env("PATH", "/nonexistent")
    .env_remove("CI")
    .env_remove("TELEMETRY_REQUIRE_TOOLS")
    .env_remove("TELEMETRY_TESTS_ALONE");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the test binary runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let passed = out.status.success() && stdout.contains("1 passed");
    (passed, format!("{stdout}\n{stderr}"))
}

#[test]
fn a_missing_tool_fails_unless_the_skip_is_allowed() {
    // Required: by scripts/test.sh's variable, or by CI.
    for env in [
        &[("TELEMETRY_REQUIRE_TOOLS", "1")][..],
        &[("CI", "true")][..],
        &[("CI", "1"), ("TELEMETRY_REQUIRE_TOOLS", "yes")][..],
    ] {
        let (passed, out) = without_tools(env);
        assert!(!passed, "{env:?}: a missing promtool passed:\n{out}");
        assert!(
            out.contains("`promtool` is not on PATH") && out.contains("fails the test"),
            "{env:?}: no clear message:\n{out}"
        );
    }
    // Allowed: neither asks for the tools, or the variable excuses them; the
    // skip is announced on stderr, outside the harness's capture.
    for env in [
        &[][..],
        &[("CI", "false")][..],
        &[("CI", "true"), ("TELEMETRY_REQUIRE_TOOLS", "0")][..],
    ] {
        let (passed, out) = without_tools(env);
        assert!(passed, "{env:?}: the skip failed:\n{out}");
        assert!(
            out.contains("SKIPPED in rules::"),
            "{env:?}: no notice:\n{out}"
        );
    }
}
