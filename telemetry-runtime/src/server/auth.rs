//! HTTP basic authentication against bcrypt hashes, as Prometheus' own web
//! configuration does it: every request is checked, the password is verified
//! with bcrypt's constant-time comparison, an unknown user costs the same
//! bcrypt work as a known one (no user enumeration by timing), and a failure
//! answers `401` with `WWW-Authenticate: Basic`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use subtle::ConstantTimeEq;

/// A bcrypt hash of a random string at cost 10, verified when the user is
/// unknown so that case takes as long as a wrong password.
const DUMMY_HASH: &str = "$2b$10$uUEuZKlpro8cR3W.jj5pee0J.jzgBc3h504wON.82Jb8Gos5bIRwC";

/// The configured users.
#[derive(Debug, Clone)]
pub struct BasicAuth {
    users: Arc<BTreeMap<String, String>>,
}

impl BasicAuth {
    /// Users: name → bcrypt hash.
    pub fn new(users: BTreeMap<String, String>) -> Self {
        BasicAuth {
            users: Arc::new(users),
        }
    }

    /// Whether `Authorization` header value `value` names a user with the
    /// right password. Runs bcrypt: call it off the async executor.
    pub fn verify_header(&self, value: &[u8]) -> bool {
        let Some(encoded) = value
            .strip_prefix(b"Basic ")
            .or_else(|| value.strip_prefix(b"basic "))
        else {
            return false;
        };
        let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded.trim_ascii())
        else {
            return false;
        };
        let Some(colon) = decoded.iter().position(|b| *b == b':') else {
            return false;
        };
        let (user, password) = (&decoded[..colon], &decoded[colon + 1..]);
        // Compare the user name against every configured one in constant time.
        let mut hash = DUMMY_HASH;
        let mut known = subtle::Choice::from(0);
        for (name, h) in self.users.iter() {
            let same = name.as_bytes().ct_eq(user);
            if bool::from(same) {
                hash = h;
            }
            known |= same;
        }
        let ok = bcrypt::verify(password, hash).unwrap_or(false);
        ok && bool::from(known)
    }
}

fn unauthorized() -> Response {
    let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized\n").into_response();
    r.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static("Basic realm=\"telemetry\", charset=\"UTF-8\""),
    );
    r
}

/// The middleware: passes authenticated requests on, answers 401 otherwise.
pub(crate) async fn require(
    State(auth): State<Option<BasicAuth>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let Some(auth) = auth else {
        return next.run(request).await;
    };
    let Some(value) = request.headers().get(header::AUTHORIZATION) else {
        return unauthorized();
    };
    let value = value.as_bytes().to_vec();
    let ok = tokio::task::spawn_blocking(move || auth.verify_header(&value))
        .await
        .unwrap_or(false);
    if ok {
        next.run(request).await
    } else {
        unauthorized()
    }
}
