use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::responses::{NeedsAuth, TakesJson};
use super::{ApiForm, ApiJson};
use crate::domain::{AppError, ErrorKind, UserView};
use crate::server::error::ErrorBody;
use crate::server::principal::{Client, CurrentUser};
use crate::server::sessions::{self, IssuedTokens, RefreshError};
use crate::server::state::AppState;
use crate::server::tokens::RefreshToken;
use crate::server::users::{self, Registration};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
    /// 8–256 characters, not easily guessed; no composition rules.
    #[schema(
        example = "correct horse battery staple",
        min_length = 8,
        max_length = 256
    )]
    password: String,
    /// 3–32 letters, digits, `_`, `-` or `.`; derived from the email when left out.
    #[schema(example = "ada", min_length = 3, max_length = 32)]
    username: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    email: String,
    #[schema(example = "correct horse battery staple")]
    password: String,
}

/// OAuth2 password grant (RFC 6749 §4.3), as sent by Swagger UI's "Authorize".
#[derive(Deserialize, ToSchema)]
pub struct TokenForm {
    /// Must be `password` when given.
    grant_type: Option<String>,
    /// The account's email address.
    #[schema(example = "ada@example.com")]
    username: String,
    password: String,
    /// Accepted and ignored: Gatehouse tokens carry no scopes.
    #[allow(dead_code)]
    scope: Option<String>,
    #[allow(dead_code)]
    client_id: Option<String>,
    #[allow(dead_code)]
    client_secret: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RefreshRequest {
    refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct TokenPair {
    access_token: String,
    #[schema(example = "bearer")]
    token_type: &'static str,
    /// Seconds until the access token expires.
    #[schema(example = 900)]
    expires_in: i64,
    /// Single use: each renewal spends it and returns a new one.
    refresh_token: String,
}

impl From<IssuedTokens> for TokenPair {
    fn from(issued: IssuedTokens) -> Self {
        Self {
            access_token: issued.access_token,
            token_type: "bearer",
            expires_in: issued.access_expires_in,
            refresh_token: issued.refresh_token.expose().to_string(),
        }
    }
}

#[utoipa::path(
    post, path = "/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        TakesJson,
        (status = 201, description = "Account created", body = UserView),
        (status = 409, description = "Email already registered", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<(StatusCode, Json<UserView>), AppError> {
    let user = users::register(
        &state,
        Registration {
            email: &body.email,
            username: body.username.as_deref(),
            password: &body.password,
            confirm_password: None,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(user.view())))
}

async fn issue_pair(
    state: &AppState,
    client: &Client,
    email: &str,
    password: &str,
) -> Result<Json<TokenPair>, AppError> {
    let (_, issued) = users::log_in(state, email, password, true, client).await?;
    Ok(Json(issued.into()))
}

#[utoipa::path(
    post, path = "/auth/token", tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Token pair", body = TokenPair),
        (status = 400, description = "Unsupported grant type", body = ErrorBody),
        (status = 401, description = "Invalid email or password", body = ErrorBody),
        (status = 403, description = "Account deactivated", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not a form", body = ErrorBody),
        (status = 422, description = "Missing field", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    client: Client,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Json<TokenPair>, AppError> {
    if form.grant_type.as_deref().is_some_and(|g| g != "password") {
        return Err(AppError::bad_request(
            "Unsupported grant_type: only \"password\" is supported.",
        ));
    }
    issue_pair(&state, &client, &form.username, &form.password).await
}

#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        TakesJson,
        (status = 200, description = "Token pair", body = TokenPair),
        (status = 401, description = "Invalid email or password", body = ErrorBody),
        (status = 403, description = "Account deactivated", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    ApiJson(login): ApiJson<LoginRequest>,
) -> Result<Json<TokenPair>, AppError> {
    issue_pair(&state, &client, &login.email, &login.password).await
}

#[utoipa::path(
    post, path = "/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        TakesJson,
        (status = 200, description = "New token pair; the presented refresh token is spent", body = TokenPair),
        (status = 401, description = "Unknown, expired or reused refresh token (reuse ends the session)", body = ErrorBody),
    )
)]
pub async fn refresh(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<RefreshRequest>,
) -> Result<Json<TokenPair>, AppError> {
    let presented = RefreshToken::from_client(&body.refresh_token);
    let renewed = sessions::refresh(&state, &presented, &client).await;
    match renewed {
        Ok(issued) => Ok(Json(issued.into())),
        Err(RefreshError::Invalid | RefreshError::Raced) => Err(AppError::new(
            ErrorKind::Unauthenticated,
            "The refresh token is invalid or has expired. Log in again.",
        )),
        Err(RefreshError::Reused) => Err(AppError::new(
            ErrorKind::Unauthenticated,
            "This refresh token was already used. The session has been ended; log in again.",
        )),
        Err(RefreshError::Internal) => Err(AppError::internal()),
    }
}

#[utoipa::path(
    post, path = "/auth/logout", tag = "auth",
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth,
        (status = 204, description = "Session ended; its tokens stop working at once"),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<impl IntoResponse, AppError> {
    sessions::end(&state, &user.session_id, "logout").await?;
    Ok(StatusCode::NO_CONTENT)
}
