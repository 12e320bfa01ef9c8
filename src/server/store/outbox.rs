//! The `outbox` table: mail queued in the same transaction as the change that caused it.

use super::Conn;

/// Delivery attempts before a message is given up (logged, kept in the table).
pub const MAX_ATTEMPTS: i64 = 5;

pub async fn enqueue(
    conn: &mut Conn,
    to: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO outbox (recipient, subject, body, created_at, next_attempt_at)
         VALUES (?, ?, ?, ?, ?)",
    )
    .bind(to)
    .bind(subject)
    .bind(body)
    .bind(now)
    .bind(now)
    .execute(conn)
    .await
    .map(drop)
}

/// A message waiting for delivery.
#[derive(sqlx::FromRow)]
pub struct Queued {
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    pub body: String,
    pub attempts: i64,
}

/// Up to `limit` messages due now, oldest first.
pub async fn due(conn: &mut Conn, now: i64, limit: i64) -> Result<Vec<Queued>, sqlx::Error> {
    sqlx::query_as(
        "SELECT id, recipient, subject, body, attempts FROM outbox
         WHERE sent_at IS NULL AND attempts < ? AND next_attempt_at <= ?
         ORDER BY next_attempt_at, id LIMIT ?",
    )
    .bind(MAX_ATTEMPTS)
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await
}

/// Delivered: the body is not kept.
pub async fn mark_sent(conn: &mut Conn, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET sent_at = ?, body = '', last_error = NULL WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
        .map(drop)
}

pub async fn mark_failed(
    conn: &mut Conn,
    id: i64,
    attempts: i64,
    next_attempt_at: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ? WHERE id = ?")
        .bind(attempts)
        .bind(next_attempt_at)
        .bind(error)
        .bind(id)
        .execute(conn)
        .await
        .map(drop)
}

/// Messages still waiting for delivery.
pub async fn backlog(conn: &mut Conn) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND attempts < ?")
        .bind(MAX_ATTEMPTS)
        .fetch_one(conn)
        .await
}
