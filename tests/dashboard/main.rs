//! The dashboard in a real browser: Debian's `chromium` headless, driven
//! through `chromedriver` (WebDriver) with fantoccini, against a server with
//! basic auth and simulator traffic on two adapters.
//!
//! It checks that the page loads with no error (the page's own hook
//! `window.__errors` collects script errors, failed resource loads and
//! policy violations), that a card appears for every adapter and host, that
//! the numbers change as traffic runs, that a host whose breaker opens shows
//! it within a few seconds, and it writes a screenshot to
//! `target/dashboard.png`.
//!
//! `tls.rs` serves the same page over HTTPS (a self-signed certificate made
//! in the test) with basic auth, and checks the page, the stream and the
//! cards there. Both tests also read chromium's console log through
//! chromedriver and fail on any entry of level `SEVERE`. They take turns
//! (one browser at a time).
//!
//! A missing `chromium` or `chromedriver` fails the test under
//! `TELEMETRY_REQUIRE_TOOLS=1` or `CI=true` (`scripts/test.sh` installs
//! both); a browser that is there but cannot start always fails it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder};
use serde_json::{json, Value};
use telemetry_runtime::backends::prometheus::PrometheusSink;
use telemetry_runtime::client::{BreakerPolicy, RetryPolicy};
use telemetry_runtime::config::ServerConfig;
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::scenario::Scenario;
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::free_port;
use telemetry_tests::support::tools::{find_tool, tools_required, REQUIRE_TOOLS};

mod tls;

/// One browser at a time: the tests of this binary take turns.
static BROWSER: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[instrumented_adapter(name = "dash_crossref", hosts(cap = 16))]
struct Crossref {}

#[instrumented_adapter(name = "dash_switch", hosts(cap = 4))]
struct Switch {}

const USER: &str = "viewer";
const PASSWORD: &str = "dash-secret";

/// The browser and its driver, or `None` (after a notice) when they are
/// missing and not required.
fn browser_tools() -> Option<(PathBuf, PathBuf)> {
    let chromium = find_tool("chromium").or_else(|| find_tool("chromium-browser"));
    let driver = find_tool("chromedriver");
    match (chromium, driver) {
        (Some(c), Some(d)) => Some((c, d)),
        (c, d) => {
            let msg = format!(
                "chromium ({}) and chromedriver ({}) are needed: \
                 `apt-get install chromium chromium-driver` (scripts/test.sh does)",
                if c.is_some() { "found" } else { "missing" },
                if d.is_some() { "found" } else { "missing" },
            );
            if let Some(why) = tools_required() {
                panic!("{msg}. {why}, so a missing browser fails the test");
            }
            let _ = writeln!(
                std::io::stderr(),
                "\n!!!!!!!! SKIPPED the dashboard browser test: {msg}; \
                 set {REQUIRE_TOOLS}=1 (or CI=true) to make this a failure !!!!!!!!\n"
            );
            None
        }
    }
}

/// chromedriver on a free loopback port, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn start_driver(driver: &Path) -> Driver {
    let port = free_port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", driver.display()));
    let d = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return d;
        }
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port} within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn start_browser(chromium: &Path, driver: &Driver) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu",
                "--disable-dev-shm-usage", "--window-size=1440,1100",
                "--no-first-run", "--no-default-browser-check",
                // The TLS test's certificate is self-signed.
                "--ignore-certificate-errors",
            ],
        }),
    );
    caps.insert("acceptInsecureCerts".into(), json!(true));
    // The console, read back by `console_errors`.
    caps.insert("goog:loggingPrefs".into(), json!({"browser": "ALL"}));
    let builder = ClientBuilder::rustls();
    let mut builder = match builder {
        Ok(b) => b,
        Err(e) => panic!("fantoccini's TLS connector: {e}"),
    };
    match builder.capabilities(caps).connect(&driver.url).await {
        Ok(c) => c,
        // The browser is there: it must start, required or not.
        Err(e) => panic!("chromium did not start through chromedriver: {e}"),
    }
}

/// Chromium's console entries of level `SEVERE` since the last call (the
/// log is drained by reading it), through chromedriver's log endpoint.
async fn console_errors(c: &Client, driver: &Driver) -> Vec<Value> {
    let id = c
        .session_id()
        .await
        .expect("the session id")
        .expect("a session");
    let r = reqwest::Client::new()
        .post(format!("{}/session/{id}/se/log", driver.url))
        .header("content-type", "application/json")
        .body(json!({"type": "browser"}).to_string())
        .send()
        .await
        .expect("chromedriver answers the log request");
    let status = r.status();
    let text = r.text().await.expect("the browser log");
    assert!(status.is_success(), "the browser log: {status} {text}");
    let v: Value = serde_json::from_str(&text).expect("the browser log as JSON");
    let entries = v["value"]
        .as_array()
        .unwrap_or_else(|| panic!("the browser log is a list: {v}"));
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .cloned()
        .collect()
}

/// Asserts the page's embedded stylesheet loaded (it has rules), `how` (plain
/// HTTP or over HTTPS) in the message.
async fn assert_stylesheet_loaded(c: &Client, how: &str) {
    let css_rules = js(
        c,
        "return document.styleSheets.length && document.styleSheets[0].cssRules.length",
    )
    .await;
    assert!(
        css_rules.as_i64().unwrap_or(0) > 10,
        "the stylesheet loaded{how}: {css_rules}"
    );
}

async fn js(c: &Client, script: &str) -> Value {
    c.execute(script, Vec::new())
        .await
        .unwrap_or_else(|e| panic!("script {script:?}: {e}"))
}

/// Polls `script` until `ok` holds, with a generous deadline.
async fn wait_for(c: &Client, what: &str, script: &str, ok: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let v = js(c, script).await;
        if ok(&v) {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "waited 60 s for {what}; last {v}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// `data-key` → requests in total, of every card on the page.
const CARDS: &str = "return Object.fromEntries([...document.querySelectorAll('article.card')]
    .map(c => [c.dataset.key, {status: c.dataset.status, breaker: c.dataset.breaker,
                  total: parseInt((c.querySelector('.v-rate').title || '0'), 10),
                  rate: c.querySelector('.v-rate').textContent}]))";

fn totals(cards: &Value) -> BTreeMap<String, i64> {
    cards
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v["total"].as_i64().unwrap_or(-1)))
                .collect()
        })
        .unwrap_or_default()
}

/// The cards once there is one for each key of `expected` (`adapter/host`).
async fn wait_for_cards(c: &Client, what: &str, expected: &BTreeSet<String>) -> Value {
    wait_for(c, what, CARDS, |v| {
        let have: BTreeSet<String> = v
            .as_object()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default();
        expected.is_subset(&have)
    })
    .await
}

fn workspace_target() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target")
}

/// Nothing went wrong on the page or in the console, the server counts
/// this one client, and a screenshot is saved as `target/<file>`; returns
/// the PNG.
async fn assert_clean_and_screenshot(
    c: &Client,
    driver: &Driver,
    server: &telemetry_runtime::server::ServerHandle,
    file: &str,
) -> Vec<u8> {
    assert_eq!(
        js(c, "return window.__errors").await,
        json!([]),
        "errors on the page"
    );
    assert_eq!(
        console_errors(c, driver).await,
        Vec::<Value>::new(),
        "errors in the console"
    );
    assert_eq!(server.dashboard().map(|d| d.clients()), Some(1));
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let target = workspace_target();
    std::fs::create_dir_all(&target).expect("target dir");
    std::fs::write(target.join(file), &png).expect("write the screenshot");
    png
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_in_chromium() {
    let Some((chromium, driver_bin)) = browser_tools() else {
        return;
    };
    let _turn = BROWSER.lock().await;

    // Traffic: the scenario's seven hosts on one adapter, and a host on a
    // second adapter that is healthy until the test switches it to 500s.
    let sim = Simulator::start().await.expect("simulator");
    let scenario = Scenario::default_scenario();
    scenario.install(&sim);
    sim.route(Route::host("switch.test"), Script::always(Step::ok()));
    Crossref::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    Switch::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    let crossref = scenario
        .client_builder::<Crossref>(&sim)
        .build()
        .expect("client");
    let switch = AdapterClient::builder::<Switch>()
        .resolve("switch.test", sim.addr())
        .retry(RetryPolicy::default().max_attempts(1))
        .breaker(
            BreakerPolicy::default()
                .consecutive_failures(3)
                .open_timeout(Duration::from_secs(120)),
        )
        .build()
        .expect("client");

    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServerConfig::default()
    };
    config
        .basic_auth_users
        .insert(USER.into(), bcrypt::hash(PASSWORD, 4).expect("bcrypt"));
    let server = telemetry_runtime::server::serve(config)
        .await
        .expect("serves");
    let addr = server.local_addr();

    // Without credentials the page is refused like /metrics.
    let anonymous = reqwest::get(format!("http://{addr}/dashboard"))
        .await
        .expect("get");
    assert_eq!(anonymous.status(), 401);

    let stop = Arc::new(AtomicBool::new(false));
    let mut traffic = tokio::task::JoinSet::new();
    {
        let stop = Arc::clone(&stop);
        let client = crossref.clone();
        let sim_urls = scenario.urls(&sim);
        traffic.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for url in &sim_urls {
                    let _ = client.get(url).send().await;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        });
    }
    {
        let stop = Arc::clone(&stop);
        let client = switch.clone();
        let url = sim.url("switch.test", "/item");
        traffic.spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let _ = client.get(&url).send().await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
    }

    let driver = start_driver(&driver_bin).await;
    let c = start_browser(&chromium, &driver).await;
    // Credentials in the address: the browser keeps them for the origin,
    // and the page's same-origin EventSource sends them.
    let started = Instant::now();
    c.goto(&format!("http://{USER}:{PASSWORD}@{addr}/dashboard"))
        .await
        .expect("open the dashboard");
    wait_for(
        &c,
        "the first frame",
        "return window.__dash ? window.__dash.frames : 0",
        |v| v.as_i64().unwrap_or(0) > 0,
    )
    .await;
    let first_paint = js(&c, "return window.__dash.firstDataPaint").await;
    let _ = writeln!(
        std::io::stderr(),
        "dashboard: first data paint at {first_paint} ms after navigation start ({} ms wall)",
        started.elapsed().as_millis()
    );
    assert_stylesheet_loaded(&c, "").await;

    // A card for every adapter and host.
    // The host label keeps a port that is not the scheme's default.
    let port = sim.addr().port();
    let key = |adapter: &str, host: &str| format!("{adapter}/{host}:{port}");
    let switch_key = key("dash_switch", "switch.test");
    let healthy_key = key("dash_crossref", "api-a.test");
    let mut expected: BTreeSet<String> = scenario
        .hosts
        .iter()
        .map(|h| key("dash_crossref", h.host))
        .collect();
    expected.insert(switch_key.clone());
    let cards = wait_for_cards(&c, "a card for every host", &expected).await;
    let before = totals(&cards);

    // The numbers change as traffic runs.
    let later = wait_for(&c, "the totals to grow", CARDS, |v| {
        let now = totals(v);
        [&healthy_key, &switch_key]
            .iter()
            .all(|k| now.get(*k).copied().unwrap_or(0) > before.get(*k).copied().unwrap_or(0))
    })
    .await;
    let rate = later[&healthy_key]["rate"].as_str().unwrap_or("");
    assert!(rate.ends_with("/s"), "a rate is shown: {later}");
    assert_ne!(later[&switch_key]["breaker"], "open", "{later}");

    // The switch host goes down: its breaker opens, and the card says so.
    sim.route(
        Route::host("switch.test"),
        Script::always(Step::status(500)),
    );
    let opened = Instant::now();
    let cards = wait_for(&c, "the open breaker on the card", CARDS, |v| {
        v[&switch_key]["breaker"] == "open" && v[&switch_key]["status"] == "fail"
    })
    .await;
    let _ = writeln!(
        std::io::stderr(),
        "dashboard: open breaker shown {} ms after the host went down",
        opened.elapsed().as_millis()
    );
    // Trouble first: within each adapter, failing cards before the others,
    // and the section of a failing host before a section without one.
    let statuses = js(
        &c,
        "return [...document.querySelectorAll('div.adapter')].map(a =>
            [...a.querySelectorAll('article.card')].map(c => c.dataset.status))",
    )
    .await;
    let rank = |s: &Value| match s.as_str() {
        Some("fail") => 2,
        Some("warn") => 1,
        _ => 0,
    };
    for section in statuses.as_array().into_iter().flatten() {
        let ranks: Vec<i32> = section.as_array().into_iter().flatten().map(rank).collect();
        assert!(
            ranks.windows(2).all(|w| w[0] >= w[1]),
            "ordered by trouble: {statuses} {cards}"
        );
    }
    assert_eq!(statuses[0][0], "fail", "{statuses}");
    let breaker_text = js(
        &c,
        &format!(
            "return document.querySelector('[data-key=\"{switch_key}\"] .v-breaker').textContent"
        ),
    )
    .await;
    assert!(
        breaker_text.as_str().unwrap_or("").starts_with("open · "),
        "{breaker_text}"
    );
    // Recent errors list the failures, with their correlation ids.
    let errors = wait_for(
        &c,
        "the recent errors",
        "return [...document.querySelectorAll('#errors tbody tr')].map(r => r.textContent)",
        |v| {
            v.as_array().is_some_and(|rows| {
                rows.iter()
                    .any(|r| r.as_str().unwrap_or("").contains("switch.test"))
            })
        },
    )
    .await;
    assert!(
        errors.to_string().contains("http_500") || errors.to_string().contains("circuit_open"),
        "{errors}"
    );

    // Nothing went wrong on the page.
    let png = assert_clean_and_screenshot(&c, &driver, &server, "dashboard.png").await;
    if std::env::var_os("DASHBOARD_SCREENSHOT_DOCS").is_some() {
        std::fs::write(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/dashboard.png"),
            &png,
        )
        .expect("write docs/dashboard.png");
    }

    // The stream lost: the page says so plainly.
    stop.store(true, Ordering::Relaxed);
    while traffic.join_next().await.is_some() {}
    let dashboard = server.dashboard().cloned();
    server.shutdown().await.expect("shutdown");
    wait_for(
        &c,
        "the lost-stream banner",
        "const b = document.getElementById('banner'); return b.hidden ? '' : b.textContent",
        |v| {
            v.as_str()
                .unwrap_or("")
                .starts_with("Stream lost — reconnecting")
        },
    )
    .await;
    c.close().await.expect("close the browser");
    drop(driver);
    // With the browser gone, nobody watches: the sampler stops.
    if let Some(d) = dashboard {
        let deadline = Instant::now() + Duration::from_secs(30);
        while d.clients() > 0 && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert_eq!(d.clients(), 0);
    }
    sim.shutdown().await;
}
