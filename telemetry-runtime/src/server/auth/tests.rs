//! Tests of basic authentication.

use super::*;
use std::hash::BuildHasher as _;

fn header(user: &str, password: &str) -> Vec<u8> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
    format!("Basic {encoded}").into_bytes()
}

fn hash(password: &str, cost: u32) -> String {
    bcrypt::hash(password, cost).expect("bcrypt hash")
}

fn users(list: &[(&str, &str, u32)]) -> BTreeMap<String, String> {
    list.iter()
        .map(|(u, p, c)| ((*u).to_owned(), hash(p, *c)))
        .collect()
}

/// The cost bcrypt works at for a user name: parsed from the very hash
/// `verify` hands to bcrypt.
fn verified_cost(auth: &BasicAuth, user: &str) -> u32 {
    let users = auth.inner.users.load();
    let (hash, _) = BasicAuth::hash_for(&users, user.as_bytes());
    bcrypt_cost(hash).expect("a valid hash")
}

#[test]
fn replaced_users_take_effect_at_once_and_empty_the_cache() {
    let auth = BasicAuth::new(users(&[("old", "pw", 4)]));
    let header = |u: &str, p: &str| {
        use base64::Engine;
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{u}:{p}"))
        )
    };
    let old = header("old", "pw");
    assert_eq!(auth.authenticate(old.as_bytes()), AuthOutcome::Accepted);
    let before = auth.bcrypt_verifications();
    assert_eq!(auth.authenticate(old.as_bytes()), AuthOutcome::Accepted);
    assert_eq!(auth.bcrypt_verifications(), before, "cached");
    auth.replace_users(users(&[("new", "pw2", 4)]));
    assert_eq!(
        auth.authenticate(old.as_bytes()),
        AuthOutcome::Refused,
        "removed user, not from the cache"
    );
    assert_eq!(
        auth.authenticate(header("new", "pw2").as_bytes()),
        AuthOutcome::Accepted
    );
    assert_eq!(auth.user_names(), vec!["new".to_string()]);
}

#[test]
fn unknown_users_are_verified_at_the_configured_cost() {
    // `htpasswd -nbB` makes cost-5 hashes: an unknown user must cost 5
    // too, not the cost 10 of a fixed dummy.
    let auth = BasicAuth::new(users(&[("prometheus", "pw", 5)]));
    assert_eq!(verified_cost(&auth, "prometheus"), 5);
    assert_eq!(verified_cost(&auth, "nobody"), 5);
    assert_eq!(verified_cost(&auth, ""), 5);
    assert_eq!(auth.dummy_cost(), 5);

    // Mixed costs: the most common one, the highest on a tie.
    let auth = BasicAuth::new(users(&[("a", "pw", 4), ("b", "pw", 4), ("c", "pw", 6)]));
    assert_eq!(verified_cost(&auth, "nobody"), 4);
    let auth = BasicAuth::new(users(&[("a", "pw", 4), ("c", "pw", 6)]));
    assert_eq!(verified_cost(&auth, "nobody"), 6);
    assert_eq!(verified_cost(&auth, "a"), 4);
    assert_eq!(BasicAuth::new(BTreeMap::new()).dummy_cost(), FALLBACK_COST);

    // The dummy hash is one bcrypt accepts, at every cost, so the work is
    // really done (a malformed dummy would fail fast).
    for cost in [4, 5, 10, 31] {
        let dummy = format!("$2b${cost:02}${DUMMY_SALT_AND_DIGEST}");
        assert_eq!(bcrypt_cost(&dummy), Ok(cost));
    }
    let auth = BasicAuth::new(users(&[("prometheus", "pw", 4)]));
    assert_eq!(
        auth.authenticate(&header("nobody", "pw")),
        AuthOutcome::Refused
    );
    assert_eq!(
        auth.bcrypt_verifications(),
        1,
        "bcrypt ran for the unknown user"
    );
}

#[test]
fn hashes_are_checked() {
    let good = hash("pw", 4);
    assert_eq!(bcrypt_cost(&good), Ok(4));
    for prefix in ["$2a$", "$2y$"] {
        assert_eq!(bcrypt_cost(&good.replacen("$2b$", prefix, 1)), Ok(4));
    }
    for cost in ["00", "03", "32", "99", "+5", " 5", "-1", "ab"] {
        let bad = good.replacen("$04$", &format!("${cost}$"), 1);
        assert_eq!(
            bcrypt_cost(&bad),
            Err(HashError::ImpossibleCost(cost.into())),
            "{bad}"
        );
    }
    assert_eq!(bcrypt_cost("hunter2"), Err(HashError::NotBcrypt));
    assert_eq!(bcrypt_cost(&good[..59]), Err(HashError::NotBcrypt));
    assert_eq!(
        bcrypt_cost(&good.replacen("$2b$", "$2x$", 1)),
        Err(HashError::NotBcrypt)
    );
    assert_eq!(
        bcrypt_cost(&format!("{}é", &good[..58])),
        Err(HashError::NotBcrypt)
    );
    let bad_salt = format!("{}!{}", &good[..10], &good[11..]);
    assert!(
        matches!(bcrypt_cost(&bad_salt), Err(HashError::Malformed(_))),
        "{bad_salt}"
    );
    let no_dollar = format!("{}x{}", &good[..6], &good[7..]);
    assert!(matches!(
        bcrypt_cost(&no_dollar),
        Err(HashError::Malformed(_))
    ));
}

#[test]
fn a_credential_is_verified_once_then_cached() {
    let auth = BasicAuth::new(users(&[("prometheus", "pw", 4)]));
    let good = header("prometheus", "pw");
    for _ in 0..100 {
        assert_eq!(auth.authenticate(&good), AuthOutcome::Accepted);
    }
    assert_eq!(auth.bcrypt_verifications(), 1);
    // A wrong password is never cached: each attempt runs bcrypt.
    let wrong = header("prometheus", "nope");
    assert_eq!(auth.authenticate(&wrong), AuthOutcome::Refused);
    assert_eq!(auth.authenticate(&wrong), AuthOutcome::Refused);
    assert_eq!(auth.bcrypt_verifications(), 3);
    assert_eq!(auth.refused(), 2);
    // Another spelling of the scheme is another entry, still right.
    let lower = [b"basic".as_slice(), &good[5..]].concat();
    assert_eq!(auth.authenticate(&lower), AuthOutcome::Accepted);
    assert_eq!(auth.bcrypt_verifications(), 4);
    // Malformed headers never reach bcrypt.
    for bad in [
        &b""[..],
        b"Basic",
        b"Basic !!!",
        b"Bearer x",
        b"Basic dXNlcg==",
    ] {
        assert_eq!(auth.authenticate(bad), AuthOutcome::Refused);
    }
    assert_eq!(auth.bcrypt_verifications(), 4);
}

#[test]
fn the_cache_expires_after_its_ttl() {
    let limits = AuthLimits {
        cache_ttl: Duration::from_secs(300),
        ..AuthLimits::default()
    };
    let auth = BasicAuth::with_limits(users(&[("prometheus", "pw", 4)]), limits);
    let good = header("prometheus", "pw");
    let t0 = Instant::now();
    let at = |t: Instant| match auth.precheck(&good, t) {
        Precheck::Done(outcome) => outcome,
        Precheck::Verify(c) => auth.verify(&good, &c, t),
    };
    assert_eq!(at(t0), AuthOutcome::Accepted);
    assert_eq!(at(t0 + Duration::from_secs(299)), AuthOutcome::Accepted);
    assert_eq!(auth.bcrypt_verifications(), 1);
    assert_eq!(at(t0 + Duration::from_secs(300)), AuthOutcome::Accepted);
    assert_eq!(
        auth.bcrypt_verifications(),
        2,
        "verified again once expired"
    );
    assert_eq!(
        read(&auth.inner.cache).len(),
        1,
        "the new entry replaced the old"
    );

    // A zero TTL caches nothing.
    let off = AuthLimits {
        cache_ttl: Duration::ZERO,
        ..AuthLimits::default()
    };
    let auth = BasicAuth::with_limits(users(&[("prometheus", "pw", 4)]), off);
    for _ in 0..3 {
        assert_eq!(auth.authenticate(&good), AuthOutcome::Accepted);
    }
    assert_eq!(auth.bcrypt_verifications(), 3);
}

#[test]
fn the_cache_is_bounded_and_evicts_the_oldest() {
    let mut cache = CredentialCache::new(Duration::from_secs(60));
    let now = Instant::now();
    let value = |i: usize| format!("Basic {i}").into_bytes();
    for i in 0..CACHE_CAPACITY + 10 {
        cache.insert(&value(i), now);
    }
    assert_eq!(cache.len(), CACHE_CAPACITY);
    assert_eq!(cache.order.len(), CACHE_CAPACITY);
    for i in 0..10 {
        assert!(!cache.contains(&value(i), now), "{i} was evicted");
    }
    for i in 10..CACHE_CAPACITY + 10 {
        assert!(cache.contains(&value(i), now), "{i} is kept");
    }
    // Expired entries go first, before any live one.
    let later = now + Duration::from_secs(61);
    cache.insert(&value(0), later);
    assert_eq!(cache.len(), 1);
    assert!(cache.contains(&value(0), later));
    // The stored value is compared in full: same key, other bytes, no hit.
    let key = cache.keys.hash_one(value(0).as_slice());
    if let Some(e) = cache.entries.get_mut(&key) {
        e.value = b"Basic forged".as_slice().into();
    }
    assert!(!cache.contains(&value(0), later));
}

#[test]
fn failures_are_rate_limited_without_bcrypt() {
    let limits = AuthLimits {
        failures_per_second: 3,
        ..AuthLimits::default()
    };
    let auth = BasicAuth::with_limits(users(&[("prometheus", "pw", 4)]), limits);
    let good = header("prometheus", "pw");
    let wrong = header("prometheus", "guess");
    let t0 = Instant::now();
    let at = |h: &[u8], t: Instant| match auth.precheck(h, t) {
        Precheck::Done(outcome) => outcome,
        Precheck::Verify(c) => auth.verify(h, &c, t),
    };
    // A success gives its token back.
    assert_eq!(at(&good, t0), AuthOutcome::Accepted);
    for _ in 0..3 {
        assert_eq!(at(&wrong, t0), AuthOutcome::Refused);
    }
    assert_eq!(auth.bcrypt_verifications(), 4);
    for _ in 0..5 {
        assert_eq!(at(&wrong, t0), AuthOutcome::RateLimited);
        assert_eq!(at(&header("nobody", "x"), t0), AuthOutcome::RateLimited);
    }
    assert_eq!(auth.bcrypt_verifications(), 4, "no bcrypt while limited");
    assert_eq!(auth.rate_limited(), 10);
    // The cached credential still works while limited.
    assert_eq!(at(&good, t0), AuthOutcome::Accepted);
    // A third of a second later: one token.
    let t1 = t0 + Duration::from_millis(340);
    assert_eq!(at(&wrong, t1), AuthOutcome::Refused);
    assert_eq!(at(&wrong, t1), AuthOutcome::RateLimited);
    // A second later, the full burst again, never more.
    let t2 = t1 + Duration::from_secs(10);
    for _ in 0..3 {
        assert_eq!(at(&wrong, t2), AuthOutcome::Refused);
    }
    assert_eq!(at(&wrong, t2), AuthOutcome::RateLimited);

    // Zero: nothing that is not cached gets verified.
    let none = AuthLimits {
        failures_per_second: 0,
        ..AuthLimits::default()
    };
    let auth = BasicAuth::with_limits(users(&[("prometheus", "pw", 4)]), none);
    assert_eq!(auth.authenticate(&good), AuthOutcome::RateLimited);
    assert_eq!(auth.bcrypt_verifications(), 0);
}
