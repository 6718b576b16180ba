//! The JSONL event store: one JSON object per event and line, behind the
//! bounded queue (feature `jsonl`).
//!
//! Every line is an event as the other sinks serialise it (OpenTelemetry
//! attribute names: `server.address`, `http.request.method`,
//! `http.response.status_code`, `error.type`, ...), preceded by
//! `"schema_version":1` and the `"run_id"`; the schema is documented in
//! `docs/event-store.md`. Secret fields of custom events are written as
//! `"REDACTED"`, as everywhere.
//!
//! The file is written only by the queue's writer thread, one `write` per
//! batch; [`Fsync`] says when the data is forced to disk and [`Rotation`]
//! when the file is closed and renamed (`run.jsonl` becomes
//! `run.jsonl.000001`, then `.000002`, ...; the active file keeps its name).
//! A failed write loses that batch: the failure is counted in
//! `telemetry_sink_write_errors_total{sink="jsonl"}`, the queue counts its
//! events in `telemetry_events_dropped_total{sink="jsonl"}`, and the file is
//! reopened for the next batch.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::core::dispatch::record_write_error;
use crate::core::events::EventRef;
use crate::core::run::Run;
use crate::core::sink::EventSink;
use crate::sink::queue::{non_blocking_with, QueueGuard, QueueOptions, QueuedSink};

/// The version of the line format, the `schema_version` field of every line.
pub const JSONL_SCHEMA_VERSION: u32 = 1;

/// When written data is forced to disk (`fsync`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fsync {
    /// Never: the OS writes it back when it likes (fastest; a power cut may
    /// lose the last seconds, a killed process loses nothing written).
    Never,
    /// After every batch.
    PerBatch,
    /// After a batch when this long has passed since the last fsync.
    Interval(Duration),
}

/// When the active file is closed and renamed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// One file.
    Never,
    /// After a batch that takes the file to at least this many bytes.
    Size(u64),
    /// After a batch when the file has been open this long.
    Interval(Duration),
}

/// Settings of [`open`].
///
/// ```
/// use telemetry_runtime::sink::jsonl::{Fsync, JsonlOptions, Rotation};
/// let opts = JsonlOptions::default()
///     .fsync(Fsync::PerBatch)
///     .rotation(Rotation::Size(64 << 20));
/// assert_eq!(opts.rotation, Rotation::Size(64 << 20));
/// ```
#[derive(Debug, Clone)]
pub struct JsonlOptions {
    /// The fsync policy (default [`Fsync::Never`]).
    pub fsync: Fsync,
    /// The rotation policy (default [`Rotation::Never`]).
    pub rotation: Rotation,
    /// The queue in front of the file.
    pub queue: QueueOptions,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        JsonlOptions {
            fsync: Fsync::Never,
            rotation: Rotation::Never,
            queue: QueueOptions::default(),
        }
    }
}

impl JsonlOptions {
    /// Sets the fsync policy.
    pub fn fsync(mut self, f: Fsync) -> Self {
        self.fsync = f;
        self
    }
    /// Sets the rotation policy.
    pub fn rotation(mut self, r: Rotation) -> Self {
        self.rotation = r;
        self
    }
    /// Sets the queue's options.
    pub fn queue(mut self, q: QueueOptions) -> Self {
        self.queue = q;
        self
    }
}

struct Writer {
    path: PathBuf,
    file: Option<File>,
    /// Bytes in the active file.
    size: u64,
    opened: Instant,
    last_sync: Instant,
    /// Lines of the current batch, written at its end.
    buf: Vec<u8>,
    /// Lines in `buf`.
    pending: u64,
    /// Events of the batch that could not be serialised.
    unserialisable: u64,
    /// The next rotated file's number.
    next_seq: u64,
}

/// The sink the queue drives; see [`open`].
struct JsonlSink {
    prefix: String,
    options: JsonlOptions,
    writer: Mutex<Writer>,
}

impl fmt::Debug for JsonlSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JsonlSink").finish_non_exhaustive()
    }
}

fn open_append(path: &Path) -> io::Result<(File, u64)> {
    let file = OpenOptions::new().create(true).append(true).open(path)?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    Ok((file, size))
}

/// The first free rotation number of `path` (`path.000001`, ...).
fn first_free_seq(path: &Path) -> u64 {
    let mut n = 1;
    while rotated_name(path, n).exists() {
        n += 1;
    }
    n
}

fn rotated_name(path: &Path, n: u64) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(format!(".{n:06}"));
    PathBuf::from(s)
}

impl Writer {
    /// Writes the batch's lines; on failure the batch is lost and the file
    /// is reopened next time.
    fn write_batch(&mut self, options: &JsonlOptions) -> u64 {
        if self.buf.is_empty() {
            return 0;
        }
        let lost = self.pending;
        let result = self.write_out(options);
        self.buf.clear();
        self.pending = 0;
        match result {
            Ok(()) => 0,
            Err(_) => {
                record_write_error("jsonl", 1);
                self.file = None;
                lost
            }
        }
    }

    fn write_out(&mut self, options: &JsonlOptions) -> io::Result<()> {
        if self.file.is_none() {
            let (file, size) = open_append(&self.path)?;
            self.file = Some(file);
            self.size = size;
            self.opened = Instant::now();
        }
        let Some(file) = self.file.as_mut() else {
            return Err(io::Error::other("no file"));
        };
        file.write_all(&self.buf)?;
        self.size += self.buf.len() as u64;
        let sync = match options.fsync {
            Fsync::Never => false,
            Fsync::PerBatch => true,
            Fsync::Interval(d) => self.last_sync.elapsed() >= d,
        };
        if sync {
            file.sync_data()?;
            self.last_sync = Instant::now();
        }
        let rotate = match options.rotation {
            Rotation::Never => false,
            Rotation::Size(max) => self.size >= max,
            Rotation::Interval(d) => self.opened.elapsed() >= d,
        };
        if rotate {
            self.rotate(options)?;
        }
        Ok(())
    }

    fn rotate(&mut self, options: &JsonlOptions) -> io::Result<()> {
        if let Some(file) = self.file.take() {
            if options.fsync != Fsync::Never {
                file.sync_data()?;
            }
        }
        let to = rotated_name(&self.path, self.next_seq);
        std::fs::rename(&self.path, &to)?;
        self.next_seq += 1;
        let (file, size) = open_append(&self.path)?;
        self.file = Some(file);
        self.size = size;
        self.opened = Instant::now();
        Ok(())
    }
}

impl JsonlSink {
    fn lock(&self) -> std::sync::MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl EventSink for JsonlSink {
    fn name(&self) -> &'static str {
        "jsonl"
    }

    fn on_event(&self, event: EventRef<'_>) {
        let mut w = self.lock();
        let Ok(json) = event.to_json() else {
            // Cannot happen for the built-in kinds; a custom payload that
            // fails to serialise is one lost line, counted at the batch end.
            w.unserialisable += 1;
            return;
        };
        // `{"schema_version":1,"run_id":"..",` + the event's own fields.
        let body = json.strip_prefix('{').unwrap_or(&json);
        w.buf.extend_from_slice(self.prefix.as_bytes());
        if event.builtin_kind().is_none() {
            // Custom events carry no host of their own: `server.address`
            // is the host label's overflow value, written here so every
            // line has the same keys.
            if let Ok(h) = serde_json::to_string(event.meta().host.as_str()) {
                w.buf.extend_from_slice(b"\"server.address\":");
                w.buf.extend_from_slice(h.as_bytes());
                w.buf.push(b',');
            }
        }
        w.buf.extend_from_slice(body.as_bytes());
        w.buf.push(b'\n');
        w.pending += 1;
    }

    fn end_batch(&self) -> u64 {
        let mut w = self.lock();
        let unserialisable = std::mem::take(&mut w.unserialisable);
        unserialisable + w.write_batch(&self.options)
    }

    fn flush(&self) {
        let mut w = self.lock();
        let _ = w.write_batch(&self.options);
        if let Some(file) = w.file.as_mut() {
            let mut result = file.flush();
            if result.is_ok() && self.options.fsync != Fsync::Never {
                result = file.sync_data();
            }
            if result.is_err() {
                record_write_error("jsonl", 1);
            }
        }
    }
}

/// Opens (appends to) the JSONL file at `path` for `run` and puts it behind
/// a queue: install the returned sink (globally, per adapter, or in a
/// [`crate::sink::FanoutSink`]) and keep the guard until the run ends;
/// dropping it, or [`QueueGuard::shutdown`], writes what is queued.
///
/// The file is created now, so an unwritable path is an error here; a later
/// write error (a full disk) loses that batch and is counted.
///
/// ```
/// use telemetry_runtime::run::Run;
/// use telemetry_runtime::sink::jsonl;
/// let dir = std::env::temp_dir().join(format!("jsonl-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// let path = dir.join("run.jsonl");
/// let run = Run::start("doc");
/// let (sink, guard) = jsonl::open(&path, &run, Default::default()).unwrap();
/// telemetry_runtime::dispatch::set_global_sink(sink);
/// // ... requests ...
/// telemetry_runtime::dispatch::clear_global_sink();
/// let report = guard.shutdown(std::time::Duration::from_secs(5));
/// assert_eq!(report.lost, 0);
/// # std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn open(
    path: impl AsRef<Path>,
    run: &Run,
    options: JsonlOptions,
) -> io::Result<(QueuedSink, QueueGuard)> {
    let path = path.as_ref().to_path_buf();
    let (file, size) = open_append(&path)?;
    let run_id = serde_json::to_string(run.id()).map_err(io::Error::other)?;
    let prefix = format!("{{\"schema_version\":{JSONL_SCHEMA_VERSION},\"run_id\":{run_id},");
    let now = Instant::now();
    let sink = JsonlSink {
        prefix,
        writer: Mutex::new(Writer {
            next_seq: first_free_seq(&path),
            path,
            file: Some(file),
            size,
            opened: now,
            last_sync: now,
            buf: Vec::with_capacity(64 * 1024),
            pending: 0,
            unserialisable: 0,
        }),
        options: options.clone(),
    };
    Ok(non_blocking_with(sink, options.queue))
}
