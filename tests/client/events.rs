//! Exact event sequences of the instrumented client against the simulator:
//! success, 503 then success, 429 with `Retry-After` (seconds, date, past
//! date, too long), retries exhausted, a POST not retried, resets; plus
//! redaction and the correlation header.

use std::time::Duration;

use telemetry_runtime::client::{ClientError, RetryPolicy};
use telemetry_runtime::events::{DelaySource, ErrorType, EventRef};
use telemetry_runtime::sink::{RecordedEvent, RecordingSink};
use telemetry_runtime::{instrumented_adapter, AdapterClient, InstrumentedAdapter};
use telemetry_sim::{RetryAfter, Route, Script, Simulator, Step};
use telemetry_tests::support::{assert_one_request, describe_all, of, record};

fn fast_retries(attempts: u32) -> RetryPolicy {
    RetryPolicy::default()
        .max_attempts(attempts)
        .base_delay(Duration::from_millis(1))
        .max_delay(Duration::from_millis(5))
}

/// A simulator with `host` scripted, a recording sink on adapter `T`, and a
/// client for `T` (no breaker, so only retries shape the sequences).
async fn setup<T: InstrumentedAdapter>(
    host: &str,
    script: Script,
    retry: RetryPolicy,
) -> (Simulator, RecordingSink, AdapterClient) {
    let sim = Simulator::start()
        .await
        .expect("simulator starts on 127.0.0.1");
    sim.route(Route::host(host), script);
    let rec = record::<T>();
    let client = AdapterClient::builder::<T>()
        .resolve(host, sim.addr())
        .retry(retry)
        .no_breaker()
        .correlation_header("x-correlation-id")
        .build()
        .expect("client builds");
    (sim, rec, client)
}

fn retry_delay(events: &[RecordedEvent]) -> Vec<(Duration, DelaySource)> {
    events
        .iter()
        .filter_map(|e| match e {
            RecordedEvent::Retry(r) => Some((r.delay, r.delay_source)),
            _ => None,
        })
        .collect()
}

#[instrumented_adapter(name = "client_success", hosts(cap = 8))]
struct SuccessAdapter {}

#[tokio::test]
async fn success_is_one_request_and_one_response_with_redacted_url() {
    let (sim, rec, client) =
        setup::<SuccessAdapter>("ok.test", Script::always(Step::ok()), fast_retries(3)).await;
    let url = format!(
        "http://user:pw@ok.test:{}/data?page=2&X-Amz-Signature=s3cr3t",
        sim.port()
    );
    let resp = client.get(&url).send().await.expect("200");
    assert_eq!(resp.status_code(), 200);
    assert_eq!(resp.attempts(), 1);
    let events = rec.take();
    assert_eq!(describe_all(&events), ["request#1 GET", "response#1 200"]);
    assert_one_request(&events, resp.correlation_id());
    let RecordedEvent::Request(req) = &events[0] else {
        panic!("first event is the request")
    };
    // reqwest moves URL userinfo into an `Authorization: Basic` header, which
    // no event carries; the signature is redacted.
    assert_eq!(
        &*req.url,
        format!(
            "http://ok.test:{}/data?page=2&X-Amz-Signature=REDACTED",
            sim.port()
        )
    );
    assert_eq!(req.port, sim.port());
    assert_eq!(req.meta.host.as_str(), format!("ok.test:{}", sim.port()));
    for e in &events {
        let dump = format!("{e:?}");
        assert!(!dump.contains("s3cr3t") && !dump.contains(":pw@"), "{dump}");
    }
    // The correlation id went out as a header.
    let logged = sim.requests();
    assert_eq!(logged.len(), 1);
    assert_eq!(
        logged[0].header("x-correlation-id"),
        Some(resp.correlation_id().to_string().as_str())
    );
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_503", hosts(cap = 8))]
struct FlakyAdapter {}

#[tokio::test]
async fn a_503_then_success_is_retried_with_policy_backoff() {
    let (sim, rec, client) = setup::<FlakyAdapter>(
        "flaky.test",
        Script::sequence([Step::status(503), Step::ok()]),
        fast_retries(3),
    )
    .await;
    let resp = client
        .get(sim.url("flaky.test", "/x"))
        .send()
        .await
        .expect("second attempt succeeds");
    assert_eq!((resp.status_code(), resp.attempts()), (200, 2));
    let events = rec.take();
    assert_eq!(
        describe_all(&events),
        [
            "request#1 GET",
            "response#1 503",
            "retry#1 status/policy",
            "backoff#1 policy",
            "request#2 GET",
            "response#2 200",
        ]
    );
    assert_one_request(&events, resp.correlation_id());
    // Serialised, each attempt says how many resends preceded it.
    let RecordedEvent::Request(second) = &events[4] else {
        panic!("fifth event is the second request")
    };
    let json: serde_json::Value =
        serde_json::from_str(&EventRef::Request(second).to_json().unwrap_or_default())
            .unwrap_or_default();
    assert_eq!(json["http.request.resend_count"], 1, "{json}");
    assert_eq!(json["attempt"], 2, "{json}");
    assert_eq!(json["correlation_id"], resp.correlation_id().to_string());
    let [(delay, _)] = retry_delay(&events)[..] else {
        panic!("one retry")
    };
    assert!(
        delay <= Duration::from_millis(1),
        "full jitter under the 1 ms ceiling"
    );
    // Every wire attempt carried the same correlation id.
    let ids: Vec<_> = sim
        .requests()
        .iter()
        .map(|r| r.header("x-correlation-id").map(str::to_owned))
        .collect();
    assert_eq!(ids, vec![Some(resp.correlation_id().to_string()); 2]);
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_429_secs", hosts(cap = 8))]
struct RetryAfterSecsAdapter {}

#[tokio::test]
async fn a_429_with_retry_after_seconds_waits_exactly_that_long() {
    let (sim, rec, client) = setup::<RetryAfterSecsAdapter>(
        "throttled.test",
        Script::sequence([Step::retry_after(429, RetryAfter::Seconds(1)), Step::ok()]),
        fast_retries(3),
    )
    .await;
    let resp = client
        .get(sim.url("throttled.test", "/"))
        .send()
        .await
        .expect("succeeds after Retry-After");
    assert_eq!(resp.status_code(), 200);
    let events = rec.take();
    assert_eq!(
        describe_all(&events),
        [
            "request#1 GET",
            "response#1 429",
            "retry#1 status/retry_after",
            "backoff#1 retry_after",
            "request#2 GET",
            "response#2 200",
        ]
    );
    assert_eq!(
        retry_delay(&events),
        vec![(Duration::from_secs(1), DelaySource::RetryAfter)]
    );
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_429_date", hosts(cap = 8))]
struct RetryAfterDateAdapter {}

#[tokio::test]
async fn a_429_with_retry_after_date_waits_until_then_and_a_past_date_uses_the_policy() {
    let (sim, rec, client) = setup::<RetryAfterDateAdapter>(
        "dated.test",
        Script::sequence([
            Step::retry_after(429, RetryAfter::DateIn(Duration::from_secs(2))),
            Step::retry_after(503, RetryAfter::DateAgo(Duration::from_secs(30))),
            Step::ok(),
        ]),
        fast_retries(3),
    )
    .await;
    let resp = client
        .get(sim.url("dated.test", "/"))
        .send()
        .await
        .expect("third attempt succeeds");
    assert_eq!((resp.status_code(), resp.attempts()), (200, 3));
    let events = rec.take();
    assert_eq!(
        describe_all(&events),
        [
            "request#1 GET",
            "response#1 429",
            "retry#1 status/retry_after",
            "backoff#1 retry_after",
            "request#2 GET",
            "response#2 503",
            "retry#2 status/policy",
            "backoff#2 policy",
            "request#3 GET",
            "response#3 200",
        ]
    );
    let delays = retry_delay(&events);
    // An HTTP date has one-second resolution: "in 2 s" is 1 to 2 s away.
    assert!(
        delays[0].0 > Duration::ZERO && delays[0].0 <= Duration::from_secs(2),
        "{delays:?}"
    );
    assert!(delays[1].0 <= Duration::from_millis(2), "{delays:?}");
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_429_long", hosts(cap = 8))]
struct RetryAfterLongAdapter {}

#[tokio::test]
async fn a_retry_after_above_the_cap_stops_with_a_clear_error() {
    let (sim, rec, client) = setup::<RetryAfterLongAdapter>(
        "slowdown.test",
        Script::always(Step::retry_after(429, RetryAfter::Seconds(3600))),
        fast_retries(3),
    )
    .await;
    let err = client
        .get(sim.url("slowdown.test", "/"))
        .send()
        .await
        .expect_err("one hour is above the 900 s cap");
    match &err {
        ClientError::RetryAfterTooLong {
            status,
            retry_after,
            cap,
            attempts,
            ..
        } => {
            assert_eq!(*status, 429);
            assert_eq!(*retry_after, Duration::from_secs(3600));
            assert_eq!(*cap, Duration::from_secs(900));
            assert_eq!(*attempts, 1);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(err.error_type(), ErrorType::RetryAfterTooLong);
    // The second attempt is refused before the wire: a rejection event, not
    // a request.
    let events = rec.take();
    assert_eq!(
        describe_all(&events),
        [
            "request#1 GET",
            "response#1 429",
            "error#2 retry_after_too_long"
        ]
    );
    assert!(matches!(&events[2], RecordedEvent::Error(e) if !e.reached_wire));
    assert_eq!(sim.hits("slowdown.test", None), 1);
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_exhausted", hosts(cap = 8))]
struct ExhaustedAdapter {}

#[tokio::test]
async fn retries_exhausted_return_the_last_response() {
    let (sim, rec, client) = setup::<ExhaustedAdapter>(
        "down.test",
        Script::always(Step::status(503)),
        fast_retries(3),
    )
    .await;
    let resp = client
        .get(sim.url("down.test", "/"))
        .send()
        .await
        .expect("a response, if a failed one");
    assert_eq!((resp.status_code(), resp.attempts()), (503, 3));
    let events = rec.take();
    assert_eq!(
        describe_all(&events),
        [
            "request#1 GET",
            "response#1 503",
            "retry#1 status/policy",
            "backoff#1 policy",
            "request#2 GET",
            "response#2 503",
            "retry#2 status/policy",
            "backoff#2 policy",
            "request#3 GET",
            "response#3 503",
        ]
    );
    assert_one_request(&events, resp.correlation_id());
    assert_eq!(sim.hits("down.test", None), 3);
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_reset", hosts(cap = 8))]
struct ResetAdapter {}

#[tokio::test]
async fn connection_resets_are_retried_then_reported() {
    let (sim, rec, client) =
        setup::<ResetAdapter>("reset.test", Script::always(Step::reset()), fast_retries(2)).await;
    let err = client
        .get(sim.url("reset.test", "/"))
        .send()
        .await
        .expect_err("every attempt is reset");
    match &err {
        ClientError::Transport { kind, attempts, .. } => {
            assert_eq!((*kind, *attempts), (ErrorType::ConnectionReset, 2));
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        !err.to_string().contains("http://"),
        "no URL in errors: {err}"
    );
    assert_eq!(
        describe_all(&rec.take()),
        [
            "request#1 GET",
            "error#1 connection_reset",
            "retry#1 connection_reset/policy",
            "backoff#1 policy",
            "request#2 GET",
            "error#2 connection_reset",
        ]
    );
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_post", hosts(cap = 8))]
struct PostAdapter {}

#[tokio::test]
async fn a_post_is_not_retried_unless_marked_idempotent() {
    let (sim, rec, client) = setup::<PostAdapter>(
        "orders.test",
        Script::always(Step::status(503)),
        fast_retries(3),
    )
    .await;
    let resp = client
        .post(sim.url("orders.test", "/orders"))
        .json(&serde_json::json!({"sku": 1}))
        .send()
        .await
        .expect("the 503 comes back");
    assert_eq!((resp.status_code(), resp.attempts()), (503, 1));
    assert_eq!(
        describe_all(&rec.take()),
        ["request#1 POST", "response#1 503"]
    );
    assert_eq!(sim.hits("orders.test", None), 1);

    let resp = client
        .post(sim.url("orders.test", "/orders"))
        .text("retry me")
        .idempotent(true)
        .send()
        .await
        .expect("the 503 comes back");
    assert_eq!(resp.attempts(), 3);
    let events = rec.take();
    assert_eq!(
        of(&events, resp.correlation_id()).len(),
        events.len(),
        "one logical request"
    );
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e, RecordedEvent::Request(_)))
            .count(),
        3
    );
    assert_eq!(sim.hits("orders.test", None), 4);
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_stream_body", hosts(cap = 8))]
struct StreamBodyAdapter {}

#[tokio::test]
async fn a_body_that_cannot_be_cloned_is_not_retried() {
    let (sim, rec, client) = setup::<StreamBodyAdapter>(
        "upload.test",
        Script::always(Step::status(503)),
        fast_retries(3),
    )
    .await;
    // A wrapped body is streamed: reqwest cannot clone it for a second try.
    let streamed = reqwest::Body::wrap(String::from("chunk"));
    let resp = client
        .put(sim.url("upload.test", "/blob"))
        .body(streamed)
        .send()
        .await
        .expect("the 503 comes back");
    assert_eq!((resp.status_code(), resp.attempts()), (503, 1));
    assert_eq!(
        describe_all(&rec.take()),
        ["request#1 PUT", "response#1 503"]
    );
    // The same PUT with a buffered body is retried.
    let resp = client
        .put(sim.url("upload.test", "/blob"))
        .body("chunk")
        .send()
        .await
        .expect("the 503 comes back");
    assert_eq!(resp.attempts(), 3);
    sim.shutdown().await;
}

#[instrumented_adapter(name = "client_verbs", hosts(cap = 4))]
struct VerbsAdapter {}

#[tokio::test]
async fn head_and_patch_are_observed_with_their_methods() {
    let (sim, rec, client) = setup::<VerbsAdapter>(
        "verbs.test",
        Script::always(Step::ok()),
        RetryPolicy::none(),
    )
    .await;
    let url = sim.url("verbs.test", "/");
    assert_eq!(client.head(&url).send().await.expect("head").status(), 200);
    assert_eq!(
        client.patch(&url).send().await.expect("patch").status(),
        200
    );
    assert_eq!(
        describe_all(&rec.take()),
        [
            "request#1 HEAD",
            "response#1 200",
            "request#1 PATCH",
            "response#1 200"
        ]
    );
}

#[instrumented_adapter(name = "client_budget_spent", hosts(cap = 4))]
struct BudgetSpentAdapter {}

/// A retry the budget refuses is a rejection before the wire: an error
/// event with `reached_wire: false`, no wire attempt, and the call ends with
/// the last attempt's answer.
#[tokio::test]
async fn a_spent_retry_budget_is_a_refusal_not_an_attempt() {
    let sim = Simulator::start().await.expect("simulator");
    sim.route(Route::host("spent.test"), Script::always(Step::status(503)));
    let rec = record::<BudgetSpentAdapter>();
    let client = AdapterClient::builder::<BudgetSpentAdapter>()
        .resolve("spent.test", sim.addr())
        .retry(fast_retries(5))
        .retry_budget(telemetry_runtime::client::RetryBudget::new(1, 0.0))
        .no_breaker()
        .build()
        .expect("client");
    let r = client
        .get(sim.url("spent.test", "/"))
        .send()
        .await
        .expect("the last 503 comes back");
    assert_eq!(r.status(), 503);
    assert_eq!(r.attempts(), 2, "one retry from the budget");
    assert_eq!(sim.hits("spent.test", None), 2);
    let events = rec.take();
    let last = events.last().expect("events");
    assert!(
        matches!(last, RecordedEvent::Error(e)
            if e.error_type == ErrorType::RetryBudgetExhausted && !e.reached_wire && e.meta.attempt == 3),
        "{:?}",
        describe_all(&events)
    );
}

#[instrumented_adapter(
    name = "client_scoped_custom",
    hosts(cap = 8),
    events(parsed(items: u32))
)]
struct ScopedCustom {}

#[instrumented_adapter(name = "client_scoped_other", hosts(cap = 8), events(noted(n: u32)))]
struct ScopedOther {}

/// A custom event emitted while handling a response, in its request's
/// scope, carries the request's correlation id and host; outside the scope
/// it gets a fresh id and the overflow host; another adapter's event in the
/// scope keeps the correlation id only.
#[tokio::test]
async fn custom_events_in_a_request_scope_carry_its_correlation_id_and_host() {
    let (sim, rec, client) =
        setup::<ScopedCustom>("scoped.test", Script::always(Step::ok()), fast_retries(1)).await;
    let other = record::<ScopedOther>();
    let api = ScopedCustom {};
    let resp = client
        .get(format!("http://scoped.test:{}/items", sim.port()))
        .send()
        .await
        .expect("200");
    let ctx = resp.context();
    let host = format!("scoped.test:{}", sim.port());
    assert_eq!(
        (ctx.adapter(), ctx.host()),
        ("client_scoped_custom", host.as_str())
    );
    let body = ctx.in_scope(resp.text()).await.expect("body");
    ctx.scope(|| {
        api.emit()
            .parsed(u32::try_from(body.len()).unwrap_or(u32::MAX));
        ScopedOther {}.emit().noted(1);
    });
    api.emit().parsed(0);

    let customs: Vec<_> = rec
        .take()
        .into_iter()
        .filter_map(|e| match e {
            RecordedEvent::Custom { meta, .. } => Some(meta),
            _ => None,
        })
        .collect();
    assert_eq!(customs.len(), 2, "two custom events of the adapter");
    assert_eq!(customs[0].correlation_id, ctx.correlation_id());
    assert_eq!(customs[0].host.as_str(), host);
    assert_ne!(customs[1].correlation_id, ctx.correlation_id());
    assert_eq!(customs[1].host.as_str(), "_OTHER");

    let others: Vec<_> = other
        .take()
        .into_iter()
        .filter_map(|e| match e {
            RecordedEvent::Custom { meta, .. } => Some(meta),
            _ => None,
        })
        .collect();
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].correlation_id, ctx.correlation_id());
    assert_eq!(
        others[0].host.as_str(),
        "_OTHER",
        "host labels are per adapter"
    );
}

#[instrumented_adapter(name = "client_filter_folded", hosts(cap = 1))]
struct FilterFolded {}

/// The host filter matches the host before folding: with a cap of 1 the
/// second host's label is `_OTHER`, and an allow list naming it still
/// passes its events (and only its events).
#[tokio::test]
async fn the_host_filter_matches_a_host_folded_into_other() {
    use telemetry_runtime::sink::HostFilterSink;
    let sim = Simulator::start().await.expect("simulator");
    for h in ["first.test", "second.test"] {
        sim.route(Route::host(h), Script::always(Step::ok()));
    }
    let rec = RecordingSink::new();
    let port = sim.port();
    FilterFolded::telemetry().set_sink(Some(Box::new(HostFilterSink::allow(
        [format!("Second.Test:{port}")],
        rec.clone(),
    ))));
    let client = AdapterClient::builder::<FilterFolded>()
        .resolve("first.test", sim.addr())
        .resolve("second.test", sim.addr())
        .no_breaker()
        .build()
        .expect("client builds");
    for h in ["first.test", "second.test", "first.test"] {
        client
            .get(format!("http://{h}:{port}/"))
            .send()
            .await
            .expect("200");
    }
    FilterFolded::telemetry().set_sink(None);
    let events = rec.take();
    assert_eq!(describe_all(&events), ["request#1 GET", "response#1 200"]);
    assert!(
        events.iter().all(|e| e.meta().host.as_str() == "_OTHER"),
        "the second host is past the cap of 1, so its label is folded"
    );
}
