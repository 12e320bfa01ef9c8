//! The one place where an error becomes an HTTP answer: one status and one code per error
//! kind, one JSON shape for the API, the server-function encoding for the hydrated pages, and a
//! small HTML page for plain form posts.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::{ACCEPT, CONTENT_LENGTH, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderMap, HeaderValue, StatusCode};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{AppError, ErrorKind};

/// `{"error": {"code", "message", "fields"}}`
#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable: `validation_failed`, `unauthenticated`, `conflict`, …
    #[schema(example = "validation_failed")]
    pub code: &'static str,
    #[schema(example = "Enter a valid email address, like name@example.com.")]
    pub message: String,
    /// Per-field messages, keyed by field name.
    pub fields: BTreeMap<String, String>,
}

/// The status and the stable code of each kind of error.
pub fn status_and_code(kind: ErrorKind) -> (StatusCode, &'static str) {
    match kind {
        ErrorKind::BadRequest => (StatusCode::BAD_REQUEST, "bad_request"),
        ErrorKind::PayloadTooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        ErrorKind::UnsupportedMediaType => {
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type")
        }
        ErrorKind::Validation => (StatusCode::UNPROCESSABLE_ENTITY, "validation_failed"),
        ErrorKind::Unauthenticated => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        ErrorKind::InvalidCode => (StatusCode::UNAUTHORIZED, "invalid_code"),
        ErrorKind::Forbidden => (StatusCode::FORBIDDEN, "forbidden"),
        ErrorKind::NotFound => (StatusCode::NOT_FOUND, "not_found"),
        ErrorKind::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed"),
        ErrorKind::Conflict => (StatusCode::CONFLICT, "conflict"),
        ErrorKind::TooManyRequests => (StatusCode::TOO_MANY_REQUESTS, "too_many_requests"),
        ErrorKind::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "unavailable"),
        ErrorKind::Internal => (StatusCode::INTERNAL_SERVER_ERROR, "internal_error"),
    }
}

/// The error for a status produced outside any handler (the router's 404 and 405, the body
/// limit's 413, an extractor's rejection).
pub fn for_status(status: StatusCode) -> AppError {
    match status {
        StatusCode::NOT_FOUND => AppError::new(ErrorKind::NotFound, "No such endpoint."),
        StatusCode::METHOD_NOT_ALLOWED => AppError::new(
            ErrorKind::MethodNotAllowed,
            "This endpoint does not accept that method.",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::new(ErrorKind::PayloadTooLarge, "The request body is too large.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::new(
            ErrorKind::UnsupportedMediaType,
            "Unsupported content type: send application/json.",
        ),
        StatusCode::REQUEST_TIMEOUT => {
            AppError::bad_request("The request took too long and was abandoned. Try again.")
        }
        s if s.is_client_error() => AppError::bad_request("The request could not be understood."),
        _ => AppError::internal(),
    }
}

fn set_retry_after(headers: &mut HeaderMap, err: &AppError) {
    if let Some(secs) = err.retry_after_secs {
        headers.insert(RETRY_AFTER, HeaderValue::from(secs));
    }
}

/// The JSON API's answer.
impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, code) = status_and_code(self.kind);
        let mut headers = HeaderMap::new();
        set_retry_after(&mut headers, &self);
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750: tells clients which scheme to use.
            headers.insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gatehouse\""),
            );
        }
        let body = ErrorBody {
            error: ErrorDetail {
                code,
                message: self.message,
                fields: self.fields,
            },
        };
        (status, headers, Json(body)).into_response()
    }
}

/// Who reads an error answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// A script using the JSON API under `/api/v1`.
    Api,
    /// A plain HTML form post or page load: a person looking at the answer.
    Page,
    /// A hydrated page's server-function call, which decodes the serialized `AppError`.
    ServerFn,
}

impl Audience {
    pub fn of(path: &str, headers: &HeaderMap) -> Self {
        if path.starts_with("/api/v1/") {
            Self::Api
        } else if headers
            .get(ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("text/html"))
        {
            Self::Page
        } else {
            Self::ServerFn
        }
    }
}

/// Answers `err` in the form `audience` understands.
pub fn respond(err: AppError, audience: Audience) -> Response {
    let (status, _) = status_and_code(err.kind);
    match audience {
        Audience::Api => err.into_response(),
        Audience::Page => {
            let title = status.canonical_reason().unwrap_or("Error");
            let message = escape_html(&err.message);
            (
                status,
                [(CONTENT_TYPE, "text/html; charset=utf-8")],
                format!("<!DOCTYPE html><title>{title}</title><h1>{title}</h1><p>{message}</p>"),
            )
                .into_response()
        }
        Audience::ServerFn => {
            let mut headers = HeaderMap::new();
            set_retry_after(&mut headers, &err);
            headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            let body = serde_json::to_string(&err).unwrap_or_default();
            (status, headers, body).into_response()
        }
    }
}

pub(crate) fn escape_html(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Server functions answer every error with 500; give the client's error its real status
/// (422, 401, 429, …) so only real faults look like faults.
pub async fn server_fn_status(request: Request, next: Next) -> Response {
    let audience = Audience::of(request.uri().path(), request.headers());
    let is_server_fn = request.uri().path().starts_with("/api/") && audience == Audience::ServerFn;
    let response = next.run(request).await;
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return respond(AppError::internal(), Audience::ServerFn);
    };
    if let Ok(err) = serde_json::from_slice::<AppError>(&bytes) {
        parts.status = status_and_code(err.kind).0;
        set_retry_after(&mut parts.headers, &err);
    }
    Response::from_parts(parts, Body::from(bytes))
}

/// Gives every API failure the one error shape, including those produced outside the
/// handlers (body-limit 413, unknown method 405).
pub async fn api_error_shape(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/v1/");
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !is_api || !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let mut shaped = for_status(status).into_response();
    *shaped.status_mut() = status;
    for (name, value) in response.headers() {
        if name != CONTENT_TYPE && name != CONTENT_LENGTH {
            shaped.headers_mut().insert(name.clone(), value.clone());
        }
    }
    shaped
}

/// Any database failure a caller did not anticipate: logged once here, shown as a generic
/// error, and kept as the error's source.
impl From<sqlx::Error> for AppError {
    fn from(err: sqlx::Error) -> Self {
        tracing::error!(error = %err, "database error");
        // The database is out of reach (down, restarting, the pool exhausted): the request
        // may succeed in a moment, so say so (503 with Retry-After) instead of a 500.
        let unreachable = match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => true,
            // PostgreSQL: connection exceptions (08…), the server shutting down or restarting
            // (57P01–57P03), too many connections (53300).
            sqlx::Error::Database(db) => db.code().is_some_and(|code| {
                code.starts_with("08") || code.starts_with("57P") || code == "53300"
            }),
            _ => false,
        };
        if unreachable {
            let mut busy = AppError::busy(5);
            busy.source = Some(std::sync::Arc::new(err));
            return busy;
        }
        AppError::internal_from(err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_its_own_status_and_code() {
        let kinds = [
            ErrorKind::BadRequest,
            ErrorKind::PayloadTooLarge,
            ErrorKind::UnsupportedMediaType,
            ErrorKind::Validation,
            ErrorKind::Unauthenticated,
            ErrorKind::Forbidden,
            ErrorKind::NotFound,
            ErrorKind::MethodNotAllowed,
            ErrorKind::Conflict,
            ErrorKind::TooManyRequests,
            ErrorKind::Unavailable,
            ErrorKind::Internal,
        ];
        let codes: std::collections::BTreeSet<_> =
            kinds.iter().map(|k| status_and_code(*k).1).collect();
        let statuses: std::collections::BTreeSet<_> =
            kinds.iter().map(|k| status_and_code(*k).0).collect();
        assert_eq!(codes.len(), kinds.len());
        assert_eq!(statuses.len(), kinds.len());
    }

    #[test]
    fn audience_follows_path_then_accept() {
        let html = {
            let mut h = HeaderMap::new();
            h.insert(ACCEPT, HeaderValue::from_static("text/html"));
            h
        };
        assert_eq!(Audience::of("/api/v1/users/me", &html), Audience::Api);
        assert_eq!(Audience::of("/api/login", &html), Audience::Page);
        assert_eq!(
            Audience::of("/api/login", &HeaderMap::new()),
            Audience::ServerFn
        );
    }

    #[tokio::test]
    async fn page_errors_escape_the_message() {
        let response = respond(AppError::bad_request("<script>"), Audience::Page);
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        let body = String::from_utf8(body.to_vec()).unwrap();
        assert!(body.contains("&lt;script&gt;") && !body.contains("<script>"));
    }
}
