//! The `projects` and `tasks` tables. Every statement is scoped to the owner, so another
//! person's project or task is indistinguishable from a missing one.

use super::Conn;

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
                (SELECT COUNT(*) FROM tasks t WHERE t.project_id = p.id AND t.done = 1) AS done_count
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
    sqlx::query_as(project_select!(
        "WHERE p.owner_id = ? ORDER BY p.id DESC LIMIT ? OFFSET ?"
    ))
    .bind(owner_id)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await
}

pub async fn count(conn: &mut Conn, owner_id: i64) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM projects WHERE owner_id = ?")
        .bind(owner_id)
        .fetch_one(conn)
        .await
}

pub async fn get(
    conn: &mut Conn,
    owner_id: i64,
    id: i64,
) -> Result<Option<ProjectRow>, sqlx::Error> {
    sqlx::query_as(project_select!("WHERE p.id = ? AND p.owner_id = ?"))
        .bind(id)
        .bind(owner_id)
        .fetch_optional(conn)
        .await
}

pub async fn insert(
    conn: &mut Conn,
    owner_id: i64,
    name: &str,
    description: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO projects (owner_id, name, description, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?) RETURNING id",
    )
    .bind(owner_id)
    .bind(name)
    .bind(description)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
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
    let result = sqlx::query(
        "UPDATE projects SET name = COALESCE(?, name), description = COALESCE(?, description),
                updated_at = ?
         WHERE id = ? AND owner_id = ?",
    )
    .bind(name)
    .bind(description)
    .bind(now)
    .bind(id)
    .bind(owner_id)
    .execute(conn)
    .await?;
    Ok(result.rows_affected() == 1)
}

/// Deletes the project and, by cascade, its tasks; `false` when the owner has no such project.
pub async fn delete(conn: &mut Conn, owner_id: i64, id: i64) -> Result<bool, sqlx::Error> {
    let result = sqlx::query("DELETE FROM projects WHERE id = ? AND owner_id = ?")
        .bind(id)
        .bind(owner_id)
        .execute(conn)
        .await?;
    Ok(result.rows_affected() == 1)
}

pub async fn touch(conn: &mut Conn, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projects SET updated_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
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
    sqlx::query_as(task_select!(
        "FROM tasks t WHERE t.project_id = ? AND (? IS NULL OR t.done = ?)
         ORDER BY t.position, t.id LIMIT ? OFFSET ?"
    ))
    .bind(project_id)
    .bind(done)
    .bind(done)
    .bind(limit)
    .bind(offset)
    .fetch_all(conn)
    .await
}

/// Task `id` if its project is the owner's.
pub async fn task(conn: &mut Conn, owner_id: i64, id: i64) -> Result<Option<TaskRow>, sqlx::Error> {
    sqlx::query_as(task_select!(
        "FROM tasks t JOIN projects p ON p.id = t.project_id WHERE t.id = ? AND p.owner_id = ?"
    ))
    .bind(id)
    .bind(owner_id)
    .fetch_optional(conn)
    .await
}

/// A task at the end of the project's list.
pub async fn insert_task(
    conn: &mut Conn,
    project_id: i64,
    title: &str,
    now: i64,
) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar(
        "INSERT INTO tasks (project_id, title, position, created_at, updated_at)
         VALUES (?, ?, (SELECT COALESCE(MAX(position), 0) + 1 FROM tasks WHERE project_id = ?), ?, ?)
         RETURNING id",
    )
    .bind(project_id)
    .bind(title)
    .bind(project_id)
    .bind(now)
    .bind(now)
    .fetch_one(conn)
    .await
}

pub async fn update_task(
    conn: &mut Conn,
    id: i64,
    title: Option<&str>,
    done: Option<bool>,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE tasks SET title = COALESCE(?, title), done = COALESCE(?, done), updated_at = ?
         WHERE id = ?",
    )
    .bind(title)
    .bind(done)
    .bind(now)
    .bind(id)
    .execute(conn)
    .await
    .map(drop)
}

pub async fn delete_task(conn: &mut Conn, id: i64) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM tasks WHERE id = ?")
        .bind(id)
        .execute(conn)
        .await
        .map(drop)
}
