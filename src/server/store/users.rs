//! The `users` table: accounts.

use super::{execute, on, unique_or, Conn, Db, Written};
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

/// The one account matching `$where` (SQLite's form, then PostgreSQL's) with `$arg` as `$1`.
macro_rules! find_user {
    ($conn:expr, $lite:literal, $pg:literal, $arg:expr) => {{
        let row: Option<UserRow> = on!(
            $conn,
            [
                concat!("SELECT ", user_columns!(), " FROM users u WHERE ", $lite),
                concat!("SELECT ", user_columns!(), " FROM users u WHERE ", $pg)
            ],
            |c, sql| sqlx::query_as(sql).bind($arg).fetch_optional(c).await
        )?;
        Ok(row.map(User::from))
    }};
}

pub async fn find_by_id(conn: &mut Conn, id: i64) -> Result<Option<User>, sqlx::Error> {
    find_user!(conn, "u.id = $1", "u.id = $1", id)
}

/// Emails compare case-insensitively: SQLite's column is `NOCASE`; on PostgreSQL the
/// comparison is the one its unique index (`lower(email)`) is built on.
pub async fn find_by_email(conn: &mut Conn, email: &str) -> Result<Option<User>, sqlx::Error> {
    find_user!(conn, "u.email = $1", "lower(u.email) = lower($1)", email)
}

/// A new account; its id (never one given out before, also of a deleted account), or the
/// unique index (email or username) it ran into. Run it in a transaction: on PostgreSQL a
/// refused insert is rolled back to a savepoint, so the transaction goes on (the derived
/// username's next candidate).
pub async fn insert(
    conn: &mut Conn,
    email: &str,
    username: &str,
    hash: &PasswordHash,
    now: i64,
) -> Written<i64> {
    macro_rules! insert {
        ($sql:expr) => {
            sqlx::query_scalar($sql)
                .bind(email)
                .bind(username)
                .bind(hash.as_stored())
                .bind(now)
                .bind(now)
        };
    }
    match conn.db() {
        // Ids are never given out twice: SQLite's `user_ids` (migration 0007), and
        // PostgreSQL's identity column.
        Db::Sqlite(c) => unique_or(
            insert!(
                "INSERT INTO users (id, email, username, password_hash, created_at, updated_at)
                 VALUES ((SELECT highest + 1 FROM user_ids), $1, $2, $3, $4, $5) RETURNING id"
            )
            .fetch_one(c)
            .await,
        ),
        Db::Postgres(c) => {
            sqlx::query("SAVEPOINT insert_user")
                .execute(&mut *c)
                .await?;
            let inserted = insert!(
                "INSERT INTO users (email, username, password_hash, created_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5) RETURNING id"
            )
            .fetch_one(&mut *c)
            .await;
            let end = if inserted.is_ok() {
                "RELEASE SAVEPOINT insert_user"
            } else {
                "ROLLBACK TO SAVEPOINT insert_user"
            };
            sqlx::query(end).execute(c).await?;
            unique_or(inserted)
        }
    }
}

pub async fn set_password_hash(
    conn: &mut Conn,
    id: i64,
    hash: &PasswordHash,
    now: i64,
) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3",
        hash.as_stored(),
        now,
        id
    )
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
        execute!(
            conn,
            "UPDATE users SET username = $1, email = $2, updated_at = $3,
                    email_verified = CASE WHEN email <> $4 THEN FALSE ELSE email_verified END,
                    password_hash = COALESCE($5, password_hash)
             WHERE id = $6",
            username,
            email,
            now,
            email,
            new_hash.map(PasswordHash::as_stored),
            id
        )
        .map(drop),
    )
}

/// The account now uses `email`, confirmed by the link that was sent there.
pub async fn set_confirmed_email(conn: &mut Conn, id: i64, email: &str, now: i64) -> Written<()> {
    unique_or(
        execute!(
            conn,
            "UPDATE users SET email = $1, email_verified = TRUE, updated_at = $2 WHERE id = $3",
            email,
            now,
            id
        )
        .map(drop),
    )
}

pub async fn mark_email_verified(conn: &mut Conn, id: i64, now: i64) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "UPDATE users SET email_verified = TRUE, updated_at = $1 WHERE id = $2",
        now,
        id
    )
    .map(drop)
}

/// Another active admin than the account `$id` names exists (the guard that keeps one).
macro_rules! another_active_admin {
    ($id:literal) => {
        concat!(
            "EXISTS (SELECT 1 FROM users o WHERE o.role = 'admin' AND o.is_active AND o.id <> ",
            $id,
            ")"
        )
    };
}

/// Deletes the account unless it is the last active admin (one statement, as for
/// deactivation); its sessions, tokens, projects and tasks go with it (foreign keys cascade).
/// `false` when refused.
pub async fn delete_unless_last_admin(conn: &mut Conn, id: i64) -> Result<bool, sqlx::Error> {
    let deleted = execute!(
        conn,
        concat!(
            "DELETE FROM users WHERE id = $1 AND (role <> 'admin' OR NOT is_active OR ",
            another_active_admin!("$1"),
            ")"
        ),
        id
    )?;
    Ok(deleted == 1)
}

/// Deactivates the account unless it is the last active admin (one statement, so two admins
/// cannot deactivate each other at the same moment). `false` when refused.
pub async fn deactivate_unless_last_admin(
    conn: &mut Conn,
    id: i64,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = execute!(
        conn,
        concat!(
            "UPDATE users SET is_active = FALSE, updated_at = $1
             WHERE id = $2 AND (role <> 'admin' OR ",
            another_active_admin!("$2"),
            ")"
        ),
        now,
        id
    )?;
    Ok(changed == 1)
}

pub async fn reactivate(conn: &mut Conn, id: i64, now: i64) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "UPDATE users SET is_active = TRUE, updated_at = $1 WHERE id = $2",
        now,
        id
    )
    .map(drop)
}

/// Sets the role unless that demotes the last active admin. `false` when refused.
pub async fn set_role_unless_last_admin(
    conn: &mut Conn,
    id: i64,
    role: Role,
    now: i64,
) -> Result<bool, sqlx::Error> {
    let changed = execute!(
        conn,
        concat!(
            "UPDATE users SET role = $1, updated_at = $2 WHERE id = $3 AND ($1 = 'admin' OR ",
            another_active_admin!("$3"),
            ")"
        ),
        role.as_str(),
        now,
        id
    )?;
    Ok(changed == 1)
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

/// The admins' list, its conditions numbered from `$from` on: `$from` … `$from+1` the cursor,
/// then active, role, verified and the limit.
macro_rules! list_query {
    ($from:literal, $matching:literal, $n:literal, $m:literal, $a:literal, $r:literal, $v:literal, $l:literal) => {
        concat!(
            "SELECT ",
            user_columns!(),
            ",
                (SELECT MAX(s.last_used_at) FROM sessions s WHERE s.user_id = u.id) AS last_seen_at,
                (SELECT COUNT(*) FROM sessions s WHERE s.user_id = u.id AND s.ended_at IS NULL
                    AND s.expires_at > $1) AS live_sessions
             FROM ",
            $from,
            " WHERE ",
            $matching,
            " (u.created_at, u.id) < (",
            $n,
            ", ",
            $m,
            ")
               AND (",
            $a,
            " IS NULL OR u.is_active = ",
            $a,
            ")
               AND (",
            $r,
            " IS NULL OR u.role = ",
            $r,
            ")
               AND (",
            $v,
            " IS NULL OR u.email_verified = ",
            $v,
            ")
             ORDER BY u.created_at DESC, u.id DESC
             LIMIT ",
            $l
        )
    };
}

/// Up to `limit` accounts created before `before` (created_at, id), newest first. With a
/// prefix (lower-cased), only accounts whose email or username starts with it. On SQLite the
/// matches come from the NOCASE indexes (a half-open range; CROSS JOIN makes SQLite start from
/// them); without a prefix the newest-first index is walked from the cursor.
pub async fn list(
    conn: &mut Conn,
    filter: &Filter<'_>,
    before: (i64, i64),
    limit: i64,
    now: i64,
) -> Result<Vec<Listed>, sqlx::Error> {
    const ALL: &str = list_query!("users u", "", "$2", "$3", "$4", "$5", "$6", "$7");
    const LITE_MATCHING: &str = list_query!(
        "(SELECT id FROM users WHERE email >= $2 AND email < $3
          UNION SELECT id FROM users WHERE username >= $2 AND username < $3) AS m
         CROSS JOIN users u ON u.id = m.id",
        "",
        "$4",
        "$5",
        "$6",
        "$7",
        "$8",
        "$9"
    );
    // The same range on PostgreSQL, over lower-cased columns in byte order (where
    // `char::MAX` sorts after every other character).
    const PG_MATCHING: &str = list_query!(
        "users u",
        "((lower(u.email) COLLATE \"C\" >= $2 AND lower(u.email) COLLATE \"C\" < $3)
          OR (lower(u.username) COLLATE \"C\" >= $2 AND lower(u.username) COLLATE \"C\" < $3)) AND",
        "$4",
        "$5",
        "$6",
        "$7",
        "$8",
        "$9"
    );
    let role = filter.role.map(Role::as_str);
    // The half-open range of strings that start with the prefix.
    let range = filter
        .prefix
        .map(|prefix| (prefix.to_string(), format!("{prefix}{}", char::MAX)));
    let (lite, pg) = match range {
        Some(_) => (LITE_MATCHING, PG_MATCHING),
        None => (ALL, ALL),
    };
    let rows: Vec<ListRow> = on!(conn, [lite, pg], |c, sql| {
        let mut select = sqlx::query_as(sql).bind(now);
        if let Some((low, high)) = &range {
            select = select.bind(low.as_str()).bind(high.as_str());
        }
        select
            .bind(before.0)
            .bind(before.1)
            .bind(filter.active)
            .bind(role)
            .bind(filter.verified)
            .bind(limit)
            .fetch_all(c)
            .await
    })?;
    Ok(rows.into_iter().map(Listed::from).collect())
}

impl From<ListRow> for Listed {
    fn from(row: ListRow) -> Self {
        Self {
            user: User::from(row.user),
            last_seen_at: row.last_seen_at,
            live_sessions: row.live_sessions,
        }
    }
}
