//! Kubernetes and Compose: the generated `PrometheusRule` embeds rules that
//! pass `promtool check rules`, the `ServiceMonitor` selects the example
//! Service, the example Deployment probes `/health` and `/health/ready`,
//! the Compose file parses and its Prometheus configuration passes
//! `promtool check config`, and its Alertmanager configuration is the
//! generated one.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_yaml::Value;
use telemetry_runtime::backends::prometheus::alertmanager::{
    alertmanager_config, AlertmanagerOptions,
};
use telemetry_runtime::backends::prometheus::k8s::{prometheus_rule, service_monitor};
use telemetry_runtime::backends::prometheus::rules::alert_rules;
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
use telemetry_tests::support::{require_tool, temp_dir};

#[instrumented_adapter(name = "k8s_api", slo(success = 99.5, latency_p99 = "300ms"))]
struct Api {}

#[instrumented_adapter(name = "k8s_otel", naming = "opentelemetry", slo(success = 99.0))]
struct Otel {}

fn deploy(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy")
        .join(path)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn promtool(args: &[&str]) -> Option<(bool, String)> {
    let tool = require_tool("promtool")?;
    let out = Command::new(tool)
        .args(args)
        .output()
        .expect("promtool runs");
    Some((
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    ))
}

#[test]
fn the_prometheus_rule_embeds_rules_promtool_accepts() {
    let text = prometheus_rule(&[Api::MANIFEST, Otel::MANIFEST], "monitoring");
    let obj: Value = serde_yaml::from_str(&text).expect("PrometheusRule is YAML");
    assert_eq!(obj["apiVersion"], "monitoring.coreos.com/v1");
    assert_eq!(obj["kind"], "PrometheusRule");
    assert_eq!(obj["metadata"]["namespace"], "monitoring");
    // The embedded groups are the rule file's, value for value.
    let file: Value = serde_yaml::from_str(&alert_rules(&[Api::MANIFEST, Otel::MANIFEST]))
        .expect("rules are YAML");
    assert_eq!(obj["spec"]["groups"], file["groups"]);
    let groups = obj["spec"]["groups"].as_sequence().expect("groups");
    assert_eq!(groups.len(), 2);

    let dir = temp_dir("k8s-rules");
    let mut extracted = serde_yaml::Mapping::new();
    extracted.insert("groups".into(), obj["spec"]["groups"].clone());
    let file = dir.join("extracted.yml");
    std::fs::write(&file, serde_yaml::to_string(&extracted).expect("yaml")).expect("write");
    if let Some((ok, out)) = promtool(&["check", "rules", file.to_str().expect("utf-8")]) {
        assert!(ok, "promtool check rules on spec.groups:\n{out}\n{text}");
        assert!(out.contains("SUCCESS"), "{out}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn the_service_monitor_selects_the_example_service() {
    let sm: Value = serde_yaml::from_str(&service_monitor("monitoring")).expect("YAML");
    assert_eq!(sm["kind"], "ServiceMonitor");
    let docs = example_deployment();
    let service = docs
        .iter()
        .find(|d| d["kind"] == "Service")
        .expect("a Service");
    for (k, v) in sm["spec"]["selector"]["matchLabels"]
        .as_mapping()
        .expect("matchLabels")
    {
        assert_eq!(&service["metadata"]["labels"][k], v, "label {k:?}");
    }
    let port = &sm["spec"]["endpoints"][0]["port"];
    assert!(
        service["spec"]["ports"]
            .as_sequence()
            .expect("ports")
            .iter()
            .any(|p| &p["name"] == port),
        "the Service has the monitored port {port:?}"
    );
    assert_eq!(sm["spec"]["endpoints"][0]["path"], "/metrics");
}

fn example_deployment() -> Vec<Value> {
    let text = read(&deploy("k8s/deployment.yaml"));
    serde_yaml::Deserializer::from_str(&text)
        .map(|d| Value::deserialize(d).expect("each document is YAML"))
        .collect()
}

use serde::Deserialize as _;

#[test]
fn the_example_deployment_probes_liveness_and_readiness() {
    let docs = example_deployment();
    let deployment = docs
        .iter()
        .find(|d| d["kind"] == "Deployment")
        .expect("a Deployment");
    let c = &deployment["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["livenessProbe"]["httpGet"]["path"], "/health");
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/health/ready");
    // The embedded server configuration is one the server accepts, and it
    // keeps one upstream's open breaker from failing readiness.
    let config = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap")
        .and_then(|d| d["data"]["telemetry.toml"].as_str())
        .expect("telemetry.toml in the ConfigMap");
    let parsed = telemetry_runtime::config::ServerConfig::from_toml_str(config)
        .expect("the ConfigMap's telemetry.toml parses");
    assert!(!parsed.health.fail_on_breaker_open);
}

#[test]
fn the_compose_file_parses_and_its_prometheus_config_passes_promtool() {
    let compose: Value =
        serde_yaml::from_str(&read(&deploy("compose/compose.yaml"))).expect("compose is YAML");
    for service in ["job", "prometheus", "alertmanager"] {
        assert!(
            compose["services"][service].is_mapping(),
            "service {service}"
        );
    }
    let job_cmd: Vec<&str> = compose["services"]["job"]["command"]
        .as_sequence()
        .expect("command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(job_cmd.contains(&"telemetry-examples") && job_cmd.contains(&"--export"));

    // The Alertmanager configuration is the generated one.
    assert_eq!(
        read(&deploy("compose/alertmanager.yml")),
        alertmanager_config(&AlertmanagerOptions::default()),
        "deploy/compose/alertmanager.yml is alertmanager_config with its defaults"
    );

    // prometheus.yml, with generated rules where the job's `--export` puts them.
    let dir = temp_dir("compose");
    std::fs::create_dir_all(dir.join("generated")).expect("dir");
    std::fs::copy(deploy("compose/prometheus.yml"), dir.join("prometheus.yml")).expect("copy");
    std::fs::write(
        dir.join("generated/alerts.yml"),
        alert_rules(&[Api::MANIFEST, Otel::MANIFEST]),
    )
    .expect("write");
    let config = dir.join("prometheus.yml");
    if let Some((ok, out)) = promtool(&["check", "config", config.to_str().expect("utf-8")]) {
        assert!(ok, "promtool check config:\n{out}");
        assert!(
            out.contains("generated/alerts.yml") && out.contains("SUCCESS"),
            "{out}"
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
