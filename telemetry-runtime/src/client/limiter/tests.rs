//! Tests of the per-host limiter.

use super::*;

#[test]
fn saturation_counts_full_time_within_the_window() {
    let l = HostLimiter::new(RateLimit::per_second(1.0).saturation_window(Duration::from_secs(10)));
    let t0 = l.created;
    l.mark_full(t0 + Duration::from_secs(2));
    l.mark_not_full(t0 + Duration::from_secs(4));
    let s = l.saturation(t0 + Duration::from_secs(10));
    assert!((s - 0.2).abs() < 1e-9, "{s}");
    // Still full: counts up to now.
    l.mark_full(t0 + Duration::from_secs(9));
    let s = l.saturation(t0 + Duration::from_secs(10));
    assert!((s - 0.3).abs() < 1e-9, "{s}");
    // The old interval slides out of the window.
    l.mark_not_full(t0 + Duration::from_secs(10));
    let s = l.saturation(t0 + Duration::from_secs(19));
    assert!((s - 0.1).abs() < 1e-9, "{s}");
}

#[test]
fn intervals_stay_bounded() {
    let l = HostLimiter::new(RateLimit::per_second(1.0));
    let t0 = l.created;
    for i in 0..10_000u64 {
        l.mark_full(t0 + Duration::from_micros(2 * i));
        l.mark_not_full(t0 + Duration::from_micros(2 * i + 1));
    }
    assert!(l.lock_saturation().intervals.len() <= MAX_INTERVALS);
}

#[cfg(feature = "tracing")]
#[test]
fn depth_warning_fires_once_per_crossing() {
    use std::io::Write;
    use std::sync::Arc;

    #[derive(Clone, Default)]
    struct Buf(Arc<Mutex<Vec<u8>>>);
    impl Write for Buf {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .extend_from_slice(b);
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let buf = Buf::default();
    let writer = buf.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let l = HostLimiter::new(RateLimit::per_second(1.0).max_queue_depth(8).warn_depth(2));
    tracing::subscriber::with_default(subscriber, || {
        // Depth rises to 2 and 3: one warning.
        l.depth.store(3, Ordering::Relaxed);
        l.maybe_warn("h.test", 2);
        l.maybe_warn("h.test", 3);
        // Two requests leave (3 -> 1): below the threshold, re-armed.
        drop(QueueSlot { limiter: &l });
        drop(QueueSlot { limiter: &l });
        // Back up to 2: a second warning.
        l.depth.store(2, Ordering::Relaxed);
        l.maybe_warn("h.test", 2);
    });
    let out =
        String::from_utf8_lossy(&buf.0.lock().unwrap_or_else(|e| e.into_inner())).into_owned();
    assert_eq!(
        out.matches("crossed the warning threshold").count(),
        2,
        "{out}"
    );
    assert!(out.contains("WARN"), "{out}");
}

#[tokio::test]
async fn burst_then_queue_then_reject() {
    let l = HostLimiter::new(
        RateLimit::per_second(1.0)
            .burst(1)
            .max_queue_depth(0)
            .max_wait(Duration::from_secs(60)),
    );
    let first = l.acquire("h", |_| {}).await;
    assert!(matches!(first, Ok(a) if a.outcome == RateLimitOutcome::Acquired));
    let second = l.acquire("h", |_| {}).await;
    assert!(matches!(
        second,
        Err(Rejected {
            reason: RateLimitRejection::QueueFull { max_depth: 0 },
            ..
        })
    ));
    let tight = HostLimiter::new(
        RateLimit::per_second(1.0)
            .burst(1)
            .max_wait(Duration::from_millis(10)),
    );
    assert!(tight.acquire("h", |_| {}).await.is_ok());
    assert!(matches!(
        tight.acquire("h", |_| {}).await,
        Err(Rejected {
            reason: RateLimitRejection::WaitTooLong { .. },
            ..
        })
    ));
    assert_eq!(tight.snapshot("h".into(), Instant::now()).rejected, 1);
}
