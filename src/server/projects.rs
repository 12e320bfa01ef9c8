//! Projects and their tasks. Every query is scoped to the owner, so another person's project
//! or task is indistinguishable from a missing one (404).

use crate::domain::{check_project, check_task_title, AppError, ProjectView, TaskView};
use crate::server::startup::state::AppState;
use crate::server::store;

#[derive(sqlx::FromRow)]
struct ProjectRow {
    id: i64,
    name: String,
    description: String,
    task_count: i64,
    done_count: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<ProjectRow> for ProjectView {
    fn from(row: ProjectRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            description: row.description,
            task_count: row.task_count,
            done_count: row.done_count,
            created_at: store::rfc3339(row.created_at),
            updated_at: store::rfc3339(row.updated_at),
        }
    }
}

#[derive(sqlx::FromRow)]
struct TaskRow {
    id: i64,
    project_id: i64,
    title: String,
    done: bool,
    position: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<TaskRow> for TaskView {
    fn from(row: TaskRow) -> Self {
        Self {
            id: row.id,
            project_id: row.project_id,
            title: row.title,
            done: row.done,
            position: row.position,
            created_at: store::rfc3339(row.created_at),
            updated_at: store::rfc3339(row.updated_at),
        }
    }
}

const PROJECT_SELECT: &str = "SELECT p.id, p.name, p.description, p.created_at, p.updated_at,
        (SELECT COUNT(*) FROM tasks t WHERE t.project_id = p.id) AS task_count,
        (SELECT COUNT(*) FROM tasks t WHERE t.project_id = p.id AND t.done = 1) AS done_count
     FROM projects p";

const TASK_COLUMNS: &str =
    "t.id, t.project_id, t.title, t.done, t.position, t.created_at, t.updated_at";

pub struct ProjectInput<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
}

pub async fn list(state: &AppState, owner_id: i64) -> Result<Vec<ProjectView>, AppError> {
    sqlx::query_as::<_, ProjectRow>(&format!(
        "{PROJECT_SELECT} WHERE p.owner_id = ? ORDER BY p.id DESC"
    ))
    .bind(owner_id)
    .fetch_all(&state.db)
    .await
    .map(|rows| rows.into_iter().map(ProjectView::from).collect())
    .map_err(AppError::from)
}

/// One page of the owner's projects, newest first, and how many there are in all.
pub async fn list_page(
    state: &AppState,
    owner_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProjectView>, i64), AppError> {
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE owner_id = ?")
        .bind(owner_id)
        .fetch_one(&state.db)
        .await?;
    let rows = sqlx::query_as::<_, ProjectRow>(&format!(
        "{PROJECT_SELECT} WHERE p.owner_id = ? ORDER BY p.id DESC LIMIT ? OFFSET ?"
    ))
    .bind(owner_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await?;
    Ok((rows.into_iter().map(ProjectView::from).collect(), total))
}

pub async fn get(state: &AppState, owner_id: i64, id: i64) -> Result<ProjectView, AppError> {
    sqlx::query_as::<_, ProjectRow>(&format!(
        "{PROJECT_SELECT} WHERE p.id = ? AND p.owner_id = ?"
    ))
    .bind(id)
    .bind(owner_id)
    .fetch_optional(&state.db)
    .await?
    .map(ProjectView::from)
    .ok_or_else(AppError::not_found)
}

pub async fn create(
    state: &AppState,
    owner_id: i64,
    input: ProjectInput<'_>,
) -> Result<ProjectView, AppError> {
    let parsed = check_project(Some(input.name.unwrap_or_default()), input.description)?;
    let now = state.now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO projects (owner_id, name, description, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(owner_id)
    .bind(parsed.name.unwrap_or_default())
    .bind(parsed.description.unwrap_or_default())
    .bind(now)
    .bind(now)
    .fetch_one(&state.db)
    .await?;
    get(state, owner_id, id).await
}

pub async fn update(
    state: &AppState,
    owner_id: i64,
    id: i64,
    input: ProjectInput<'_>,
) -> Result<ProjectView, AppError> {
    let parsed = check_project(input.name, input.description)?;
    let result = sqlx::query(
        "UPDATE projects SET name = COALESCE(?, name), description = COALESCE(?, description),
                updated_at = ?
         WHERE id = ? AND owner_id = ?",
    )
    .bind(parsed.name)
    .bind(parsed.description)
    .bind(state.now())
    .bind(id)
    .bind(owner_id)
    .execute(&state.db)
    .await?;
    if result.rows_affected() == 0 {
        return Err(AppError::not_found());
    }
    get(state, owner_id, id).await
}

/// Deletes the project and, by cascade, its tasks.
pub async fn delete(state: &AppState, owner_id: i64, id: i64) -> Result<(), AppError> {
    let result = sqlx::query("DELETE FROM projects WHERE id = ? AND owner_id = ?")
        .bind(id)
        .bind(owner_id)
        .execute(&state.db)
        .await?;
    if result.rows_affected() == 0 {
        return Err(AppError::not_found());
    }
    Ok(())
}

pub async fn tasks(
    state: &AppState,
    owner_id: i64,
    project_id: i64,
) -> Result<Vec<TaskView>, AppError> {
    get(state, owner_id, project_id).await?;
    sqlx::query_as::<_, TaskRow>(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.project_id = ? ORDER BY t.position, t.id"
    ))
    .bind(project_id)
    .fetch_all(&state.db)
    .await
    .map(|rows| rows.into_iter().map(TaskView::from).collect())
    .map_err(AppError::from)
}

/// One page of a project's tasks, in list order; `done` keeps only done (or only open) tasks.
pub async fn task_page(
    state: &AppState,
    owner_id: i64,
    project_id: i64,
    done: Option<bool>,
    limit: i64,
    offset: i64,
) -> Result<Vec<TaskView>, AppError> {
    get(state, owner_id, project_id).await?;
    sqlx::query_as::<_, TaskRow>(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks t WHERE t.project_id = ? AND (? IS NULL OR t.done = ?)
         ORDER BY t.position, t.id LIMIT ? OFFSET ?"
    ))
    .bind(project_id)
    .bind(done)
    .bind(done)
    .bind(limit)
    .bind(offset)
    .fetch_all(&state.db)
    .await
    .map(|rows| rows.into_iter().map(TaskView::from).collect())
    .map_err(AppError::from)
}

async fn get_task(state: &AppState, owner_id: i64, id: i64) -> Result<TaskView, AppError> {
    sqlx::query_as::<_, TaskRow>(&format!(
        "SELECT {TASK_COLUMNS} FROM tasks t JOIN projects p ON p.id = t.project_id
         WHERE t.id = ? AND p.owner_id = ?"
    ))
    .bind(id)
    .bind(owner_id)
    .fetch_optional(&state.db)
    .await?
    .map(TaskView::from)
    .ok_or_else(AppError::not_found)
}

pub async fn add_task(
    state: &AppState,
    owner_id: i64,
    project_id: i64,
    title: &str,
) -> Result<TaskView, AppError> {
    get(state, owner_id, project_id).await?;
    let title = check_task_title(title)?;
    let now = state.now();
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO tasks (project_id, title, position, created_at, updated_at)
         VALUES (?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM tasks WHERE project_id = ?), ?, ?)
         RETURNING id",
    )
    .bind(project_id)
    .bind(title)
    .bind(project_id)
    .bind(now)
    .bind(now)
    .fetch_one(&state.db)
    .await
    ?;
    touch_project(state, project_id).await?;
    get_task(state, owner_id, id).await
}

async fn touch_project(state: &AppState, project_id: i64) -> Result<(), AppError> {
    sqlx::query("UPDATE projects SET updated_at = ? WHERE id = ?")
        .bind(state.now())
        .bind(project_id)
        .execute(&state.db)
        .await?;
    Ok(())
}

pub struct TaskChanges<'a> {
    pub title: Option<&'a str>,
    pub done: Option<bool>,
}

pub async fn update_task(
    state: &AppState,
    owner_id: i64,
    id: i64,
    changes: TaskChanges<'_>,
) -> Result<TaskView, AppError> {
    let task = get_task(state, owner_id, id).await?;
    let title = changes.title.map(check_task_title).transpose()?;
    sqlx::query(
        "UPDATE tasks SET title = COALESCE(?, title), done = COALESCE(?, done), updated_at = ?
         WHERE id = ?",
    )
    .bind(title)
    .bind(changes.done)
    .bind(state.now())
    .bind(id)
    .execute(&state.db)
    .await?;
    touch_project(state, task.project_id).await?;
    get_task(state, owner_id, id).await
}

pub async fn delete_task(state: &AppState, owner_id: i64, id: i64) -> Result<(), AppError> {
    let task = get_task(state, owner_id, id).await?;
    sqlx::query("DELETE FROM tasks WHERE id = ?")
        .bind(id)
        .execute(&state.db)
        .await?;
    touch_project(state, task.project_id).await
}
