use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::Role;
use crate::domain::{ActivityView, AdminUserView, AppError, SessionView, UserView};
use crate::server::accounts;
use crate::server::accounts::admin::{self, Action, UserFilter};
use crate::server::http::api::responses::{NeedsAuth, TakesId, TakesJson};
use crate::server::http::api::ApiJson;
use crate::server::http::error::ErrorBody;
use crate::server::security::principal::{Client, CurrentUser};
use crate::server::startup::state::AppState;

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// The start of an email address or username (case-insensitive).
    q: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    active: Option<bool>,
    /// `user` or `admin`.
    role: Option<Role>,
    verified: Option<bool>,
}

/// A page of accounts, newest first.
#[derive(Serialize, ToSchema)]
pub struct UserList {
    users: Vec<AdminUserView>,
    /// Pass as `cursor` for the next page; absent on the last.
    next_cursor: Option<String>,
}

#[utoipa::path(
    get, path = "/admin/users", tag = "admin",
    params(ListQuery),
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth,
        (status = 200, description = "Accounts, newest first, 50 a page", body = UserList),
        (status = 400, description = "Malformed query or cursor", body = ErrorBody),
        (status = 403, description = "Not an administrator", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: CurrentUser,
    Query(query): Query<ListQuery>,
) -> Result<Json<UserList>, AppError> {
    let filter = UserFilter {
        query: query.q,
        active: query.active,
        role: query.role,
        verified: query.verified,
    };
    let page = admin::list_users(&state, &caller, &filter, query.cursor.as_deref()).await?;
    Ok(Json(UserList {
        users: page.users,
        next_cursor: page.next_cursor,
    }))
}

/// One account as an administrator sees it.
#[derive(Serialize, ToSchema)]
pub struct UserDetail {
    user: UserView,
    sessions: Vec<SessionView>,
    /// The account's audit trail, newest first (the latest 100).
    events: Vec<ActivityView>,
}

#[utoipa::path(
    get, path = "/admin/users/{id}", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesId,
        (status = 200, description = "The account, its sessions and its audit trail", body = UserDetail),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<UserDetail>, AppError> {
    let detail = admin::user_detail(&state, &caller, id).await?;
    Ok(Json(UserDetail {
        user: detail.user.view(),
        sessions: detail.sessions,
        events: detail.events,
    }))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AdminPatch {
    /// `false` deactivates (and ends every session at once); `true` reactivates.
    is_active: Option<bool>,
    role: Option<Role>,
}

#[utoipa::path(
    patch, path = "/admin/users/{id}", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    request_body = AdminPatch,
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesJson,
        (status = 200, description = "The account after the change", body = UserView),
        (status = 403, description = "Not an administrator, your own deactivation, or the last active administrator", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: CurrentUser,
    client: Client,
    Path(id): Path<i64>,
    ApiJson(patch): ApiJson<AdminPatch>,
) -> Result<Json<UserView>, AppError> {
    admin::require_admin(&caller)?;
    if let Some(active) = patch.is_active {
        let action = if active {
            Action::Reactivate
        } else {
            Action::Deactivate
        };
        admin::act(&state, &caller, &client, id, action).await?;
    }
    if let Some(role) = patch.role {
        let action = match role {
            Role::Admin => Action::MakeAdmin,
            Role::User => Action::MakeUser,
        };
        admin::act(&state, &caller, &client, id, action).await?;
    }
    let user = accounts::find_by_id(&state, id)
        .await?
        .ok_or_else(AppError::not_found)?;
    Ok(Json(user.view()))
}

#[utoipa::path(
    delete, path = "/admin/users/{id}/sessions", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesId,
        (status = 204, description = "Every session of the account has ended"),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn end_sessions(
    State(state): State<AppState>,
    caller: CurrentUser,
    client: Client,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    admin::act(&state, &caller, &client, id, Action::LogOutEverywhere).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    delete, path = "/admin/users/{id}/two-step", tag = "admin",
    params(("id" = i64, Path, description = "User id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesId,
        (status = 204, description = "Two-step verification reset: the authenticator app, the recovery codes and the passkeys are removed, the sessions ended, and the person was mailed"),
        (status = 403, description = "Not an administrator", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub async fn reset_two_step(
    State(state): State<AppState>,
    caller: CurrentUser,
    client: Client,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    admin::act(&state, &caller, &client, id, Action::ResetTwoStep).await?;
    Ok(StatusCode::NO_CONTENT)
}
