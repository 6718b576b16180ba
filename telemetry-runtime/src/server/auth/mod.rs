//! HTTP basic authentication against bcrypt hashes, as Prometheus' own web
//! configuration does it, with the costs of bcrypt kept off the request path:
//!
//! - **Verified once, then cached.** A credential that bcrypt accepted is
//!   remembered for [`AuthLimits::cache_ttl`] (default 5 minutes) in a cache
//!   of at most [`CACHE_CAPACITY`] entries (the oldest is evicted first).
//!   The cache is keyed by a keyed hash (std's SipHash with a random key
//!   drawn per process, [`RandomState`]) of the whole `Authorization` value;
//!   a hit also compares the stored value with the presented one in constant
//!   time, so a hash collision can never let a request in. The stored value
//!   is the header itself (`Basic` and the base64 of `user:password`): that
//!   is the least the comparison needs, no decoded password is kept, and the
//!   bytes are overwritten when the entry is evicted or expires. A SHA-256
//!   digest instead of the header would need a dependency for little gain:
//!   whoever can read the process memory reads the live requests too.
//!   Only successes are cached.
//! - **Failures are rate-limited.** A token bucket per [`BasicAuth`] (one
//!   per server) holds [`AuthLimits::failures_per_second`] tokens and
//!   refills at that rate. Each bcrypt run on a credential that is not
//!   cached takes a token, and gives it back if the credential was right, so
//!   the bucket counts failures. With the bucket empty, a request whose
//!   credential is not cached is answered `429 Too Many Requests`
//!   (`Retry-After: 1`) without running bcrypt; cached credentials keep
//!   working, so a scraper that logged in before an attack is not locked out.
//! - **No user enumeration by timing.** User names are compared in constant
//!   time against every configured name, and an unknown user is verified
//!   against a dummy hash of the configured users' cost (the most common
//!   one; the highest of those on a tie), so it costs as much as a wrong
//!   password. Mixing costs across users lets an attacker tell a user whose
//!   cost differs from the most common one: give every user the same cost.
//! - A failure answers `401` with `WWW-Authenticate: Basic`; only the
//!   `Basic` scheme is accepted. bcrypt runs on the blocking thread pool.
//!
//! ```
//! use std::collections::BTreeMap;
//! use telemetry_runtime::server::auth::{AuthOutcome, BasicAuth};
//! let mut users = BTreeMap::new();
//! users.insert("prometheus".to_string(), bcrypt::hash("secret", 4)?);
//! let auth = BasicAuth::new(users);
//! let header = b"Basic cHJvbWV0aGV1czpzZWNyZXQ="; // prometheus:secret
//! assert_eq!(auth.authenticate(header), AuthOutcome::Accepted);
//! assert_eq!(auth.authenticate(header), AuthOutcome::Accepted);
//! assert_eq!(auth.bcrypt_verifications(), 1, "the second time came from the cache");
//! # Ok::<(), bcrypt::BcryptError>(())
//! ```

mod cache;

use cache::{wipe, CredentialCache, FailureBucket};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq;

pub use cache::CACHE_CAPACITY;

/// How long a verified credential stays cached by default.
pub const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(5 * 60);

/// Failed verifications allowed per second (and in a burst) by default.
pub const DEFAULT_FAILURES_PER_SECOND: u32 = 10;

/// The salt and digest of a bcrypt hash of a random string. An unknown user
/// is verified against `$2b$<cost>$` followed by this: bcrypt's work depends
/// on the cost only, so any cost can be had without hashing at start-up, and
/// the digest matches no password anyone knows (the result is discarded
/// anyway).
const DUMMY_SALT_AND_DIGEST: &str = "uUEuZKlpro8cR3W.jj5pee0J.jzgBc3h504wON.82Jb8Gos5bIRwC";

/// The cost of the dummy hash when no configured hash has a valid cost
/// (validation refuses such configurations; this only keeps `new` total).
const FALLBACK_COST: u32 = 10;

/// bcrypt's cost range: 2^4 to 2^31 rounds.
const COSTS: std::ops::RangeInclusive<u32> = 4..=31;

/// What is wrong with a configured hash, from [`bcrypt_cost`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HashError {
    /// Not a bcrypt hash at all (wrong length or prefix): most likely a
    /// plain password.
    NotBcrypt,
    /// The cost field is outside bcrypt's 4 to 31 (or not two digits).
    ImpossibleCost(String),
    /// The salt or digest is not bcrypt's base64.
    Malformed(String),
}

impl fmt::Display for HashError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HashError::NotBcrypt => f.write_str(
                "expected a bcrypt hash (60 characters starting with \"$2b$\", as `htpasswd -nbB user password` prints), not a plain password",
            ),
            HashError::ImpossibleCost(cost) => write!(
                f,
                "the bcrypt cost {cost:?} is impossible, bcrypt allows \"04\" to \"31\" (the field after \"$2b$\")"
            ),
            HashError::Malformed(why) => write!(f, "the bcrypt hash is malformed: {why}"),
        }
    }
}

impl std::error::Error for HashError {}

/// The cost of a bcrypt hash as `htpasswd -nbB` or any bcrypt library
/// writes it (`$2a$`, `$2b$` or `$2y$`, two-digit cost 04 to 31, then 53
/// characters of bcrypt's base64), or why it is not one.
///
/// ```
/// use telemetry_runtime::server::auth::{bcrypt_cost, HashError};
/// let hash = "$2b$04$P7x.CJFlxyRHxdfVyjnqz.Quc6PvwAom2AFJb57EHYKwT8zAZH0nK";
/// assert_eq!(bcrypt_cost(hash), Ok(4));
/// let impossible = hash.replacen("$04$", "$32$", 1);
/// assert_eq!(bcrypt_cost(&impossible), Err(HashError::ImpossibleCost("32".into())));
/// assert_eq!(bcrypt_cost("hunter2"), Err(HashError::NotBcrypt));
/// ```
pub fn bcrypt_cost(hash: &str) -> Result<u32, HashError> {
    let prefixed = ["$2a$", "$2b$", "$2y$"].iter().any(|p| hash.starts_with(p));
    if !prefixed || hash.len() != 60 || !hash.is_ascii() {
        return Err(HashError::NotBcrypt);
    }
    let cost_field = &hash[4..6];
    let cost = cost_field
        .bytes()
        .all(|b| b.is_ascii_digit())
        .then(|| cost_field.parse::<u32>().ok())
        .flatten()
        .filter(|c| COSTS.contains(c))
        .ok_or_else(|| HashError::ImpossibleCost(cost_field.to_owned()))?;
    if hash.as_bytes()[6] != b'$' {
        return Err(HashError::Malformed(
            "expected \"$\" after the two-digit cost".into(),
        ));
    }
    // bcrypt's own parser checks the base64 of the salt and the digest
    // (canonical trailing bits included).
    hash.parse::<bcrypt::HashParts>().map_err(|e| {
        HashError::Malformed(match e {
            bcrypt::BcryptError::InvalidHash(why) => why.to_owned(),
            other => other.to_string(),
        })
    })?;
    Ok(cost)
}

/// How long credentials stay cached and how many failures are allowed.
///
/// ```
/// use std::time::Duration;
/// use telemetry_runtime::server::auth::AuthLimits;
/// let limits = AuthLimits { cache_ttl: Duration::from_secs(60), ..AuthLimits::default() };
/// assert_eq!(limits.failures_per_second, 10);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthLimits {
    /// How long a verified credential is accepted without bcrypt (default
    /// 5 minutes; zero turns the cache off, and every request runs bcrypt).
    pub cache_ttl: Duration,
    /// Failed verifications allowed per second, and in a burst (default 10).
    /// Past it, requests with credentials that are not cached get `429`
    /// without running bcrypt. Zero refuses every credential not already
    /// cached.
    pub failures_per_second: u32,
}

impl Default for AuthLimits {
    fn default() -> Self {
        AuthLimits {
            cache_ttl: DEFAULT_CACHE_TTL,
            failures_per_second: DEFAULT_FAILURES_PER_SECOND,
        }
    }
}

/// What [`BasicAuth::authenticate`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthOutcome {
    /// A configured user with the right password (`200` and the route).
    Accepted,
    /// No credential, another scheme, an unknown user or a wrong password
    /// (`401`).
    Refused,
    /// Too many failures: not verified at all (`429`).
    RateLimited,
}

/// The configured users, the credential cache and the failure limiter.
/// Clones share all three.
#[derive(Clone)]
pub struct BasicAuth {
    inner: Arc<Inner>,
}

struct Inner {
    /// Replaced whole by [`BasicAuth::replace_users`] (a reload).
    users: arc_swap::ArcSwap<Users>,
    cache: RwLock<CredentialCache>,
    failures: Mutex<FailureBucket>,
    verifications: AtomicU64,
    refused: AtomicU64,
    rate_limited: AtomicU64,
}

/// The users and the dummy hash matching their cost.
struct Users {
    by_name: BTreeMap<String, String>,
    dummy_hash: String,
}

impl Users {
    fn new(by_name: BTreeMap<String, String>) -> Self {
        let dummy_hash = format!(
            "$2b${:02}${DUMMY_SALT_AND_DIGEST}",
            dummy_cost(by_name.values())
        );
        Users {
            by_name,
            dummy_hash,
        }
    }
}

impl fmt::Debug for BasicAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Neither hashes nor cached headers.
        f.debug_struct("BasicAuth")
            .field("users", &self.user_names())
            .field("bcrypt_verifications", &self.bcrypt_verifications())
            .field("refused", &self.refused())
            .field("rate_limited", &self.rate_limited())
            .finish_non_exhaustive()
    }
}

/// A decoded credential on its way to bcrypt; wiped when dropped.
struct Credential {
    decoded: Vec<u8>,
    colon: usize,
}

impl Credential {
    fn user(&self) -> &[u8] {
        &self.decoded[..self.colon]
    }
    fn password(&self) -> &[u8] {
        &self.decoded[self.colon + 1..]
    }
}

impl Drop for Credential {
    fn drop(&mut self) {
        wipe(&mut self.decoded);
    }
}

/// Where a request stands before bcrypt.
enum Precheck {
    Done(AuthOutcome),
    /// Not cached: bcrypt must decide; a failure token is taken.
    Verify(Credential),
}

impl BasicAuth {
    /// Users: name → bcrypt hash, with the default [`AuthLimits`].
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use telemetry_runtime::server::auth::BasicAuth;
    /// let auth = BasicAuth::new(BTreeMap::new());
    /// assert_eq!(auth.bcrypt_verifications(), 0);
    /// ```
    pub fn new(users: BTreeMap<String, String>) -> Self {
        Self::with_limits(users, AuthLimits::default())
    }

    /// Users: name → bcrypt hash, with these limits.
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use std::time::Duration;
    /// # use telemetry_runtime::server::auth::{AuthLimits, BasicAuth};
    /// let limits = AuthLimits { cache_ttl: Duration::ZERO, failures_per_second: 3 };
    /// let auth = BasicAuth::with_limits(BTreeMap::new(), limits);
    /// # let _ = auth;
    /// ```
    pub fn with_limits(users: BTreeMap<String, String>, limits: AuthLimits) -> Self {
        BasicAuth {
            inner: Arc::new(Inner {
                users: arc_swap::ArcSwap::from_pointee(Users::new(users)),
                cache: RwLock::new(CredentialCache::new(limits.cache_ttl)),
                failures: Mutex::new(FailureBucket::new(
                    limits.failures_per_second,
                    Instant::now(),
                )),
                verifications: AtomicU64::new(0),
                refused: AtomicU64::new(0),
                rate_limited: AtomicU64::new(0),
            }),
        }
    }

    /// Decides on an `Authorization` header value: from the cache, or by
    /// bcrypt when the failure limiter allows. May run bcrypt: call it off
    /// the async executor.
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use telemetry_runtime::server::auth::{AuthOutcome, BasicAuth};
    /// let auth = BasicAuth::new(BTreeMap::new());
    /// assert_eq!(auth.authenticate(b"Bearer abc"), AuthOutcome::Refused);
    /// ```
    pub fn authenticate(&self, header_value: &[u8]) -> AuthOutcome {
        let now = Instant::now();
        match self.precheck(header_value, now) {
            Precheck::Done(outcome) => outcome,
            Precheck::Verify(credential) => self.verify(header_value, &credential, now),
        }
    }

    /// Whether [`authenticate`](Self::authenticate) accepts the header.
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use telemetry_runtime::server::auth::BasicAuth;
    /// assert!(!BasicAuth::new(BTreeMap::new()).verify_header(b"Basic Og=="));
    /// ```
    pub fn verify_header(&self, header_value: &[u8]) -> bool {
        self.authenticate(header_value) == AuthOutcome::Accepted
    }

    /// How many times bcrypt ran (known and unknown users alike): the cost
    /// the cache and the limiter keep down.
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use telemetry_runtime::server::auth::BasicAuth;
    /// let auth = BasicAuth::new(BTreeMap::new());
    /// auth.authenticate(b"Basic dXNlcjpwYXNz"); // user:pass, unknown
    /// assert_eq!(auth.bcrypt_verifications(), 1);
    /// ```
    pub fn bcrypt_verifications(&self) -> u64 {
        self.inner.verifications.load(Ordering::Relaxed)
    }

    /// Requests refused with `401` so far.
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use telemetry_runtime::server::auth::BasicAuth;
    /// let auth = BasicAuth::new(BTreeMap::new());
    /// auth.authenticate(b"");
    /// assert_eq!(auth.refused(), 1);
    /// ```
    pub fn refused(&self) -> u64 {
        self.inner.refused.load(Ordering::Relaxed)
    }

    /// Requests answered `429` by the failure limiter so far.
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use telemetry_runtime::server::auth::BasicAuth;
    /// assert_eq!(BasicAuth::new(BTreeMap::new()).rate_limited(), 0);
    /// ```
    pub fn rate_limited(&self) -> u64 {
        self.inner.rate_limited.load(Ordering::Relaxed)
    }

    /// The cost of the hash an unknown user is verified against.
    #[cfg(test)]
    fn dummy_cost(&self) -> u32 {
        bcrypt_cost(&self.inner.users.load().dummy_hash).unwrap_or(FALLBACK_COST)
    }

    /// The configured user names (never their hashes).
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use telemetry_runtime::server::auth::BasicAuth;
    /// let auth = BasicAuth::new(BTreeMap::from([("ops".to_string(), "$2b$04$x".to_string())]));
    /// assert_eq!(auth.user_names(), vec!["ops".to_string()]);
    /// ```
    pub fn user_names(&self) -> Vec<String> {
        self.inner.users.load().by_name.keys().cloned().collect()
    }

    /// Replaces the users (a configuration reload) for every clone of this
    /// value, the server's included. The credential cache is emptied in the
    /// same step, so a removed user or a changed password is refused from
    /// the next request on; a bcrypt verification in flight under the old
    /// users does not fill the cache afterwards. The caller checks the
    /// hashes first (`ServerConfig::validate` does).
    ///
    /// ```
    /// # use std::collections::BTreeMap;
    /// # use telemetry_runtime::server::auth::BasicAuth;
    /// let auth = BasicAuth::new(BTreeMap::new());
    /// auth.replace_users(BTreeMap::from([("ops".to_string(), "$2b$04$x".to_string())]));
    /// assert_eq!(auth.user_names(), vec!["ops".to_string()]);
    /// ```
    pub fn replace_users(&self, users: BTreeMap<String, String>) {
        let mut cache = write(&self.inner.cache);
        self.inner.users.store(Arc::new(Users::new(users)));
        cache.clear();
    }

    fn refuse(&self) -> AuthOutcome {
        self.inner.refused.fetch_add(1, Ordering::Relaxed);
        AuthOutcome::Refused
    }

    /// Everything before bcrypt: the cache, the header's form, the limiter.
    fn precheck(&self, header_value: &[u8], now: Instant) -> Precheck {
        if read(&self.inner.cache).contains(header_value, now) {
            return Precheck::Done(AuthOutcome::Accepted);
        }
        let Some(credential) = decode(header_value) else {
            return Precheck::Done(self.refuse());
        };
        if !lock(&self.inner.failures).take(now) {
            self.inner.rate_limited.fetch_add(1, Ordering::Relaxed);
            return Precheck::Done(AuthOutcome::RateLimited);
        }
        Precheck::Verify(credential)
    }

    /// The hash to verify `user` against, and whether the user is known.
    /// Every configured name is compared, in constant time, whatever matches.
    fn hash_for<'u>(users: &'u Users, user: &[u8]) -> (&'u str, bool) {
        let mut hash = users.dummy_hash.as_str();
        let mut known = subtle::Choice::from(0);
        for (name, h) in &users.by_name {
            let same = name.as_bytes().ct_eq(user);
            if bool::from(same) {
                hash = h;
            }
            known |= same;
        }
        (hash, bool::from(known))
    }

    /// bcrypt, then the bookkeeping: cache a success and give its failure
    /// token back.
    fn verify(&self, header_value: &[u8], credential: &Credential, now: Instant) -> AuthOutcome {
        let users = self.inner.users.load_full();
        let (hash, known) = Self::hash_for(&users, credential.user());
        self.inner.verifications.fetch_add(1, Ordering::Relaxed);
        let ok = bcrypt::verify(credential.password(), hash).unwrap_or(false) && known;
        if !ok {
            return self.refuse();
        }
        lock(&self.inner.failures).give_back();
        let mut cache = write(&self.inner.cache);
        // Users replaced while bcrypt ran: accepted under the users it
        // started with, but not remembered for the new ones.
        if Arc::ptr_eq(&users, &self.inner.users.load()) {
            cache.insert(header_value, now);
        }
        AuthOutcome::Accepted
    }
}

/// The dummy cost for these hashes: the most common valid cost, the highest
/// of them on a tie.
fn dummy_cost<'a>(hashes: impl IntoIterator<Item = &'a String>) -> u32 {
    let mut counts: BTreeMap<u32, usize> = BTreeMap::new();
    for cost in hashes.into_iter().filter_map(|h| bcrypt_cost(h).ok()) {
        *counts.entry(cost).or_default() += 1;
    }
    // `max_by_key` returns the last maximum: iterating costs in increasing
    // order, that is the highest cost among the most common.
    counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map_or(FALLBACK_COST, |(cost, _)| cost)
}

/// `Basic <base64 of user:password>` (the scheme case-insensitive, RFC 7617).
fn decode(header_value: &[u8]) -> Option<Credential> {
    let space = header_value.iter().position(|b| *b == b' ')?;
    let (scheme, encoded) = header_value.split_at(space);
    if !scheme.eq_ignore_ascii_case(b"basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim_ascii())
        .ok()?;
    let Some(colon) = decoded.iter().position(|b| *b == b':') else {
        let mut decoded = decoded;
        wipe(&mut decoded);
        return None;
    };
    Some(Credential { decoded, colon })
}

// A poisoned lock only means a panic elsewhere while it was held; the data
// (a cache, a bucket) stays consistent enough to go on with.
fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}
fn read<T>(l: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(PoisonError::into_inner)
}
fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(PoisonError::into_inner)
}

fn unauthorized() -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"telemetry\", charset=\"UTF-8\""),
    );
    r
}

fn too_many_failures() -> Response {
    let mut r = (StatusCode::TOO_MANY_REQUESTS, "Too Many Requests\n").into_response();
    r.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// The middleware: passes authenticated requests on, answers `401` or `429`
/// otherwise. The cache and the limiter are checked on the executor (a
/// lookup); only bcrypt goes to the blocking pool.
pub(crate) async fn require(
    State(auth): State<Option<BasicAuth>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let Some(auth) = auth else {
        return next.run(request).await;
    };
    let value = request
        .headers()
        .get(header::AUTHORIZATION)
        .map_or(&[][..], HeaderValue::as_bytes);
    let now = Instant::now();
    let outcome = match auth.precheck(value, now) {
        Precheck::Done(outcome) => outcome,
        Precheck::Verify(credential) => {
            let value = value.to_vec();
            let auth = auth.clone();
            let verified = tokio::task::spawn_blocking(move || {
                let mut value = value;
                let outcome = auth.verify(&value, &credential, now);
                wipe(&mut value);
                outcome
            })
            .await;
            verified.unwrap_or(AuthOutcome::Refused)
        }
    };
    match outcome {
        AuthOutcome::Accepted => next.run(request).await,
        AuthOutcome::Refused => unauthorized(),
        AuthOutcome::RateLimited => too_many_failures(),
    }
}

#[cfg(test)]
mod tests;
