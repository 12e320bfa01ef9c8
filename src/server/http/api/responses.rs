//! Error answers many operations share, documented once. They only describe the OpenAPI
//! document: handlers answer with `AppError`.
#![allow(dead_code)]

use utoipa::IntoResponses;

use crate::server::http::error::ErrorBody;

/// Operations that need a Bearer token.
#[derive(IntoResponses)]
pub enum NeedsAuth {
    /// Not authenticated: no, an expired or a revoked access token.
    #[response(status = 401)]
    Unauthenticated(ErrorBody),
}

/// Operations with an id in the path.
#[derive(IntoResponses)]
pub enum TakesId {
    /// Malformed id.
    #[response(status = 400)]
    BadRequest(ErrorBody),
}

/// Operations that read a JSON body (and possibly an id).
#[derive(IntoResponses)]
pub enum TakesJson {
    /// Malformed JSON or id.
    #[response(status = 400)]
    BadRequest(ErrorBody),
    /// The body is too large.
    #[response(status = 413)]
    TooLarge(ErrorBody),
    /// The body is not JSON.
    #[response(status = 415)]
    NotJson(ErrorBody),
    /// A field is missing, unknown or invalid.
    #[response(status = 422)]
    Invalid(ErrorBody),
}
