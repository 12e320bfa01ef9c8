//! The `users` table: accounts.

use super::{unique_or, Conn, Written};
use crate::domain::{Role, UserView};
use crate::server::security::password::PasswordHash;
use crate::server::startup::clock::rfc3339;

#[derive(Debug, Clone)]
pub struct User {
    pub id: i64,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub is_active: bool,
    pub email_verified: bool,
    pub created_at: i64,
    pub password_hash: PasswordHash,
}

impl User {
    pub fn view(&self) -> UserView {
        UserView {
            id: self.id,
            email: self.email.clone(),
            username: self.username.clone(),
            role: self.role,
            is_active: self.is_active,
            email_verified: self.email_verified,
            created_at: rfc3339(self.created_at),
        }
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

/// The columns of `User`, of the `users` table aliased `u` (in the order `UserRow` reads).
macro_rules! user_columns {
    () => {
        "u.id, u.email, u.username, u.role, u.is_active, u.email_verified, u.created_at, \
         u.password_hash"
    };
}
pub(super) use user_columns;

#[derive(sqlx::FromRow)]
pub(super) struct UserRow {
    id: i64,
    email: String,
    username: String,
    role: String,
    is_active: bool,
    email_verified: bool,
    created_at: i64,
    password_hash: String,
}

impl From<UserRow> for User {
    fn from(row: UserRow) -> Self {
        Self {
            id: row.id,
            email: row.email,
            username: row.username,
            // The column only ever holds the names `Role` writes; anything else grants nothing.
            role: Role::parse(&row.role).unwrap_or(Role::User),
            is_active: row.is_active,
            email_verified: row.email_verified,
            created_at: row.created_at,
            password_hash: PasswordHash::from_stored(row.password_hash),
        }
    }
}

pub async fn find_by_id(conn: &mut Conn, id: i64) -> Result<Option<User>, sqlx::Error> {
    let row: Option<UserRow> = sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE u.id = ?"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(User::from))
}

/// Emails compare case-insensitively (the column is `NOCASE`).
pub async fn find_by_email(conn: &mut Conn, email: &str) -> Result<Option<User>, sqlx::Error> {
    let row: Option<UserRow> = sqlx::query_as(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users u WHERE u.email = ?"
    ))
    .bind(email)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(User::from))
}

/// A new account; its id (never one given out before, also of a deleted account), or the
/// unique index (email or username) it ran into.
pub async fn insert(
    conn: &mut Conn,
    email: &str,
    username: &str,
    hash: &PasswordHash,
    now: i64,
) -> Written<i64> {
    unique_or(
        sqlx::query_scalar(
            // Ids are never given out twice (`user_ids`, migration 0007).
            "INSERT INTO users (id, email, username, password_hash, created_at, updated_at)
             VALUES ((SELECT highest + 1 FROM user_ids), ?, ?, ?, ?, ?) RETURNING id",
        )
        .bind(email)
        .bind(username)
        .bind(hash.as_stored())
        .bind(now)
        .bind(now)
        .fetch_one(conn)
        .await,
    )
}

pub async fn set_password_hash(
    conn: &mut Conn,
    id: i64,
    hash: &PasswordHash,
    now: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET password_hash = ?, updated_at = ? WHERE id = ?")
        .bind(hash.as_stored())
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
        .map(drop)
}

/// Username and email (unconfirmed again when it changed), and a new password hash if given.
pub async fn update_profile(
    conn: &mut Conn,
    id: i64,
    username: &str,
    email: &str,
    new_hash: Option<&PasswordHash>,
    now: i64,
) -> Written<()> {
    unique_or(
        sqlx::query(
            "UPDATE users SET username = ?, email = ?, updated_at = ?,
                    email_verified = CASE WHEN email <> ? THEN 0 ELSE email_verified END,
                    password_hash = COALESCE(?, password_hash)
             WHERE id = ?",
        )
        .bind(username)
        .bind(email)
        .bind(now)
        .bind(email)
        .bind(new_hash.map(PasswordHash::as_stored))
        .bind(id)
        .execute(conn)
        .await
        .map(drop),
    )
}

/// The account now uses `email`, confirmed by the link that was sent there.
pub async fn set_confirmed_email(conn: &mut Conn, id: i64, email: &str, now: i64) -> Written<()> {
    unique_or(
        sqlx::query("UPDATE users SET email = ?, email_verified = 1, updated_at = ? WHERE id = ?")
            .bind(email)
            .bind(now)
            .bind(id)
            .execute(conn)
            .await
            .map(drop),
    )
}

pub async fn mark_email_verified(conn: &mut Conn, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET email_verified = 1, updated_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
        .map(drop)
}

/// Deletes the account unless it is the last active admin (one statement, as for
/// deactivation); its sessions, tokens, projects and tasks go with it (foreign keys cascade).
/// `false` when refused.
pub async fn delete_unless_last_admin(conn: &mut Conn, id: i64) -> Result<bool, sqlx::Error> {
    let deleted = sqlx::query(
        "DELETE FROM users WHERE id = ? AND (role <> 'admin' OR is_active = 0
            OR EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.is_active = 1 AND o.id <> ?))",
    )
    .bind(id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(deleted.rows_affected() == 1)
}

/// Deactivates the account unless it is the last active admin (one statement, so two admins
/// cannot deactivate each other at the same moment). `false` when refused.
pub async fn deactivate_unless_last_admin(
    conn: &mut Conn,
    id: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE users SET is_active = 0, updated_at = ? WHERE id = ? AND (role <> 'admin'
            OR EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.is_active = 1 AND o.id <> ?))",
    )
    .bind(now)
    .bind(id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() == 1)
}

pub async fn reactivate(conn: &mut Conn, id: i64, now: i64) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE users SET is_active = 1, updated_at = ? WHERE id = ?")
        .bind(now)
        .bind(id)
        .execute(conn)
        .await
        .map(drop)
}

/// Sets the role unless that demotes the last active admin. `false` when refused.
pub async fn set_role_unless_last_admin(
    conn: &mut Conn,
    id: i64,
    role: Role,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = sqlx::query(
        "UPDATE users SET role = ?, updated_at = ? WHERE id = ? AND (? = 'admin'
            OR EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.is_active = 1 AND o.id <> ?))",
    )
    .bind(role.as_str())
    .bind(now)
    .bind(id)
    .bind(role.as_str())
    .bind(id)
    .execute(conn)
    .await?;
    Ok(changed.rows_affected() == 1)
}

/// What the admins' list of accounts shows.
#[derive(Clone, Debug, Default)]
pub struct Filter<'a> {
    /// The start of an email address or username, lower-cased.
    pub prefix: Option<&'a str>,
    pub active: Option<bool>,
    pub role: Option<Role>,
    pub verified: Option<bool>,
}

/// One account in the admins' list.
pub struct Listed {
    pub user: User,
    pub last_seen_at: Option<i64>,
    pub live_sessions: i64,
}

#[derive(sqlx::FromRow)]
struct ListRow {
    #[sqlx(flatten)]
    user: UserRow,
    last_seen_at: Option<i64>,
    live_sessions: i64,
}

macro_rules! list_query {
    ($from:literal) => {
        concat!(
            "SELECT ",
            user_columns!(),
            ",
                (SELECT MAX(s.last_used_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen_at,
                (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.ended_at IS NULL
                    AND s.expires_at > ?) AS live_sessions
             FROM ",
            $from,
            "
             WHERE (u.created_at, u.id) < (?, ?)
               AND (? IS NULL OR u.is_active = ?)
               AND (? IS NULL OR u.role = ?)
               AND (? IS NULL OR u.email_verified = ?)
             ORDER BY u.created_at DESC, u.id DESC
             LIMIT ?"
        )
    };
}

/// Up to `limit` accounts created before `before` (created_at, id), newest first. With a
/// prefix, the matching emails and usernames come from their indexes (CROSS JOIN makes SQLite
/// start from the matches); without one, the newest-first index is walked from the cursor.
pub async fn list(
    conn: &mut Conn,
    filter: &Filter<'_>,
    before: (i64, i64),
    limit: i64,
    now: i64,
) -> Result<Vec<Listed>, sqlx::Error> {
    const ALL: &str = list_query!("users u");
    const MATCHING: &str = list_query!(
        "(SELECT id FROM users WHERE email >= ? AND email < ?
          UNION SELECT id FROM users WHERE username >= ? AND username < ?) AS m
         CROSS JOIN users u ON u.id = m.id"
    );
    let role = filter.role.map(Role::as_str);
    let mut select = match filter.prefix {
        Some(prefix) => {
            // The half-open range of strings that start with `prefix`.
            let high = format!("{prefix}{}", char::MAX);
            sqlx::query_as::<_, ListRow>(MATCHING)
                .bind(now)
                .bind(prefix.to_string())
                .bind(high.clone())
                .bind(prefix.to_string())
                .bind(high)
        }
        None => sqlx::query_as::<_, ListRow>(ALL).bind(now),
    };
    select = select
        .bind(before.0)
        .bind(before.1)
        .bind(filter.active)
        .bind(filter.active)
        .bind(role)
        .bind(role)
        .bind(filter.verified)
        .bind(filter.verified)
        .bind(limit);
    let rows = select.fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|row| Listed {
            user: User::from(row.user),
            last_seen_at: row.last_seen_at,
            live_sessions: row.live_sessions,
        })
        .collect())
}
