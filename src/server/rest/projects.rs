use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{ApiJson, ErrorBody};
use crate::domain::{AppError, ProjectView, TaskView};
use crate::server::auth::CurrentUser;
use crate::server::projects::{self, ProjectInput, TaskChanges};
use crate::server::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    #[schema(example = "Garden")]
    name: String,
    #[schema(example = "Vegetables for the summer")]
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    name: Option<String>,
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    #[schema(example = "Plant tomatoes")]
    title: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    title: Option<String>,
    done: Option<bool>,
}

#[utoipa::path(
    get, path = "/projects", tag = "projects",
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 200, description = "The person's projects, newest first", body = [ProjectView]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<ProjectView>>, AppError> {
    Ok(Json(projects::list(&state.db, user.user_id).await?))
}

#[utoipa::path(
    post, path = "/projects", tag = "projects",
    request_body = NewProject,
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 201, description = "Created", body = ProjectView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<NewProject>,
) -> Result<(StatusCode, Json<ProjectView>), AppError> {
    let project = projects::create(
        &state.db,
        user.user_id,
        ProjectInput {
            name: Some(&body.name),
            description: body.description.as_deref(),
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(project)))
}

#[utoipa::path(
    get, path = "/projects/{id}", tag = "projects",
    params(("id" = i64, Path, description = "Project id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        (status = 200, description = "The project", body = ProjectView),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such project of yours", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<ProjectView>, AppError> {
    Ok(Json(projects::get(&state.db, user.user_id, id).await?))
}

#[utoipa::path(
    patch, path = "/projects/{id}", tag = "projects",
    params(("id" = i64, Path, description = "Project id")),
    request_body = ProjectPatch,
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 200, description = "The updated project", body = ProjectView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such project of yours", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProjectPatch>,
) -> Result<Json<ProjectView>, AppError> {
    let project = projects::update(
        &state.db,
        user.user_id,
        id,
        ProjectInput {
            name: body.name.as_deref(),
            description: body.description.as_deref(),
        },
    )
    .await?;
    Ok(Json(project))
}

#[utoipa::path(
    delete, path = "/projects/{id}", tag = "projects",
    params(("id" = i64, Path, description = "Project id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        (status = 204, description = "Deleted with its tasks"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such project of yours", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    projects::delete(&state.db, user.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/projects/{id}/tasks", tag = "projects",
    params(("id" = i64, Path, description = "Project id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        (status = 200, description = "The project's tasks in order", body = [TaskView]),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such project of yours", body = ErrorBody),
    )
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Vec<TaskView>>, AppError> {
    Ok(Json(projects::tasks(&state.db, user.user_id, id).await?))
}

#[utoipa::path(
    post, path = "/projects/{id}/tasks", tag = "projects",
    params(("id" = i64, Path, description = "Project id")),
    request_body = NewTask,
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 201, description = "Added at the end", body = TaskView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such project of yours", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
pub async fn add_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<NewTask>,
) -> Result<(StatusCode, Json<TaskView>), AppError> {
    let task = projects::add_task(&state.db, user.user_id, id, &body.title).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

#[utoipa::path(
    patch, path = "/tasks/{id}", tag = "projects",
    params(("id" = i64, Path, description = "Task id")),
    request_body = TaskPatch,
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 200, description = "The updated task", body = TaskView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such task of yours", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not JSON", body = ErrorBody),
        (status = 422, description = "Invalid field", body = ErrorBody),
    )
)]
pub async fn update_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<TaskPatch>,
) -> Result<Json<TaskView>, AppError> {
    let task = projects::update_task(
        &state.db,
        user.user_id,
        id,
        TaskChanges {
            title: body.title.as_deref(),
            done: body.done,
        },
    )
    .await?;
    Ok(Json(task))
}

#[utoipa::path(
    delete, path = "/tasks/{id}", tag = "projects",
    params(("id" = i64, Path, description = "Task id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        (status = 204, description = "Deleted"),
        (status = 401, description = "Not authenticated", body = ErrorBody),
        (status = 404, description = "No such task of yours", body = ErrorBody),
    )
)]
pub async fn delete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    projects::delete_task(&state.db, user.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
