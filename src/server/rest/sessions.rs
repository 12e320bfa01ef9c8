use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use super::ErrorBody;
use crate::domain::{AppError, SessionView};
use crate::server::auth::CurrentUser;
use crate::server::state::AppState;

#[utoipa::path(
    get, path = "/sessions", tag = "sessions",
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 200, description = "The person's active sessions, most recently used first", body = [SessionView]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<SessionView>>, AppError> {
    Ok(Json(
        state.sessions.list(user.user_id, &user.session_id).await?,
    ))
}

#[utoipa::path(
    delete, path = "/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 204, description = "Session ended; its tokens stop working at once"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such session of yours", body = ErrorBody),
    )
)]
pub async fn end(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    if state.sessions.end_owned(user.user_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found())
    }
}
