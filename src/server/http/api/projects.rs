use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::domain::{AppError, ProjectView, TaskView};
use crate::server::http::api::responses::{NeedsAuth, TakesId, TakesJson};
use crate::server::http::api::ApiJson;
use crate::server::http::error::ErrorBody;
use crate::server::projects::{self, ProjectInput, TaskChanges};
use crate::server::security::principal::CurrentUser;
use crate::server::startup::state::AppState;

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewProject {
    /// 1–100 characters, not blank.
    #[schema(example = "Garden", min_length = 1, max_length = 100, pattern = r"\S")]
    name: String,
    #[schema(example = "Vegetables for the summer", max_length = 2000)]
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProjectPatch {
    /// 1–100 characters, not blank.
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    name: Option<String>,
    #[schema(max_length = 2000)]
    description: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// 1–200 characters, not blank.
    #[schema(
        example = "Plant tomatoes",
        min_length = 1,
        max_length = 200,
        pattern = r"\S"
    )]
    title: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskPatch {
    /// 1–200 characters, not blank.
    #[schema(min_length = 1, max_length = 200, pattern = r"\S")]
    title: Option<String>,
    done: Option<bool>,
}

#[utoipa::path(
    get, path = "/projects", tag = "projects",
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth,
        (status = 200, description = "The person's projects, newest first", body = [ProjectView]),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<ProjectView>>, AppError> {
    Ok(Json(projects::list(&state, user.user_id).await?))
}

#[utoipa::path(
    post, path = "/projects", tag = "projects",
    request_body = NewProject,
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesJson,
        (status = 201, description = "Created", body = ProjectView),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    user: CurrentUser,
    ApiJson(body): ApiJson<NewProject>,
) -> Result<(StatusCode, Json<ProjectView>), AppError> {
    let project = projects::create(
        &state,
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
        NeedsAuth, TakesId,
        (status = 200, description = "The project", body = ProjectView),
        (status = 404, description = "No such project of yours", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<ProjectView>, AppError> {
    Ok(Json(projects::get(&state, user.user_id, id).await?))
}

#[utoipa::path(
    patch, path = "/projects/{id}", tag = "projects",
    params(("id" = i64, Path, description = "Project id")),
    request_body = ProjectPatch,
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesJson,
        (status = 200, description = "The updated project", body = ProjectView),
        (status = 404, description = "No such project of yours", body = ErrorBody),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<ProjectPatch>,
) -> Result<Json<ProjectView>, AppError> {
    let project = projects::update(
        &state,
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
        NeedsAuth, TakesId,
        (status = 204, description = "Deleted with its tasks"),
        (status = 404, description = "No such project of yours", body = ErrorBody),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    projects::delete(&state, user.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(
    get, path = "/projects/{id}/tasks", tag = "projects",
    params(("id" = i64, Path, description = "Project id")),
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesId,
        (status = 200, description = "The project's tasks in order", body = [TaskView]),
        (status = 404, description = "No such project of yours", body = ErrorBody),
    )
)]
pub async fn list_tasks(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<Json<Vec<TaskView>>, AppError> {
    Ok(Json(projects::tasks(&state, user.user_id, id).await?))
}

#[utoipa::path(
    post, path = "/projects/{id}/tasks", tag = "projects",
    params(("id" = i64, Path, description = "Project id")),
    request_body = NewTask,
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesJson,
        (status = 201, description = "Added at the end", body = TaskView),
        (status = 404, description = "No such project of yours", body = ErrorBody),
    )
)]
pub async fn add_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<NewTask>,
) -> Result<(StatusCode, Json<TaskView>), AppError> {
    let task = projects::add_task(&state, user.user_id, id, &body.title).await?;
    Ok((StatusCode::CREATED, Json(task)))
}

#[utoipa::path(
    patch, path = "/tasks/{id}", tag = "projects",
    params(("id" = i64, Path, description = "Task id")),
    request_body = TaskPatch,
    security(("bearer" = []), ("password" = [])),
    responses(
        NeedsAuth, TakesJson,
        (status = 200, description = "The updated task", body = TaskView),
        (status = 404, description = "No such task of yours", body = ErrorBody),
    )
)]
pub async fn update_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
    ApiJson(body): ApiJson<TaskPatch>,
) -> Result<Json<TaskView>, AppError> {
    let task = projects::update_task(
        &state,
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
        NeedsAuth, TakesId,
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such task of yours", body = ErrorBody),
    )
)]
pub async fn delete_task(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<i64>,
) -> Result<StatusCode, AppError> {
    projects::delete_task(&state, user.user_id, id).await?;
    Ok(StatusCode::NO_CONTENT)
}
