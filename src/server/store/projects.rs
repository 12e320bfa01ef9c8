//! The `projects` and `tasks` tables. Every statement is scoped to the owner, so another
//! person's project or task is indistinguishable from a missing one.

use super::Conn;
use super::{execute, on};

#[derive(sqlx::FromRow)]
pub struct ProjectRow {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub task_count: i64,
    pub done_count: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(sqlx::FromRow)]
pub struct TaskRow {
    pub id: i64,
    pub project_id: i64,
    pub title: String,
    pub done: bool,
    pub position: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

macro_rules! project_select {
    ($where:literal) => {
        concat!(
            "SELECT p.id, p.name, p.description, p.created_at, p.updated_at,
                (SELECT COUNT(*) FROM tasks t WHERE t.project_id = p.id) AS task_count,
                (SELECT COUNT(*) FROM tasks t WHERE t.project_id = p.id AND t.done) AS done_count
             FROM projects p ",
            $where
        )
    };
}

macro_rules! task_select {
    ($rest:literal) => {
        concat!(
            "SELECT t.id, t.project_id, t.title, t.done, t.position, t.created_at, t.updated_at ",
            $rest
        )
    };
}

/// Up to `limit` of the owner's projects from `offset`, newest first.
pub async fn page(
    conn: &mut Conn,
    owner_id: i64,
    limit: i64,
    offset: i64,
) -> Result<Vec<ProjectRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as(project_select!(
        "WHERE p.owner_id = $1 ORDER BY p.id DESC LIMIT $2 OFFSET $3"
    ))
    .bind(owner_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(c)
    .await)
}

pub async fn count(conn: &mut Conn, owner_id: i64) -> Result<i64, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM projects WHERE owner_id = $1"
    )
    .bind(owner_id)
    .fetch_one(c)
    .await)
}

pub async fn get(
    conn: &mut Conn,
    owner_id: i64,
    id: i64,
) -> Result<Option<ProjectRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as(project_select!(
        "WHERE p.id = $1 AND p.owner_id = $2"
    ))
    .bind(id)
    .bind(owner_id)
    .fetch_optional(c)
    .await)
}

pub async fn insert(
    conn: &mut Conn,
    owner_id: i64,
    name: &str,
    description: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar(
        "INSERT INTO projects (owner_id, name, description, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5) RETURNING id",
    )
    .bind(owner_id)
    .bind(name)
    .bind(description)
    .bind(now)
    .bind(now)
    .fetch_one(c)
    .await)
}

/// Changes what is given; `false` when the owner has no such project.
pub async fn update(
    conn: &mut Conn,
    owner_id: i64,
    id: i64,
    name: Option<&str>,
    description: Option<&str>,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let result = on!(conn, |c| {
        sqlx::query(
        "UPDATE projects SET name = COALESCE($1, name), description = COALESCE($2, description),
                updated_at = $3
         WHERE id = $4 AND owner_id = $5",
    )
    .bind(name)
    .bind(description)
    .bind(now)
    .bind(id)
    .bind(owner_id)
    .execute(c)
        .await
        .map(|done| done.rows_affected())
    })?;
    Ok(result == 1)
}

/// Deletes the project and, by cascade, its tasks; `false` when the owner has no such project.
pub async fn delete(conn: &mut Conn, owner_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let result = execute!(
        conn,
        "DELETE FROM projects WHERE id = $1 AND owner_id = $2",
        id,
        owner_id
    )?;
    Ok(result == 1)
}

pub async fn touch(conn: &mut Conn, id: i64, now: i64) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "UPDATE projects SET updated_at = $1 WHERE id = $2",
        now,
        id
    )
    .map(drop)
}

/// Up to `limit` of a project's tasks from `offset`, in list order; `done` keeps only done
/// (or only open) tasks.
pub async fn task_page(
    conn: &mut Conn,
    project_id: i64,
    done: Option<bool>,
    limit: i64,
    offset: i64,
) -> Result<Vec<TaskRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as(task_select!(
        "FROM tasks t WHERE t.project_id = $1 AND ($2 IS NULL OR t.done = $3)
         ORDER BY t.position, t.id LIMIT $4 OFFSET $5"
    ))
    .bind(project_id)
    .bind(done)
    .bind(done)
    .bind(limit)
    .bind(offset)
    .fetch_all(c)
    .await)
}

/// Task `id` if its project is the owner's.
pub async fn task(conn: &mut Conn, owner_id: i64, id: i64) -> Result<Option<TaskRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as(task_select!(
        "FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.id = $1 AND p.owner_id = $2"
    ))
    .bind(id)
    .bind(owner_id)
    .fetch_optional(c)
    .await)
}

/// A task at the end of the project's list.
pub async fn insert_task(
    conn: &mut Conn,
    project_id: i64,
    title: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    on!(conn, |c| {
        sqlx::query_scalar(
        "INSERT INTO tasks (project_id, title, position, created_at, updated_at)
         VALUES ($1, $2, (SELECT COALESCE(MAX(position), 0) + 1 FROM tasks WHERE project_id = $3), $4, $5)
         RETURNING id",
    )
    .bind(project_id)
    .bind(title)
    .bind(project_id)
    .bind(now)
    .bind(now)
    .fetch_one(c)
        .await
    })
}

pub async fn update_task(
    conn: &mut Conn,
    id: i64,
    title: Option<&str>,
    done: Option<bool>,
    now: i64,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "UPDATE tasks SET title = COALESCE($1, title), done = COALESCE($2, done), updated_at = $3
         WHERE id = $4",
        title,
        done,
        now,
        id
    )
    .map(drop)
}

pub async fn delete_task(conn: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    execute!(conn, "DELETE FROM tasks WHERE id = $1", id).map(drop)
}
