//! The request builder and the response the client hands back.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde::Serialize;

use super::body::BodyWatch;
use super::{AdapterClient, ClientError};
use crate::core::events::CorrelationId;
use crate::core::scope::RequestContext;

/// A request being built: reqwest's builder plus the client's own options
/// (idempotency opt-in, correlation id). Finish with [`send`](Self::send).
///
/// ```no_run
/// # async fn demo(client: telemetry_runtime::AdapterClient) -> Result<(), telemetry_runtime::client::ClientError> {
/// use std::time::Duration;
/// let resp = client
///     .post("http://api-a.test/orders")
///     .header("x-tenant", "acme")
///     .query(&[("dry_run", "true")])
///     .json(&serde_json::json!({"sku": 42}))
///     .timeout(Duration::from_secs(2))
///     .idempotent(true) // safe to retry: the server deduplicates
///     .send()
///     .await?;
/// println!("{} after {} attempt(s)", resp.status(), resp.attempts());
/// # Ok(()) }
/// ```
#[must_use = "a request does nothing until it is sent"]
pub struct RequestBuilder {
    pub(crate) client: AdapterClient,
    pub(crate) inner: reqwest::RequestBuilder,
    pub(crate) idempotent: Option<bool>,
    pub(crate) correlation_id: Option<CorrelationId>,
}

impl fmt::Debug for RequestBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // reqwest's Debug prints the URL and headers; ours must not (secrets).
        f.debug_struct("RequestBuilder")
            .field("idempotent", &self.idempotent)
            .field("correlation_id", &self.correlation_id)
            .finish_non_exhaustive()
    }
}

impl RequestBuilder {
    fn map(mut self, f: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder) -> Self {
        self.inner = f(self.inner);
        self
    }

    /// Adds a header.
    pub fn header<K, V>(self, key: K, value: V) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<http::Error>,
        HeaderValue: TryFrom<V>,
        <HeaderValue as TryFrom<V>>::Error: Into<http::Error>,
    {
        self.map(|b| b.header(key, value))
    }

    /// Adds headers.
    pub fn headers(self, headers: HeaderMap) -> Self {
        self.map(|b| b.headers(headers))
    }

    /// HTTP basic authentication (the header value is redacted everywhere).
    pub fn basic_auth<U: fmt::Display, P: fmt::Display>(
        self,
        username: U,
        password: Option<P>,
    ) -> Self {
        self.map(|b| b.basic_auth(username, password))
    }

    /// Bearer authentication (the header value is redacted everywhere).
    pub fn bearer_auth<T: fmt::Display>(self, token: T) -> Self {
        self.map(|b| b.bearer_auth(token))
    }

    /// Appends query parameters (anything serde can serialise as pairs).
    pub fn query<T: Serialize + ?Sized>(self, query: &T) -> Self {
        self.map(|b| b.query(query))
    }

    /// A JSON body (and `Content-Type: application/json`).
    pub fn json<T: Serialize + ?Sized>(self, json: &T) -> Self {
        self.map(|b| b.json(json))
    }

    /// A body: bytes, a `String`, a `Vec<u8>`, or a stream (a stream cannot
    /// be cloned, so a request with one is never retried).
    pub fn body<T: Into<reqwest::Body>>(self, body: T) -> Self {
        self.map(|b| b.body(body))
    }

    /// A text body (and `Content-Type: text/plain; charset=utf-8`).
    pub fn text(self, text: impl Into<String>) -> Self {
        self.map(|b| {
            b.header(
                reqwest::header::CONTENT_TYPE,
                HeaderValue::from_static("text/plain; charset=utf-8"),
            )
            .body(text.into())
        })
    }

    /// Timeout of each wire attempt (from sending to the end of the body),
    /// overriding the client's.
    pub fn timeout(self, timeout: Duration) -> Self {
        self.map(|b| b.timeout(timeout))
    }

    /// Declares the call safe (`true`) or unsafe (`false`) to retry, whatever
    /// its method. By default only idempotent methods are retried.
    pub fn idempotent(mut self, idempotent: bool) -> Self {
        self.idempotent = Some(idempotent);
        self
    }

    /// Uses this correlation id instead of a fresh one (to tie the call to an
    /// incoming request, say).
    pub fn correlation_id(mut self, id: CorrelationId) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// Sends the request through the limiter, breaker and retry loop. Used
    /// like an `async fn`: `builder.send().await`.
    pub fn send(self) -> impl Future<Output = Result<Response, ClientError>> + Send + 'static {
        self.client
            .inner
            .start(self.inner.build(), self.idempotent, self.correlation_id)
    }
}

/// A response: reqwest's, plus how many wire attempts it took and the
/// correlation id of the logical request.
///
/// It dereferences to [`reqwest::Response`] for `status()`, `headers()` and
/// the like; the body methods (`text`, `json`, `bytes`) are here because they
/// consume it.
pub struct Response {
    pub(crate) inner: reqwest::Response,
    pub(crate) attempts: u32,
    pub(crate) context: RequestContext,
    /// The body's observer (`None` when no sink listened, or once the
    /// body ended).
    pub(crate) watch: Option<Box<BodyWatch>>,
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Response")
            .field("status", &self.inner.status())
            .field("attempts", &self.attempts)
            .field("correlation_id", &self.context.correlation_id())
            .finish_non_exhaustive()
    }
}

impl std::ops::Deref for Response {
    type Target = reqwest::Response;
    fn deref(&self) -> &reqwest::Response {
        &self.inner
    }
}

impl Response {
    /// Wire attempts made for this logical request (1 when it was not retried).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// The logical request's correlation id.
    pub fn correlation_id(&self) -> CorrelationId {
        self.context.correlation_id()
    }

    /// The logical request (adapter, host, correlation id), to handle the
    /// response in its scope: custom events emitted inside
    /// [`RequestContext::scope`] or [`RequestContext::in_scope`] carry this
    /// request's correlation id and host.
    ///
    /// ```no_run
    /// # use telemetry_runtime::{instrumented_adapter, AdapterClient};
    /// #[instrumented_adapter(name = "doc_resp_ctx", hosts(cap = 4), events(parsed(items: u32)))]
    /// struct Api {}
    /// # async fn run(api: &Api, client: &AdapterClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let resp = client.get("https://api.test/items").send().await?;
    /// let ctx = resp.context();
    /// let body = ctx.in_scope(resp.text()).await?;
    /// // Carries the request's correlation id and host `api.test`.
    /// ctx.scope(|| api.emit().parsed(body.lines().count() as u32));
    /// # Ok(()) }
    /// ```
    pub fn context(&self) -> RequestContext {
        self.context
    }

    /// The status code as a number.
    pub fn status_code(&self) -> u16 {
        self.inner.status().as_u16()
    }

    /// The next chunk of the body (`None` at its end), counted: when the
    /// body ends, or fails, its `BodyEvent` is emitted (bytes read, time
    /// since the headers, the failure's `error.type`). The way to stream a
    /// body and still have it observed.
    ///
    /// ```no_run
    /// # async fn demo(client: telemetry_runtime::AdapterClient) -> Result<(), Box<dyn std::error::Error>> {
    /// let mut resp = client.get("http://api-a.test/export").send().await?;
    /// let mut total = 0;
    /// while let Some(chunk) = resp.chunk().await? {
    ///     total += chunk.len(); // the body event counts the same bytes
    /// }
    /// # let _ = total; Ok(()) }
    /// ```
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, reqwest::Error> {
        match self.inner.chunk().await {
            Ok(Some(c)) => {
                if let Some(w) = self.watch.as_deref_mut() {
                    w.chunk(c.len());
                }
                Ok(Some(c))
            }
            Ok(None) => {
                if let Some(w) = self.watch.take() {
                    w.end(None);
                }
                Ok(None)
            }
            Err(e) => {
                if let Some(w) = self.watch.take() {
                    w.end(Some(&e));
                }
                Err(e.without_url())
            }
        }
    }

    /// The body as text (UTF-8, invalid sequences replaced), observed like
    /// [`chunk`](Self::chunk).
    pub async fn text(self) -> Result<String, reqwest::Error> {
        let body = self.bytes().await?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    /// The body as bytes, observed like [`chunk`](Self::chunk).
    pub async fn bytes(mut self) -> Result<bytes::Bytes, reqwest::Error> {
        if self.watch.is_none() {
            return self
                .inner
                .bytes()
                .await
                .map_err(reqwest::Error::without_url);
        }
        let cap = self
            .watch
            .as_ref()
            .and_then(|w| w.content_length)
            .map_or(0, |n| usize::try_from(n.min(1 << 20)).unwrap_or(0));
        let mut first: Option<bytes::Bytes> = None;
        let mut buf: Vec<u8> = Vec::new();
        while let Some(c) = self.chunk().await? {
            // One chunk (the common small body) is returned without a copy.
            match first.take() {
                None if buf.is_empty() => first = Some(c),
                None => buf.extend_from_slice(&c),
                Some(f) => {
                    buf.reserve(cap.max(f.len() + c.len()));
                    buf.extend_from_slice(&f);
                    buf.extend_from_slice(&c);
                }
            }
        }
        Ok(first.unwrap_or_else(|| bytes::Bytes::from(buf)))
    }

    /// The body, deserialised from JSON, observed like [`chunk`](Self::chunk).
    pub async fn json<T: serde::de::DeserializeOwned>(self) -> Result<T, reqwest::Error> {
        let body = self.bytes().await?;
        // Decoded by reqwest itself, over the bytes already read, so a
        // malformed body is the same `reqwest::Error` (kind decode) as before.
        reqwest::Response::from(http::Response::new(body))
            .json()
            .await
            .map_err(reqwest::Error::without_url)
    }

    /// reqwest's response, for everything else. A body read from it is not
    /// observed (no `BodyEvent`; the response's `Content-Length` is its
    /// size): stream with [`chunk`](Self::chunk) to keep it observed.
    pub fn into_inner(self) -> reqwest::Response {
        self.inner
    }
}
