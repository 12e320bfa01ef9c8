//! What every request leaves behind: a request id (taken from a well-formed `X-Request-Id`, or
//! made up) returned as `X-Request-Id` and attached to every log line written while serving it;
//! one access-log line with method, path (never the query string), status and latency; and a
//! 500 in the usual error shape when a handler panics, after which the process goes on serving.

use std::time::Duration;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{HeaderName, HeaderValue};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::classify::{ServerErrorsAsFailures, SharedClassifier};
use tower_http::trace::{HttpMakeClassifier, TraceLayer};
use tracing::Span;

use crate::domain::AppError;
use crate::server::http::error::{respond, Audience};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request id a client or proxy may pass on: short, and only characters that cannot forge
/// log lines.
fn acceptable_id(value: &HeaderValue) -> bool {
    let bytes = value.as_bytes();
    (8..=64).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// Middleware: makes sure the request has a usable id and the response repeats it.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = match request.headers().get(&REQUEST_ID) {
        Some(value) if acceptable_id(value) => value.clone(),
        _ => HeaderValue::from_str(&uuid::Uuid::new_v4().simple().to_string())
            .expect("a uuid is a valid header value"),
    };
    request.headers_mut().insert(REQUEST_ID, id.clone());
    let mut response = next.run(request).await;
    response.headers_mut().insert(REQUEST_ID, id);
    response
}

type AccessLog = TraceLayer<
    HttpMakeClassifier,
    fn(&Request) -> Span,
    (),
    fn(&Response, Duration, &Span),
    (),
    (),
    (),
>;

/// The access log: a span per request holding its id, method and path, and one `info` line
/// when the response head is ready.
pub fn access_log() -> AccessLog {
    TraceLayer::new(SharedClassifier::new(ServerErrorsAsFailures::new()))
        .make_span_with(request_span as fn(&Request) -> Span)
        .on_request(())
        .on_response(log_response as fn(&Response, Duration, &Span))
        .on_body_chunk(())
        .on_eos(())
        .on_failure(())
}

fn request_span(request: &Request) -> Span {
    let id = request
        .headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    // The path only: query strings may carry tokens (reset and confirmation links).
    tracing::info_span!(
        "request",
        request_id = %id,
        method = crate::server::http::metrics::method_label(request.method()),
        path = %request.uri().path(),
    )
}

fn log_response(response: &Response, latency: Duration, _span: &Span) {
    tracing::info!(
        status = response.status().as_u16(),
        latency_ms = latency.as_secs_f64() * 1000.0,
        "served"
    );
}

/// Marks a response made for a panicked handler, so `panic_shape` can answer in the caller's
/// format.
#[derive(Clone, Copy)]
struct Panicked;

/// Turns a handler's panic into a bare 500 (shaped by `panic_shape`) and logs it.
pub fn catch_panic() -> CatchPanicLayer<fn(Box<dyn std::any::Any + Send + 'static>) -> Response> {
    CatchPanicLayer::custom(on_panic as fn(Box<dyn std::any::Any + Send + 'static>) -> Response)
}

fn on_panic(panic: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let message = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(no message)".to_string());
    tracing::error!(panic = %message, "a handler panicked; answered 500");
    let mut response = AppError::internal().into_response();
    response.extensions_mut().insert(Panicked);
    response
}

/// Middleware: answers a panicked request like any other internal error of its kind (JSON for
/// the API and server functions, a page for the browser).
pub async fn panic_shape(request: Request, next: Next) -> Response {
    let audience = Audience::of(request.uri().path(), request.headers());
    let response = next.run(request).await;
    if response.extensions().get::<Panicked>().is_some() {
        return respond(AppError::internal(), audience);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_short_plain_request_ids_are_taken_over() {
        let ok = |s: &str| acceptable_id(&HeaderValue::from_str(s).unwrap());
        assert!(ok("4bf92f3577b34da6a3ce929d0e0e4736"));
        assert!(ok("req-123_abc.9"));
        assert!(!ok("short"));
        assert!(!ok(&"a".repeat(65)));
        assert!(!ok("id with spaces"));
        assert!(!ok("id\"quoted\"id"));
    }
}
