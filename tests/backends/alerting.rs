//! Alerts end to end with real components: Debian's `prometheus` scrapes our
//! exporter (driven by the simulator through the instrumented client) and
//! evaluates the generated rules; Debian's `prometheus-alertmanager` loads
//! the generated configuration and posts to a webhook receiver of this test.
//!
//! The rules are generated at a time scale of 1/60 (`RuleOptions`): the
//! fast burn's 1 h / 5 m windows become 1 m / 5 s, its `for: 2m` 2 s, so the
//! test takes tens of seconds instead of hours. Alertmanager runs with a 1 s
//! group wait, a 3 s group interval and a 1 h repeat interval, and
//! Prometheus resends firing alerts every second, so deduplication is
//! really exercised.
//!
//! What it shows, in order:
//! 1. a breach of `alert_paged`'s error budget notifies the receiver with
//!    `adapter` and `host` labels;
//! 2. repeated breaches (the alert resent every second, for more than three
//!    group intervals) give one notification;
//! 3. the slow-burn alert (a ticket), firing too, is inhibited by the page;
//! 4. `alert_muted` breaches as well and reaches Alertmanager, but its mute
//!    time interval (the whole of today and tomorrow, UTC) keeps it from the
//!    receiver;
//! 5. once the upstream answers again the alert resolves and the receiver
//!    gets `status: resolved`;
//! 6. a changed rule file loads through `POST /-/reload`, the same process.
//!
//! The test runs alone in a child process (`run_alone!`): the server's
//! readiness, which other tests check, judges every adapter of a process.
//!
//! A missing binary fails under `scripts/test.sh` and in CI
//! (`tests/support/tools.rs`).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use telemetry_runtime::backends::prometheus::alertmanager::{
    alertmanager_config, AlertmanagerOptions, MuteInterval,
};
use telemetry_runtime::backends::prometheus::rules::{alert_rules_with, RuleOptions};
use telemetry_runtime::backends::prometheus::PrometheusSink;
use telemetry_runtime::client::RetryPolicy;
use telemetry_runtime::config::ServerConfig;
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::{
    free_port, require_any_tool, require_tool, temp_dir, wait_for, Prometheus,
};

#[instrumented_adapter(name = "alert_paged", hosts(cap = 4), slo(success = 99.0))]
struct Paged {}

#[instrumented_adapter(name = "alert_muted", hosts(cap = 4), slo(success = 99.0))]
struct Muted {}

#[instrumented_adapter(name = "alert_reloaded", slo(success = 99.0))]
struct Reloaded {}

const PAGED_HOST: &str = "flaky.example.com";
const MUTED_HOST: &str = "muted.example.com";
const FAST: &str = "AlertPagedErrorBudgetBurnFast";
const SLOW: &str = "AlertPagedErrorBudgetBurnSlow";
const GROUP_INTERVAL: Duration = Duration::from_secs(3);

const ALERTMANAGER_INSTALL: &str = "install the Debian package `prometheus-alertmanager` \
     (scripts/test.sh does)";

fn rule_options() -> RuleOptions {
    RuleOptions {
        time_scale: 1.0 / 60.0,
        ..RuleOptions::default()
    }
}

/// Kills and reaps a child process, even on panic.
struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The webhook posts received: (when, body).
type Posts = Arc<Mutex<Vec<(Instant, Value)>>>;

/// A loopback webhook receiver recording every post to `/alerts`.
async fn webhook() -> (String, Posts) {
    let posts: Posts = Arc::default();
    let store = posts.clone();
    let app = axum::Router::new().route(
        "/alerts",
        axum::routing::post(move |body: String| {
            let store = store.clone();
            async move {
                let v: Value = serde_json::from_str(&body).unwrap_or(Value::String(body));
                store.lock().expect("posts").push((Instant::now(), v));
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind webhook");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}/alerts"), posts)
}

/// The posts whose group is (`adapter`, `alertname`), with `status`.
fn posts_for(posts: &Posts, adapter: &str, alertname: &str, status: &str) -> Vec<Value> {
    posts
        .lock()
        .expect("posts")
        .iter()
        .map(|(_, v)| v.clone())
        .filter(|v| {
            v["groupLabels"]["adapter"] == adapter
                && v["groupLabels"]["alertname"] == alertname
                && v["status"] == status
        })
        .collect()
}

fn adapter_posts(posts: &Posts, adapter: &str) -> usize {
    posts
        .lock()
        .expect("posts")
        .iter()
        .filter(|(_, v)| v["commonLabels"]["adapter"] == adapter)
        .count()
}

async fn get_json(client: &reqwest::Client, url: &str) -> Option<Value> {
    let r = client.get(url).send().await.ok()?;
    serde_json::from_str(&r.text().await.ok()?).ok()
}

/// Alerts Prometheus has firing, as `(alertname, adapter)`.
async fn firing(client: &reqwest::Client, prom: &str) -> Vec<(String, String)> {
    let Some(v) = get_json(client, &format!("{prom}/api/v1/alerts")).await else {
        return Vec::new();
    };
    v["data"]["alerts"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|a| a["state"] == "firing")
        .map(|a| {
            let l = |k: &str| a["labels"][k].as_str().unwrap_or("").to_owned();
            (l("alertname"), l("adapter"))
        })
        .collect()
}

/// Today and tomorrow (UTC) as Alertmanager weekday names: a mute interval
/// over both covers "now" for the whole test, even across midnight.
fn today_and_tomorrow() -> Vec<String> {
    const DAYS: [&str; 7] = [
        "thursday",
        "friday",
        "saturday",
        "sunday",
        "monday",
        "tuesday",
        "wednesday",
    ];
    let days = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs()
        / 86_400;
    // 1970-01-01 was a Thursday.
    vec![
        DAYS[(days % 7) as usize].to_owned(),
        DAYS[((days + 1) % 7) as usize].to_owned(),
    ]
}

fn client_for<T: InstrumentedAdapter>(host: &str, sim: &Simulator) -> AdapterClient {
    AdapterClient::builder::<T>()
        .resolve(host, sim.addr())
        .retry(RetryPolicy::none())
        .no_breaker()
        .build()
        .expect("client")
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write");
    p
}

#[test]
fn the_generated_alertmanager_config_passes_amtool() {
    let Some(amtool) = require_any_tool(&["amtool"], ALERTMANAGER_INSTALL) else {
        return;
    };
    let dir = temp_dir("amtool");
    let config = alertmanager_config(&AlertmanagerOptions {
        mute: vec![MuteInterval {
            name: "maintenance".into(),
            adapters: vec!["alert_muted".into(), "other".into()],
            weekdays: vec!["monday:friday".into()],
            times: vec![("02:00".into(), "04:00".into())],
        }],
        ..AlertmanagerOptions::default()
    });
    let file = write(&dir, "alertmanager.yml", &config);
    let out = Command::new(amtool)
        .arg("check-config")
        .arg(&file)
        .output()
        .expect("amtool runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success(),
        "amtool check-config:\n{text}\n{config}"
    );
    assert!(text.contains("1 inhibit rules"), "{text}");
    assert!(text.contains("3 receivers"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_reach_a_real_alertmanager() {
    // Alone in a child process: its failing adapters would fail the
    // readiness other tests of this binary expect (readiness judges every
    // adapter of the process).
    telemetry_tests::run_alone!(alerts_reach_a_real_alertmanager);
    let Some(prometheus) = require_tool("prometheus") else {
        return;
    };
    let Some(alertmanager) = require_any_tool(
        &["prometheus-alertmanager", "alertmanager"],
        ALERTMANAGER_INSTALL,
    ) else {
        return;
    };

    // The upstreams: both hosts fail every attempt.
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host(PAGED_HOST), Script::always(Step::status(503)));
    sim.route(Route::host(MUTED_HOST), Script::always(Step::status(503)));
    Paged::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    Muted::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    let paged = client_for::<Paged>(PAGED_HOST, &sim);
    let muted = client_for::<Muted>(MUTED_HOST, &sim);
    let traffic = tokio::spawn(async move {
        let (p, m) = (
            format!("http://{PAGED_HOST}/works"),
            format!("http://{MUTED_HOST}/works"),
        );
        loop {
            let _ = paged.get(&p).send().await;
            let _ = muted.get(&m).send().await;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });

    let exporter = telemetry_runtime::server::serve(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServerConfig::default()
    })
    .await
    .expect("exporter serves");

    let (hook_url, posts) = webhook().await;
    let dir = temp_dir("alerting");
    std::fs::create_dir_all(dir.join("am-data")).expect("dir");

    // Alertmanager with the generated configuration.
    let am_port = free_port();
    let am_config = alertmanager_config(&AlertmanagerOptions {
        webhook_url: hook_url,
        group_wait: Duration::from_secs(1),
        group_interval: GROUP_INTERVAL,
        repeat_interval: Duration::from_secs(3600),
        send_resolved: true,
        mute: vec![MuteInterval {
            name: "maintenance".into(),
            adapters: vec!["alert_muted".into()],
            weekdays: today_and_tomorrow(),
            times: vec![("00:00".into(), "24:00".into())],
        }],
    });
    let am_file = write(&dir, "alertmanager.yml", &am_config);
    let _am = Running(
        Command::new(&alertmanager)
            .arg(format!("--config.file={}", am_file.display()))
            .arg(format!("--storage.path={}", dir.join("am-data").display()))
            .arg(format!("--web.listen-address=127.0.0.1:{am_port}"))
            // No gossip port: one instance, nothing else bound.
            .arg("--cluster.listen-address=")
            .arg("--log.level=warn")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("alertmanager starts"),
    );

    // Prometheus with the generated rules at the test scale.
    let rules = [Paged::MANIFEST, Muted::MANIFEST];
    let prom_dir = telemetry_tests::support::prometheus_dir("alerting");
    write(
        &prom_dir,
        "rules.yml",
        &alert_rules_with(&rules, &rule_options()),
    );
    let mut prom = Prometheus::start(
        &prometheus,
        "alerting",
        &format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             rule_files: ['rules.yml']\n\
             alerting:\n  alertmanagers:\n    - static_configs:\n        - targets: ['127.0.0.1:{am_port}']\n\
             scrape_configs:\n  - job_name: telemetry\n    static_configs:\n      - targets: ['{}']\n",
            exporter.local_addr()
        ),
        // Resend firing alerts every second: Alertmanager must dedupe.
        &["--web.enable-lifecycle", "--rules.alert.resend-delay=1s"],
    );
    let prom_pid = prom.child().id();
    let prom_url = prom.url();
    let am_url = format!("http://127.0.0.1:{am_port}");
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");

    // 1. The page reaches the receiver, naming adapter and host.
    let first = wait_for(Duration::from_secs(60), "the fast-burn page", || {
        let posts = posts.clone();
        async move {
            posts_for(&posts, "alert_paged", FAST, "firing")
                .into_iter()
                .next()
        }
    })
    .await;
    let first_at = Instant::now();
    let alert = &first["alerts"][0];
    assert_eq!(alert["labels"]["adapter"], "alert_paged", "{first:#}");
    assert_eq!(alert["labels"]["host"], PAGED_HOST, "{first:#}");
    assert_eq!(alert["labels"]["severity"], "page", "{first:#}");
    assert_eq!(first["receiver"], "page", "{first:#}");
    assert!(
        alert["annotations"]["runbook_url"]
            .as_str()
            .is_some_and(|u| u.ends_with("runbook.md#errorbudgetburnfast")),
        "{first:#}"
    );

    // 3. and 4.: wait until the slow burn (a ticket) of the paged adapter
    // and the fast burn of the muted one fire in Prometheus, and the muted
    // alert has reached Alertmanager.
    wait_for(
        Duration::from_secs(45),
        "the slow burn and the muted page to fire",
        || {
            let http = http.clone();
            let prom_url = prom_url.clone();
            async move {
                let f = firing(&http, &prom_url).await;
                let slow = f.iter().any(|(n, a)| n == SLOW && a == "alert_paged");
                let muted = f
                    .iter()
                    .any(|(n, a)| n == "AlertMutedErrorBudgetBurnFast" && a == "alert_muted");
                (slow && muted).then_some(())
            }
        },
    )
    .await;
    let in_am = wait_for(
        Duration::from_secs(15),
        "Alertmanager to hold the muted alert",
        || {
            let http = http.clone();
            let url = format!("{am_url}/api/v2/alerts?filter=adapter%3D%22alert_muted%22");
            async move {
                let v = get_json(&http, &url).await?;
                let a = v.as_array()?;
                (!a.is_empty()).then(|| a.clone())
            }
        },
    )
    .await;
    assert_eq!(in_am[0]["labels"]["host"], MUTED_HOST);
    // Give Alertmanager more than a group wait and two group intervals to
    // (wrongly) notify the inhibited ticket or the muted page.
    tokio::time::sleep(GROUP_INTERVAL * 2 + Duration::from_secs(2)).await;
    // 2. Resent every second for all this time (well past three group
    // intervals, well short of the repeat interval): one notification.
    let elapsed = first_at.elapsed();
    assert!(elapsed > GROUP_INTERVAL * 3, "observed {elapsed:?} only");
    let fast_firing = posts_for(&posts, "alert_paged", FAST, "firing");
    assert_eq!(
        fast_firing.len(),
        1,
        "one notification over {elapsed:?} of repeated breaches: {fast_firing:#?}"
    );
    assert!(
        posts_for(&posts, "alert_paged", SLOW, "firing").is_empty(),
        "the ticket is inhibited by the page of the same adapter"
    );
    assert_eq!(
        adapter_posts(&posts, "alert_muted"),
        0,
        "the maintenance window mutes alert_muted"
    );

    // 5. The upstream recovers: the page resolves.
    sim.route(Route::host(PAGED_HOST), Script::always(Step::ok()));
    let resolved = wait_for(Duration::from_secs(45), "the resolved notification", || {
        let posts = posts.clone();
        async move {
            posts_for(&posts, "alert_paged", FAST, "resolved")
                .into_iter()
                .next()
        }
    })
    .await;
    assert_eq!(resolved["alerts"][0]["status"], "resolved", "{resolved:#}");
    assert_eq!(resolved["alerts"][0]["labels"]["host"], PAGED_HOST);
    assert_eq!(
        adapter_posts(&posts, "alert_muted"),
        0,
        "still muted at the end"
    );

    // 6. New rules through the reload endpoint, same process.
    let new_rules = [Paged::MANIFEST, Muted::MANIFEST, Reloaded::MANIFEST];
    write(
        &prom_dir,
        "rules.yml",
        &alert_rules_with(&new_rules, &rule_options()),
    );
    let r = http
        .post(format!("{prom_url}/-/reload"))
        .send()
        .await
        .expect("reload answers");
    assert!(r.status().is_success(), "reload: {}", r.status());
    let group = wait_for(Duration::from_secs(15), "the reloaded rule group", || {
        let http = http.clone();
        let url = format!("{prom_url}/api/v1/rules");
        async move {
            let v = get_json(&http, &url).await?;
            v["data"]["groups"]
                .as_array()?
                .iter()
                .find(|g| g["name"] == "telemetry-alert_reloaded")
                .cloned()
        }
    })
    .await;
    assert!(
        group["rules"]
            .as_array()
            .expect("rules")
            .iter()
            .any(|r| r["name"] == "AlertReloadedErrorBudgetBurnFast"),
        "{group:#}"
    );
    assert!(
        prom.child().try_wait().expect("status").is_none() && prom.child().id() == prom_pid,
        "Prometheus kept running through the reload"
    );

    traffic.abort();
    exporter.shutdown().await.expect("exporter shuts down");
    sim.shutdown().await;
    drop(prom);
    let _ = std::fs::remove_dir_all(&dir);
}
