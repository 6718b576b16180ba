//! Runtime control (issue 12): a configuration file changes a host's rate
//! limit while traffic runs; a broken file changes nothing; unchanged hosts
//! keep their state; the SIGHUP, file-watch and `POST /-/reload` triggers.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use telemetry_runtime::backends::prometheus::{render, PrometheusSink};
use telemetry_runtime::client::{BreakerPolicy, BreakerState, ClientError, RetryPolicy};
use telemetry_runtime::config::ServerConfig;
use telemetry_runtime::control::{Controller, ReloadError};
use telemetry_runtime::core::reloads::config_reloads;
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{Route, Script, Simulator, Step};
use telemetry_tests::support::exposition::sample;
use telemetry_tests::support::fs::temp_dir;

#[instrumented_adapter(name = "reload_main", hosts(cap = 8))]
struct ReloadMain {}

/// Sends `n` requests one after the other; `(passed, rate limited)`.
async fn burst(client: &AdapterClient, url: &str, n: usize) -> (usize, usize) {
    let (mut passed, mut limited) = (0, 0);
    for _ in 0..n {
        match client.get(url).send().await {
            Ok(_) => passed += 1,
            Err(ClientError::RateLimited { .. }) => limited += 1,
            Err(e) => panic!("unexpected error: {e:?}"),
        }
    }
    (passed, limited)
}

/// A token bucket that does not refill within the test: what passes is the
/// burst, by count, whatever the timing.
fn tuned(burst: u32) -> String {
    format!(
        "[client.reload_main]\nretry = {{ max_attempts = 1 }}\n\n\
         [client.reload_main.hosts.\"tuned.test\"]\n\
         rate_limit = {{ per_second = 0.0001, burst = {burst}, max_queue_depth = 0 }}\n"
    )
}

#[tokio::test]
async fn a_reload_changes_one_hosts_rate_under_traffic_and_a_broken_file_changes_nothing() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("tuned.test"), Script::always(Step::ok()));
    sim.route(Route::host("busy.test"), Script::always(Step::ok()));
    sim.route(
        Route::host("broken.test"),
        Script::always(Step::status(500)),
    );
    ReloadMain::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    let client = AdapterClient::builder::<ReloadMain>()
        .resolve("tuned.test", sim.addr())
        .resolve("busy.test", sim.addr())
        .resolve("broken.test", sim.addr())
        .retry(RetryPolicy::none())
        .breaker(
            BreakerPolicy::default()
                .consecutive_failures(1)
                .open_timeout(Duration::from_secs(600)),
        )
        .build()
        .expect("client");
    let dir = temp_dir("reload-main");
    let path = dir.join("adapter.toml");
    std::fs::write(&path, tuned(2)).expect("write");
    let control = Arc::new(Controller::new(&path));
    control.add_client(&client);
    control.reload().await.expect("the first file is valid");

    // The breaker of broken.test opens and must stay open across reloads
    // that do not touch it.
    let broken = sim.url("broken.test", "/");
    let _ = client.get(&broken).send().await.expect("a 500 comes back");
    let broken_host = format!("broken.test:{}", sim.port());
    let open = || {
        client
            .breaker_states()
            .into_iter()
            .find(|(h, _)| *h == broken_host)
            .map(|(_, s)| s)
    };
    assert_eq!(open(), Some(BreakerState::Open));

    // Traffic runs on busy.test throughout.
    let stop = Arc::new(AtomicBool::new(false));
    let busy_ok = Arc::new(AtomicU64::new(0));
    let traffic = {
        let (client, stop, ok) = (client.clone(), stop.clone(), busy_ok.clone());
        let url = sim.url("busy.test", "/");
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                client
                    .get(&url)
                    .send()
                    .await
                    .expect("busy.test never fails");
                ok.fetch_add(1, Ordering::Relaxed);
            }
        })
    };

    let url = sim.url("tuned.test", "/");
    assert_eq!(burst(&client, &url, 8).await, (2, 6), "burst 2");
    let tuned_host = format!("tuned.test:{}", sim.port());
    let snap = client.limiter_snapshot_for(&tuned_host).expect("limited");
    assert_eq!((snap.acquired, snap.rejected), (2, 6));

    std::fs::write(&path, tuned(5)).expect("write");
    let outcome = control.reload().await.expect("valid");
    let change = &outcome.clients["reload_main"];
    assert_eq!(change.renewed, vec![tuned_host.clone()]);
    assert!(change.kept.contains(&broken_host), "{change:?}");
    assert_eq!(burst(&client, &url, 8).await, (5, 3), "the new burst");
    let snap = client.limiter_snapshot_for(&tuned_host).expect("limited");
    assert_eq!((snap.acquired, snap.rejected), (5, 3), "a fresh limiter");
    assert_eq!(
        open(),
        Some(BreakerState::Open),
        "unchanged host kept its breaker"
    );
    assert_eq!(sim.hits("tuned.test", None), 7);

    // A broken file: nothing changes, the error has the line and column.
    let before = client.policies();
    let (_, errors_before) = config_reloads();
    std::fs::write(
        &path,
        "[client.reload_main.hosts.\"tuned.test\"]\nrate_limit = { per_second = 1.0, burst = \"many\" }\n",
    )
    .expect("write");
    let Err(ReloadError::File(e)) = control.reload().await else {
        panic!("a broken file is refused")
    };
    assert_eq!(e.position.map(|(line, _)| line), Some(2), "{e}");
    assert!(e.to_string().contains("adapter.toml:2:"), "{e}");
    assert_eq!(client.policies(), before, "nothing changed");
    assert_eq!(
        burst(&client, &url, 2).await,
        (0, 2),
        "still the old limiter, its tokens spent"
    );
    let (_, errors_after) = config_reloads();
    assert!(errors_after > errors_before);
    let text = render();
    let shown =
        sample(&text, "telemetry_config_reloads_total{result=\"error\"}").expect("exported");
    assert!(shown >= errors_after as f64, "{shown} {errors_after}");

    // An unknown key is refused with its position too.
    std::fs::write(
        &path,
        "[client.reload_main]\nrate_limt = { per_second = 1.0 }\n",
    )
    .expect("write");
    let Err(ReloadError::File(e)) = control.reload().await else {
        panic!("a typo is refused")
    };
    assert!(e.to_string().contains("rate_limt"), "{e}");
    assert_eq!(client.policies(), before);

    stop.store(true, Ordering::Relaxed);
    traffic.await.expect("traffic task");
    assert!(busy_ok.load(Ordering::Relaxed) > 0);
    let _ = std::fs::remove_dir_all(dir);
}

#[instrumented_adapter(name = "reload_triggers", hosts(cap = 8))]
struct ReloadTriggers {}

/// Polls `f` every 20 ms until it holds or `deadline` passes.
async fn eventually(deadline: Duration, f: impl Fn() -> bool) -> bool {
    let until = Instant::now() + deadline;
    while Instant::now() < until {
        if f() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    f()
}

fn attempts_file(n: u32) -> String {
    format!("[client.reload_triggers]\nretry = {{ max_attempts = {n} }}\n")
}

#[tokio::test]
async fn sighup_and_file_changes_reload() {
    let client = AdapterClient::builder::<ReloadTriggers>()
        .build()
        .expect("client");
    let dir = temp_dir("reload-triggers");
    let path = dir.join("adapter.toml");
    std::fs::write(&path, attempts_file(2)).expect("write");
    let control = Arc::new(Controller::new(&path));
    control.add_client(&client);
    let attempts = || client.policies().retry.attempts();
    assert_eq!(attempts(), 3, "the builder's default until a reload");

    let _hup = control.watch_sighup().expect("handler");
    let status = std::process::Command::new("kill")
        .args(["-HUP", &std::process::id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    assert!(
        eventually(Duration::from_secs(10), || attempts() == 2).await,
        "SIGHUP reloaded"
    );

    let watch = control.watch_file().expect("watch");
    let (ok_before, _) = config_reloads();
    std::fs::write(&path, attempts_file(5)).expect("write");
    assert!(
        eventually(Duration::from_secs(20), || attempts() == 5).await,
        "the file change reloaded"
    );
    assert!(config_reloads().0 > ok_before);
    drop(watch);
    let _ = std::fs::remove_dir_all(dir);
}

#[instrumented_adapter(name = "reload_post", hosts(cap = 8))]
struct ReloadPost {}

/// The server part of `path` served, with a controller of `path` attached
/// to it.
async fn served_with_controller(
    path: &std::path::Path,
) -> (telemetry_runtime::server::ServerHandle, Arc<Controller>) {
    let config = ServerConfig::from_file(path).expect("server part");
    let server = telemetry_runtime::server::serve(config.clone())
        .await
        .expect("serve");
    let control = Arc::new(Controller::new(path));
    control.attach(&server, config);
    (server, control)
}

#[tokio::test]
async fn post_reload_needs_credentials_and_is_refused_without_users() {
    let client = AdapterClient::builder::<ReloadPost>()
        .build()
        .expect("client");
    let dir = temp_dir("reload-post");
    let path = dir.join("adapter.toml");
    let hash = bcrypt::hash("pw", 4).expect("hash");
    let file = |n: u32| {
        format!(
            "listen = \"127.0.0.1:0\"\n[basic_auth_users]\nops = \"{hash}\"\n\
             [client.reload_post]\nretry = {{ max_attempts = {n} }}\n"
        )
    };
    std::fs::write(&path, file(2)).expect("write");
    let (server, control) = served_with_controller(&path).await;
    control.add_client(&client);
    let http = reqwest::Client::new();
    let url = format!("{}/-/reload", server.base_url());

    let r = http.post(&url).send().await.expect("answer");
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(client.policies().retry.attempts(), 3, "not reloaded");
    let r = http
        .post(&url)
        .basic_auth("ops", Some("pw"))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 200, "{:?}", r.text().await);
    assert_eq!(client.policies().retry.attempts(), 2);

    // A broken file: 422 and the position.
    std::fs::write(&path, format!("{}[client.reload_post.retry]\n", file(4))).expect("write");
    let r = http
        .post(&url)
        .basic_auth("ops", Some("pw"))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 422);
    let body = r.text().await.expect("body");
    assert!(body.contains("adapter.toml:"), "{body}");
    assert_eq!(client.policies().retry.attempts(), 2);

    // Removing every user would switch auth off: refused.
    std::fs::write(&path, "listen = \"127.0.0.1:0\"\n").expect("write");
    let r = http
        .post(&url)
        .basic_auth("ops", Some("pw"))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 422);
    server.shutdown().await.expect("shutdown");

    // No users and no explicit permission: refused.
    let open = telemetry_runtime::server::serve(ServerConfig {
        listen: "127.0.0.1:0".parse().expect("addr"),
        ..ServerConfig::default()
    })
    .await
    .expect("serve");
    open.set_reload_hook(control.clone());
    let r = http
        .post(format!("{}/-/reload", open.base_url()))
        .send()
        .await
        .expect("answer");
    assert_eq!(r.status().as_u16(), 403);
    open.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(dir);
}

/// A self-signed certificate for `localhost` and `127.0.0.1`: its PEM
/// certificate, its PEM key and its DER certificate.
fn self_signed() -> (String, String, Vec<u8>) {
    let c = rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
        .expect("self-signed certificate");
    (
        c.cert.pem(),
        c.signing_key.serialize_pem(),
        c.cert.der().to_vec(),
    )
}

/// The certificate a fresh TLS connection to `base` is presented (DER):
/// a new client each time, so a new connection and a new handshake.
async fn presented(base: &str) -> Vec<u8> {
    let fresh = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .expect("client");
    let r = fresh
        .get(format!("{base}/health"))
        .send()
        .await
        .expect("an HTTPS answer");
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("the peer certificate is recorded")
        .to_vec()
}

/// `telemetry_config_reloads_total{result="<result>"}` as `/metrics` shows it.
async fn reloads_shown(http: &reqwest::Client, base: &str, result: &str) -> f64 {
    let text = http
        .get(format!("{base}/metrics"))
        .basic_auth("ops", Some("pw"))
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .expect("body");
    sample(
        &text,
        &format!("telemetry_config_reloads_total{{result=\"{result}\"}}"),
    )
    .unwrap_or_else(|| panic!("the reload counter of {result} is exported"))
}

#[tokio::test]
async fn a_reload_replaces_the_certificate_and_a_broken_one_changes_nothing() {
    // Alone in its process: the reload counters are exact.
    telemetry_tests::run_alone!(a_reload_replaces_the_certificate_and_a_broken_one_changes_nothing);
    let dir = temp_dir("reload-tls");
    let (a_pem, a_key, a_der) = self_signed();
    let (b_pem, b_key, b_der) = self_signed();
    assert_ne!(a_der, b_der);
    for (name, text) in [
        ("a.crt", &a_pem),
        ("a.key", &a_key),
        ("b.crt", &b_pem),
        ("b.key", &b_key),
    ] {
        std::fs::write(dir.join(name), text).expect("write");
    }
    let path = dir.join("adapter.toml");
    let hash = bcrypt::hash("pw", 4).expect("hash");
    let file = |cert: &std::path::Path, key: &std::path::Path| {
        format!(
            "listen = \"127.0.0.1:0\"\nauth_exempt = [\"/health\"]\n\
             [basic_auth_users]\nops = \"{hash}\"\n\
             [tls_server_config]\ncert_file = {:?}\nkey_file = {:?}\n",
            cert.display().to_string(),
            key.display().to_string(),
        )
    };
    std::fs::write(&path, file(&dir.join("a.crt"), &dir.join("a.key"))).expect("write");
    let (server, control) = served_with_controller(&path).await;
    let base = server.base_url();
    assert!(base.starts_with("https://"), "{base}");
    assert_eq!(presented(&base).await, a_der, "started with certificate A");

    // A connection opened before the reload, kept alive across it.
    let http = reqwest::Client::builder()
        .tls_danger_accept_invalid_certs(true)
        .tls_info(true)
        .build()
        .expect("client");
    let reload = || async {
        let r = http
            .post(format!("{base}/-/reload"))
            .basic_auth("ops", Some("pw"))
            .send()
            .await
            .expect("answer");
        let code = r.status().as_u16();
        (code, r.text().await.expect("body"))
    };

    let kept = |r: &reqwest::Response| {
        r.extensions()
            .get::<reqwest::tls::TlsInfo>()
            .and_then(|i| i.peer_certificate())
            .map(<[u8]>::to_vec)
    };
    let r = http
        .get(format!("{base}/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(kept(&r), Some(a_der.clone()));

    // New paths: B.
    let (ok_before, _) = config_reloads();
    std::fs::write(&path, file(&dir.join("b.crt"), &dir.join("b.key"))).expect("write");
    let (code, body) = reload().await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(config_reloads().0, ok_before + 1);
    assert_eq!(presented(&base).await, b_der, "a new connection gets B");
    let r = http
        .get(format!("{base}/health"))
        .send()
        .await
        .expect("health");
    assert_eq!(kept(&r), Some(a_der.clone()), "the open connection keeps A");

    // A path that does not exist: refused, B stays, counted as an error.
    let (_, errors_before) = config_reloads();
    let shown_before = reloads_shown(&http, &base, "error").await;
    std::fs::write(&path, file(&dir.join("missing.crt"), &dir.join("b.key"))).expect("write");
    let (code, body) = reload().await;
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("missing.crt"), "{body}");
    assert_eq!(presented(&base).await, b_der, "B stays");
    assert_eq!(config_reloads().1, errors_before + 1);
    let shown = reloads_shown(&http, &base, "error").await;
    assert_eq!(shown, shown_before + 1.0, "/metrics counts it");

    // The same path with content that is no certificate: refused too.
    std::fs::write(dir.join("b.crt"), "not a certificate\n").expect("write");
    std::fs::write(&path, file(&dir.join("b.crt"), &dir.join("b.key"))).expect("write");
    let (code, body) = reload().await;
    assert_eq!(code, 422, "{body}");
    assert!(body.contains("tls_server_config"), "{body}");
    assert_eq!(presented(&base).await, b_der, "B stays");
    assert_eq!(config_reloads().1, errors_before + 2);

    // The same paths with new content (a rotation in place), through the
    // controller directly: A again.
    std::fs::write(dir.join("b.crt"), &a_pem).expect("write");
    std::fs::write(dir.join("b.key"), &a_key).expect("write");
    control.reload().await.expect("the rotated files are valid");
    assert_eq!(presented(&base).await, a_der, "rotated in place");

    server.shutdown().await.expect("shutdown");
    let _ = std::fs::remove_dir_all(dir);
}
