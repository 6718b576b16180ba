//! Response bodies observed as the caller reads them: the bytes actually
//! read (chunked, decoded and streamed bodies count, not only
//! `Content-Length`), the time the body took, and a failure midway, as one
//! `BodyEvent` when the body ends.

use std::time::{Duration, Instant};

use super::emit::Emitter;
use super::error;
use crate::core::events::{ErrorType, HttpMethod};

/// What a response's body event needs; boxed in the `Response` (only when
/// the adapter has a sink, so an unobserved response carries a null
/// pointer).
pub(crate) struct BodyWatch {
    pub(super) emitter: Emitter,
    pub(super) attempt: u32,
    pub(super) method: HttpMethod,
    pub(super) status: u16,
    pub(super) content_length: Option<u64>,
    /// When the response headers arrived, after the client's epoch.
    pub(super) started: Duration,
    /// Bytes read so far.
    pub(super) read: u64,
}

impl BodyWatch {
    /// A chunk of `len` bytes was read.
    #[inline]
    pub(super) fn chunk(&mut self, len: usize) {
        self.read = self.read.saturating_add(len as u64);
    }

    /// The body ended: read to its end (`failure` is `None`) or failed.
    pub(super) fn end(self, failure: Option<&reqwest::Error>) {
        let now = self.emitter.since(Instant::now());
        let error_type: Option<ErrorType> = failure.map(error::classify);
        self.emitter.body(
            self.attempt,
            now,
            self.method,
            self.status,
            self.read,
            self.content_length,
            now.saturating_sub(self.started),
            error_type,
        );
    }
}
