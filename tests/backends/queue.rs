//! The bounded queue in front of a slow sink (`sink::queue`): the request
//! path only enqueues, full queues drop and count, the guard drains, a
//! panicking inner sink is counted and the writer carries on.

use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use telemetry_runtime::dispatch;
use telemetry_runtime::events::*;
use telemetry_runtime::sink::queue::{non_blocking, non_blocking_with, QueueOptions, WhenFull};
use telemetry_runtime::sink::{EventSink, RecordingSink};
use telemetry_runtime::{instrumented_adapter, AdapterTelemetry, InstrumentedAdapter};

#[instrumented_adapter(name = "queue_drain", hosts(cap = 4), events(noted(n: u32)))]
struct Drain {}
#[instrumented_adapter(name = "queue_full", hosts(cap = 4))]
struct Full {}
#[instrumented_adapter(name = "queue_block", hosts(cap = 4))]
struct Block {}
#[instrumented_adapter(name = "queue_panics", hosts(cap = 4))]
struct Panics {}

fn response(adapter: &'static AdapterTelemetry, status: u16) {
    let host = adapter.hosts().intern("q.example.com");
    let meta = EventMeta::new(adapter, host, CorrelationId::next(), 1);
    adapter.emit(EventRef::Response(&ResponseEvent {
        meta,
        method: HttpMethod::Get,
        status,
        duration: Duration::from_millis(1),
        body_size: None,
    }));
}

/// A sink that holds its first event until released: the writer is then
/// busy and the queue fills behind it.
#[derive(Clone, Default)]
struct Gate {
    open: Arc<(Mutex<bool>, Condvar)>,
    seen: Arc<Mutex<Vec<u16>>>,
    /// Set when the writer has handed the gate its first event.
    entered: Arc<std::sync::atomic::AtomicBool>,
    name: &'static str,
}

impl Gate {
    fn named(name: &'static str) -> Self {
        Gate {
            name,
            ..Gate::default()
        }
    }
    fn release(&self) {
        let (lock, cv) = &*self.open;
        *lock.lock().unwrap_or_else(|e| e.into_inner()) = true;
        cv.notify_all();
    }
    /// Waits (bounded) until the writer holds an event in the gate.
    fn wait_entered(&self) {
        for _ in 0..5000 {
            if self.entered.load(std::sync::atomic::Ordering::Acquire) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        panic!("the writer never delivered the first event");
    }
    fn seen(&self) -> Vec<u16> {
        self.seen.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

impl EventSink for Gate {
    fn name(&self) -> &'static str {
        self.name
    }
    fn on_response(&self, e: &ResponseEvent) {
        self.entered
            .store(true, std::sync::atomic::Ordering::Release);
        let (lock, cv) = &*self.open;
        let mut open = lock.lock().unwrap_or_else(|e| e.into_inner());
        while !*open {
            open = cv.wait(open).unwrap_or_else(|e| e.into_inner());
        }
        self.seen
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(e.status);
    }
}

fn dropped(sink: &str) -> u64 {
    dispatch::events_dropped()
        .into_iter()
        .find(|(n, _)| *n == sink)
        .map_or(0, |(_, c)| c)
}

#[test]
fn the_guard_drains_every_event_in_order_and_loses_none() {
    let rec = RecordingSink::new();
    let (sink, guard) = non_blocking(rec.clone());
    Drain::telemetry().set_sink(Some(Box::new(sink)));
    let d = Drain {};
    for i in 0..1000u16 {
        response(Drain::telemetry(), 200 + (i % 300));
        if i % 100 == 0 {
            d.emit().noted(u32::from(i));
        }
    }
    Drain::telemetry().set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    assert_eq!(report.unwritten, 0);
    assert_eq!(report.dropped, 0);
    assert_eq!(report.written, 1010);
    let events = rec.events();
    assert_eq!(events.len(), 1010);
    let statuses: Vec<u16> = events
        .iter()
        .filter_map(|e| match e {
            telemetry_runtime::sink::RecordedEvent::Response(r) => Some(r.status),
            _ => None,
        })
        .collect();
    let expected: Vec<u16> = (0..1000u16).map(|i| 200 + (i % 300)).collect();
    assert_eq!(statuses, expected, "in emission order");
    assert_eq!(
        events.iter().filter(|e| e.kind() == "noted").count(),
        10,
        "custom events cross the queue too"
    );
}

#[test]
fn a_full_queue_drops_the_newest_and_counts_them() {
    let gate = Gate::named("queue_test_full");
    let (sink, guard) = non_blocking_with(gate.clone(), QueueOptions::default().capacity(4));
    Full::telemetry().set_sink(Some(Box::new(sink)));
    response(Full::telemetry(), 201);
    // The writer holds 201 in the gate; then 4 fit and 6 are dropped.
    gate.wait_entered();
    for s in 202..212 {
        response(Full::telemetry(), s);
    }
    assert_eq!(
        dropped("queue_test_full"),
        6,
        "exported in telemetry_events_dropped_total"
    );
    gate.release();
    Full::telemetry().set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    assert_eq!(report.dropped, 6);
    assert_eq!(report.unwritten, 0);
    assert_eq!(gate.seen(), vec![201, 202, 203, 204, 205]);
}

#[test]
fn blocking_waits_up_to_its_deadline_then_drops() {
    let block = |deadline| {
        let gate = Gate::named("queue_test_block");
        let (sink, guard) = non_blocking_with(
            gate.clone(),
            QueueOptions::default()
                .capacity(1)
                .when_full(WhenFull::Block(deadline)),
        );
        Block::telemetry().set_sink(Some(Box::new(sink)));
        response(Block::telemetry(), 201);
        gate.wait_entered();
        response(Block::telemetry(), 202); // queued: the queue is now full
        (gate, guard)
    };

    // No room comes within the deadline: the event is dropped and counted.
    let before = dropped("queue_test_block");
    let (gate, guard) = block(Duration::from_millis(30));
    response(Block::telemetry(), 203);
    assert_eq!(dropped("queue_test_block") - before, 1);
    gate.release();
    Block::telemetry().set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    assert_eq!(report.dropped, 1);
    assert_eq!(gate.seen(), vec![201, 202]);

    // Room comes before the deadline: the emitter waits for it, nothing lost.
    let (gate, guard) = block(Duration::from_secs(30));
    let g = gate.clone();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        g.release();
    });
    response(Block::telemetry(), 204);
    let _ = releaser.join();
    Block::telemetry().set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    assert_eq!(report.dropped, 0);
    assert_eq!(gate.seen(), vec![201, 202, 204]);
}

struct Explodes;
impl EventSink for Explodes {
    fn name(&self) -> &'static str {
        "queue_test_explodes"
    }
    fn on_response(&self, e: &ResponseEvent) {
        if e.status == 500 {
            panic!("sink failure on 500");
        }
    }
}

#[test]
fn a_panicking_inner_sink_is_counted_and_the_writer_carries_on() {
    let _quiet = telemetry_tests::support::quiet_panics("sink failure on");
    let (sink, guard) = non_blocking(Explodes);
    Panics::telemetry().set_sink(Some(Box::new(sink)));
    for s in [200, 500, 200, 500, 200] {
        response(Panics::telemetry(), s);
    }
    Panics::telemetry().set_sink(None);
    let report = guard.shutdown(Duration::from_secs(10));
    assert_eq!(report.written, 5);
    assert_eq!(report.writer_restarts, 0, "panics are caught per event");
    let panics = dispatch::sink_panics()
        .into_iter()
        .find(|(n, _)| *n == "queue_test_explodes")
        .map_or(0, |(_, c)| c);
    assert_eq!(panics, 2, "telemetry_sink_panics_total");
}
