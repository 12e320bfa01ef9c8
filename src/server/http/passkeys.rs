//! The browser's half of the passkey ceremonies (`enhance::passkeys` calls these): JSON in and
//! out, each ceremony in two calls — its options, then the browser's answer. Same-site only
//! (the CSRF guard covers them as every other post); errors are the API's JSON shape.

use axum::extract::State;
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tower_cookies::Cookies;
use webauthn_rs::prelude::{PublicKeyCredential, RegisterPublicKeyCredential};

use crate::domain::{safe_next, AppError};
use crate::server::accounts::passkeys::{self, Started};
use crate::server::accounts::{login, two_step};
use crate::server::http::api::ApiJson;
use crate::server::security::principal::{Authentication, Client, CurrentUser};
use crate::server::sessions;
use crate::server::startup::state::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/passkeys/add/options", post(add_options))
        .route("/passkeys/add", post(add))
        .route("/passkeys/login/options", post(login_options))
        .route("/passkeys/login", post(log_in))
        .route("/passkeys/second-step/options", post(second_step_options))
        .route("/passkeys/second-step", post(second_step))
}

/// Where the browser goes next.
#[derive(Serialize)]
pub struct Done {
    redirect: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AddRequest {
    ceremony: String,
    credential: RegisterPublicKeyCredential,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct LoginOptionsRequest {
    /// For the Email field's autofill (`mediation: "conditional"`).
    #[serde(default)]
    conditional: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnswerRequest {
    ceremony: String,
    credential: PublicKeyCredential,
    #[serde(default)]
    next: Option<String>,
    #[serde(default)]
    remember: bool,
}

async fn add_options(
    State(state): State<AppState>,
    caller: CurrentUser,
    client: Client,
) -> Result<Json<Started>, AppError> {
    passkeys::start_adding(&state, &caller, &client)
        .await
        .map(Json)
}

async fn add(
    State(state): State<AppState>,
    caller: CurrentUser,
    client: Client,
    ApiJson(body): ApiJson<AddRequest>,
) -> Result<Json<Done>, AppError> {
    passkeys::finish_adding(&state, &caller, &client, &body.ceremony, &body.credential).await?;
    Ok(Json(Done {
        redirect: "/security?saved=passkey".into(),
    }))
}

async fn login_options(
    State(state): State<AppState>,
    client: Client,
    body: Option<Json<LoginOptionsRequest>>,
) -> Result<Json<Started>, AppError> {
    let conditional = body.is_some_and(|Json(body)| body.conditional);
    passkeys::start_login(&state, &client, conditional)
        .await
        .map(Json)
}

async fn log_in(
    State(state): State<AppState>,
    client: Client,
    jar: Cookies,
    extensions: axum::http::Extensions,
    ApiJson(body): ApiJson<AnswerRequest>,
) -> Result<Json<Done>, AppError> {
    let user = passkeys::finish_login(&state, &client, &body.ceremony, &body.credential).await?;
    let device_token = state.cookies.device_token(&jar);
    let logged_in = login::log_in_with_passkey(
        &state,
        user,
        body.remember,
        device_token.as_deref(),
        &client,
    )
    .await?;
    sessions::end_replaced(&state, Authentication::of(&extensions)).await?;
    state
        .cookies
        .set_login(&jar, &logged_in.tokens, logged_in.device_token);
    Ok(Json(Done {
        redirect: safe_next(body.next.as_deref()),
    }))
}

async fn second_step_options(
    State(state): State<AppState>,
    client: Client,
    jar: Cookies,
) -> Result<Json<Started>, AppError> {
    let token = state
        .cookies
        .pending_login(&jar)
        .ok_or_else(two_step::expired)?;
    passkeys::start_second_step(&state, &client, &token)
        .await
        .map(Json)
}

async fn second_step(
    State(state): State<AppState>,
    client: Client,
    jar: Cookies,
    extensions: axum::http::Extensions,
    ApiJson(body): ApiJson<AnswerRequest>,
) -> Result<Json<Done>, AppError> {
    let token = state
        .cookies
        .pending_login(&jar)
        .ok_or_else(two_step::expired)?;
    let verified =
        passkeys::finish_second_step(&state, &client, &token, &body.ceremony, &body.credential)
            .await;
    let logged_in = login::finish_verified(&state, verified, &client).await?;
    sessions::end_replaced(&state, Authentication::of(&extensions)).await?;
    state
        .cookies
        .set_login(&jar, &logged_in.tokens, logged_in.device_token);
    Ok(Json(Done {
        redirect: safe_next(body.next.as_deref()),
    }))
}
