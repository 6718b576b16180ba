//! The Pushgateway push: a real `prometheus-pushgateway` on a free loopback
//! port receives the run's exposition grouped by job and run id.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use telemetry_runtime::backends::prometheus::push::Pushgateway;
use telemetry_runtime::backends::prometheus::PrometheusSink;
use telemetry_runtime::run::Run;
use telemetry_runtime::{instrumented_adapter, InstrumentedAdapter};
use telemetry_tests::support::tools::require_tool_installed_by;
use telemetry_tests::support::{drive, free_port};

#[instrumented_adapter(name = "store_pushed", hosts(cap = 4))]
struct Pushed {}

struct KillOnDrop(Child);
impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(url: &str) -> Option<String> {
    let resp = reqwest::blocking::get(url).ok()?;
    resp.status()
        .is_success()
        .then(|| resp.text().ok())
        .flatten()
}

#[test]
fn a_run_is_pushed_grouped_by_job_and_run_id() {
    let Some(pgw) = require_tool_installed_by(
        "prometheus-pushgateway",
        "`apt-get install prometheus-pushgateway` (scripts/test.sh installs it)",
    ) else {
        return;
    };
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let _gw = KillOnDrop(
        Command::new(pgw)
            .arg(format!("--web.listen-address={listen}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start prometheus-pushgateway"),
    );
    let base = format!("http://{listen}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&format!("{base}/-/ready")).is_none() {
        assert!(
            Instant::now() < deadline,
            "the Pushgateway did not get ready"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    Pushed::telemetry().set_sink(Some(Box::new(PrometheusSink::new())));
    drive(Pushed::telemetry(), "api.example.org");
    let run = Run::start("store-push-test");
    Pushgateway::new(&base).push_run(&run).expect("push");

    let metrics = get(&format!("{base}/metrics")).expect("GET /metrics");
    let job = format!("job=\"{}\"", run.job());
    let run_id = format!("run_id=\"{}\"", run.id());
    let pushed: Vec<&str> = metrics
        .lines()
        .filter(|l| {
            l.contains(&job) && l.contains(&run_id) && l.contains("adapter=\"store_pushed\"")
        })
        .collect();
    assert!(
        pushed
            .iter()
            .any(|l| l.starts_with("http_requests_total")
                || l.starts_with("http_client_requests_total")),
        "no request series of the run in the Pushgateway:\n{}",
        pushed.join("\n")
    );
    // The push time the Pushgateway records per group.
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("push_time_seconds") && l.contains(&run_id)),
        "no push_time_seconds of the group"
    );

    // Periodic pushes of a second run, then the final one at stop().
    let periodic = Run::start("store-push-periodic");
    let gw = Pushgateway::new(&base);
    let pusher = gw.every(&periodic, Duration::from_millis(100));
    let deadline = Instant::now() + Duration::from_secs(20);
    let periodic_id = format!("run_id=\"{}\"", periodic.id());
    loop {
        let m = get(&format!("{base}/metrics")).unwrap_or_default();
        if m.lines()
            .any(|l| l.starts_with("push_time_seconds") && l.contains(&periodic_id))
        {
            break;
        }
        assert!(Instant::now() < deadline, "no periodic push arrived");
        std::thread::sleep(Duration::from_millis(50));
    }
    pusher.stop().expect("final push");
    Pushed::telemetry().set_sink(None);
}
