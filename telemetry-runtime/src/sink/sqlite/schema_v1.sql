-- Event store schema, version 1 (PRAGMA user_version = 1).
--
-- The contract between the SQLite sink (telemetry-runtime, feature `sqlite`)
-- and the `adapter-telemetry` command. Later versions add migrations
-- (schema_v2.sql, ...) that upgrade a version-1 file in place; a version is
-- never edited once released. Times are Unix nanoseconds (INTEGER), durations
-- are seconds (REAL). Correlation ids are 16 lower-case hex digits, as in logs.

PRAGMA journal_mode = WAL;

CREATE TABLE IF NOT EXISTS runs (
    run_id            TEXT PRIMARY KEY,           -- unique per run (for example a UUID or ULID)
    job               TEXT NOT NULL,              -- the job name (`harvest-nightly`)
    labels_json       TEXT NOT NULL DEFAULT '{}', -- further run labels, a JSON object of strings
    started_unix_nano INTEGER NOT NULL,
    ended_unix_nano   INTEGER,                    -- NULL while running, or when the process died
    events_written    INTEGER,                    -- at the end of the run
    events_dropped    INTEGER                     -- at the end of the run (queue full, write errors)
);

-- The adapters' manifests (the JSON that `AdapterManifest` serialises to),
-- stored when a run starts: objectives, caps and declared events.
CREATE TABLE IF NOT EXISTS manifests (
    run_id        TEXT NOT NULL REFERENCES runs(run_id),
    adapter       TEXT NOT NULL,
    manifest_json TEXT NOT NULL,
    PRIMARY KEY (run_id, adapter)
);

-- One row per attempt outcome: a response, an error on the wire, or a refusal
-- before the wire (reached_wire = 0: circuit open, rate-limit rejection,
-- retry budget exhausted, Retry-After above the cap). Wire attempts are the
-- rows with reached_wire = 1; they alone feed latency and the success ratio,
-- as in the generated recording rules.
CREATE TABLE IF NOT EXISTS http_events (
    id                    INTEGER PRIMARY KEY,
    run_id                TEXT NOT NULL,
    time_unix_nano        INTEGER NOT NULL,
    adapter               TEXT NOT NULL,
    host                  TEXT NOT NULL,          -- the host label value (bounded, may be _OTHER)
    correlation_id        TEXT NOT NULL,
    attempt               INTEGER NOT NULL,       -- 1 for the first attempt
    method                TEXT NOT NULL,
    status                INTEGER,                -- NULL when error_type is set
    error_type            TEXT,                   -- NULL for a response
    reached_wire          INTEGER NOT NULL,       -- 1 or 0
    elapsed_seconds       REAL NOT NULL,          -- send to response headers or failure; 0 for a refusal
    body_size             INTEGER,                -- response body bytes, when known
    retry_after_seconds   REAL,                   -- the delay a Retry-After header asked for, if any
    limiter_delay_seconds REAL,                   -- time this attempt waited for the rate limiter
    breaker_state         TEXT                    -- the host's breaker state when the attempt was sent
);
CREATE INDEX IF NOT EXISTS http_events_run ON http_events (run_id, adapter, host);
CREATE INDEX IF NOT EXISTS http_events_time ON http_events (time_unix_nano);

CREATE TABLE IF NOT EXISTS rate_limit_events (
    id             INTEGER PRIMARY KEY,
    run_id         TEXT NOT NULL,
    time_unix_nano INTEGER NOT NULL,
    adapter        TEXT NOT NULL,
    host           TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    attempt        INTEGER NOT NULL,
    outcome        TEXT NOT NULL,                 -- acquired | waited | rejected
    wait_seconds   REAL NOT NULL,
    queue_depth    INTEGER NOT NULL,
    saturation     REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_limit_events_run ON rate_limit_events (run_id, adapter, host);

CREATE TABLE IF NOT EXISTS breaker_transitions (
    id             INTEGER PRIMARY KEY,
    run_id         TEXT NOT NULL,
    time_unix_nano INTEGER NOT NULL,
    adapter        TEXT NOT NULL,
    host           TEXT NOT NULL,
    from_state     TEXT NOT NULL,                 -- closed | open | half_open
    to_state       TEXT NOT NULL,
    reason         TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS breaker_transitions_run ON breaker_transitions (run_id, adapter, host, time_unix_nano);

CREATE TABLE IF NOT EXISTS fallback_attempts (
    id              INTEGER PRIMARY KEY,
    run_id          TEXT NOT NULL,
    time_unix_nano  INTEGER NOT NULL,
    adapter         TEXT NOT NULL,
    correlation_id  TEXT NOT NULL,
    tier            INTEGER NOT NULL,
    source          TEXT NOT NULL,
    outcome         TEXT NOT NULL,                -- success | failure | skipped
    reason          TEXT,
    elapsed_seconds REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS fallback_attempts_run ON fallback_attempts (run_id, adapter);

-- An adapter's own events. The declared bounded labels (at most 16 per event,
-- telemetry_vocab::MAX_EVENT_LABELS) get typed columns, in declaration order;
-- label names are in the manifest. Secret fields are never stored.
CREATE TABLE IF NOT EXISTS custom_events (
    id             INTEGER PRIMARY KEY,
    run_id         TEXT NOT NULL,
    time_unix_nano INTEGER NOT NULL,
    adapter        TEXT NOT NULL,
    host           TEXT NOT NULL,
    correlation_id TEXT NOT NULL,
    event          TEXT NOT NULL,
    label_1 TEXT, label_2 TEXT, label_3 TEXT, label_4 TEXT,
    label_5 TEXT, label_6 TEXT, label_7 TEXT, label_8 TEXT,
    label_9 TEXT, label_10 TEXT, label_11 TEXT, label_12 TEXT,
    label_13 TEXT, label_14 TEXT, label_15 TEXT, label_16 TEXT,
    payload_json   TEXT NOT NULL                  -- the whole event, secret fields as "REDACTED"
);
CREATE INDEX IF NOT EXISTS custom_events_run ON custom_events (run_id, adapter, event);

PRAGMA user_version = 1;
