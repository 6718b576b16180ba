//! The live dashboard at `/dashboard`: one card per adapter and host with
//! request rate, error ratio, latency p50/p99 of wire attempts, retries,
//! limiter queue and saturation, breaker state, in-flight requests; the most
//! recent errors; the process's CPU and memory; charts of the last five
//! minutes. The page, its script and its style are embedded in the binary
//! (no CDN, no outside request: the page's Content-Security-Policy allows
//! its own origin only) and update over Server-Sent Events.
//!
//! | path | answers |
//! |---|---|
//! | `/dashboard` | the page |
//! | `/dashboard/app.js`, `/dashboard/app.css`, `/dashboard/favicon.svg` | its assets |
//! | `/dashboard/events` | `text/event-stream`: one `snapshot` event (the current frame and the chart history), then a `sample` event a second |
//!
//! The routes sit behind the server's basic auth and TLS like `/metrics`
//! (a same-origin `EventSource` sends the credentials the page was opened
//! with). See `docs/dashboard.md` for what each number means.
//!
//! **Cost when nobody watches.** The sampler (the only thing that reads
//! the state, computes windows and quantiles and serialises frames) is a
//! task that runs only while at least one client is connected: the first
//! client starts it, and it ends at the first tick after the last one
//! left. On the request path it adds nothing: its error observer joins the
//! dispatch when the first client connects and leaves it with the last;
//! in-flight requests come from the client's live state and retries from
//! the health state, which keep them anyway.
//!
//! ```
//! use telemetry_runtime::config::ReadinessCriteria;
//! use telemetry_runtime::server::dashboard::Dashboard;
//! use telemetry_runtime::server::health::HealthMonitor;
//! use std::sync::Arc;
//! let dashboard = Dashboard::new(Arc::new(HealthMonitor::new(ReadinessCriteria::default())));
//! assert_eq!(dashboard.samples_taken(), 0, "nobody watches: nothing is sampled");
//! let router: axum::Router = dashboard.router();
//! # let _ = router;
//! ```

mod observer;
mod process;
mod sampler;

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use futures_util::stream::Stream;
use tokio::sync::broadcast;

use crate::server::health::HealthMonitor;
use sampler::Sampler;

/// The page.
pub const DASHBOARD_PATH: &str = crate::server::routes::DASHBOARD_PATH;
/// The event stream.
pub const EVENTS_PATH: &str = "/dashboard/events";

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");
const FAVICON_SVG: &str = include_str!("assets/favicon.svg");

/// Only the page's own origin: proves (and enforces) that the page makes no
/// outside request.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
                   img-src 'self' data:; connect-src 'self'; base-uri 'none'; \
                   form-action 'none'; frame-ancestors 'none'";

#[derive(Debug)]
struct Shared {
    clients: usize,
    running: bool,
    sampler: Sampler,
    /// The newest frame, JSON.
    last: Option<Arc<str>>,
}

/// The dashboard of one server: its clients, its sampler and the frames it
/// broadcasts. Built by [`crate::server::router`] when
/// [`ServerConfig::dashboard`](crate::config::ServerConfig::dashboard) is
/// on; [`router`](Self::router) mounts it into another axum app.
#[derive(Debug)]
pub struct Dashboard {
    monitor: Arc<HealthMonitor>,
    shared: Mutex<Shared>,
    tx: broadcast::Sender<Arc<str>>,
}

impl Dashboard {
    /// A dashboard judging hosts with `monitor` (the colours follow its
    /// criteria). Costs the request path nothing while no client is
    /// connected: it samples nothing and its error observer is out of the
    /// dispatch until a client connects.
    pub fn new(monitor: Arc<HealthMonitor>) -> Arc<Self> {
        let (tx, _) = broadcast::channel(16);
        Arc::new(Dashboard {
            monitor,
            shared: Mutex::new(Shared {
                clients: 0,
                running: false,
                sampler: Sampler::default(),
                last: None,
            }),
            tx,
        })
    }

    /// The routes of the page, its assets and its event stream, for any
    /// router state. Put them behind the same authentication as the rest.
    pub fn router<S: Clone + Send + Sync + 'static>(self: &Arc<Self>) -> Router<S> {
        Router::new()
            .route(DASHBOARD_PATH, get(index))
            .route("/dashboard/app.js", get(app_js))
            .route("/dashboard/app.css", get(app_css))
            .route("/dashboard/favicon.svg", get(favicon))
            .route(EVENTS_PATH, get(events))
            .with_state(Arc::clone(self))
    }

    /// Samples taken so far: stays still while no client is connected.
    pub fn samples_taken(&self) -> u64 {
        self.lock().sampler.samples()
    }

    /// Clients connected to this dashboard now.
    pub fn clients(&self) -> usize {
        self.lock().clients
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Shared> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts a client in, starts the sampler if it is the first, and
    /// returns the client's first event (the current frame and history)
    /// and its subscription to the next ones.
    fn subscribe(self: &Arc<Self>) -> (String, Subscription) {
        let watch = observer::watch();
        let rx = self.tx.subscribe();
        let report = self.monitor.evaluate();
        let mut s = self.lock();
        s.clients += 1;
        let start = !s.running;
        if start {
            s.running = true;
            // The first frame now, so the page has numbers at once.
            let frame: Arc<str> = s.sampler.sample(&report).to_string().into();
            s.last = Some(frame);
        }
        let frame = s.last.as_deref().unwrap_or("null");
        let snapshot = format!("{{\"frame\":{frame},\"history\":{}}}", s.sampler.history());
        drop(s);
        if start {
            tokio::spawn(run(Arc::downgrade(self)));
        }
        (
            snapshot,
            Subscription {
                dashboard: Arc::clone(self),
                rx,
                _watch: watch,
            },
        )
    }
}

/// One connected client: leaving drops it, and the count with it.
struct Subscription {
    dashboard: Arc<Dashboard>,
    rx: broadcast::Receiver<Arc<str>>,
    _watch: observer::WatchGuard,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut s = self.dashboard.lock();
        s.clients = s.clients.saturating_sub(1);
    }
}

/// The sampler: a tick a second while anyone watches; it ends at the first
/// tick that finds no client (or when the dashboard is gone).
async fn run(dashboard: std::sync::Weak<Dashboard>) {
    let mut tick = tokio::time::interval(sampler::INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate; subscribe sampled already
    loop {
        tick.tick().await;
        let Some(d) = dashboard.upgrade() else {
            return;
        };
        {
            let mut s = d.lock();
            if s.clients == 0 {
                s.running = false;
                return;
            }
        }
        let report = d.monitor.evaluate();
        let frame: Arc<str> = {
            let mut s = d.lock();
            if s.clients == 0 {
                s.running = false;
                return;
            }
            let frame: Arc<str> = s.sampler.sample(&report).to_string().into();
            s.last = Some(Arc::clone(&frame));
            frame
        };
        // No receiver is not an error: a client may be between connects.
        let _ = d.tx.send(frame);
    }
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut r = body.into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}

async fn index() -> Response {
    let mut r = asset("text/html; charset=utf-8", INDEX_HTML);
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    r
}

async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn app_css() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

async fn favicon() -> Response {
    asset("image/svg+xml", FAVICON_SVG)
}

async fn events(
    State(d): State<Arc<Dashboard>>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let (snapshot, sub) = d.subscribe();
    let first = Event::default().event("snapshot").data(snapshot);
    let stream = futures_util::stream::unfold((Some(first), sub), |(first, mut sub)| async move {
        if let Some(first) = first {
            return Some((Ok(first), (None, sub)));
        }
        loop {
            match sub.rx.recv().await {
                Ok(frame) => {
                    let e = Event::default().event("sample").data(&*frame);
                    return Some((Ok(e), (None, sub)));
                }
                // A slow client skipped frames: the next one is whole.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::core::dispatch;
    use crate::server::config::ReadinessCriteria;
    use std::time::Duration;

    /// The proof of "nothing when nobody watches": no sample before the
    /// first client, samples while one is connected, none after it left.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn nothing_is_sampled_without_a_client() {
        let d = Dashboard::new(Arc::new(HealthMonitor::new(ReadinessCriteria::default())));
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(d.samples_taken(), 0, "no client, no sample");
        assert!(d.tx.receiver_count() == 0);
        // Nothing on the request path either: the error observer is out of
        // the dispatch (no other test of this binary subscribes).
        assert_eq!(observer::observing(), None, "no client, no observer");

        let (snapshot, sub) = d.subscribe();
        assert!(snapshot.starts_with("{\"frame\":{"), "{snapshot}");
        assert_eq!(d.clients(), 1);
        let first = observer::observing();
        assert!(first.is_some(), "a client is watching");
        let (_, second) = d.subscribe();
        assert_eq!(
            observer::observing(),
            first,
            "one observer for every client"
        );
        drop(second);
        assert_eq!(observer::observing(), first, "one client still watches");
        // Generous: at least one tick after the first sample.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while d.samples_taken() < 3 && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(d.samples_taken() >= 3, "a watched dashboard samples");
        drop(sub);
        assert_eq!(d.clients(), 0);
        assert_eq!(observer::observing(), None, "the last client took it out");
        assert!(
            first.is_some_and(|id| !dispatch::remove_observer(id)),
            "it is no longer in the dispatch"
        );
        // The sampler ends at its next tick; wait until it said so.
        let deadline = std::time::Instant::now() + Duration::from_secs(20);
        while d.lock().running && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(!d.lock().running, "the sampler stopped");
        let after = d.samples_taken();
        tokio::time::sleep(Duration::from_millis(2500)).await;
        assert_eq!(d.samples_taken(), after, "nobody watches: nothing sampled");
    }
}
