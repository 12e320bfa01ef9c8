//! The `audit_events` table: who did what to which account, from where.

use super::Conn;
use super::{execute, on};

/// An event about to be written.
pub struct NewEvent<'a> {
    pub at: i64,
    pub kind: &'a str,
    pub actor: Option<i64>,
    pub subject: Option<i64>,
    pub ip_address: &'a str,
    pub user_agent: &'a str,
    pub session_id: Option<&'a str>,
    /// A JSON object.
    pub details: &'a str,
}

pub async fn insert(conn: &mut Conn, event: &NewEvent<'_>) -> Result<(), sqlx::Error> {
    execute!(conn, "INSERT INTO audit_events (at, actor_id, subject_id, event, ip_address, user_agent, session_id, details)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)", event.at, event.actor, event.subject, event.kind, event.ip_address, event.user_agent, event.session_id, event.details)
    .map(drop)
}

/// A stored event, with the acting account's email and username if it still exists.
#[derive(sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub at: i64,
    pub actor_id: Option<i64>,
    pub subject_id: Option<i64>,
    pub event: String,
    pub ip_address: String,
    pub user_agent: String,
    pub details: String,
    pub actor_email: Option<String>,
    pub actor_username: Option<String>,
}

/// The events about `subject`, newest first, `limit` at a time, older than `before` (an id).
pub async fn for_subject(
    conn: &mut Conn,
    subject: i64,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<EventRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as(
        "SELECT e.id, e.at, e.actor_id, e.subject_id, e.event, e.ip_address, e.user_agent,
                e.details, a.email AS actor_email, a.username AS actor_username
         FROM audit_events e LEFT JOIN users a ON a.id = e.actor_id
         WHERE e.subject_id = $1 AND e.id < $2 ORDER BY e.id DESC LIMIT $3",
    )
    .bind(subject)
    .bind(before.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(c)
    .await)
}

/// Deletes events from before `before`.
pub async fn delete_before(conn: &mut Conn, before: i64) -> Result<u64, sqlx::Error> {
    let result = execute!(conn, "DELETE FROM audit_events WHERE at < $1", before)?;
    Ok(result)
}
