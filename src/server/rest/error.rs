//! The API's one error shape and the body extractors that produce it.

use std::collections::BTreeMap;

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::response::{IntoResponse, Response};
use axum::Json;
use http::header::{RETRY_AFTER, WWW_AUTHENTICATE};
use http::{HeaderValue, StatusCode};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::{AppError, ErrorKind};
use crate::server::status_of;

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

pub fn code_of(kind: ErrorKind) -> &'static str {
    match kind {
        ErrorKind::BadRequest => "bad_request",
        ErrorKind::PayloadTooLarge => "payload_too_large",
        ErrorKind::UnsupportedMediaType => "unsupported_media_type",
        ErrorKind::Validation => "validation_failed",
        ErrorKind::Unauthenticated => "unauthenticated",
        ErrorKind::Forbidden => "forbidden",
        ErrorKind::NotFound => "not_found",
        ErrorKind::Conflict => "conflict",
        ErrorKind::TooManyRequests => "too_many_requests",
        ErrorKind::Internal => "internal_error",
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let status = status_of(self.kind);
        let body = ErrorBody {
            error: ErrorDetail {
                code: code_of(self.kind),
                message: self.message,
                fields: self.fields,
            },
        };
        let mut response = (status, Json(body)).into_response();
        if status == StatusCode::UNAUTHORIZED {
            // RFC 6750: tells clients which scheme to use.
            response.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"gatehouse\""),
            );
        }
        if let Some(secs) = self.retry_after_secs {
            if let Ok(value) = HeaderValue::from_str(&secs.to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        response
    }
}

fn body_error(status: StatusCode, detail: String) -> AppError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => {
            AppError::new(ErrorKind::PayloadTooLarge, "The request body is too large.")
        }
        StatusCode::UNSUPPORTED_MEDIA_TYPE => AppError::new(
            ErrorKind::UnsupportedMediaType,
            "Unsupported content type: send application/json.",
        ),
        StatusCode::UNPROCESSABLE_ENTITY => AppError::new(ErrorKind::Validation, detail),
        _ => AppError::bad_request(detail),
    }
}

/// `axum::Json`, but every rejection (malformed JSON, wrong content type, missing or unknown
/// fields, oversize body) becomes the API's error shape.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(match &rejection {
                JsonRejection::JsonSyntaxError(_) => {
                    AppError::bad_request("The request body is not valid JSON.")
                }
                JsonRejection::JsonDataError(e) => AppError::new(
                    ErrorKind::Validation,
                    format!(
                        "The request body does not match the schema: {}",
                        e.body_text()
                    ),
                ),
                _ => body_error(rejection.status(), rejection.body_text()),
            }),
        }
    }
}

/// `axum::Form` with the API's error shape.
pub struct ApiForm<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiForm<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(request, state).await {
            Ok(axum::Form(value)) => Ok(Self(value)),
            Err(rejection) => Err(match &rejection {
                FormRejection::InvalidFormContentType(_) => AppError::new(
                    ErrorKind::UnsupportedMediaType,
                    "Unsupported content type: send application/x-www-form-urlencoded.",
                ),
                FormRejection::FailedToDeserializeForm(_)
                | FormRejection::FailedToDeserializeFormBody(_) => AppError::new(
                    ErrorKind::Validation,
                    format!(
                        "The form does not match the schema: {}",
                        rejection.body_text()
                    ),
                ),
                _ => body_error(rejection.status(), rejection.body_text()),
            }),
        }
    }
}
