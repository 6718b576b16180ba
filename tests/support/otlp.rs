//! An in-process OTLP/HTTP receiver (axum on 127.0.0.1) that keeps every
//! export request as it arrived; tests decode or search the bodies.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::routing::post;
use axum::Router;

/// One export request: path (`/v1/traces` or `/v1/metrics`), `content-type`
/// header and raw protobuf body.
#[derive(Clone, Debug)]
pub struct OtlpRequest {
    /// The request path.
    pub path: String,
    /// The `content-type` header, empty when absent.
    pub content_type: String,
    /// The body, as received.
    pub body: Vec<u8>,
}

/// Every request the receiver got, in arrival order.
pub type OtlpRequests = Arc<Mutex<Vec<OtlpRequest>>>;

/// Starts a receiver on a free loopback port: its base URL (the pipeline's
/// endpoint) and what it receives. Lives as long as the test's runtime.
pub async fn otlp_receiver() -> (String, OtlpRequests) {
    async fn keep(
        State(requests): State<OtlpRequests>,
        uri: Uri,
        headers: HeaderMap,
        body: Bytes,
    ) -> Vec<u8> {
        let content_type = headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(OtlpRequest {
                path: uri.path().to_owned(),
                content_type,
                body: body.to_vec(),
            });
        Vec::new() // an empty Export*ServiceResponse
    }
    let requests = OtlpRequests::default();
    let app = Router::new()
        .route("/v1/traces", post(keep))
        .route("/v1/metrics", post(keep))
        .with_state(Arc::clone(&requests));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind receiver");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (format!("http://{addr}"), requests)
}
