//! Projects and their tasks. Every query is scoped to the owner, so another person's project
//! or task is indistinguishable from a missing one (404).

use crate::domain::{check_project, check_task_title, AppError, ProjectView, TaskView};
use crate::server::startup::clock::rfc3339;
use crate::server::startup::state::AppState;
use crate::server::store::projects::{self as store, ProjectRow, TaskRow};

fn project_view(row: ProjectRow) -> ProjectView {
    ProjectView {
        id: row.id,
        name: row.name,
        description: row.description,
        task_count: row.task_count,
        done_count: row.done_count,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

fn task_view(row: TaskRow) -> TaskView {
    TaskView {
        id: row.id,
        project_id: row.project_id,
        title: row.title,
        done: row.done,
        position: row.position,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
    }
}

pub struct ProjectInput<'a> {
    pub name: Option<&'a str>,
    pub description: Option<&'a str>,
}

/// All of the owner's projects, newest first.
pub async fn list(state: &AppState, owner_id: i64) -> Result<Vec<ProjectView>, AppError> {
    let mut conn = state.db.acquire().await?;
    let rows = store::page(&mut conn, owner_id, i64::MAX, 0).await?;
    Ok(rows.into_iter().map(project_view).collect())
}

/// One page of the owner's projects, newest first, and how many there are in all.
pub async fn list_page(
    state: &AppState,
    owner_id: i64,
    limit: i64,
    offset: i64,
) -> Result<(Vec<ProjectView>, i64), AppError> {
    let mut conn = state.db.acquire().await?;
    let total = store::count(&mut conn, owner_id).await?;
    let rows = store::page(&mut conn, owner_id, limit, offset).await?;
    Ok((rows.into_iter().map(project_view).collect(), total))
}

pub async fn get(state: &AppState, owner_id: i64, id: i64) -> Result<ProjectView, AppError> {
    let mut conn = state.db.acquire().await?;
    store::get(&mut conn, owner_id, id)
        .await?
        .map(project_view)
        .ok_or_else(AppError::not_found)
}

pub async fn create(
    state: &AppState,
    owner_id: i64,
    input: ProjectInput<'_>,
) -> Result<ProjectView, AppError> {
    let parsed = check_project(Some(input.name.unwrap_or_default()), input.description)?;
    let mut conn = state.db.acquire().await?;
    let id = store::insert(
        &mut conn,
        owner_id,
        &parsed.name.unwrap_or_default(),
        &parsed.description.unwrap_or_default(),
        state.now(),
    )
    .await?;
    drop(conn);
    get(state, owner_id, id).await
}

pub async fn update(
    state: &AppState,
    owner_id: i64,
    id: i64,
    input: ProjectInput<'_>,
) -> Result<ProjectView, AppError> {
    let parsed = check_project(input.name, input.description)?;
    let mut conn = state.db.acquire().await?;
    let (name, description) = (parsed.name.as_deref(), parsed.description.as_deref());
    if !store::update(&mut conn, owner_id, id, name, description, state.now()).await? {
        return Err(AppError::not_found());
    }
    drop(conn);
    get(state, owner_id, id).await
}

/// Deletes the project and, by cascade, its tasks.
pub async fn delete(state: &AppState, owner_id: i64, id: i64) -> Result<(), AppError> {
    let mut conn = state.db.acquire().await?;
    if !store::delete(&mut conn, owner_id, id).await? {
        return Err(AppError::not_found());
    }
    Ok(())
}

/// All of a project's tasks, in list order.
pub async fn tasks(
    state: &AppState,
    owner_id: i64,
    project_id: i64,
) -> Result<Vec<TaskView>, AppError> {
    task_page(state, owner_id, project_id, None, i64::MAX, 0).await
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
    let mut conn = state.db.acquire().await?;
    let rows = store::task_page(&mut conn, project_id, done, limit, offset).await?;
    Ok(rows.into_iter().map(task_view).collect())
}

async fn get_task(state: &AppState, owner_id: i64, id: i64) -> Result<TaskView, AppError> {
    let mut conn = state.db.acquire().await?;
    store::task(&mut conn, owner_id, id)
        .await?
        .map(task_view)
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
    let mut conn = state.db.acquire().await?;
    let id = store::insert_task(&mut conn, project_id, &title, now).await?;
    store::touch(&mut conn, project_id, now).await?;
    drop(conn);
    get_task(state, owner_id, id).await
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
    let now = state.now();
    let mut conn = state.db.acquire().await?;
    store::update_task(&mut conn, id, title.as_deref(), changes.done, now).await?;
    store::touch(&mut conn, task.project_id, now).await?;
    drop(conn);
    get_task(state, owner_id, id).await
}

pub async fn delete_task(state: &AppState, owner_id: i64, id: i64) -> Result<(), AppError> {
    let task = get_task(state, owner_id, id).await?;
    let mut conn = state.db.acquire().await?;
    store::delete_task(&mut conn, id).await?;
    store::touch(&mut conn, task.project_id, state.now()).await?;
    Ok(())
}
