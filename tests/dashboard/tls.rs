//! The dashboard behind the server's TLS and basic auth (issue 12: "it keeps
//! working behind the server's basic auth and TLS"): a self-signed
//! certificate made here with rcgen, chromium told to accept it
//! (`acceptInsecureCerts` and `--ignore-certificate-errors`), the page opened
//! at `https://user:password@127.0.0.1:port/dashboard`. It checks that the
//! page is served over HTTPS, that it loads with no error on the page and
//! none in the console, that the event stream delivers (frames arrive and
//! the numbers grow) and that a card renders for each host of the adapter.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use serde_json::json;
use telemetry_runtime::backends::prometheus::PrometheusSink;
use telemetry_runtime::client::RetryPolicy;
use telemetry_runtime::config::{ServerConfig, TlsConfig};
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::temp_dir;

use super::{
    assert_clean_and_screenshot, assert_stylesheet_loaded, browser_tools, js, start_browser,
    start_driver, totals, wait_for, wait_for_cards, BROWSER, CARDS, PASSWORD, USER,
};

#[instrumented_adapter(name = "dash_tls", hosts(cap = 4))]
struct OverTls {}

const HOSTS: [&str; 2] = ["tls-a.test", "tls-b.test"];

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_dashboard_over_https_with_basic_auth() {
    let Some((chromium, driver_bin)) = browser_tools() else {
        return;
    };
    let _turn = BROWSER.lock().await;

    let sim = Simulator::start().await.expect("simulator");
    let mut builder = AdapterClient::builder::<OverTls>().retry(RetryPolicy::none());
    for h in HOSTS {
        sim.route(Route::host(h), Script::always(Step::ok()));
        builder = builder.resolve(h, sim.addr());
    }
    OverTls::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    let client = builder.build().expect("client");

    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("self-signed certificate");
    let dir = temp_dir("dashboard-tls");
    let cert_file = dir.join("server.crt");
    let key_file = dir.join("server.key");
    std::fs::write(&cert_file, cert.cert.pem()).expect("write the certificate");
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).expect("write the key");
    let mut config = ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        tls: Some(TlsConfig {
            cert_file,
            key_file,
        }),
        ..ServerConfig::default()
    };
    config
        .basic_auth_users
        .insert(USER.into(), bcrypt::hash(PASSWORD, 4).expect("bcrypt"));
    let server = telemetry_runtime::server::serve(config)
        .await
        .expect("serves HTTPS");
    let base = server.base_url();
    assert!(base.starts_with("https://"), "{base}");
    let addr = server.local_addr();

    // The certificate is the one made here, and the page wants credentials
    // over HTTPS as over HTTP.
    let https = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).expect("pem"),
        )
        .build()
        .expect("client");
    let anonymous = https
        .get(format!("https://localhost:{}/dashboard", addr.port()))
        .send()
        .await
        .expect("an HTTPS answer with the test's certificate trusted");
    assert_eq!(anonymous.status(), 401);
    let page = https
        .get(format!("https://localhost:{}/dashboard", addr.port()))
        .basic_auth(USER, Some(PASSWORD))
        .send()
        .await
        .expect("the page over HTTPS");
    assert_eq!(page.status(), 200);

    let stop = Arc::new(AtomicBool::new(false));
    let traffic = {
        let stop = Arc::clone(&stop);
        let urls: Vec<String> = HOSTS.iter().map(|h| sim.url(h, "/item")).collect();
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                for url in &urls {
                    client.get(url).send().await.expect("the hosts are healthy");
                }
                tokio::time::sleep(std::time::Duration::from_millis(30)).await;
            }
        })
    };

    let driver = start_driver(&driver_bin).await;
    let c = start_browser(&chromium, &driver).await;
    c.goto(&format!("https://{USER}:{PASSWORD}@{addr}/dashboard"))
        .await
        .expect("open the dashboard over HTTPS");
    let protocol = js(&c, "return location.protocol").await;
    assert_eq!(protocol, json!("https:"));
    // The stream delivers: frames arrive over the TLS connection.
    wait_for(
        &c,
        "the first frame over HTTPS",
        "return window.__dash ? window.__dash.frames : 0",
        |v| v.as_i64().unwrap_or(0) > 0,
    )
    .await;
    assert_eq!(js(&c, "return window.__dash.connected").await, json!(true));
    assert_stylesheet_loaded(&c, " over HTTPS").await;

    // A card for each host, and its numbers grow as traffic runs.
    let port = sim.addr().port();
    let expected: BTreeSet<String> = HOSTS
        .iter()
        .map(|h| format!("dash_tls/{h}:{port}"))
        .collect();
    let cards = wait_for_cards(&c, "a card for each host", &expected).await;
    let before = totals(&cards);
    let later = wait_for(&c, "the totals to grow over HTTPS", CARDS, |v| {
        let now = totals(v);
        expected
            .iter()
            .all(|k| now.get(k).copied().unwrap_or(0) > before.get(k).copied().unwrap_or(0))
    })
    .await;
    for k in &expected {
        let rate = later[k]["rate"].as_str().unwrap_or("");
        assert!(rate.ends_with("/s"), "a rate on {k}: {later}");
        assert_ne!(later[k]["status"], "fail", "{later}");
    }
    let frames_then = js(&c, "return window.__dash.frames").await;
    wait_for(&c, "more frames", "return window.__dash.frames", |v| {
        v.as_i64().unwrap_or(0) > frames_then.as_i64().unwrap_or(0)
    })
    .await;

    let banner = js(
        &c,
        "const b = document.getElementById('banner'); return b.hidden ? '' : b.textContent",
    )
    .await;
    assert!(
        !banner.as_str().unwrap_or("").starts_with("Stream lost"),
        "the stream is up: {banner}"
    );
    assert_clean_and_screenshot(&c, &driver, &server, "dashboard-tls.png").await;

    c.close().await.expect("close the browser");
    drop(driver);
    stop.store(true, Ordering::Relaxed);
    traffic.await.expect("traffic task");
    server.shutdown().await.expect("shutdown");
    sim.shutdown().await;
    let _ = std::fs::remove_dir_all(dir);
}
