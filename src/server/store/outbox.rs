//! The `outbox` table: mail queued in the same transaction as the change that caused it.

use super::Conn;
use super::{execute, on};

/// Delivery attempts before a message is given up (logged, kept in the table).
pub const MAX_ATTEMPTS: i64 = 5;

pub async fn enqueue(
    conn: &mut Conn,
    to: &str,
    subject: &str,
    body: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO outbox (recipient, subject, body, created_at, next_attempt_at)
         VALUES ($1, $2, $3, $4, $5)",
        to,
        subject,
        body,
        now,
        now
    )
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

/// Claims up to `limit` messages due now, oldest first: each is due again only after
/// `lease` seconds, so workers sharing the outbox (several nodes, or a test beside the worker)
/// never take the same message, and a worker that dies mid-delivery leaves it to another
/// once the lease runs out. On PostgreSQL, claims running at the same moment skip each
/// other's rows (`FOR UPDATE SKIP LOCKED`); SQLite has one writer at a time.
pub async fn claim_due(
    conn: &mut Conn,
    now: i64,
    lease: i64,
    limit: i64,
) -> Result<Vec<Queued>, sqlx::Error> {
    macro_rules! claim {
        ($lock:literal) => {
            concat!(
                "UPDATE outbox SET next_attempt_at = $2 + $4
                 WHERE id IN (SELECT id FROM outbox
                              WHERE sent_at IS NULL AND attempts < $1 AND next_attempt_at <= $2
                              ORDER BY next_attempt_at, id LIMIT $3 ",
                $lock,
                ")
                 RETURNING id, recipient, subject, body, attempts"
            )
        };
    }
    let mut claimed: Vec<Queued> = on!(
        conn,
        [claim!(""), claim!("FOR UPDATE SKIP LOCKED")],
        |c, sql| sqlx::query_as(sql)
            .bind(MAX_ATTEMPTS)
            .bind(now)
            .bind(limit)
            .bind(lease)
            .fetch_all(c)
            .await
    )?;
    claimed.sort_by_key(|mail| mail.id);
    Ok(claimed)
}

/// Delivered: the body is not kept.
pub async fn mark_sent(conn: &mut Conn, id: i64, now: i64) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "UPDATE outbox SET sent_at = $1, body = '', last_error = NULL WHERE id = $2",
        now,
        id
    )
    .map(drop)
}

pub async fn mark_failed(
    conn: &mut Conn,
    id: i64,
    attempts: i64,
    next_attempt_at: i64,
    error: &str,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "UPDATE outbox SET attempts = $1, next_attempt_at = $2, last_error = $3 WHERE id = $4",
        attempts,
        next_attempt_at,
        error,
        id
    )
    .map(drop)
}

/// Messages still waiting for delivery.
pub async fn backlog(conn: &mut Conn) -> Result<i64, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar(
        "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL AND attempts < $1"
    )
    .bind(MAX_ATTEMPTS)
    .fetch_one(c)
    .await)
}
