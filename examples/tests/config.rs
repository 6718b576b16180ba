//! The main job's `--config FILE` (issue 12): it starts from a file and
//! says so, reloads it on a change of the file, on `POST /-/reload` and on
//! SIGHUP (and survives the signal), keeps running on a broken file while
//! counting the error; and a bad file at start ends it with one line on
//! stderr and exit code 2, never a panic.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const JOB: &str = env!("CARGO_BIN_EXE_telemetry-examples");

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("examples-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn run(args: &[&str]) -> Output {
    Command::new(JOB)
        .args(args)
        .output()
        .expect("the main job runs")
}

/// The main job, killed on drop; its stdout and stderr lines collected.
struct Job {
    child: Child,
    out: Arc<Mutex<Vec<String>>>,
    err: Arc<Mutex<Vec<String>>>,
}

impl Drop for Job {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(r: impl std::io::Read + Send + 'static) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let l = Arc::clone(&lines);
    std::thread::spawn(move || {
        for line in BufReader::new(r).lines().map_while(Result::ok) {
            l.lock().expect("lines").push(line);
        }
    });
    lines
}

impl Job {
    fn start(args: &[&str]) -> Job {
        let mut child = Command::new(JOB)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the main job starts");
        let out = collect(child.stdout.take().expect("stdout"));
        let err = collect(child.stderr.take().expect("stderr"));
        Job { child, out, err }
    }

    /// Waits (60 s at most) for a line of `which` that `f` accepts.
    fn wait_line(
        &mut self,
        stderr: bool,
        what: &str,
        f: impl Fn(&[String]) -> Option<String>,
    ) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let lines = if stderr { &self.err } else { &self.out };
            if let Some(found) = f(&lines.lock().expect("lines")) {
                return found;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "the job ended ({status}) before {what}; stdout {:?} stderr {:?}",
                    self.out.lock().expect("lines"),
                    self.err.lock().expect("lines")
                );
            }
            assert!(
                Instant::now() < deadline,
                "waited 60 s for {what}; stderr {:?}",
                self.err.lock().expect("lines")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn count_err(&self, needle: &str) -> usize {
        self.err
            .lock()
            .expect("lines")
            .iter()
            .filter(|l| l.contains(needle))
            .count()
    }
}

/// One HTTP/1.1 request over a fresh connection: `(status, body)`.
fn http(addr: &str, method: &str, path: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    )
    .expect("write");
    let mut text = String::new();
    s.read_to_string(&mut text).expect("read");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("an HTTP answer: {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn good_file(attempts: u32) -> String {
    format!(
        "listen = \"127.0.0.1:0\"\nallow_unauthenticated_reload = true\n\n\
         [client.crossref]\nretry = {{ max_attempts = {attempts} }}\n\n\
         [client.crossref.hosts.\"api-a.test\"]\nrate_limit = {{ per_second = 500.0, burst = 50 }}\n"
    )
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("a UTF-8 path")
}

#[test]
fn the_main_job_runs_from_a_config_file() {
    let dir = temp_dir("config-smoke");
    let path = dir.join("job.toml");
    std::fs::write(&path, good_file(2)).expect("write");
    let out = run(&["--smoke", "--config", path_str(&path)]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    let line = stdout
        .lines()
        .find(|l| l.starts_with("configuration from "))
        .unwrap_or_else(|| panic!("where the configuration came from: {stdout}"));
    assert!(line.contains("job.toml"), "{line}");
    assert!(
        line.contains("SIGHUP") && line.contains("/-/reload"),
        "{line}"
    );
    assert!(stdout.contains("lookups served"), "the job ran: {stdout}");

    // The file the README names, with `--listen` over its `listen`.
    let shipped = concat!(env!("CARGO_MANIFEST_DIR"), "/main-job.toml");
    let out = run(&["--smoke", "--listen", "127.0.0.1:0", "--config", shipped]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("main-job.toml"), "{stdout}");
    assert!(!stdout.contains(":9464/"), "--listen wins: {stdout}");

    // Without --config it says so too.
    let out = run(&["--smoke"]);
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("configuration: the job's defaults"),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_main_job_reloads_on_file_change_post_and_sighup() {
    let dir = temp_dir("config-reload");
    let path = dir.join("job.toml");
    std::fs::write(&path, good_file(2)).expect("write");
    let mut job = Job::start(&["--smoke", "--hold", "120", "--config", path_str(&path)]);
    let from = job.wait_line(false, "the configuration line", |lines| {
        lines
            .iter()
            .find(|l| l.starts_with("configuration from "))
            .cloned()
    });
    let addr = from
        .split("POST http://")
        .nth(1)
        .and_then(|r| r.split('/').next())
        .unwrap_or_else(|| panic!("the reload address in {from:?}"))
        .to_owned();
    // The traffic has run: every host is in the clients' tables.
    job.wait_line(false, "the hold", |lines| {
        lines
            .iter()
            .find(|l| l.contains("holding /metrics"))
            .cloned()
    });
    let reloaded = "configuration reloaded";
    assert_eq!(job.count_err(reloaded), 0, "the start is not logged");

    // A change of the file: crossref's hosts get the new retry policy.
    std::fs::write(&path, good_file(4)).expect("write");
    job.wait_line(true, "the reload on the file change", |lines| {
        lines
            .iter()
            .find(|l| l.contains(reloaded) && l.contains("crossref: 0 hosts kept, 7 renewed"))
            .cloned()
    });

    // POST /-/reload: applied, nothing changed since.
    let (code, body) = http(&addr, "POST", "/-/reload");
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("crossref: 7 hosts kept, 0 renewed"), "{body}");

    // SIGHUP: a reload, and the job lives on.
    std::thread::sleep(Duration::from_millis(600));
    let before = job.count_err(reloaded);
    let status = Command::new("kill")
        .args(["-HUP", &job.child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    job.wait_line(true, "the reload on SIGHUP", |lines| {
        let n = lines.iter().filter(|l| l.contains(reloaded)).count();
        (n > before).then(|| lines[lines.len() - 1].clone())
    });
    assert!(
        job.child.try_wait().expect("status").is_none(),
        "SIGHUP did not end the job"
    );

    // A broken file: logged with its position, refused, the job runs on.
    std::fs::write(&path, "[client.crossref\n").expect("write");
    let logged = job.wait_line(true, "the refused reload", |lines| {
        lines
            .iter()
            .find(|l| l.contains("configuration not reloaded"))
            .cloned()
    });
    assert!(logged.contains("job.toml:1:"), "{logged}");
    let (code, body) = http(&addr, "POST", "/-/reload");
    assert_eq!(code, 422, "{body}");
    let (code, metrics) = http(&addr, "GET", "/metrics");
    assert_eq!(code, 200);
    let errors = metrics
        .lines()
        .find_map(|l| l.strip_prefix("telemetry_config_reloads_total{result=\"error\"} "))
        .and_then(|v| v.trim().parse::<f64>().ok())
        .unwrap_or_else(|| panic!("the error count in {metrics}"));
    assert!(errors >= 2.0, "{errors}");
    let (code, _) = http(&addr, "GET", "/health");
    assert_eq!(code, 200, "still serving");
    assert!(job.child.try_wait().expect("status").is_none());
    assert!(
        !job.err
            .lock()
            .expect("lines")
            .iter()
            .any(|l| l.contains("panicked")),
        "no panic"
    );
    drop(job);
    let _ = std::fs::remove_dir_all(dir);
}

/// Runs the job on `text` and checks: exit code 2, exactly one line on
/// stderr, no panic, the line containing each of `expect`.
fn refused(dir: &Path, name: &str, text: Option<&str>, expect: &[&str]) {
    let path = dir.join(name);
    if let Some(t) = text {
        std::fs::write(&path, t).expect("write");
    }
    let out = run(&["--smoke", "--config", path_str(&path)]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{name}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{name}: one line: {stderr:?}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        lines[0].starts_with("telemetry-examples: error: invalid configuration: "),
        "{stderr}"
    );
    for e in expect {
        assert!(lines[0].contains(e), "{name}: {e:?} in {stderr:?}");
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!stdout.contains("crossref: "), "no traffic ran: {stdout}");
}

#[test]
fn a_bad_config_file_is_one_line_and_exit_code_2() {
    let dir = temp_dir("config-bad");
    refused(
        &dir,
        "syntax.toml",
        Some("listen = \"127.0.0.1:0\"\n[client.crossref\n"),
        &["syntax.toml:2:"],
    );
    refused(
        &dir,
        "type.toml",
        Some("[client.crossref]\ntimeout = 3\n"),
        &["type.toml:2:"],
    );
    refused(
        &dir,
        "value.toml",
        Some("[client.crossref]\nrate_limit = { per_second = -1.0 }\n"),
        &["value.toml:2:", "client.crossref.rate_limit.per_second"],
    );
    refused(
        &dir,
        "adapter.toml",
        Some("listen = \"127.0.0.1:0\"\n[client.nope]\ntimeout = \"1s\"\n"),
        &["adapter.toml", "client.nope", "crossref, doi_resolver"],
    );
    refused(
        &dir,
        "events.toml",
        Some("listen = \"127.0.0.1:0\"\n[events]\nsample_ratio = 0.5\n"),
        &["events.toml", "events.sample_ratio"],
    );
    refused(
        &dir,
        "server.toml",
        Some("listen = \"nowhere\"\n"),
        &["server.toml", "listen"],
    );
    refused(&dir, "missing.toml", None, &["missing.toml", "cannot read"]);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_events_section_samples_the_event_log() {
    let dir = temp_dir("config-events");
    // Breaker transitions are always kept (`SamplingSink`): count the rest.
    let event_lines = |stderr: &str| {
        stderr
            .lines()
            .filter(|l| l.starts_with('{') && l.contains("\"event\""))
            .filter(|l| !l.contains("\"event\":\"breaker_transition\""))
            .count()
    };
    let mut seen = Vec::new();
    for (name, ratio) in [("all.toml", "1.0"), ("none.toml", "0.0")] {
        let path = dir.join(name);
        std::fs::write(
            &path,
            format!("listen = \"127.0.0.1:0\"\n[events]\nsample_ratio = {ratio}\n"),
        )
        .expect("write");
        let out = run(&["--smoke", "--log-events", "--config", path_str(&path)]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{name}: {stderr}");
        seen.push(event_lines(&stderr));
    }
    assert!(seen[0] > 0, "ratio 1: every event is logged ({seen:?})");
    assert_eq!(
        seen[1], 0,
        "ratio 0: none but breaker transitions ({seen:?})"
    );
    let _ = std::fs::remove_dir_all(dir);
}
