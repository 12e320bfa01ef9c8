use axum::extract::{Path, State};
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiJson, ErrorBody};
use crate::domain::{check_password_change, check_profile, AppError, UserView};
use crate::server::auth::CurrentUser;
use crate::server::state::AppState;
use crate::server::users::{self, PasswordChange, ProfileChanges};

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    #[schema(example = "ada")]
    username: Option<String>,
    #[schema(example = "ada@example.com")]
    email: Option<String>,
    /// A new password; needs `current_password` and ends the person's other sessions.
    password: Option<String>,
    /// Required to change the email or the password.
    current_password: Option<String>,
}

#[utoipa::path(
    get, path = "/users/me", tag = "users",
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 200, description = "The calling person", body = UserView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub async fn me(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<UserView>, AppError> {
    let record = users::find_by_id(&state.db, user.user_id)
        .await?
        .ok_or_else(AppError::unauthenticated)?;
    Ok(Json(record.view()))
}

fn may_access(user: &CurrentUser, id: i64) -> Result<(), AppError> {
    if user.user_id == id || user.is_admin() {
        Ok(())
    } else {
        Err(AppError::forbidden("You may only access your own profile."))
    }
}

#[utoipa::path(
    get, path = "/profile/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        (status = 200, description = "The profile", body = UserView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Another person's profile", body = ErrorBody),
        (status = 404, description = "No such user (admins only)", body = ErrorBody),
    )
)]
pub async fn get_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<UserView>, AppError> {
    may_access(&user, id)?;
    let record = users::find_by_id(&state.db, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Json(record.view()))
}

#[utoipa::path(
    put, path = "/profile/{id}", tag = "users",
    params(("id" = i64, Path, description = "User id")),
    request_body = ProfileUpdate,
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 200, description = "The updated profile", body = UserView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 403, description = "Another person's profile", body = ErrorBody),
        (status = 404, description = "No such user (admins only)", body = ErrorBody),
        (status = 409, description = "Email or username taken", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field or wrong current password", body = ErrorBody),
    )
)]
pub async fn update_profile(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProfileUpdate>,
) -> Result<Json<UserView>, AppError> {
    may_access(&user, id)?;
    let own = user.user_id == id;
    let current_password = body.current_password.as_deref().unwrap_or_default();
    let (username, email) = (body.username.as_deref(), body.email.as_deref());
    if let Some(new_password) = body.password.as_deref() {
        if !own {
            return Err(AppError::forbidden(
                "Only the account's owner can change its password.",
            ));
        }
        // Check everything first, so a refused request changes nothing.
        let record = users::find_by_id(&state.db, id)
            .await?
            .ok_or_else(AppError::unauthenticated)?;
        check_profile(username, email)?;
        check_password_change(
            current_password,
            new_password,
            None,
            state.config.password_min_length,
            &[&record.email, &record.username],
        )?;
        if username.is_some() || email.is_some() {
            // The password change below checks it too, but only after the profile is saved.
            users::require_current_password(&state, &record, current_password).await?;
        }
    }
    let mut updated = if own {
        users::update_profile(
            &state,
            id,
            ProfileChanges {
                username,
                email,
                current_password,
            },
        )
        .await?
    } else {
        users::admin_update_profile(&state, id, username, email).await?
    };
    if let Some(new_password) = body.password.as_deref() {
        users::change_password(
            &state,
            &user,
            PasswordChange {
                current_password,
                new_password,
                confirm_new_password: None,
            },
        )
        .await?;
        updated = users::find_by_id(&state.db, id)
            .await?
            .ok_or_else(AppError::unauthenticated)?;
    }
    Ok(Json(updated.view()))
}
