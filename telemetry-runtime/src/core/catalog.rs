//! Metric and label names in both naming modes.
//!
//! [`Naming::Prometheus`] uses the catalogue of `DESIGN.md`
//! (`http_requests_total`, ...). [`Naming::OpenTelemetry`] uses the
//! OpenTelemetry semantic-convention name of each instrument
//! (`http.client.request.duration`, ...), exposed in the Prometheus text
//! format under its *Prometheus translation*, as the OpenTelemetry Prometheus
//! exporter writes it: dots become underscores, the unit is appended
//! (`s` → `_seconds`, `By` → `_bytes`, `1` → `_ratio`) and counters end in
//! `_total`. So `http.client.request.duration` is scraped as
//! `http_client_request_duration_seconds`. Label names are translated the same
//! way (`server.address` → `server_address`). See `docs/metrics.md`.

use crate::core::manifest::Naming;

/// What kind of Prometheus family a metric is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A monotonically increasing counter.
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Cumulative buckets, sum and count.
    Histogram,
}

impl Kind {
    /// The `# TYPE` word.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

macro_rules! families {
    ($( $(#[$m:meta])* $v:ident => $prom:literal, $otel:literal, $otel_prom:literal, $unit:literal, $kind:ident, $help:literal; )+) => {
        /// Every metric family the runtime exports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Family { $( $(#[$m])* $v ),+ }

        impl Family {
            /// All families, in exposition order.
            pub const ALL: &'static [Family] = &[$(Family::$v),+];

            /// The Prometheus-mode name (`http_requests_total`).
            pub fn prometheus_name(self) -> &'static str {
                match self { $(Family::$v => $prom),+ }
            }
            /// The OpenTelemetry instrument name (`http.client.request.duration`),
            /// as exported over OTLP.
            pub fn otel_name(self) -> &'static str {
                match self { $(Family::$v => $otel),+ }
            }
            /// The Prometheus translation of the OpenTelemetry name
            /// (`http_client_request_duration_seconds`).
            pub fn otel_prometheus_name(self) -> &'static str {
                match self { $(Family::$v => $otel_prom),+ }
            }
            /// The OpenTelemetry unit (UCUM: `s`, `By`, `1`, `{request}`).
            pub fn unit(self) -> &'static str {
                match self { $(Family::$v => $unit),+ }
            }
            /// Counter, gauge or histogram.
            pub fn kind(self) -> Kind {
                match self { $(Family::$v => Kind::$kind),+ }
            }
            /// The `# HELP` text.
            pub fn help(self) -> &'static str {
                match self { $(Family::$v => $help),+ }
            }
        }
    };
}

families! {
    /// `http_requests_total`.
    Requests => "http_requests_total", "http.client.requests", "http_client_requests_total", "{request}", Counter,
        "HTTP wire attempts by adapter, host, method and status (the code, or error.type when no response came).";
    /// `http_request_duration_seconds`.
    RequestDuration => "http_request_duration_seconds", "http.client.request.duration", "http_client_request_duration_seconds", "s", Histogram,
        "Duration of HTTP wire attempts, from send to response headers or failure.";
    /// `http_response_size_bytes`.
    ResponseSize => "http_response_size_bytes", "http.client.response.body.size", "http_client_response_body_size_bytes", "By", Histogram,
        "Size of HTTP response bodies.";
    /// `http_response_body_duration_seconds`.
    BodyDuration => "http_response_body_duration_seconds", "http.client.response.body.duration", "http_client_response_body_duration_seconds", "s", Histogram,
        "Time from response headers to the end of the body, for bodies read through the client (read to the end or failed).";
    /// `http_response_body_errors_total`.
    BodyErrors => "http_response_body_errors_total", "http.client.response.body.errors", "http_client_response_body_errors_total", "{error}", Counter,
        "Response bodies that failed midway while being read, by error.type.";
    /// `http_client_rejections_total`.
    Rejections => "http_client_rejections_total", "http.client.rejections", "http_client_rejections_total", "{request}", Counter,
        "Requests the client refused before the wire (circuit_open, rate_limited, retry_after_too_long, retry_budget_exhausted): not wire attempts.";
    /// `http_in_flight_requests`.
    InFlight => "http_in_flight_requests", "http.client.active_requests", "http_client_active_requests", "{request}", Gauge,
        "HTTP wire attempts in flight.";
    /// `http_retries_total`.
    Retries => "http_retries_total", "http.client.retries", "http_client_retries_total", "{retry}", Counter,
        "Wire attempts that failed and were retried, by reason.";
    /// `http_backoff_duration_seconds`.
    Backoff => "http_backoff_duration_seconds", "http.client.backoff.duration", "http_client_backoff_duration_seconds", "s", Histogram,
        "Delays slept before a retry, by where the delay came from (policy, retry_after, limiter).";
    /// `http_limiter_queue_depth`.
    LimiterQueueDepth => "http_limiter_queue_depth", "http.client.limiter.queue_depth", "http_client_limiter_queue_depth", "{request}", Gauge,
        "Requests waiting in the host's rate-limiter queue, as last seen.";
    /// `http_limiter_wait_seconds`.
    LimiterWait => "http_limiter_wait_seconds", "http.client.limiter.wait.duration", "http_client_limiter_wait_duration_seconds", "s", Histogram,
        "Time requests waited for a rate-limiter token.";
    /// `http_limiter_saturation_ratio`.
    LimiterSaturation => "http_limiter_saturation_ratio", "http.client.limiter.saturation", "http_client_limiter_saturation_ratio", "1", Gauge,
        "Saturation of the host's rate limiter (0 idle, 1 full), as last seen.";
    /// `http_circuit_breaker_state`.
    BreakerState => "http_circuit_breaker_state", "http.client.circuit_breaker.state", "http_client_circuit_breaker_state", "1", Gauge,
        "Circuit-breaker state of the host: 0 closed, 1 open, 2 half-open.";
    /// `http_circuit_breaker_transitions_total`.
    BreakerTransitions => "http_circuit_breaker_transitions_total", "http.client.circuit_breaker.transitions", "http_client_circuit_breaker_transitions_total", "{transition}", Counter,
        "Circuit-breaker state changes, by from and to state.";
    /// `http_fallback_attempts_total`.
    FallbackAttempts => "http_fallback_attempts_total", "http.client.fallback.attempts", "http_client_fallback_attempts_total", "{attempt}", Counter,
        "Sources tried in fallback chains, by source and outcome.";
    /// `adapter_events_total`.
    AdapterEvents => "adapter_events_total", "adapter.events", "adapter_events_total", "{event}", Counter,
        "Custom adapter events by event and declared labels.";
    /// `telemetry_label_overflow_total`.
    LabelOverflow => "telemetry_label_overflow_total", "telemetry.label.overflow", "telemetry_label_overflow_total", "{value}", Counter,
        "Label values folded into _OTHER because a cap was reached or the value was unsafe.";
    /// `telemetry_sink_panics_total`.
    SinkPanics => "telemetry_sink_panics_total", "telemetry.sink.panics", "telemetry_sink_panics_total", "{panic}", Counter,
        "Panics caught in event sinks.";
    /// `telemetry_events_dropped_total`.
    EventsDropped => "telemetry_events_dropped_total", "telemetry.events.dropped", "telemetry_events_dropped_total", "{event}", Counter,
        "Events dropped by sinks (full queues).";
    /// `telemetry_sink_write_errors_total`.
    SinkWriteErrors => "telemetry_sink_write_errors_total", "telemetry.sink.write_errors", "telemetry_sink_write_errors_total", "{error}", Counter,
        "Writes a sink could not complete (I/O errors of its file or database: a batch not written or committed, a failed fsync or rotation).";
    /// `telemetry_events_sampled_out_total`.
    EventsSampledOut => "telemetry_events_sampled_out_total", "telemetry.events.sampled_out", "telemetry_events_sampled_out_total", "{event}", Counter,
        "Events a sampling sink kept out.";
    /// `telemetry_events_suppressed_total`.
    EventsSuppressed => "telemetry_events_suppressed_total", "telemetry.events.suppressed", "telemetry_events_suppressed_total", "{event}", Counter,
        "Events a rate-limiting sink suppressed.";
    /// `telemetry_config_reloads_total`.
    ConfigReloads => "telemetry_config_reloads_total", "telemetry.config.reloads", "telemetry_config_reloads_total", "{reload}", Counter,
        "Configuration reloads, by result: success (applied) or error (refused, nothing changed).";
}

impl Family {
    /// The exposition name in `naming`.
    ///
    /// ```
    /// use telemetry_runtime::core::catalog::Family;
    /// use telemetry_runtime::manifest::Naming;
    /// assert_eq!(Family::RequestDuration.name(Naming::Prometheus), "http_request_duration_seconds");
    /// assert_eq!(Family::RequestDuration.name(Naming::OpenTelemetry), "http_client_request_duration_seconds");
    /// assert_eq!(Family::RequestDuration.otel_name(), "http.client.request.duration");
    /// ```
    pub fn name(self, naming: Naming) -> &'static str {
        match naming {
            Naming::Prometheus => self.prometheus_name(),
            Naming::OpenTelemetry => self.otel_prometheus_name(),
        }
    }
}

/// Label names that differ between the naming modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelNames {
    /// The host label: `host` / `server_address`.
    pub host: &'static str,
    /// The method label: `method` / `http_request_method`.
    pub method: &'static str,
    /// The status label of a response: `status` / `http_response_status_code`.
    pub status: &'static str,
    /// The status label of an attempt without a response: `status` /
    /// `error_type` (in OpenTelemetry mode a failed attempt has an `error.type`
    /// and no status code, as the semantic conventions say).
    pub error: &'static str,
}

impl LabelNames {
    /// The label names of `naming`.
    ///
    /// ```
    /// use telemetry_runtime::core::catalog::LabelNames;
    /// use telemetry_runtime::manifest::Naming;
    /// assert_eq!(LabelNames::of(Naming::OpenTelemetry).host, "server_address");
    /// ```
    pub const fn of(naming: Naming) -> Self {
        match naming {
            Naming::Prometheus => LabelNames {
                host: "host",
                method: "method",
                status: "status",
                error: "status",
            },
            Naming::OpenTelemetry => LabelNames {
                host: "server_address",
                method: "http_request_method",
                status: "http_response_status_code",
                error: "error_type",
            },
        }
    }
}

/// Default buckets of `http_backoff_duration_seconds`: OpenTelemetry's
/// advised duration buckets extended to a minute (`Retry-After` can ask for
/// that much).
pub const BACKOFF_BUCKETS_SECONDS: &[f64] = &[
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 30.0, 60.0,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_label_the_catalogue_writes_is_reserved_for_the_macro() {
        let p = LabelNames::of(Naming::Prometheus);
        // The labels the backends write besides these: adapter, reason,
        // source, outcome, from, to, label, sink, event, tier.
        let written = [
            "adapter", p.host, p.method, p.status, p.error, "reason", "source", "outcome", "from",
            "to", "label", "sink", "event", "tier",
        ];
        for name in written {
            assert!(
                telemetry_vocab::RESERVED_LABELS.contains(&name),
                "`{name}` is written by the runtime but the macro does not reserve it \
                 (telemetry_vocab::RESERVED_LABELS)"
            );
        }
    }
}
