//! The `email_tokens` table: single-use tokens of emailed links, by SHA-256 digest, each bound
//! to one purpose and one account.

use super::Conn;
use super::{execute, on};

/// What a link is for (the `purpose` column).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Purpose {
    Verify,
    Reset,
    ChangeEmail,
}

impl Purpose {
    fn as_str(self) -> &'static str {
        match self {
            Self::Verify => "verify",
            Self::Reset => "reset",
            Self::ChangeEmail => "change_email",
        }
    }

    fn parse(stored: &str) -> Option<Self> {
        [Self::Verify, Self::Reset, Self::ChangeEmail]
            .into_iter()
            .find(|p| p.as_str() == stored)
    }
}

/// A token about to be stored.
pub struct NewToken<'a> {
    pub digest: &'a str,
    pub user_id: i64,
    pub purpose: Purpose,
    /// For `ChangeEmail`: the new address and the session that asked for it.
    pub change: Option<(&'a str, &'a str)>,
    pub now: i64,
    pub expires_at: i64,
}

/// Stores a token; the account's unused ones of the same purpose stop working.
pub async fn replace(conn: &mut Conn, token: &NewToken<'_>) -> Result<(), sqlx::Error> {
    execute!(
        conn,
        "DELETE FROM email_tokens WHERE user_id = $1 AND purpose = $2",
        token.user_id,
        token.purpose.as_str()
    )?;
    execute!(conn, "INSERT INTO email_tokens (token_hash, user_id, purpose, new_email, session_id, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)", token.digest, token.user_id, token.purpose.as_str(), token.change.map(|(email, _)| email), token.change.map(|(_, session)| session), token.now, token.expires_at)
    .map(drop)
}

/// A token that was spent.
pub struct Spent {
    pub user_id: i64,
    pub purpose: Purpose,
    pub new_email: Option<String>,
    pub session_id: Option<String>,
}

#[derive(sqlx::FromRow)]
struct SpentRow {
    user_id: i64,
    purpose: String,
    new_email: Option<String>,
    session_id: Option<String>,
}

/// Spends the unexpired token `digest` if it has one of `purposes`: exactly one caller gets
/// it. A token of another purpose is left alone.
pub async fn spend(
    conn: &mut Conn,
    digest: &str,
    purposes: (Purpose, Purpose),
    now: i64,
) -> Result<Option<Spent>, sqlx::Error> {
    let row: Option<SpentRow> = on!(conn, |c| sqlx::query_as(
        "DELETE FROM email_tokens
         WHERE token_hash = $1 AND (purpose = $2 OR purpose = $3) AND expires_at > $4
         RETURNING user_id, purpose, new_email, session_id",
    )
    .bind(digest)
    .bind(purposes.0.as_str())
    .bind(purposes.1.as_str())
    .bind(now)
    .fetch_optional(c)
    .await)?;
    Ok(row.and_then(|row| {
        Some(Spent {
            user_id: row.user_id,
            purpose: Purpose::parse(&row.purpose)?,
            new_email: row.new_email,
            session_id: row.session_id,
        })
    }))
}

/// Whose unexpired `purpose` token `digest` is, without spending it.
pub async fn holder(
    conn: &mut Conn,
    digest: &str,
    purpose: Purpose,
    now: i64,
) -> Result<Option<i64>, sqlx::Error> {
    on!(conn, |c| {
        sqlx::query_scalar(
        "SELECT user_id FROM email_tokens WHERE token_hash = $1 AND purpose = $2 AND expires_at > $3",
    )
    .bind(digest)
    .bind(purpose.as_str())
    .bind(now)
    .fetch_optional(c)
        .await
    })
}

/// Voids every pending link of the account (its password or address changed).
pub async fn delete_all_for(conn: &mut Conn, user_id: i64) -> Result<(), sqlx::Error> {
    execute!(conn, "DELETE FROM email_tokens WHERE user_id = $1", user_id).map(drop)
}
