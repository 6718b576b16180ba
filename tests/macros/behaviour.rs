//! Behaviour of the code `#[instrumented_adapter]` generates, asserted as
//! exact event sequences on a `RecordingSink`.
//!
//! Sinks are process-global state and tests run on parallel threads, so every
//! test uses its own adapter type and installs its sink on that adapter only
//! (`T::telemetry().set_sink(...)`), never the global sink.

use std::sync::{Arc, Mutex};

use serde_json::json;
use telemetry_runtime::events::{CustomEvent, EventRef};
use telemetry_runtime::sink::{EventSink, JsonLogSink, RecordedEvent, RecordingSink};
use telemetry_runtime::{dispatch, emit, instrumented_adapter, InstrumentedAdapter};
use telemetry_tests::support::{record, Captured};

/// `(name, labels, payload)` of a recorded custom event; panics on any
/// other kind, which would itself be a wrong sequence.
fn custom(event: &RecordedEvent) -> (&'static str, Vec<(&'static str, String)>, serde_json::Value) {
    match event {
        RecordedEvent::Custom {
            name,
            labels,
            payload,
            ..
        } => (name, labels.clone(), payload.clone()),
        other => panic!("expected a custom event, got {other:?}"),
    }
}

fn labels(pairs: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
    pairs.iter().map(|(k, v)| (*k, (*v).to_owned())).collect()
}

#[instrumented_adapter(
    name = "crossref",
    labels(tenant(cap = 8), region(cap = 4)),
    events(
        resolved(tenant, doi: String, cached: bool),
        cache_miss(region, tenant, key: String, size: Option<u64>),
        warmed_up,
    ),
)]
struct EmitterCalls {}

#[test]
fn emitter_methods_record_the_exact_sequence() {
    let rec = record::<EmitterCalls>();
    let a = EmitterCalls {};
    a.emit().resolved("acme", "10.1000/182".to_owned(), true);
    a.emit()
        .cache_miss("eu", "acme", "k1".to_owned(), Some(512));
    a.emit().warmed_up();
    a.emit().resolved("globex", "10.1000/183".to_owned(), false);
    EmitterCalls::telemetry().set_sink(None);
    a.emit().warmed_up(); // no sink anymore: not recorded

    let events = rec.take();
    let seen: Vec<_> = events.iter().map(custom).collect();
    assert_eq!(
        seen,
        vec![
            (
                "resolved",
                labels(&[("tenant", "acme")]),
                json!({"event": "resolved", "tenant": "acme", "doi": "10.1000/182", "cached": true}),
            ),
            (
                "cache_miss",
                labels(&[("region", "eu"), ("tenant", "acme")]),
                json!({"event": "cache_miss", "region": "eu", "tenant": "acme", "key": "k1", "size": 512}),
            ),
            ("warmed_up", vec![], json!({"event": "warmed_up"})),
            (
                "resolved",
                labels(&[("tenant", "globex")]),
                json!({"event": "resolved", "tenant": "globex", "doi": "10.1000/183", "cached": false}),
            ),
        ]
    );
    for e in &events {
        assert_eq!(e.meta().adapter_name(), "crossref");
        // Custom events are not tied to a host.
        assert!(e.meta().host.is_overflow());
    }
    let mut ids: Vec<_> = events.iter().map(|e| e.meta().correlation_id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 4, "every event gets its own correlation id");
}

#[instrumented_adapter(labels(tenant(cap = 4)), events(resolved(tenant, doi: String), idle))]
struct MacroCalls {}

#[test]
fn emit_macro_records_the_same_events_as_the_methods() {
    let rec = record::<MacroCalls>();
    let a = MacroCalls {};
    emit!(a, resolved("acme", format!("10.1000/{}", 182)));
    emit!(a, idle());
    emit!(a, resolved("acme", "10.1000/183".to_owned(),)); // trailing comma
    MacroCalls::telemetry().set_sink(None);

    let seen: Vec<_> = rec.take().iter().map(custom).collect();
    assert_eq!(
        seen,
        vec![
            (
                "resolved",
                labels(&[("tenant", "acme")]),
                json!({"event": "resolved", "tenant": "acme", "doi": "10.1000/182"}),
            ),
            ("idle", vec![], json!({"event": "idle"})),
            (
                "resolved",
                labels(&[("tenant", "acme")]),
                json!({"event": "resolved", "tenant": "acme", "doi": "10.1000/183"}),
            ),
        ]
    );
}

#[instrumented_adapter(labels(tenant(cap = 2)), events(resolved(tenant, n: u32)))]
struct Overflowing {}

#[test]
fn label_values_past_the_cap_fold_into_other_and_are_counted() {
    // The Prometheus sink counts custom events (`telemetry_adapter_events_total`).
    let rec = telemetry_runtime::sink::RecordingSink::new();
    Overflowing::telemetry().set_sink(Some(Box::new(
        telemetry_runtime::sink::FanoutSink::new()
            .with(rec.clone())
            .with(telemetry_runtime::backends::prometheus::PrometheusSink::new()),
    )));
    let a = Overflowing {};
    for (n, tenant) in ["a", "b", "c", "a", "d", "b", "c"].iter().enumerate() {
        a.emit()
            .resolved(tenant, u32::try_from(n).unwrap_or(u32::MAX));
    }
    Overflowing::telemetry().set_sink(None);

    let tenants: Vec<String> = rec
        .take()
        .iter()
        .map(|e| custom(e).1[0].1.clone())
        .collect();
    assert_eq!(tenants, ["a", "b", "_OTHER", "a", "_OTHER", "b", "_OTHER"]);

    let label = Overflowing::telemetry().label(0);
    assert_eq!(label.name(), "tenant");
    assert_eq!(label.cap(), 2);
    assert_eq!(label.overflow_count(), 3, "c, d and c again were folded");
    // At most cap + 1 series: `a`, `b` and `_OTHER`.
    let mut counts: Vec<(String, u64)> =
        telemetry_runtime::backends::prometheus::custom_event_counts(Overflowing::telemetry())
            .into_iter()
            .map(|(event, values, count)| {
                assert_eq!(event, "resolved");
                assert_eq!(values.len(), 1);
                (values[0].1.as_str().to_owned(), count)
            })
            .collect();
    counts.sort();
    assert_eq!(
        counts,
        vec![
            ("_OTHER".to_owned(), 3),
            ("a".to_owned(), 2),
            ("b".to_owned(), 2)
        ]
    );
}

#[instrumented_adapter(
    name = "crossref_v2",
    hosts(cap = 32),
    labels(tenant(cap = 8), region(cap = 4)),
    events(resolved(tenant, doi: String, cached: bool), cache_miss(region, size: Option<u64>)),
    naming = "opentelemetry",
    slo(success = 99.5, latency_p99 = "500ms"),
    budget = 6000,
)]
struct FullManifest {}

/// Named from the type: `HTTPBinClient` -> `http_bin_client`.
#[instrumented_adapter]
struct HTTPBinClient {}

#[test]
fn manifest_describes_the_declaration() {
    let m = FullManifest::MANIFEST;
    assert_eq!(m.name, "crossref_v2");
    assert_eq!(m.type_name, "FullManifest");
    assert_eq!(m.host_cap, 32);
    assert_eq!(m.label("tenant").map(|l| l.cap), Some(8));
    assert_eq!(
        m.event("cache_miss").map(|e| e.labels),
        Some(&["region"][..])
    );
    assert!(core::ptr::eq(FullManifest::telemetry().manifest(), m));
    assert_eq!(
        serde_json::to_value(m).unwrap_or_default(),
        json!({
            "name": "crossref_v2",
            "type_name": "FullManifest",
            "naming": "open_telemetry",
            "host_cap": 32,
            "labels": [{"name": "tenant", "cap": 8}, {"name": "region", "cap": 4}],
            "events": [
                {
                    "name": "resolved",
                    "labels": ["tenant"],
                    "fields": [
                        {"name": "doi", "ty": "String", "secret": false},
                        {"name": "cached", "ty": "bool", "secret": false}
                    ],
                },
                {
                    "name": "cache_miss",
                    "labels": ["region"],
                    "fields": [{"name": "size", "ty": "Option<u64>", "secret": false}],
                },
            ],
            "slo": {
                "success_percent": 99.5,
                "latency": {"quantile": 0.99, "target_seconds": 0.5},
            },
            "cardinality_budget": 6000,
        })
    );

    let d = HTTPBinClient::MANIFEST;
    assert_eq!(
        serde_json::to_value(d).unwrap_or_default(),
        json!({
            "name": "http_bin_client",
            "type_name": "HTTPBinClient",
            "naming": "prometheus",
            "host_cap": 16,
            "labels": [],
            "events": [],
            "slo": null,
            "cardinality_budget": 10000,
        })
    );
    assert_eq!(HTTPBinClient::telemetry().hosts().cap(), 16);
    let _ = HTTPBinClient {}.emit();
}

#[instrumented_adapter(name = "left", labels(tenant(cap = 1)), events(resolved(tenant, n: u8)))]
struct Left {}

#[instrumented_adapter(name = "right", labels(tenant(cap = 3)), events(resolved(tenant, n: u8)))]
struct Right {}

#[test]
fn two_adapters_keep_separate_telemetry() {
    let left = record::<Left>();
    let right = record::<Right>();
    let (l, r) = (Left {}, Right {});
    l.emit().resolved("a", 1);
    r.emit().resolved("a", 2);
    l.emit().resolved("b", 3);
    r.emit().resolved("b", 4);
    Left::telemetry().set_sink(None);
    Right::telemetry().set_sink(None);

    let describe = |rec: &RecordingSink| -> Vec<(&'static str, String, serde_json::Value)> {
        rec.take()
            .iter()
            .map(|e| {
                let (_, labels, payload) = custom(e);
                (
                    e.meta().adapter_name(),
                    labels[0].1.clone(),
                    payload["n"].clone(),
                )
            })
            .collect()
    };
    assert_eq!(
        describe(&left),
        vec![
            ("left", "a".to_owned(), json!(1)),
            ("left", "_OTHER".to_owned(), json!(3))
        ]
    );
    assert_eq!(
        describe(&right),
        vec![
            ("right", "a".to_owned(), json!(2)),
            ("right", "b".to_owned(), json!(4))
        ]
    );
    // Same label name, separate tables: only `left` folded a value.
    assert_eq!(Left::telemetry().label(0).overflow_count(), 1);
    assert_eq!(Right::telemetry().label(0).overflow_count(), 0);
    assert!(!core::ptr::eq(Left::telemetry(), Right::telemetry()));
}

#[instrumented_adapter(events(resolved(doi: String)))]
struct Downcast {}

/// Keeps the last custom event it saw, downcast to the generated enum.
#[derive(Clone, Default)]
struct LastResolved(Arc<Mutex<Vec<DowncastEvent>>>);

impl EventSink for LastResolved {
    fn name(&self) -> &'static str {
        "last_resolved"
    }
    fn on_event(&self, event: EventRef<'_>) {
        if let EventRef::Custom(record) = event {
            let typed = record.event.as_any().downcast_ref::<DowncastEvent>();
            if let Some(typed) = typed {
                self.0
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(typed.clone());
            }
        }
    }
}

#[test]
fn sinks_can_downcast_to_the_generated_enum() {
    let sink = LastResolved::default();
    Downcast::telemetry().set_sink(Some(Box::new(sink.clone())));
    Downcast {}.emit().resolved("10.1/x".to_owned());
    Downcast::telemetry().set_sink(None);
    let got = sink.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(got.len(), 1);
    let DowncastEvent::Resolved { doi } = &got[0];
    assert_eq!(doi, "10.1/x");
    assert_eq!(got[0].name(), "resolved");
    assert_eq!(format!("{:?}", got[0]), r#"Resolved { doi: "10.1/x" }"#);
}

#[instrumented_adapter(name = "logged", labels(tenant(cap = 2)), events(resolved(tenant, ms: u64)))]
struct Logged {}

#[test]
fn custom_events_log_as_one_json_object_each() {
    let buf = Captured::default();
    Logged::telemetry().set_sink(Some(Box::new(JsonLogSink::to_writer(buf.clone()))));
    Logged {}.emit().resolved("acme", 12);
    Logged::telemetry().set_sink(None);

    let text = buf.text();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_default())
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let mut line = lines[0].clone();
    // Time and correlation id vary; check they exist, then compare the rest.
    assert!(
        line["time_unix_nano"].as_u64().is_some_and(|t| t > 0),
        "{line}"
    );
    assert!(line.get("correlation_id").is_some(), "{line}");
    if let Some(obj) = line.as_object_mut() {
        obj.remove("time_unix_nano");
        obj.remove("correlation_id");
    }
    assert_eq!(
        line,
        json!({
            "event": "resolved",
            "adapter": "logged",
            "fields": {"event": "resolved", "tenant": "acme", "ms": 12},
        })
    );
}

#[instrumented_adapter(
    name = "secrets",
    labels(tenant(cap = 2)),
    events(login(tenant, user: String, #[secret] token: String, #[secret] pin: Option<u32>)),
)]
struct Secrets {}

/// Keeps the `Debug` text of every custom event it sees.
#[derive(Clone, Default)]
struct DebugText(Arc<Mutex<Vec<String>>>);

impl EventSink for DebugText {
    fn name(&self) -> &'static str {
        "debug_text"
    }
    fn on_event(&self, event: EventRef<'_>) {
        if let EventRef::Custom(record) = event {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(format!("{:?}", record.event));
        }
    }
}

#[test]
fn secret_fields_are_redacted_in_every_sink() {
    let rec = RecordingSink::new();
    let log = Captured::default();
    let debug = DebugText::default();
    Secrets::telemetry().set_sink(Some(Box::new(
        telemetry_runtime::sink::FanoutSink::new()
            .with(rec.clone())
            .with(JsonLogSink::to_writer(log.clone()))
            .with(debug.clone())
            .with(telemetry_runtime::backends::prometheus::PrometheusSink::new()),
    )));
    Secrets {}
        .emit()
        .login("acme", "ada".to_owned(), "s3cr3t".to_owned(), Some(4321));
    Secrets::telemetry().set_sink(None);

    let redacted = json!({
        "event": "login",
        "tenant": "acme",
        "user": "ada",
        "token": telemetry_runtime::redact::REDACTED,
        "pin": "REDACTED",
    });
    // The recording sink's payload.
    let recorded: Vec<_> = rec.take().iter().map(custom).collect();
    assert_eq!(
        recorded,
        vec![("login", labels(&[("tenant", "acme")]), redacted.clone())]
    );
    // The JSON log line.
    let text = log.text();
    let lines = log.lines();
    assert_eq!(lines.len(), 1, "{text}");
    assert_eq!(lines[0]["fields"], redacted, "{text}");
    // `Debug`, as a sink that prints the event sees it.
    let debug = debug.0.lock().unwrap_or_else(|e| e.into_inner()).clone();
    assert_eq!(
        debug,
        [r#"Login { tenant: "acme", user: "ada", token: "REDACTED", pin: "REDACTED" }"#]
    );
    for seen in [text.as_str(), debug[0].as_str()] {
        assert!(!seen.contains("s3cr3t") && !seen.contains("4321"), "{seen}");
    }
    // The metrics count the event by its label only.
    assert_eq!(
        telemetry_runtime::backends::prometheus::custom_event_counts(Secrets::telemetry())
            .into_iter()
            .map(|(event, values, count)| (event, values[0].1.as_str(), count))
            .collect::<Vec<_>>(),
        [("login", "acme", 1)]
    );
}

#[instrumented_adapter(name = "secrets_traced", events(login(user: String, #[secret] token: String)))]
struct SecretsTraced {}

#[test]
fn secret_fields_are_redacted_in_tracing() {
    // Asserts on what its thread-local subscriber saw of the runtime's
    // callsites: alone in its process (see `support::process`).
    telemetry_tests::run_alone!(secret_fields_are_redacted_in_tracing);
    use telemetry_runtime::backends::tracing::{json_subscriber, TracingSink, EVENT_TARGET};
    let out = Captured::default();
    let writer = out.clone();
    let subscriber = json_subscriber("info", move || writer.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    SecretsTraced::telemetry().set_sink(Some(Box::new(TracingSink::new())));
    SecretsTraced {}
        .emit()
        .login("ada".to_owned(), "s3cr3t".to_owned());
    SecretsTraced::telemetry().set_sink(None);

    let text = out.text();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .into_iter()
        .filter(|l| l["target"] == EVENT_TARGET && l["event"] == "login")
        .collect();
    assert_eq!(lines.len(), 1, "{text}");
    let fields: serde_json::Value =
        serde_json::from_str(lines[0]["fields"].as_str().unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        fields,
        json!({"event": "login", "user": "ada", "token": "REDACTED"}),
        "{text}"
    );
    assert!(!text.contains("s3cr3t"), "{text}");
}

#[instrumented_adapter(events(resolved(doi: String)))]
struct Lazy {}

/// `emit!` must not evaluate its arguments when no sink is installed. Any
/// sink anywhere in the process counts, and the other tests install theirs
/// on parallel threads, so this test re-runs itself alone in a child process.
#[test]
fn emit_macro_does_not_evaluate_arguments_without_a_sink() {
    telemetry_tests::run_alone!(emit_macro_does_not_evaluate_arguments_without_a_sink);

    // Alone in this process: no sink anywhere.
    assert!(!dispatch::interested());
    let a = Lazy {};
    let mut evaluated = 0;
    emit!(
        a,
        resolved({
            evaluated += 1;
            "10.1/lazy".to_owned()
        })
    );
    assert_eq!(evaluated, 0, "no sink: the argument was not evaluated");

    // The method form is an ordinary call: its argument is evaluated first,
    // then dropped without building an event.
    a.emit().resolved({
        evaluated += 1;
        "10.1/eager".to_owned()
    });
    assert_eq!(evaluated, 1);

    // With a sink, the macro evaluates its argument exactly once.
    let rec = record::<Lazy>();
    emit!(
        a,
        resolved({
            evaluated += 1;
            "10.1/seen".to_owned()
        })
    );
    Lazy::telemetry().set_sink(None);
    assert_eq!(evaluated, 2);
    let seen: Vec<_> = rec.take().iter().map(custom).collect();
    assert_eq!(
        seen,
        vec![(
            "resolved",
            vec![],
            json!({"event": "resolved", "doi": "10.1/seen"})
        )]
    );
}

/// The manifest says which fields are secret, so tools that read it (stores,
/// exports, dashboards) can keep them out too.
#[test]
fn the_manifest_marks_secret_fields() {
    let login = &Secrets::MANIFEST.events[0];
    let secret: Vec<(&str, bool)> = login.fields.iter().map(|f| (f.name, f.secret)).collect();
    assert_eq!(secret, [("user", false), ("token", true), ("pin", true)]);
}
