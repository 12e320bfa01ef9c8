//! The `submissions` table: page forms sent in the last few seconds, shared by every node so
//! that a double click answered by two nodes still creates one thing.

use super::{execute, on, Conn};

/// Claims `fingerprint` at `now` unless it was claimed after `since`: `Ok(None)` for the
/// first submission, `Ok(Some(created))` for a repeat (`created` is the id the first one made,
/// `None` while it is still being made).
pub async fn claim(
    conn: &mut Conn,
    fingerprint: i64,
    now: i64,
    since: i64,
) -> Result<Option<Option<i64>>, sqlx::Error> {
    let claimed: Option<i64> = on!(conn, |c| sqlx::query_scalar(
        "INSERT INTO submissions (fingerprint, at, created_id) VALUES ($1, $2, NULL)
         ON CONFLICT (fingerprint) DO UPDATE SET at = excluded.at, created_id = NULL
         WHERE submissions.at <= $3
         RETURNING fingerprint"
    )
    .bind(fingerprint)
    .bind(now)
    .bind(since)
    .fetch_optional(c)
    .await)?;
    if claimed.is_some() {
        return Ok(None);
    }
    Ok(Some(created(conn, fingerprint).await?))
}

/// The id the claim of `fingerprint` created, once it has.
pub async fn created(conn: &mut Conn, fingerprint: i64) -> Result<Option<i64>, sqlx::Error> {
    let id: Option<Option<i64>> = on!(conn, |c| sqlx::query_scalar(
        "SELECT created_id FROM submissions WHERE fingerprint = $1"
    )
    .bind(fingerprint)
    .fetch_optional(c)
    .await)?;
    Ok(id.flatten())
}

/// Records what the claim made at `at` created (unless a later claim took its place).
pub async fn settle(
    conn: &mut Conn,
    fingerprint: i64,
    at: i64,
    created: i64,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "UPDATE submissions SET created_id = $1 WHERE fingerprint = $2 AND at = $3",
        created,
        fingerprint,
        at
    )
    .map(drop)
}

/// Gives the claim made at `at` up (the first attempt failed, so a corrected one must go
/// through), unless a later claim took its place.
pub async fn release(conn: &mut Conn, fingerprint: i64, at: i64) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM submissions WHERE fingerprint = $1 AND at = $2",
        fingerprint,
        at
    )
    .map(drop)
}

/// Forgets submissions made before `before`.
pub async fn delete_before(conn: &mut Conn, before: i64) -> Result<u64, sqlx::Error> {
    execute!(conn, "DELETE FROM submissions WHERE at < $1", before)
}
