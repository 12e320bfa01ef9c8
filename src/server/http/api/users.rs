use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::{AppError, UserView};
use crate::server::accounts::profile::{self, ProfileChanges};
use crate::server::accounts::profile_of;
use crate::server::http::api::responses::{NeedsAuth, TakesId, TakesJson};
use crate::server::http::api::ApiJson;
use crate::server::http::error::ErrorBody;
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::startup::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// 3–32 letters, digits, `_`, `-` or `.`.
    #[schema(example = "ada", min_length = 3, max_length = 32)]
    username: Option<String>,
    #[schema(example = "ada@example.com", format = Email, max_length = 254)]
    email: Option<String>,
    /// A new password; needs `current_password` and ends the person's other sessions.
    #[schema(min_length = 8, max_length = 256)]
    password: Option<String>,
    /// Required to change the email or the password.
    #[schema(max_length = 256)]
    current_password: Option<String>,
}

#[utoipa::path(
    get, path = "/users/me", tag = "users",
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth,
        (status = 200, description = "The calling person", body = UserView),
    )
)]
pub async fn me(user: CurrentUser) -> Result<Json<UserView>, AppError> {
    Ok(Json(user.account.as_ref().clone()))
}

#[utoipa::path(
    get, path = "/profile/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesId,
        (status = 200, description = "The profile", body = UserView),
        (status = 403, description = "Another person's profile", body = ErrorBody),
        (status = 404, description = "No such user (admins only)", body = ErrorBody),
    )
)]
pub async fn get_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<UserView>, AppError> {
    Ok(Json(profile_of(&state, &user, id).await?.view()))
}

#[utoipa::path(
    put, path = "/profile/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    request_body = ProfileUpdate,
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesJson,
        (status = 200, description = "The updated profile", body = UserView),
        (status = 202, description = "Saved, except the new email: it applies once the link sent to it is used. The profile as it is now", body = UserView),
        (status = 403, description = "Another person's profile", body = ErrorBody),
        (status = 404, description = "No such user (admins only)", body = ErrorBody),
        (status = 409, description = "Email or username taken", body = ErrorBody),
    )
)]
pub async fn update_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    client: Client,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProfileUpdate>,
) -> Result<(StatusCode, Json<UserView>), AppError> {
    let updated = profile::update_profile(
        &state,
        &user,
        &client,
        id,
        ProfileChanges {
            username: body.username.as_deref(),
            email: body.email.as_deref(),
            password: body.password.as_deref(),
            current_password: body.current_password.as_deref().unwrap_or_default(),
        },
    )
    .await?;
    let status = match updated.confirmation_sent_to {
        Some(_) => StatusCode::ACCEPTED,
        None => StatusCode::OK,
    };
    Ok((status, Json(updated.user.view())))
}
