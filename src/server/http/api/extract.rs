//! Body extractors that answer every rejection with the API's error shape.

use axum::extract::rejection::{FormRejection, JsonRejection};
use axum::extract::{FromRequest, Request};
use axum::Json;
use http::StatusCode;
use serde::de::DeserializeOwned;

use crate::domain::{AppError, ErrorKind};
use crate::server::http::error::for_status;

fn body_error(status: StatusCode, detail: String) -> AppError {
    match status {
        StatusCode::UNPROCESSABLE_ENTITY => AppError::new(ErrorKind::Validation, detail),
        StatusCode::BAD_REQUEST => AppError::bad_request(detail),
        other => for_status(other),
    }
}

/// `axum::Json`, but every rejection (malformed JSON, wrong content type, missing or unknown
/// fields, oversize body) becomes the API's error shape, and the body must be a JSON object:
/// `[null, null]` is not an empty object.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let value = match Json::<serde_json::Value>::from_request(request, state).await {
            Ok(Json(value)) => value,
            Err(JsonRejection::JsonSyntaxError(_) | JsonRejection::JsonDataError(_)) => {
                return Err(AppError::bad_request("The request body is not valid JSON."));
            }
            Err(rejection) => return Err(body_error(rejection.status(), rejection.body_text())),
        };
        if !value.is_object() {
            return Err(AppError::new(
                ErrorKind::Validation,
                "The request body must be a JSON object.",
            ));
        }
        T::deserialize(value).map(Self).map_err(|e| {
            AppError::new(
                ErrorKind::Validation,
                format!("The request body does not match the schema: {e}"),
            )
        })
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
