//! The `sessions` table and its `refresh_tokens`: one row per login, and every refresh token
//! the session was given (by SHA-256 digest; the unspent one is current).

use super::users::{user_columns, User, UserRow};
use super::Conn;
use super::{execute, on};

/// A login about to be stored.
pub struct NewSession<'a> {
    pub id: &'a str,
    pub user_id: i64,
    pub remember: bool,
    pub user_agent: &'a str,
    pub ip_address: &'a str,
    pub now: i64,
    pub expires_at: i64,
    /// Digest of the session's first refresh token.
    pub refresh_digest: &'a str,
    /// How the person proved who they are (RFC 8176 values, space-separated).
    pub amr: &'a str,
}

/// Stores a new session and its first refresh token (run it in a transaction).
pub async fn insert(conn: &mut Conn, session: &NewSession<'_>) -> Result<(), sqlx::Error> {
    on!(conn, |c| {
        sqlx::query(
        "INSERT INTO sessions (id, user_id, remember, user_agent, ip_address, created_at, last_used_at, expires_at, amr)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(session.id)
    .bind(session.user_id)
    .bind(session.remember)
    .bind(session.user_agent)
    .bind(session.ip_address)
    .bind(session.now)
    .bind(session.now)
    .bind(session.expires_at)
    .bind(session.amr)
    .execute(c)
        .await
        .map(|done| done.rows_affected())
    })?;
    insert_refresh_token(conn, session.refresh_digest, session.id, session.now).await
}

async fn insert_refresh_token(
    conn: &mut Conn,
    digest: &str,
    session_id: &str,
    now: i64,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "INSERT INTO refresh_tokens (token_hash, session_id, issued_at) VALUES ($1, $2, $3)",
        digest,
        session_id,
        now
    )
    .map(drop)
}

/// A live session and its (active) account.
pub struct LiveSession {
    pub last_used_at: i64,
    pub expires_at: i64,
    pub user: User,
}

#[derive(sqlx::FromRow)]
struct SessionUserRow {
    last_used_at: i64,
    expires_at: i64,
    #[sqlx(flatten)]
    user: UserRow,
}

/// Session `id` of `user_id` if it has not ended, expired or gone idle (last used after
/// `idle_limit`), and its account is active: one query per uncached request.
pub async fn live_with_user(
    conn: &mut Conn,
    id: &str,
    user_id: i64,
    now: i64,
    idle_limit: i64,
) -> Result<Option<LiveSession>, sqlx::Error> {
    let row: Option<SessionUserRow> = on!(conn, |c| sqlx::query_as(concat!(
        "SELECT s.last_used_at, s.expires_at, ",
        user_columns!(),
        " FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.user_id = $2 AND s.ended_at IS NULL AND s.expires_at > $3
           AND s.last_used_at > $4 AND u.is_active"
    ))
    .bind(id)
    .bind(user_id)
    .bind(now)
    .bind(idle_limit)
    .fetch_optional(c)
    .await)?;
    Ok(row.map(|row| LiveSession {
        last_used_at: row.last_used_at,
        expires_at: row.expires_at,
        user: User::from(row.user),
    }))
}

pub async fn touch(conn: &mut Conn, id: &str, now: i64) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "UPDATE sessions SET last_used_at = $1 WHERE id = $2",
        now,
        id
    )
    .map(drop)
}

/// A refresh token as presented, with its session and account.
#[derive(sqlx::FromRow)]
pub struct PresentedToken {
    pub session_id: String,
    pub spent_at: Option<i64>,
    /// The digest of the token this one was exchanged for, and that token sealed with this
    /// one (`RefreshToken::seal_successor`).
    pub replaced_by: Option<String>,
    pub grace_answer: Option<String>,
    /// Whether the token this one was exchanged for has been spent too.
    pub successor_spent: bool,
    pub user_id: i64,
    pub remember: bool,
    pub created_at: i64,
    pub expires_at: i64,
    pub last_used_at: i64,
    pub ended_at: Option<i64>,
    pub is_active: bool,
}

pub async fn presented_token(
    conn: &mut Conn,
    digest: &str,
) -> Result<Option<PresentedToken>, sqlx::Error> {
    on!(conn, |c| {
        sqlx::query_as(
        "SELECT rt.session_id, rt.spent_at, rt.replaced_by, rt.grace_answer, s.user_id, s.remember, s.created_at, s.expires_at,
                s.last_used_at, s.ended_at, u.is_active,
                EXISTS (SELECT 1 FROM refresh_tokens n
                        WHERE n.token_hash = rt.replaced_by AND n.spent_at IS NOT NULL)
                    AS successor_spent
         FROM refresh_tokens rt
         JOIN sessions s ON s.id = rt.session_id
         JOIN users u ON u.id = s.user_id
         WHERE rt.token_hash = $1",
    )
    .bind(digest)
    .fetch_optional(c)
    .await
    })
}

/// One renewal: the presented token, its successor and the session's new state.
pub struct Rotation<'a> {
    pub session_id: &'a str,
    pub spent: &'a str,
    pub successor: &'a str,
    /// The successor sealed with the spent token, for the renewal grace.
    pub grace_answer: &'a str,
    pub expires_at: i64,
    pub user_agent: &'a str,
    pub ip_address: &'a str,
    pub now: i64,
}

/// Spends `spent` and stores its successor (run it in a transaction). `false` when `spent`
/// was already spent (a parallel renewal won).
pub async fn rotate(conn: &mut Conn, rotation: &Rotation<'_>) -> Result<bool, sqlx::Error> {
    let spent = execute!(
        conn,
        "UPDATE refresh_tokens SET spent_at = $1, replaced_by = $2, grace_answer = $3
         WHERE token_hash = $4 AND spent_at IS NULL",
        rotation.now,
        rotation.successor,
        rotation.grace_answer,
        rotation.spent
    )?;
    if spent != 1 {
        return Ok(false);
    }

    insert_refresh_token(conn, rotation.successor, rotation.session_id, rotation.now).await?;
    execute!(
        conn,
        "UPDATE sessions SET last_used_at = $1, expires_at = $2, user_agent = $3, ip_address = $4
         WHERE id = $5",
        rotation.now,
        rotation.expires_at,
        rotation.user_agent,
        rotation.ip_address,
        rotation.session_id
    )?;
    Ok(true)
}

/// Whether a session has neither ended nor expired, and its account is active.
pub async fn is_live(conn: &mut Conn, id: &str, now: i64) -> Result<bool, sqlx::Error> {
    let row: Option<bool> = on!(conn, |c| sqlx::query_scalar(
        "SELECT TRUE FROM sessions s JOIN users u ON u.id = s.user_id
         WHERE s.id = $1 AND s.ended_at IS NULL AND s.expires_at > $2 AND u.is_active",
    )
    .bind(id)
    .bind(now)
    .fetch_optional(c)
    .await)?;
    Ok(row.is_some())
}

/// Ends session `id` (of `owner`, when given); the account's id if it was live.
pub async fn end(
    conn: &mut Conn,
    id: &str,
    owner: Option<i64>,
    reason: &str,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar(
        "UPDATE sessions SET ended_at = $1, end_reason = $2
         WHERE id = $3 AND ($4 IS NULL OR user_id = $5) AND ended_at IS NULL
         RETURNING user_id",
    )
    .bind(now)
    .bind(reason)
    .bind(id)
    .bind(owner)
    .bind(owner)
    .fetch_optional(c)
    .await)
}

/// Ends every live session of `user_id` except `keep`; how many ended.
pub async fn end_all(
    conn: &mut Conn,
    user_id: i64,
    keep: Option<&str>,
    reason: &str,
    now: i64,
) -> Result<u64, sqlx::Error> {
    let result = execute!(
        conn,
        "UPDATE sessions SET ended_at = $1, end_reason = $2
         WHERE user_id = $3 AND ended_at IS NULL AND id IS DISTINCT FROM $4",
        now,
        reason,
        user_id,
        keep
    )?;
    Ok(result)
}

#[derive(sqlx::FromRow)]
pub struct SessionRow {
    pub id: String,
    pub user_agent: String,
    pub ip_address: String,
    pub created_at: i64,
    pub last_used_at: i64,
    pub amr: String,
}

/// `user_id`'s usable sessions (last used after `idle_limit`), most recently used first.
pub async fn list_live(
    conn: &mut Conn,
    user_id: i64,
    now: i64,
    idle_limit: i64,
) -> Result<Vec<SessionRow>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as(
        "SELECT id, user_agent, ip_address, created_at, last_used_at, amr FROM sessions
         WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 AND last_used_at > $3
         ORDER BY last_used_at DESC, created_at DESC",
    )
    .bind(user_id)
    .bind(now)
    .bind(idle_limit)
    .fetch_all(c)
    .await)
}

/// Sessions that are usable now (not ended, not expired, used after `idle_limit`).
pub async fn count_live(conn: &mut Conn, now: i64, idle_limit: i64) -> Result<i64, sqlx::Error> {
    on!(conn, |c| {
        sqlx::query_scalar(
        "SELECT COUNT(*) FROM sessions WHERE ended_at IS NULL AND expires_at > $1 AND last_used_at > $2",
    )
    .bind(now)
    .bind(idle_limit)
    .fetch_one(c)
        .await
    })
}

/// Deletes sessions that expired, went idle, or ended before `ended_before`.
pub async fn delete_stale(
    conn: &mut Conn,
    now: i64,
    idle_limit: i64,
    ended_before: i64,
) -> Result<u64, sqlx::Error> {
    let result = execute!(
        conn,
        "DELETE FROM sessions WHERE expires_at <= $1 OR last_used_at <= $2 OR ended_at <= $3",
        now,
        idle_limit,
        ended_before
    )?;
    Ok(result)
}

/// Forgets the sealed answers of tokens spent before `before` (their grace is over).
pub async fn forget_grace_answers(conn: &mut Conn, before: i64) -> Result<u64, sqlx::Error> {
    execute!(
        conn,
        "UPDATE refresh_tokens SET grace_answer = NULL
         WHERE grace_answer IS NOT NULL AND spent_at < $1",
        before
    )
}

/// When the session started (its login), if it exists.
pub async fn started_at(conn: &mut Conn, session_id: &str) -> Result<Option<i64>, sqlx::Error> {
    on!(conn, |c| sqlx::query_scalar(
        "SELECT created_at FROM sessions WHERE id = $1"
    )
    .bind(session_id)
    .fetch_optional(c)
    .await)
}

/// When the session's person logged in and how (`amr`), if the session exists.
pub async fn login_of(
    conn: &mut Conn,
    session_id: &str,
) -> Result<Option<(i64, String)>, sqlx::Error> {
    on!(conn, |c| sqlx::query_as(
        "SELECT created_at, amr FROM sessions WHERE id = $1"
    )
    .bind(session_id)
    .fetch_optional(c)
    .await)
}
