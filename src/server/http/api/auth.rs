use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::domain::{AppError, ErrorKind, UserView, CHECK_INBOX};
use crate::server::accounts::email_links;
use crate::server::accounts::login::{self, Credentials};
use crate::server::accounts::register::{self, Registered, Registration};
use crate::server::accounts::two_step;
use crate::server::http::api::responses::{NeedsAuth, TakesJson};
use crate::server::http::api::{ApiForm, ApiJson};
use crate::server::http::error::{ErrorBody, ErrorDetail};
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::security::tokens::IssuedTokens;
use crate::server::security::tokens::RefreshToken;
use crate::server::sessions::{self, EndReason, RefreshError};
use crate::server::startup::state::AppState;
use tower_cookies::Cookies;

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
    #[schema(example = "ada@example.com", min_length = 1, max_length = 254)]
    email: String,
    #[schema(
        example = "correct horse battery staple",
        min_length = 1,
        max_length = 256
    )]
    password: String,
    /// The `device_token` of an earlier login's answer: this client has logged in to the
    /// account before, so failed guesses from elsewhere do not lock it out.
    device_token: Option<String>,
}

/// OAuth2 password grant (RFC 6749 §4.3), as sent by Swagger UI's "Authorize".
#[derive(Deserialize, ToSchema)]
pub struct TokenForm {
    /// Must be `password` when given.
    grant_type: Option<String>,
    /// The account's email address.
    #[schema(example = "ada@example.com", min_length = 1, max_length = 254)]
    username: String,
    #[schema(min_length = 1, max_length = 256)]
    password: String,
    /// As in `/auth/login`.
    device_token: Option<String>,
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
    /// Only from a login: send it with later logins of this account (`device_token`) to keep
    /// this client's own allowance of failed attempts.
    #[serde(skip_serializing_if = "Option::is_none")]
    device_token: Option<String>,
}

impl TokenPair {
    fn new(issued: IssuedTokens, device_token: Option<String>) -> Self {
        Self {
            access_token: issued.access_token,
            token_type: "bearer",
            expires_in: issued.access_expires_in,
            refresh_token: issued.refresh_token.expose().to_string(),
            device_token,
        }
    }
}

#[utoipa::path(
    post, path = "/auth/register", tag = "auth",
    request_body = RegisterRequest,
    responses(
        TakesJson,
        (status = 201, description = "Account created; a confirmation link was mailed", body = UserView),
        (status = 202, description = "`EMAIL_VERIFICATION=required`: check your inbox (the same answer whether or not the address already had an account)", body = Accepted),
        (status = 409, description = "Email (unless verification is required) or username taken", body = ErrorBody),
        (status = 429, description = "Too many registrations from this address", body = ErrorBody),
        (status = 503, description = "Too busy; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    client: Client,
    ApiJson(body): ApiJson<RegisterRequest>,
) -> Result<Response, AppError> {
    let registered = register::register(
        &state,
        Registration {
            email: &body.email,
            username: body.username.as_deref(),
            password: &body.password,
            confirm_password: None,
        },
        &client,
    )
    .await?;
    Ok(match registered {
        Registered::Account(user) => (StatusCode::CREATED, Json(user.view())).into_response(),
        Registered::CheckInbox => accepted(CHECK_INBOX),
    })
}

/// Logs in and answers with a token pair. The device token comes back both in the body and
/// as the device cookie, and is read from either: scripts keep it wherever suits them.
async fn issue_pair(
    state: &AppState,
    client: &Client,
    jar: &Cookies,
    (email, password): (&str, &str),
    device_token: Option<&str>,
) -> Result<Response, AppError> {
    let from_cookie = state.cookies.device_token(jar);
    // Scripts keep their tokens: an API login is always remembered.
    let credentials = Credentials {
        email,
        password,
        remember: true,
        device_token: device_token.or(from_cookie.as_deref()),
    };
    let logged_in = match login::log_in(state, credentials, client).await? {
        login::Outcome::LoggedIn(logged_in) => logged_in,
        login::Outcome::SecondStep(step) => return Ok(mfa_required(step)),
    };
    Ok(pair_for(state, jar, logged_in).into_response())
}

fn pair_for(state: &AppState, jar: &Cookies, logged_in: login::LoggedIn) -> Json<TokenPair> {
    state
        .cookies
        .set_device(jar, logged_in.device_token.clone());
    Json(TokenPair::new(
        logged_in.tokens,
        Some(logged_in.device_token),
    ))
}

/// The 403 of a correct password for an account with a second factor (SPEC §7).
#[derive(Serialize, ToSchema)]
pub struct MfaRequired {
    /// `code` is `mfa_required`.
    error: ErrorDetail,
    /// Send it to `/auth/mfa` with a code within 5 minutes; spent by its success.
    mfa_token: String,
    /// What the account can finish with: `totp`, `recovery_code`.
    #[schema(example = json!(["totp", "recovery_code"]))]
    methods: Vec<&'static str>,
}

fn mfa_required(step: two_step::SecondStep) -> Response {
    // What a script can send to /auth/mfa: codes. Passkeys need a browser.
    let methods: Vec<&'static str> = step
        .methods
        .iter()
        .filter(|m| **m != two_step::Method::Passkey)
        .map(|m| m.as_str())
        .collect();
    if methods.is_empty() {
        return AppError::forbidden(
            "This account's second factor is a passkey, which needs a browser: log in on the \
             website.",
        )
        .into_response();
    }
    let body = MfaRequired {
        error: ErrorDetail {
            code: "mfa_required",
            message: "This account has two-step verification: send a code from the \
                      authenticator app or a recovery code to /api/v1/auth/mfa with the \
                      mfa_token."
                .to_string(),
            fields: Default::default(),
        },
        mfa_token: step.token,
        methods,
    };
    (StatusCode::FORBIDDEN, Json(body)).into_response()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MfaRequest {
    /// From the 403 `mfa_required` answer of `/auth/token` or `/auth/login`.
    #[schema(min_length = 1, max_length = 128)]
    mfa_token: String,
    /// A 6-digit code from the authenticator app, or a recovery code.
    #[schema(example = "123456", min_length = 1, max_length = 64)]
    code: String,
}

#[utoipa::path(
    post, path = "/auth/mfa", tag = "auth",
    request_body = MfaRequest,
    responses(
        TakesJson,
        (status = 200, description = "Token pair: the login is finished and the `mfa_token` spent", body = TokenPair),
        (status = 401, description = "`invalid_code`: the code is wrong, was used before, or is a spent recovery code; `unauthenticated`: the `mfa_token` expired or was spent", body = ErrorBody),
        (status = 403, description = "Account deactivated", body = ErrorBody),
        (status = 422, description = "Missing code", body = ErrorBody),
        (status = 429, description = "Too many wrong codes", body = ErrorBody),
    )
)]
pub async fn mfa(
    State(state): State<AppState>,
    client: Client,
    jar: Cookies,
    ApiJson(body): ApiJson<MfaRequest>,
) -> Result<Response, AppError> {
    if body.code.is_empty() {
        return Err(AppError::field("code", "Enter a code."));
    }
    if body.code.chars().count() > 64 {
        return Err(AppError::field("code", "That is too long to be a code."));
    }
    if body.mfa_token.is_empty() || body.mfa_token.chars().count() > 128 {
        return Err(AppError::field(
            "mfa_token",
            "Send the mfa_token of the mfa_required answer.",
        ));
    }
    let logged_in = login::finish_second_step(&state, &body.mfa_token, &body.code, &client).await?;
    Ok(pair_for(&state, &jar, logged_in).into_response())
}

#[utoipa::path(
    post, path = "/auth/token", tag = "auth",
    request_body(content = TokenForm, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "Token pair", body = TokenPair),
        (status = 400, description = "Unsupported grant type", body = ErrorBody),
        (status = 401, description = "Invalid email or password", body = ErrorBody),
        (status = 403, description = "Account deactivated (`forbidden`), or `mfa_required`: the account has two-step verification; finish at `/auth/mfa`", body = MfaRequired),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not a form", body = ErrorBody),
        (status = 422, description = "Missing field", body = ErrorBody),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    )
)]
pub async fn token(
    State(state): State<AppState>,
    client: Client,
    jar: Cookies,
    ApiForm(form): ApiForm<TokenForm>,
) -> Result<Response, AppError> {
    if form.grant_type.as_deref().is_some_and(|g| g != "password") {
        return Err(AppError::bad_request(
            "Unsupported grant_type: only \"password\" is supported.",
        ));
    }
    let presented = (form.username.as_str(), form.password.as_str());
    issue_pair(
        &state,
        &client,
        &jar,
        presented,
        form.device_token.as_deref(),
    )
    .await
}

#[utoipa::path(
    post, path = "/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        TakesJson,
        (status = 200, description = "Token pair", body = TokenPair),
        (status = 401, description = "Invalid email or password", body = ErrorBody),
        (status = 403, description = "Account deactivated (`forbidden`), or `mfa_required`: the account has two-step verification; finish at `/auth/mfa`", body = MfaRequired),
        (status = 429, description = "Too many failed attempts", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    client: Client,
    jar: Cookies,
    ApiJson(login): ApiJson<LoginRequest>,
) -> Result<Response, AppError> {
    let presented = (login.email.as_str(), login.password.as_str());
    issue_pair(
        &state,
        &client,
        &jar,
        presented,
        login.device_token.as_deref(),
    )
    .await
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
        Ok(issued) => Ok(Json(TokenPair::new(issued, None))),
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
    sessions::end(&state, &user.session_id, EndReason::Logout).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An answer that only says what happens next.
#[derive(Serialize, ToSchema)]
pub struct Accepted {
    #[schema(example = "Check your inbox.")]
    message: &'static str,
}

fn accepted(message: &'static str) -> Response {
    (StatusCode::ACCEPTED, Json(Accepted { message })).into_response()
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForgotRequest {
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: String,
}

const RESET_LINK_SENT: &str = "Check your inbox: if an account uses this address, a link to \
     choose a new password is on its way. It works once, for an hour.";

#[utoipa::path(
    post, path = "/auth/password/forgot", tag = "auth",
    request_body = ForgotRequest,
    responses(
        TakesJson,
        (status = 202, description = "The same answer, at the same speed, whether or not the address has an account", body = Accepted),
    )
)]
pub async fn forgot_password(
    State(state): State<AppState>,
    client: Client,
    jar: Cookies,
    ApiJson(body): ApiJson<ForgotRequest>,
) -> Result<Response, AppError> {
    let device_token = state.cookies.device_token(&jar);
    email_links::request_reset(&state, &body.email, &client, device_token).await?;
    Ok(accepted(RESET_LINK_SENT))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    /// The `token` of the emailed link.
    #[schema(min_length = 1, max_length = 256)]
    token: String,
    /// 8–256 characters, not easily guessed.
    #[schema(min_length = 8, max_length = 256)]
    password: String,
}

#[utoipa::path(
    post, path = "/auth/password/reset", tag = "auth",
    request_body = ResetRequest,
    responses(
        TakesJson,
        (status = 204, description = "Password changed; every session of the account has ended"),
        (status = 404, description = "The link is unknown, expired or already used", body = ErrorBody),
    )
)]
pub async fn reset_password(
    State(state): State<AppState>,
    ApiJson(body): ApiJson<ResetRequest>,
) -> Result<StatusCode, AppError> {
    email_links::reset_password(&state, &body.token, &body.password, None)
        .await
        .map_err(|err| err.rename_field("new_password", "password"))?;
    Ok(StatusCode::NO_CONTENT)
}
