//! The `job_leases` table: when each scheduled job may run next.

use super::{on, Conn};

/// Takes the turn of job `name` if it is due at `now` (or has never run), and moves its next
/// turn `interval` seconds on. `true` for the one caller that took it: of several processes
/// asking at the same moment, exactly one gets each turn.
pub async fn take_turn(
    conn: &mut Conn,
    name: &str,
    now: i64,
    interval: i64,
) -> Result<bool, sqlx::Error> {
    let taken: Option<String> = on!(conn, |c| sqlx::query_scalar(
        "INSERT INTO job_leases (name, next_run_at) VALUES ($1, $2 + $3)
         ON CONFLICT (name) DO UPDATE SET next_run_at = excluded.next_run_at
         WHERE job_leases.next_run_at <= $2
         RETURNING name"
    )
    .bind(name)
    .bind(now)
    .bind(interval)
    .fetch_optional(c)
    .await)?;
    Ok(taken.is_some())
}
