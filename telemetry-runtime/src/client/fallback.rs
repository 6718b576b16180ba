//! Fallback across ordered sources (mirrors, tiers, caches).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::time::Instant;

use super::emit::Emitter;
use super::{AdapterClient, ClientError, Response};
use crate::core::events::{CorrelationId, FallbackOutcome};
use crate::core::labels::HostKey;

type SourceFuture<'c> = Pin<Box<dyn Future<Output = Result<Response, ClientError>> + Send + 'c>>;
type SourceFn<'c> = Box<dyn FnOnce(CorrelationId) -> SourceFuture<'c> + Send + 'c>;

/// An ordered chain of sources, tried in turn until one answers.
///
/// A source fails when it ends in an error or in a 5xx, 408 or 429 response
/// (after its own retries); a source whose circuit breaker is open is
/// *skipped*. Each source tried emits one `FallbackEvent` (tier, source,
/// outcome, reason, elapsed). Every source gets the chain's correlation id,
/// so all the chain's events share it when the source passes it on.
///
/// ```no_run
/// # async fn demo(client: telemetry_runtime::AdapterClient) -> Result<(), telemetry_runtime::client::ClientError> {
/// let hit = client
///     .fallback()
///     .source("primary", |id| client.get("http://api-a.test/doi/1").correlation_id(id).send())
///     .source("mirror", |id| client.get("http://mirror.test/doi/1").correlation_id(id).send())
///     .run()
///     .await?;
/// println!("answered by {} (tier {})", hit.source, hit.tier);
/// # Ok(()) }
/// ```
#[must_use = "a fallback chain does nothing until it is run"]
pub struct Fallback<'c> {
    client: &'c AdapterClient,
    correlation_id: CorrelationId,
    sources: Vec<(&'static str, SourceFn<'c>)>,
}

impl fmt::Debug for Fallback<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fallback")
            .field("correlation_id", &self.correlation_id)
            .field(
                "sources",
                &self.sources.iter().map(|(n, _)| *n).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// The source that answered.
#[derive(Debug)]
pub struct FallbackHit {
    /// Its position in the chain, from 0.
    pub tier: u32,
    /// Its name.
    pub source: &'static str,
    /// Its response.
    pub response: Response,
}

impl<'c> Fallback<'c> {
    pub(crate) fn new(client: &'c AdapterClient) -> Self {
        Fallback {
            client,
            correlation_id: CorrelationId::next(),
            sources: Vec::new(),
        }
    }

    /// Uses this correlation id for the chain.
    pub fn correlation_id(mut self, id: CorrelationId) -> Self {
        self.correlation_id = id;
        self
    }

    /// Adds the next source. `name` is a label value: keep it a constant.
    pub fn source<F, Fut>(mut self, name: &'static str, call: F) -> Self
    where
        F: FnOnce(CorrelationId) -> Fut + Send + 'c,
        Fut: Future<Output = Result<Response, ClientError>> + Send + 'c,
    {
        self.sources.push((
            name,
            Box::new(move |id| Box::pin(call(id)) as SourceFuture<'c>),
        ));
        self
    }

    /// Tries the sources in order.
    pub async fn run(self) -> Result<FallbackHit, ClientError> {
        let telemetry = self.client.telemetry();
        let mut failures = Vec::new();
        for (tier, (source, call)) in self.sources.into_iter().enumerate() {
            let tier = u32::try_from(tier).unwrap_or(u32::MAX);
            let started = Instant::now();
            let result = call(self.correlation_id).await;
            let elapsed = started.elapsed();
            let (outcome, reason, host) = match &result {
                Ok(r) => {
                    let s = r.status().as_u16();
                    let reason = match s {
                        429 => Some("too_many_requests"),
                        408 => Some("request_timeout"),
                        500..=599 => Some("server_error"),
                        _ => None,
                    };
                    let host = r.url().host_str().map(|h| {
                        let url = r.url();
                        let label = telemetry
                            .hosts()
                            .intern_host_port(h, url.port(), url.scheme());
                        let key = match url.port() {
                            Some(p) => HostKey::of(&format!("{h}:{p}")),
                            None => HostKey::of(h),
                        };
                        (label, key)
                    });
                    if reason.is_some() {
                        (FallbackOutcome::Failure, reason, host)
                    } else {
                        (FallbackOutcome::Success, None, host)
                    }
                }
                Err(e) => {
                    let outcome = if matches!(e, ClientError::CircuitOpen { .. }) {
                        FallbackOutcome::Skipped
                    } else {
                        FallbackOutcome::Failure
                    };
                    let host = error_host(e)
                        .map(|h| (telemetry.hosts().intern_host(h, None), HostKey::of(h)));
                    (outcome, Some(e.error_type().as_str()), host)
                }
            };
            let (event_host, host_key) =
                host.unwrap_or_else(|| (telemetry.hosts().overflow(), HostKey::UNKNOWN));
            Emitter::new(
                &self.client.inner,
                event_host,
                host_key,
                self.correlation_id,
            )
            .fallback(tier, source, outcome, reason, elapsed);
            match result {
                Ok(response) if outcome == FallbackOutcome::Success => {
                    return Ok(FallbackHit {
                        tier,
                        source,
                        response,
                    })
                }
                Ok(response) => failures.push((
                    source,
                    ClientError::Status {
                        host: host.map_or_else(String::new, |(h, _)| h.as_str().to_owned()),
                        correlation_id: response.correlation_id(),
                        status: response.status_code(),
                        attempts: response.attempts(),
                    },
                )),
                Err(e) => failures.push((source, e)),
            }
        }
        Err(ClientError::FallbackExhausted(failures))
    }
}

fn error_host(e: &ClientError) -> Option<&str> {
    match e {
        ClientError::RateLimited { host, .. }
        | ClientError::CircuitOpen { host, .. }
        | ClientError::RetryAfterTooLong { host, .. }
        | ClientError::Transport { host, .. } => Some(host),
        _ => None,
    }
}
