use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;

use crate::domain::{AppError, SessionView};
use crate::server::http::api::responses::NeedsAuth;
use crate::server::http::error::ErrorBody;
use crate::server::security::principal::CurrentUser;
use crate::server::sessions;
use crate::server::startup::state::AppState;

#[utoipa::path(
    get, path = "/sessions", tag = "sessions",
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth,
        (status = 200, description = "The person's active sessions, most recently used first", body = [SessionView]),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<SessionView>>, AppError> {
    Ok(Json(sessions::list(&state, &user).await?))
}

#[utoipa::path(
    delete, path = "/sessions/{id}", tag = "sessions",
    params(("id" = String, Path, description = "Session id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth,
        (status = 204, description = "Session ended; its tokens stop working at once"),
        (status = 404, description = "No such session of yours", body = ErrorBody),
    )
)]
pub async fn end(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, AppError> {
    if sessions::end_owned(&state, user.user_id, &id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(AppError::not_found())
    }
}
