//! Bounded label interning: hard cardinality caps whatever the input.
//!
//! A [`BoundedLabel`] hands out at most `cap` distinct [`LabelValue`]s; every
//! further distinct value, and every value that is not safe to export (too long,
//! control characters, characters a host name cannot have), folds into the one
//! overflow value `_OTHER` and is counted. Interned values live for the rest of
//! the process (at most `cap + 1` per label), so a `LabelValue` is a plain
//! `&'static` reference: copying it costs nothing and metrics can be indexed by
//! [`LabelValue::index`].
//!
//! The read path is lock-free and allocation-free: a fixed open-addressing
//! table of write-once slots, sized for the cap when the label is created
//! (load factor at most 2/3), probed with a per-label seeded hash. A value is
//! admitted under a mutex, at most `cap` times in the life of the process;
//! once the cap is reached, new values fold without touching the lock. (The
//! previous design, a `HashMap` snapshot behind an `ArcSwap`, cost about
//! 100 ns per lookup: SipHash plus the `ArcSwap` debt protocol; see
//! docs/performance.md.)

pub mod hash;
mod host;
mod normal;
mod table;
mod value;

pub use host::MAX_HOST_LEN;
pub use normal::{normalized_host, HostKey};
pub use table::BoundedLabel;
pub use value::{LabelEntry, LabelValue, MAX_CAP, MAX_VALUE_LEN, OVERFLOW_VALUE};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_and_folds() {
        let l = BoundedLabel::new("host", 3);
        let vals: Vec<_> = ["a", "b", "c", "d", "e", "a"]
            .iter()
            .map(|v| l.intern_host(v, None))
            .collect();
        assert_eq!(vals[0].as_str(), "a");
        assert_eq!(vals[2].index(), 2);
        assert!(vals[3].is_overflow());
        assert!(vals[4].is_overflow());
        assert_eq!(vals[5], vals[0]);
        assert_eq!(l.overflow_count(), 2);
        assert_eq!(l.series_count(), 4);
        assert_eq!(vals[3].index(), 3);
    }

    #[test]
    fn normalises_hosts() {
        let l = BoundedLabel::new("host", 100);
        let cases = [
            ("Example.COM", None, "example.com"),
            ("example.com:443", Some("https"), "example.com"),
            ("example.com:443", Some("http"), "example.com:443"),
            ("example.com:80", None, "example.com"),
            ("example.com.", None, "example.com"),
            ("example.com.:8443", None, "example.com:8443"),
            ("[::1]:443", Some("https"), "[::1]"),
            ("[::1]:8080", Some("https"), "[::1]:8080"),
            ("127.0.0.1:9000", None, "127.0.0.1:9000"),
        ];
        for (raw, scheme, want) in cases {
            assert_eq!(l.intern_host(raw, scheme).as_str(), want, "{raw}");
        }
    }

    #[test]
    fn hostile_values_fold_without_panicking() {
        let l = BoundedLabel::new("host", 100);
        let long = "a".repeat(10_000);
        let hostile = [
            "",
            ":443",
            "a:b:c",
            "host:99999999",
            "evil\nhost",
            "ex ample.com",
            "exämple.com",
            long.as_str(),
            "\u{0}",
        ];
        for h in hostile {
            assert!(l.intern_host(h, None).is_overflow(), "{h:?}");
        }
        let t = BoundedLabel::new("tenant", 100);
        assert!(t.intern("a\u{7}b").is_overflow());
        // A value spelled like the overflow value cannot pose as a real one.
        assert!(t.intern("_OTHER").is_overflow());
        assert!(t.intern(&long).is_overflow());
        assert!(t.intern_bytes(b"\xff\xfe").is_overflow());
        assert_eq!(t.intern_bytes("ünïcode".as_bytes()).as_str(), "ünïcode");
    }

    #[test]
    fn a_host_spelled_like_the_overflow_value_folds() {
        assert_eq!(host::OVERFLOW_SPELLING, OVERFLOW_VALUE.as_bytes());
        let l = BoundedLabel::new("host", 100);
        let spellings = [
            ("_OTHER", None),
            ("_other", None),
            ("_Other", Some("https")),
            ("_OTHER.", None),
            (" _other ", Some("http")),
            ("_OTHER:443", None),
            ("_OTHER:443", Some("https")),
            ("_other:80", Some("http")),
            ("_OTHER.:443", Some("wss")),
        ];
        for (h, scheme) in spellings {
            assert!(l.intern_host(h, scheme).is_overflow(), "{h:?} {scheme:?}");
        }
        for (h, port) in [
            ("_OTHER", None),
            ("_other", Some(443)),
            ("_OTHER.", Some(443)),
        ] {
            assert!(
                l.intern_host_port(h, port, "https").is_overflow(),
                "{h:?} {port:?}"
            );
        }
        // Every spelling folded: nothing was admitted.
        assert!(l.values().is_empty(), "{:?}", l.values());
        assert_eq!(l.overflow_count(), spellings.len() as u64 + 3);
        // With a real port it is a host:port like any other, never `_OTHER`.
        assert_eq!(l.intern_host("_OTHER:8080", None).as_str(), "_other:8080");
        assert_eq!(
            l.intern_host_port("_OTHER", Some(8443), "https").as_str(),
            "_other:8443"
        );
        // A value admitted as `_other` through the generic `intern` (hosts
        // are interned with `intern_host`; `intern` is case-sensitive) is
        // never returned by the fast path of `intern_host`.
        let g = BoundedLabel::new("host", 100);
        assert_eq!(g.intern("_other").as_str(), "_other");
        assert!(g.intern_host("_other", None).is_overflow());
        for v in l.values().into_iter().chain(g.values()) {
            assert_ne!(v.as_str(), OVERFLOW_VALUE);
        }
    }

    #[test]
    fn known_spelling_fast_path_agrees_with_normalising() {
        let l = BoundedLabel::new("host", 100);
        // Stored values that a second normalisation would still change must
        // not be returned as they are by the fast path.
        assert_eq!(l.intern_host("x.org..", None).as_str(), "x.org.");
        assert_eq!(l.intern_host("x.org.", None).as_str(), "x.org");
        assert_eq!(
            l.intern_host("y.org:443", Some("http")).as_str(),
            "y.org:443"
        );
        assert_eq!(l.intern_host("y.org:443", Some("https")).as_str(), "y.org");
        assert_eq!(l.intern_host("y.org:443", None).as_str(), "y.org");
        assert_eq!(l.intern_host("z.org:8080", None).as_str(), "z.org:8080");
        assert_eq!(
            l.intern_host("z.org:8080", Some("https")).as_str(),
            "z.org:8080"
        );
        let a = l.intern_host("API.example.com", None);
        assert_eq!(l.intern_host("api.example.com", Some("https")), a);
        assert_eq!(l.intern_host(" api.example.com ", None), a);
    }

    #[test]
    fn host_and_port_join() {
        let l = BoundedLabel::new("host", 10);
        assert_eq!(
            l.intern_host_port("Api.X", Some(443), "https").as_str(),
            "api.x"
        );
        assert_eq!(
            l.intern_host_port("api.x", Some(8443), "https").as_str(),
            "api.x:8443"
        );
        assert_eq!(l.intern_host_port("api.x", None, "https").as_str(), "api.x");
    }

    #[test]
    fn million_distinct_values_stay_bounded() {
        let l = BoundedLabel::new("host", 16);
        for i in 0..1_000_000u32 {
            let mut buf = itoa_buf(i);
            buf.push_str(".example.com");
            l.intern_host(&buf, None);
        }
        assert_eq!(l.values().len(), 16);
        assert_eq!(l.series_count(), 17);
        assert_eq!(l.overflow_count(), 1_000_000 - 16);
    }

    fn itoa_buf(i: u32) -> String {
        format!("h{i}")
    }

    #[test]
    fn concurrent_interning_never_exceeds_cap() {
        let l = std::sync::Arc::new(BoundedLabel::new("host", 50));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let l = l.clone();
                std::thread::spawn(move || {
                    for i in 0..2_000 {
                        l.intern_host(&format!("h{}-{}", t, i % 40), None);
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        let vals = l.values();
        assert_eq!(vals.len(), 50);
        let mut idx: Vec<_> = vals.iter().map(|v| v.index()).collect();
        idx.sort_unstable();
        assert_eq!(idx, (0..50).collect::<Vec<_>>());
    }
}
