//! An embedded upstream simulator for tests and the main job.
//!
//! One HTTP/1.1 server on `127.0.0.1:0` plays many hosts: it routes on the
//! `Host` header and the path, so a client that resolves `api-a.test`,
//! `api-b.test`, ... to the simulator's address (reqwest's resolver
//! overrides, `AdapterClientBuilder::resolve`) sees per-host behaviour that is
//! real down to the socket. Each route runs a [`Script`] of [`Step`]s: answer
//! after a delay, with a status, with `429` + `Retry-After` (seconds or an
//! HTTP date), with a large body, or reset the connection mid-request. Every
//! request is logged with its headers.
//!
//! ```
//! use std::time::Duration;
//! use telemetry_sim::{Route, Script, Simulator, Step};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> std::io::Result<()> {
//! let sim = Simulator::start().await?;
//! sim.route(
//!     Route::host("api-a.test").path("/flaky"),
//!     Script::sequence([Step::status(503), Step::ok()]),
//! );
//! sim.route(Route::host("api-b.test"), Script::always(Step::ok().delay(Duration::from_millis(5))));
//! assert!(sim.addr().ip().is_loopback());
//! sim.shutdown().await;
//! # Ok(())
//! # }
//! ```
#![warn(missing_docs, unreachable_pub)]

pub mod scenario;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::fmt;
use std::future::Future as _;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};
use tokio::task::JoinHandle;

/// Requests kept in the log at most (the newest win).
pub const LOG_CAPACITY: usize = 10_000;

/// When a `Retry-After` header says to come back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// `Retry-After: <seconds>`.
    Seconds(u64),
    /// `Retry-After: <HTTP date>`, this long after the response is sent.
    DateIn(Duration),
    /// `Retry-After: <HTTP date>`, this long before the response is sent (a
    /// date in the past).
    DateAgo(Duration),
}

impl RetryAfter {
    fn header_value(self) -> String {
        match self {
            RetryAfter::Seconds(s) => s.to_string(),
            RetryAfter::DateIn(d) => httpdate::fmt_http_date(SystemTime::now() + d),
            RetryAfter::DateAgo(d) => httpdate::fmt_http_date(
                SystemTime::now()
                    .checked_sub(d)
                    .unwrap_or(SystemTime::UNIX_EPOCH),
            ),
        }
    }
}

#[derive(Debug, Clone)]
enum Action {
    Reply {
        status: u16,
        body: Option<Bytes>,
    },
    /// `200`, the body sent as these chunks with `Transfer-Encoding:
    /// chunked` (no `Content-Length`); with `fail`, the connection is cut
    /// after the last chunk instead of ending the body.
    Chunked {
        chunks: Vec<Bytes>,
        fail: bool,
    },
    Reset,
}

/// One answer of a script.
///
/// ```
/// use std::time::Duration;
/// use telemetry_sim::{RetryAfter, Step};
/// let slow_ok = Step::ok().delay(Duration::from_millis(20));
/// let throttled = Step::retry_after(429, RetryAfter::Seconds(1));
/// let reset = Step::reset();
/// let big = Step::large_body(1 << 20);
/// # let _ = (slow_ok, throttled, reset, big);
/// ```
#[derive(Debug, Clone)]
pub struct Step {
    action: Action,
    delay: Duration,
    headers: Vec<(String, String)>,
    retry_after: Option<RetryAfter>,
}

impl Step {
    /// `200` with a small JSON body naming the host and path.
    pub fn ok() -> Self {
        Step::status(200)
    }

    /// This status with a small JSON body.
    pub fn status(status: u16) -> Self {
        Step {
            action: Action::Reply { status, body: None },
            delay: Duration::ZERO,
            headers: Vec::new(),
            retry_after: None,
        }
    }

    /// This status with a `Retry-After` header.
    pub fn retry_after(status: u16, when: RetryAfter) -> Self {
        Step {
            retry_after: Some(when),
            ..Step::status(status)
        }
    }

    /// Reads the request, then drops the connection without answering.
    pub fn reset() -> Self {
        Step {
            action: Action::Reset,
            ..Step::ok()
        }
    }

    /// `200` with a body of `len` bytes.
    pub fn large_body(len: usize) -> Self {
        Step::ok().body(Bytes::from(vec![b'x'; len]))
    }

    /// `200` with a body of `chunks` chunks of `chunk_len` bytes each, sent
    /// with `Transfer-Encoding: chunked` and no `Content-Length` (so only
    /// the bytes read tell its size).
    ///
    /// ```
    /// let step = telemetry_sim::Step::chunked(4, 1024); // 4 KiB, chunked
    /// # let _ = step;
    /// ```
    pub fn chunked(chunks: usize, chunk_len: usize) -> Self {
        Step {
            action: Action::Chunked {
                chunks: vec![Bytes::from(vec![b'c'; chunk_len]); chunks],
                fail: false,
            },
            ..Step::ok()
        }
    }

    /// `200`, then `chunks` chunks of `chunk_len` bytes (chunked, no
    /// `Content-Length`), then the connection is cut before the body ends:
    /// the client sees the body fail midway, after `chunks * chunk_len`
    /// bytes.
    ///
    /// ```
    /// let step = telemetry_sim::Step::body_fails_after(2, 512);
    /// # let _ = step;
    /// ```
    pub fn body_fails_after(chunks: usize, chunk_len: usize) -> Self {
        Step {
            action: Action::Chunked {
                chunks: vec![Bytes::from(vec![b'f'; chunk_len]); chunks],
                fail: true,
            },
            ..Step::ok()
        }
    }

    /// Waits this long before answering (or resetting).
    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }

    /// Adds a response header.
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Replaces the body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        if let Action::Reply { body: b, .. } = &mut self.action {
            *b = Some(body.into());
        }
        self
    }
}

/// The answers of a route, in order.
///
/// By default the last step repeats once the others are used up
/// ([`sequence`](Self::sequence)); [`cycle`](Self::cycle) starts over instead.
#[derive(Debug, Clone)]
pub struct Script {
    steps: Vec<Step>,
    cycle: bool,
}

impl Script {
    /// The same answer every time.
    pub fn always(step: Step) -> Self {
        Script {
            steps: vec![step],
            cycle: false,
        }
    }

    /// These answers in order, then the last one forever.
    pub fn sequence(steps: impl IntoIterator<Item = Step>) -> Self {
        let mut steps: Vec<Step> = steps.into_iter().collect();
        if steps.is_empty() {
            steps.push(Step::ok());
        }
        Script {
            steps,
            cycle: false,
        }
    }

    /// Starts over after the last step.
    pub fn cycle(mut self) -> Self {
        self.cycle = true;
        self
    }

    fn step(&self, hit: usize) -> &Step {
        let n = self.steps.len();
        let i = if self.cycle { hit % n } else { hit.min(n - 1) };
        &self.steps[i]
    }
}

/// Which requests a script answers: by host, by path, both, or all.
/// The most specific route wins (host and path, then host, then path, then
/// any); a route set again replaces the old one and restarts its script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    host: Option<String>,
    path: Option<String>,
}

impl Route {
    /// Every request.
    pub fn any() -> Self {
        Route {
            host: None,
            path: None,
        }
    }

    /// Requests for this host (the `Host` header without its port).
    pub fn host(host: &str) -> Self {
        Route {
            host: Some(host.to_ascii_lowercase()),
            path: None,
        }
    }

    /// Requests for this exact path (without the query), on any host.
    pub fn path_only(path: &str) -> Self {
        Route {
            host: None,
            path: Some(path.to_owned()),
        }
    }

    /// Narrows the route to this exact path.
    pub fn path(mut self, path: &str) -> Self {
        self.path = Some(path.to_owned());
        self
    }

    fn specificity(&self) -> u8 {
        u8::from(self.host.is_some()) * 2 + u8::from(self.path.is_some())
    }

    fn matches(&self, host: &str, path: &str) -> bool {
        self.host.as_deref().is_none_or(|h| h == host)
            && self.path.as_deref().is_none_or(|p| p == path)
    }
}

/// A request as the simulator saw it.
#[derive(Debug, Clone)]
pub struct LoggedRequest {
    /// The `Host` header without the port.
    pub host: String,
    /// The method.
    pub method: String,
    /// The path.
    pub path: String,
    /// The raw query string, if any.
    pub query: Option<String>,
    /// Every header, in order, as sent.
    pub headers: Vec<(String, String)>,
    /// When it arrived.
    pub at: SystemTime,
}

impl LoggedRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

struct RouteState {
    route: Route,
    script: Script,
    hits: usize,
}

#[derive(Default)]
struct Shared {
    routes: Mutex<Vec<RouteState>>,
    log: Mutex<VecDeque<LoggedRequest>>,
    /// TCP connections accepted since the start.
    accepted: AtomicUsize,
}

impl Shared {
    /// Picks the step for a request and counts the hit.
    fn next_step(&self, host: &str, path: &str) -> Step {
        let mut routes = self.routes.lock().unwrap_or_else(|e| e.into_inner());
        let best = routes
            .iter_mut()
            .filter(|r| r.route.matches(host, path))
            .max_by_key(|r| r.route.specificity());
        match best {
            Some(r) => {
                let step = r.script.step(r.hits).clone();
                r.hits += 1;
                step
            }
            None => Step::ok(),
        }
    }

    fn log(&self, req: LoggedRequest) {
        let mut log = self.log.lock().unwrap_or_else(|e| e.into_inner());
        if log.len() >= LOG_CAPACITY {
            log.pop_front();
        }
        log.push_back(req);
    }
}

/// The running simulator. Dropping it stops the server too; prefer
/// [`shutdown`](Self::shutdown), which waits for it.
pub struct Simulator {
    addr: SocketAddr,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

impl fmt::Debug for Simulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Simulator")
            .field("addr", &self.addr)
            .finish()
    }
}

impl Simulator {
    /// Binds `127.0.0.1:0` and starts serving (on the current tokio runtime).
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(accept_loop(listener, shared.clone(), stopped));
        Ok(Simulator {
            addr,
            shared,
            stop,
            task: Some(task),
        })
    }

    /// The bound address (`127.0.0.1:<port>`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bound port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://<host>:<port><path>`: a URL that reaches the simulator as
    /// `host` once the client resolves `host` to [`addr`](Self::addr).
    pub fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.addr.port())
    }

    /// Sets the script of `route` (replacing one set before for the same route).
    pub fn route(&self, route: Route, script: Script) {
        let mut routes = self.shared.routes.lock().unwrap_or_else(|e| e.into_inner());
        routes.retain(|r| r.route != route);
        routes.push(RouteState {
            route,
            script,
            hits: 0,
        });
    }

    /// Removes every route (every request then gets `200`).
    pub fn clear_routes(&self) {
        self.shared
            .routes
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<LoggedRequest> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// Requests logged for `host` (and `path`, if given).
    pub fn hits(&self, host: &str, path: Option<&str>) -> usize {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .filter(|r| r.host == host && path.is_none_or(|p| r.path == p))
            .count()
    }

    /// TCP connections the simulator has accepted since it started: how a
    /// test tells one reused pooled connection from several.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> std::io::Result<()> {
    /// let sim = telemetry_sim::Simulator::start().await?;
    /// assert_eq!(sim.accepted_connections(), 0);
    /// # Ok(())
    /// # }
    /// ```
    pub fn accepted_connections(&self) -> usize {
        self.shared.accepted.load(Ordering::SeqCst)
    }

    /// Empties the request log.
    pub fn clear_log(&self) {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Stops accepting, closes open connections and waits for the server task.
    pub async fn shutdown(mut self) {
        let _ = self.stop.send(true);
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for Simulator {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}

async fn accept_loop(
    listener: TcpListener,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            _ = stopped.changed() => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                shared.accepted.fetch_add(1, Ordering::SeqCst);
                let _ = stream.set_nodelay(true);
                connections.spawn(serve_connection(stream, shared.clone(), stopped.clone()));
            }
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    connections.shutdown().await;
}

async fn serve_connection(
    stream: tokio::net::TcpStream,
    shared: Arc<Shared>,
    mut stopped: watch::Receiver<bool>,
) {
    let reset = Arc::new(Notify::new());
    let service = {
        let reset = reset.clone();
        service_fn(move |req| respond(req, shared.clone(), reset.clone()))
    };
    let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    tokio::select! {
        _ = conn => {}
        // Dropping the connection future closes the socket mid-exchange: the
        // client sees the connection go away before a response.
        _ = reset.notified() => {}
        _ = stopped.changed() => {}
    }
}

async fn respond(
    req: Request<Incoming>,
    shared: Arc<Shared>,
    reset: Arc<Notify>,
) -> Result<Response<SimBody>, Infallible> {
    let host = req
        .headers()
        .get(hyper::header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(strip_port)
        .unwrap_or_default()
        .to_ascii_lowercase();
    let path = req.uri().path().to_owned();
    shared.log(LoggedRequest {
        host: host.clone(),
        method: req.method().as_str().to_owned(),
        path: path.clone(),
        query: req.uri().query().map(str::to_owned),
        headers: req
            .headers()
            .iter()
            .map(|(n, v)| {
                (
                    n.as_str().to_owned(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        at: SystemTime::now(),
    });
    let step = shared.next_step(&host, &path);
    if !step.delay.is_zero() {
        tokio::time::sleep(step.delay).await;
    }
    let (status, body) = match step.action {
        Action::Reset => {
            reset.notify_one();
            // The connection is being dropped; never answer.
            std::future::pending::<()>().await;
            return Ok(Response::new(SimBody::full(Bytes::new())));
        }
        Action::Reply { status, body } => (status, body),
        Action::Chunked { chunks, fail } => {
            let mut resp = Response::new(SimBody {
                chunks: chunks.into(),
                fail,
                sized: false,
                cut: None,
            });
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("application/octet-stream"),
            );
            return Ok(resp);
        }
    };
    let body = body.unwrap_or_else(|| {
        Bytes::from(format!(
            "{{\"host\":{:?},\"path\":{:?},\"status\":{status}}}",
            host, path
        ))
    });
    let mut resp = Response::new(SimBody::full(body));
    *resp.status_mut() =
        hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Some(ra) = step.retry_after {
        if let Ok(v) = hyper::header::HeaderValue::from_str(&ra.header_value()) {
            headers.insert(hyper::header::RETRY_AFTER, v);
        }
    }
    for (n, v) in &step.headers {
        if let (Ok(n), Ok(v)) = (
            hyper::header::HeaderName::from_bytes(n.as_bytes()),
            hyper::header::HeaderValue::from_str(v),
        ) {
            headers.append(n, v);
        }
    }
    Ok(resp)
}

/// A response body: one sized chunk (`Content-Length`), or several with
/// no size (`Transfer-Encoding: chunked`), optionally failing after the last
/// (hyper then cuts the connection before the terminating chunk).
struct SimBody {
    chunks: VecDeque<Bytes>,
    fail: bool,
    /// Whether the size is known up front (one full body).
    sized: bool,
    /// The pause before the cut: hyper drops its unsent buffer when the
    /// body fails, so the chunks are given time to leave first.
    cut: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl SimBody {
    fn full(body: Bytes) -> Self {
        SimBody {
            chunks: VecDeque::from([body]),
            fail: false,
            sized: true,
            cut: None,
        }
    }
}

impl Body for SimBody {
    type Data = Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        match self.chunks.pop_front() {
            Some(chunk) => Poll::Ready(Some(Ok(Frame::data(chunk)))),
            None if self.fail => {
                let cut = self
                    .cut
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(Duration::from_millis(50))));
                if cut.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.fail = false;
                Poll::Ready(Some(Err(std::io::Error::other("body cut midway"))))
            }
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.chunks.is_empty() && !self.fail
    }

    fn size_hint(&self) -> SizeHint {
        if self.sized {
            let len: usize = self.chunks.iter().map(Bytes::len).sum();
            SizeHint::with_exact(len as u64)
        } else {
            SizeHint::default()
        }
    }
}

fn strip_port(host: &str) -> &str {
    // IPv6 literals are bracketed: `[::1]:8080`.
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    host.rsplit_once(':').map_or(host, |(h, _)| h)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_repeat_or_cycle() {
        let s = Script::sequence([Step::status(503), Step::ok()]);
        let statuses: Vec<u16> = (0..4)
            .map(|i| match s.step(i).action {
                Action::Reply { status, .. } => status,
                Action::Chunked { .. } | Action::Reset => 0,
            })
            .collect();
        assert_eq!(statuses, vec![503, 200, 200, 200]);
        let c = Script::sequence([Step::status(503), Step::ok()]).cycle();
        let statuses: Vec<u16> = (0..4)
            .map(|i| match c.step(i).action {
                Action::Reply { status, .. } => status,
                Action::Chunked { .. } | Action::Reset => 0,
            })
            .collect();
        assert_eq!(statuses, vec![503, 200, 503, 200]);
    }

    #[test]
    fn most_specific_route_wins() {
        let shared = Shared::default();
        {
            let mut r = shared.routes.lock().unwrap_or_else(|e| e.into_inner());
            for (route, status) in [
                (Route::any(), 201),
                (Route::path_only("/p"), 202),
                (Route::host("a.test"), 203),
                (Route::host("a.test").path("/p"), 204),
            ] {
                r.push(RouteState {
                    route,
                    script: Script::always(Step::status(status)),
                    hits: 0,
                });
            }
        }
        let status = |h: &str, p: &str| match shared.next_step(h, p).action {
            Action::Reply { status, .. } => status,
            Action::Chunked { .. } | Action::Reset => 0,
        };
        assert_eq!(status("a.test", "/p"), 204);
        assert_eq!(status("a.test", "/q"), 203);
        assert_eq!(status("b.test", "/p"), 202);
        assert_eq!(status("b.test", "/q"), 201);
        assert_eq!(strip_port("h.test:80"), "h.test");
        assert_eq!(strip_port("[::1]:80"), "::1");
    }

    #[tokio::test]
    async fn serves_scripts_per_host_and_logs_headers() -> Result<(), Box<dyn std::error::Error>> {
        let sim = Simulator::start().await?;
        sim.route(
            Route::host("a.test"),
            Script::sequence([Step::retry_after(429, RetryAfter::Seconds(3)), Step::ok()]),
        );
        let client = reqwest::Client::builder()
            .resolve("a.test", sim.addr())
            .resolve("b.test", sim.addr())
            .build()?;
        let r = client
            .get(sim.url("a.test", "/x?y=1"))
            .header("x-probe", "1")
            .send()
            .await?;
        assert_eq!(r.status().as_u16(), 429);
        assert_eq!(
            r.headers().get("retry-after").map(|v| v.as_bytes()),
            Some(&b"3"[..])
        );
        let r = client.get(sim.url("a.test", "/x")).send().await?;
        assert_eq!(r.status().as_u16(), 200);
        let r = client.get(sim.url("b.test", "/")).send().await?;
        assert_eq!(r.status().as_u16(), 200);
        let log = sim.requests();
        assert_eq!(log.len(), 3);
        assert_eq!(log[0].host, "a.test");
        assert_eq!(log[0].query.as_deref(), Some("y=1"));
        assert_eq!(log[0].header("X-Probe"), Some("1"));
        assert_eq!(sim.hits("b.test", Some("/")), 1);

        sim.route(
            Route::host("a.test").path("/reset"),
            Script::always(Step::reset()),
        );
        let err = client.get(sim.url("a.test", "/reset")).send().await;
        assert!(err.is_err(), "a reset gives no response");

        sim.route(
            Route::host("a.test").path("/chunked"),
            Script::always(Step::chunked(4, 1024)),
        );
        let r = client.get(sim.url("a.test", "/chunked")).send().await?;
        assert_eq!(r.content_length(), None, "chunked: no Content-Length");
        assert_eq!(r.bytes().await?.len(), 4096);
        sim.route(
            Route::host("a.test").path("/cut"),
            Script::always(Step::body_fails_after(2, 512)),
        );
        let r = client.get(sim.url("a.test", "/cut")).send().await?;
        assert_eq!(r.status().as_u16(), 200);
        assert!(r.bytes().await.is_err(), "the body fails midway");
        assert!(sim.accepted_connections() >= 2, "the reset closed one");
        sim.shutdown().await;
        Ok(())
    }
}
